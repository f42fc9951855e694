//! HTTP/1.1 on a raw TCP stream, for stories about the wire itself: what the server sends
//! and when it closes the connection.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Only against hanging for ever; no story waits anywhere near this long.
pub const GUARD: Duration = Duration::from_secs(120);

/// The request a raw client sends to check that it is served.
pub const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: tenantry\r\n\r\n";

/// Reads until the server closes the connection (end of stream or reset); returns what it
/// sent before.
pub async fn until_closed(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut received = Vec::new();
    let read_all = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(GUARD, read_all)
        .await
        .expect("the server closes the connection");
    received
}

/// One HTTP/1.1 answer as read off the wire.
pub struct RawAnswer {
    pub status: u16,
    /// Header lines, lowercased.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn parse(bytes: &[u8]) -> Option<RawAnswer> {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(Some(0), |value| value.trim().parse().ok())?;
        let body = bytes.get(end + 4..end + 4 + length)?.to_vec();
        Some(RawAnswer { status, head, body })
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one whole answer, leaving the connection open.
pub async fn read_answer(stream: &mut (impl AsyncRead + Unpin)) -> RawAnswer {
    let mut received = Vec::new();
    let read_one = async {
        let mut buffer = [0u8; 4096];
        loop {
            if let Some(answer) = RawAnswer::parse(&received) {
                return answer;
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => panic!(
                    "closed before a whole answer: {}",
                    String::from_utf8_lossy(&received)
                ),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(GUARD, read_one)
        .await
        .expect("the server answers")
}

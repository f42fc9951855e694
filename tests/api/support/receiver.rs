//! A real HTTP receiver of webhooks on loopback: it records every request and answers as the
//! test tells it, and it checks Standard Webhooks signatures with an implementation of its
//! own (HMAC written out over SHA-256), independent of the server's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    /// Whether one of the `v1,` signatures is `secret`'s over `id.timestamp.body`.
    pub fn signed_by(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
            .expect("base64 after whsec_");
        let mut signed = format!("{}.{}.", self.id, self.timestamp).into_bytes();
        signed.extend_from_slice(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(hmac_sha256(&key, &signed)));
        self.signature.split(' ').any(|part| part == expected)
    }
}

/// HMAC (RFC 2104) over SHA-256, written out.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16, String),
    /// Never answers (until the sender gives up).
    Hang,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answers for the next requests, in order; then `otherwise`.
    script: VecDeque<Reply>,
    otherwise: Option<Reply>,
    /// Answers for requests to paths ending so, before the script.
    by_path: Vec<(String, Reply)>,
}

/// The receiver; clones share it.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let reply = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received {
            path: uri.path().to_owned(),
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp").parse().unwrap_or_default(),
            signature: header("webhook-signature"),
            body,
        });
        let path = uri.path().to_owned();
        let fixed = inner
            .by_path
            .iter()
            .find(|(end, _)| path.ends_with(end.as_str()))
            .map(|(_, reply)| reply.clone());
        fixed
            .or_else(|| inner.script.pop_front())
            .or_else(|| inner.otherwise.clone())
            .unwrap_or(Reply::Status(200, "ok".to_owned()))
    };
    match reply {
        Reply::Status(code, body) => (StatusCode::from_u16(code).unwrap(), body),
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

impl Receiver {
    /// A receiver answering 200 `ok` to everything, on a free loopback port.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener).await
    }

    /// A receiver on `listener` (to start one on a port chosen earlier).
    pub async fn on(listener: tokio::net::TcpListener) -> Receiver {
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let app = axum::Router::new()
            .route("/{*path}", post(receive))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            inner,
            url,
            task: Arc::new(task),
        }
    }

    /// The URL of a path of its own, to tell endpoints apart.
    pub fn at(&self, path: &str) -> String {
        format!("{}/{path}", self.url)
    }

    /// Answers the next requests with `replies`, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().unwrap().script.extend(replies);
    }

    /// Answers every request to a path ending in `path` with `reply`.
    pub fn reply_at(&self, path: &str, reply: Reply) {
        self.inner
            .lock()
            .unwrap()
            .by_path
            .push((path.to_owned(), reply));
    }

    /// Answers every request after the script with `reply`.
    pub fn otherwise(&self, reply: Reply) {
        self.inner.lock().unwrap().otherwise = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until `done` holds of what was received, and answers it.
    pub async fn until(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a request of `event_type` came to `path`, and answers them all.
    pub async fn until_event(&self, path: &str, event_type: &str) -> Vec<Received> {
        self.until(|all| {
            all.iter()
                .any(|r| r.path.ends_with(path) && r.event_type() == event_type)
        })
        .await
        .into_iter()
        .filter(|r| r.path.ends_with(path) && r.event_type() == event_type)
        .collect()
    }
}

#[test]
fn the_receivers_hmac_matches_rfc_4231_case_2() {
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        hex::encode(mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

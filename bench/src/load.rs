//! The load generator: a fixed number of HTTP/1.1 keep-alive connections, each running one
//! operation after another for a fixed time. Every operation checks the status (and, where it
//! matters, the body) it expects; anything else counts as an error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    addr: SocketAddr,
    host: String,
    auth: Option<Arc<str>>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// What a server answered.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    /// The answer if it has the expected status, else an error naming both.
    pub fn expect(self, status: StatusCode) -> anyhow::Result<Answer> {
        if self.status == status {
            Ok(self)
        } else {
            let text = String::from_utf8_lossy(&self.body);
            let text: String = text.chars().take(300).collect();
            anyhow::bail!("expected {status}, got {}: {text}", self.status)
        }
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("answer is not JSON")
    }
}

impl Client {
    pub fn new(addr: SocketAddr, auth: Option<Arc<str>>) -> Client {
        Client {
            addr,
            host: addr.to_string(),
            auth,
            sender: None,
        }
    }

    /// The key this client sends.
    pub fn key(&self) -> &str {
        self.auth.as_deref().unwrap_or("")
    }

    /// A client of the same server holding another key.
    pub fn with_key(&self, key: &str) -> Client {
        Client::new(self.addr, Some(Arc::from(key)))
    }

    async fn connect(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().expect("connected above");
        sender.ready().await?;
        Ok(sender)
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        self.request_with(method, path, body, &[])
    }

    fn request_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(auth) = &self.auth {
            request = request.header(header::AUTHORIZATION, format!("Bearer {auth}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        Ok(request.body(Full::new(body.unwrap_or_default()))?)
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Answer> {
        let request = self.request(method, path, body)?;
        self.send_request(request).await
    }

    /// A GET with extra headers.
    pub async fn get_with(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let request = self.request_with(Method::GET, path, None, headers)?;
        self.send_request(request).await
    }

    async fn send_request(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        let result = async {
            let sender = self.connect().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok(Answer { status, body })
        }
        .await;
        if result.is_err() {
            // Start over on a fresh connection next time.
            self.sender = None;
        }
        result
    }

    /// A GET whose body is left unread, for answers too large to hold.
    pub async fn get_streaming(&mut self, path: &str) -> anyhow::Result<Response<Incoming>> {
        let request = self.request(Method::GET, path, None)?;
        let result = async { anyhow::Ok(self.connect().await?.send_request(request).await?) }.await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: impl Into<Bytes>) -> anyhow::Result<Answer> {
        self.send(Method::POST, path, Some(body.into())).await
    }

    pub async fn patch(&mut self, path: &str, body: impl Into<Bytes>) -> anyhow::Result<Answer> {
        self.send(Method::PATCH, path, Some(body.into())).await
    }
}

/// Something a connection does over and over. `run` answers how many units (requests, call
/// pairs, events) one operation completed.
pub trait Operation: Send + Sync + 'static {
    fn run(
        &self,
        client: &mut Client,
        worker: usize,
        seq: u64,
    ) -> impl std::future::Future<Output = anyhow::Result<u64>> + Send;
}

/// What one measurement saw.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    pub units: u64,
    pub operations: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latency of each successful operation, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
}

impl Measurement {
    pub fn throughput(&self) -> f64 {
        self.units as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency at quantile `q` (0..1), in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        f64::from(self.latencies_us[rank]) / 1000.0
    }
}

#[derive(Default)]
struct WorkerStats {
    units: u64,
    operations: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
}

/// Runs `operation` on `connections` connections to `addr` for `duration`. Operations under
/// way at the deadline finish and count; the elapsed time includes them.
pub async fn drive<O: Operation>(
    addr: SocketAddr,
    auth: Option<Arc<str>>,
    operation: Arc<O>,
    connections: usize,
    duration: Duration,
) -> Measurement {
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::with_capacity(connections);
    for worker in 0..connections {
        let operation = operation.clone();
        let auth = auth.clone();
        workers.push(tokio::spawn(async move {
            let mut client = Client::new(addr, auth);
            let mut stats = WorkerStats::default();
            let mut seq = 0;
            while Instant::now() < deadline {
                let began = Instant::now();
                match operation.run(&mut client, worker, seq).await {
                    Ok(units) => {
                        stats.units += units;
                        stats.operations += 1;
                        let us = began.elapsed().as_micros().min(u128::from(u32::MAX));
                        stats.latencies_us.push(us as u32);
                    }
                    Err(error) => {
                        stats.errors += 1;
                        stats
                            .first_error
                            .get_or_insert_with(|| format!("{error:#}"));
                        // Do not spin on a server that refuses everything.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                seq += 1;
            }
            stats
        }));
    }
    let mut total = Measurement::default();
    for worker in workers {
        let stats = worker.await.expect("load worker panicked");
        total.units += stats.units;
        total.operations += stats.operations;
        total.errors += stats.errors;
        if total.first_error.is_none() {
            total.first_error = stats.first_error;
        }
        total.latencies_us.extend(stats.latencies_us);
    }
    total.elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_the_nearest_rank() {
        let m = Measurement {
            latencies_us: (1..=100).map(|ms| ms * 1000).collect(),
            ..Measurement::default()
        };
        assert_eq!(m.latency_ms(0.5), 51.0);
        assert_eq!(m.latency_ms(0.99), 99.0);
        assert_eq!(m.latency_ms(0.0), 1.0);
    }
}

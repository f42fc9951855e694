//! One client connection: HTTP/1.1 served by hyper under the deadlines a client must keep.
//!
//! - **Headers**: a new connection must deliver a whole request head within
//!   `header_read_timeout` of being accepted; a kept-alive one, within `header_read_timeout` of
//!   the first byte of its next request.
//! - **Body**: a request body must have arrived whole within `body_timeout` of its head. Reading
//!   it later fails with [`BodyTimeout`], which `extract::read_body` answers with a 408 that
//!   closes the connection.
//! - **Idle**: a kept-alive connection with no request in progress is closed after
//!   `idle_timeout`.
//!
//! hyper's own `header_read_timeout` is off. Its timer starts whenever the connection waits
//! for a head: right after accept and again right after each answer. It cannot tell a slow
//! head from an idle keep-alive connection. A watchdog beside the connection covers both, and
//! it never closes a connection while a handler runs, because dropping a handler in the middle
//! of a transaction is worse than a slow client.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
pub const DEFAULT_BODY_TIMEOUT_SECONDS: u64 = 30;
pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u64 = 75;

/// The largest request head hyper parses (it answers a larger one with an empty 431), and the
/// size of a connection's read buffer. Well above the limits of `http::head_limits`, so that
/// heads between the two get a problem+json answer from there.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How many connections are served at once, and the deadlines each client must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// From accept (or a kept-alive request's first byte) to the end of the request head.
    pub header_read_timeout: Duration,
    /// From the end of the request head to the end of its body.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECONDS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECONDS),
        }
    }
}

/// Serves one accepted connection until it closes, breaks a deadline, or is drained by
/// `shutdown`.
pub(crate) async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    shutdown: Watcher,
) {
    let watch = Arc::new(Watchdog::new(limits));
    // The peer's address, for limits kept per client address.
    let peer = stream.peer_addr().ok().map(axum::extract::ConnectInfo);
    let io = TokioIo::new(WatchedStream {
        stream,
        watch: Arc::clone(&watch),
    });
    let service = {
        let watch = Arc::clone(&watch);
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let busy = Busy::start(&watch);
            let mut request: Request =
                request.map(|body| Body::new(DeadlineBody::new(body, limits.body_timeout)));
            if let Some(peer) = peer {
                request.extensions_mut().insert(peer);
            }
            let answer = router.clone().oneshot(request);
            async move {
                let response = answer.await?;
                Ok::<_, Infallible>(response.map(|body| AnswerBody { body, _busy: busy }))
            }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(io, service);
    tokio::select! {
        served = shutdown.watch(connection) => {
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        () = watch.expired() => {
            tracing::debug!("closing a connection that missed its header or idle deadline");
        }
    }
}

/// The deadline a connection is under between requests.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// Requests being handled or answered; no deadline applies while there are any.
    in_flight: usize,
    /// Waiting for a next request that has not sent a byte yet.
    idle: bool,
    deadline: Instant,
}

struct Watchdog {
    limits: ConnectionLimits,
    clock: Mutex<Clock>,
    /// Mirrors `clock.idle && clock.in_flight == 0`, so reads skip the lock.
    idle: AtomicBool,
}

impl Watchdog {
    fn new(limits: ConnectionLimits) -> Self {
        Watchdog {
            limits,
            clock: Mutex::new(Clock {
                in_flight: 0,
                idle: false,
                deadline: Instant::now() + limits.header_read_timeout,
            }),
            idle: AtomicBool::new(false),
        }
    }

    fn update(&self, change: impl FnOnce(&mut Clock, &ConnectionLimits)) {
        let mut clock = self.clock.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut clock, &self.limits);
        self.idle
            .store(clock.idle && clock.in_flight == 0, Ordering::Relaxed);
    }

    /// The first byte of a next request starts its header deadline.
    fn bytes_arrived(&self) {
        if self.idle.load(Ordering::Relaxed) {
            self.update(|clock, limits| {
                if clock.idle && clock.in_flight == 0 {
                    clock.idle = false;
                    clock.deadline = Instant::now() + limits.header_read_timeout;
                }
            });
        }
    }

    /// When the connection must be closed, or `None` while a request is in progress.
    fn deadline(&self) -> Option<Instant> {
        let clock = self.clock.lock().unwrap_or_else(PoisonError::into_inner);
        (clock.in_flight == 0).then_some(clock.deadline)
    }

    /// Resolves once a deadline passes with no request in progress.
    ///
    /// Requests do not wake the watchdog: on a busy connection that would cost a task wake-up
    /// and a timer reset per request. It looks again at most every `step` instead, the shorter
    /// of the two timeouts: any deadline set after a look is at least `step` away from it, so
    /// none is missed.
    async fn expired(&self) {
        let step = self
            .limits
            .header_read_timeout
            .min(self.limits.idle_timeout);
        loop {
            let now = Instant::now();
            let next = match self.deadline() {
                Some(deadline) if deadline <= now => return,
                Some(deadline) => deadline.min(now + step),
                None => now + step,
            };
            tokio::time::sleep_until(next).await;
        }
    }
}

/// Held from a request's head until its answer has been handed to hyper.
struct Busy(Arc<Watchdog>);

impl Busy {
    fn start(watch: &Arc<Watchdog>) -> Busy {
        watch.update(|clock, _| clock.in_flight += 1);
        Busy(Arc::clone(watch))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.update(|clock, limits| {
            clock.in_flight = clock.in_flight.saturating_sub(1);
            if clock.in_flight == 0 {
                clock.idle = true;
                clock.deadline = Instant::now() + limits.idle_timeout;
            }
        });
    }
}

/// The socket, telling the watchdog when bytes arrive.
struct WatchedStream {
    stream: TcpStream,
    watch: Arc<Watchdog>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.bytes_arrived();
        }
        read
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A request body that must have arrived by a deadline.
struct DeadlineBody {
    body: Incoming,
    /// `None` for requests without a body.
    deadline: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
}

impl DeadlineBody {
    fn new(body: Incoming, timeout: Duration) -> Self {
        let deadline =
            (!http_body::Body::is_end_stream(&body)).then(|| Box::pin(tokio::time::sleep(timeout)));
        DeadlineBody {
            body,
            deadline,
            timeout,
        }
    }
}

/// The request body was still incomplete at its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub Duration);

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        // Bytes that arrived in time are used even when the handler reads them late; only
        // waiting for more counts against the deadline.
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|frame| frame.map_err(Into::into))),
            Poll::Pending => {
                let passed = this
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if passed {
                    Poll::Ready(Some(Err(BodyTimeout(this.timeout).into())))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// An answer's body, holding its request's place until hyper has taken it all.
struct AnswerBody {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

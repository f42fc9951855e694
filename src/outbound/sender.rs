//! One webhook attempt: the Standard Webhooks request, signed, sent within the tenant's
//! timeout to addresses the guard allowed, and what came back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use super::guard::DestinationGuard;
use crate::domain::delivery::{kept_response, signature, Attempt, RESPONSE_KEPT_BYTES};
use crate::domain::ids::WebhookAttemptId;
use crate::store::deliveries::Claimed;

/// Sends webhook attempts over a pool of kept-alive connections.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    guard: DestinationGuard,
}

/// Resolves a connection's host through the guard, so that it connects only to addresses
/// the guard allowed, whatever the name resolves to by the time it connects.
struct GuardedResolver(DestinationGuard);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.allowed(name.as_str()).await?;
            // The connector puts the URL's port on each address.
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

impl Sender {
    pub fn new(guard: DestinationGuard) -> anyhow::Result<Sender> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(guard.clone())))
            // A redirect could lead past the guard; a 3xx is a failed attempt.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tenantry-webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Sender { client, guard })
    }

    /// Makes the claimed delivery's attempt, signed with `secrets` (open, `whsec_…`).
    pub async fn attempt(&self, claimed: &Claimed, secrets: &[&str]) -> Attempt {
        let attempted_at = Utc::now();
        let started = Instant::now();
        let (status_code, response, error) = match self.send(claimed, secrets).await {
            Ok((status, body)) => {
                let error = (!status.is_success()).then(|| format!("status {}", status.as_u16()));
                (Some(i64::from(status.as_u16())), Some(body), error)
            }
            Err(error) => (None, None, Some(error)),
        };
        Attempt {
            id: WebhookAttemptId::generate(),
            delivery_id: claimed.id,
            attempt: claimed.attempts,
            attempted_at,
            status_code,
            latency_ms: started.elapsed().as_millis() as i64,
            response,
            error,
        }
    }

    /// The answer's status and the first KiB of its body, or why there is none.
    async fn send(
        &self,
        claimed: &Claimed,
        secrets: &[&str],
    ) -> Result<(reqwest::StatusCode, String), String> {
        let url = Url::parse(&claimed.url).map_err(|e| format!("bad URL: {e}"))?;
        self.guard
            .check(&url)
            .await
            .map_err(|refused| format!("refused destination ({}): {refused}", refused.code()))?;
        let body = serde_json::to_vec(&claimed.payload).map_err(|e| e.to_string())?;
        let id = claimed.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let mut response = self
            .client
            .post(url)
            .timeout(claimed.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(secrets, &id, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        let mut kept = Vec::new();
        while kept.len() < RESPONSE_KEPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) => break,
                // The status counts; a body cut short is kept as far as it came.
                Err(_) => break,
            }
        }
        Ok((status, kept_response(&kept)))
    }
}

/// A failed request in a few words: a timeout, a refused connection, and so on.
fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

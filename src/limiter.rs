//! Rate-limit buckets: where each bucket's GCRA state lives. On one server it lives in memory
//! ([`memory`]); with `--redis-url`, replicas share it through Redis ([`redis`]), one atomic
//! script per decision. When Redis fails, decisions fall back to this server's memory: a lost
//! Redis degrades to per-server budgets and never refuses traffic.
//!
//! We do not use the `governor` crate: its keyed limiter holds one quota for every key, while
//! our budgets differ per tenant, and it does not report the remaining budget that the
//! `X-RateLimit-*` headers need. GCRA itself is a few lines ([`crate::domain::rate_limit`]),
//! and sharing them keeps both backends answering alike.

use std::fmt;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::domain::ids::{ApiKeyId, UserId};
use crate::domain::rate_limit::{Budget, Decision, RatePolicy};

pub mod memory;
pub mod redis;

/// Who spends a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The server's `--master-key`.
    MasterKey,
    ApiKey(ApiKeyId),
    /// A person, across their sessions.
    User(UserId),
    /// A client address, for public routes and requests without a valid key.
    Address(IpAddr),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::MasterKey => f.write_str("master"),
            Subject::ApiKey(id) => write!(f, "{id}"),
            Subject::User(id) => write!(f, "{id}"),
            Subject::Address(address) => write!(f, "ip:{address}"),
        }
    }
}

/// One bucket: a policy's budget of one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketKey {
    pub policy: RatePolicy,
    pub subject: Subject,
}

/// Decides requests against their buckets.
pub struct Limiter {
    local: memory::Buckets,
    shared: Option<redis::Shared>,
}

impl Limiter {
    /// Buckets in this server's memory.
    pub fn in_memory() -> Limiter {
        Limiter {
            local: memory::Buckets::default(),
            shared: None,
        }
    }

    /// Buckets in Redis at `url`, under `prefix`; this server's memory when Redis fails.
    pub fn shared(url: &str, prefix: &str) -> anyhow::Result<Limiter> {
        Ok(Limiter {
            local: memory::Buckets::default(),
            shared: Some(redis::Shared::new(url, prefix)?),
        })
    }

    /// Spends one request of `key`'s bucket, if `budget` allows it.
    pub async fn decide(&self, key: BucketKey, budget: Budget) -> Decision {
        if let Some(shared) = &self.shared {
            if let Some(decision) = shared.decide(key, budget).await {
                return decision;
            }
        }
        self.local.decide(key, budget, now_micros())
    }
}

/// Microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

//! Buckets in Redis, shared by every replica: one Lua script per decision reads the bucket's
//! TAT, decides with Redis's own clock and stores the new TAT with an expiry, atomically.
//!
//! Redis is never in the way of serving. A decision that fails or takes longer than
//! [`TIMEOUT`] is made in this server's memory instead; the outage is logged once, when it
//! starts, and once when Redis answers again. While it lasts, one request in every
//! [`RETRY_AFTER`] tries Redis again and the others do not wait for it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::{now_micros, BucketKey};
use crate::domain::rate_limit::{Budget, Decision, MICROS};

/// The longest a decision waits for Redis before deciding locally.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// How long decisions stay local after Redis failed, before one tries it again.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// `KEYS[1]` the bucket; `ARGV[1]` the emission interval and `ARGV[2]` the window, in
/// microseconds. Answers `{admitted (0/1), now, TAT}`, the TAT after the decision.
/// Lua numbers are doubles: microseconds since the epoch stay exact below 2^53.
const GCRA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - window > now then
  return {0, now, tat}
end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return {1, now, next_tat}
";

pub struct Shared {
    connection: ConnectionManager,
    script: Script,
    prefix: String,
    health: Health,
}

impl Shared {
    /// Buckets under `prefix` in the Redis at `url`; the connection is made on first use and
    /// remade after failures.
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Shared> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        Ok(Shared {
            connection: ConnectionManager::new_lazy_with_config(client, config)?,
            script: Script::new(GCRA),
            prefix: prefix.to_owned(),
            health: Health::default(),
        })
    }

    /// Redis's decision, or `None` when Redis cannot give one now.
    pub async fn decide(&self, key: BucketKey, budget: Budget) -> Option<Decision> {
        if !self.health.may_try() {
            return None;
        }
        let bucket = format!("{}:{}:{}", self.prefix, key.policy.name(), key.subject);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(bucket);
        invocation
            .arg(budget.interval_micros())
            .arg(budget.window_micros());
        let answer = tokio::time::timeout(
            TIMEOUT,
            invocation.invoke_async::<(i64, i64, i64)>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok((admitted, now, tat))) => {
                self.health.answered();
                Some(Decision::at(budget, now, tat, admitted == 1))
            }
            Ok(Err(error)) => {
                self.health.failed(&error);
                None
            }
            Err(_) => {
                self.health
                    .failed(&format_args!("no answer within {TIMEOUT:?}"));
                None
            }
        }
    }
}

/// Whether Redis is in an outage, and when to try it again.
#[derive(Default)]
struct Health {
    down: AtomicBool,
    /// Microseconds since the epoch.
    retry_at: AtomicI64,
}

impl Health {
    /// Outside an outage, always; inside one, for the first request after each retry time.
    fn may_try(&self) -> bool {
        if !self.down.load(Ordering::Relaxed) {
            return true;
        }
        let now = now_micros();
        let at = self.retry_at.load(Ordering::Relaxed);
        now >= at
            && self
                .retry_at
                .compare_exchange(
                    at,
                    now + retry_micros(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    fn failed(&self, error: &dyn std::fmt::Display) {
        self.retry_at
            .store(now_micros() + retry_micros(), Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %error,
                "Redis is unreachable: rate limits are decided on this server's own budgets \
                 until it answers again"
            );
        }
    }

    fn answered(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::warn!("Redis answers again: rate limits are shared again");
        }
    }
}

fn retry_micros() -> i64 {
    RETRY_AFTER.as_secs() as i64 * MICROS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_lets_one_request_retry_after_the_pause() {
        let health = Health::default();
        assert!(health.may_try());
        health.failed(&"connection refused");
        assert!(
            !health.may_try(),
            "no request waits on Redis during a pause"
        );
        health.retry_at.store(now_micros() - 1, Ordering::Relaxed);
        assert!(health.may_try(), "the first request after the pause tries");
        assert!(!health.may_try(), "and only that one");
        health.answered();
        assert!(health.may_try());
    }
}

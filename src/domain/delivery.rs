//! Webhook delivery: Standard Webhooks signatures, the retry schedule, and what an attempt
//! leaves behind.

use std::time::Duration as StdDuration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::event::EventType;
use super::ids::{EventId, TenantId, WebhookAttemptId, WebhookDeliveryId, WebhookEndpointId};
use super::webhook::SECRET_MARK;

/// How much of a receiver's answer is kept with its attempt.
pub const RESPONSE_KEPT_BYTES: usize = 1024;

/// An endpoint failing without a success for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// The `webhook-signature` value: `v1,<base64 HMAC-SHA256 of id.timestamp.body>` for each
/// secret, space-separated, so that during a rotation either secret verifies.
pub fn signature(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut header = String::new();
    for secret in secrets {
        let key = secret_key(secret);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any size");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if !header.is_empty() {
            header.push(' ');
        }
        header.push_str("v1,");
        header.push_str(&STANDARD.encode(mac.finalize().into_bytes()));
    }
    header
}

/// The key bytes of a `whsec_` secret: the base64 after the mark.
fn secret_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix(SECRET_MARK).unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec())
}

/// When failed attempts are retried: the delay after each failure, in order. The first
/// attempt is immediate; after the last delay's attempt fails, the delivery is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<StdDuration>);

impl Default for RetrySchedule {
    /// Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
    fn default() -> Self {
        let minutes = |m: u64| StdDuration::from_secs(m * 60);
        RetrySchedule(vec![
            StdDuration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ])
    }
}

impl RetrySchedule {
    /// When to try again after `attempts` attempts failed, with up to ±20% jitter so that
    /// retries of one outage do not arrive together; `None` when no retry is left.
    pub fn after(&self, attempts: i64, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let index = usize::try_from(attempts - 1).ok()?;
        let delay = *self.0.get(index)?;
        let jitter = rand::thread_rng().gen_range(0.8..=1.2);
        let delay = Duration::from_std(delay.mul_f64(jitter)).ok()?;
        Some(at + delay)
    }

    /// Attempts in all: the first and one per delay.
    pub fn attempts_allowed(&self) -> i64 {
        self.0.len() as i64 + 1
    }

    /// Parses `5s,5m,30m,2h`: whole numbers with `ms`, `s`, `m` or `h`.
    pub fn parse(text: &str) -> Result<RetrySchedule, String> {
        let delays = text
            .split(',')
            .map(|part| parse_delay(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RetrySchedule(delays))
    }
}

fn parse_delay(text: &str) -> Result<StdDuration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit (ms, s, m or h)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a whole number"))?;
    let millis = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("`{unit}` is not a unit: ms, s, m or h")),
    };
    Ok(StdDuration::from_millis(number.saturating_mul(millis)))
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; another attempt is due.
    Pending,
    Delivered,
    /// Every attempt failed, or its endpoint was disabled.
    Failed,
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub endpoint_id: WebhookEndpointId,
    pub tenant_id: Option<TenantId>,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: WebhookAttemptId,
    pub delivery_id: WebhookDeliveryId,
    pub attempt: i64,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status, when it answered.
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// The first [`RESPONSE_KEPT_BYTES`] of the answer's body.
    pub response: Option<String>,
    /// Why no 2xx came: a refused destination, a timeout, a connection error or the status.
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// The first [`RESPONSE_KEPT_BYTES`] of `body`, cut at a character boundary.
pub fn kept_response(body: &[u8]) -> String {
    let end = body.len().min(RESPONSE_KEPT_BYTES);
    let text = String::from_utf8_lossy(&body[..end]);
    text.trim_end_matches('\u{FFFD}').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_specs_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let header = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn two_secrets_sign_twice() {
        let header = signature(&["whsec_AAAA", "whsec_BBBB"], "id", 1, b"{}");
        let parts: Vec<_> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|part| part.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn the_default_schedule_is_eight_attempts_with_jittered_delays() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts_allowed(), 8);
        let at = Utc::now();
        let first = schedule.after(1, at).unwrap() - at;
        assert!(first >= Duration::seconds(4) && first <= Duration::seconds(6));
        let last = schedule.after(7, at).unwrap() - at;
        assert!(last >= Duration::hours(8) && last <= Duration::hours(12));
        assert_eq!(schedule.after(8, at), None);
    }

    #[test]
    fn schedules_parse_with_units_and_name_what_is_wrong() {
        let schedule = RetrySchedule::parse("500ms, 2s,1m,1h").unwrap();
        assert_eq!(
            schedule.0,
            [
                StdDuration::from_millis(500),
                StdDuration::from_secs(2),
                StdDuration::from_secs(60),
                StdDuration::from_secs(3600)
            ]
        );
        assert!(RetrySchedule::parse("5").unwrap_err().contains("unit"));
        assert!(RetrySchedule::parse("5d").unwrap_err().contains("`d`"));
    }

    #[test]
    fn a_kept_response_is_cut_at_a_kib_without_a_broken_character() {
        let body = "é".repeat(1000);
        let kept = kept_response(body.as_bytes());
        assert!(kept.len() <= RESPONSE_KEPT_BYTES);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}

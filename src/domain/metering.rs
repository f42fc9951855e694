//! Metering: billing periods, calls, usage events, the rules of admission, and a tenant's
//! usage against its limits.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::alerts::Metric;
use super::ids::{AgentId, CallId, TenantId};
use super::limits::{EffectiveLimits, LimitKey};
use super::tenant::{check_metadata, BlockedService, TenantStatus};
use super::validation::{FieldError, Violations};

/// A billing period: `[start, end)` in whole UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    /// First day after the period.
    pub end: NaiveDate,
}

/// The current period of a subscription that is not canceled: `[start, end)`. While it holds
/// a moment, it is the tenant's billing period at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl BillingWindow {
    pub fn holds(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    /// Its period in whole days: from the UTC day it starts on, which keys its counters, to
    /// the first UTC day that begins at or after its end.
    pub fn period(&self) -> Period {
        let end = self.end.date_naive();
        let starts_a_day = self.end.time() == chrono::NaiveTime::MIN;
        Period {
            start: self.start.date_naive(),
            end: if starts_a_day {
                end
            } else {
                end.succ_opt().unwrap_or(end)
            },
        }
    }
}

impl Period {
    /// A tenant's billing period at `at`: the current period of its subscription (`window`,
    /// when it has one that is not canceled) if that holds `at`, otherwise the calendar month.
    pub fn billing(at: DateTime<Utc>, window: Option<BillingWindow>) -> Period {
        match window {
            Some(window) if window.holds(at) => window.period(),
            _ => Period::containing(at),
        }
    }

    /// The calendar month in UTC that holds `at`: the billing period of a tenant without a
    /// subscription's period.
    pub fn containing(at: DateTime<Utc>) -> Period {
        let day = at.date_naive();
        let start = day.with_day(1).expect("day 1 exists");
        let end = if start.month() == 12 {
            NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
        }
        .expect("the first of a month exists");
        Period { start, end }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum Channel {
    Phone,
    Webrtc,
    Webchat,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum CallStatus {
    /// Admitted and holding a concurrency slot.
    Active,
    /// Ended by the data plane.
    Completed,
    /// Its lease ran out: the data plane stopped sending heartbeats.
    Expired,
    /// Ended by a forced delete of its tenant.
    Terminated,
}

/// One conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: CallId,
    pub tenant_id: TenantId,
    pub agent_id: Option<AgentId>,
    pub channel: Channel,
    pub direction: Option<Direction>,
    pub external_id: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub status: CallStatus,
    pub started_at: DateTime<Utc>,
    /// When the call expires unless a heartbeat extends it.
    pub lease_expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i64>,
    pub cost_cents: Option<i64>,
    pub sentiment_score: Option<f64>,
    pub ended_reason: Option<String>,
    pub recording_url: Option<String>,
}

/// Filters of the call list.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub status: Option<CallStatus>,
    pub channel: Option<Channel>,
    pub agent_id: Option<AgentId>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
}

/// Sentiment is stored in millionths so that sums are exact.
pub fn sentiment_to_micros(score: f64) -> i64 {
    (score * 1_000_000.0).round() as i64
}

/// Takes wide sums too.
pub fn sentiment_from_micros(micros: impl Into<i128>) -> f64 {
    micros.into() as f64 / 1_000_000.0
}

/// The largest duration accepted for one call: a week.
pub const MAX_CALL_SECONDS: i64 = 7 * 24 * 3600;
/// The largest cost accepted for one call: one million dollars, in cents. With
/// [`MAX_CALL_SECONDS`] it keeps what one batch adds to a counter far below [`MAX_COUNTER`]'s
/// headroom.
pub const MAX_CALL_CENTS: i64 = 100_000_000;
/// The ceiling of every stored usage counter (`tenant_usage`, `usage_daily`), enforced by the
/// database. It leaves headroom below `i64::MAX` larger than any one write can add, so an
/// addition never overflows before the database compares it with the ceiling.
pub const MAX_COUNTER: i64 = 9_000_000_000_000_000_000;
/// Events further in the future than this are refused (clock skew allowance).
pub const FUTURE_TOLERANCE: Duration = Duration::minutes(5);
/// The most events one batch may carry.
pub const MAX_BATCH: usize = 1000;

/// A checked request to start a call.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub channel: Channel,
    pub agent_id: Option<AgentId>,
    pub direction: Option<Direction>,
    pub external_id: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl NewCall {
    /// Checks the fields the data plane chose, naming each bad one.
    pub fn check(&self, violations: &mut Violations) {
        if let Some(external_id) = &self.external_id {
            violations.length("externalId", external_id, 1, 255);
        }
        check_metadata("metadata", &self.metadata, violations);
    }
}

/// What a call used, as reported when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    pub duration_seconds: i64,
    pub cost_cents: i64,
    pub sentiment_score: Option<f64>,
    pub ended_reason: Option<String>,
    pub recording_url: Option<String>,
}

impl CallOutcome {
    pub fn check(&self, violations: &mut Violations) {
        violations.range(
            "durationSeconds",
            self.duration_seconds,
            0,
            MAX_CALL_SECONDS,
        );
        violations.range("costCents", self.cost_cents, 0, MAX_CALL_CENTS);
        check_sentiment("sentimentScore", self.sentiment_score, violations);
        if let Some(reason) = &self.ended_reason {
            violations.length("endedReason", reason, 1, 255);
        }
        if let Some(url) = &self.recording_url {
            violations.parsed("recordingUrl", super::validation::parse_http_url(url));
        }
    }

    /// Identifies the request, so ending a call twice with the same body is a replay.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{:?}|{:?}|{:?}",
            self.duration_seconds,
            self.cost_cents,
            self.sentiment_score.map(sentiment_to_micros),
            self.ended_reason,
            self.recording_url
        )
    }
}

fn check_sentiment(field: &str, score: Option<f64>, violations: &mut Violations) {
    if let Some(score) = score {
        if !score.is_finite() || !(-1.0..=1.0).contains(&score) {
            violations.add(field, "out_of_range", "must be between -1 and 1");
        }
    }
}

/// One completed call reported after the fact.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    /// Chosen by the client; deduplicated per tenant.
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub channel: Channel,
    pub duration_seconds: i64,
    pub cost_cents: i64,
    pub sentiment_score: Option<f64>,
    pub agent_id: Option<AgentId>,
}

impl UsageEvent {
    /// Checks one event of a batch, naming fields as `events[i].field`.
    pub fn check(&self, index: usize, now: DateTime<Utc>, violations: &mut Violations) {
        let field = |name: &str| format!("events[{index}].{name}");
        violations.length(&field("id"), &self.id, 1, 255);
        if self.occurred_at > now + FUTURE_TOLERANCE {
            violations.add(
                field("occurredAt"),
                "in_future",
                "must not be more than 5 minutes in the future",
            );
        }
        violations.range(
            &field("durationSeconds"),
            self.duration_seconds,
            0,
            MAX_CALL_SECONDS,
        );
        violations.range(&field("costCents"), self.cost_cents, 0, MAX_CALL_CENTS);
        check_sentiment(&field("sentimentScore"), self.sentiment_score, violations);
    }
}

/// A kind of stored usage counter, as a refused write names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Calls of a period, conversations of a day.
    Conversations,
    Seconds,
    CostCents,
    /// The sum and the count of sentiment scores of a day.
    Sentiment,
}

impl Counter {
    pub fn describe(self) -> &'static str {
        match self {
            Counter::Conversations => "conversation count",
            Counter::Seconds => "seconds",
            Counter::CostCents => "cost in cents",
            Counter::Sentiment => "sentiment sum",
        }
    }
}

/// What ingestion did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    pub accepted: i64,
    pub duplicates: i64,
}

/// Usage of one tenant in one period, as the counters hold it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodUsage {
    pub calls: i64,
    pub seconds: i64,
    pub cost_cents: i64,
}

impl PeriodUsage {
    /// Adds usage, or names the counter that would overflow.
    pub fn add(&mut self, calls: i64, seconds: i64, cost_cents: i64) -> Result<(), Counter> {
        *self = PeriodUsage {
            calls: checked_add(self.calls, calls, Counter::Conversations)?,
            seconds: checked_add(self.seconds, seconds, Counter::Seconds)?,
            cost_cents: checked_add(self.cost_cents, cost_cents, Counter::CostCents)?,
        };
        Ok(())
    }
}

/// Where a tenant's effective limit comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum LimitSource {
    Plan,
    Tenant,
}

/// One limit of a tenant and the usage measured against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitStatus {
    pub key: LimitKey,
    /// `None` is unlimited.
    pub value: Option<i64>,
    pub source: LimitSource,
    /// Usage this period (active calls for `maxConcurrentCalls`, agents for `maxAgents`).
    pub used: i64,
}

impl LimitStatus {
    /// What remains before the limit; `None` when unlimited.
    pub fn remaining(&self) -> Option<i64> {
        self.value
            .map(|limit| limit.saturating_sub(self.used).max(0))
    }

    /// Whether usage has reached the limit.
    pub fn exceeded(&self) -> bool {
        self.value.is_some_and(|limit| self.used >= limit)
    }
}

/// Every limit of a tenant with its usage in the current period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsReport {
    pub tenant_id: TenantId,
    pub period: Period,
    pub active_calls: i64,
    /// One per [`LimitKey`], in [`LimitKey::ALL`] order.
    pub limits: Vec<LimitStatus>,
}

/// `total + more`, or `counter` when the sum does not fit.
pub fn checked_add(total: i64, more: i64, counter: Counter) -> Result<i64, Counter> {
    total.checked_add(more).ok_or(counter)
}

/// What admission reads under the tenant's lock.
#[derive(Debug, Clone)]
pub struct AdmissionState {
    pub status: TenantStatus,
    /// The services the tenant's block refuses.
    pub blocked: BTreeSet<BlockedService>,
    pub limits: EffectiveLimits,
    /// Percentages of monthly limits at which alert actions refuse new calls.
    pub block_at: Vec<(Metric, i64)>,
    pub active_calls: i64,
    pub usage: PeriodUsage,
}

/// Why a call may not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    TenantInactive,
    /// The tenant's block refuses calls.
    Blocked,
    Limit {
        key: LimitKey,
        code: &'static str,
        limit: i64,
        current: i64,
    },
}

impl AdmissionState {
    /// The limits admission compares against; the store reads exactly these.
    pub const KEYS: &'static [LimitKey] = &[
        LimitKey::MaxConcurrentCalls,
        LimitKey::MonthlyCallLimit,
        LimitKey::MaxMinutesPerMonth,
        LimitKey::MonthlySpendLimitCents,
    ];

    /// The first rule that refuses a new call, if any.
    pub fn refusal(&self) -> Option<Refusal> {
        if self.status != TenantStatus::Active {
            return Some(Refusal::TenantInactive);
        }
        if self.blocked.contains(&BlockedService::Calls) {
            return Some(Refusal::Blocked);
        }
        let concurrency = LimitKey::MaxConcurrentCalls;
        if let Some(limit) = self.limits.get(concurrency) {
            if self.active_calls >= limit {
                return Some(Refusal::Limit {
                    key: concurrency,
                    code: "concurrency_limit_exceeded",
                    limit,
                    current: self.active_calls,
                });
            }
        }
        // Calls and minutes refuse at 100% always, spend only when an action says so; an
        // action refuses from its own percentage on.
        [
            (Metric::Calls, "monthly_call_limit_exceeded", Some(100)),
            (Metric::Minutes, "monthly_minute_limit_exceeded", Some(100)),
            (Metric::Spend, "spend_limit_exceeded", None),
        ]
        .into_iter()
        .find_map(|(metric, code, always)| {
            let limit = self.limits.get(metric.key())?;
            let blocked = self
                .block_at
                .iter()
                .filter(|(m, _)| *m == metric)
                .map(|(_, percent)| *percent);
            let percent = always.into_iter().chain(blocked).min()?;
            metric
                .reached(&self.usage, limit, percent)
                .then_some(Refusal::Limit {
                    key: metric.key(),
                    code,
                    limit,
                    current: metric.used(&self.usage),
                })
        })
    }
}

/// Checks a batch whole: every bad event is reported and nothing is stored.
pub fn check_batch(events: &[UsageEvent], now: DateTime<Utc>) -> Result<(), Vec<FieldError>> {
    let mut violations = Violations::default();
    if events.len() > MAX_BATCH {
        violations.add(
            "events",
            "too_many_items",
            format!("at most {MAX_BATCH} events"),
        );
    }
    for (index, event) in events.iter().enumerate() {
        event.check(index, now, &mut violations);
    }
    violations.finish(|| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limits::Limits;

    fn state(active: i64, usage: PeriodUsage) -> AdmissionState {
        AdmissionState {
            status: TenantStatus::Active,
            blocked: BTreeSet::new(),
            limits: EffectiveLimits::from_limits(
                Limits::default()
                    .with(LimitKey::MaxConcurrentCalls, 2)
                    .with(LimitKey::MonthlyCallLimit, 10)
                    .with(LimitKey::MaxMinutesPerMonth, 5)
                    .with(LimitKey::MonthlySpendLimitCents, 100),
            ),
            block_at: Vec::new(),
            active_calls: active,
            usage,
        }
    }

    #[test]
    fn months_are_periods() {
        let at = DateTime::parse_from_rfc3339("2025-12-31T23:59:59Z")
            .unwrap()
            .to_utc();
        let period = Period::containing(at);
        assert_eq!(period.start.to_string(), "2025-12-01");
        assert_eq!(period.end.to_string(), "2026-01-01");
    }

    #[test]
    fn a_subscription_period_holds_its_own_moments_only() {
        let time = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        let window = BillingWindow {
            start: time("2026-03-15T10:00:00Z"),
            end: time("2026-04-15T10:00:00Z"),
        };
        let inside = Period::billing(time("2026-04-01T00:00:00Z"), Some(window));
        assert_eq!(inside.start.to_string(), "2026-03-15");
        assert_eq!(inside.end.to_string(), "2026-04-16");
        // Before it starts and from its end on, the calendar month.
        let before = Period::billing(time("2026-03-15T09:59:59Z"), Some(window));
        assert_eq!(before.start.to_string(), "2026-03-01");
        let after = Period::billing(time("2026-04-15T10:00:00Z"), Some(window));
        assert_eq!(after.start.to_string(), "2026-04-01");
        let midnight = BillingWindow {
            start: time("2026-03-15T00:00:00Z"),
            end: time("2026-04-15T00:00:00Z"),
        };
        assert_eq!(midnight.period().end.to_string(), "2026-04-15");
        assert_eq!(
            Period::billing(time("2026-04-01T00:00:00Z"), None),
            Period::containing(time("2026-04-01T00:00:00Z"))
        );
    }

    #[test]
    fn admission_refuses_at_each_limit() {
        assert_eq!(state(1, PeriodUsage::default()).refusal(), None);
        let refusal = state(2, PeriodUsage::default()).refusal().unwrap();
        assert!(matches!(
            refusal,
            Refusal::Limit {
                code: "concurrency_limit_exceeded",
                limit: 2,
                current: 2,
                ..
            }
        ));
        let calls = PeriodUsage {
            calls: 10,
            ..PeriodUsage::default()
        };
        assert!(matches!(
            state(0, calls).refusal(),
            Some(Refusal::Limit {
                code: "monthly_call_limit_exceeded",
                ..
            })
        ));
        let almost = PeriodUsage {
            seconds: 299,
            ..PeriodUsage::default()
        };
        assert_eq!(state(0, almost).refusal(), None);
        let minutes = PeriodUsage {
            seconds: 300,
            ..PeriodUsage::default()
        };
        assert!(matches!(
            state(0, minutes).refusal(),
            Some(Refusal::Limit {
                code: "monthly_minute_limit_exceeded",
                current: 5,
                ..
            })
        ));
    }

    #[test]
    fn spend_blocks_only_when_asked() {
        let spent = PeriodUsage {
            cost_cents: 100,
            ..PeriodUsage::default()
        };
        assert_eq!(state(0, spent).refusal(), None);
        let mut blocking = state(0, spent);
        blocking.block_at = vec![(Metric::Spend, 100)];
        assert!(matches!(
            blocking.refusal(),
            Some(Refusal::Limit {
                code: "spend_limit_exceeded",
                ..
            })
        ));
    }

    #[test]
    fn an_action_blocks_from_its_own_percentage() {
        let ninety = PeriodUsage {
            cost_cents: 90,
            calls: 7,
            ..PeriodUsage::default()
        };
        let mut blocking = state(0, ninety);
        blocking.block_at = vec![(Metric::Spend, 95)];
        assert_eq!(blocking.refusal(), None);
        blocking.block_at = vec![(Metric::Spend, 90)];
        assert!(matches!(
            blocking.refusal(),
            Some(Refusal::Limit {
                code: "spend_limit_exceeded",
                limit: 100,
                current: 90,
                ..
            })
        ));
        blocking.block_at = vec![(Metric::Calls, 70)];
        assert!(matches!(
            blocking.refusal(),
            Some(Refusal::Limit {
                code: "monthly_call_limit_exceeded",
                current: 7,
                ..
            })
        ));
    }

    #[test]
    fn inactive_tenants_start_nothing() {
        let mut inactive = state(0, PeriodUsage::default());
        inactive.status = TenantStatus::Inactive;
        assert_eq!(inactive.refusal(), Some(Refusal::TenantInactive));
    }

    #[test]
    fn a_block_on_calls_refuses_before_any_limit() {
        let mut blocked = state(2, PeriodUsage::default());
        blocked.blocked = [BlockedService::Analytics].into();
        assert!(matches!(blocked.refusal(), Some(Refusal::Limit { .. })));
        blocked.blocked.insert(BlockedService::Calls);
        assert_eq!(blocked.refusal(), Some(Refusal::Blocked));
        blocked.status = TenantStatus::Inactive;
        assert_eq!(blocked.refusal(), Some(Refusal::TenantInactive));
    }
}

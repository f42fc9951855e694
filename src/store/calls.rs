//! Calls: admission, heartbeats, ending, and expiry of calls whose lease ran out.
//!
//! Admission locks the tenant's `tenant_counters` row (PostgreSQL `FOR UPDATE`; SQLite's
//! `BEGIN IMMEDIATE` holds the database write lock) in a statement of its own, then reads the
//! limits and usage in later statements and records the call in the same transaction, so no
//! interleaving of requests or processes can admit a call over a limit. Every writer of the
//! counters admission compares against takes the same lock first ([`lock_counters!`]).
//! Counters and daily rollups change in the same transaction as the call.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::types::Json;

use super::{enum_from_text, enum_to_text};
use super::{now, Db, StoreError, StoreResult};
use crate::domain::ids::{AgentId, CallId, TenantId};
use crate::domain::metering::{
    checked_add, sentiment_from_micros, sentiment_to_micros, AdmissionState, Call, CallOutcome,
    CallStatus, Channel, Counter, NewCall, Period, PeriodUsage, Refusal,
};
use crate::{in_transaction, on_reader};

macro_rules! call_columns {
    () => {
        "tenant_id, id, agent_id, channel, direction, external_id, metadata, status, period_start, \
         started_at, lease_expires_at, ended_at, duration_seconds, cost_cents, sentiment_micros, \
         ended_reason, recording_url, end_fingerprint"
    };
}

#[derive(sqlx::FromRow)]
struct CallRow {
    tenant_id: TenantId,
    id: CallId,
    agent_id: Option<AgentId>,
    channel: String,
    direction: Option<String>,
    external_id: Option<String>,
    metadata: Json<serde_json::Map<String, serde_json::Value>>,
    status: String,
    period_start: NaiveDate,
    started_at: DateTime<Utc>,
    lease_expires_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    duration_seconds: Option<i64>,
    cost_cents: Option<i64>,
    sentiment_micros: Option<i64>,
    ended_reason: Option<String>,
    recording_url: Option<String>,
    end_fingerprint: Option<String>,
}

impl CallRow {
    fn into_call(self) -> StoreResult<Call> {
        Ok(Call {
            id: self.id,
            tenant_id: self.tenant_id,
            agent_id: self.agent_id,
            channel: enum_from_text(&self.channel)?,
            direction: self.direction.as_deref().map(enum_from_text).transpose()?,
            external_id: self.external_id,
            metadata: self.metadata.0,
            status: enum_from_text(&self.status)?,
            started_at: self.started_at,
            lease_expires_at: self.lease_expires_at,
            ended_at: self.ended_at,
            duration_seconds: self.duration_seconds,
            cost_cents: self.cost_cents,
            sentiment_score: self.sentiment_micros.map(sentiment_from_micros),
            ended_reason: self.ended_reason,
            recording_url: self.recording_url,
        })
    }
}

/// Locks the tenant's counters row until the transaction ends and returns its active calls,
/// or `None` when the tenant has no counters row.
///
/// The lock must be taken in a statement of its own, before anything it guards is read. Under
/// PostgreSQL's READ COMMITTED, a statement that waited for a row lock re-reads only the locked
/// row: other rows it joins still come from the snapshot taken before the wait. A later
/// statement takes a new snapshot, which holds everything the previous lock holders committed.
macro_rules! lock_counters {
    ($executor:expr, $backend:expr, $tenant:expr) => {{
        let sql = format!(
            "SELECT active_calls FROM tenant_counters WHERE tenant_id = $1{}",
            $backend.lock_clause("tenant_counters")
        );
        let row: Option<(i64,)> = sqlx::query_as(&sql)
            .bind($tenant)
            .fetch_optional($executor)
            .await?;
        row.map(|(active_calls,)| active_calls)
    }};
}
pub(crate) use lock_counters;

/// What admission reads after taking the lock.
#[derive(sqlx::FromRow)]
struct AdmissionRow {
    status: String,
    action_at_100: String,
    calls: Option<i64>,
    seconds: Option<i64>,
    cost_cents: Option<i64>,
    #[sqlx(flatten)]
    limits: super::limits::EffectiveColumns,
}

impl AdmissionRow {
    fn into_state(self, active_calls: i64) -> StoreResult<AdmissionState> {
        let corrupt = |what: &str| StoreError::Corrupt(anyhow::anyhow!("stored {what}"));
        Ok(AdmissionState {
            status: self.status.parse().map_err(|_| corrupt("status"))?,
            limits: self.limits.0,
            action_at_100: self
                .action_at_100
                .parse()
                .map_err(|_| corrupt("action at 100%"))?,
            active_calls,
            usage: PeriodUsage {
                calls: self.calls.unwrap_or(0),
                seconds: self.seconds.unwrap_or(0),
                cost_cents: self.cost_cents.unwrap_or(0),
            },
        })
    }
}

/// Why a call was not admitted, or could not be ended.
#[derive(Debug)]
pub enum CallError {
    Refused(Refusal),
    /// The named agent is not one of the tenant's.
    UnknownAgent,
    /// The call ended already with another outcome.
    AlreadyEnded,
    /// The call is not active (heartbeats only extend active calls).
    NotActive,
    Store(StoreError),
}

impl From<StoreError> for CallError {
    fn from(error: StoreError) -> Self {
        CallError::Store(error)
    }
}

impl From<sqlx::Error> for CallError {
    fn from(error: sqlx::Error) -> Self {
        CallError::Store(error.into())
    }
}

/// Adds a period's usage; creates the row on first use.
macro_rules! add_period_usage {
    ($executor:expr, $tenant:expr, $period:expr, $calls:expr, $seconds:expr, $cost:expr) => {
        sqlx::query(
            "INSERT INTO tenant_usage (tenant_id, period_start, calls, seconds, cost_cents) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, period_start) DO UPDATE SET \
             calls = tenant_usage.calls + excluded.calls, \
             seconds = tenant_usage.seconds + excluded.seconds, \
             cost_cents = tenant_usage.cost_cents + excluded.cost_cents",
        )
        .bind($tenant)
        .bind($period)
        .bind($calls)
        .bind($seconds)
        .bind($cost)
        .execute($executor)
        .await?
    };
}
pub(crate) use add_period_usage;

/// Adds to one day's rollup for a channel; creates the row on first use.
macro_rules! add_daily_usage {
    ($executor:expr, $tenant:expr, $day:expr, $channel:expr, $rollup:expr) => {{
        let rollup: &$crate::store::calls::DailyDelta = $rollup;
        sqlx::query(
            "INSERT INTO usage_daily (tenant_id, day, channel, conversations, seconds, cost_cents, \
             sentiment_micros_sum, sentiment_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, day, channel) DO UPDATE SET \
             conversations = usage_daily.conversations + excluded.conversations, \
             seconds = usage_daily.seconds + excluded.seconds, \
             cost_cents = usage_daily.cost_cents + excluded.cost_cents, \
             sentiment_micros_sum = usage_daily.sentiment_micros_sum + excluded.sentiment_micros_sum, \
             sentiment_count = usage_daily.sentiment_count + excluded.sentiment_count",
        )
        .bind($tenant)
        .bind($day)
        .bind($channel.as_str())
        .bind(rollup.conversations)
        .bind(rollup.seconds)
        .bind(rollup.cost_cents)
        .bind(rollup.sentiment_micros_sum)
        .bind(rollup.sentiment_count)
        .execute($executor)
        .await?
    }};
}
pub(crate) use add_daily_usage;

/// What one or more conversations add to a daily rollup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyDelta {
    pub conversations: i64,
    pub seconds: i64,
    pub cost_cents: i64,
    pub sentiment_micros_sum: i64,
    pub sentiment_count: i64,
}

impl DailyDelta {
    /// Adds conversations; a sum that does not fit is the overflow of its counter.
    pub fn add(
        &mut self,
        conversations: i64,
        seconds: i64,
        cost: i64,
        sentiment: Option<f64>,
    ) -> StoreResult<()> {
        let mut next = *self;
        next.conversations =
            checked_add(next.conversations, conversations, Counter::Conversations)?;
        next.seconds = checked_add(next.seconds, seconds, Counter::Seconds)?;
        next.cost_cents = checked_add(next.cost_cents, cost, Counter::CostCents)?;
        if let Some(score) = sentiment {
            let micros = sentiment_to_micros(score);
            next.sentiment_micros_sum =
                checked_add(next.sentiment_micros_sum, micros, Counter::Sentiment)?;
            next.sentiment_count = checked_add(next.sentiment_count, 1, Counter::Sentiment)?;
        }
        *self = next;
        Ok(())
    }
}

impl Db {
    /// Admits a call if every limit allows it, atomically.
    pub async fn admit_call(
        &self,
        tenant_id: TenantId,
        new: &NewCall,
        lease: Duration,
    ) -> Result<Call, CallError> {
        let at = now();
        let period = Period::containing(at).start;
        let row: CallRow = in_transaction!(self, |tx, backend| {
            let active_calls =
                lock_counters!(&mut *tx, backend, tenant_id).ok_or(StoreError::NotFound)?;
            // Read in a statement after the lock, never in the locking one (see lock_counters!).
            let sql = format!(
                "SELECT t.status, t.action_at_100, u.calls, u.seconds, u.cost_cents{} \
                 FROM tenants t \
                 LEFT JOIN tenant_usage u ON u.tenant_id = t.id AND u.period_start = $2 \
                 WHERE t.id = $1",
                super::limits::effective_columns("t", AdmissionState::KEYS)
            );
            let state: AdmissionRow = sqlx::query_as(&sql)
                .bind(tenant_id)
                .bind(period)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            if let Some(refusal) = state.into_state(active_calls)?.refusal() {
                return Err(CallError::Refused(refusal));
            }
            if let Some(agent_id) = new.agent_id {
                let found: Option<(AgentId,)> =
                    sqlx::query_as("SELECT id FROM agents WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant_id)
                        .bind(agent_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if found.is_none() {
                    return Err(CallError::UnknownAgent);
                }
            }
            let row: CallRow = sqlx::query_as(concat!(
                "INSERT INTO calls (tenant_id, id, agent_id, channel, direction, external_id, \
                 metadata, status, period_start, started_at, lease_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10) RETURNING ",
                call_columns!()
            ))
            .bind(tenant_id)
            .bind(CallId::generate())
            .bind(new.agent_id)
            .bind(new.channel.as_str())
            .bind(new.direction.as_ref().map(enum_to_text))
            .bind(&new.external_id)
            .bind(Json(&new.metadata))
            .bind(period)
            .bind(at)
            .bind(at + lease)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE tenant_counters SET active_calls = active_calls + 1, last_call_at = $2 \
                 WHERE tenant_id = $1",
            )
            .bind(tenant_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            add_period_usage!(&mut *tx, tenant_id, period, 1_i64, 0_i64, 0_i64);
            row
        });
        Ok(row.into_call()?)
    }

    /// Extends an active call's lease.
    pub async fn heartbeat_call(
        &self,
        tenant_id: TenantId,
        id: CallId,
        lease: Duration,
    ) -> Result<Call, CallError> {
        let at = now();
        let row: Option<CallRow> = in_transaction!(self, |tx| {
            sqlx::query_as(concat!(
                "UPDATE calls SET lease_expires_at = $3 \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'active' RETURNING ",
                call_columns!()
            ))
            .bind(tenant_id)
            .bind(id)
            .bind(at + lease)
            .fetch_optional(&mut *tx)
            .await?
        });
        match row {
            Some(row) => Ok(row.into_call()?),
            None => {
                self.find_call(tenant_id, id).await?;
                Err(CallError::NotActive)
            }
        }
    }

    /// Ends a call with what it used. Ending it again with the same outcome answers the same
    /// call; another outcome is [`CallError::AlreadyEnded`]. A call that expired still takes
    /// its usage, so a late end loses nothing.
    pub async fn end_call(
        &self,
        tenant_id: TenantId,
        id: CallId,
        outcome: &CallOutcome,
    ) -> Result<Call, CallError> {
        let at = now();
        let fingerprint = outcome.fingerprint();
        let row: CallRow = in_transaction!(self, |tx, backend| {
            // Counters before the call: the one lock order of every writer of both.
            lock_counters!(&mut *tx, backend, tenant_id).ok_or(StoreError::NotFound)?;
            let sql = format!(
                concat!(
                    "SELECT ",
                    call_columns!(),
                    " FROM calls WHERE tenant_id = $1 AND id = $2{}"
                ),
                backend.lock_clause("calls")
            );
            let current: CallRow = sqlx::query_as(&sql)
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let status: CallStatus = enum_from_text(&current.status)?;
            if status == CallStatus::Completed {
                if current.end_fingerprint.as_deref() == Some(fingerprint.as_str()) {
                    return Ok(current.into_call()?);
                }
                return Err(CallError::AlreadyEnded);
            }
            let row: CallRow = sqlx::query_as(concat!(
                "UPDATE calls SET status = 'completed', ended_at = COALESCE(ended_at, $3), \
                 duration_seconds = $4, cost_cents = $5, sentiment_micros = $6, ended_reason = $7, \
                 recording_url = $8, end_fingerprint = $9 WHERE tenant_id = $1 AND id = $2 RETURNING ",
                call_columns!()
            ))
            .bind(tenant_id)
            .bind(id)
            .bind(at)
            .bind(outcome.duration_seconds)
            .bind(outcome.cost_cents)
            .bind(outcome.sentiment_score.map(sentiment_to_micros))
            .bind(&outcome.ended_reason)
            .bind(&outcome.recording_url)
            .bind(&fingerprint)
            .fetch_one(&mut *tx)
            .await?;
            // An expired call already gave back its slot and counted as a conversation.
            let was_active = status == CallStatus::Active;
            if was_active {
                sqlx::query(
                    "UPDATE tenant_counters SET active_calls = active_calls - 1 WHERE tenant_id = $1",
                )
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
            }
            add_period_usage!(
                &mut *tx,
                tenant_id,
                current.period_start,
                0_i64,
                outcome.duration_seconds,
                outcome.cost_cents
            );
            let mut delta = DailyDelta::default();
            delta.add(
                i64::from(was_active),
                outcome.duration_seconds,
                outcome.cost_cents,
                outcome.sentiment_score,
            )?;
            let channel: Channel = enum_from_text(&current.channel)?;
            add_daily_usage!(
                &mut *tx,
                tenant_id,
                current.started_at.date_naive(),
                channel,
                &delta
            );
            row
        });
        Ok(row.into_call()?)
    }

    pub async fn find_call(&self, tenant_id: TenantId, id: CallId) -> StoreResult<Call> {
        let row: Option<CallRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                call_columns!(),
                " FROM calls WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound)?.into_call()
    }

    /// Calls of a tenant, newest first, resuming after `after` (started_at, id).
    pub async fn list_calls(
        &self,
        tenant_id: TenantId,
        filter: &CallFilter,
        after: Option<(DateTime<Utc>, CallId)>,
        limit: i64,
    ) -> StoreResult<Vec<Call>> {
        let (after_time, after_id) = after.unzip();
        let rows: Vec<CallRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                call_columns!(),
                " FROM calls WHERE tenant_id = $1 \
                 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR channel = $3) \
                 AND ($4 IS NULL OR agent_id = $4) AND ($5 IS NULL OR started_at >= $5) \
                 AND ($6 IS NULL OR started_at < $6) \
                 AND ($7 IS NULL OR (started_at, id) < ($7, $8)) \
                 ORDER BY started_at DESC, id DESC LIMIT $9"
            ))
            .bind(tenant_id)
            .bind(filter.status.as_ref().map(enum_to_text))
            .bind(filter.channel.map(Channel::as_str))
            .bind(filter.agent_id)
            .bind(filter.from)
            .bind(filter.to)
            .bind(after_time)
            .bind(after_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(CallRow::into_call).collect()
    }

    /// Expires active calls whose lease ended before `at`, up to `batch` of them; returns how
    /// many. Safe on every replica at once: each call changes state in its own conditional
    /// update, so only one replica expires it, and one lock at a time means no deadlock.
    pub async fn expire_calls(&self, at: DateTime<Utc>, batch: i64) -> StoreResult<u64> {
        let stale: Vec<(TenantId, CallId)> = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT tenant_id, id FROM calls WHERE status = 'active' AND lease_expires_at < $1 \
                 ORDER BY lease_expires_at LIMIT $2",
            )
            .bind(at)
            .bind(batch)
            .fetch_all(pool)
            .await?
        });
        let mut expired = 0;
        for (tenant_id, id) in stale {
            if self.expire_call(tenant_id, id, at).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Expires one call if it is still active with a lease ended before `at`.
    async fn expire_call(
        &self,
        tenant_id: TenantId,
        id: CallId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        in_transaction!(self, |tx, backend| {
            lock_counters!(&mut *tx, backend, tenant_id);
            let changed: Option<(String, DateTime<Utc>)> = sqlx::query_as(
                "UPDATE calls SET status = 'expired', ended_at = lease_expires_at \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'active' AND lease_expires_at < $3 \
                 RETURNING channel, started_at",
            )
            .bind(tenant_id)
            .bind(id)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((channel, started_at)) = changed else {
                return Ok(false);
            };
            sqlx::query(
                "UPDATE tenant_counters SET active_calls = active_calls - 1 WHERE tenant_id = $1",
            )
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
            let channel: Channel = enum_from_text(&channel)?;
            let mut delta = DailyDelta::default();
            delta.add(1, 0, 0, None)?;
            add_daily_usage!(
                &mut *tx,
                tenant_id,
                started_at.date_naive(),
                channel,
                &delta
            );
            Ok(true)
        })
    }
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

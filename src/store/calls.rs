//! The calls repository: admission, heartbeats, ending, and expiry of calls whose lease ran
//! out.
//!
//! Admission locks the tenant's `tenant_counters` row ([`counters::lock`]) in a statement of
//! its own, then reads the limits and usage in later statements and records the call in the
//! same transaction, so no interleaving of requests or processes can admit a call over a
//! limit. Every writer of the counters admission compares against takes the same lock first.
//! Counters and daily rollups change in the same transaction as the call.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::types::Json;

use super::alerts::{self, AlertOutcome};
use super::counters::{self, UsageByDay};
use super::limits::{effective_columns, EffectiveColumns};
use super::subscriptions;
use super::{from_text, json, now, query, Db, Query, StoreError, StoreResult};
use crate::domain::event::EventType;
use crate::domain::ids::{AgentId, CallId, TenantId};
use crate::domain::limits::LimitKey;
use crate::domain::metering::{
    sentiment_from_micros, sentiment_to_micros, AdmissionState, Call, CallFilter, CallOutcome,
    CallStatus, NewCall, Period, PeriodUsage, Refusal,
};

const COLUMNS: &str = "tenant_id, id, agent_id, channel, direction, external_id, metadata, \
     status, period_start, started_at, lease_expires_at, ended_at, duration_seconds, cost_cents, \
     sentiment_micros, ended_reason, recording_url, end_fingerprint";

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

impl TryFrom<CallRow> for Call {
    type Error = StoreError;

    fn try_from(row: CallRow) -> StoreResult<Call> {
        Ok(Call {
            id: row.id,
            tenant_id: row.tenant_id,
            agent_id: row.agent_id,
            channel: from_text(&row.channel)?,
            direction: row.direction.as_deref().map(from_text).transpose()?,
            external_id: row.external_id,
            metadata: row.metadata.0,
            status: from_text(&row.status)?,
            started_at: row.started_at,
            lease_expires_at: row.lease_expires_at,
            ended_at: row.ended_at,
            duration_seconds: row.duration_seconds,
            cost_cents: row.cost_cents,
            sentiment_score: row.sentiment_micros.map(sentiment_from_micros),
            ended_reason: row.ended_reason,
            recording_url: row.recording_url,
        })
    }
}

/// What admission reads after taking the lock.
#[derive(sqlx::FromRow)]
struct AdmissionRow {
    status: String,
    /// The first day of the billing period at the call's start.
    period_start: NaiveDate,
    action_at_100: String,
    threshold_actions: Json<serde_json::Value>,
    usage_alerts: Json<serde_json::Value>,
    blocked_services: super::blocks::StoredServices,
    calls: Option<i64>,
    seconds: Option<i64>,
    cost_cents: Option<i64>,
    /// Exactly the limits admission checks ([`AdmissionState::KEYS`]).
    #[sqlx(flatten)]
    limits: EffectiveColumns,
}

impl AdmissionRow {
    fn into_state(self, active_calls: i64) -> StoreResult<AdmissionState> {
        let usage = PeriodUsage {
            calls: self.calls.unwrap_or(0),
            seconds: self.seconds.unwrap_or(0),
            cost_cents: self.cost_cents.unwrap_or(0),
        };
        Ok(AdmissionState {
            status: from_text(&self.status)?,
            blocked: super::blocks::services(self.blocked_services)?,
            limits: self.limits.0,
            block_at: alerts::block_points(
                from_text(&self.action_at_100)?,
                &self.threshold_actions.0,
                &self.usage_alerts.0,
            )?,
            active_calls,
            usage,
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

/// What admission reads of a tenant starting a call at `at`, in one statement: its status,
/// its block, alert rules, the limits admission checks, its billing period (its subscription's, joined,
/// or the calendar month) and that period's usage.
pub fn admission_query(tenant_id: TenantId, at: DateTime<Utc>) -> Query<'static> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT t.status, t.action_at_100, t.threshold_actions, t.usage_alerts, \
             t.blocked_services, COALESCE(s.period_start_day, $2) AS period_start, u.calls, \
             u.seconds, \
             u.cost_cents{} FROM tenants t{} \
             LEFT JOIN tenant_usage u ON u.tenant_id = t.id \
             AND u.period_start = COALESCE(s.period_start_day, $2) \
             WHERE t.id = $1",
            effective_columns("t", AdmissionState::KEYS),
            subscriptions::window_join("s", "t.id", "$3"),
        )
    });
    query(SQL.as_str())
        .bind(tenant_id)
        .bind(Period::containing(at).start)
        .bind(at)
}

/// Reads the tenant's status, limits, billing period and its usage, in a statement after the
/// counters' lock (never in the locking one, see counters::lock), and refuses what a limit
/// refuses. The billing period is its subscription's current period when that holds `at`
/// (joined here, so finding it costs no statement), else the calendar month. Answers the
/// first day of the period, which keys its counters, and whether the call, once counted,
/// crosses a level of the call limit's alerts.
async fn refuse_unless_admissible(
    tx: &mut super::Tx,
    tenant_id: TenantId,
    at: DateTime<Utc>,
    active_calls: i64,
) -> Result<(NaiveDate, bool), CallError> {
    let state: AdmissionRow = tx
        .fetch_optional(admission_query(tenant_id, at))
        .await?
        .ok_or(StoreError::NotFound)?;
    let period = state.period_start;
    let usage_alerts = state.usage_alerts.0.clone();
    let state = state.into_state(active_calls)?;
    if let Some(refusal) = state.refusal() {
        return Err(CallError::Refused(refusal));
    }
    let limit = state.limits.get(LimitKey::MonthlyCallLimit);
    let crosses = alerts::next_call_crosses(&usage_alerts, limit, &state.usage)?;
    Ok((period, crosses))
}

/// Admits a call if every limit allows it, atomically.
pub async fn admit(
    db: &Db,
    tenant_id: TenantId,
    new: &NewCall,
    lease: Duration,
) -> Result<(Call, AlertOutcome), CallError> {
    let at = now();
    let mut tx = db.begin().await?;
    let active_calls = counters::lock(&mut tx, tenant_id)
        .await?
        .ok_or(StoreError::NotFound)?
        .active_calls;
    let (period, alerting) = refuse_unless_admissible(&mut tx, tenant_id, at, active_calls).await?;
    if let Some(agent_id) = new.agent_id {
        let found: Option<(AgentId,)> = tx
            .fetch_optional(
                query("SELECT id FROM agents WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant_id)
                    .bind(agent_id),
            )
            .await?;
        if found.is_none() {
            return Err(CallError::UnknownAgent);
        }
    }
    let sql = format!(
        "INSERT INTO calls (tenant_id, id, agent_id, channel, direction, external_id, \
         metadata, status, period_start, started_at, lease_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10) RETURNING {COLUMNS}"
    );
    let row: CallRow = tx
        .fetch_one(
            query(sql)
                .bind(tenant_id)
                .bind(CallId::generate())
                .bind(new.agent_id)
                .bind(<&'static str>::from(new.channel))
                .bind(new.direction.map(<&'static str>::from))
                .bind(new.external_id.as_deref())
                .bind(json(&new.metadata))
                .bind(period)
                .bind(at)
                .bind(at + lease),
        )
        .await?;
    counters::add_active_call(&mut tx, tenant_id, at).await?;
    let one_call = PeriodUsage {
        calls: 1,
        ..PeriodUsage::default()
    };
    counters::add_period_usage(&mut tx, tenant_id, period, one_call).await?;
    let alerted = if alerting {
        alerts::fire_reached(&mut tx, tenant_id, period, at).await?
    } else {
        AlertOutcome::default()
    };
    tx.commit().await?;
    Ok((Call::try_from(row)?, alerted))
}

/// Extends an active call's lease.
pub async fn heartbeat(
    db: &Db,
    tenant_id: TenantId,
    id: CallId,
    lease: Duration,
) -> Result<Call, CallError> {
    let at = now();
    let sql = format!(
        "UPDATE calls SET lease_expires_at = $3 \
         WHERE tenant_id = $1 AND id = $2 AND status = 'active' RETURNING {COLUMNS}"
    );
    let mut tx = db.begin().await?;
    let row: Option<CallRow> = tx
        .fetch_optional(query(sql).bind(tenant_id).bind(id).bind(at + lease))
        .await?;
    tx.commit().await?;
    match row {
        Some(row) => Ok(Call::try_from(row)?),
        None => {
            find(db, tenant_id, id).await?;
            Err(CallError::NotActive)
        }
    }
}

/// Ends a call with what it used. Ending it again with the same outcome answers the same
/// call; another outcome is [`CallError::AlreadyEnded`]. A call that expired still takes its
/// usage, so a late end loses nothing. Alerts its usage reaches fire in the same transaction.
pub async fn end(
    db: &Db,
    tenant_id: TenantId,
    id: CallId,
    outcome: &CallOutcome,
) -> Result<(Call, AlertOutcome), CallError> {
    let at = now();
    let fingerprint = outcome.fingerprint();
    let mut tx = db.begin().await?;
    // Counters before the call: the one lock order of every writer of both.
    let locked = counters::lock(&mut tx, tenant_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let lock = tx.backend().lock_clause("calls");
    let sql = format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = $1 AND id = $2{lock}");
    let current: CallRow = tx
        .fetch_optional(query(sql).bind(tenant_id).bind(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    let status: CallStatus = from_text(&current.status)?;
    if status == CallStatus::Completed {
        if current.end_fingerprint.as_deref() == Some(fingerprint.as_str()) {
            return Ok((Call::try_from(current)?, AlertOutcome::default()));
        }
        return Err(CallError::AlreadyEnded);
    }
    let sql = format!(
        "UPDATE calls SET status = 'completed', ended_at = COALESCE(ended_at, $3), \
         duration_seconds = $4, cost_cents = $5, sentiment_micros = $6, ended_reason = $7, \
         recording_url = $8, end_fingerprint = $9 WHERE tenant_id = $1 AND id = $2 \
         RETURNING {COLUMNS}"
    );
    let row: CallRow = tx
        .fetch_one(
            query(sql)
                .bind(tenant_id)
                .bind(id)
                .bind(at)
                .bind(outcome.duration_seconds)
                .bind(outcome.cost_cents)
                .bind(outcome.sentiment_score.map(sentiment_to_micros))
                .bind(outcome.ended_reason.as_deref())
                .bind(outcome.recording_url.as_deref())
                .bind(&fingerprint),
        )
        .await?;
    let was_active = status == CallStatus::Active;
    count_end(&mut tx, &locked, tenant_id, &current, was_active, outcome).await?;
    let call = Call::try_from(row)?;
    let told = serde_json::json!({ "tenantId": tenant_id.to_string(), "call": call_data(&call) });
    super::events::emit_for_tenant(&mut tx, EventType::CallEnded, tenant_id, told).await?;
    let alerted = alerts::fire_reached(&mut tx, tenant_id, current.period_start, at).await?;
    tx.commit().await?;
    Ok((call, alerted))
}

/// What `call.ended` tells of a call.
fn call_data(call: &Call) -> serde_json::Value {
    serde_json::json!({
        "id": call.id.to_string(),
        "agentId": call.agent_id.map(|id| id.to_string()),
        "channel": <&str>::from(call.channel),
        "direction": call.direction.map(<&str>::from),
        "externalId": call.external_id,
        "startedAt": call.started_at,
        "endedAt": call.ended_at,
        "durationSeconds": call.duration_seconds,
        "costCents": call.cost_cents,
        "sentimentScore": call.sentiment_score,
        "endedReason": call.ended_reason,
    })
}

/// Counts an ended call's usage: frees its slot if it held one (an expired or terminated call
/// already gave it back and counted as a conversation), adds its seconds and cost to its
/// period, and its day's rollup.
async fn count_end(
    tx: &mut super::Tx,
    locked: &counters::Locked,
    tenant_id: TenantId,
    current: &CallRow,
    was_active: bool,
    outcome: &CallOutcome,
) -> StoreResult<()> {
    if was_active {
        counters::release_active_call(tx, tenant_id).await?;
    }
    let usage = PeriodUsage {
        calls: 0,
        seconds: outcome.duration_seconds,
        cost_cents: outcome.cost_cents,
    };
    counters::add_period_usage(tx, tenant_id, current.period_start, usage).await?;
    let mut usage = UsageByDay::default();
    usage.add(
        current.started_at.date_naive(),
        from_text(&current.channel)?,
        i64::from(was_active),
        outcome.duration_seconds,
        outcome.cost_cents,
        outcome.sentiment_score,
    )?;
    counters::record_usage(tx, tenant_id, locked, &usage).await
}

pub async fn find(db: &Db, tenant_id: TenantId, id: CallId) -> StoreResult<Call> {
    let sql = format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = $1 AND id = $2");
    let row: Option<CallRow> = db
        .reader()
        .fetch_optional(query(sql).bind(tenant_id).bind(id))
        .await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// The statement of one page of a tenant's calls, newest first, resuming after `after`
/// (started_at, id). Every filter narrows the walk of the tenant's `calls_by_started` index.
pub fn list_query(
    tenant_id: TenantId,
    filter: &CallFilter,
    after: Option<(DateTime<Utc>, CallId)>,
    limit: i64,
) -> Query<'static> {
    let mut statement = query(format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = $1"));
    statement.push(tenant_id);
    if let Some(status) = filter.status {
        statement.push_sql(" AND status = ?", [<&'static str>::from(status).into()]);
    }
    if let Some(channel) = filter.channel {
        statement.push_sql(" AND channel = ?", [<&'static str>::from(channel).into()]);
    }
    if let Some(agent) = filter.agent_id {
        statement.push_sql(" AND agent_id = ?", [agent.into()]);
    }
    if let Some(from) = filter.from {
        statement.push_sql(" AND started_at >= ?", [from.into()]);
    }
    if let Some(to) = filter.to {
        statement.push_sql(" AND started_at < ?", [to.into()]);
    }
    if let Some((time, id)) = after {
        statement.push_sql(" AND (started_at, id) < (?, ?)", [time.into(), id.into()]);
    }
    statement.push_sql(" ORDER BY started_at DESC, id DESC LIMIT ?", [limit.into()]);
    statement
}

pub async fn list(
    db: &Db,
    tenant_id: TenantId,
    filter: &CallFilter,
    after: Option<(DateTime<Utc>, CallId)>,
    limit: i64,
) -> StoreResult<Vec<Call>> {
    let statement = list_query(tenant_id, filter, after, limit);
    let rows: Vec<CallRow> = db.reader().fetch_all(statement).await?;
    rows.into_iter().map(Call::try_from).collect()
}

/// Expires active calls of any tenant whose lease ended before `at`, up to `batch` of them;
/// returns how many. Safe on every replica at once: each call changes state in its own
/// conditional update, so only one replica expires it, and one lock at a time means no
/// deadlock.
pub async fn expire(db: &Db, at: DateTime<Utc>, batch: i64) -> StoreResult<u64> {
    let stale: Vec<(TenantId, CallId)> = db
        .reader()
        .fetch_all(
            query(
                "SELECT tenant_id, id FROM calls WHERE status = 'active' AND lease_expires_at < $1 \
                 ORDER BY lease_expires_at LIMIT $2",
            )
            .bind(at)
            .bind(batch),
        )
        .await?;
    let mut expired = 0;
    for (tenant_id, id) in stale {
        if expire_one(db, tenant_id, id, at).await? {
            expired += 1;
        }
    }
    Ok(expired)
}

/// Expires one call if it is still active with a lease ended before `at`.
async fn expire_one(
    db: &Db,
    tenant_id: TenantId,
    id: CallId,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let Some(locked) = counters::lock(&mut tx, tenant_id).await? else {
        return Ok(false);
    };
    let changed: Option<(String, DateTime<Utc>)> = tx
        .fetch_optional(
            query(
                "UPDATE calls SET status = 'expired', ended_at = lease_expires_at \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'active' AND lease_expires_at < $3 \
                 RETURNING channel, started_at",
            )
            .bind(tenant_id)
            .bind(id)
            .bind(at),
        )
        .await?;
    let Some((channel, started_at)) = changed else {
        return Ok(false);
    };
    counters::release_active_call(&mut tx, tenant_id).await?;
    let mut usage = UsageByDay::default();
    usage.add(started_at.date_naive(), from_text(&channel)?, 1, 0, 0, None)?;
    counters::record_usage(&mut tx, tenant_id, &locked, &usage).await?;
    tx.commit().await?;
    Ok(true)
}

/// Ends every active call of a tenant as `terminated`, in the caller's transaction, which
/// holds the tenant's counters (`locked`): each frees its slot and counts as a call of the
/// day it started. Answers how many ended.
pub async fn terminate_all(
    tx: &mut super::Tx,
    tenant_id: TenantId,
    locked: &counters::Locked,
    at: DateTime<Utc>,
) -> StoreResult<u64> {
    let ended: Vec<(String, DateTime<Utc>)> = tx
        .fetch_all(
            query(
                "UPDATE calls SET status = 'terminated', ended_at = $2 \
                 WHERE tenant_id = $1 AND status = 'active' RETURNING channel, started_at",
            )
            .bind(tenant_id)
            .bind(at),
        )
        .await?;
    let mut usage = UsageByDay::default();
    for (channel, started_at) in &ended {
        counters::release_active_call(tx, tenant_id).await?;
        usage.add(started_at.date_naive(), from_text(channel)?, 1, 0, 0, None)?;
    }
    if !ended.is_empty() {
        counters::record_usage(tx, tenant_id, locked, &usage).await?;
    }
    Ok(ended.len() as u64)
}

//! The baseline: plain axum and raw sqlx doing the database work of tenantry's hot paths,
//! with no authentication, validation, middleware or response shaping beyond the minimum.
//!
//! It opens the database with `tenantry::store::Db::connect`, so its pools have tenantry's
//! settings (SQLite: WAL, `synchronous=FULL`, foreign keys, one writer connection and eight
//! readers; PostgreSQL: 16 connections), and it runs tenantry's statements, copied from
//! `src/store/*.rs`, in the same transactions (`BEGIN IMMEDIATE` on SQLite, row locks on
//! PostgreSQL). The schema is the one tenantry's migrations made.
//!
//! One write it leaves out on purpose: the agency's monthly series (`usage_monthly` and the
//! series columns of `tenant_counters`) that call ends and ingestion keep for agency reports.
//! The baseline does the hot paths' work as it was before them, so the ratios carry their cost.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json as SqlJson;
use tenantry::domain::ids::TenantId;
use tenantry::domain::limits::{LimitKey, Limits};
use tenantry::domain::metering::AdmissionState;
use tenantry::store::limits::{effective_columns, tenant_columns, EffectiveColumns, TenantLimits};
use tenantry::store::Db;
use tokio::net::TcpListener;
use uuid::Uuid;

/// Runs `$body` with `$pool` bound to the read pool of either backend.
macro_rules! on_reader {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite(sqlite) => {
                let $pool = &sqlite.read;
                $body
            }
            Db::Postgres(pg) => {
                let $pool = pg;
                $body
            }
        }
    };
}

/// Runs `$body` in a write transaction `$tx` and commits it; `$lock` is the row-lock suffix
/// for a table alias (empty on SQLite, whose `BEGIN IMMEDIATE` holds the write lock).
macro_rules! in_transaction {
    ($db:expr, |$tx:ident, $lock:ident| $body:expr) => {
        match $db {
            Db::Sqlite(sqlite) => {
                let $lock = |_: &str| String::new();
                let mut $tx = sqlite.write.begin_with("BEGIN IMMEDIATE").await?;
                let value = $body;
                $tx.commit().await?;
                value
            }
            Db::Postgres(pg) => {
                let $lock = |table: &str| format!(" FOR UPDATE OF {table}");
                let mut $tx = pg.begin().await?;
                let value = $body;
                $tx.commit().await?;
                value
            }
        }
    };
}

/// Any failure is a 500 with its text; a missing row is a 404.
pub struct Failure(StatusCode, String);

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => Failure(StatusCode::NOT_FOUND, "not found".to_owned()),
            other => Failure(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

type Answer<T> = Result<T, Failure>;

fn bad_request(what: impl std::fmt::Display) -> Failure {
    Failure(StatusCode::BAD_REQUEST, what.to_string())
}

fn tenant_id(text: &str) -> Answer<Uuid> {
    TenantId::from_str(text).map(|id| id.0).map_err(bad_request)
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn period_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1 exists")
}

/// What every baseline handler can reach.
#[derive(Clone)]
pub struct Baseline {
    db: Db,
    sqlite_placeholders: Placeholders,
}

impl axum::extract::FromRef<Baseline> for Db {
    fn from_ref(state: &Baseline) -> Db {
        state.db.clone()
    }
}

pub async fn serve(
    database_url: &str,
    listen: &str,
    sqlite_placeholders: Placeholders,
) -> anyhow::Result<()> {
    let db = Db::connect(database_url).await?;
    let listener = TcpListener::bind(listen).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    let state = Baseline {
        db,
        sqlite_placeholders,
    };
    axum::serve(listener, router(state)).await?;
    Ok(())
}

pub fn router(state: Baseline) -> Router {
    Router::new()
        .route("/api/v1/tenants/{tenant}", get(get_tenant))
        .route("/api/v1/tenants/{tenant}/calls", post(start_call))
        .route("/api/v1/tenants/{tenant}/calls/{call}/end", post(end_call))
        .route("/api/v1/tenants/{tenant}/usage-events", post(ingest))
        .route("/api/v1/tenants/{tenant}/analytics", get(analytics))
        .with_state(state)
}

// ---- GET /api/v1/tenants/{id}: src/store/tenants.rs `find_tenant` ----

#[derive(sqlx::FromRow, Serialize)]
struct TenantRow {
    id: Uuid,
    agency_id: Option<Uuid>,
    name: String,
    slug: String,
    status: String,
    billing_mode: String,
    plan_code: String,
    sip_enabled: bool,
    sip_domain: Option<String>,
    sip_username: Option<String>,
    recording_enabled: bool,
    recording_format: String,
    retention_days: i64,
    analytics_enabled: bool,
    hipaa_enabled: bool,
    pci_enabled: bool,
    data_encryption_enabled: bool,
    webhook_url: Option<String>,
    webhook_timeout_seconds: i64,
    alert_thresholds: SqlJson<serde_json::Value>,
    alert_emails: SqlJson<serde_json::Value>,
    action_at_100: String,
    metadata: SqlJson<serde_json::Value>,
    owner_id: Option<Uuid>,
    owner_email: Option<String>,
    owner_name: Option<String>,
    owner_first_name: Option<String>,
    owner_last_name: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    usage_calls: Option<i64>,
    usage_seconds: Option<i64>,
    usage_cost_cents: Option<i64>,
    #[sqlx(flatten)]
    #[serde(skip)]
    limits: TenantLimits,
}

/// The tenant `SELECT` of `store::tenants::find`, its limit columns made by the same function.
fn tenant_select() -> String {
    format!(
        "SELECT t.id, t.agency_id, t.name, t.slug, t.status, t.billing_mode, \
         p.code AS plan_code, t.sip_enabled, t.sip_domain, t.sip_username, t.recording_enabled, \
         t.recording_format, t.retention_days, t.analytics_enabled, t.hipaa_enabled, \
         t.pci_enabled, t.data_encryption_enabled, t.webhook_url, t.webhook_timeout_seconds, \
         t.alert_thresholds, t.alert_emails, t.action_at_100, t.metadata, \
         t.owner_user_id AS owner_id, t.owner_email, t.owner_name, t.owner_first_name, \
         t.owner_last_name, t.created_at, t.updated_at, \
         m.calls AS usage_calls, m.seconds AS usage_seconds, m.cost_cents AS usage_cost_cents{} \
         FROM tenants t JOIN plans p ON p.id = t.plan_id \
         LEFT JOIN tenant_usage m ON m.tenant_id = t.id AND m.period_start = $1 \
         WHERE t.status <> 'deleted' AND ($2 IS NULL OR t.agency_id = $2) \
         AND ($3 IS NULL OR t.id = $3) AND t.id = $4",
        tenant_columns("t")
    )
}

/// A set of limits as a JSON object by key name.
fn limits_json(limits: &Limits) -> serde_json::Value {
    limits
        .iter()
        .map(|(key, value)| (key.field().to_owned(), value.into()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn get_tenant(State(db): State<Db>, Path(tenant): Path<String>) -> Answer<Response> {
    let id = tenant_id(&tenant)?;
    let period = period_start(now().date_naive());
    let sql = tenant_select();
    let row: TenantRow = on_reader!(&db, |pool| {
        sqlx::query_as(&sql)
            .bind(period)
            .bind(None::<Uuid>)
            .bind(None::<Uuid>)
            .bind(id)
            .fetch_one(pool)
            .await?
    });
    let limits = serde_json::json!({
        "overrides": limits_json(&row.limits.overrides),
        "plan": limits_json(&row.limits.plan),
    });
    Ok(Json(serde_json::json!({ "tenant": row, "limits": limits })).into_response())
}

// ---- POST …/calls and …/calls/{id}/end: src/store/calls.rs `admit`, `end` ----

const CALL_COLUMNS: &str = "tenant_id, id, agent_id, channel, direction, external_id, metadata, \
     status, period_start, started_at, lease_expires_at, ended_at, duration_seconds, cost_cents, \
     sentiment_micros, ended_reason, recording_url, end_fingerprint";

#[derive(sqlx::FromRow, Serialize)]
struct CallRow {
    tenant_id: Uuid,
    id: Uuid,
    agent_id: Option<Uuid>,
    channel: String,
    direction: Option<String>,
    external_id: Option<String>,
    metadata: SqlJson<serde_json::Value>,
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

#[derive(sqlx::FromRow)]
struct AdmissionRow {
    status: String,
    action_at_100: String,
    calls: Option<i64>,
    seconds: Option<i64>,
    cost_cents: Option<i64>,
    #[sqlx(flatten)]
    limits: EffectiveColumns,
}

impl AdmissionRow {
    /// The same four checks as tenantry's admission, without the wording of a refusal.
    fn admits(&self, active_calls: i64) -> bool {
        let under = |key: LimitKey, used: i64| self.limits.0.get(key).is_none_or(|l| used < l);
        self.status == "active"
            && under(LimitKey::MaxConcurrentCalls, active_calls)
            && under(LimitKey::MonthlyCallLimit, self.calls.unwrap_or(0))
            && self
                .limits
                .0
                .get(LimitKey::MaxMinutesPerMonth)
                .is_none_or(|m| self.seconds.unwrap_or(0) < m.saturating_mul(60))
            && (self.action_at_100 != "block_new_calls"
                || under(
                    LimitKey::MonthlySpendLimitCents,
                    self.cost_cents.unwrap_or(0),
                ))
    }
}

/// Locks a tenant's counters row in a statement of its own; what the lock guards is read in
/// later statements, each with a snapshot taken after the lock was granted.
fn lock_counters_sql(lock: String) -> String {
    format!("SELECT active_calls FROM tenant_counters WHERE tenant_id = $1{lock}")
}

const ADD_PERIOD_USAGE: &str =
    "INSERT INTO tenant_usage (tenant_id, period_start, calls, seconds, cost_cents) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, period_start) DO UPDATE SET \
     calls = tenant_usage.calls + excluded.calls, \
     seconds = tenant_usage.seconds + excluded.seconds, \
     cost_cents = tenant_usage.cost_cents + excluded.cost_cents";

const ADD_DAILY_USAGE: &str = "INSERT INTO usage_daily (tenant_id, day, channel, conversations, \
     seconds, cost_cents, sentiment_micros_sum, sentiment_count) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (tenant_id, day, channel) DO UPDATE SET \
     conversations = usage_daily.conversations + excluded.conversations, \
     seconds = usage_daily.seconds + excluded.seconds, \
     cost_cents = usage_daily.cost_cents + excluded.cost_cents, \
     sentiment_micros_sum = usage_daily.sentiment_micros_sum + excluded.sentiment_micros_sum, \
     sentiment_count = usage_daily.sentiment_count + excluded.sentiment_count";

/// A daily rollup delta: conversations, seconds, cost, sentiment sum and count.
type Delta = [i64; 5];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartCall {
    channel: String,
}

const LEASE_SECONDS: i64 = 120;

async fn start_call(
    State(db): State<Db>,
    Path(tenant): Path<String>,
    Json(request): Json<StartCall>,
) -> Answer<Response> {
    let tenant = tenant_id(&tenant)?;
    let at = now();
    let period = period_start(at.date_naive());
    let row: Option<CallRow> = in_transaction!(&db, |tx, lock| {
        let (active_calls,): (i64,) = sqlx::query_as(&lock_counters_sql(lock("tenant_counters")))
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await?;
        let sql = format!(
            "SELECT t.status, t.action_at_100, u.calls, u.seconds, u.cost_cents{} \
             FROM tenants t \
             LEFT JOIN tenant_usage u ON u.tenant_id = t.id AND u.period_start = $2 \
             WHERE t.id = $1",
            effective_columns("t", AdmissionState::KEYS)
        );
        let state: AdmissionRow = sqlx::query_as(&sql)
            .bind(tenant)
            .bind(period)
            .fetch_one(&mut *tx)
            .await?;
        if state.admits(active_calls) {
            let insert = format!(
                "INSERT INTO calls (tenant_id, id, agent_id, channel, direction, external_id, \
                 metadata, status, period_start, started_at, lease_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10) RETURNING {CALL_COLUMNS}"
            );
            let row: CallRow = sqlx::query_as(&insert)
                .bind(tenant)
                .bind(Uuid::now_v7())
                .bind(None::<Uuid>)
                .bind(&request.channel)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(SqlJson(serde_json::Map::new()))
                .bind(period)
                .bind(at)
                .bind(at + chrono::Duration::seconds(LEASE_SECONDS))
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE tenant_counters SET active_calls = active_calls + 1, last_call_at = $2 \
                 WHERE tenant_id = $1",
            )
            .bind(tenant)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(ADD_PERIOD_USAGE)
                .bind(tenant)
                .bind(period)
                .bind(1_i64)
                .bind(0_i64)
                .bind(0_i64)
                .execute(&mut *tx)
                .await?;
            Some(row)
        } else {
            None
        }
    });
    match row {
        Some(row) => Ok((StatusCode::CREATED, Json(row)).into_response()),
        None => Ok(StatusCode::TOO_MANY_REQUESTS.into_response()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndCall {
    duration_seconds: i64,
    cost_cents: i64,
    #[serde(default)]
    sentiment_score: Option<f64>,
}

fn micros(score: f64) -> i64 {
    (score * 1_000_000.0).round() as i64
}

async fn end_call(
    State(db): State<Db>,
    Path((tenant, call)): Path<(String, Uuid)>,
    Json(request): Json<EndCall>,
) -> Answer<Response> {
    let tenant = tenant_id(&tenant)?;
    let at = now();
    let sentiment = request.sentiment_score.map(micros);
    let fingerprint = format!(
        "{}|{}|{:?}|None|None",
        request.duration_seconds, request.cost_cents, sentiment
    );
    let row: CallRow = in_transaction!(&db, |tx, lock| {
        sqlx::query(&lock_counters_sql(lock("tenant_counters")))
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        let select = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE tenant_id = $1 AND id = $2{}",
            lock("calls")
        );
        let current: CallRow = sqlx::query_as(&select)
            .bind(tenant)
            .bind(call)
            .fetch_one(&mut *tx)
            .await?;
        if current.status == "completed" {
            current
        } else {
            let update = format!(
                "UPDATE calls SET status = 'completed', ended_at = COALESCE(ended_at, $3), \
                 duration_seconds = $4, cost_cents = $5, sentiment_micros = $6, ended_reason = $7, \
                 recording_url = $8, end_fingerprint = $9 WHERE tenant_id = $1 AND id = $2 \
                 RETURNING {CALL_COLUMNS}"
            );
            let row: CallRow = sqlx::query_as(&update)
                .bind(tenant)
                .bind(call)
                .bind(at)
                .bind(request.duration_seconds)
                .bind(request.cost_cents)
                .bind(sentiment)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(&fingerprint)
                .fetch_one(&mut *tx)
                .await?;
            let was_active = current.status == "active";
            if was_active {
                sqlx::query(
                    "UPDATE tenant_counters SET active_calls = active_calls - 1 WHERE tenant_id = $1",
                )
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(ADD_PERIOD_USAGE)
                .bind(tenant)
                .bind(current.period_start)
                .bind(0_i64)
                .bind(request.duration_seconds)
                .bind(request.cost_cents)
                .execute(&mut *tx)
                .await?;
            sqlx::query(ADD_DAILY_USAGE)
                .bind(tenant)
                .bind(current.started_at.date_naive())
                .bind(&current.channel)
                .bind(i64::from(was_active))
                .bind(request.duration_seconds)
                .bind(request.cost_cents)
                .bind(sentiment.unwrap_or(0))
                .bind(i64::from(sentiment.is_some()))
                .execute(&mut *tx)
                .await?;
            row
        }
    });
    Ok(Json(row).into_response())
}

// ---- POST …/usage-events: src/store/usage.rs `ingest` ----

#[derive(Deserialize)]
struct Batch {
    events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    id: String,
    occurred_at: DateTime<Utc>,
    channel: String,
    duration_seconds: i64,
    cost_cents: i64,
    #[serde(default)]
    sentiment_score: Option<f64>,
}

/// How the baseline writes the bind parameters of the multi-row event insert on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Placeholders {
    /// `?`: positional parameters, the way a raw batched insert on SQLite is written.
    Anonymous,
    /// `$1, $2, …`: the text tenantry sends to both backends.
    Numbered,
}

/// `INSERT … VALUES ($1, …), (…) ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id`, or
/// with `?` for every parameter.
///
/// SQLite treats `$N` as a named parameter, and sqlx binds each one after looking up its
/// name (`sqlite3_bind_parameter_name`, a linear scan of the statement's names), so binding
/// the 9,000 parameters of a 1,000-event batch costs time quadratic in their number: about
/// 120 ms a batch, against about 5 ms with `?`. The baseline therefore uses `?` on SQLite
/// unless told to send tenantry's text, and `$N` (native there) on PostgreSQL.
fn insert_events_sql(rows: usize, placeholders: Placeholders) -> String {
    let mut sql = String::with_capacity(200 + rows * 64);
    sql.push_str(
        "INSERT INTO usage_events (tenant_id, id, occurred_at, channel, duration_seconds, \
         cost_cents, sentiment_micros, agent_id, received_at) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        let base = row * 9;
        sql.push('(');
        for column in 1..=9 {
            if column > 1 {
                sql.push_str(", ");
            }
            match placeholders {
                Placeholders::Anonymous => sql.push('?'),
                Placeholders::Numbered => {
                    sql.push('$');
                    sql.push_str(&(base + column).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id");
    sql
}

async fn ingest(
    State(Baseline {
        db,
        sqlite_placeholders,
    }): State<Baseline>,
    Path(tenant): Path<String>,
    Json(batch): Json<Batch>,
) -> Answer<Response> {
    let tenant = tenant_id(&tenant)?;
    let mut seen = HashSet::with_capacity(batch.events.len());
    let mut unique: Vec<&Event> = batch
        .events
        .iter()
        .filter(|e| seen.insert(e.id.as_str()))
        .collect();
    // Sorted ids: overlapping concurrent batches lock in one order.
    unique.sort_by(|a, b| a.id.cmp(&b.id));
    let placeholders = match db {
        Db::Sqlite(_) => sqlite_placeholders,
        Db::Postgres(_) => Placeholders::Numbered,
    };
    let sql = insert_events_sql(unique.len(), placeholders);
    let received_at = now();
    let accepted = if unique.is_empty() {
        0
    } else {
        in_transaction!(&db, |tx, lock| {
            let mut query = sqlx::query_as(&sql);
            for event in &unique {
                query = query
                    .bind(tenant)
                    .bind(event.id.as_str())
                    .bind(event.occurred_at)
                    .bind(event.channel.as_str())
                    .bind(event.duration_seconds)
                    .bind(event.cost_cents)
                    .bind(event.sentiment_score.map(micros))
                    .bind(None::<Uuid>)
                    .bind(received_at);
            }
            let inserted: Vec<(String,)> = query.fetch_all(&mut *tx).await?;
            if !inserted.is_empty() {
                sqlx::query(&lock_counters_sql(lock("tenant_counters")))
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
            }
            let accepted: HashSet<&str> = inserted.iter().map(|(id,)| id.as_str()).collect();
            let mut periods: BTreeMap<NaiveDate, [i64; 3]> = BTreeMap::new();
            let mut days: BTreeMap<(NaiveDate, &str), Delta> = BTreeMap::new();
            for event in unique.iter().filter(|e| accepted.contains(e.id.as_str())) {
                let day = event.occurred_at.date_naive();
                let period = periods.entry(period_start(day)).or_default();
                period[0] += 1;
                period[1] += event.duration_seconds;
                period[2] += event.cost_cents;
                let delta = days.entry((day, event.channel.as_str())).or_default();
                delta[0] += 1;
                delta[1] += event.duration_seconds;
                delta[2] += event.cost_cents;
                if let Some(score) = event.sentiment_score {
                    delta[3] += micros(score);
                    delta[4] += 1;
                }
            }
            for (period, [calls, seconds, cost]) in &periods {
                sqlx::query(ADD_PERIOD_USAGE)
                    .bind(tenant)
                    .bind(period)
                    .bind(calls)
                    .bind(seconds)
                    .bind(cost)
                    .execute(&mut *tx)
                    .await?;
            }
            for ((day, channel), delta) in &days {
                let mut query = sqlx::query(ADD_DAILY_USAGE)
                    .bind(tenant)
                    .bind(day)
                    .bind(*channel);
                for value in delta {
                    query = query.bind(value);
                }
                query.execute(&mut *tx).await?;
            }
            inserted.len()
        })
    };
    Ok(Json(serde_json::json!({
        "accepted": accepted,
        "duplicates": batch.events.len() - accepted,
    }))
    .into_response())
}

// ---- GET …/analytics: src/store/usage.rs `daily`, src/store/agents.rs `count` ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Range {
    date_from: NaiveDate,
    date_to: NaiveDate,
}

#[derive(sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
struct DailyRow {
    day: NaiveDate,
    channel: String,
    conversations: i64,
    seconds: i64,
    cost_cents: i64,
    sentiment_micros_sum: i64,
    sentiment_count: i64,
}

async fn analytics(
    State(db): State<Db>,
    Path(tenant): Path<String>,
    Query(range): Query<Range>,
) -> Answer<Response> {
    let tenant = tenant_id(&tenant)?;
    let (rows, (agents, active)): (Vec<DailyRow>, (i64, Option<i64>)) = on_reader!(&db, |pool| {
        let rows = sqlx::query_as(
            "SELECT day, channel, conversations, seconds, cost_cents, sentiment_micros_sum, \
             sentiment_count FROM usage_daily \
             WHERE tenant_id = $1 AND day >= $2 AND day <= $3 ORDER BY day, channel",
        )
        .bind(tenant)
        .bind(range.date_from)
        .bind(range.date_to)
        .fetch_all(pool)
        .await?;
        let agents = sqlx::query_as(
            "SELECT COUNT(*), SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) \
             FROM agents WHERE tenant_id = $1",
        )
        .bind(tenant)
        .fetch_one(pool)
        .await?;
        (rows, agents)
    });
    let mut totals = [0_i64; 5];
    for row in &rows {
        totals[0] += row.conversations;
        totals[1] += row.seconds;
        totals[2] += row.cost_cents;
        totals[3] += row.sentiment_micros_sum;
        totals[4] += row.sentiment_count;
    }
    Ok(Json(serde_json::json!({
        "conversations": totals[0],
        "totalSeconds": totals[1],
        "totalCostCents": totals[2],
        "sentimentMicrosSum": totals[3],
        "sentimentCount": totals[4],
        "agentCount": agents,
        "activeAgents": active.unwrap_or(0),
        "daily": rows,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::{insert_events_sql, Placeholders};

    #[test]
    fn insert_sql_numbers_every_column() {
        let sql = insert_events_sql(2, Placeholders::Numbered);
        assert!(sql.contains("($1, $2, $3, $4, $5, $6, $7, $8, $9), ($10,"));
        assert!(sql.ends_with("$18) ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id"));
    }

    #[test]
    fn anonymous_placeholders_keep_the_shape() {
        let sql = insert_events_sql(2, Placeholders::Anonymous);
        assert!(sql.contains("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?) ON"));
    }
}

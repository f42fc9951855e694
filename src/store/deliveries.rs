//! Webhook deliveries: one row per event and endpoint, written with the event in its
//! transaction. Workers on any number of replicas claim due rows: a claim leases rows to one
//! worker (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite) and moves
//! their next attempt to the lease's end, so a worker that dies mid-attempt leaves its
//! deliveries due again once the lease runs out. Only the lease's holder records an outcome.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{query, Arg, Db, Query, Reader, StoreError, StoreResult, Tx};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{
    AgencyId, EventId, TenantId, WebhookAttemptId, WebhookDeliveryId, WebhookEndpointId,
};
use crate::domain::tenant::Settings;

/// Neither delivered nor given up.
const PENDING: &str = "delivered_at IS NULL AND failed_at IS NULL";

/// How long past its timeout an attempt's lease lasts: time to record the outcome.
const LEASE_MARGIN: Duration = Duration::seconds(15);

/// The enabled endpoints that receive `event`: the platform's, its agency's (and those of
/// `also_told`) and its tenant's own, each if its event types take it in. An opt-in type
/// goes only to endpoints naming it.
pub async fn subscribers(
    tx: &mut Tx,
    event: &Event,
    also_told: &[AgencyId],
) -> StoreResult<Vec<(WebhookEndpointId, Uuid)>> {
    let mut reaches = vec![Uuid::nil()];
    reaches.extend(event.agency_id.map(|id| id.0));
    reaches.extend(event.tenant_id.map(|id| id.0));
    for agency in also_told {
        if !reaches.contains(&agency.0) {
            reaches.push(agency.0);
        }
    }
    let sql = format!(
        "SELECT id, reach, event_types FROM webhook_endpoints WHERE enabled AND reach IN ({})",
        tx.backend().placeholders(1, reaches.len())
    );
    let mut statement = query(sql);
    for reach in reaches {
        statement.push(Arg::Uuid(Some(reach)));
    }
    let rows: Vec<(WebhookEndpointId, Uuid, Json<Vec<String>>)> = tx.fetch_all(statement).await?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, types)| takes(event.kind, &types.0))
        .map(|(id, reach, _)| (id, reach))
        .collect())
}

/// The agency of `tenant` and the enabled endpoints that take its events of `kind`, in one
/// read.
pub async fn tenant_subscribers(
    tx: &mut Tx,
    kind: EventType,
    tenant: TenantId,
) -> StoreResult<(Option<AgencyId>, Vec<(WebhookEndpointId, Uuid)>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        agency_id: Option<AgencyId>,
        id: Option<WebhookEndpointId>,
        reach: Option<Uuid>,
        event_types: Option<Json<Vec<String>>>,
    }
    let rows: Vec<Row> = tx
        .fetch_all(
            query(
                "SELECT t.agency_id, w.id, w.reach, w.event_types FROM tenants t \
                 LEFT JOIN webhook_endpoints w ON w.enabled \
                 AND w.reach IN ($2, t.id, t.agency_id) WHERE t.id = $1",
            )
            .bind(tenant)
            .bind(Arg::Uuid(Some(Uuid::nil()))),
        )
        .await?;
    let agency = rows.first().and_then(|row| row.agency_id);
    let endpoints = rows
        .into_iter()
        .filter_map(|row| Some((row.id?, row.reach?, row.event_types?)))
        .filter(|(_, _, types)| takes(kind, &types.0))
        .map(|(id, reach, _)| (id, reach))
        .collect();
    Ok((agency, endpoints))
}

/// Whether an endpoint subscribed to `types` (none: every type not opt-in) takes `kind`.
fn takes(kind: EventType, types: &[String]) -> bool {
    if types.is_empty() {
        !kind.opt_in()
    } else {
        types.iter().any(|name| name == kind.name())
    }
}

/// Writes a pending delivery of `event` to each of `endpoints`, due now. Each attempt gets
/// the event's tenant's `webhookTimeoutSeconds`.
pub async fn enqueue(
    tx: &mut Tx,
    event: &Event,
    endpoints: &[(WebhookEndpointId, Uuid)],
) -> StoreResult<()> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let timeout = match event.tenant_id {
        Some(tenant) => tx
            .fetch_optional::<(i64,)>(
                query("SELECT webhook_timeout_seconds FROM tenants WHERE id = $1").bind(tenant),
            )
            .await?
            .map(|(seconds,)| seconds),
        None => None,
    }
    .unwrap_or(Settings::default().webhook_timeout_seconds);
    let at = super::now();
    for (endpoint, reach) in endpoints {
        tx.execute(
            query(
                "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, reach, tenant_id, \
                 event_type, timeout_seconds, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (event_id, endpoint_id) DO NOTHING",
            )
            .bind(WebhookDeliveryId::generate())
            .bind(event.id)
            .bind(*endpoint)
            .bind(Arg::Uuid(Some(*reach)))
            .bind(event.tenant_id)
            .bind(event.kind.name())
            .bind(timeout)
            .bind(at),
        )
        .await?;
    }
    Ok(())
}

/// A delivery leased to one worker until `lease_until`, with what its attempt sends.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: WebhookDeliveryId,
    pub event_id: EventId,
    pub endpoint_id: WebhookEndpointId,
    pub tenant_id: Option<TenantId>,
    /// Claims so far, this one included.
    pub attempts: i64,
    pub timeout: std::time::Duration,
    /// The claim's token: [`record`] names it.
    pub lease_until: DateTime<Utc>,
    pub url: String,
    /// The sealed secrets that sign: the current one, and the previous one while it may.
    pub sealed_secrets: Vec<String>,
    pub payload: Value,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: WebhookDeliveryId,
    event_id: EventId,
    endpoint_id: WebhookEndpointId,
    tenant_id: Option<TenantId>,
    attempts: i64,
    timeout_seconds: i64,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<DateTime<Utc>>,
    payload: Json<Value>,
}

/// Whose deliveries a claim takes.
#[derive(Debug, Clone, Copy)]
pub enum Endpoints<'a> {
    /// One endpoint's: the caller has room for `batch` more of its attempts.
    Only(WebhookEndpointId),
    /// Any but these (the caller has attempts of theirs in flight already).
    Except(&'a [WebhookEndpointId]),
}

/// Leases up to `batch` deliveries of `endpoints` due at `at`, oldest due first.
pub async fn claim(
    db: &Db,
    at: DateTime<Utc>,
    batch: i64,
    endpoints: Endpoints<'_>,
) -> StoreResult<Vec<Claimed>> {
    let mut tx = db.begin().await?;
    let select = due_query(tx.backend(), at, batch, endpoints);
    let due: Vec<(WebhookDeliveryId, i64)> = tx.fetch_all(select).await?;
    let Some(longest) = due.iter().map(|(_, seconds)| *seconds).max() else {
        tx.commit().await?;
        return Ok(Vec::new());
    };
    let lease_until = at + Duration::seconds(longest) + LEASE_MARGIN;
    // `?` markers, numbered after `$1`/`$2`: SQLite would bind bare `?` from the first.
    let marks = vec!["?"; due.len()].join(", ");
    let ids = || due.iter().map(|(id, _)| Arg::from(*id)).collect::<Vec<_>>();
    let mut update = query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = $1, \
         next_attempt_at = $1 WHERE next_attempt_at <= $2",
    )
    .bind(lease_until)
    .bind(at);
    update.push_sql(&format!(" AND id IN ({marks})"), ids());
    tx.execute(update).await?;
    let mut details = query(
        "SELECT d.id, d.event_id, d.endpoint_id, d.tenant_id, d.attempts, d.timeout_seconds, \
         w.url, w.secret, w.previous_secret, w.previous_until, e.payload \
         FROM webhook_deliveries d \
         JOIN webhook_endpoints w ON w.id = d.endpoint_id \
         JOIN events e ON e.id = d.event_id \
         WHERE d.lease_until = $1",
    )
    .bind(lease_until);
    details.push_sql(&format!(" AND d.id IN ({marks})"), ids());
    let rows: Vec<ClaimedRow> = tx.fetch_all(details).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut sealed_secrets = vec![row.secret];
            if let (Some(previous), Some(until)) = (row.previous_secret, row.previous_until) {
                if until > at {
                    sealed_secrets.push(previous);
                }
            }
            Claimed {
                id: row.id,
                event_id: row.event_id,
                endpoint_id: row.endpoint_id,
                tenant_id: row.tenant_id,
                attempts: row.attempts,
                timeout: std::time::Duration::from_secs(row.timeout_seconds.max(1) as u64),
                lease_until,
                url: row.url,
                sealed_secrets,
                payload: row.payload.0,
            }
        })
        .collect())
}

/// The statement of a claim's first step: up to `batch` due deliveries of `endpoints`,
/// oldest due first, locked and passing over locked ones.
pub fn due_query(
    backend: super::Backend,
    at: DateTime<Utc>,
    batch: i64,
    endpoints: Endpoints<'_>,
) -> Query<'static> {
    let mut select = query(format!(
        "SELECT id, timeout_seconds FROM webhook_deliveries WHERE {PENDING} \
         AND next_attempt_at <= $1"
    ))
    .bind(at);
    match endpoints {
        Endpoints::Only(endpoint) => select.push_sql(" AND endpoint_id = ?", [endpoint.into()]),
        Endpoints::Except([]) => {}
        Endpoints::Except(skip) => {
            let marks = vec!["?"; skip.len()].join(", ");
            let skipped = skip.iter().map(|&endpoint| endpoint.into());
            select.push_sql(&format!(" AND endpoint_id NOT IN ({marks})"), skipped);
        }
    }
    select.push_sql(
        &format!(
            " ORDER BY next_attempt_at LIMIT ?{}",
            backend.skip_locked_clause()
        ),
        [batch.into()],
    );
    select
}

/// Hands claimed deliveries back unattempted, due at once: the worker had no room for them.
pub async fn release(db: &Db, claimed: &[&Claimed]) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    for delivery in claimed {
        tx.execute(
            query(
                "UPDATE webhook_deliveries SET attempts = attempts - 1, lease_until = NULL, \
                 next_attempt_at = $3 WHERE id = $1 AND lease_until = $2",
            )
            .bind(delivery.id)
            .bind(delivery.lease_until)
            .bind(super::now()),
        )
        .await?;
    }
    tx.commit().await
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(DateTime<Utc>),
    GiveUp,
}

/// One attempt's outcome, to record.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub claimed: Claimed,
    pub attempt: Attempt,
    pub next: Next,
}

/// An endpoint that failed for long enough to be disabled by [`record`].
#[derive(Debug, Clone)]
pub struct Disabled {
    pub endpoint: WebhookEndpointId,
    pub failing_since: DateTime<Utc>,
}

/// Records attempts and what follows each, in the caller's transaction, and keeps each
/// endpoint's run of failures: a success ends it, and an endpoint failing since before
/// `disable_before` is disabled, its pending deliveries failed. Returns the disabled ones.
pub async fn record(
    tx: &mut Tx,
    outcomes: &[Outcome],
    disable_before: DateTime<Utc>,
) -> StoreResult<Vec<Disabled>> {
    // Per endpoint: whether any attempt succeeded, and the first attempt's time.
    let mut endpoints: Vec<(WebhookEndpointId, bool, DateTime<Utc>)> = Vec::new();
    for outcome in outcomes {
        let succeeded = outcome.next == Next::Delivered;
        let at = outcome.attempt.attempted_at;
        match endpoints
            .iter_mut()
            .find(|(id, _, _)| *id == outcome.claimed.endpoint_id)
        {
            Some(entry) => {
                entry.1 |= succeeded;
                entry.2 = entry.2.min(at);
            }
            None => endpoints.push((outcome.claimed.endpoint_id, succeeded, at)),
        }
    }
    // Endpoints before deliveries, in id order: the order of every writer of both (a
    // change of an endpoint locks it, then fails its deliveries), so none deadlocks.
    endpoints.sort_by_key(|(id, _, _)| *id);
    let mut disabled = Vec::new();
    for (endpoint, succeeded, at) in endpoints {
        if let Some(since) = keep_health(tx, endpoint, succeeded, at).await? {
            if since <= disable_before {
                disable(tx, endpoint).await?;
                disabled.push(Disabled {
                    endpoint,
                    failing_since: since,
                });
            }
        }
    }
    for outcome in outcomes {
        insert_attempt(tx, outcome).await?;
        update_delivery(tx, outcome).await?;
    }
    Ok(disabled)
}

/// Ends an endpoint's run of failures on a success, or starts one; answers when the current
/// run began, if the endpoint is failing and still enabled.
async fn keep_health(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    succeeded: bool,
    at: DateTime<Utc>,
) -> StoreResult<Option<DateTime<Utc>>> {
    if succeeded {
        tx.execute(
            query(
                "UPDATE webhook_endpoints SET failing_since = NULL \
                 WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind(endpoint),
        )
        .await?;
        return Ok(None);
    }
    let failing: Option<(Option<DateTime<Utc>>,)> = tx
        .fetch_optional(
            query(
                "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) \
                 WHERE id = $1 AND enabled RETURNING failing_since",
            )
            .bind(endpoint)
            .bind(at),
        )
        .await?;
    Ok(failing.and_then(|(since,)| since))
}

async fn insert_attempt(tx: &mut Tx, outcome: &Outcome) -> StoreResult<()> {
    let attempt = &outcome.attempt;
    tx.execute(
        query(
            "INSERT INTO webhook_attempts (id, delivery_id, tenant_id, attempt, attempted_at, \
             status_code, latency_ms, response, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(attempt.id)
        .bind(attempt.delivery_id)
        .bind(outcome.claimed.tenant_id)
        .bind(attempt.attempt)
        .bind(attempt.attempted_at)
        .bind(attempt.status_code)
        .bind(attempt.latency_ms)
        .bind(attempt.response.as_deref())
        .bind(attempt.error.as_deref()),
    )
    .await?;
    Ok(())
}

async fn update_delivery(tx: &mut Tx, outcome: &Outcome) -> StoreResult<()> {
    let at = outcome.attempt.attempted_at;
    let (next_attempt_at, delivered_at, failed_at) = match outcome.next {
        Next::Delivered => (at, Some(at), None),
        Next::RetryAt(retry) => (retry, None, None),
        Next::GiveUp => (at, None, Some(at)),
    };
    tx.execute(
        query(
            "UPDATE webhook_deliveries SET lease_until = NULL, last_attempt_at = $3, \
             last_status = $4, last_error = $5, next_attempt_at = $6, delivered_at = $7, \
             failed_at = $8 WHERE id = $1 AND lease_until = $2",
        )
        .bind(outcome.claimed.id)
        .bind(outcome.claimed.lease_until)
        .bind(at)
        .bind(outcome.attempt.status_code)
        .bind(outcome.attempt.error.as_deref())
        .bind(next_attempt_at)
        .bind(delivered_at)
        .bind(failed_at),
    )
    .await?;
    Ok(())
}

/// Disables an endpoint that kept failing and fails its pending deliveries.
async fn disable(tx: &mut Tx, endpoint: WebhookEndpointId) -> StoreResult<()> {
    let at = super::now();
    tx.execute(
        query("UPDATE webhook_endpoints SET enabled = $2, disabled_at = $3 WHERE id = $1")
            .bind(endpoint)
            .bind(false)
            .bind(at),
    )
    .await?;
    fail_pending(tx, endpoint, "the endpoint was disabled").await
}

/// Gives up the pending deliveries of an endpoint that no longer takes them.
pub async fn fail_pending(tx: &mut Tx, endpoint: WebhookEndpointId, why: &str) -> StoreResult<()> {
    tx.execute(
        query(format!(
            "UPDATE webhook_deliveries SET failed_at = $2, last_error = $3, lease_until = NULL \
             WHERE endpoint_id = $1 AND {PENDING}"
        ))
        .bind(endpoint)
        .bind(super::now())
        .bind(why),
    )
    .await?;
    Ok(())
}

/// When the earliest pending delivery is due, if any is pending.
pub async fn next_due(db: &Db) -> StoreResult<Option<DateTime<Utc>>> {
    let due: Option<(DateTime<Utc>,)> = db
        .reader()
        .fetch_optional(query(format!(
            "SELECT next_attempt_at FROM webhook_deliveries WHERE {PENDING} \
             ORDER BY next_attempt_at LIMIT 1"
        )))
        .await?;
    Ok(due.map(|(at,)| at))
}

const COLUMNS: &str = "id, event_id, event_type, endpoint_id, tenant_id, attempts, \
                       next_attempt_at, created_at, last_attempt_at, delivered_at, failed_at, \
                       last_status, last_error";

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: WebhookDeliveryId,
    event_id: EventId,
    event_type: String,
    endpoint_id: WebhookEndpointId,
    tenant_id: Option<TenantId>,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    last_attempt_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    last_status: Option<i64>,
    last_error: Option<String>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> StoreResult<Delivery> {
        let event_type = EventType::from_name(&row.event_type).ok_or_else(|| {
            StoreError::Corrupt(anyhow::anyhow!("event type {:?}", row.event_type))
        })?;
        let status = match (row.delivered_at, row.failed_at) {
            (Some(_), _) => DeliveryStatus::Delivered,
            (None, Some(_)) => DeliveryStatus::Failed,
            (None, None) => DeliveryStatus::Pending,
        };
        Ok(Delivery {
            id: row.id,
            event_id: row.event_id,
            event_type,
            endpoint_id: row.endpoint_id,
            tenant_id: row.tenant_id,
            status,
            attempts: row.attempts,
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(row.next_attempt_at),
            created_at: row.created_at,
            last_attempt_at: row.last_attempt_at,
            delivered_at: row.delivered_at,
            last_status: row.last_status,
            last_error: row.last_error,
        })
    }
}

/// Which deliveries a list shows.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// The owners whose endpoints' deliveries are shown; `None` for every owner.
    pub reach: Option<Uuid>,
    pub endpoint: Option<WebhookEndpointId>,
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
}

/// Up to `limit` deliveries, newest first, before the cursor `before`.
pub async fn list(
    reader: Reader<'_>,
    filter: &DeliveryFilter,
    before: Option<WebhookDeliveryId>,
    limit: i64,
) -> StoreResult<Vec<Delivery>> {
    let rows: Vec<DeliveryRow> = reader.fetch_all(list_query(filter, before, limit)).await?;
    rows.into_iter().map(Delivery::try_from).collect()
}

/// The statement of one page of [`list`].
pub fn list_query(
    filter: &DeliveryFilter,
    before: Option<WebhookDeliveryId>,
    limit: i64,
) -> Query<'static> {
    let mut statement = query(format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE 1 = 1"
    ));
    if let Some(reach) = filter.reach {
        statement.push_sql(" AND reach = ?", [Arg::Uuid(Some(reach))]);
    }
    if let Some(endpoint) = filter.endpoint {
        statement.push_sql(" AND endpoint_id = ?", [endpoint.into()]);
    }
    if let Some(kind) = filter.event_type {
        statement.push_sql(" AND event_type = ?", [kind.name().into()]);
    }
    match filter.status {
        Some(DeliveryStatus::Delivered) => statement.push_sql(" AND delivered_at IS NOT NULL", []),
        Some(DeliveryStatus::Failed) => {
            statement.push_sql(" AND delivered_at IS NULL AND failed_at IS NOT NULL", [])
        }
        Some(DeliveryStatus::Pending) => statement.push_sql(&format!(" AND {PENDING}"), []),
        None => {}
    }
    if let Some(before) = before {
        statement.push_sql(" AND id < ?", [before.into()]);
    }
    statement.push_sql(" ORDER BY id DESC LIMIT ?", [limit.into()]);
    statement
}

/// A delivery with the reach of its endpoint's owner.
pub async fn find(db: &Db, id: WebhookDeliveryId) -> StoreResult<Option<(Delivery, Uuid)>> {
    let sql = format!("SELECT {COLUMNS}, reach FROM webhook_deliveries WHERE id = $1");
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        delivery: DeliveryRow,
        reach: Uuid,
    }
    let found: Option<Found> = db.reader().fetch_optional(query(sql).bind(id)).await?;
    found
        .map(|found| Ok((Delivery::try_from(found.delivery)?, found.reach)))
        .transpose()
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: WebhookAttemptId,
    delivery_id: WebhookDeliveryId,
    attempt: i64,
    attempted_at: DateTime<Utc>,
    status_code: Option<i64>,
    latency_ms: i64,
    response: Option<String>,
    error: Option<String>,
}

/// The attempts of the deliveries `ids`, oldest first.
pub async fn attempts_of(
    reader: Reader<'_>,
    ids: &[WebhookDeliveryId],
) -> StoreResult<Vec<Attempt>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = query(format!(
        "SELECT id, delivery_id, attempt, attempted_at, status_code, latency_ms, response, error \
         FROM webhook_attempts WHERE delivery_id IN ({}) ORDER BY attempted_at, id",
        reader.backend().placeholders(1, ids.len())
    ));
    for id in ids {
        statement.push(*id);
    }
    let rows: Vec<AttemptRow> = reader.fetch_all(statement).await?;
    Ok(rows
        .into_iter()
        .map(|row| Attempt {
            id: row.id,
            delivery_id: row.delivery_id,
            attempt: row.attempt,
            attempted_at: row.attempted_at,
            status_code: row.status_code,
            latency_ms: row.latency_ms,
            response: row.response,
            error: row.error,
        })
        .collect())
}

/// Makes a delivery due now with a fresh schedule, whatever became of it. `false` when a
/// worker holds it at this moment (its attempt is under way).
pub async fn retry(db: &Db, id: WebhookDeliveryId) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let at = super::now();
    let changed = tx
        .execute(
            query(
                "UPDATE webhook_deliveries SET attempts = 0, next_attempt_at = $2, \
                 delivered_at = NULL, failed_at = NULL, lease_until = NULL \
                 WHERE id = $1 AND (lease_until IS NULL OR lease_until < $2)",
            )
            .bind(id)
            .bind(at),
        )
        .await?;
    tx.commit().await?;
    Ok(changed == 1)
}

/// The smallest UUIDv7 of the millisecond `at`.
fn first_v7_at(at: DateTime<Utc>) -> Uuid {
    let millis = at.timestamp_millis().max(0) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

/// How many events one replay transaction re-sends.
const REPLAY_PAGE: i64 = 500;

/// Sends again every event since `since` that `endpoint` takes: deliveries it had are due
/// again with a fresh schedule, and events it missed (while disabled, say) get one. Returns
/// how many deliveries are due.
pub async fn replay(
    db: &Db,
    endpoint: WebhookEndpointId,
    since: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut after: Option<EventId> = None;
    let mut due = 0;
    loop {
        let (page, last) = replay_page(db, endpoint, since, after).await?;
        due += page;
        match last {
            Some(last) => after = Some(last),
            None => return Ok(due),
        }
    }
}

/// One page of [`replay`], in a transaction of its own; returns how many are due and the
/// page's last event, if the page was full.
async fn replay_page(
    db: &Db,
    endpoint: WebhookEndpointId,
    since: DateTime<Utc>,
    after: Option<EventId>,
) -> StoreResult<(u64, Option<EventId>)> {
    let mut tx = db.begin().await?;
    let found: Option<(Uuid, Option<TenantId>, Json<Vec<String>>)> = tx
        .fetch_optional(
            query("SELECT reach, tenant_id, event_types FROM webhook_endpoints WHERE id = $1")
                .bind(endpoint),
        )
        .await?;
    let (reach, tenant, types) = found.ok_or(StoreError::NotFound)?;
    // Ids are time-ordered (UUIDv7): the walk starts at the first id `since` could have,
    // or after the previous page's last.
    let walk = match after {
        Some(_) => "id > $2",
        None => "id >= $2",
    };
    let from = after.map_or_else(|| Arg::Uuid(Some(first_v7_at(since))), Arg::from);
    let mut events = query(format!(
        "SELECT {} FROM events WHERE occurred_at >= $1 AND {walk}",
        super::events::COLUMNS
    ))
    .bind(since)
    .bind(from);
    match (tenant, reach.is_nil()) {
        (Some(tenant), _) => events.push_sql(" AND tenant_id = ?", [tenant.into()]),
        (None, false) => events.push_sql(" AND agency_id = ?", [Arg::Uuid(Some(reach))]),
        (None, true) => {}
    }
    events.push_sql(" ORDER BY id LIMIT ?", [REPLAY_PAGE.into()]);
    let rows: Vec<super::events::EventRow> = tx.fetch_all(events).await?;
    let full = rows.len() as i64 == REPLAY_PAGE;
    let at = super::now();
    let mut due = 0;
    let mut last = None;
    for row in rows {
        let event = Event::try_from(row)?;
        last = Some(event.id);
        if !takes(event.kind, &types.0) {
            continue;
        }
        enqueue(&mut tx, &event, &[(endpoint, reach)]).await?;
        due += tx
            .execute(
                query(
                    "UPDATE webhook_deliveries SET attempts = 0, next_attempt_at = $3, \
                     delivered_at = NULL, failed_at = NULL \
                     WHERE event_id = $1 AND endpoint_id = $2 AND lease_until IS NULL",
                )
                .bind(event.id)
                .bind(endpoint)
                .bind(at),
            )
            .await?;
    }
    tx.commit().await?;
    Ok((due, if full { last } else { None }))
}

/// Who hears that an endpoint was disabled: its tenant's owner, or its agency's managers (the
/// platform's admins for the platform's), with the brand to sign as.
pub async fn endpoint_contacts(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
) -> StoreResult<(String, String, Vec<(String, String)>)> {
    let (url, reach, tenant): (String, Uuid, Option<TenantId>) = tx
        .fetch_one(
            query("SELECT url, reach, tenant_id FROM webhook_endpoints WHERE id = $1")
                .bind(endpoint),
        )
        .await?;
    if let Some(tenant) = tenant {
        let brand = super::outbox::brand_of(tx, tenant).await?;
        let owner: Option<(Option<String>, Option<String>)> = tx
            .fetch_optional(
                query("SELECT owner_email, owner_name FROM tenants WHERE id = $1").bind(tenant),
            )
            .await?;
        let contacts = match owner {
            Some((Some(email), name)) => vec![(email.clone(), name.unwrap_or(email))],
            _ => Vec::new(),
        };
        return Ok((url, brand, contacts));
    }
    let role = if reach.is_nil() {
        "Admin"
    } else {
        "AgencyManager"
    };
    let contacts: Vec<(String, String)> = tx
        .fetch_all(
            query(
                "SELECT u.email, u.name FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.reach = $1 AND m.role = $2 AND m.status = 'active' ORDER BY u.email",
            )
            .bind(Arg::Uuid(Some(reach)))
            .bind(role),
        )
        .await?;
    let brand: Option<(String,)> = tx
        .fetch_optional(
            query("SELECT name FROM agencies WHERE id = $1").bind(Arg::Uuid(Some(reach))),
        )
        .await?;
    let brand = brand.map_or_else(
        || crate::domain::email::DEFAULT_BRAND.to_owned(),
        |(name,)| name,
    );
    Ok((url, brand, contacts))
}

/// The tenant and agency an endpoint's changes are recorded under.
pub async fn holder(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
) -> StoreResult<(Option<TenantId>, Option<AgencyId>)> {
    let found: (Option<TenantId>, Option<AgencyId>) = tx
        .fetch_one(
            query("SELECT tenant_id, agency_id FROM webhook_endpoints WHERE id = $1")
                .bind(endpoint),
        )
        .await?;
    Ok(found)
}

/// Deletes deliveries (with their attempts) made before `before` that are done, and events
/// from before it that no delivery names; returns how many rows went. Ids are time-ordered,
/// so each walk is a range of a primary key.
pub async fn purge(db: &Db, before: DateTime<Utc>) -> StoreResult<u64> {
    let first_kept = Arg::Uuid(Some(first_v7_at(before)));
    let done = "id < $1 AND (delivered_at IS NOT NULL OR failed_at IS NOT NULL)";
    let mut tx = db.begin().await?;
    let mut purged = tx
        .execute(
            query(format!(
                "DELETE FROM webhook_attempts WHERE delivery_id IN \
                 (SELECT id FROM webhook_deliveries WHERE {done})"
            ))
            .bind(first_kept.clone()),
        )
        .await?;
    purged += tx
        .execute(
            query(format!("DELETE FROM webhook_deliveries WHERE {done}")).bind(first_kept.clone()),
        )
        .await?;
    purged += tx
        .execute(
            query(
                "DELETE FROM events WHERE id < $1 AND NOT EXISTS \
                 (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
            )
            .bind(first_kept),
        )
        .await?;
    tx.commit().await?;
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_v7_of_a_millisecond_orders_before_every_id_made_then_or_later() {
        let at = Utc::now();
        let made = EventId::generate().0;
        let first = first_v7_at(at - Duration::milliseconds(1));
        assert!(first <= made);
        assert_eq!(first.get_version_num(), 7);
        assert!(first_v7_at(at + Duration::seconds(1)) > made);
    }

    #[test]
    fn every_type_but_the_opt_in_ones_goes_to_an_endpoint_that_names_none() {
        assert!(takes(EventType::TenantCreated, &[]));
        assert!(!takes(EventType::CallEnded, &[]));
        assert!(takes(EventType::CallEnded, &["call.ended".to_owned()]));
        assert!(!takes(EventType::TenantCreated, &["call.ended".to_owned()]));
    }
}

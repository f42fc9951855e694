//! The event outbox. [`emit`] writes an event in the caller's transaction, so it exists
//! exactly when the change it tells of commits.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{query, Reader, StoreError, StoreResult, Tx};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{AgencyId, EventId, TenantId, WebhookEndpointId};

/// Writes `event` and a pending delivery to each endpoint that takes it. An event no endpoint
/// takes is written only if it is [kept unheard](EventType::kept_unheard).
pub async fn emit(tx: &mut Tx, event: &Event) -> StoreResult<()> {
    emit_telling(tx, event, &[]).await
}

/// [`emit`], to the endpoints of `also_told` agencies as well as the event's own.
pub async fn emit_telling(tx: &mut Tx, event: &Event, also_told: &[AgencyId]) -> StoreResult<()> {
    let endpoints = super::deliveries::subscribers(tx, event, also_told).await?;
    write(tx, event, &endpoints).await
}

/// Emits a tenant's event of `kind` with `data`, finding the tenant's agency and the
/// endpoints that take it in one read: the cheap way for a hot path (a call's end).
pub async fn emit_for_tenant(
    tx: &mut Tx,
    kind: EventType,
    tenant: TenantId,
    data: Value,
) -> StoreResult<()> {
    let (agency, endpoints) = super::deliveries::tenant_subscribers(tx, kind, tenant).await?;
    if endpoints.is_empty() && !kind.kept_unheard() {
        return Ok(());
    }
    let event = Event::new(kind, Some(tenant), agency, super::now(), data);
    write(tx, &event, &endpoints).await
}

async fn write(
    tx: &mut Tx,
    event: &Event,
    endpoints: &[(WebhookEndpointId, uuid::Uuid)],
) -> StoreResult<()> {
    if endpoints.is_empty() && !event.kind.kept_unheard() {
        return Ok(());
    }
    tx.execute(
        query(
            "INSERT INTO events (id, type, tenant_id, agency_id, occurred_at, payload) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event.id)
        .bind(event.kind.name())
        .bind(event.tenant_id)
        .bind(event.agency_id)
        .bind(event.occurred_at)
        .bind(event.payload.clone()),
    )
    .await?;
    super::deliveries::enqueue(tx, event, endpoints).await
}

pub(super) const COLUMNS: &str = "id, type, tenant_id, agency_id, occurred_at, payload";

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    id: EventId,
    #[sqlx(rename = "type")]
    kind: String,
    tenant_id: Option<TenantId>,
    agency_id: Option<AgencyId>,
    occurred_at: DateTime<Utc>,
    payload: Json<Value>,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> StoreResult<Event> {
        let kind = EventType::from_name(&row.kind)
            .ok_or_else(|| StoreError::Corrupt(anyhow::anyhow!("event type {:?}", row.kind)))?;
        Ok(Event {
            id: row.id,
            kind,
            tenant_id: row.tenant_id,
            agency_id: row.agency_id,
            occurred_at: row.occurred_at,
            payload: row.payload.0,
        })
    }
}

/// A tenant's events, oldest first, after `after`.
pub async fn of_tenant(
    reader: Reader<'_>,
    tenant: TenantId,
    after: Option<EventId>,
    limit: i64,
) -> StoreResult<Vec<Event>> {
    let mut statement =
        query(format!("SELECT {COLUMNS} FROM events WHERE tenant_id = $1")).bind(tenant);
    if let Some(after) = after {
        statement.push_sql(" AND id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    let rows: Vec<EventRow> = reader.fetch_all(statement).await?;
    rows.into_iter().map(Event::try_from).collect()
}

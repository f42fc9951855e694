//! The event outbox. [`emit`] writes an event in the caller's transaction, so it exists
//! exactly when the change it tells of commits.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{query, Reader, StoreError, StoreResult, Tx};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{AgencyId, EventId, TenantId};

pub async fn emit(tx: &mut Tx, event: &Event) -> StoreResult<()> {
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
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
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
    let mut statement = query(
        "SELECT id, type, tenant_id, agency_id, occurred_at, payload FROM events \
         WHERE tenant_id = $1",
    )
    .bind(tenant);
    if let Some(after) = after {
        statement.push_sql(" AND id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    let rows: Vec<EventRow> = reader.fetch_all(statement).await?;
    rows.into_iter().map(Event::try_from).collect()
}

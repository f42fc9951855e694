//! Webhook endpoints of agencies and the platform. `reach` holds the owner (an agency's id, or
//! the nil UUID for the platform), which lists read by.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::audit::record_change;
use super::{json, now, query, versioned_change, Arg, Db, StoreError, StoreResult, Tx};
use crate::domain::access::Scope;
use crate::domain::event::EventType;
use crate::domain::ids::{AgencyId, TenantId, WebhookEndpointId};
use crate::domain::user::reach_of;
use crate::domain::webhook::{Endpoint, EndpointFields};

const COLUMNS: &str =
    "id, agency_id, tenant_id, url, description, event_types, enabled, previous_until, \
                       created_at, updated_at";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: WebhookEndpointId,
    agency_id: Option<AgencyId>,
    tenant_id: Option<TenantId>,
    url: String,
    description: Option<String>,
    event_types: Json<Vec<String>>,
    enabled: bool,
    previous_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = StoreError;

    fn try_from(row: EndpointRow) -> StoreResult<Endpoint> {
        let events = row
            .event_types
            .0
            .iter()
            .map(|name| {
                EventType::from_name(name)
                    .ok_or_else(|| StoreError::Corrupt(anyhow::anyhow!("event type {name:?}")))
            })
            .collect::<StoreResult<_>>()?;
        Ok(Endpoint {
            id: row.id,
            owner: match (row.tenant_id, row.agency_id) {
                (Some(tenant), _) => Scope::Tenant(tenant),
                (None, Some(agency)) => Scope::Agency(agency),
                (None, None) => Scope::Platform,
            },
            fields: EndpointFields {
                url: row.url,
                description: row.description,
                events,
                enabled: row.enabled,
            },
            previous_secret_until: row.previous_until,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn names(events: &[EventType]) -> Arg<'static> {
    json(&events.iter().map(|kind| kind.name()).collect::<Vec<_>>())
}

/// Creates an endpoint of `owner` with its sealed secret.
pub async fn create(
    db: &Db,
    id: WebhookEndpointId,
    owner: Scope,
    fields: &EndpointFields,
    sealed_secret: &str,
) -> StoreResult<Endpoint> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "INSERT INTO webhook_endpoints (id, reach, agency_id, url, description, event_types, \
         enabled, secret, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COLUMNS}"
    );
    let row: EndpointRow = tx
        .fetch_one(
            query(sql)
                .bind(id)
                .bind(reach_of(owner))
                .bind(owner_agency(owner))
                .bind(&fields.url)
                .bind(fields.description.as_deref())
                .bind(names(&fields.events))
                .bind(fields.enabled)
                .bind(sealed_secret)
                .bind(now()),
        )
        .await?;
    let endpoint = Endpoint::try_from(row)?;
    record_change(&mut tx, "webhook_endpoint.created", None, Some(&endpoint)).await?;
    tx.commit().await?;
    Ok(endpoint)
}

fn owner_agency(owner: Scope) -> Option<AgencyId> {
    match owner {
        Scope::Agency(agency) => Some(agency),
        _ => None,
    }
}

/// Up to `limit` endpoints of `owner`, in id order after `after`.
pub async fn list(
    db: &Db,
    owner: Scope,
    after: Option<WebhookEndpointId>,
    limit: i64,
) -> StoreResult<Vec<Endpoint>> {
    let mut statement = query(format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE reach = $1"
    ))
    .bind(reach_of(owner));
    if let Some(after) = after {
        statement.push_sql(" AND id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    let rows: Vec<EndpointRow> = db.reader().fetch_all(statement).await?;
    rows.into_iter().map(Endpoint::try_from).collect()
}

/// An endpoint, whoever owns it (the caller's reach is the service's to check).
pub async fn find(db: &Db, id: WebhookEndpointId) -> StoreResult<Option<Endpoint>> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1");
    let row: Option<EndpointRow> = db.reader().fetch_optional(query(sql).bind(id)).await?;
    row.map(Endpoint::try_from).transpose()
}

async fn locked(tx: &mut Tx, id: WebhookEndpointId) -> StoreResult<Endpoint> {
    let lock = tx.backend().lock_clause("webhook_endpoints");
    let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1{lock}");
    let row: Option<EndpointRow> = tx.fetch_optional(query(sql).bind(id)).await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// Changes an endpoint under its row lock: `change` gets the current one and returns the new
/// fields (or refuses); `expected` is an `If-Match` version.
pub async fn update<E: From<StoreError>>(
    db: &Db,
    id: WebhookEndpointId,
    expected: Option<DateTime<Utc>>,
    change: impl FnOnce(&Endpoint) -> Result<EndpointFields, E>,
) -> Result<Endpoint, E> {
    let mut tx = db.begin().await?;
    let current = locked(&mut tx, id).await?;
    let fields = change(&current)?;
    let version = versioned_change(expected, current.updated_at)?;
    let sql = format!(
        "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, \
         enabled = $5, updated_at = $6 WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row: EndpointRow = tx
        .fetch_one(
            query(sql)
                .bind(id)
                .bind(&fields.url)
                .bind(fields.description.as_deref())
                .bind(names(&fields.events))
                .bind(fields.enabled)
                .bind(version),
        )
        .await?;
    let endpoint = Endpoint::try_from(row)?;
    if current.fields.enabled && !endpoint.fields.enabled {
        super::deliveries::fail_pending(&mut tx, id, "the endpoint was disabled").await?;
    }
    record_change(
        &mut tx,
        "webhook_endpoint.updated",
        Some(&current),
        Some(&endpoint),
    )
    .await?;
    tx.commit().await?;
    Ok(endpoint)
}

/// Starts signing with `sealed_secret`; the current secret signs too until `until`.
pub async fn rotate(
    db: &Db,
    id: WebhookEndpointId,
    sealed_secret: &str,
    until: DateTime<Utc>,
) -> StoreResult<Endpoint> {
    let mut tx = db.begin().await?;
    let current = locked(&mut tx, id).await?;
    let sql = format!(
        "UPDATE webhook_endpoints SET previous_secret = secret, secret = $2, \
         previous_until = $3, updated_at = $4 WHERE id = $1 RETURNING {COLUMNS}"
    );
    let version = super::next_version(current.updated_at);
    let row: EndpointRow = tx
        .fetch_one(
            query(sql)
                .bind(id)
                .bind(sealed_secret)
                .bind(until)
                .bind(version),
        )
        .await?;
    let endpoint = Endpoint::try_from(row)?;
    let action = "webhook_endpoint.secret_rotated";
    record_change(&mut tx, action, Some(&current), Some(&endpoint)).await?;
    tx.commit().await?;
    Ok(endpoint)
}

pub async fn delete(db: &Db, id: WebhookEndpointId) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let current = locked(&mut tx, id).await?;
    remove(&mut tx, id).await?;
    record_change(&mut tx, "webhook_endpoint.deleted", Some(&current), None).await?;
    tx.commit().await
}

/// Deletes an endpoint with its deliveries and their attempts.
async fn remove(tx: &mut Tx, id: WebhookEndpointId) -> StoreResult<()> {
    tx.execute(
        query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
        )
        .bind(id),
    )
    .await?;
    tx.execute(query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1").bind(id))
        .await?;
    tx.execute(query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id))
        .await?;
    Ok(())
}

/// What a tenant's own endpoint starts with, should its `webhookUrl` be set: an id and a
/// secret sealed to it, made before the transaction (sealing needs the keyring).
#[derive(Debug, Clone)]
pub struct TenantEndpointSeed {
    pub id: WebhookEndpointId,
    pub sealed_secret: String,
}

/// Keeps a tenant's own endpoint in step with its `webhookUrl`, in the transaction that set
/// it: made from `seed` when the URL is set, pointed at a new URL (and enabled again) when it
/// changes, and removed when the URL is cleared.
pub async fn sync_tenant_endpoint(
    tx: &mut Tx,
    tenant: TenantId,
    url: Option<&str>,
    seed: &TenantEndpointSeed,
) -> StoreResult<()> {
    let existing: Option<(WebhookEndpointId, String)> = tx
        .fetch_optional(
            query("SELECT id, url FROM webhook_endpoints WHERE tenant_id = $1").bind(tenant),
        )
        .await?;
    let at = now();
    match (existing, url) {
        (None, None) => {}
        (Some((id, _)), None) => remove(tx, id).await?,
        (Some((_, stored)), Some(url)) if stored == url => {}
        (Some((id, _)), Some(url)) => {
            tx.execute(
                query(
                    "UPDATE webhook_endpoints SET url = $2, enabled = $3, failing_since = NULL, \
                     disabled_at = NULL, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(url)
                .bind(true)
                .bind(at),
            )
            .await?;
        }
        (None, Some(url)) => {
            tx.execute(
                query(
                    "INSERT INTO webhook_endpoints (id, reach, tenant_id, url, event_types, \
                     enabled, secret, created_at, updated_at) \
                     VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(seed.id)
                .bind(tenant)
                .bind(url)
                .bind(names(&[]))
                .bind(true)
                .bind(seed.sealed_secret.as_str())
                .bind(at),
            )
            .await?;
        }
    }
    Ok(())
}

/// The id of a tenant's own endpoint, if its `webhookUrl` is set.
pub async fn of_tenant(db: &Db, tenant: TenantId) -> StoreResult<Option<WebhookEndpointId>> {
    let found: Option<(WebhookEndpointId,)> = db
        .reader()
        .fetch_optional(query("SELECT id FROM webhook_endpoints WHERE tenant_id = $1").bind(tenant))
        .await?;
    Ok(found.map(|(id,)| id))
}

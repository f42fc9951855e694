//! A tenant's permanent deletion: every row it owns, in one transaction, as [`TENANT_TABLES`]
//! declares them, with the keys of its stored bytes queued for the blob worker.
//!
//! Every table of the schema is either in [`TENANT_TABLES`] or in [`OTHER_TABLES`] with the
//! reason it holds no tenant's rows; a test reads the schema and holds it to that. A new table
//! costs one line in one of them.

use chrono::{DateTime, Utc};

use super::{counters, now, query, Arg, StoreError, StoreResult, Tx};
use crate::domain::access::TenantScope;
use crate::domain::conflict::Conflict;
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{AgencyId, ApiKeyId, TenantId};
use crate::domain::resource::ResourceKind;
use crate::domain::resources::stored::bytes_key;

/// How a table's rows reach their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The `tenants` table itself: its `id`.
    Tenant,
    /// A column that holds the tenant's id.
    Column(&'static str),
    /// A column that names the `id` of a `parent` row of the tenant.
    Parent {
        column: &'static str,
        parent: &'static str,
    },
    /// Its `owner` is one of the tenant's API keys, by its text id (`key_…`).
    KeyOwner,
    /// The schema deletes its rows with the tenant's row (a trigger or `ON DELETE CASCADE`),
    /// on the backends that have the table.
    WithTenantRow,
}

/// The tables that hold a tenant's rows, in the order the cascade deletes them: a row goes
/// before the rows it names.
pub const TENANT_TABLES: &[(&str, Link)] = &[
    // Before `api_keys`, whose ids name them.
    ("idempotency_keys", Link::KeyOwner),
    (
        "sessions",
        Link::Parent {
            column: "membership_id",
            parent: "memberships",
        },
    ),
    // `reach` is the tenant's id in a tenant's memberships and invitations, and is indexed.
    ("invitations", Link::Column("reach")),
    ("memberships", Link::Column("reach")),
    ("api_keys", Link::Column("tenant_id")),
    ("resource_agents", Link::Column("tenant_id")),
    ("resources", Link::Column("tenant_id")),
    ("usage_events", Link::Column("tenant_id")),
    ("calls", Link::Column("tenant_id")),
    ("agents", Link::Column("tenant_id")),
    ("tenant_limits", Link::Column("tenant_id")),
    ("tenant_brandings", Link::Column("tenant_id")),
    ("subscriptions", Link::Column("tenant_id")),
    ("tenant_usage", Link::Column("tenant_id")),
    ("usage_alerts", Link::Column("tenant_id")),
    ("limit_refusals", Link::Column("tenant_id")),
    ("usage_daily", Link::Column("tenant_id")),
    ("usage_monthly", Link::Column("tenant_id")),
    ("email_outbox", Link::Column("tenant_id")),
    // The tenant's trail and its chain head (a tenant's chain is keyed by its id).
    ("transfers", Link::Column("tenant_id")),
    ("usage_series_history", Link::Column("tenant_id")),
    // Deliveries of the tenant's events (to any endpoint) and its own endpoint.
    ("webhook_attempts", Link::Column("tenant_id")),
    ("webhook_deliveries", Link::Column("tenant_id")),
    ("webhook_endpoints", Link::Column("tenant_id")),
    ("events", Link::Column("tenant_id")),
    ("audit_log", Link::Column("tenant_id")),
    ("audit_chains", Link::Column("chain_id")),
    // SQLite's search index of names: its triggers on `tenants` delete these.
    ("tenant_search_keys", Link::WithTenantRow),
    ("tenant_search", Link::WithTenantRow),
    ("tenant_counters", Link::Column("tenant_id")),
    ("tenants", Link::Tenant),
];

/// The tables that hold no tenant's rows, and why.
pub const OTHER_TABLES: &[(&str, &str)] = &[
    ("_sqlx_migrations", "the schema's own history"),
    ("agencies", "the tenant's agency outlives it"),
    (
        "agency_counters",
        "an agency's tenant counts, kept by triggers on tenants",
    ),
    ("plans", "the catalog, shared by every tenant"),
    (
        "agency_brandings",
        "an agency's branding or the platform's; a tenant's own is in tenant_brandings",
    ),
    (
        "custom_domains",
        "an agency's domain, which outlives its tenants",
    ),
    ("plan_limits", "the catalog's entitlements"),
    (
        "users",
        "people are global; only their memberships are a tenant's",
    ),
    ("recovery_codes", "a user's, not a membership's"),
    ("password_resets", "a user's, not a membership's"),
    (
        "login_failures",
        "kept by address for lockouts, never by tenant",
    ),
    (
        "blob_deletions",
        "keys of bytes whose rows are gone; its worker empties it",
    ),
];

/// The predicate that selects a table's rows of the tenant bound as `$1`.
fn predicate(table: &str, link: Link) -> Option<String> {
    match link {
        Link::Tenant => Some("id = $1".to_owned()),
        Link::Column(column) => Some(format!("{column} = $1")),
        Link::Parent { column, parent } => {
            let (_, parent_link) = TENANT_TABLES
                .iter()
                .find(|(name, _)| *name == parent)
                .unwrap_or_else(|| panic!("{table}'s parent {parent} is declared"));
            let selected = predicate(parent, *parent_link)?;
            Some(format!(
                "{column} IN (SELECT id FROM {parent} WHERE {selected})"
            ))
        }
        Link::KeyOwner | Link::WithTenantRow => None,
    }
}

/// Permanently deletes a tenant `scope` reaches, whatever its status. With calls in progress
/// it refuses, unless `force`. It locks the tenant's counters before its row, in the order of
/// admission and soft delete. Answers how many rows went.
pub async fn permanently(
    tx: &mut Tx,
    scope: TenantScope,
    id: TenantId,
    force: bool,
) -> StoreResult<u64> {
    let Some(locked) = counters::lock(tx, id).await? else {
        return Err(StoreError::NotFound);
    };
    let mut statement = query("SELECT id FROM tenants t WHERE t.id = $1");
    statement.push(id);
    if let Some(agency) = scope.agency_id {
        statement.push_sql(" AND t.agency_id = ?", [agency.into()]);
    }
    statement.push_sql(&tx.backend().lock_clause("t"), []);
    let found: Option<(TenantId,)> = tx.fetch_optional(statement).await?;
    if found.is_none() {
        return Err(StoreError::NotFound);
    }
    if locked.active_calls > 0 && !force {
        return Err(StoreError::Conflict(Conflict::TenantHasActiveCalls));
    }
    erase(tx, id, now()).await
}

/// Claims one deleted tenant whose `purge_after` is before `at`, locked for the rest of the
/// transaction: its counters first (passing over those another replica holds), then its row.
pub async fn claim_due(tx: &mut Tx, at: DateTime<Utc>) -> StoreResult<Option<TenantId>> {
    let claim = format!(
        "SELECT c.tenant_id FROM tenant_counters c JOIN tenants t ON t.id = c.tenant_id \
         WHERE t.status = 'deleted' AND t.purge_after <= $1 ORDER BY t.purge_after LIMIT 1{}",
        match tx.backend() {
            super::Backend::Sqlite => "",
            super::Backend::Postgres => " FOR UPDATE OF c SKIP LOCKED",
        }
    );
    let Some((id,)) = tx
        .fetch_optional::<(TenantId,)>(query(claim).bind(at))
        .await?
    else {
        return Ok(None);
    };
    // Under the row lock, it is still due: nothing restored it meanwhile.
    let recheck = format!(
        "SELECT id FROM tenants t WHERE t.id = $1 AND t.status = 'deleted' \
         AND t.purge_after <= $2{}",
        tx.backend().lock_clause("t")
    );
    let due: Option<(TenantId,)> = tx.fetch_optional(query(recheck).bind(id).bind(at)).await?;
    Ok(due.map(|(id,)| id))
}

/// Deletes every row of a tenant whose counters and row the transaction holds, and queues
/// the keys of its stored bytes. Answers how many rows went.
pub async fn erase(tx: &mut Tx, id: TenantId, at: DateTime<Utc>) -> StoreResult<u64> {
    let (agency, name): (Option<AgencyId>, String) = tx
        .fetch_one(query("SELECT agency_id, name FROM tenants WHERE id = $1").bind(id))
        .await?;
    queue_stored_bytes(tx, id, at).await?;
    let mut deleted = 0;
    for (table, link) in TENANT_TABLES {
        deleted += match (link, predicate(table, *link)) {
            (Link::KeyOwner, _) => delete_key_owned(tx, table, id).await?,
            (_, Some(selected)) => {
                tx.execute(query(format!("DELETE FROM {table} WHERE {selected}")).bind(id))
                    .await?
            }
            (_, None) => 0,
        };
    }
    // Told to the agency and the platform, naming no tenant row: there is none left.
    let data = serde_json::json!({ "tenantId": id.to_string(), "name": name,
        "agencyId": agency.map(|agency| agency.to_string()) });
    let event = Event::new(EventType::TenantPurged, None, agency, at, data);
    super::events::emit(tx, &event).await?;
    Ok(deleted)
}

/// Queues the object keys of the tenant's resources that keep bytes.
async fn queue_stored_bytes(tx: &mut Tx, id: TenantId, at: DateTime<Utc>) -> StoreResult<()> {
    let kinds: Vec<ResourceKind> = ResourceKind::all()
        .filter(|kind| kind.info().bytes_limit.is_some())
        .collect();
    let backend = tx.backend();
    let mut statement = query(format!(
        "SELECT kind, id FROM resources WHERE tenant_id = {} AND kind IN ({})",
        backend.placeholders(1, 1),
        backend.placeholders(2, kinds.len())
    ));
    statement.push(id);
    for kind in &kinds {
        statement.push(kind.name());
    }
    let rows: Vec<(String, uuid::Uuid)> = tx.fetch_all(statement).await?;
    let keys: Vec<String> = rows
        .into_iter()
        .filter_map(|(kind, resource)| bytes_key(id, ResourceKind::from_name(&kind)?, resource))
        .collect();
    super::blob_deletions::enqueue(tx, &keys, at).await
}

/// Deletes the rows of `table` whose `owner` is one of the tenant's keys.
async fn delete_key_owned(tx: &mut Tx, table: &str, id: TenantId) -> StoreResult<u64> {
    let keys: Vec<(ApiKeyId,)> = tx
        .fetch_all(query("SELECT id FROM api_keys WHERE tenant_id = $1").bind(id))
        .await?;
    let mut deleted = 0;
    for chunk in keys.chunks(500) {
        let markers = tx.backend().placeholders(1, chunk.len());
        let mut statement = query(format!("DELETE FROM {table} WHERE owner IN ({markers})"));
        for (key,) in chunk {
            statement.push(Arg::from(key.to_string()));
        }
        deleted += tx.execute(statement).await?;
    }
    Ok(deleted)
}

//! The resources repository: every kind of the registry (`domain::resource`) in one table,
//! keyed by (tenant, id) and indexed by kind. Creation takes the tenant's counter lock, so
//! count and byte limits, and a block, hold under races; the agents a resource names are rows of
//! `resource_agents`, whose foreign keys keep them within the tenant.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::audit::record_change;
use super::limits::{effective_columns, EffectiveColumns};
use super::{counters, now, query, versioned_change, Db, Query, StoreError, StoreResult, Tx};
use crate::domain::audit::{flatten_into, Audited, Fields, Holder, Target, SECRET_MASK};
use crate::domain::ids::{AgentId, TenantId};
use crate::domain::limits::{EffectiveLimits, LimitKey};
use crate::domain::resource::ResourceKind;
use crate::domain::tenant::BlockedService;

mod rules;
mod sealed;

pub use rules::{check_agent_unused, check_required_settings, Named};
pub use sealed::{reseal, sealed_page};

const COLUMNS: &str =
    "tenant_id, id, kind, size_bytes, document, sealed, version, created_at, updated_at";

/// Pointer into the document → sealed secret.
pub type Sealed = BTreeMap<String, String>;

/// One stored resource, its fields still a document.
#[derive(Debug, Clone)]
pub struct Stored {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub kind: ResourceKind,
    pub size_bytes: i64,
    pub document: Value,
    pub sealed: Sealed,
    /// 1 at creation, one more on each change.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ResourceRow {
    tenant_id: TenantId,
    id: Uuid,
    kind: String,
    size_bytes: i64,
    document: Json<Value>,
    sealed: Option<Json<Sealed>>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ResourceRow> for Stored {
    type Error = StoreError;

    fn try_from(row: ResourceRow) -> StoreResult<Stored> {
        let kind = ResourceKind::from_name(&row.kind)
            .ok_or_else(|| StoreError::Corrupt(anyhow::anyhow!("kind {:?}", row.kind)))?;
        Ok(Stored {
            tenant_id: row.tenant_id,
            id: row.id,
            kind,
            size_bytes: row.size_bytes,
            document: row.document.0,
            sealed: row.sealed.map(|sealed| sealed.0).unwrap_or_default(),
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// What a create or change writes: the document and the columns taken from it.
#[derive(Debug, Clone)]
pub struct Write {
    pub id: Uuid,
    pub name: String,
    pub unique_key: Option<String>,
    pub category: Option<String>,
    pub size_bytes: i64,
    pub agents: Vec<AgentId>,
    pub document: Value,
    pub sealed: Sealed,
}

/// What a tenant holds of a kind, read under its counter lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    pub count: i64,
    pub size_bytes: i64,
    /// The kind's required setting, when it has one (`true` when it has none).
    pub setting_on: bool,
    /// The tenant's effective count and byte limits of the kind.
    pub limits: EffectiveLimits,
    /// The services the tenant's block refuses (read only for a kind a block can refuse).
    pub blocked: BTreeSet<BlockedService>,
}

/// What creation reads of the tenant after its counters lock.
#[derive(sqlx::FromRow)]
struct TenantHeld {
    blocked_services: super::blocks::StoredServices,
    #[sqlx(flatten)]
    limits: EffectiveColumns,
}

/// A row of the same kind and unique value that a create replaces, rather than conflicts
/// with (a recording stored again for its call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnique {
    Conflict,
    Replace,
}

/// Creates a resource under the tenant's counter lock: `admit` gets what the tenant holds of
/// the kind (less a row it replaces) and may refuse. Returns the new resource and the one it
/// replaced.
pub async fn create<E: From<StoreError>>(
    db: &Db,
    tenant_id: TenantId,
    kind: ResourceKind,
    write: &Write,
    on_unique: OnUnique,
    admit: impl FnOnce(Held) -> Result<(), E>,
) -> Result<(Stored, Option<Stored>), E> {
    let mut tx = db.begin().await?;
    // Serializes creation per tenant (PostgreSQL); SQLite holds the write lock.
    counters::lock(&mut tx, tenant_id).await?;
    let replaced = match (&write.unique_key, on_unique) {
        (Some(key), OnUnique::Replace) => {
            remove_by_unique_key(&mut tx, tenant_id, kind, key).await?
        }
        _ => None,
    };
    let held = held(&mut tx, tenant_id, kind).await?;
    admit(held)?;
    let id = write.id;
    let at = now();
    let sql = format!(
        "INSERT INTO resources (tenant_id, id, kind, name, unique_key, category, size_bytes, \
         document, sealed, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) RETURNING {COLUMNS}"
    );
    let row: ResourceRow = tx
        .fetch_one(
            query(sql)
                .bind(tenant_id)
                .bind(id)
                .bind(kind.name())
                .bind(&write.name)
                .bind(write.unique_key.as_deref())
                .bind(write.category.as_deref())
                .bind(write.size_bytes)
                .bind(write.document.clone())
                .bind(sealed_arg(&write.sealed))
                .bind(at),
        )
        .await?;
    link_agents(&mut tx, tenant_id, id, &write.agents).await?;
    let stored = Stored::try_from(row)?;
    if let Some(replaced) = &replaced {
        record_change(&mut tx, action(kind, "deleted"), Some(replaced), None).await?;
    }
    record_change(&mut tx, action(kind, "created"), None, Some(&stored)).await?;
    tx.commit().await?;
    Ok((stored, replaced))
}

async fn held(tx: &mut Tx, tenant_id: TenantId, kind: ResourceKind) -> StoreResult<Held> {
    let setting_on = match kind.info().requires {
        // A share lock, so that switching the setting off waits for this creation (and
        // then sees it), or this creation waits and sees the setting off.
        Some(setting) => {
            let lock = tx.backend().share_clause();
            let sql = format!("SELECT {} FROM tenants WHERE id = $1{lock}", setting.column);
            let (on,): (bool,) = tx.fetch_one(query(sql).bind(tenant_id)).await?;
            on
        }
        None => true,
    };
    // The limits and the block in a statement of their own, after every lock (see
    // counters::lock); a block takes the counters lock too.
    let info = kind.info();
    let keys: Vec<LimitKey> = info
        .count_limit
        .map(|limit| limit.key)
        .into_iter()
        .chain(info.bytes_limit)
        .collect();
    let (limits, blocked) = if keys.is_empty() && info.blocked_by.is_none() {
        (EffectiveLimits::default(), BTreeSet::new())
    } else {
        let sql = format!(
            "SELECT t.blocked_services{} FROM tenants t WHERE t.id = $1",
            effective_columns("t", &keys)
        );
        let held: TenantHeld = tx.fetch_one(query(sql).bind(tenant_id)).await?;
        (
            held.limits.0,
            super::blocks::services(held.blocked_services)?,
        )
    };
    let (count, size_bytes): (i64, Option<i64>) = tx
        .fetch_one(
            query(
                "SELECT COUNT(*), CAST(SUM(size_bytes) AS BIGINT) FROM resources \
                 WHERE tenant_id = $1 AND kind = $2",
            )
            .bind(tenant_id)
            .bind(kind.name()),
        )
        .await?;
    Ok(Held {
        count,
        size_bytes: size_bytes.unwrap_or(0),
        setting_on,
        limits,
        blocked,
    })
}

async fn remove_by_unique_key(
    tx: &mut Tx,
    tenant_id: TenantId,
    kind: ResourceKind,
    key: &str,
) -> StoreResult<Option<Stored>> {
    let sql = format!(
        "DELETE FROM resources WHERE tenant_id = $1 AND kind = $2 AND unique_key = $3 \
         RETURNING {COLUMNS}"
    );
    let row: Option<ResourceRow> = tx
        .fetch_optional(query(sql).bind(tenant_id).bind(kind.name()).bind(key))
        .await?;
    row.map(Stored::try_from).transpose()
}

fn sealed_arg(sealed: &Sealed) -> Option<Value> {
    (!sealed.is_empty()).then(|| {
        let entries = sealed.iter();
        Value::Object(
            entries
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    })
}

async fn link_agents(
    tx: &mut Tx,
    tenant_id: TenantId,
    resource_id: Uuid,
    agents: &[AgentId],
) -> StoreResult<()> {
    let distinct: HashSet<AgentId> = agents.iter().copied().collect();
    for agent_id in distinct {
        tx.execute(
            query(
                "INSERT INTO resource_agents (tenant_id, resource_id, agent_id) \
                 VALUES ($1, $2, $3)",
            )
            .bind(tenant_id)
            .bind(resource_id)
            .bind(agent_id),
        )
        .await?;
    }
    Ok(())
}

pub async fn find(
    db: &Db,
    tenant_id: TenantId,
    kind: ResourceKind,
    id: Uuid,
) -> StoreResult<Stored> {
    let sql =
        format!("SELECT {COLUMNS} FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = $3");
    let row: Option<ResourceRow> = db
        .reader()
        .fetch_optional(query(sql).bind(tenant_id).bind(id).bind(kind.name()))
        .await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// The one resource of a kind with this unique value, within the tenant.
pub async fn find_by_unique_key(
    db: &Db,
    tenant_id: TenantId,
    kind: ResourceKind,
    key: &str,
) -> StoreResult<Stored> {
    let sql = format!(
        "SELECT {COLUMNS} FROM resources WHERE kind = $1 AND unique_key = $2 AND tenant_id = $3"
    );
    let row: Option<ResourceRow> = db
        .reader()
        .fetch_optional(query(sql).bind(kind.name()).bind(key).bind(tenant_id))
        .await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// The statement of the resource of a kind with this platform-unique value.
pub fn unique_key_query(kind: ResourceKind, key: &str) -> Query<'static> {
    let sql = format!("SELECT {COLUMNS} FROM resources WHERE kind = $1 AND unique_key = $2");
    query(sql).bind(kind.name()).bind(key.to_owned())
}

/// The resource of a kind with this platform-unique value, whichever tenant holds it.
pub async fn find_anywhere(db: &Db, kind: ResourceKind, key: &str) -> StoreResult<Option<Stored>> {
    let row: Option<ResourceRow> = db
        .reader()
        .fetch_optional(unique_key_query(kind, key))
        .await?;
    row.map(Stored::try_from).transpose()
}

/// Filters of a list; each one set adds its clause.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub category: Option<String>,
    pub agent_id: Option<AgentId>,
}

/// The statement of one page of a tenant's resources of a kind, in id (creation) order.
pub fn list_query(
    tenant_id: TenantId,
    kind: ResourceKind,
    filters: &Filters,
    after: Option<Uuid>,
    limit: i64,
) -> Query<'static> {
    let mut statement = query(format!(
        "SELECT {COLUMNS} FROM resources WHERE tenant_id = $1 AND kind = $2"
    ));
    statement.push(tenant_id);
    statement.push(kind.name());
    if let Some(category) = &filters.category {
        statement.push_sql(" AND category = ?", [category.clone().into()]);
    }
    if let Some(agent_id) = filters.agent_id {
        statement.push_sql(
            " AND id IN (SELECT resource_id FROM resource_agents \
             WHERE tenant_id = ? AND agent_id = ?)",
            [tenant_id.into(), agent_id.into()],
        );
    }
    if let Some(after) = after {
        statement.push_sql(" AND id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    statement
}

pub async fn list(
    db: &Db,
    tenant_id: TenantId,
    kind: ResourceKind,
    filters: &Filters,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Stored>> {
    let statement = list_query(tenant_id, kind, filters, after, limit);
    let rows: Vec<ResourceRow> = db.reader().fetch_all(statement).await?;
    rows.into_iter().map(Stored::try_from).collect()
}

/// Changes a resource under its row lock: `change` gets the current one and returns what to
/// write (or refuses); `expected` is an `If-Match` version.
pub async fn update<E: From<StoreError>>(
    db: &Db,
    tenant_id: TenantId,
    kind: ResourceKind,
    id: Uuid,
    expected: Option<DateTime<Utc>>,
    change: impl FnOnce(&Stored, &BTreeSet<BlockedService>) -> Result<Write, E>,
) -> Result<Stored, E> {
    let mut tx = db.begin().await?;
    // The tenant's row before the resource's, in a purge's order.
    let blocked = super::blocks::services_held(&mut tx, tenant_id).await?;
    let lock = tx.backend().lock_clause("resources");
    let sql = format!(
        "SELECT {COLUMNS} FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = $3{lock}"
    );
    let current: Stored = tx
        .fetch_optional::<ResourceRow>(query(sql).bind(tenant_id).bind(id).bind(kind.name()))
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()?;
    // Bad input is refused as such, whatever the version.
    let write = change(&current, &blocked)?;
    let version = versioned_change(expected, current.updated_at)?;
    let sql = format!(
        "UPDATE resources SET name = $3, unique_key = $4, category = $5, size_bytes = $6, \
         document = $7, sealed = $8, version = version + 1, updated_at = $9 \
         WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    let row: ResourceRow = tx
        .fetch_one(
            query(sql)
                .bind(tenant_id)
                .bind(id)
                .bind(&write.name)
                .bind(write.unique_key.as_deref())
                .bind(write.category.as_deref())
                .bind(write.size_bytes)
                .bind(write.document.clone())
                .bind(sealed_arg(&write.sealed))
                .bind(version),
        )
        .await?;
    tx.execute(
        query("DELETE FROM resource_agents WHERE tenant_id = $1 AND resource_id = $2")
            .bind(tenant_id)
            .bind(id),
    )
    .await?;
    link_agents(&mut tx, tenant_id, id, &write.agents).await?;
    let stored = Stored::try_from(row)?;
    record_change(
        &mut tx,
        action(kind, "updated"),
        Some(&current),
        Some(&stored),
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}

/// Deletes a resource, returning it (its stored bytes are the caller's to remove).
pub async fn delete(
    db: &Db,
    tenant_id: TenantId,
    kind: ResourceKind,
    id: Uuid,
) -> StoreResult<Stored> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "DELETE FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = $3 RETURNING {COLUMNS}"
    );
    let row: Option<ResourceRow> = tx
        .fetch_optional(query(sql).bind(tenant_id).bind(id).bind(kind.name()))
        .await?;
    let stored = row.ok_or(StoreError::NotFound)?.try_into()?;
    record_change(&mut tx, action(kind, "deleted"), Some(&stored), None).await?;
    tx.commit().await?;
    Ok(stored)
}

/// How many of each kind a tenant holds, and their stored bytes.
pub async fn measure(
    db: &Db,
    tenant_id: TenantId,
) -> StoreResult<HashMap<ResourceKind, (i64, i64)>> {
    let rows: Vec<(String, i64, Option<i64>)> = db
        .reader()
        .fetch_all(
            query(
                "SELECT kind, COUNT(*), CAST(SUM(size_bytes) AS BIGINT) FROM resources WHERE tenant_id = $1 \
                 GROUP BY kind",
            )
            .bind(tenant_id),
        )
        .await?;
    // A kind this binary does not know (a newer one's rows) counts against nothing here.
    Ok(rows
        .into_iter()
        .filter_map(|(kind, count, bytes)| {
            Some((ResourceKind::from_name(&kind)?, (count, bytes.unwrap_or(0))))
        })
        .collect())
}

/// Deletes a tenant's resource of `kind` by its unique value (a call's recording), in the
/// caller's transaction; answers what was deleted, if anything.
pub async fn delete_by_unique_key(
    tx: &mut Tx,
    tenant_id: TenantId,
    kind: ResourceKind,
    key: &str,
) -> StoreResult<Option<Stored>> {
    let sql = format!(
        "DELETE FROM resources WHERE tenant_id = $1 AND kind = $2 AND unique_key = $3 \
         RETURNING {COLUMNS}"
    );
    let row: Option<ResourceRow> = tx
        .fetch_optional(query(sql).bind(tenant_id).bind(kind.name()).bind(key))
        .await?;
    row.map(Stored::try_from).transpose()
}

/// A resource's action: `<kind>.<what>`, e.g. `phone_number.created`.
fn action(kind: ResourceKind, what: &str) -> String {
    format!("{}.{what}", kind.name())
}

/// A resource's fields as its document holds them; each sealed secret reads as the mask.
impl Audited for Stored {
    fn audit_target(&self) -> Target {
        Target::new(self.kind.name(), self.kind.display_id(self.id))
    }

    fn audit_holder(&self) -> Holder {
        (Some(self.tenant_id), None)
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        flatten_into(&mut fields, "", self.document.clone());
        let mut fields: Fields = fields
            .into_iter()
            .map(|(field, value)| (field.trim_start_matches('.').to_owned(), value))
            .collect();
        for pointer in self.sealed.keys() {
            let field = pointer.trim_start_matches('/').replace('/', ".");
            fields.insert(field, Value::String(SECRET_MASK.to_owned()));
        }
        fields
    }
}

//! The agents repository. Creation takes the tenant's counter lock, so `maxAgents` and a block
//! on agents hold under races.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::audit::record_change;
use super::limits::{effective_columns, EffectiveColumns};
use super::{
    counters, from_text, json, now, query, versioned_change, Db, Query, StoreError, StoreResult,
};
use crate::domain::agent::{Agent, AgentFields, Metadata};
use crate::domain::ids::{AgentId, TenantId};
use crate::domain::limits::LimitKey;
use crate::domain::tenant::BlockedService;

const COLUMNS: &str = "tenant_id, id, name, status, metadata, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct AgentRow {
    tenant_id: TenantId,
    id: AgentId,
    name: String,
    status: String,
    metadata: Json<Metadata>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<AgentRow> for Agent {
    type Error = StoreError;

    fn try_from(row: AgentRow) -> StoreResult<Agent> {
        Ok(Agent {
            id: row.id,
            tenant_id: row.tenant_id,
            fields: AgentFields {
                name: row.name,
                status: from_text(&row.status)?,
                metadata: row.metadata.0,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Counts of a tenant's agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounts {
    pub total: i64,
    pub active: i64,
}

/// What agent creation reads of the tenant after its counters lock.
#[derive(sqlx::FromRow)]
struct CreationRow {
    blocked_services: super::blocks::StoredServices,
    #[sqlx(flatten)]
    limits: EffectiveColumns,
}

/// Creates an agent under the tenant's counter lock: `admit` gets how many agents the tenant
/// has, its `maxAgents` and the services its block refuses (read after the lock), and may
/// refuse.
pub async fn create<E: From<StoreError>>(
    db: &Db,
    tenant_id: TenantId,
    fields: &AgentFields,
    admit: impl FnOnce(i64, Option<i64>, &BTreeSet<BlockedService>) -> Result<(), E>,
) -> Result<Agent, E> {
    let mut tx = db.begin().await?;
    // Serializes agent creation per tenant (PostgreSQL), and orders it with a block;
    // SQLite holds the write lock.
    counters::lock(&mut tx, tenant_id).await?;
    let sql = format!(
        "SELECT t.blocked_services{} FROM tenants t WHERE t.id = $1",
        effective_columns("t", &[LimitKey::MaxAgents])
    );
    let tenant: CreationRow = tx.fetch_one(query(sql).bind(tenant_id)).await?;
    let blocked = super::blocks::services(tenant.blocked_services)?;
    let (count,): (i64,) = tx
        .fetch_one(query("SELECT COUNT(*) FROM agents WHERE tenant_id = $1").bind(tenant_id))
        .await?;
    admit(count, tenant.limits.0.get(LimitKey::MaxAgents), &blocked)?;
    let sql = format!(
        "INSERT INTO agents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
    );
    let row: AgentRow = tx
        .fetch_one(
            query(sql)
                .bind(tenant_id)
                .bind(AgentId::generate())
                .bind(&fields.name)
                .bind(<&'static str>::from(fields.status))
                .bind(json(&fields.metadata))
                .bind(now()),
        )
        .await?;
    let agent = Agent::try_from(row)?;
    record_change(&mut tx, "agent.created", None, Some(&agent)).await?;
    tx.commit().await?;
    Ok(agent)
}

pub async fn find(db: &Db, tenant_id: TenantId, id: AgentId) -> StoreResult<Agent> {
    let sql = format!("SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2");
    let row: Option<AgentRow> = db
        .reader()
        .fetch_optional(query(sql).bind(tenant_id).bind(id))
        .await?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

/// The statement of one page of a tenant's agents, in id (creation) order after `after`.
pub fn list_query(tenant_id: TenantId, after: Option<AgentId>, limit: i64) -> Query<'static> {
    let mut statement = query(format!("SELECT {COLUMNS} FROM agents WHERE tenant_id = $1"));
    statement.push(tenant_id);
    if let Some(after) = after {
        statement.push_sql(" AND id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    statement
}

pub async fn list(
    db: &Db,
    tenant_id: TenantId,
    after: Option<AgentId>,
    limit: i64,
) -> StoreResult<Vec<Agent>> {
    let statement = list_query(tenant_id, after, limit);
    let rows: Vec<AgentRow> = db.reader().fetch_all(statement).await?;
    rows.into_iter().map(Agent::try_from).collect()
}

/// Changes an agent under its row lock: `change` gets the current agent and returns the new
/// fields (or refuses them); `expected` is an `If-Match` version.
pub async fn update<E: From<StoreError>>(
    db: &Db,
    tenant_id: TenantId,
    id: AgentId,
    expected: Option<DateTime<Utc>>,
    change: impl FnOnce(&Agent, &BTreeSet<BlockedService>) -> Result<AgentFields, E>,
) -> Result<Agent, E> {
    let mut tx = db.begin().await?;
    // The tenant's row before the agent's, in a purge's order.
    let blocked = super::blocks::services_held(&mut tx, tenant_id).await?;
    let lock = tx.backend().lock_clause("agents");
    let sql = format!("SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 AND id = $2{lock}");
    let current: Agent = tx
        .fetch_optional::<AgentRow>(query(sql).bind(tenant_id).bind(id))
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()?;
    // Bad input is refused as such, whatever the version.
    let fields = change(&current, &blocked)?;
    let version = versioned_change(expected, current.updated_at)?;
    let sql = format!(
        "UPDATE agents SET name = $3, status = $4, metadata = $5, updated_at = $6 \
         WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    let row: AgentRow = tx
        .fetch_one(
            query(sql)
                .bind(tenant_id)
                .bind(id)
                .bind(&fields.name)
                .bind(<&'static str>::from(fields.status))
                .bind(json(&fields.metadata))
                .bind(version),
        )
        .await?;
    let agent = Agent::try_from(row)?;
    record_change(&mut tx, "agent.updated", Some(&current), Some(&agent)).await?;
    tx.commit().await?;
    Ok(agent)
}

pub async fn delete(db: &Db, tenant_id: TenantId, id: AgentId) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    super::resources::check_agent_unused(&mut tx, tenant_id, id).await?;
    let sql = format!("DELETE FROM agents WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}");
    let deleted: AgentRow = tx
        .fetch_optional(query(sql).bind(tenant_id).bind(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    let deleted = Agent::try_from(deleted)?;
    record_change(&mut tx, "agent.deleted", Some(&deleted), None).await?;
    tx.commit().await
}

pub async fn count(db: &Db, tenant_id: TenantId) -> StoreResult<AgentCounts> {
    let (total, active): (i64, Option<i64>) = db
        .reader()
        .fetch_one(
            query(
                "SELECT COUNT(*), SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) \
                 FROM agents WHERE tenant_id = $1",
            )
            .bind(tenant_id),
        )
        .await?;
    Ok(AgentCounts {
        total,
        active: active.unwrap_or(0),
    })
}

/// Which of `ids` are agents of the tenant, in one query.
pub async fn known(db: &Db, tenant_id: TenantId, ids: &[AgentId]) -> StoreResult<HashSet<AgentId>> {
    let distinct: Vec<AgentId> = ids
        .iter()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if distinct.is_empty() {
        return Ok(HashSet::new());
    }
    let reader = db.reader();
    let backend = reader.backend();
    let sql = format!(
        "SELECT id FROM agents WHERE tenant_id = {} AND id IN ({})",
        backend.placeholders(1, 1),
        backend.placeholders(2, distinct.len())
    );
    let mut select = query(sql).bind(tenant_id);
    for id in distinct {
        select.push(id);
    }
    let found: Vec<(AgentId,)> = reader.fetch_all(select).await?;
    Ok(found.into_iter().map(|(id,)| id).collect())
}

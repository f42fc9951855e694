//! Agents. Creation takes the tenant's counter lock, so `maxAgents` holds under races.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{enum_from_text, enum_to_text};
use super::{next_version, now, Db, StoreError, StoreResult};
use crate::domain::agent::{Agent, AgentFields};
use crate::domain::ids::{AgentId, TenantId};
use crate::{in_transaction, on_reader};

macro_rules! agent_columns {
    () => {
        "tenant_id, id, name, status, metadata, created_at, updated_at"
    };
}

#[derive(sqlx::FromRow)]
struct AgentRow {
    tenant_id: TenantId,
    id: AgentId,
    name: String,
    status: String,
    metadata: Json<serde_json::Map<String, serde_json::Value>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl AgentRow {
    fn into_agent(self) -> StoreResult<Agent> {
        Ok(Agent {
            id: self.id,
            tenant_id: self.tenant_id,
            name: self.name,
            status: enum_from_text(&self.status)?,
            metadata: self.metadata.0,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Counts of a tenant's agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounts {
    pub total: i64,
    pub active: i64,
}

/// Why an agent could not be created.
#[derive(Debug)]
pub enum CreateAgentError {
    LimitReached { limit: i64, current: i64 },
    Store(StoreError),
}

impl From<StoreError> for CreateAgentError {
    fn from(error: StoreError) -> Self {
        CreateAgentError::Store(error)
    }
}

impl From<sqlx::Error> for CreateAgentError {
    fn from(error: sqlx::Error) -> Self {
        CreateAgentError::Store(error.into())
    }
}

impl Db {
    /// Creates an agent unless the tenant has `max_agents` already.
    pub async fn create_agent(
        &self,
        tenant_id: TenantId,
        fields: &AgentFields,
        max_agents: Option<i64>,
    ) -> Result<Agent, CreateAgentError> {
        let at = now();
        let row: AgentRow = in_transaction!(self, |tx, backend| {
            // Serializes agent creation per tenant (PostgreSQL); SQLite holds the write lock.
            let lock = format!(
                "SELECT tenant_id FROM tenant_counters WHERE tenant_id = $1{}",
                backend.lock_clause("tenant_counters")
            );
            sqlx::query(&lock).bind(tenant_id).execute(&mut *tx).await?;
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM agents WHERE tenant_id = $1")
                    .bind(tenant_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if let Some(limit) = max_agents.filter(|limit| count >= *limit) {
                return Err(CreateAgentError::LimitReached {
                    limit,
                    current: count,
                });
            }
            sqlx::query_as(concat!(
                "INSERT INTO agents (",
                agent_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
                agent_columns!()
            ))
            .bind(tenant_id)
            .bind(AgentId::generate())
            .bind(&fields.name)
            .bind(enum_to_text(&fields.status))
            .bind(Json(&fields.metadata))
            .bind(at)
            .fetch_one(&mut *tx)
            .await?
        });
        Ok(row.into_agent()?)
    }

    pub async fn find_agent(&self, tenant_id: TenantId, id: AgentId) -> StoreResult<Agent> {
        let row: Option<AgentRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                agent_columns!(),
                " FROM agents WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound)?.into_agent()
    }

    pub async fn list_agents(
        &self,
        tenant_id: TenantId,
        after: Option<AgentId>,
        limit: i64,
    ) -> StoreResult<Vec<Agent>> {
        let rows: Vec<AgentRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                agent_columns!(),
                " FROM agents WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
            ))
            .bind(tenant_id)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(AgentRow::into_agent).collect()
    }

    /// Replaces an agent's fields unless `expected` (an `If-Match` version) is stale.
    pub async fn update_agent(
        &self,
        tenant_id: TenantId,
        id: AgentId,
        fields: &AgentFields,
        expected: Option<DateTime<Utc>>,
        previous: DateTime<Utc>,
    ) -> StoreResult<Agent> {
        let row: Option<AgentRow> = in_transaction!(self, |tx| {
            sqlx::query_as(concat!(
                "UPDATE agents SET name = $3, status = $4, metadata = $5, updated_at = $6 \
                 WHERE tenant_id = $1 AND id = $2 AND ($7 IS NULL OR updated_at = $7) RETURNING ",
                agent_columns!()
            ))
            .bind(tenant_id)
            .bind(id)
            .bind(&fields.name)
            .bind(enum_to_text(&fields.status))
            .bind(Json(&fields.metadata))
            .bind(next_version(previous))
            .bind(expected)
            .fetch_optional(&mut *tx)
            .await?
        });
        row.ok_or(StoreError::Stale)?.into_agent()
    }

    pub async fn delete_agent(&self, tenant_id: TenantId, id: AgentId) -> StoreResult<()> {
        let deleted = in_transaction!(self, |tx| {
            sqlx::query("DELETE FROM agents WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn count_agents(&self, tenant_id: TenantId) -> StoreResult<AgentCounts> {
        let (total, active): (i64, Option<i64>) = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) \
                 FROM agents WHERE tenant_id = $1",
            )
            .bind(tenant_id)
            .fetch_one(pool)
            .await?
        });
        Ok(AgentCounts {
            total,
            active: active.unwrap_or(0),
        })
    }
}

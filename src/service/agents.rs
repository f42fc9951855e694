//! Agents: a tenant's voice agents, bounded by its `maxAgents`.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::lifecycle::refuse_if;
use super::tenants::TenantRef;
use super::{not_found, Context, Error, LimitRefusal, Result};
use crate::domain::agent::{Agent, AgentFields, AgentStatus, Metadata};
use crate::domain::ids::AgentId;
use crate::domain::policy::{act, Authorized};
use crate::domain::tenant::BlockedService;
use crate::domain::validation::Violations;
use crate::store;

fn checked(fields: AgentFields) -> Result<AgentFields> {
    let mut violations = Violations::default();
    fields.check(&mut violations);
    Ok(violations.finish(|| fields)?)
}

/// Creates an agent, unless the tenant's block refuses agents or it has `maxAgents` already.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn create(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ManageAgents>,
    fields: AgentFields,
) -> Result<Agent> {
    let fields = checked(fields)?;
    store::agents::create(
        &ctx.db,
        tenant.get().id,
        &fields,
        |current, max_agents, blocked| {
            refuse_if(
                blocked.contains(&BlockedService::Agents),
                BlockedService::Agents,
            )?;
            match max_agents.filter(|limit| current >= *limit) {
                Some(limit) => Err(Error::QuotaReached(LimitRefusal {
                    code: "agent_limit_reached",
                    limit: "maxAgents",
                    limit_value: limit,
                    current,
                })),
                None => Ok(()),
            }
        },
    )
    .await
}

#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn list(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadAgents>,
    after: Option<AgentId>,
    limit: i64,
) -> Result<Vec<Agent>> {
    Ok(store::agents::list(&ctx.db, tenant.get().id, after, limit).await?)
}

#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn get(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadAgents>,
    id: AgentId,
) -> Result<Agent> {
    store::agents::find(&ctx.db, tenant.get().id, id)
        .await
        .map_err(not_found("agent"))
}

/// What a change to an agent sets; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct AgentChanges {
    pub name: Option<String>,
    pub status: Option<AgentStatus>,
    pub metadata: Option<Metadata>,
}

/// Changes an agent. Switching one on is refused while the tenant's block refuses agents.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn update(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ManageAgents>,
    id: AgentId,
    expected: Option<DateTime<Utc>>,
    changes: AgentChanges,
) -> Result<Agent> {
    let tenant_id = tenant.get().id;
    store::agents::update(&ctx.db, tenant_id, id, expected, |current, blocked| {
        let fields = &current.fields;
        let switched_on =
            changes.status == Some(AgentStatus::Active) && fields.status != AgentStatus::Active;
        let service = BlockedService::Agents;
        refuse_if(switched_on && blocked.contains(&service), service)?;
        checked(AgentFields {
            name: changes.name.unwrap_or_else(|| fields.name.clone()),
            status: changes.status.unwrap_or(fields.status),
            metadata: changes.metadata.unwrap_or_else(|| fields.metadata.clone()),
        })
    })
    .await
    .map_err(|error| match error {
        Error::NotFound(_) => Error::NotFound("agent"),
        other => other,
    })
}

/// Deletes an agent; its past calls keep its id.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn delete(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ManageAgents>,
    id: AgentId,
) -> Result<()> {
    store::agents::delete(&ctx.db, tenant.get().id, id)
        .await
        .map_err(not_found("agent"))
}

//! `/api/v1/tenants/{tenantId}/agents`: a tenant's voice agents, bounded by `maxAgents`.

use crate::service::{Error, LimitRefusal};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::access::TenantAccess;
use crate::domain::agent::{Agent, AgentFields, AgentStatus};
use crate::domain::ids::{AgentId, TenantId};
use crate::domain::tenant::check_metadata;
use crate::domain::validation::Violations;
use crate::http::error::{not_found, ApiResult, Problem};
use crate::http::extract::{created, with_etag, IfMatch, Json, PathId, Query};
use crate::http::pagination::{Page, PageParams};
use crate::http::patch::present;
use crate::http::AppState;
use crate::store::agents::CreateAgentError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent, update_agent, delete_agent))
}

type Metadata = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAgentRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    #[serde(default)]
    pub status: Option<AgentStatus>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateAgentRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, max_length = 255)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub status: Option<AgentStatus>,
    /// Replaces the metadata object.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
}

fn checked(fields: AgentFields) -> ApiResult<AgentFields> {
    let mut violations = Violations::default();
    violations.length("name", &fields.name, 1, 255);
    check_metadata("metadata", &fields.metadata, &mut violations);
    Ok(violations.finish(|| fields)?)
}

/// Create an agent, unless the tenant has `maxAgents` already (403 `agent_limit_reached`).
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/agents", tag = "agents",
    params(("tenantId" = TenantId, Path)), request_body = CreateAgentRequest,
    responses((status = 201, body = Agent),
        (status = 403, body = Problem, description = "`agent_limit_reached`")))]
async fn create_agent(
    State(state): State<AppState>,
    access: TenantAccess,
    Json(request): Json<CreateAgentRequest>,
) -> ApiResult<Response> {
    let fields = checked(AgentFields {
        name: request.name,
        status: request.status.unwrap_or_default(),
        metadata: request.metadata.unwrap_or_default(),
    })?;
    let tenant = crate::store::tenants::find(
        &state.ctx.db,
        access.caller.tenant_scope(),
        access.tenant_id,
    )
    .await
    .map_err(not_found("tenant"))?;
    let max_agents = tenant
        .effective_limits
        .get(crate::domain::limits::LimitKey::MaxAgents);
    let agent = state
        .ctx
        .db
        .create_agent(access.tenant_id, &fields, max_agents)
        .await
        .map_err(|e| match e {
            CreateAgentError::LimitReached { limit, current } => {
                Error::QuotaReached(LimitRefusal {
                    code: "agent_limit_reached",
                    limit: "maxAgents",
                    limit_value: limit,
                    current,
                })
            }
            CreateAgentError::Store(store) => store.into(),
        })?;
    Ok(created(agent.updated_at, agent))
}

/// List a tenant's agents.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/agents", tag = "agents",
    params(("tenantId" = TenantId, Path), PageParams),
    responses((status = 200, body = Page<Agent>)))]
async fn list_agents(
    State(state): State<AppState>,
    access: TenantAccess,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<Agent>>> {
    let limit = page.limit()?;
    let agents = state
        .ctx
        .db
        .list_agents(access.tenant_id, page.after()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(agents, limit, |agent| agent.id)))
}

/// Get an agent.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/agents/{agentId}", tag = "agents",
    params(("tenantId" = TenantId, Path), ("agentId" = AgentId, Path)),
    responses((status = 200, body = Agent)))]
async fn get_agent(
    State(state): State<AppState>,
    access: TenantAccess,
    PathId(agent_id): PathId<AgentId>,
) -> ApiResult<Response> {
    let agent = state
        .ctx
        .db
        .find_agent(access.tenant_id, agent_id)
        .await
        .map_err(not_found("agent"))?;
    Ok(with_etag(agent.updated_at, agent))
}

/// Update an agent.
#[utoipa::path(patch, path = "/api/v1/tenants/{tenantId}/agents/{agentId}", tag = "agents",
    params(("tenantId" = TenantId, Path), ("agentId" = AgentId, Path)),
    request_body = UpdateAgentRequest, responses((status = 200, body = Agent)))]
async fn update_agent(
    State(state): State<AppState>,
    access: TenantAccess,
    PathId(agent_id): PathId<AgentId>,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdateAgentRequest>,
) -> ApiResult<Response> {
    let agent = state
        .ctx
        .db
        .find_agent(access.tenant_id, agent_id)
        .await
        .map_err(not_found("agent"))?;
    let agent_version = agent.updated_at;
    let fields = checked(AgentFields {
        name: request.name.unwrap_or(agent.name),
        status: request.status.unwrap_or(agent.status),
        metadata: request.metadata.unwrap_or(agent.metadata),
    })?;
    let agent = state
        .ctx
        .db
        .update_agent(access.tenant_id, agent_id, &fields, expected, agent_version)
        .await?;
    Ok(with_etag(agent.updated_at, agent))
}

/// Delete an agent. Its past calls keep their `agentId`.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenantId}/agents/{agentId}", tag = "agents",
    params(("tenantId" = TenantId, Path), ("agentId" = AgentId, Path)),
    responses((status = 204, description = "Deleted")))]
async fn delete_agent(
    State(state): State<AppState>,
    access: TenantAccess,
    PathId(agent_id): PathId<AgentId>,
) -> ApiResult<StatusCode> {
    state
        .ctx
        .db
        .delete_agent(access.tenant_id, agent_id)
        .await
        .map_err(not_found("agent"))?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/tenants/{tenantId}/agents`: a tenant's voice agents, bounded by `maxAgents`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::agent::{Agent, AgentFields, AgentStatus, Metadata};
use crate::domain::ids::{AgentId, TenantId};
use crate::domain::policy::act;
use crate::domain::validation::Violations;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{created, with_etag, IfMatch, Json, PathId, Query};
use crate::http::pagination::{Page, PageParams};
use crate::http::patch::Patch;
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::agents::{self, AgentChanges};
use crate::service::tenants::TenantRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent, update_agent, delete_agent))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Agent)]
pub struct AgentBody {
    pub id: AgentId,
    pub tenant_id: TenantId,
    pub name: String,
    pub status: AgentStatus,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Agent> for AgentBody {
    fn from(agent: Agent) -> Self {
        AgentBody {
            id: agent.id,
            tenant_id: agent.tenant_id,
            name: agent.fields.name,
            status: agent.fields.status,
            metadata: agent.fields.metadata,
            created_at: agent.created_at,
            updated_at: agent.updated_at,
        }
    }
}

/// The agent with its ETag.
fn answer(agent: Agent) -> Response {
    with_etag(agent.updated_at, AgentBody::from(agent))
}

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
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 255)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<AgentStatus>, nullable = false)]
    pub status: Patch<AgentStatus>,
    /// Replaces the metadata object.
    #[serde(default)]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub metadata: Patch<Metadata>,
}

impl UpdateAgentRequest {
    fn into_changes(self) -> ApiResult<AgentChanges> {
        let mut violations = Violations::default();
        let changes = AgentChanges {
            name: self.name.non_null("name", &mut violations),
            status: self.status.non_null("status", &mut violations),
            metadata: self.metadata.non_null("metadata", &mut violations),
        };
        Ok(violations.finish(|| changes)?)
    }
}

/// Create an agent, unless the tenant has `maxAgents` already (403 `agent_limit_reached`).
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/agents", tag = "agents",
    params(("tenantId" = TenantId, Path)), request_body = CreateAgentRequest,
    responses((status = 201, body = AgentBody),
        (status = 403, body = Problem, description = "`agent_limit_reached`")))]
async fn create_agent(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ManageAgents>,
    Json(request): Json<CreateAgentRequest>,
) -> ApiResult<Response> {
    let fields = AgentFields {
        name: request.name,
        status: request.status.unwrap_or_default(),
        metadata: request.metadata.unwrap_or_default(),
    };
    let agent = agents::create(&state.ctx, tenant, fields).await?;
    Ok(created(agent.updated_at, AgentBody::from(agent)))
}

/// List a tenant's agents.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/agents", tag = "agents",
    params(("tenantId" = TenantId, Path), PageParams),
    responses((status = 200, body = Page<AgentBody>)))]
async fn list_agents(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadAgents>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<AgentBody>>> {
    let limit = page.limit()?;
    let rows = agents::list(&state.ctx, tenant, page.after()?, limit + 1).await?;
    let rows = rows.into_iter().map(AgentBody::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |agent| agent.id)))
}

/// Get an agent.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/agents/{agentId}", tag = "agents",
    params(("tenantId" = TenantId, Path), ("agentId" = AgentId, Path)),
    responses((status = 200, body = AgentBody)))]
async fn get_agent(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadAgents>,
    PathId(agent_id): PathId<AgentId>,
) -> ApiResult<Response> {
    Ok(answer(agents::get(&state.ctx, tenant, agent_id).await?))
}

/// Update an agent.
#[utoipa::path(patch, path = "/api/v1/tenants/{tenantId}/agents/{agentId}", tag = "agents",
    params(("tenantId" = TenantId, Path), ("agentId" = AgentId, Path)),
    request_body = UpdateAgentRequest, responses((status = 200, body = AgentBody)))]
async fn update_agent(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ManageAgents>,
    PathId(agent_id): PathId<AgentId>,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdateAgentRequest>,
) -> ApiResult<Response> {
    let changes = request.into_changes()?;
    let agent = agents::update(&state.ctx, tenant, agent_id, expected, changes).await?;
    Ok(answer(agent))
}

/// Delete an agent. Its past calls keep their `agentId`.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenantId}/agents/{agentId}", tag = "agents",
    params(("tenantId" = TenantId, Path), ("agentId" = AgentId, Path)),
    responses((status = 204, description = "Deleted")))]
async fn delete_agent(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ManageAgents>,
    PathId(agent_id): PathId<AgentId>,
) -> ApiResult<StatusCode> {
    agents::delete(&state.ctx, tenant, agent_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

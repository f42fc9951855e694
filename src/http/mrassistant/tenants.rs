//! `/tenants`: MrAssistant's tenant routes (seeds 000 and 002), on the same use cases as v1's
//! `/api/v1/tenants`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::requests::{ListParams, TenantInput};
use super::shapes::TenantResponse;
use super::{HttpError, HttpValidationError, QueryParams};
use crate::domain::access::Caller;
use crate::domain::ids::{TenantId, TypedId};
use crate::domain::policy::act;
use crate::domain::tenant::Tenant;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, PathId};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::tenants::TenantRef;
use crate::service::{analytics, lifecycle, tenants};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
        .routes(routes!(get_tenant_stats))
}

/// Create Tenant.
///
/// The tenant belongs to the caller's agency. `max_concurrent_calls` and `monthly_call_limit`
/// become the tenant's own limits; without them it has its plan's.
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = TenantInput,
    responses((status = 200, body = TenantResponse), (status = 422, body = HttpValidationError),
        (status = 403, body = HttpError)))]
async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<TenantInput>,
) -> ApiResult<Json<TenantResponse>> {
    let new = request.into_new_tenant()?;
    let tenant = tenants::create(&state.ctx, &caller, new).await?;
    Ok(Json(tenant.into()))
}

/// List Tenants.
///
/// The tenants the caller can see, newest first.
#[utoipa::path(get, path = "/tenants", tag = "tenants", params(ListParams),
    responses((status = 200, body = Vec<TenantResponse>), (status = 422, body = HttpValidationError)))]
async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<Vec<TenantResponse>>> {
    let Some(query) = params.into_query()? else {
        return Ok(Json(Vec::new()));
    };
    let rows = tenants::list(&state.ctx, &caller, &query).await?;
    Ok(Json(rows.into_iter().map(TenantResponse::from).collect()))
}

/// Get Tenant.
#[utoipa::path(get, path = "/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = Uuid, Path)),
    responses((status = 200, body = TenantResponse), (status = 404, body = HttpError)))]
async fn get_tenant(InPath(tenant): InPath<Tenant, act::ReadTenant>) -> Json<TenantResponse> {
    Json(tenant.into_inner().into())
}

/// Update Tenant.
///
/// Every field is optional; absent fields keep their value. Changing `billing_plan` or a limit
/// needs the agency's or the platform's key.
#[utoipa::path(put, path = "/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = Uuid, Path)), request_body = TenantInput,
    responses((status = 200, body = TenantResponse), (status = 422, body = HttpValidationError),
        (status = 403, body = HttpError), (status = 404, body = HttpError)))]
async fn update_tenant(
    State(state): State<AppState>,
    InPath(tenant): InPath<Tenant, act::UpdateTenant>,
    Json(request): Json<TenantInput>,
) -> ApiResult<Json<TenantResponse>> {
    let update = request.into_update()?;
    let tenant = tenants::update(&state.ctx, tenant, None, update).await?;
    Ok(Json(tenant.into()))
}

/// Delete Tenant (PERMANENT).
///
/// Deletes the tenant and everything it owns at once: agents, calls, recordings, workflows,
/// integrations, files, SIP trunks, squads. Refused with 409 while it has calls in progress.
#[utoipa::path(delete, path = "/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = HttpError),
        (status = 409, body = HttpError, description = "Calls are in progress")))]
async fn delete_tenant(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TenantId>,
) -> ApiResult<StatusCode> {
    // Not `InPath`: a soft-deleted (`inactive`) tenant may be deleted for good too.
    lifecycle::purge(&state.ctx, &caller, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tenant usage statistics and analytics.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantStatsResponse {
    pub tenant_id: Uuid,
    pub total_agents: i64,
    pub total_calls_today: i64,
    /// Calls in the current billing period.
    pub total_calls_month: i64,
    /// Mean length of this period's completed calls, in seconds.
    pub avg_call_duration: f64,
    /// Mean sentiment of this period's calls, -1 to 1; `null` when none was scored.
    pub avg_sentiment_score: Option<f64>,
    /// Calls in progress.
    pub active_sessions: i64,
    pub monthly_usage_cents: i64,
    pub last_call_at: Option<DateTime<Utc>>,
}

/// Get Tenant Stats.
///
/// Read from the tenant's counters and daily rollups, never from its calls.
#[utoipa::path(get, path = "/tenants/{tenant_id}/stats", tag = "tenants",
    params(("tenant_id" = Uuid, Path)),
    responses((status = 200, body = TenantStatsResponse), (status = 404, body = HttpError)))]
async fn get_tenant_stats(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadTenantAnalytics>,
) -> ApiResult<Json<TenantStatsResponse>> {
    let stats = analytics::stats(&state.ctx, tenant).await?;
    Ok(Json(TenantStatsResponse {
        tenant_id: stats.tenant_id.uuid(),
        total_agents: stats.activity.agents,
        total_calls_today: stats.calls_today,
        total_calls_month: stats.calls_this_period,
        avg_call_duration: stats.avg_call_seconds,
        avg_sentiment_score: stats.avg_sentiment_score,
        active_sessions: stats.activity.active_calls,
        monthly_usage_cents: stats.period_cost_cents,
        last_call_at: stats.activity.last_call_at,
    }))
}

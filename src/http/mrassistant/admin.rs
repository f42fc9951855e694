//! `/admin/tenants` and `/analytics/tenants/{tenant_id}/quota`: MrAssistant's admin views
//! (seed 001), quota and quota view, on the same use cases as v1.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::requests::{BlockInput, ListParams, QuotaUpdate, QUOTA_FIELDS};
use super::shapes::{QuotaInfo, TenantDetails, TenantResponse, TenantSummary};
use super::{HttpError, HttpValidationError, QueryParams};
use crate::domain::access::Caller;
use crate::domain::ids::TypedId;
use crate::domain::policy::act;
use crate::domain::tenant::Tenant;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::tenants::TenantRef;
use crate::service::{lifecycle, tenants};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_all_tenants))
        .routes(routes!(get_tenant_details))
        .routes(routes!(update_tenant_quota))
        .routes(routes!(block_tenant))
        .routes(routes!(get_tenant_quota))
}

/// List All Tenants.
///
/// Summary rows of the tenants the caller can see, newest first.
#[utoipa::path(get, path = "/admin/tenants", tag = "admin", params(ListParams),
    responses((status = 200, body = Vec<TenantSummary>), (status = 422, body = HttpValidationError)))]
async fn list_all_tenants(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<Vec<TenantSummary>>> {
    let Some(query) = params.into_query()? else {
        return Ok(Json(Vec::new()));
    };
    let rows = tenants::list_with_activity(&state.ctx, &caller, &query).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(tenant, activity)| TenantSummary::new(tenant, activity))
            .collect(),
    ))
}

/// Get Tenant Details.
#[utoipa::path(get, path = "/admin/tenants/{tenant_id}", tag = "admin",
    params(("tenant_id" = Uuid, Path)),
    responses((status = 200, body = TenantDetails), (status = 404, body = HttpError)))]
async fn get_tenant_details(
    State(state): State<AppState>,
    InPath(tenant): InPath<Tenant, act::ReadTenant>,
) -> ApiResult<Json<TenantDetails>> {
    let activity = tenants::activity(&state.ctx, &tenant).await?;
    Ok(Json(TenantDetails::new(tenant.into_inner(), activity)))
}

/// Every quota of a tenant, as its limits now are; `null` is unlimited.
#[derive(Debug, Serialize, ToSchema)]
pub struct FullQuota {
    pub max_agents: Option<f64>,
    pub max_squads: Option<f64>,
    pub max_calls_per_month: Option<f64>,
    pub max_concurrent_calls: Option<f64>,
    pub max_minutes_per_month: Option<f64>,
    pub max_campaigns: Option<f64>,
    pub max_recordings_gb: Option<f64>,
    pub max_files_gb: Option<f64>,
    pub max_file_size_mb: Option<f64>,
}

/// The answer to a quota update.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaResponse {
    pub tenant_id: Uuid,
    #[schema(value_type = FullQuota)]
    pub quota: serde_json::Map<String, serde_json::Value>,
}

/// Update Tenant Quota.
///
/// Each value becomes the tenant's own limit, overriding its plan's. Campaigns are run by the
/// data plane, which enforces `max_campaigns`; tenantry enforces the rest.
#[utoipa::path(put, path = "/admin/tenants/{tenant_id}/quota", tag = "admin",
    params(("tenant_id" = Uuid, Path)), request_body = QuotaUpdate,
    responses((status = 200, body = QuotaResponse), (status = 422, body = HttpValidationError),
        (status = 403, body = HttpError), (status = 404, body = HttpError)))]
async fn update_tenant_quota(
    State(state): State<AppState>,
    InPath(tenant): InPath<Tenant, act::UpdateTenant>,
    Json(request): Json<QuotaUpdate>,
) -> ApiResult<Json<QuotaResponse>> {
    let update = request.into_update()?;
    let tenant = tenants::update(&state.ctx, tenant, None, update).await?;
    let quota = QUOTA_FIELDS
        .iter()
        .map(|&(field, key, _, _)| {
            let value = tenant.effective_limits.get(key).map(|v| key.to_wire(v));
            (
                field.to_owned(),
                value.map_or(serde_json::Value::Null, Into::into),
            )
        })
        .collect();
    Ok(Json(QuotaResponse {
        tenant_id: tenant.id.uuid(),
        quota,
    }))
}

/// Block Tenant.
///
/// Blocks some of a tenant's services, or with `blocked: false` lifts its block. Each blocked
/// service is refused with 403 `service_blocked`, and the tenant's `status` reads `blocked`.
/// Answers the tenant.
#[utoipa::path(post, path = "/admin/tenants/{tenant_id}/block", tag = "admin",
    params(("tenant_id" = Uuid, Path)), request_body = BlockInput,
    responses((status = 200, body = TenantResponse), (status = 422, body = HttpValidationError),
        (status = 403, body = HttpError), (status = 404, body = HttpError)))]
async fn block_tenant(
    State(state): State<AppState>,
    // Before the body: who may not block the tenant learns nothing from a bad body.
    InPath(tenant): InPath<TenantRef, act::BlockTenant>,
    Json(request): Json<BlockInput>,
) -> ApiResult<Json<TenantResponse>> {
    let request = request.into_request()?;
    let tenant = lifecycle::set_block(&state.ctx, tenant, request).await?;
    Ok(Json(tenant.into()))
}

/// Get Tenant Quota.
#[utoipa::path(get, path = "/analytics/tenants/{tenant_id}/quota", tag = "analytics",
    params(("tenant_id" = Uuid, Path)),
    responses((status = 200, body = QuotaInfo), (status = 404, body = HttpError)))]
async fn get_tenant_quota(
    State(state): State<AppState>,
    InPath(tenant): InPath<Tenant, act::ReadLimits>,
) -> ApiResult<Json<QuotaInfo>> {
    let activity = tenants::activity(&state.ctx, &tenant).await?;
    Ok(Json(QuotaInfo::new(tenant.into_inner(), activity)))
}

//! `POST /api/v1/tenants/{tenantId}/deactivate` and `…/reactivate`: for the tenant's agency
//! and the platform. A tenant's own keys and people cannot undo a deactivation.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::body::TenantBody;
use crate::domain::ids::TenantId;
use crate::domain::policy::act;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{with_etag, Json};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::lifecycle::{self, DeactivateRequest};
use crate::service::tenants::TenantRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deactivate_tenant))
        .routes(routes!(reactivate_tenant))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeactivateTenantRequest {
    /// Why; kept as `deactivationReason` and told to the owner.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500, example = "Non-payment")]
    pub reason: Option<String>,
    /// Mail the tenant's owner about it.
    #[serde(default)]
    pub notify_owner: bool,
}

/// Deactivate a tenant (seed 003).
///
/// The tenant becomes `inactive`, with `deactivatedAt` and `deactivationReason`. Its active
/// agents are switched off (and remembered), new calls are refused with 403
/// `tenant_inactive` while calls in progress may end, and the tenant's own keys and people
/// get 403 `tenant_inactive` on every route. Its agency and the platform can still read it and
/// reactivate it. No data is removed. An inactive tenant is a 409 `tenant_not_active`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/deactivate", tag = "tenants",
    params(("tenantId" = TenantId, Path)), request_body = DeactivateTenantRequest,
    responses((status = 200, body = TenantBody, headers(("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn deactivate_tenant(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::DeactivateTenant>,
    Json(request): Json<DeactivateTenantRequest>,
) -> ApiResult<Response> {
    let request = DeactivateRequest {
        reason: request.reason,
        notify_owner: request.notify_owner,
    };
    let tenant = lifecycle::deactivate(&state.ctx, tenant, request).await?;
    Ok(with_etag(tenant.updated_at, TenantBody::from(tenant)))
}

/// Reactivate a tenant: `active` again, with exactly the agents its deactivation switched
/// off. A tenant that is not inactive is a 409 `tenant_not_inactive`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/reactivate", tag = "tenants",
    params(("tenantId" = TenantId, Path)),
    responses((status = 200, body = TenantBody, headers(("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn reactivate_tenant(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::DeactivateTenant>,
) -> ApiResult<Response> {
    let tenant = lifecycle::reactivate(&state.ctx, tenant).await?;
    Ok(with_etag(tenant.updated_at, TenantBody::from(tenant)))
}

//! A tenant's lifecycle routes: deactivate, reactivate, block, delete (soft or permanent) and
//! restore, for the tenant's agency and the platform. A tenant's own keys and people cannot
//! undo them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::body::TenantBody;
use crate::domain::access::Caller;
use crate::domain::ids::TenantId;
use crate::domain::policy::act;
use crate::domain::tenant::BlockedService;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{with_etag, Json, PathId, Query};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::lifecycle::{self, BlockRequest, DeactivateRequest};
use crate::service::tenants::TenantRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deactivate_tenant))
        .routes(routes!(reactivate_tenant))
        .routes(routes!(block_tenant))
        .routes(routes!(restore_tenant))
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BlockTenantRequest {
    /// `true` blocks; `false` lifts the whole block (`reason` and `blockServices` are then
    /// checked but ignored).
    pub blocked: bool,
    /// Why; kept with the block as `block.reason`.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500, example = "Payment overdue")]
    pub reason: Option<String>,
    /// The services to refuse; omitted or `null` refuses all five. Replaces the services of a
    /// block in force.
    #[serde(default)]
    #[schema(min_items = 1, example = json!(["calls", "agents"]))]
    pub block_services: Option<Vec<BlockedService>>,
}

/// Block or unblock a tenant's services.
///
/// While a block is in force, each service it names is refused with 403 `service_blocked`
/// (the problem's `service` names it): `calls` (starting calls; calls in progress may end),
/// `agents` (creating agents and switching one on), `sip` (creating and changing SIP trunks
/// and phone numbers), `recordings` (listing, reading, playing and storing recordings) and
/// `analytics` (the tenant's analytics). Everything else works, deleting included. The
/// tenant's `status` reads `blocked` while it is active, and `block` shows the services, the
/// reason and `blockedAt`. `blocked: false` lifts the whole block.
///
/// Blocking is idempotent: the same block again, or lifting no block, changes nothing (the
/// same version, no audit entry, no event). Otherwise the trail records `tenant.blocked` or
/// `tenant.unblocked`, each also an event.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/block", tag = "tenants",
    params(("tenantId" = TenantId, Path)), request_body = BlockTenantRequest,
    responses((status = 200, body = TenantBody, headers(("ETag" = String))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn block_tenant(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::BlockTenant>,
    Json(request): Json<BlockTenantRequest>,
) -> ApiResult<Response> {
    let request = BlockRequest {
        blocked: request.blocked,
        reason: request.reason,
        services: request.block_services,
    };
    let tenant = lifecycle::set_block(&state.ctx, tenant, request).await?;
    Ok(with_etag(tenant.updated_at, TenantBody::from(tenant)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteTenantParams {
    /// End the tenant's calls in progress (as `terminated`) instead of refusing; with
    /// `permanent`, delete them with the rest.
    #[serde(default)]
    pub force: bool,
    /// Delete the tenant and everything it owns now, for good, instead of after the grace
    /// period.
    #[serde(default)]
    pub permanent: bool,
}

/// Delete a tenant (soft, or with `permanent=true` for good).
///
/// The tenant becomes `deleted` with `deletedAt` and `purgeAfter` (`--deletion-grace-days`
/// later, 30 by default). It leaves every list unless `status=deleted` is asked for, its keys
/// and people get 401, and `POST …/restore` brings it back, inactive, until `purgeAfter`. With
/// calls in progress it is a 409 `tenant_has_active_calls`, unless `force=true`, which ends
/// them as `terminated`. Nothing is removed yet: the purge job removes it after `purgeAfter`.
///
/// With `permanent=true` the tenant (active, inactive or already deleted) and every row it
/// owns are removed at once in one transaction, and its stored bytes after it: a 204, and the
/// id is a 404 everywhere from then on, restore included. Calls in progress refuse it as
/// above unless `force=true`.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenantId}", tag = "tenants",
    params(("tenantId" = TenantId, Path), DeleteTenantParams),
    responses((status = 200, body = TenantBody, headers(("ETag" = String))),
        (status = 204, description = "Permanently deleted"),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn delete_tenant(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TenantId>,
    Query(params): Query<DeleteTenantParams>,
) -> ApiResult<Response> {
    if params.permanent {
        lifecycle::purge(&state.ctx, &caller, id, params.force).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let tenant = lifecycle::delete(&state.ctx, &caller, id, params.force).await?;
    Ok(with_etag(tenant.updated_at, TenantBody::from(tenant)))
}

/// Restore a deleted tenant within its grace period: it comes back `inactive`, to be
/// reactivated. A tenant that is not deleted is a 409 `tenant_not_deleted`; one past its
/// `purgeAfter` a 409 `grace_period_over`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/restore", tag = "tenants",
    params(("tenantId" = TenantId, Path)),
    responses((status = 200, body = TenantBody, headers(("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn restore_tenant(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TenantId>,
) -> ApiResult<Response> {
    let tenant = lifecycle::restore(&state.ctx, &caller, id).await?;
    Ok(with_etag(tenant.updated_at, TenantBody::from(tenant)))
}

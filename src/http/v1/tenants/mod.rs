//! `/api/v1/tenants`: create, list, read and change client tenants.

use crate::service::Error;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderValue};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::{Caller, Scope};
use crate::domain::ids::{AgencyId, PlanId, TenantId};
use crate::domain::policy::{self, Action};
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::validation::Violations;
use crate::http::error::{not_found, ApiError, ApiResult, Problem};
use crate::http::extract::{created, with_etag, IfMatch, Json, PathId, Query};
use crate::http::pagination::{decode_cursor, Page, DEFAULT_LIMIT, MAX_CURSOR_LEN, MAX_LIMIT};
use crate::http::AppState;
use crate::store::plans::PlanRef;
use crate::store::tenants::{SortValue, TenantQuery, TenantSort};
use crate::store::StoreError;

pub mod requests;

use requests::{CreateTenantRequest, UpdateTenantRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant))
}

/// The tenant named by `{tenantId}`, loaded through the caller's scope: a tenant the caller
/// may not see is a 404 before the handler runs.
pub struct ScopedTenant(pub Tenant);

impl FromRequestParts<AppState> for ScopedTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let PathId(id) = PathId::<TenantId>::from_request_parts(parts, state).await?;
        state
            .ctx
            .db
            .find_tenant(caller.tenant_scope(), id)
            .await
            .map(ScopedTenant)
            .map_err(not_found("tenant"))
    }
}

/// Resolves a plan code, as a field error when there is no such plan.
async fn plan_id(state: &AppState, code: &str) -> ApiResult<PlanId> {
    match state
        .ctx
        .db
        .find_plan(&PlanRef::Code(code.to_owned()))
        .await
    {
        Ok(plan) => Ok(plan.id),
        Err(StoreError::NotFound) => Err(ApiError::field("plan", "unknown_plan", "no such plan")),
        Err(other) => Err(other.into()),
    }
}

/// The agency a new tenant belongs to, as the caller may choose it.
async fn owning_agency(
    state: &AppState,
    caller: &Caller,
    requested: Option<AgencyId>,
) -> ApiResult<Option<AgencyId>> {
    policy::require(caller, Action::CreateTenant).map_err(Error::refused("tenant"))?;
    match (caller.scope, requested) {
        (Scope::Agency(own), None) => Ok(Some(own)),
        (Scope::Agency(own), Some(requested)) if requested == own => Ok(Some(requested)),
        (Scope::Platform, None) => Ok(None),
        (Scope::Platform, Some(requested)) => {
            match crate::store::agencies::find(&state.ctx.db, requested).await {
                Ok(_) => Ok(Some(requested)),
                Err(StoreError::NotFound) => Err(ApiError::field(
                    "agencyId",
                    "unknown_agency",
                    "no such agency",
                )),
                Err(other) => Err(other.into()),
            }
        }
        _ => Err(Error::Forbidden("an agency key creates tenants only in its own agency").into()),
    }
}

/// Create a tenant.
///
/// An agency key's tenants belong to its agency; a platform key may name `agencyId`, or none
/// for a direct tenant. `owner` is kept exactly as supplied; its `id` stays `null` until the
/// owner accepts the invitation, so an address never reveals another tenant's user.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenantRequest,
    responses((status = 201, body = Tenant, headers(("ETag" = String), ("Location" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "The slug is taken")))]
async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateTenantRequest>,
) -> ApiResult<Response> {
    let agency_id = owning_agency(&state, &caller, request.agency_id).await?;
    let mut new = request.into_new_tenant()?;
    new.agency_id = agency_id;
    let plan_id = plan_id(&state, &new.plan_code).await?;
    let tenant = state.ctx.db.create_tenant(&new, plan_id).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/tenants/{}", tenant.id))
        .map_err(|e| Error::Internal(e.into()))?;
    let mut response = created(tenant.updated_at, tenant);
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SortBy {
    Name,
    Slug,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListTenantsParams {
    pub status: Option<TenantStatus>,
    /// A plan code.
    #[param(max_length = 100)]
    pub plan: Option<String>,
    pub agency_id: Option<AgencyId>,
    /// Prefix of the name or the slug, case-insensitive.
    #[param(max_length = 255)]
    pub q: Option<String>,
    /// Default `createdAt`.
    #[param(inline)]
    pub sort_by: Option<SortBy>,
    /// Default `desc` for dates, `asc` for names and slugs.
    #[param(inline)]
    pub order: Option<Order>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// What a tenant-list cursor holds: the sort it belongs to and the last row's position.
#[derive(Debug, Serialize, Deserialize)]
struct TenantCursor {
    sort: String,
    desc: bool,
    value: SortValue,
    id: TenantId,
}

impl ListTenantsParams {
    fn into_query(self) -> ApiResult<TenantQuery> {
        let sort = match self.sort_by.unwrap_or(SortBy::CreatedAt) {
            SortBy::Name => TenantSort::Name,
            SortBy::Slug => TenantSort::Slug,
            SortBy::CreatedAt => TenantSort::CreatedAt,
            SortBy::UpdatedAt => TenantSort::UpdatedAt,
        };
        let descending = match self.order {
            Some(order) => matches!(order, Order::Desc),
            None => matches!(sort, TenantSort::CreatedAt | TenantSort::UpdatedAt),
        };
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        let mut violations = Violations::default();
        violations.range("limit", limit, 1, MAX_LIMIT);
        if let Some(q) = &self.q {
            violations.length("q", q, 0, 255);
        }
        if let Some(plan) = &self.plan {
            violations.length("plan", plan, 0, 100);
        }
        if let Some(cursor) = &self.cursor {
            violations.length("cursor", cursor, 0, MAX_CURSOR_LEN);
        }
        violations.finish(|| ())?;
        let after = match self.cursor.as_deref() {
            None => None,
            Some(text) => {
                let cursor: TenantCursor = decode_cursor(text)?;
                if cursor.sort != format!("{sort:?}")
                    || cursor.desc != descending
                    || !sort.accepts(&cursor.value)
                {
                    return Err(ApiError::field(
                        "cursor",
                        "invalid_cursor",
                        "belongs to a list with another sort order",
                    ));
                }
                Some((cursor.value, cursor.id))
            }
        };
        Ok(TenantQuery {
            status: self.status,
            plan_code: self.plan,
            agency_id: self.agency_id,
            name_prefix: self.q.filter(|q| !q.is_empty()),
            sort,
            descending,
            after,
            limit,
        })
    }
}

/// List the tenants the caller can see.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", params(ListTenantsParams),
    responses((status = 200, body = Page<Tenant>)))]
async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListTenantsParams>,
) -> ApiResult<Json<Page<Tenant>>> {
    let mut query = params.into_query()?;
    let limit = query.limit;
    query.limit += 1;
    let tenants = state
        .ctx
        .db
        .list_tenants(caller.tenant_scope(), &query)
        .await?;
    let (sort, desc) = (query.sort, query.descending);
    Ok(Json(Page::from_rows(tenants, limit, |tenant| {
        TenantCursor {
            sort: format!("{sort:?}"),
            desc,
            value: sort.key_of(tenant),
            id: tenant.id,
        }
    })))
}

/// Get a tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}", tag = "tenants",
    params(("tenantId" = TenantId, Path)),
    responses((status = 200, body = Tenant, headers(("ETag" = String)))))]
async fn get_tenant(ScopedTenant(tenant): ScopedTenant) -> Response {
    with_etag(tenant.updated_at, tenant)
}

/// Update a tenant.
///
/// Nested objects (`usageLimits`, `billingAlerts`, `settings`, `metadata`) merge into the
/// current value; `null` clears a nullable field. Tenant keys may not change the plan,
/// limits or billing.
#[utoipa::path(patch, path = "/api/v1/tenants/{tenantId}", tag = "tenants",
    params(("tenantId" = TenantId, Path)), request_body = UpdateTenantRequest,
    responses((status = 200, body = Tenant, headers(("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "The slug is taken")))]
async fn update_tenant(
    State(state): State<AppState>,
    caller: Caller,
    ScopedTenant(current): ScopedTenant,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdateTenantRequest>,
) -> ApiResult<Response> {
    if request.touches_commercial_terms() {
        policy::require(&caller, Action::ChangeCommercialTerms)
            .map_err(Error::refused("tenant"))?;
    }
    let plan_id = match &request.plan {
        Some(code) => Some(plan_id(&state, code).await?),
        None => None,
    };
    let tenant = state
        .ctx
        .db
        .update_tenant(caller.tenant_scope(), current.id, expected, |current| {
            let changes = request.into_changes(current).map_err(Error::from)?;
            let relaxed = changes
                .settings
                .as_ref()
                .and_then(|settings| current.settings.compliance_switched_off(settings));
            if let Some(field) = relaxed {
                if policy::require(&caller, Action::RelaxCompliance).is_err() {
                    return Err(Error::ForbiddenField {
                        field,
                        detail:
                            "only the agency or the platform may switch a compliance setting off",
                    });
                }
            }
            Ok((changes, plan_id))
        })
        .await?;
    Ok(with_etag(tenant.updated_at, tenant))
}

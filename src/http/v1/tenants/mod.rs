//! `/api/v1/tenants`: create, list, read and change client tenants.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::policy::act;
use crate::domain::tenant::{EffectiveStatus, SortValue, Tenant, TenantQuery, TenantSort};
use crate::domain::time::BoundedTime;
use crate::domain::validation::Violations;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{created, with_etag, IfMatch, Json, Query};
use crate::http::pagination::{decode_cursor, Page, DEFAULT_LIMIT, MAX_CURSOR_LEN, MAX_LIMIT};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::{tenants, Error};

pub mod archive;
pub mod body;
pub mod lifecycle;
pub mod requests;

use body::TenantBody;
use requests::{CreateTenantRequest, UpdateTenantRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant, lifecycle::delete_tenant))
        .merge(lifecycle::router())
        .merge(archive::router())
}

/// Create a tenant.
///
/// An agency key's tenants belong to its agency; a platform key may name `agencyId`, or none
/// for a direct tenant. `owner` is kept exactly as supplied; its `id` stays `null` until the
/// owner accepts the invitation, so an address never reveals another tenant's user.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenantRequest,
    responses((status = 201, body = TenantBody, headers(("ETag" = String), ("Location" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "The slug is taken")))]
async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateTenantRequest>,
) -> ApiResult<Response> {
    let new = request.into_new_tenant()?;
    let tenant = tenants::create(&state.ctx, &caller, new).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/tenants/{}", tenant.id))
        .map_err(|e| Error::Internal(e.into()))?;
    let mut response = created(tenant.updated_at, TenantBody::from(tenant));
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListTenantsParams {
    /// As tenants show it: `active` leaves blocked tenants out, `blocked` lists the active
    /// tenants a block is in force on, `deleted` lists soft-deleted tenants (hidden otherwise).
    pub status: Option<EffectiveStatus>,
    /// A plan code.
    #[param(max_length = 100)]
    pub plan: Option<String>,
    pub agency_id: Option<AgencyId>,
    /// Text found anywhere in the name or the slug, ASCII letters in any case: 3 to 255
    /// characters (a trigram index serves it); empty means no filter.
    #[param(min_length = 3, max_length = 255)]
    pub q: Option<String>,
    /// Default `createdAt`.
    #[param(inline)]
    pub sort_by: Option<TenantSort>,
    /// Default `desc` for dates, `asc` for names and slugs.
    #[param(inline)]
    pub order: Option<Order>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// A sort value in a cursor; tagged, so a name that reads like a time stays text.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum CursorValue {
    Time(BoundedTime),
    Text(String),
}

/// What a tenant-list cursor holds: the sort it belongs to and the last row's position.
#[derive(Debug, Serialize, Deserialize)]
struct TenantCursor {
    sort: String,
    desc: bool,
    value: CursorValue,
    id: TenantId,
}

impl TenantCursor {
    fn after(tenant: &Tenant, sort: TenantSort, desc: bool) -> TenantCursor {
        let value = match sort.key_of(tenant) {
            SortValue::Time(time) => CursorValue::Time(time),
            SortValue::Text(text) => CursorValue::Text(text),
        };
        TenantCursor {
            sort: format!("{sort:?}"),
            desc,
            value,
            id: tenant.id,
        }
    }

    /// The position this cursor resumes after, if it belongs to this sort order.
    fn position(self, sort: TenantSort, desc: bool) -> ApiResult<(SortValue, TenantId)> {
        let value = match self.value {
            CursorValue::Time(time) => SortValue::Time(time),
            CursorValue::Text(text) => SortValue::Text(text),
        };
        if self.sort != format!("{sort:?}") || self.desc != desc || !sort.accepts(&value) {
            return Err(ApiError::field(
                "cursor",
                "invalid_cursor",
                "belongs to a list with another sort order",
            ));
        }
        Ok((value, self.id))
    }
}

impl ListTenantsParams {
    fn into_query(self) -> ApiResult<TenantQuery> {
        let sort = self.sort_by.unwrap_or(TenantSort::CreatedAt);
        let descending = match self.order {
            Some(order) => matches!(order, Order::Desc),
            None => sort.descending_by_default(),
        };
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        let mut violations = Violations::default();
        violations.range("limit", limit, 1, MAX_LIMIT);
        let search = self.q.filter(|q| !q.is_empty());
        for (field, value, min, max) in [
            ("q", &search, 3, 255),
            ("plan", &self.plan, 0, 100),
            ("cursor", &self.cursor, 0, MAX_CURSOR_LEN),
        ] {
            if let Some(value) = value {
                violations.length(field, value, min, max);
            }
        }
        violations.finish(|| ())?;
        let after = match self.cursor.as_deref() {
            None => None,
            Some(text) => Some(decode_cursor::<TenantCursor>(text)?.position(sort, descending)?),
        };
        Ok(TenantQuery {
            status: self.status,
            plan: self.plan,
            agency_id: self.agency_id,
            search,
            sort,
            descending,
            after,
            limit,
            offset: 0,
        })
    }
}

/// List the tenants the caller can see.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", params(ListTenantsParams),
    responses((status = 200, body = Page<TenantBody>)))]
async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListTenantsParams>,
) -> ApiResult<Json<Page<TenantBody>>> {
    let mut query = params.into_query()?;
    let limit = query.limit;
    query.limit += 1;
    let rows = tenants::list(&state.ctx, &caller, &query).await?;
    let (sort, desc) = (query.sort, query.descending);
    let page = Page::from_rows(rows, limit, |tenant| {
        TenantCursor::after(tenant, sort, desc)
    });
    Ok(Json(page.map(TenantBody::from)))
}

/// Get a tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}", tag = "tenants",
    params(("tenantId" = TenantId, Path)),
    responses((status = 200, body = TenantBody, headers(("ETag" = String)))))]
async fn get_tenant(InPath(tenant): InPath<Tenant, act::ReadTenant>) -> Response {
    let tenant = tenant.into_inner();
    with_etag(tenant.updated_at, TenantBody::from(tenant))
}

/// Update a tenant.
///
/// Nested objects (`usageLimits`, `billingAlerts`, `settings`, `metadata`) merge into the
/// current value; `null` clears a nullable field. Tenant keys may not change the plan,
/// limits or billing.
#[utoipa::path(patch, path = "/api/v1/tenants/{tenantId}", tag = "tenants",
    params(("tenantId" = TenantId, Path)), request_body = UpdateTenantRequest,
    responses((status = 200, body = TenantBody, headers(("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "The slug is taken")))]
async fn update_tenant(
    State(state): State<AppState>,
    InPath(tenant): InPath<Tenant, act::UpdateTenant>,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdateTenantRequest>,
) -> ApiResult<Response> {
    let update = request.into_update()?;
    let tenant = tenants::update(&state.ctx, tenant, expected, update).await?;
    Ok(with_etag(tenant.updated_at, TenantBody::from(tenant)))
}

//! `/api/v1/agencies` (platform keys) and `/api/v1/agency` (the caller's own agency).

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::platform_only;
use super::error::{not_found, ApiError, ApiResult};
use super::extract::{created, with_etag, IfMatch, Json, PathId, Query};
use super::pagination::{Page, PageParams};
use super::patch::present;
use super::AppState;
use crate::domain::access::Caller;
use crate::domain::agency::{Agency, MARKUP_PERCENT_MAX};
use crate::domain::ids::AgencyId;
use crate::domain::tenant::check_metadata;
use crate::domain::validation::Violations;
use crate::store::agencies::AgencyFields;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agencies, create_agency))
        .routes(routes!(get_agency, update_agency))
        .routes(routes!(own_agency))
}

type Metadata = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAgencyRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Added to tenants' cost to give the revenue the agency bills, in percent.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000, default = 0)]
    pub markup_percent: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateAgencyRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, max_length = 255)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 0, maximum = 1000)]
    pub markup_percent: Option<i64>,
    /// Replaces the metadata object.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
}

fn checked(fields: AgencyFields) -> ApiResult<AgencyFields> {
    let mut violations = Violations::default();
    violations.length("name", &fields.name, 1, 255);
    violations.range(
        "markupPercent",
        fields.markup_percent,
        0,
        MARKUP_PERCENT_MAX,
    );
    check_metadata("metadata", &fields.metadata, &mut violations);
    Ok(violations.finish(|| fields)?)
}

/// An agency the caller may see: the platform sees all, an agency key only its own.
async fn visible_agency(state: &AppState, caller: &Caller, id: AgencyId) -> ApiResult<Agency> {
    let allowed = match caller {
        Caller::Platform { .. } => true,
        Caller::Agency { agency_id, .. } => *agency_id == id,
        Caller::Tenant { .. } => false,
    };
    if !allowed {
        return Err(ApiError::NotFound("agency"));
    }
    state.db.find_agency(id).await.map_err(not_found("agency"))
}

/// List agencies (platform keys).
#[utoipa::path(get, path = "/api/v1/agencies", tag = "agencies", params(PageParams),
    responses((status = 200, body = Page<Agency>), (status = 403, body = super::error::Problem)))]
async fn list_agencies(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<Agency>>> {
    platform_only(&caller)?;
    let limit = page.limit()?;
    let rows = state.db.list_agencies(page.after()?, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |agency| agency.id)))
}

/// Create an agency (platform keys).
#[utoipa::path(post, path = "/api/v1/agencies", tag = "agencies", request_body = CreateAgencyRequest,
    responses((status = 201, body = Agency), (status = 403, body = super::error::Problem)))]
async fn create_agency(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateAgencyRequest>,
) -> ApiResult<Response> {
    platform_only(&caller)?;
    let fields = checked(AgencyFields {
        name: request.name,
        markup_percent: request.markup_percent.unwrap_or(0),
        metadata: request.metadata.unwrap_or_default(),
    })?;
    let agency = state.db.create_agency(&fields).await?;
    Ok(created(agency.updated_at, agency))
}

/// Get an agency.
#[utoipa::path(get, path = "/api/v1/agencies/{agencyId}", tag = "agencies",
    params(("agencyId" = AgencyId, Path)), responses((status = 200, body = Agency)))]
async fn get_agency(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<AgencyId>,
) -> ApiResult<Response> {
    let agency = visible_agency(&state, &caller, id).await?;
    Ok(with_etag(agency.updated_at, agency))
}

/// Update an agency (platform keys).
#[utoipa::path(patch, path = "/api/v1/agencies/{agencyId}", tag = "agencies",
    params(("agencyId" = AgencyId, Path)), request_body = UpdateAgencyRequest,
    responses((status = 200, body = Agency), (status = 403, body = super::error::Problem)))]
async fn update_agency(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<AgencyId>,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdateAgencyRequest>,
) -> ApiResult<Response> {
    let agency = visible_agency(&state, &caller, id).await?;
    platform_only(&caller)?;
    let agency_version = agency.updated_at;
    let fields = checked(AgencyFields {
        name: request.name.unwrap_or(agency.name),
        markup_percent: request.markup_percent.unwrap_or(agency.markup_percent),
        metadata: request.metadata.unwrap_or(agency.metadata),
    })?;
    let agency = state
        .db
        .update_agency(id, &fields, expected, agency_version)
        .await?;
    Ok(with_etag(agency.updated_at, agency))
}

/// The caller's own agency (agency keys).
#[utoipa::path(get, path = "/api/v1/agency", tag = "agencies",
    responses((status = 200, body = Agency)))]
async fn own_agency(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let Caller::Agency { agency_id, .. } = caller else {
        return Err(ApiError::NotFound("agency"));
    };
    let agency = visible_agency(&state, &caller, agency_id).await?;
    Ok(with_etag(agency.updated_at, agency))
}

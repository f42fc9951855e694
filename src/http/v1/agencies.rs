//! `/api/v1/agencies` (the platform's catalog of agencies) and `/api/v1/agency` (the caller's
//! own agency).

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::agency::{Agency, AgencyFields, Metadata};
use crate::domain::ids::AgencyId;
use crate::domain::policy::act;
use crate::domain::validation::Violations;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{created, with_etag, IfMatch, Json, Query};
use crate::http::pagination::{Page, PageParams};
use crate::http::patch::Patch;
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::agencies::{self, AgencyChanges};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agencies, create_agency))
        .routes(routes!(get_agency, update_agency))
        .routes(routes!(own_agency))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Agency)]
pub struct AgencyBody {
    pub id: AgencyId,
    pub name: String,
    /// Added to tenants' cost to give the revenue the agency bills them, in percent.
    pub markup_percent: i64,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Agency> for AgencyBody {
    fn from(agency: Agency) -> Self {
        AgencyBody {
            id: agency.id,
            name: agency.fields.name,
            markup_percent: agency.fields.markup_percent,
            metadata: agency.fields.metadata,
            created_at: agency.created_at,
            updated_at: agency.updated_at,
        }
    }
}

/// The agency with its ETag.
fn answer(agency: Agency) -> Response {
    with_etag(agency.updated_at, AgencyBody::from(agency))
}

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
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 255)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, nullable = false, minimum = 0, maximum = 1000)]
    pub markup_percent: Patch<i64>,
    /// Replaces the metadata object.
    #[serde(default)]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub metadata: Patch<Metadata>,
}

impl UpdateAgencyRequest {
    fn into_changes(self) -> ApiResult<AgencyChanges> {
        let mut violations = Violations::default();
        let changes = AgencyChanges {
            name: self.name.non_null("name", &mut violations),
            markup_percent: self
                .markup_percent
                .non_null("markupPercent", &mut violations),
            metadata: self.metadata.non_null("metadata", &mut violations),
        };
        Ok(violations.finish(|| changes)?)
    }
}

/// List agencies (platform keys).
#[utoipa::path(get, path = "/api/v1/agencies", tag = "agencies", params(PageParams),
    responses((status = 200, body = Page<AgencyBody>), (status = 403, body = Problem)))]
async fn list_agencies(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<AgencyBody>>> {
    let limit = page.limit()?;
    let rows = agencies::list(&state.ctx, &caller, page.after()?, limit + 1).await?;
    let rows = rows.into_iter().map(AgencyBody::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |agency| agency.id)))
}

/// Create an agency (platform keys).
#[utoipa::path(post, path = "/api/v1/agencies", tag = "agencies", request_body = CreateAgencyRequest,
    responses((status = 201, body = AgencyBody), (status = 403, body = Problem)))]
async fn create_agency(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateAgencyRequest>,
) -> ApiResult<Response> {
    let fields = AgencyFields {
        name: request.name,
        markup_percent: request.markup_percent.unwrap_or(0),
        metadata: request.metadata.unwrap_or_default(),
    };
    let agency = agencies::create(&state.ctx, &caller, fields).await?;
    Ok(created(agency.updated_at, AgencyBody::from(agency)))
}

/// Get an agency.
#[utoipa::path(get, path = "/api/v1/agencies/{agencyId}", tag = "agencies",
    params(("agencyId" = AgencyId, Path)), responses((status = 200, body = AgencyBody)))]
async fn get_agency(InPath(agency): InPath<Agency, act::ReadAgency>) -> Response {
    answer(agency.into_inner())
}

/// Update an agency (platform keys).
#[utoipa::path(patch, path = "/api/v1/agencies/{agencyId}", tag = "agencies",
    params(("agencyId" = AgencyId, Path)), request_body = UpdateAgencyRequest,
    responses((status = 200, body = AgencyBody), (status = 403, body = Problem)))]
async fn update_agency(
    State(state): State<AppState>,
    InPath(agency): InPath<Agency, act::UpdateAgency>,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdateAgencyRequest>,
) -> ApiResult<Response> {
    let changes = request.into_changes()?;
    Ok(answer(
        agencies::update(&state.ctx, agency, expected, changes).await?,
    ))
}

/// The caller's own agency (agency keys).
#[utoipa::path(get, path = "/api/v1/agency", tag = "agencies",
    responses((status = 200, body = AgencyBody)))]
async fn own_agency(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    Ok(answer(agencies::own(&state.ctx, &caller).await?))
}

//! `/api/v1/plans`: the catalog. Any key reads it; only platform keys change it.

use crate::service::Error;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::tenants::requests::LimitsInput;
use crate::domain::access::Caller;
use crate::domain::ids::{PlanId, TypedId};
use crate::domain::plan::{parse_plan_code, Plan, PlanFields};
use crate::domain::policy::{self, Action, Target};
use crate::domain::validation::Violations;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{created, raw_path_param, with_etag, IfMatch, Json};
use crate::http::pagination::Page;
use crate::http::patch::{nullable, present};
use crate::http::AppState;
use crate::store::plans::PlanRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, create_plan))
        .routes(routes!(get_plan, update_plan))
}

/// A plan from the path, by id (`pln_…` or UUID) or by code.
pub struct PlanPath(pub Plan);

impl FromRequestParts<AppState> for PlanPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let (_, raw) = raw_path_param(parts, state, PlanId::PATH_PARAMS).await?;
        let plan_ref = match raw.parse() {
            Ok(id) => PlanRef::Id(id),
            Err(_) if parse_plan_code(&raw).is_ok() => PlanRef::Code(raw),
            Err(_) => return Err(Error::NotFound("plan").into()),
        };
        match state.ctx.db.find_plan(&plan_ref).await {
            Ok(plan) => Ok(PlanPath(plan)),
            Err(crate::store::StoreError::NotFound) => Err(Error::NotFound("plan").into()),
            Err(other) => Err(other.into()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePlanRequest {
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,99}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount_cents: i64,
    #[serde(default)]
    pub entitlements: Option<LimitsInput>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub external_billing_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdatePlanRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, pattern = "^[a-z0-9][a-z0-9_-]{0,99}$")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount_cents: Option<i64>,
    /// Merged into the current entitlements; `null` for a key makes it unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub entitlements: Option<LimitsInput>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(min_length = 1, max_length = 255)]
    pub external_billing_id: Option<Option<String>>,
}

fn checked(fields: PlanFields) -> ApiResult<PlanFields> {
    let mut violations = Violations::default();
    fields.check(&mut violations);
    Ok(violations.finish(|| fields)?)
}

/// List the plan catalog.
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans",
    responses((status = 200, body = Page<Plan>)))]
async fn list_plans(State(state): State<AppState>, _caller: Caller) -> ApiResult<Json<Page<Plan>>> {
    let plans = state.ctx.db.list_plans().await?;
    Ok(Json(Page {
        data: plans,
        next_cursor: None,
    }))
}

/// Create a plan (platform keys).
#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", request_body = CreatePlanRequest,
    responses((status = 201, body = Plan), (status = 403, body = crate::http::error::Problem)))]
async fn create_plan(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreatePlanRequest>,
) -> ApiResult<Response> {
    policy::decide(&caller, Action::ManagePlans, &Target::Catalog)
        .map_err(Error::refused("plan"))?;
    let fields = checked(PlanFields {
        code: request.code,
        name: request.name,
        amount_cents: request.amount_cents,
        entitlements: request
            .entitlements
            .unwrap_or_default()
            .apply_to(Default::default()),
        external_billing_id: request.external_billing_id,
    })?;
    let plan = state.ctx.db.create_plan(&fields).await?;
    Ok(created(plan.updated_at, plan))
}

/// Get a plan by id or code.
#[utoipa::path(get, path = "/api/v1/plans/{planId}", tag = "plans",
    params(("planId" = String, Path, description = "Plan id (`pln_…` or UUID) or code")),
    responses((status = 200, body = Plan)))]
async fn get_plan(_caller: Caller, PlanPath(plan): PlanPath) -> Response {
    with_etag(plan.updated_at, plan)
}

/// Update a plan (platform keys).
#[utoipa::path(patch, path = "/api/v1/plans/{planId}", tag = "plans",
    params(("planId" = String, Path, description = "Plan id (`pln_…` or UUID) or code")),
    request_body = UpdatePlanRequest,
    responses((status = 200, body = Plan), (status = 403, body = crate::http::error::Problem)))]
async fn update_plan(
    State(state): State<AppState>,
    caller: Caller,
    PlanPath(plan): PlanPath,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdatePlanRequest>,
) -> ApiResult<Response> {
    policy::decide(&caller, Action::ManagePlans, &Target::Catalog)
        .map_err(Error::refused("plan"))?;
    let plan_version = plan.updated_at;
    let fields = checked(PlanFields {
        code: request.code.unwrap_or(plan.code),
        name: request.name.unwrap_or(plan.name),
        amount_cents: request.amount_cents.unwrap_or(plan.amount_cents),
        entitlements: request
            .entitlements
            .unwrap_or_default()
            .apply_to(plan.entitlements),
        external_billing_id: request
            .external_billing_id
            .unwrap_or(plan.external_billing_id),
    })?;
    let plan = state
        .ctx
        .db
        .update_plan(plan.id, &fields, expected, plan_version)
        .await?;
    Ok(with_etag(plan.updated_at, plan))
}

//! `/api/v1/plans`: the catalog. Any key reads it; only platform keys change it.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::limits::{LimitsBody, LimitsInput};
use crate::domain::access::Caller;
use crate::domain::ids::PlanId;
use crate::domain::plan::{Plan, PlanFields, PlanUpdate};
use crate::domain::policy::act;
use crate::domain::validation::{FieldError, Violations};
use crate::domain::values::PlanCode;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{created, with_etag, IfMatch, Json};
use crate::http::pagination::Page;
use crate::http::patch::Patch;
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::plans;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, create_plan))
        .routes(routes!(get_plan, update_plan))
}

/// A plan, as v1 shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Plan)]
pub struct PlanBody {
    pub id: PlanId,
    /// Unique, stable handle used by tenants (`free`, `business`, ...).
    pub code: String,
    pub name: String,
    /// Price per billing period, in cents.
    pub amount_cents: i64,
    /// Limits the plan grants; an absent key is unlimited.
    pub entitlements: LimitsBody,
    pub external_billing_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Plan> for PlanBody {
    fn from(plan: Plan) -> Self {
        PlanBody {
            id: plan.id,
            code: plan.fields.code.into_string(),
            name: plan.fields.name,
            amount_cents: plan.fields.amount_cents,
            entitlements: LimitsBody(plan.fields.entitlements),
            external_billing_id: plan.fields.external_billing_id,
            created_at: plan.created_at,
            updated_at: plan.updated_at,
        }
    }
}

fn answer(plan: Plan) -> Response {
    with_etag(plan.updated_at, PlanBody::from(plan))
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

impl CreatePlanRequest {
    fn into_fields(self) -> Result<PlanFields, Vec<FieldError>> {
        let mut violations = Violations::default();
        let code = violations.parsed("code", PlanCode::parse(&self.code));
        let entitlements = self
            .entitlements
            .map(|input| input.0.apply_to(Default::default()))
            .unwrap_or_default();
        violations.finish(|| PlanFields {
            code: code.unwrap_or_else(PlanCode::free),
            name: self.name,
            amount_cents: self.amount_cents,
            entitlements,
            external_billing_id: self.external_billing_id,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdatePlanRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false, pattern = "^[a-z0-9][a-z0-9_-]{0,99}$")]
    pub code: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 100)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, nullable = false, minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount_cents: Patch<i64>,
    /// Merged into the current entitlements; `null` for a key makes it unlimited.
    #[serde(default)]
    #[schema(value_type = Option<LimitsInput>, nullable = false)]
    pub entitlements: Patch<LimitsInput>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    pub external_billing_id: Patch<String>,
}

impl UpdatePlanRequest {
    fn into_update(self) -> Result<PlanUpdate, Vec<FieldError>> {
        let mut violations = Violations::default();
        let code = self.code.non_null("code", &mut violations);
        let update = PlanUpdate {
            code: code.and_then(|code| violations.parsed("code", PlanCode::parse(&code))),
            name: self.name.non_null("name", &mut violations),
            amount_cents: self.amount_cents.non_null("amountCents", &mut violations),
            entitlements: self
                .entitlements
                .non_null("entitlements", &mut violations)
                .map(|input| input.0),
            external_billing_id: self.external_billing_id.nullable(),
        };
        violations.finish(|| update)
    }
}

/// List the plan catalog.
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans",
    responses((status = 200, body = Page<PlanBody>)))]
async fn list_plans(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<PlanBody>>> {
    let plans = plans::list(&state.ctx, &caller).await?;
    Ok(Json(Page {
        data: plans.into_iter().map(PlanBody::from).collect(),
        next_cursor: None,
    }))
}

/// Create a plan (platform keys).
#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", request_body = CreatePlanRequest,
    responses((status = 201, body = PlanBody), (status = 403, body = Problem)))]
async fn create_plan(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreatePlanRequest>,
) -> ApiResult<Response> {
    let plan = plans::create(&state.ctx, &caller, request.into_fields()?).await?;
    Ok(created(plan.updated_at, PlanBody::from(plan)))
}

/// Get a plan by id or code.
#[utoipa::path(get, path = "/api/v1/plans/{planId}", tag = "plans",
    params(("planId" = String, Path, description = "Plan id (`pln_…` or UUID) or code")),
    responses((status = 200, body = PlanBody)))]
async fn get_plan(InPath(plan): InPath<Plan, act::ReadPlans>) -> Response {
    answer(plan.into_inner())
}

/// Update a plan (platform keys).
#[utoipa::path(patch, path = "/api/v1/plans/{planId}", tag = "plans",
    params(("planId" = String, Path, description = "Plan id (`pln_…` or UUID) or code")),
    request_body = UpdatePlanRequest,
    responses((status = 200, body = PlanBody), (status = 403, body = Problem)))]
async fn update_plan(
    State(state): State<AppState>,
    InPath(plan): InPath<Plan, act::ManagePlans>,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdatePlanRequest>,
) -> ApiResult<Response> {
    let update = request.into_update()?;
    Ok(answer(
        plans::update(&state.ctx, plan, expected, update).await?,
    ))
}

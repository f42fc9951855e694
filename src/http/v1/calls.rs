//! `/api/v1/tenants/{tenantId}/calls`: admission, heartbeats and ending, the data plane's
//! hot path; and reading calls back.

use crate::service::{Error, LimitRefusal};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::access::TenantAccess;
use crate::domain::ids::{AgentId, CallId};
use crate::domain::metering::{
    Call, CallOutcome, CallStatus, Channel, Counter, Direction, NewCall, Refusal,
};
use crate::domain::tenant::check_metadata;
use crate::domain::time::BoundedTime;
use crate::domain::validation::Violations;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{decode_cursor, page_limit, Page};
use crate::http::AppState;
use crate::store::calls::{CallError, CallFilter};
use crate::store::StoreError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_call, list_calls))
        .routes(routes!(get_call))
        .routes(routes!(heartbeat))
        .routes(routes!(end_call))
}

impl From<CallError> for Error {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Refused(Refusal::TenantInactive) => Error::TenantInactive,
            CallError::Refused(Refusal::Limit {
                key,
                code,
                limit,
                current,
            }) => {
                metrics::counter!("tenantry_call_refusals_total", "code" => code).increment(1);
                Error::LimitExceeded(LimitRefusal {
                    code,
                    limit: key.field(),
                    limit_value: limit,
                    current,
                })
            }
            CallError::UnknownAgent => {
                Error::field("agentId", "unknown_agent", "is not an agent of this tenant")
            }
            CallError::AlreadyEnded => Error::Conflict {
                code: "call_already_ended",
                detail: "the call was ended with another outcome".to_owned(),
                field: None,
            },
            CallError::NotActive => Error::Conflict {
                code: "call_not_active",
                detail: "the call is no longer active".to_owned(),
                field: None,
            },
            CallError::Store(StoreError::NotFound) => Error::NotFound("call"),
            CallError::Store(other) => other.into(),
        }
    }
}

impl From<CallError> for ApiError {
    fn from(error: CallError) -> Self {
        Error::from(error).into()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartCallRequest {
    pub channel: Channel,
    #[serde(default)]
    pub agent_id: Option<AgentId>,
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The data plane's own id for the call.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub external_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Start a call: admits it if the tenant is active and under every limit, atomically.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/calls", tag = "calls",
    params(("tenantId" = crate::domain::ids::TenantId, Path)), request_body = StartCallRequest,
    responses((status = 201, body = Call),
        (status = 403, body = Problem, description = "`tenant_inactive`"),
        (status = 422, body = Problem, description = "Invalid input (`errors` names each field), \
            or `usage_counter_overflow`: the tenant's call count this period is at its ceiling"),
        (status = 429, body = Problem, description = "A limit refuses the call: \
            `concurrency_limit_exceeded`, `monthly_call_limit_exceeded`, \
            `monthly_minute_limit_exceeded` or `spend_limit_exceeded`")))]
#[tracing::instrument(skip_all, fields(tenant_id = %access.tenant_id))]
async fn start_call(
    State(state): State<AppState>,
    access: TenantAccess,
    Json(request): Json<StartCallRequest>,
) -> ApiResult<Response> {
    let mut violations = Violations::default();
    if let Some(external_id) = &request.external_id {
        violations.length("externalId", external_id, 1, 255);
    }
    let metadata = request.metadata.unwrap_or_default();
    check_metadata("metadata", &metadata, &mut violations);
    violations.finish(|| ())?;
    let new = NewCall {
        channel: request.channel,
        agent_id: request.agent_id,
        direction: request.direction,
        external_id: request.external_id,
        metadata,
    };
    let call = state
        .ctx
        .db
        .admit_call(access.tenant_id, &new, state.ctx.call_lease)
        .await?;
    metrics::counter!("tenantry_call_admissions_total").increment(1);
    Ok((StatusCode::CREATED, Json(call)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndCallRequest {
    /// At most a week.
    #[schema(minimum = 0, maximum = 604800)]
    pub duration_seconds: i64,
    /// At most 100,000,000 (one million dollars).
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub cost_cents: i64,
    #[serde(default)]
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub sentiment_score: Option<f64>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub ended_reason: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^https?://[^\\s/?#]+[^\\s]*$", max_length = 2048)]
    pub recording_url: Option<String>,
}

/// End a call with what it used. Sending the same end again answers the same call; a
/// different one is a 409.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/calls/{callId}/end", tag = "calls",
    params(("tenantId" = crate::domain::ids::TenantId, Path), ("callId" = CallId, Path)),
    request_body = EndCallRequest,
    responses((status = 200, body = Call),
        (status = 409, body = Problem, description = "`call_already_ended` with another outcome"),
        (status = 422, body = Problem, description = "Invalid input (`errors` names each field), \
            or `usage_counter_overflow`: the call's usage would take one of the tenant's counters \
            past its ceiling; the call stays active")))]
#[tracing::instrument(skip_all, fields(tenant_id = %access.tenant_id))]
async fn end_call(
    State(state): State<AppState>,
    access: TenantAccess,
    PathId(call_id): PathId<CallId>,
    Json(request): Json<EndCallRequest>,
) -> ApiResult<Json<Call>> {
    let outcome = CallOutcome {
        duration_seconds: request.duration_seconds,
        cost_cents: request.cost_cents,
        sentiment_score: request.sentiment_score,
        ended_reason: request.ended_reason,
        recording_url: request.recording_url,
    };
    let mut violations = Violations::default();
    outcome.check(&mut violations);
    violations.finish(|| ())?;
    let call = state
        .ctx
        .db
        .end_call(access.tenant_id, call_id, &outcome)
        .await
        .map_err(|error| match error {
            CallError::Store(StoreError::CounterOverflow(counter)) => Error::CounterOverflow {
                counter,
                field: outcome_field(counter),
            },
            other => other.into(),
        })?;
    Ok(Json(call))
}

/// The field of an end request that adds to `counter`.
fn outcome_field(counter: Counter) -> Option<&'static str> {
    match counter {
        Counter::Conversations => None,
        Counter::Seconds => Some("durationSeconds"),
        Counter::CostCents => Some("costCents"),
        Counter::Sentiment => Some("sentimentScore"),
    }
}

/// Extend an active call's lease, so it keeps its slot.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/calls/{callId}/heartbeat", tag = "calls",
    params(("tenantId" = crate::domain::ids::TenantId, Path), ("callId" = CallId, Path)),
    responses((status = 200, body = Call),
        (status = 409, body = Problem, description = "`call_not_active`")))]
async fn heartbeat(
    State(state): State<AppState>,
    access: TenantAccess,
    PathId(call_id): PathId<CallId>,
) -> ApiResult<Json<Call>> {
    let call = state
        .ctx
        .db
        .heartbeat_call(access.tenant_id, call_id, state.ctx.call_lease)
        .await?;
    Ok(Json(call))
}

/// Get a call.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/calls/{callId}", tag = "calls",
    params(("tenantId" = crate::domain::ids::TenantId, Path), ("callId" = CallId, Path)),
    responses((status = 200, body = Call)))]
async fn get_call(
    State(state): State<AppState>,
    access: TenantAccess,
    PathId(call_id): PathId<CallId>,
) -> ApiResult<Json<Call>> {
    let call = state
        .ctx
        .db
        .find_call(access.tenant_id, call_id)
        .await
        .map_err(CallError::from)?;
    Ok(Json(call))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListCallsParams {
    pub status: Option<CallStatus>,
    pub channel: Option<Channel>,
    pub agent_id: Option<AgentId>,
    /// Started at or after (RFC 3339, years 2000 to 9999).
    pub from: Option<BoundedTime>,
    /// Started before (RFC 3339, years 2000 to 9999).
    pub to: Option<BoundedTime>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct CallCursor {
    started_at: BoundedTime,
    id: CallId,
}

/// List a tenant's calls, newest first.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/calls", tag = "calls",
    params(("tenantId" = crate::domain::ids::TenantId, Path), ListCallsParams),
    responses((status = 200, body = Page<Call>)))]
async fn list_calls(
    State(state): State<AppState>,
    access: TenantAccess,
    Query(params): Query<ListCallsParams>,
) -> ApiResult<Json<Page<Call>>> {
    let limit = page_limit(params.limit)?;
    let after = params
        .cursor
        .as_deref()
        .map(decode_cursor::<CallCursor>)
        .transpose()?
        .map(|c| (c.started_at.get(), c.id));
    let filter = CallFilter {
        status: params.status,
        channel: params.channel,
        agent_id: params.agent_id,
        from: params.from.map(BoundedTime::get),
        to: params.to.map(BoundedTime::get),
    };
    let calls = state
        .ctx
        .db
        .list_calls(access.tenant_id, &filter, after, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(calls, limit, |call| CallCursor {
        started_at: BoundedTime::clamped(call.started_at),
        id: call.id,
    })))
}

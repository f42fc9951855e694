//! `/api/v1/tenants/{tenantId}/calls`: admission, heartbeats and ending, the data plane's
//! hot path; and reading calls back.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::ids::{AgentId, CallId, TenantId};
use crate::domain::metering::{
    Call, CallFilter, CallOutcome, CallStatus, Channel, Direction, NewCall,
};
use crate::domain::policy::act;
use crate::domain::time::BoundedTime;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{decode_cursor, page_limit, Page};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::calls;
use crate::service::tenants::TenantRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_call, list_calls))
        .routes(routes!(get_call))
        .routes(routes!(heartbeat))
        .routes(routes!(end_call))
}

type Metadata = serde_json::Map<String, serde_json::Value>;

/// One conversation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Call)]
pub struct CallBody {
    pub id: CallId,
    pub tenant_id: TenantId,
    pub agent_id: Option<AgentId>,
    pub channel: Channel,
    pub direction: Option<Direction>,
    pub external_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    pub status: CallStatus,
    pub started_at: DateTime<Utc>,
    /// When the call expires unless a heartbeat extends it.
    pub lease_expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i64>,
    pub cost_cents: Option<i64>,
    pub sentiment_score: Option<f64>,
    pub ended_reason: Option<String>,
    pub recording_url: Option<String>,
}

impl From<Call> for CallBody {
    fn from(call: Call) -> Self {
        CallBody {
            id: call.id,
            tenant_id: call.tenant_id,
            agent_id: call.agent_id,
            channel: call.channel,
            direction: call.direction,
            external_id: call.external_id,
            metadata: call.metadata,
            status: call.status,
            started_at: call.started_at,
            lease_expires_at: call.lease_expires_at,
            ended_at: call.ended_at,
            duration_seconds: call.duration_seconds,
            cost_cents: call.cost_cents,
            sentiment_score: call.sentiment_score,
            ended_reason: call.ended_reason,
            recording_url: call.recording_url,
        }
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
    pub metadata: Option<Metadata>,
}

/// Start a call: admits it if the tenant is active and under every limit, atomically.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/calls", tag = "calls",
    params(("tenantId" = TenantId, Path)), request_body = StartCallRequest,
    responses((status = 201, body = CallBody),
        (status = 403, body = Problem, description = "`tenant_inactive`"),
        (status = 422, body = Problem, description = "Invalid input (`errors` names each field), \
            or `usage_counter_overflow`: the tenant's call count this period is at its ceiling"),
        (status = 429, body = Problem, description = "A limit refuses the call: \
            `concurrency_limit_exceeded`, `monthly_call_limit_exceeded`, \
            `monthly_minute_limit_exceeded` or `spend_limit_exceeded`")))]
async fn start_call(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::RunCalls>,
    Json(request): Json<StartCallRequest>,
) -> ApiResult<(StatusCode, Json<CallBody>)> {
    let new = NewCall {
        channel: request.channel,
        agent_id: request.agent_id,
        direction: request.direction,
        external_id: request.external_id,
        metadata: request.metadata.unwrap_or_default(),
    };
    let call = calls::admit(&state.ctx, tenant, new).await?;
    Ok((StatusCode::CREATED, Json(call.into())))
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
    params(("tenantId" = TenantId, Path), ("callId" = CallId, Path)),
    request_body = EndCallRequest,
    responses((status = 200, body = CallBody),
        (status = 409, body = Problem, description = "`call_already_ended` with another outcome"),
        (status = 422, body = Problem, description = "Invalid input (`errors` names each field), \
            or `usage_counter_overflow`: the call's usage would take one of the tenant's counters \
            past its ceiling; the call stays active")))]
async fn end_call(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::RunCalls>,
    PathId(call_id): PathId<CallId>,
    Json(request): Json<EndCallRequest>,
) -> ApiResult<Json<CallBody>> {
    let outcome = CallOutcome {
        duration_seconds: request.duration_seconds,
        cost_cents: request.cost_cents,
        sentiment_score: request.sentiment_score,
        ended_reason: request.ended_reason,
        recording_url: request.recording_url,
    };
    let call = calls::end(&state.ctx, tenant, call_id, outcome).await?;
    Ok(Json(call.into()))
}

/// Extend an active call's lease, so it keeps its slot.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/calls/{callId}/heartbeat", tag = "calls",
    params(("tenantId" = TenantId, Path), ("callId" = CallId, Path)),
    responses((status = 200, body = CallBody),
        (status = 409, body = Problem, description = "`call_not_active`")))]
async fn heartbeat(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::RunCalls>,
    PathId(call_id): PathId<CallId>,
) -> ApiResult<Json<CallBody>> {
    let call = calls::heartbeat(&state.ctx, tenant, call_id).await?;
    Ok(Json(call.into()))
}

/// Get a call.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/calls/{callId}", tag = "calls",
    params(("tenantId" = TenantId, Path), ("callId" = CallId, Path)),
    responses((status = 200, body = CallBody)))]
async fn get_call(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadCalls>,
    PathId(call_id): PathId<CallId>,
) -> ApiResult<Json<CallBody>> {
    let call = calls::get(&state.ctx, tenant, call_id).await?;
    Ok(Json(call.into()))
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
    params(("tenantId" = TenantId, Path), ListCallsParams),
    responses((status = 200, body = Page<CallBody>)))]
async fn list_calls(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadCalls>,
    Query(params): Query<ListCallsParams>,
) -> ApiResult<Json<Page<CallBody>>> {
    let limit = page_limit(params.limit)?;
    let after = params.cursor.as_deref().map(decode_cursor::<CallCursor>);
    let after = after.transpose()?.map(|c| (c.started_at.get(), c.id));
    let filter = CallFilter {
        status: params.status,
        channel: params.channel,
        agent_id: params.agent_id,
        from: params.from.map(BoundedTime::get),
        to: params.to.map(BoundedTime::get),
    };
    let rows = calls::list(&state.ctx, tenant, &filter, after, limit + 1).await?;
    let rows = rows.into_iter().map(CallBody::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |call| CallCursor {
        started_at: BoundedTime::clamped(call.started_at),
        id: call.id,
    })))
}

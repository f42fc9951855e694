//! `/api/v1/tenants/{tenantId}/usage-events` (batch ingestion of completed calls) and
//! `/api/v1/tenants/{tenantId}/limits` (every limit explained).

use crate::service::Error;
use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::access::TenantAccess;
use crate::domain::ids::{AgentId, TenantId};
use crate::domain::limits::LimitKey;
use crate::domain::metering::{check_batch, Channel, IngestOutcome, Period, UsageEvent};
use crate::domain::time::BoundedTime;
use crate::domain::validation::FieldError;
use crate::http::error::{not_found, ApiResult, Problem};
use crate::http::extract::Json;
use crate::http::AppState;
use crate::store::{now, StoreError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest_usage_events))
        .routes(routes!(explain_limits))
}

/// A completed call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsageEventInput {
    /// Chosen by the sender; an id already stored for this tenant counts as a duplicate.
    #[schema(min_length = 1, max_length = 255)]
    pub id: String,
    /// When the call happened: from 2000-01-01T00:00:00Z to at most 5 minutes from now.
    pub occurred_at: BoundedTime,
    pub channel: Channel,
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
    pub agent_id: Option<AgentId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageEventBatch {
    #[schema(max_items = 1000)]
    pub events: Vec<UsageEventInput>,
}

/// Report completed calls, up to 1,000 per batch.
///
/// The batch is checked whole: one bad event is a 422 naming `events[i].field`, and nothing is
/// stored. Each id counts once per tenant, also across concurrent batches.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/usage-events", tag = "usage",
    params(("tenantId" = TenantId, Path)), request_body = UsageEventBatch,
    responses((status = 200, body = IngestOutcome),
        (status = 422, body = Problem, description = "Invalid input (`errors` names each field), \
            or `usage_counter_overflow`: the batch would take one of the tenant's usage counters \
            past its ceiling; nothing is stored")))]
#[tracing::instrument(skip_all, fields(tenant_id = %access.tenant_id))]
async fn ingest_usage_events(
    State(state): State<AppState>,
    access: TenantAccess,
    Json(batch): Json<UsageEventBatch>,
) -> ApiResult<Json<IngestOutcome>> {
    let events: Vec<UsageEvent> = batch
        .events
        .into_iter()
        .map(|e| UsageEvent {
            id: e.id,
            occurred_at: e.occurred_at.get(),
            channel: e.channel,
            duration_seconds: e.duration_seconds,
            cost_cents: e.cost_cents,
            sentiment_score: e.sentiment_score,
            agent_id: e.agent_id,
        })
        .collect();
    check_batch(&events, now())?;
    check_agents(&state, access.tenant_id, &events).await?;
    let outcome = state
        .ctx
        .db
        .ingest_events(access.tenant_id, &events)
        .await
        .map_err(|error| match error {
            StoreError::CounterOverflow(counter) => Error::CounterOverflow {
                counter,
                field: Some("events"),
            },
            other => other.into(),
        })?;
    metrics::counter!("tenantry_usage_events_ingested_total").increment(outcome.accepted as u64);
    Ok(Json(outcome))
}

/// Every `agentId` must be an agent of the tenant.
async fn check_agents(
    state: &AppState,
    tenant_id: TenantId,
    events: &[UsageEvent],
) -> ApiResult<()> {
    let named: Vec<AgentId> = events.iter().filter_map(|e| e.agent_id).collect();
    if named.is_empty() {
        return Ok(());
    }
    let known = crate::store::agents::known(&state.ctx.db, tenant_id, &named).await?;
    let unknown: Vec<FieldError> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.agent_id.is_some_and(|id| !known.contains(&id)))
        .map(|(i, _)| FieldError {
            field: format!("events[{i}].agentId"),
            code: "unknown_agent".to_owned(),
            message: "is not an agent of this tenant".to_owned(),
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(unknown).into())
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    Plan,
    Tenant,
}

/// One limit, its usage and what remains.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitStatus {
    /// `null` is unlimited.
    pub value: Option<i64>,
    pub source: LimitSource,
    /// Usage this period (active calls for `maxConcurrentCalls`, agents for `maxAgents`).
    pub used: i64,
    /// `null` when unlimited.
    pub remaining: Option<i64>,
    /// Whether usage has reached the limit.
    pub exceeded: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitsReport {
    pub tenant_id: TenantId,
    pub period: Period,
    pub active_calls: i64,
    /// Keyed by limit name (`maxConcurrentCalls`, `monthlyCallLimit`, …).
    pub limits: BTreeMap<String, LimitStatus>,
}

/// Every limit of a tenant: value, origin, usage this period, what remains.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/limits", tag = "usage",
    params(("tenantId" = TenantId, Path)), responses((status = 200, body = LimitsReport)))]
async fn explain_limits(
    State(state): State<AppState>,
    access: TenantAccess,
) -> ApiResult<Json<LimitsReport>> {
    let at = now();
    let tenant = state
        .ctx
        .db
        .find_tenant(access.caller.tenant_scope(), access.tenant_id)
        .await
        .map_err(not_found("tenant"))?;
    let live = state.ctx.db.live_usage(access.tenant_id, at).await?;
    let agents = crate::store::agents::count(&state.ctx.db, access.tenant_id).await?;
    let limits = LimitKey::ALL
        .into_iter()
        .map(|key| {
            let used = match key {
                LimitKey::MonthlySpendLimitCents => live.period.cost_cents,
                LimitKey::MaxAgents => agents.total,
                LimitKey::MaxPhoneNumbers => 0,
                LimitKey::MaxConcurrentCalls => live.active_calls,
                LimitKey::MonthlyCallLimit => live.period.calls,
                LimitKey::MaxMinutesPerMonth => live.period.seconds / 60,
            };
            let value = tenant.effective_limits.get(key);
            let source = if tenant.usage_limits.get(key).is_some() {
                LimitSource::Tenant
            } else {
                LimitSource::Plan
            };
            let status = LimitStatus {
                value,
                source,
                used,
                remaining: value.map(|limit| limit.saturating_sub(used).max(0)),
                exceeded: value.is_some_and(|limit| used >= limit),
            };
            (key.field().to_owned(), status)
        })
        .collect();
    Ok(Json(LimitsReport {
        tenant_id: access.tenant_id,
        period: Period::containing(at),
        active_calls: live.active_calls,
        limits,
    }))
}

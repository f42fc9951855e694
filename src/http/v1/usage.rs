//! `/api/v1/tenants/{tenantId}/usage-events` (batch ingestion of completed calls) and
//! `/api/v1/tenants/{tenantId}/limits` (every limit explained).

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::ids::{AgentId, TenantId};
use crate::domain::metering::{
    Channel, IngestOutcome, LimitSource, LimitStatus, LimitsReport, Period, UsageEvent,
};
use crate::domain::policy::act;
use crate::domain::time::BoundedTime;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::Json;
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::tenants::TenantRef;
use crate::service::usage;

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

impl From<UsageEventInput> for UsageEvent {
    fn from(event: UsageEventInput) -> Self {
        UsageEvent {
            id: event.id,
            occurred_at: event.occurred_at.get(),
            channel: event.channel,
            duration_seconds: event.duration_seconds,
            cost_cents: event.cost_cents,
            sentiment_score: event.sentiment_score,
            agent_id: event.agent_id,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageEventBatch {
    #[schema(max_items = 1000)]
    pub events: Vec<UsageEventInput>,
}

/// What ingestion did with a batch.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IngestOutcome)]
pub struct IngestOutcomeBody {
    pub accepted: i64,
    pub duplicates: i64,
}

impl From<IngestOutcome> for IngestOutcomeBody {
    fn from(outcome: IngestOutcome) -> Self {
        IngestOutcomeBody {
            accepted: outcome.accepted,
            duplicates: outcome.duplicates,
        }
    }
}

/// Report completed calls, up to 1,000 per batch.
///
/// The batch is checked whole: one bad event is a 422 naming `events[i].field`, and nothing is
/// stored. Each id counts once per tenant, also across concurrent batches.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/usage-events", tag = "usage",
    params(("tenantId" = TenantId, Path)), request_body = UsageEventBatch,
    responses((status = 200, body = IngestOutcomeBody),
        (status = 422, body = Problem, description = "Invalid input (`errors` names each field), \
            or `usage_counter_overflow`: the batch would take one of the tenant's usage counters \
            past its ceiling; nothing is stored")))]
async fn ingest_usage_events(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReportUsage>,
    Json(batch): Json<UsageEventBatch>,
) -> ApiResult<Json<IngestOutcomeBody>> {
    let events = batch.events.into_iter().map(UsageEvent::from).collect();
    let outcome = usage::ingest(&state.ctx, tenant, events).await?;
    Ok(Json(outcome.into()))
}

/// A billing period: `[start, end)` in whole UTC days.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Period)]
pub struct PeriodBody {
    pub start: NaiveDate,
    /// First day after the period.
    pub end: NaiveDate,
}

impl From<Period> for PeriodBody {
    fn from(period: Period) -> Self {
        PeriodBody {
            start: period.start,
            end: period.end,
        }
    }
}

/// One limit, its usage and what remains.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LimitStatus)]
pub struct LimitStatusBody {
    /// In the limit's own unit (gigabytes for `…Gb` limits); `null` is unlimited.
    #[schema(value_type = Option<f64>)]
    pub value: Option<serde_json::Number>,
    pub source: LimitSource,
    /// Usage this period (active calls for `maxConcurrentCalls`, agents for `maxAgents`).
    #[schema(value_type = f64)]
    pub used: serde_json::Number,
    /// `null` when unlimited.
    #[schema(value_type = Option<f64>)]
    pub remaining: Option<serde_json::Number>,
    /// Whether usage has reached the limit.
    pub exceeded: bool,
}

impl From<LimitStatus> for LimitStatusBody {
    fn from(status: LimitStatus) -> Self {
        let key = status.key;
        LimitStatusBody {
            value: status.value.map(|value| key.to_wire(value)),
            source: status.source,
            used: key.to_wire(status.used),
            remaining: status.remaining().map(|value| key.to_wire(value)),
            exceeded: status.exceeded(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LimitsReport)]
pub struct LimitsReportBody {
    pub tenant_id: TenantId,
    pub period: PeriodBody,
    pub active_calls: i64,
    /// Keyed by limit name (`maxConcurrentCalls`, `monthlyCallLimit`, …).
    pub limits: BTreeMap<String, LimitStatusBody>,
}

impl From<LimitsReport> for LimitsReportBody {
    fn from(report: LimitsReport) -> Self {
        LimitsReportBody {
            tenant_id: report.tenant_id,
            period: report.period.into(),
            active_calls: report.active_calls,
            limits: report
                .limits
                .into_iter()
                .map(|status| (status.key.field().to_owned(), status.into()))
                .collect(),
        }
    }
}

/// Every limit of a tenant: value, origin, usage this period, what remains.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/limits", tag = "usage",
    params(("tenantId" = TenantId, Path)), responses((status = 200, body = LimitsReportBody)))]
async fn explain_limits(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadLimits>,
) -> ApiResult<Json<LimitsReportBody>> {
    Ok(Json(usage::limits(&state.ctx, tenant).await?.into()))
}

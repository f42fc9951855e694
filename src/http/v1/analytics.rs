//! Analytics in the shapes of the Client Management API: one tenant over a date range, and
//! an agency across its tenants.

use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::analytics::{
    AgencyAnalytics, ChannelBreakdown, DailyPoint, DateRange, TenantAnalytics, TopTenant,
};
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::policy::act;
use crate::domain::tenant::{minutes_from_seconds, usd_from_cents};
use crate::domain::time::BoundedDate;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{Json, Query};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::analytics;
use crate::service::tenants::TenantRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tenant_analytics))
        .routes(routes!(agency_analytics))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// First day (UTC), inclusive; default the first day of the current month.
    pub date_from: Option<BoundedDate>,
    /// Last day (UTC), inclusive; default the last day of the current month.
    pub date_to: Option<BoundedDate>,
    /// The agency to report on (platform keys; agency keys get their own).
    pub agency_id: Option<AgencyId>,
}

impl AnalyticsParams {
    fn dates(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        (
            self.date_from.map(BoundedDate::get),
            self.date_to.map(BoundedDate::get),
        )
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(as = DateRange)]
pub struct DateRangeBody {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl From<DateRange> for DateRangeBody {
    fn from(range: DateRange) -> Self {
        DateRangeBody {
            from: range.from,
            to: range.to,
        }
    }
}

// Sums over many rollups are i128 (an integer without format in the schema): each rollup is
// at most MAX_COUNTER, and a handful of them pass i64::MAX.

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ChannelBreakdown)]
pub struct ChannelBreakdownBody {
    pub phone: i128,
    pub webrtc: i128,
    pub webchat: i128,
}

impl From<ChannelBreakdown> for ChannelBreakdownBody {
    fn from(breakdown: ChannelBreakdown) -> Self {
        ChannelBreakdownBody {
            phone: breakdown.phone,
            webrtc: breakdown.webrtc,
            webchat: breakdown.webchat,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DailyPoint)]
pub struct DailyPointBody {
    pub date: NaiveDate,
    pub conversations: i128,
    pub minutes: f64,
    pub seconds: i128,
    pub cost_usd: f64,
    pub cost_cents: i128,
}

impl From<DailyPoint> for DailyPointBody {
    fn from(day: DailyPoint) -> Self {
        DailyPointBody {
            date: day.date,
            conversations: day.conversations,
            minutes: minutes_from_seconds(day.seconds),
            seconds: day.seconds,
            cost_usd: usd_from_cents(day.cost_cents),
            cost_cents: day.cost_cents,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TenantAnalytics)]
pub struct TenantAnalyticsBody {
    pub tenant_id: TenantId,
    pub period: DateRangeBody,
    pub conversations: i128,
    /// `totalSeconds / 60`, to two decimals.
    pub total_minutes: f64,
    pub total_seconds: i128,
    pub total_cost_usd: f64,
    pub total_cost_cents: i128,
    pub agent_count: i64,
    pub active_agents: i64,
    pub channel_breakdown: ChannelBreakdownBody,
    /// Mean of the scores reported, `null` when none was.
    pub avg_sentiment_score: Option<f64>,
    /// Every day of the range, zeros included.
    pub daily: Vec<DailyPointBody>,
}

impl From<TenantAnalytics> for TenantAnalyticsBody {
    fn from(report: TenantAnalytics) -> Self {
        TenantAnalyticsBody {
            tenant_id: report.tenant_id,
            period: report.period.into(),
            conversations: report.conversations,
            total_minutes: minutes_from_seconds(report.total_seconds),
            total_seconds: report.total_seconds,
            total_cost_usd: usd_from_cents(report.total_cost_cents),
            total_cost_cents: report.total_cost_cents,
            agent_count: report.agent_count,
            active_agents: report.active_agents,
            channel_breakdown: report.channel_breakdown.into(),
            avg_sentiment_score: report.avg_sentiment_score,
            daily: report.daily.into_iter().map(DailyPointBody::from).collect(),
        }
    }
}

/// Usage analytics of one tenant over a date range.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/analytics", tag = "analytics",
    params(("tenantId" = TenantId, Path), AnalyticsParams),
    responses((status = 200, body = TenantAnalyticsBody)))]
async fn tenant_analytics(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadTenantAnalytics>,
    Query(params): Query<AnalyticsParams>,
) -> ApiResult<Json<TenantAnalyticsBody>> {
    let (from, to) = params.dates();
    let report = analytics::tenant(&state.ctx, tenant, from, to).await?;
    Ok(Json(report.into()))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TopTenant)]
pub struct TopTenantBody {
    pub id: TenantId,
    pub name: String,
    pub conversations: i128,
    /// What the agency bills the tenant, in USD: its cost plus the agency's markup.
    pub revenue: f64,
    pub cost_usd: f64,
}

impl From<TopTenant> for TopTenantBody {
    fn from(tenant: TopTenant) -> Self {
        TopTenantBody {
            id: tenant.id,
            name: tenant.name,
            conversations: tenant.conversations,
            revenue: usd_from_cents(tenant.revenue_cents),
            cost_usd: usd_from_cents(tenant.cost_cents),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AgencyAnalytics)]
pub struct AgencyAnalyticsBody {
    pub agency_id: AgencyId,
    pub period: DateRangeBody,
    pub total_tenants: i64,
    pub active_tenants: i64,
    pub total_conversations: i128,
    pub total_cost_usd: f64,
    pub total_cost_cents: i128,
    /// The ten tenants with the most conversations.
    pub top_tenants: Vec<TopTenantBody>,
}

impl From<AgencyAnalytics> for AgencyAnalyticsBody {
    fn from(report: AgencyAnalytics) -> Self {
        AgencyAnalyticsBody {
            agency_id: report.agency_id,
            period: report.period.into(),
            total_tenants: report.total_tenants,
            active_tenants: report.active_tenants,
            total_conversations: report.total_conversations,
            total_cost_usd: usd_from_cents(report.total_cost_cents),
            total_cost_cents: report.total_cost_cents,
            top_tenants: report
                .top_tenants
                .into_iter()
                .map(TopTenantBody::from)
                .collect(),
        }
    }
}

/// Usage across an agency's tenants.
#[utoipa::path(get, path = "/api/v1/agency/analytics", tag = "analytics", params(AnalyticsParams),
    responses((status = 200, body = AgencyAnalyticsBody), (status = 403, body = Problem)))]
async fn agency_analytics(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AnalyticsParams>,
) -> ApiResult<Json<AgencyAnalyticsBody>> {
    let (from, to) = params.dates();
    let report = analytics::agency(&state.ctx, &caller, params.agency_id, from, to).await?;
    Ok(Json(report.into()))
}

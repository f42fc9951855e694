//! Analytics in the shapes of the Client Management API: one tenant over a date range, and
//! an agency across its tenants. Both read daily rollups only, so their cost depends on the
//! number of days, not of calls.

use crate::service::Error;
use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::access::TenantAccess;
use crate::domain::access::Caller;
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::metering::{sentiment_from_micros, Channel, Period};
use crate::domain::policy::{self, Action, Target};
use crate::domain::tenant::{minutes_from_seconds, usd_from_cents};
use crate::domain::time::BoundedDate;
use crate::http::error::{not_found, ApiError, ApiResult, Problem};
use crate::http::extract::{Json, Query};
use crate::http::AppState;
use crate::store::usage::DailyUsage;
use crate::store::{self, now};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tenant_analytics))
        .routes(routes!(agency_analytics))
}

/// The longest range one request may cover, in days (inclusive).
const MAX_RANGE_DAYS: u64 = 366;

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

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl AnalyticsParams {
    fn range(&self) -> ApiResult<DateRange> {
        let month = Period::containing(now());
        let from = self.date_from.map_or(month.start, BoundedDate::get);
        let to = self.date_to.map_or_else(
            || month.end.pred_opt().unwrap_or(month.end),
            BoundedDate::get,
        );
        if from > to {
            return Err(ApiError::field(
                "dateFrom",
                "invalid_range",
                "must not be after dateTo",
            ));
        }
        if from
            .checked_add_days(Days::new(MAX_RANGE_DAYS))
            .is_some_and(|limit| to >= limit)
        {
            return Err(ApiError::field(
                "dateTo",
                "invalid_range",
                format!("the range may cover at most {MAX_RANGE_DAYS} days"),
            ));
        }
        Ok(DateRange { from, to })
    }
}

// Sums over many rollups are i128 (an integer without format in the schema): each rollup is
// at most MAX_COUNTER, and a handful of them pass i64::MAX.

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ChannelBreakdown {
    pub phone: i128,
    pub webrtc: i128,
    pub webchat: i128,
}

impl ChannelBreakdown {
    fn add(&mut self, channel: Channel, conversations: i64) {
        let slot = match channel {
            Channel::Phone => &mut self.phone,
            Channel::Webrtc => &mut self.webrtc,
            Channel::Webchat => &mut self.webchat,
        };
        *slot += i128::from(conversations);
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyPoint {
    pub date: NaiveDate,
    pub conversations: i128,
    pub minutes: f64,
    pub seconds: i128,
    pub cost_usd: f64,
    pub cost_cents: i128,
}

/// Sums of rollups, wide enough for any number of them.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    conversations: i128,
    seconds: i128,
    cost_cents: i128,
    sentiment_micros: i128,
    sentiment_count: i128,
}

impl Sums {
    fn add(&mut self, row: &DailyUsage) {
        self.conversations += i128::from(row.conversations);
        self.seconds += i128::from(row.seconds);
        self.cost_cents += i128::from(row.cost_cents);
        self.sentiment_micros += i128::from(row.sentiment_micros_sum);
        self.sentiment_count += i128::from(row.sentiment_count);
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantAnalytics {
    pub tenant_id: TenantId,
    pub period: DateRange,
    pub conversations: i128,
    /// `totalSeconds / 60`, to two decimals.
    pub total_minutes: f64,
    pub total_seconds: i128,
    pub total_cost_usd: f64,
    pub total_cost_cents: i128,
    pub agent_count: i64,
    pub active_agents: i64,
    pub channel_breakdown: ChannelBreakdown,
    /// Mean of the scores reported, `null` when none was.
    pub avg_sentiment_score: Option<f64>,
    /// Every day of the range, zeros included.
    pub daily: Vec<DailyPoint>,
}

/// Usage analytics of one tenant over a date range.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/analytics", tag = "analytics",
    params(("tenantId" = TenantId, Path), AnalyticsParams),
    responses((status = 200, body = TenantAnalytics)))]
async fn tenant_analytics(
    State(state): State<AppState>,
    access: TenantAccess,
    Query(params): Query<AnalyticsParams>,
) -> ApiResult<Json<TenantAnalytics>> {
    let range = params.range()?;
    let rows = store::usage::daily(&state.ctx.db, access.tenant_id, range.from, range.to).await?;
    let agents = store::agents::count(&state.ctx.db, access.tenant_id).await?;
    let mut by_day: BTreeMap<NaiveDate, Sums> = BTreeMap::new();
    let mut breakdown = ChannelBreakdown::default();
    let mut total = Sums::default();
    for row in &rows {
        by_day.entry(row.day).or_default().add(row);
        breakdown.add(row.channel, row.conversations);
        total.add(row);
    }
    let daily = range
        .from
        .iter_days()
        .take_while(|day| *day <= range.to)
        .map(|date| {
            let day = by_day.get(&date).copied().unwrap_or_default();
            DailyPoint {
                date,
                conversations: day.conversations,
                minutes: minutes_from_seconds(day.seconds),
                seconds: day.seconds,
                cost_usd: usd_from_cents(day.cost_cents),
                cost_cents: day.cost_cents,
            }
        })
        .collect();
    let avg = (total.sentiment_count > 0).then(|| {
        let mean = sentiment_from_micros(total.sentiment_micros) / total.sentiment_count as f64;
        (mean * 10_000.0).round() / 10_000.0
    });
    Ok(Json(TenantAnalytics {
        tenant_id: access.tenant_id,
        period: range,
        conversations: breakdown.phone + breakdown.webrtc + breakdown.webchat,
        total_minutes: minutes_from_seconds(total.seconds),
        total_seconds: total.seconds,
        total_cost_usd: usd_from_cents(total.cost_cents),
        total_cost_cents: total.cost_cents,
        agent_count: agents.total,
        active_agents: agents.active,
        channel_breakdown: breakdown,
        avg_sentiment_score: avg,
        daily,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopTenant {
    pub id: TenantId,
    pub name: String,
    pub conversations: i128,
    /// What the agency bills the tenant, in USD: its cost plus the agency's markup.
    pub revenue: f64,
    pub cost_usd: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgencyAnalytics {
    pub agency_id: AgencyId,
    pub period: DateRange,
    pub total_tenants: i64,
    pub active_tenants: i64,
    pub total_conversations: i128,
    pub total_cost_usd: f64,
    pub total_cost_cents: i128,
    /// The ten tenants with the most conversations.
    pub top_tenants: Vec<TopTenant>,
}

/// Cost plus a markup in percent, rounded half up to the cent. Saturates only far beyond
/// any sum of rollups (about 10^36 cents).
fn with_markup(cost_cents: i128, markup_percent: i64) -> i128 {
    let scaled = cost_cents.saturating_mul(100_i128.saturating_add(markup_percent.into()));
    scaled.saturating_add(50) / 100
}

/// Usage across an agency's tenants.
#[utoipa::path(get, path = "/api/v1/agency/analytics", tag = "analytics", params(AnalyticsParams),
    responses((status = 200, body = AgencyAnalytics), (status = 403, body = Problem)))]
async fn agency_analytics(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AnalyticsParams>,
) -> ApiResult<Json<AgencyAnalytics>> {
    policy::require(&caller, Action::ReadAgencyAnalytics).map_err(Error::refused("agency"))?;
    let agency_id = match (caller.agency(), params.agency_id) {
        (Some(own), None) => own,
        (_, Some(asked)) => asked,
        (None, None) => {
            return Err(ApiError::field(
                "agencyId",
                "required",
                "platform keys name the agency",
            ))
        }
    };
    policy::decide(
        &caller,
        Action::ReadAgencyAnalytics,
        &Target::Agency(agency_id),
    )
    .map_err(Error::refused("agency"))?;
    let range = params.range()?;
    let agency = store::agencies::find(&state.ctx.db, agency_id)
        .await
        .map_err(not_found("agency"))?;
    let (total_tenants, active_tenants) =
        store::usage::agency_tenant_counts(&state.ctx.db, agency_id).await?;
    let mut totals =
        store::usage::agency_tenant_totals(&state.ctx.db, agency_id, range.from, range.to).await?;
    let total_conversations = totals.iter().map(|t| t.conversations).sum();
    let total_cost: i128 = totals.iter().map(|t| t.cost_cents).sum();
    totals.sort_by(|a, b| b.conversations.cmp(&a.conversations).then(a.id.cmp(&b.id)));
    let top_tenants = totals
        .into_iter()
        .take(10)
        .map(|t| TopTenant {
            id: t.id,
            name: t.name,
            conversations: t.conversations,
            revenue: usd_from_cents(with_markup(t.cost_cents, agency.fields.markup_percent)),
            cost_usd: usd_from_cents(t.cost_cents),
        })
        .collect();
    Ok(Json(AgencyAnalytics {
        agency_id,
        period: range,
        total_tenants,
        active_tenants,
        total_conversations,
        total_cost_usd: usd_from_cents(total_cost),
        total_cost_cents: total_cost,
        top_tenants,
    }))
}

#[cfg(test)]
mod tests {
    use super::with_markup;

    #[test]
    fn markup_rounds_half_up_to_the_cent() {
        assert_eq!(with_markup(1000, 0), 1000);
        assert_eq!(with_markup(1000, 25), 1250);
        assert_eq!(with_markup(1, 50), 2);
        assert_eq!(with_markup(3, 10), 3);
    }
}

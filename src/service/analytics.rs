//! Analytics: one tenant over a range of days, read from its daily rollups, so its cost
//! depends on the number of days, not of calls; and an agency across its tenants, read from
//! their monthly series, so its cost depends on the number of tenants with usage in the range,
//! not on the range's length or the history's.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use tracing::instrument;

use super::tenants::TenantRef;
use super::{not_found, Context, Error, Result};
use crate::domain::access::Caller;
use crate::domain::analytics::{
    AgencyAnalytics, ChannelBreakdown, DailyPoint, DateRange, TenantAnalytics, TenantStats,
    TopTenant,
};
use crate::domain::ids::AgencyId;
use crate::domain::metering::{sentiment_from_micros, Period};
use crate::domain::policy::{self, act, Action, Authorized, Target};
use crate::domain::tenant::BlockedService;
use crate::store::usage::DailyUsage;
use crate::store::{self, now};

/// The longest range one report may cover, in days (inclusive).
const MAX_RANGE_DAYS: u64 = 366;

/// How many of an agency's tenants its report names.
const TOP_TENANTS: usize = 10;

/// The days a report covers: from `from` (default the first day of `period`, the current
/// billing period) to `to` (default its last day), at most [`MAX_RANGE_DAYS`] of them.
pub fn date_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    period: Period,
) -> Result<DateRange> {
    let from = from.unwrap_or(period.start);
    let to = to.unwrap_or_else(|| period.end.pred_opt().unwrap_or(period.end));
    if from > to {
        return Err(Error::field(
            "dateFrom",
            "invalid_range",
            "must not be after dateTo",
        ));
    }
    if from
        .checked_add_days(Days::new(MAX_RANGE_DAYS))
        .is_some_and(|limit| to >= limit)
    {
        return Err(Error::field(
            "dateTo",
            "invalid_range",
            format!("the range may cover at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok(DateRange { from, to })
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

    /// The mean sentiment score to four decimals, if any score was reported.
    fn mean_sentiment(&self) -> Option<f64> {
        (self.sentiment_count > 0).then(|| {
            let mean = sentiment_from_micros(self.sentiment_micros) / self.sentiment_count as f64;
            (mean * 10_000.0).round() / 10_000.0
        })
    }
}

/// Usage of one tenant over a range of days, with every day of it; refused while the
/// tenant's block refuses analytics.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn tenant(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadTenantAnalytics>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<TenantAnalytics> {
    let tenant_id = tenant.get().id;
    let at = now();
    let period = if from.is_some() && to.is_some() {
        Period::containing(at)
    } else {
        let window = store::subscriptions::window(&ctx.db, tenant_id).await?;
        Period::billing(at, window)
    };
    let range = date_range(from, to, period)?;
    super::lifecycle::refuse_blocked(ctx, tenant_id, BlockedService::Analytics).await?;
    let rows = store::usage::daily(&ctx.db, tenant_id, range.from, range.to).await?;
    let agents = store::agents::count(&ctx.db, tenant_id).await?;
    let mut by_day: BTreeMap<NaiveDate, Sums> = BTreeMap::new();
    let mut breakdown = ChannelBreakdown::default();
    let mut total = Sums::default();
    for row in &rows {
        by_day.entry(row.day).or_default().add(row);
        breakdown.add(row.channel, row.conversations);
        total.add(row);
    }
    let daily = range
        .days()
        .map(|date| {
            let day = by_day.get(&date).copied().unwrap_or_default();
            DailyPoint {
                date,
                conversations: day.conversations,
                seconds: day.seconds,
                cost_cents: day.cost_cents,
            }
        })
        .collect();
    Ok(TenantAnalytics {
        tenant_id,
        period: range,
        conversations: breakdown.total(),
        total_seconds: total.seconds,
        total_cost_cents: total.cost_cents,
        agent_count: agents.total,
        active_agents: agents.active,
        channel_breakdown: breakdown,
        avg_sentiment_score: total.mean_sentiment(),
        daily,
    })
}

/// A tenant's dashboard: agents, calls today and this period, the period's mean call length
/// and sentiment (from its daily rollups), spend, live calls and the last call.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn stats(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadTenantAnalytics>,
) -> Result<TenantStats> {
    let tenant_id = tenant.get().id;
    let current = super::tenants::load(ctx, &tenant).await?;
    let activity = store::usage::activity(&ctx.db, &[tenant_id])
        .await?
        .remove(&tenant_id)
        .unwrap_or_default();
    let at = now();
    let today = at.date_naive();
    let window = current
        .subscription
        .as_ref()
        .and_then(|s| s.billing_window());
    let period = Period::billing(at, window);
    let rows = store::usage::daily(&ctx.db, tenant_id, period.start, today).await?;
    let mut total = Sums::default();
    let mut calls_today = 0;
    for row in &rows {
        total.add(row);
        if row.day == today {
            calls_today += row.conversations;
        }
    }
    let avg_call_seconds = if total.conversations > 0 {
        let mean = total.seconds as f64 / total.conversations as f64;
        (mean * 100.0).round() / 100.0
    } else {
        0.0
    };
    let usage = current.usage_current_month;
    Ok(TenantStats {
        tenant_id,
        activity,
        calls_today,
        calls_this_period: usage.conversations,
        avg_call_seconds,
        avg_sentiment_score: total.mean_sentiment(),
        period_cost_cents: usage.total_cost_cents,
    })
}

/// Usage across an agency's tenants. Agency keys report on their own agency; platform keys
/// name the agency.
#[instrument(skip_all)]
pub async fn agency(
    ctx: &Context,
    caller: &Caller,
    asked: Option<AgencyId>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<AgencyAnalytics> {
    let agency_id = reported_agency(caller, asked)?;
    // Tenants' billing periods differ; an agency's report defaults to the calendar month.
    let range = date_range(from, to, Period::containing(now()))?;
    let agency = store::agencies::find(&ctx.db, agency_id)
        .await
        .map_err(not_found("agency"))?;
    let (total_tenants, active_tenants) =
        store::monthly::agency_tenant_counts(&ctx.db, agency_id).await?;
    let tenants = store::monthly::agency_range(&ctx.db, agency_id, range.from, range.to).await?;
    let total_conversations = tenants
        .iter()
        .map(|t| i128::from(t.usage.conversations))
        .sum();
    let total_cost_cents = tenants.iter().map(|t| i128::from(t.usage.cost_cents)).sum();
    Ok(AgencyAnalytics {
        agency_id,
        period: range,
        total_tenants,
        active_tenants,
        total_conversations,
        total_cost_cents,
        top_tenants: top_tenants(tenants, agency.fields.markup_percent),
    })
}

/// The agency a caller reports on, once the policy allows it: an agency key's own, or the
/// one a platform key names.
fn reported_agency(caller: &Caller, asked: Option<AgencyId>) -> Result<AgencyId> {
    policy::require(caller, Action::ReadAgencyAnalytics).map_err(Error::refused("agency"))?;
    let agency_id = match (caller.agency(), asked) {
        (Some(own), None) => own,
        (_, Some(asked)) => asked,
        (None, None) => {
            return Err(Error::field(
                "agencyId",
                "required",
                "platform keys name the agency",
            ))
        }
    };
    policy::decide(
        caller,
        Action::ReadAgencyAnalytics,
        &Target::Agency(agency_id),
    )
    .map_err(Error::refused("agency"))?;
    Ok(agency_id)
}

/// The tenants with the most conversations (ties by id), with the agency's markup.
fn top_tenants(
    mut tenants: Vec<store::monthly::TenantRange>,
    markup_percent: i64,
) -> Vec<TopTenant> {
    tenants.sort_by(|a, b| {
        b.usage
            .conversations
            .cmp(&a.usage.conversations)
            .then(a.id.cmp(&b.id))
    });
    tenants
        .into_iter()
        .take(TOP_TENANTS)
        .map(|t| TopTenant {
            revenue_cents: with_markup(t.usage.cost_cents.into(), markup_percent),
            id: t.id,
            name: t.name,
            conversations: t.usage.conversations.into(),
            cost_cents: t.usage.cost_cents.into(),
        })
        .collect()
}

/// Cost plus a markup in percent, rounded half up to the cent. Saturates only far beyond
/// any sum of rollups (about 10^36 cents).
fn with_markup(cost_cents: i128, markup_percent: i64) -> i128 {
    let scaled = cost_cents.saturating_mul(100_i128.saturating_add(markup_percent.into()));
    scaled.saturating_add(50) / 100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_rounds_half_up_to_the_cent() {
        assert_eq!(with_markup(1000, 0), 1000);
        assert_eq!(with_markup(1000, 25), 1250);
        assert_eq!(with_markup(1, 50), 2);
        assert_eq!(with_markup(3, 10), 3);
    }

    #[test]
    fn ranges_are_ordered_and_at_most_366_days() {
        let day = |text: &str| text.parse::<NaiveDate>().unwrap();
        let current = Period::containing(now());
        let range = |from, to| date_range(from, to, current);
        let year = range(Some(day("2024-01-01")), Some(day("2024-12-31"))).unwrap();
        assert_eq!(year.days().count(), 366);
        assert!(range(Some(day("2024-01-01")), Some(day("2025-01-01"))).is_err());
        assert!(range(Some(day("2024-01-02")), Some(day("2024-01-01"))).is_err());
        let month = range(None, None).unwrap();
        assert_eq!(month.from, current.start);
        let mid_month = Period {
            start: day("2026-03-15"),
            end: day("2026-04-16"),
        };
        let billing = date_range(None, None, mid_month).unwrap();
        assert_eq!(
            (billing.from, billing.to),
            (day("2026-03-15"), day("2026-04-15"))
        );
    }
}

//! Analytics reports: usage summed from the daily rollups, in units of record (seconds and
//! cents). Sums over many rollups are `i128`: each rollup is at most `MAX_COUNTER`, and a
//! handful of them pass `i64::MAX`.

use chrono::{DateTime, NaiveDate, Utc};

use super::ids::{AgencyId, TenantId};
use super::metering::Channel;

/// Days from `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// Every day of the range, in order.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while(move |day| *day <= self.to)
    }
}

/// Conversations per channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelBreakdown {
    pub phone: i128,
    pub webrtc: i128,
    pub webchat: i128,
}

impl ChannelBreakdown {
    pub fn add(&mut self, channel: Channel, conversations: i64) {
        let slot = match channel {
            Channel::Phone => &mut self.phone,
            Channel::Webrtc => &mut self.webrtc,
            Channel::Webchat => &mut self.webchat,
        };
        *slot += i128::from(conversations);
    }

    pub fn total(&self) -> i128 {
        self.phone + self.webrtc + self.webchat
    }
}

/// One day of a tenant's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyPoint {
    pub date: NaiveDate,
    pub conversations: i128,
    pub seconds: i128,
    pub cost_cents: i128,
}

/// One tenant's usage over a range of days.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantAnalytics {
    pub tenant_id: TenantId,
    pub period: DateRange,
    pub conversations: i128,
    pub total_seconds: i128,
    pub total_cost_cents: i128,
    pub agent_count: i64,
    pub active_agents: i64,
    pub channel_breakdown: ChannelBreakdown,
    /// Mean of the scores reported, to four decimals; `None` when none was.
    pub avg_sentiment_score: Option<f64>,
    /// Every day of the range, zeros included.
    pub daily: Vec<DailyPoint>,
}

/// What a tenant has and has done beyond its current period: the dialects' summary rows and
/// stats show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    pub agents: i64,
    /// Calls and seconds over every period the tenant has had.
    pub lifetime_calls: i64,
    pub lifetime_seconds: i64,
    pub active_calls: i64,
    pub last_call_at: Option<DateTime<Utc>>,
}

/// A tenant's figures for its dashboard: today, this period, and now.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantStats {
    pub tenant_id: TenantId,
    pub activity: Activity,
    pub calls_today: i64,
    pub calls_this_period: i64,
    /// Mean length of the period's completed calls, in seconds; 0 without any.
    pub avg_call_seconds: f64,
    pub avg_sentiment_score: Option<f64>,
    pub period_cost_cents: i64,
}

/// A tenant among an agency's busiest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopTenant {
    pub id: TenantId,
    pub name: String,
    pub conversations: i128,
    pub cost_cents: i128,
    /// What the agency bills the tenant: its cost plus the agency's markup.
    pub revenue_cents: i128,
}

/// Usage across an agency's tenants over a range of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyAnalytics {
    pub agency_id: AgencyId,
    pub period: DateRange,
    pub total_tenants: i64,
    pub active_tenants: i64,
    pub total_conversations: i128,
    pub total_cost_cents: i128,
    /// The ten tenants with the most conversations.
    pub top_tenants: Vec<TopTenant>,
}

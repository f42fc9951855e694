//! Analytics reports: usage summed from the daily rollups, in units of record (seconds and
//! cents). Sums over many rollups are `i128`: each rollup is at most `MAX_COUNTER`, and a
//! handful of them pass `i64::MAX`.

use chrono::NaiveDate;

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

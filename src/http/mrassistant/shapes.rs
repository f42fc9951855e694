//! MrAssistant's models, snake_case, mapped from the domain's tenant: the tenant response
//! model of seed 000, the admin views of seed 001 and the quota views.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::analytics::Activity;
use crate::domain::ids::TypedId;
use crate::domain::limits::LimitKey;
use crate::domain::tenant::{minutes_from_seconds, EffectiveStatus, Metadata, Tenant};

/// MrAssistant's names of tenantry's statuses, as every surface shows them. Its `suspended`
/// is tenantry's deactivation (data kept, service stopped), its `inactive` tenantry's soft
/// delete; `blocked` is an active tenant with a block in force.
const STATUSES: [(EffectiveStatus, &str); 4] = [
    (EffectiveStatus::Active, "active"),
    (EffectiveStatus::Blocked, "blocked"),
    (EffectiveStatus::Inactive, "suspended"),
    (EffectiveStatus::Deleted, "inactive"),
];

/// MrAssistant's name for a tenant's status.
pub fn status(tenant: &Tenant) -> &'static str {
    let status = tenant.effective_status();
    STATUSES
        .iter()
        .find(|(known, _)| *known == status)
        .map_or("active", |(_, name)| name)
}

/// The status a `status_filter` names.
pub fn stored_status(filter: &str) -> Option<EffectiveStatus> {
    STATUSES
        .iter()
        .find(|(_, name)| *name == filter)
        .map(|(status, _)| *status)
}

/// Every tenant is a business's: MrAssistant gives developers and admins none.
pub const TENANT_TYPE: &str = "business";

/// Tenant response model (seed 000).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TenantResponse)]
pub struct TenantResponse {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// The plan's code.
    #[schema(min_length = 1, max_length = 100)]
    pub billing_plan: String,
    pub id: Uuid,
    /// `active`, `blocked` (a block is in force), `suspended` (deactivated) or `inactive`
    /// (deleted, restorable).
    pub status: String,
    /// Spend in the current billing period.
    pub monthly_usage_cents: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sip_enabled: bool,
    pub recording_enabled: bool,
    pub analytics_enabled: bool,
    /// The effective limit; `null` is unlimited.
    #[schema(minimum = 1, maximum = 1000)]
    pub max_concurrent_calls: Option<i64>,
    /// The effective limit; `null` is unlimited.
    #[schema(minimum = 0)]
    pub monthly_call_limit: Option<i64>,
    #[schema(value_type = Object)]
    pub meta_data: Metadata,
    pub sip_domain: Option<String>,
    pub sip_username: Option<String>,
    pub hipaa_enabled: bool,
    pub pci_enabled: bool,
    #[schema(value_type = String)]
    pub recording_format: &'static str,
    pub retention_days: i64,
    pub data_encryption_enabled: bool,
    pub webhook_url: Option<String>,
    pub webhook_timeout_seconds: i64,
}

impl From<Tenant> for TenantResponse {
    fn from(tenant: Tenant) -> Self {
        let status = status(&tenant).to_owned();
        let limits = &tenant.effective_limits;
        let settings = tenant.settings;
        TenantResponse {
            billing_plan: tenant.plan.into_string(),
            id: tenant.id.uuid(),
            status,
            monthly_usage_cents: tenant.usage_current_month.total_cost_cents,
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
            max_concurrent_calls: limits.get(LimitKey::MaxConcurrentCalls),
            monthly_call_limit: limits.get(LimitKey::MonthlyCallLimit),
            meta_data: tenant.metadata,
            name: tenant.name,
            sip_enabled: settings.sip_enabled,
            recording_enabled: settings.recording_enabled,
            analytics_enabled: settings.analytics_enabled,
            sip_domain: settings.sip_domain,
            sip_username: settings.sip_username,
            hipaa_enabled: settings.hipaa_enabled,
            pci_enabled: settings.pci_enabled,
            recording_format: <&str>::from(settings.recording_format),
            retention_days: settings.retention_days,
            data_encryption_enabled: settings.data_encryption_enabled,
            webhook_url: settings.webhook_url,
            webhook_timeout_seconds: settings.webhook_timeout_seconds,
        }
    }
}

/// A tenant's usage against its period limits, as the admin and quota views count it.
pub struct QuotaUse {
    calls_used: i64,
    seconds_used: i64,
}

impl QuotaUse {
    pub fn of(tenant: &Tenant) -> Self {
        QuotaUse {
            calls_used: tenant.usage_current_month.conversations,
            seconds_used: tenant.usage_current_month.total_seconds,
        }
    }
}

/// What is left of `limit` after `used`; `None` when unlimited.
fn remaining(limit: Option<i64>, used: i64) -> Option<i64> {
    limit.map(|limit| (limit - used).max(0))
}

/// Whole minutes left of a minute limit after `seconds`, to two decimals.
fn minutes_remaining(limit: Option<i64>, seconds: i64) -> Option<f64> {
    limit.map(|minutes| minutes_from_seconds((minutes * 60 - seconds).max(0)))
}

/// Tenant quota configuration (seed 001).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantQuota {
    pub max_agents: Option<i64>,
    pub max_calls_per_month: Option<i64>,
    pub max_concurrent_calls: Option<i64>,
    pub max_minutes_per_month: Option<i64>,
}

/// Tenant usage statistics (seed 001).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDetails {
    pub tenant_id: String,
    pub tenant_name: String,
    pub tenant_type: &'static str,
    pub billing_plan: String,
    pub status: String,
    pub total_agents: i64,
    /// Calls over the tenant's whole life.
    pub total_calls: i64,
    pub total_minutes: f64,
    pub calls_this_month: i64,
    pub minutes_this_month: f64,
    pub active_sessions: i64,
    pub quota: TenantQuota,
    /// Whether a period limit (calls, minutes or spend) is used up.
    pub quota_exceeded: bool,
    /// `null` is unlimited, here and in the other `_remaining` fields.
    pub calls_remaining: Option<i64>,
    pub minutes_remaining: Option<f64>,
    pub agents_remaining: Option<i64>,
    pub monthly_usage_cents: i64,
    /// When the current billing period began, if a subscription sets one.
    pub last_billing_date: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The last call's start.
    pub last_activity: Option<DateTime<Utc>>,
}

impl TenantDetails {
    pub fn new(tenant: Tenant, activity: Activity) -> Self {
        let limits = &tenant.effective_limits;
        let used = QuotaUse::of(&tenant);
        let quota = TenantQuota {
            max_agents: limits.get(LimitKey::MaxAgents),
            max_calls_per_month: limits.get(LimitKey::MonthlyCallLimit),
            max_concurrent_calls: limits.get(LimitKey::MaxConcurrentCalls),
            max_minutes_per_month: limits.get(LimitKey::MaxMinutesPerMonth),
        };
        TenantDetails {
            tenant_id: tenant.id.uuid().to_string(),
            tenant_type: TENANT_TYPE,
            billing_plan: tenant.plan.to_string(),
            status: status(&tenant).to_owned(),
            total_agents: activity.agents,
            total_calls: activity.lifetime_calls,
            total_minutes: minutes_from_seconds(activity.lifetime_seconds),
            calls_this_month: used.calls_used,
            minutes_this_month: minutes_from_seconds(used.seconds_used),
            active_sessions: activity.active_calls,
            quota_exceeded: tenant.period_quota_exceeded(),
            calls_remaining: remaining(quota.max_calls_per_month, used.calls_used),
            minutes_remaining: minutes_remaining(quota.max_minutes_per_month, used.seconds_used),
            agents_remaining: remaining(quota.max_agents, activity.agents),
            quota,
            monthly_usage_cents: tenant.usage_current_month.total_cost_cents,
            last_billing_date: tenant.subscription.as_ref().map(|s| s.current_period_start),
            created_at: tenant.created_at,
            last_activity: activity.last_call_at,
            tenant_name: tenant.name,
        }
    }
}

/// One row of the admin list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSummary {
    pub id: String,
    pub name: String,
    pub tenant_type: &'static str,
    pub billing_plan: String,
    pub status: String,
    pub total_agents: i64,
    pub total_calls: i64,
    pub calls_this_month: i64,
    pub quota_exceeded: bool,
    pub created_at: DateTime<Utc>,
}

impl TenantSummary {
    pub fn new(tenant: Tenant, activity: Activity) -> Self {
        TenantSummary {
            id: tenant.id.uuid().to_string(),
            tenant_type: TENANT_TYPE,
            billing_plan: tenant.plan.to_string(),
            status: status(&tenant).to_owned(),
            total_agents: activity.agents,
            total_calls: activity.lifetime_calls,
            calls_this_month: tenant.usage_current_month.conversations,
            quota_exceeded: tenant.period_quota_exceeded(),
            created_at: tenant.created_at,
            name: tenant.name,
        }
    }
}

/// A tenant's calls against its monthly and concurrency limits.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaInfo {
    pub tenant_id: String,
    /// `null` is unlimited, here and in the other limit and `_remaining` fields.
    pub monthly_call_limit: Option<i64>,
    pub calls_used_this_month: i64,
    pub calls_remaining: Option<i64>,
    /// Percent of the monthly limit used, to two decimals; 0 when unlimited.
    pub calls_usage_percentage: f64,
    pub max_concurrent_calls: Option<i64>,
    pub current_active_calls: i64,
    pub concurrent_calls_remaining: Option<i64>,
    pub concurrent_usage_percentage: f64,
    /// Minutes over the tenant's whole life.
    pub total_minutes_used: f64,
    pub quota_exceeded: bool,
    pub status: String,
}

/// `used` as a percentage of `limit`, to two decimals; 0 when unlimited, 100 at a zero limit
/// that is reached.
fn percentage(used: i64, limit: Option<i64>) -> f64 {
    match limit {
        None => 0.0,
        Some(0) if used > 0 => 100.0,
        Some(0) => 0.0,
        Some(limit) => (used as f64 * 10_000.0 / limit as f64).round() / 100.0,
    }
}

impl QuotaInfo {
    pub fn new(tenant: Tenant, activity: Activity) -> Self {
        let limits = &tenant.effective_limits;
        let calls = tenant.usage_current_month.conversations;
        let monthly = limits.get(LimitKey::MonthlyCallLimit);
        let concurrent = limits.get(LimitKey::MaxConcurrentCalls);
        QuotaInfo {
            tenant_id: tenant.id.uuid().to_string(),
            monthly_call_limit: monthly,
            calls_used_this_month: calls,
            calls_remaining: remaining(monthly, calls),
            calls_usage_percentage: percentage(calls, monthly),
            max_concurrent_calls: concurrent,
            current_active_calls: activity.active_calls,
            concurrent_calls_remaining: remaining(concurrent, activity.active_calls),
            concurrent_usage_percentage: percentage(activity.active_calls, concurrent),
            total_minutes_used: minutes_from_seconds(activity.lifetime_seconds),
            quota_exceeded: tenant.period_quota_exceeded(),
            status: status(&tenant).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_to_two_decimals_and_treat_unlimited_as_zero() {
        assert_eq!(percentage(1, Some(3)), 33.33);
        assert_eq!(percentage(5, None), 0.0);
        assert_eq!(percentage(0, Some(0)), 0.0);
        assert_eq!(percentage(1, Some(0)), 100.0);
    }

    #[test]
    fn remaining_never_goes_below_zero() {
        assert_eq!(remaining(Some(10), 12), Some(0));
        assert_eq!(remaining(None, 12), None);
        assert_eq!(minutes_remaining(Some(2), 90), Some(0.5));
    }
}

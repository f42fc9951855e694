//! The tenant as v1 shows it, with its nested parts.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::super::limits::{EffectiveLimitsBody, LimitsBody};
use crate::domain::alerts::{AlertRule, Metric, UsageAlerts};
use crate::domain::ids::{AgencyId, TenantId, UserId};
use crate::domain::tenant::{
    ActionAt100, BillingAlerts, BillingMode, Block, BlockedService, EffectiveStatus, Metadata,
    Owner, RecordingFormat, Settings, Tenant, TenantType, UsageSummary,
};

/// A tenant as every surface reads it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Tenant)]
pub struct TenantBody {
    pub id: TenantId,
    pub name: String,
    pub slug: String,
    /// `blocked` while a block is in force on an active tenant (its lifecycle status is still
    /// `active`: reactivation and deactivation do not touch a block).
    pub status: EffectiveStatus,
    /// The plan's code.
    pub plan: String,
    pub agency_id: Option<AgencyId>,
    pub billing_mode: BillingMode,
    pub tenant_type: TenantType,
    /// Exactly the limits this tenant overrides.
    pub usage_limits: LimitsBody,
    /// All limits after the plan's defaults; `null` is unlimited.
    pub effective_limits: EffectiveLimitsBody,
    pub billing_alerts: BillingAlertsBody,
    pub usage_alerts: UsageAlertsBody,
    pub settings: SettingsBody,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    pub usage_current_month: UsageSummaryBody,
    pub owner: Option<OwnerBody>,
    /// When the tenant was deactivated; `null` unless it is inactive.
    pub deactivated_at: Option<DateTime<Utc>>,
    /// Why, as the deactivating agency or platform said.
    pub deactivation_reason: Option<String>,
    /// While an alert's `suspend` keeps the tenant inactive: the first day of the period that
    /// reactivates it.
    pub suspended_until: Option<NaiveDate>,
    /// When the tenant was soft-deleted; `null` unless it is `deleted`.
    pub deleted_at: Option<DateTime<Utc>>,
    /// When a deleted tenant may be purged for good; until then it can be restored.
    pub purge_after: Option<DateTime<Utc>>,
    /// The services refused while a block is in force; `null` when none is.
    pub block: Option<BlockBody>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Tenant> for TenantBody {
    fn from(tenant: Tenant) -> Self {
        let status = tenant.effective_status();
        TenantBody {
            id: tenant.id,
            name: tenant.name,
            slug: tenant.slug.into_string(),
            status,
            plan: tenant.plan.into_string(),
            agency_id: tenant.agency_id,
            billing_mode: tenant.billing_mode,
            tenant_type: tenant.tenant_type,
            usage_limits: LimitsBody(tenant.usage_limits),
            effective_limits: EffectiveLimitsBody(tenant.effective_limits),
            billing_alerts: tenant.billing_alerts.into(),
            usage_alerts: tenant.usage_alerts.into(),
            settings: tenant.settings.into(),
            metadata: tenant.metadata,
            usage_current_month: tenant.usage_current_month.into(),
            owner: tenant.owner.map(OwnerBody::from),
            deactivated_at: tenant.deactivation.as_ref().map(|d| d.at),
            deactivation_reason: tenant.deactivation.and_then(|d| d.reason),
            suspended_until: tenant.suspended_until,
            deleted_at: tenant.deletion.map(|d| d.at),
            purge_after: tenant.deletion.map(|d| d.purge_after),
            block: tenant.block.map(BlockBody::from),
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
        }
    }
}

/// A block in force: some of the tenant's services are refused with 403 `service_blocked`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Block)]
pub struct BlockBody {
    /// The services refused, in a fixed order.
    pub services: Vec<BlockedService>,
    /// Why, as the blocking agency or platform said.
    pub reason: Option<String>,
    /// When the tenant was blocked; changing the block's services or reason keeps it.
    pub blocked_at: DateTime<Utc>,
}

impl From<Block> for BlockBody {
    fn from(block: Block) -> Self {
        BlockBody {
            services: block.services.into_iter().collect(),
            reason: block.reason,
            blocked_at: block.at,
        }
    }
}

/// Spend alerts of a tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BillingAlerts)]
pub struct BillingAlertsBody {
    /// Percentages of the monthly spend limit that trigger an alert.
    pub alert_thresholds: Vec<i64>,
    pub alert_emails: Vec<String>,
    #[serde(rename = "actionAt100")]
    pub action_at_100: ActionAt100,
    /// Actions at thresholds below 100, by percent (the one at 100 is `actionAt100`).
    pub threshold_actions: BTreeMap<String, ActionAt100>,
}

fn actions_body(actions: BTreeMap<i64, ActionAt100>) -> BTreeMap<String, ActionAt100> {
    actions
        .into_iter()
        .map(|(level, action)| (level.to_string(), action))
        .collect()
}

impl From<BillingAlerts> for BillingAlertsBody {
    fn from(alerts: BillingAlerts) -> Self {
        BillingAlertsBody {
            alert_thresholds: alerts.alert_thresholds,
            alert_emails: alerts.alert_emails,
            action_at_100: alerts.action_at_100,
            threshold_actions: actions_body(alerts.threshold_actions),
        }
    }
}

/// Alerts on the monthly call and minute limits, mailed to `billingAlerts.alertEmails`;
/// `null`: no alerts on that limit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UsageAlerts)]
pub struct UsageAlertsBody {
    pub monthly_call_limit: Option<UsageAlertRuleBody>,
    pub max_minutes_per_month: Option<UsageAlertRuleBody>,
}

/// Alerts on one monthly limit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UsageAlertRule)]
pub struct UsageAlertRuleBody {
    /// Percentages of the limit that alert.
    pub alert_thresholds: Vec<i64>,
    /// Actions by threshold percent.
    pub threshold_actions: BTreeMap<String, ActionAt100>,
}

impl From<AlertRule> for UsageAlertRuleBody {
    fn from(rule: AlertRule) -> Self {
        UsageAlertRuleBody {
            alert_thresholds: rule.thresholds,
            threshold_actions: actions_body(rule.actions),
        }
    }
}

impl From<UsageAlerts> for UsageAlertsBody {
    fn from(mut alerts: UsageAlerts) -> Self {
        let mut take = |metric| alerts.rules.remove(&metric).map(UsageAlertRuleBody::from);
        UsageAlertsBody {
            monthly_call_limit: take(Metric::Calls),
            max_minutes_per_month: take(Metric::Minutes),
        }
    }
}

/// Voice, recording, compliance and webhook settings (seed 000's fields and defaults).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Settings)]
pub struct SettingsBody {
    pub sip_enabled: bool,
    pub sip_domain: Option<String>,
    pub sip_username: Option<String>,
    pub recording_enabled: bool,
    pub recording_format: RecordingFormat,
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: i64,
    pub analytics_enabled: bool,
    pub hipaa_enabled: bool,
    pub pci_enabled: bool,
    pub data_encryption_enabled: bool,
    pub webhook_url: Option<String>,
    #[schema(minimum = 1, maximum = 300)]
    pub webhook_timeout_seconds: i64,
}

impl From<Settings> for SettingsBody {
    fn from(settings: Settings) -> Self {
        SettingsBody {
            sip_enabled: settings.sip_enabled,
            sip_domain: settings.sip_domain,
            sip_username: settings.sip_username,
            recording_enabled: settings.recording_enabled,
            recording_format: settings.recording_format,
            retention_days: settings.retention_days,
            analytics_enabled: settings.analytics_enabled,
            hipaa_enabled: settings.hipaa_enabled,
            pci_enabled: settings.pci_enabled,
            data_encryption_enabled: settings.data_encryption_enabled,
            webhook_url: settings.webhook_url,
            webhook_timeout_seconds: settings.webhook_timeout_seconds,
        }
    }
}

/// The person who owns a tenant, exactly as the tenant's creator named them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Owner)]
pub struct OwnerBody {
    /// The owner's user, once they have accepted the invitation to this tenant; `null` until
    /// then. A tenant never links a user its creator did not bring in, so an e-mail address
    /// reveals nothing about other tenants.
    pub id: Option<UserId>,
    pub email: String,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl From<Owner> for OwnerBody {
    fn from(owner: Owner) -> Self {
        OwnerBody {
            id: owner.id,
            email: owner.email,
            name: owner.name,
            first_name: owner.first_name,
            last_name: owner.last_name,
        }
    }
}

/// Usage in the current billing period, read from counters.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UsageSummary)]
pub struct UsageSummaryBody {
    pub conversations: i64,
    /// `totalSeconds / 60`, to two decimals.
    pub total_minutes: f64,
    pub total_seconds: i64,
    pub total_cost_cents: i64,
}

impl From<UsageSummary> for UsageSummaryBody {
    fn from(usage: UsageSummary) -> Self {
        UsageSummaryBody {
            conversations: usage.conversations,
            total_minutes: usage.total_minutes,
            total_seconds: usage.total_seconds,
            total_cost_cents: usage.total_cost_cents,
        }
    }
}

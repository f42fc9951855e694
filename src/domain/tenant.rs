//! Tenants: a client organisation with its plan, limits, billing alerts, settings and owner.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{AgencyId, TenantId, UserId};
use super::limits::{EffectiveLimits, Limits};
use super::validation::{parse_email, parse_http_url, Violations};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Inactive,
    Deleted,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillingMode {
    #[default]
    PlatformBilled,
    AgencyBilled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantType {
    Direct,
    AgencyClient,
}

impl TenantType {
    pub fn for_agency(agency_id: Option<AgencyId>) -> Self {
        if agency_id.is_some() {
            TenantType::AgencyClient
        } else {
            TenantType::Direct
        }
    }
}

/// What happens when spend reaches 100% of `monthlySpendLimitCents`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionAt100 {
    #[default]
    NotifyOnly,
    BlockNewCalls,
    Suspend,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingFormat {
    #[default]
    Mp4,
    Mp3,
    Wav,
    Ogg,
    Webm,
}

/// Spend alerts of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingAlerts {
    /// Percentages of the monthly spend limit that trigger an alert.
    pub alert_thresholds: Vec<i64>,
    pub alert_emails: Vec<String>,
    #[serde(rename = "actionAt100")]
    pub action_at_100: ActionAt100,
}

impl Default for BillingAlerts {
    fn default() -> Self {
        Self {
            alert_thresholds: vec![50, 80, 100],
            alert_emails: Vec::new(),
            action_at_100: ActionAt100::NotifyOnly,
        }
    }
}

pub const MAX_ALERT_THRESHOLDS: usize = 10;
pub const MAX_ALERT_EMAILS: usize = 20;

impl BillingAlerts {
    pub fn check(&self, violations: &mut Violations) {
        if self.alert_thresholds.len() > MAX_ALERT_THRESHOLDS {
            violations.add(
                "billingAlerts.alertThresholds",
                "too_many_items",
                format!("at most {MAX_ALERT_THRESHOLDS} thresholds"),
            );
        }
        for (i, threshold) in self.alert_thresholds.iter().enumerate() {
            violations.range(
                &format!("billingAlerts.alertThresholds[{i}]"),
                *threshold,
                1,
                100,
            );
        }
        if self.alert_emails.len() > MAX_ALERT_EMAILS {
            violations.add(
                "billingAlerts.alertEmails",
                "too_many_items",
                format!("at most {MAX_ALERT_EMAILS} addresses"),
            );
        }
        for (i, email) in self.alert_emails.iter().enumerate() {
            violations.parsed(
                &format!("billingAlerts.alertEmails[{i}]"),
                parse_email(email),
            );
        }
    }
}

/// Voice, recording, compliance and webhook settings (seed 000's fields and defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
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

impl Default for Settings {
    fn default() -> Self {
        Self {
            sip_enabled: false,
            sip_domain: None,
            sip_username: None,
            recording_enabled: true,
            recording_format: RecordingFormat::Mp4,
            retention_days: 90,
            analytics_enabled: true,
            hipaa_enabled: false,
            pci_enabled: false,
            data_encryption_enabled: true,
            webhook_url: None,
            webhook_timeout_seconds: 20,
        }
    }
}

impl Settings {
    /// The first compliance setting that is on here and off in `next`, by its wire name.
    /// Only the tenant's agency or the platform may switch one off.
    pub fn compliance_switched_off(&self, next: &Settings) -> Option<&'static str> {
        [
            (
                "settings.hipaaEnabled",
                self.hipaa_enabled,
                next.hipaa_enabled,
            ),
            ("settings.pciEnabled", self.pci_enabled, next.pci_enabled),
            (
                "settings.dataEncryptionEnabled",
                self.data_encryption_enabled,
                next.data_encryption_enabled,
            ),
        ]
        .into_iter()
        .find(|(_, before, after)| *before && !*after)
        .map(|(field, _, _)| field)
    }

    pub fn check(&self, violations: &mut Violations) {
        violations.range(
            "settings.retentionDays",
            self.retention_days,
            1,
            RETENTION_DAYS_MAX,
        );
        violations.range(
            "settings.webhookTimeoutSeconds",
            self.webhook_timeout_seconds,
            1,
            WEBHOOK_TIMEOUT_MAX,
        );
        if let Some(domain) = &self.sip_domain {
            violations.length("settings.sipDomain", domain, 1, 253);
        }
        if let Some(username) = &self.sip_username {
            violations.length("settings.sipUsername", username, 1, 255);
        }
        if let Some(url) = &self.webhook_url {
            violations.parsed("settings.webhookUrl", parse_http_url(url));
        }
    }
}

pub const RETENTION_DAYS_MAX: i64 = 3650;
pub const WEBHOOK_TIMEOUT_MAX: i64 = 300;

/// The person who owns a tenant, exactly as the tenant's creator named them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The owner's user, once they have accepted the invitation to this tenant; `null` until
    /// then. A tenant never links a user its creator did not bring in, so an e-mail address
    /// reveals nothing about other tenants.
    pub id: Option<UserId>,
    pub email: String,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Usage in the current billing period, read from counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageSummary {
    pub conversations: i64,
    /// `totalSeconds / 60`, to two decimals.
    pub total_minutes: f64,
    pub total_seconds: i64,
    pub total_cost_cents: i64,
}

impl UsageSummary {
    pub fn new(conversations: i64, seconds: i64, cost_cents: i64) -> Self {
        Self {
            conversations,
            total_minutes: minutes_from_seconds(seconds),
            total_seconds: seconds,
            total_cost_cents: cost_cents,
        }
    }
}

/// Minutes from seconds, to two decimals (so the seconds can be recovered exactly). Takes
/// wide sums too.
pub fn minutes_from_seconds(seconds: impl Into<i128>) -> f64 {
    (seconds.into() as f64 / 60.0 * 100.0).round() / 100.0
}

/// US dollars from cents, for the fields the seeds show in USD. Takes wide sums too.
pub fn usd_from_cents(cents: impl Into<i128>) -> f64 {
    cents.into() as f64 / 100.0
}

/// A tenant as every surface reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub slug: String,
    pub status: TenantStatus,
    /// The plan's code.
    pub plan: String,
    pub agency_id: Option<AgencyId>,
    pub billing_mode: BillingMode,
    pub tenant_type: TenantType,
    /// Exactly the limits this tenant overrides.
    pub usage_limits: Limits,
    /// All limits after the plan's defaults; `null` is unlimited.
    pub effective_limits: EffectiveLimits,
    pub billing_alerts: BillingAlerts,
    pub settings: Settings,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub usage_current_month: UsageSummary,
    pub owner: Option<Owner>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The owner named when a tenant is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOwner {
    pub email: String,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A checked request to create a tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    /// `None`: derive one from the name.
    pub slug: Option<String>,
    pub plan_code: String,
    pub agency_id: Option<AgencyId>,
    pub billing_mode: BillingMode,
    pub owner: Option<NewOwner>,
    pub limits: Limits,
    pub billing_alerts: BillingAlerts,
    pub settings: Settings,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A checked change to a tenant: each `Some` replaces the stored value whole.
#[derive(Debug, Clone, Default)]
pub struct TenantChanges {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub billing_mode: Option<BillingMode>,
    pub limits: Option<Limits>,
    pub billing_alerts: Option<BillingAlerts>,
    pub settings: Option<Settings>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Largest accepted `metadata` object, serialized.
pub const METADATA_MAX_BYTES: usize = 16 * 1024;

pub fn check_metadata(
    field: &str,
    metadata: &serde_json::Map<String, serde_json::Value>,
    violations: &mut Violations,
) {
    let size = serde_json::to_vec(metadata).map_or(usize::MAX, |bytes| bytes.len());
    if size > METADATA_MAX_BYTES {
        violations.add(
            field,
            "too_large",
            format!("must serialize to at most {METADATA_MAX_BYTES} bytes"),
        );
    }
    if !metadata.values().all(storable_number) {
        violations.add(
            field,
            "number_out_of_range",
            "numbers must be 64-bit integers or decimals of magnitude at most 1e15",
        );
    }
}

/// Whether every number in `value` survives a round trip through any store's JSON type
/// (PostgreSQL rewrites extreme decimals in a form that no longer parses as a float).
fn storable_number(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.abs() <= 1e15)
        }
        serde_json::Value::Array(items) => items.iter().all(storable_number),
        serde_json::Value::Object(map) => map.values().all(storable_number),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_keep_the_seconds() {
        assert_eq!(minutes_from_seconds(0), 0.0);
        assert_eq!(minutes_from_seconds(60), 1.0);
        assert_eq!(minutes_from_seconds(90), 1.5);
        for seconds in 0..100_000 {
            assert_eq!(
                (minutes_from_seconds(seconds) * 60.0).round() as i64,
                seconds
            );
        }
    }

    #[test]
    fn settings_default_to_seed_values() {
        let json = serde_json::to_value(Settings::default()).unwrap();
        assert_eq!(json["recordingFormat"], "mp4");
        assert_eq!(json["retentionDays"], 90);
        assert_eq!(json["webhookTimeoutSeconds"], 20);
        assert_eq!(json["dataEncryptionEnabled"], true);
        assert_eq!(json["sipDomain"], serde_json::Value::Null);
    }
}

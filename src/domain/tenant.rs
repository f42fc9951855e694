//! Tenants: a client organisation with its plan, limits, billing alerts, settings and owner.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use strum::{EnumString, IntoStaticStr, VariantNames};

use super::alerts::{AlertRule, UsageAlerts, UsageAlertsUpdate};
use super::audit::{flatten_into, Audited, Fields, Holder, Target};
use super::branding::Branding;
use super::ids::{AgencyId, TenantId, UserId};
use super::limits::{EffectiveLimits, LimitChanges, LimitKey, Limits};
use super::plan::Plan;
use super::subscription::Subscription;
use super::time::BoundedTime;
use super::validation::{parse_http_url, FieldError, Violations};
use super::values::{EmailAddress, PlanCode, Slug};

mod block;
mod compliance;

pub use block::{Block, BlockChange, BlockedService, EffectiveStatus, BLOCK_REASON_MAX};

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Inactive,
    Deleted,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum BillingMode {
    #[default]
    PlatformBilled,
    AgencyBilled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
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

/// What happens when spend reaches 100% of `monthlySpendLimitCents`; also what any alert
/// threshold may do (`thresholdActions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum ActionAt100 {
    #[default]
    NotifyOnly,
    BlockNewCalls,
    Suspend,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum RecordingFormat {
    #[default]
    Mp4,
    Mp3,
    Wav,
    Ogg,
    Webm,
}

/// Spend alerts of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingAlerts {
    /// Percentages of the monthly spend limit that trigger an alert.
    pub alert_thresholds: Vec<i64>,
    pub alert_emails: Vec<String>,
    pub action_at_100: ActionAt100,
    /// Actions at thresholds below 100 (the action at 100 is `action_at_100`).
    pub threshold_actions: BTreeMap<i64, ActionAt100>,
}

impl Default for BillingAlerts {
    fn default() -> Self {
        Self {
            alert_thresholds: vec![50, 80, 100],
            alert_emails: Vec::new(),
            action_at_100: ActionAt100::NotifyOnly,
            threshold_actions: BTreeMap::new(),
        }
    }
}

pub const MAX_ALERT_EMAILS: usize = 20;

impl BillingAlerts {
    /// The spend limit's thresholds and their actions, the one at 100 included.
    pub fn rule(&self) -> AlertRule {
        let mut actions = self.threshold_actions.clone();
        actions.insert(100, self.action_at_100);
        AlertRule {
            thresholds: self.alert_thresholds.clone(),
            actions,
        }
    }

    pub fn check(&self, violations: &mut Violations) {
        let rule = AlertRule {
            thresholds: self.alert_thresholds.clone(),
            actions: self.threshold_actions.clone(),
        };
        rule.check("billingAlerts", violations);
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
                EmailAddress::parse(email),
            );
        }
    }
}

/// Voice, recording, compliance and webhook settings (seed 000's fields and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub sip_enabled: bool,
    pub sip_domain: Option<String>,
    pub sip_username: Option<String>,
    pub recording_enabled: bool,
    pub recording_format: RecordingFormat,
    pub retention_days: i64,
    pub analytics_enabled: bool,
    pub hipaa_enabled: bool,
    pub pci_enabled: bool,
    pub data_encryption_enabled: bool,
    pub webhook_url: Option<String>,
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

    /// Checks each field on its own; [`Settings::check_change`] checks them together.
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq)]
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
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub slug: Slug,
    pub status: TenantStatus,
    /// The plan's code.
    pub plan: PlanCode,
    /// The plan itself, with the limits it grants.
    pub plan_details: Plan,
    /// Its subscription, if it has one (in any status).
    pub subscription: Option<Subscription>,
    pub agency_id: Option<AgencyId>,
    pub billing_mode: BillingMode,
    pub tenant_type: TenantType,
    /// Exactly the limits this tenant overrides.
    pub usage_limits: Limits,
    /// All limits after the plan's defaults; `null` is unlimited.
    pub effective_limits: EffectiveLimits,
    pub billing_alerts: BillingAlerts,
    /// Alerts on the monthly call and minute limits.
    pub usage_alerts: UsageAlerts,
    pub settings: Settings,
    pub metadata: Metadata,
    pub usage_current_month: UsageSummary,
    pub owner: Option<Owner>,
    /// When and why the tenant was deactivated, while it is.
    pub deactivation: Option<Deactivation>,
    /// While the system has the tenant deactivated for reaching a limit: the first day of the
    /// period that reactivates it.
    pub suspended_until: Option<NaiveDate>,
    /// When the tenant was deleted and when it may be purged, while it is soft-deleted.
    pub deletion: Option<Deletion>,
    /// The services refused, while a block is in force.
    pub block: Option<Block>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tenant as its public face shows it: who it is, its plan and subscription, and what it
/// shows (its own branding over its agency's over the platform's default), without its
/// limits, usage or settings. Read where an answer carries no more (Trieve's organization),
/// in one statement lighter than the whole tenant's.
#[derive(Debug, Clone)]
pub struct TenantProfile {
    pub id: TenantId,
    pub agency_id: Option<AgencyId>,
    pub name: String,
    pub status: TenantStatus,
    pub plan: Plan,
    pub subscription: Option<Subscription>,
    pub branding: Branding,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Tenant {
    /// Whether a limit of the billing period (calls, minutes or spend) is used up.
    pub fn period_quota_exceeded(&self) -> bool {
        let usage = &self.usage_current_month;
        [
            (LimitKey::MonthlyCallLimit, usage.conversations),
            (LimitKey::MaxMinutesPerMonth, usage.total_seconds / 60),
            (LimitKey::MonthlySpendLimitCents, usage.total_cost_cents),
        ]
        .into_iter()
        .any(|(key, used)| {
            self.effective_limits
                .get(key)
                .is_some_and(|limit| used >= limit)
        })
    }
}

/// A deactivation: the tenant keeps its data, its own keys and people are refused, and new
/// calls are refused; calls in progress may end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deactivation {
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// A soft delete: everything is kept until `purge_after`, and can be restored until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    pub at: DateTime<Utc>,
    pub purge_after: DateTime<Utc>,
}

/// The longest deactivation reason.
pub const DEACTIVATION_REASON_MAX: usize = 500;

/// The owner named when a tenant is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOwner {
    pub email: EmailAddress,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl NewOwner {
    /// An owner from what a request names; `name` defaults to first and last name, then to
    /// the address's local part.
    pub fn new(
        email: EmailAddress,
        first_name: Option<String>,
        last_name: Option<String>,
        name: Option<String>,
    ) -> NewOwner {
        let name = name.unwrap_or_else(|| {
            let joined = [first_name.as_deref(), last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            if joined.is_empty() {
                email
                    .as_str()
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            } else {
                joined
            }
        });
        NewOwner {
            email,
            name,
            first_name,
            last_name,
        }
    }

    pub fn check(&self, violations: &mut Violations) {
        for (field, value, max) in [
            ("owner.firstName", &self.first_name, 100),
            ("owner.lastName", &self.last_name, 100),
        ] {
            if let Some(value) = value {
                violations.length(field, value, 1, max);
            }
        }
        violations.length("owner.name", &self.name, 1, 200);
    }
}

/// A request to create a tenant, its values parsed.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    /// `None`: derive one from the name.
    pub slug: Option<Slug>,
    pub plan: PlanCode,
    /// The agency asked for; the caller's scope decides whether it may be.
    pub agency_id: Option<AgencyId>,
    pub billing_mode: BillingMode,
    pub owner: Option<NewOwner>,
    pub limits: Limits,
    pub billing_alerts: BillingAlerts,
    pub usage_alerts: UsageAlerts,
    /// The defaults, with what the request named laid over them.
    pub settings: Settings,
    /// Whether the request named `recording_enabled` itself, rather than taking the default;
    /// one that switches PCI on must.
    pub recording_stated: bool,
    pub metadata: Metadata,
}

impl NewTenant {
    /// Checks every rule a whole tenant must satisfy.
    pub fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 255);
        if let Some(owner) = &self.owner {
            owner.check(violations);
        }
        Settings::default().check_change(&self.settings, self.recording_stated, violations);
        check_parts(
            violations,
            &self.limits,
            (&self.billing_alerts, &self.usage_alerts),
            &self.settings,
            &self.metadata,
        );
    }
}

/// Checks what every tenant must satisfy, whether new or changed.
fn check_parts(
    violations: &mut Violations,
    limits: &Limits,
    (alerts, usage_alerts): (&BillingAlerts, &UsageAlerts),
    settings: &Settings,
    metadata: &Metadata,
) {
    limits.check("usageLimits", violations);
    alerts.check(violations);
    usage_alerts.check(violations);
    settings.check(violations);
    check_metadata("metadata", metadata, violations);
}

pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// A partial change to a tenant, as any dialect asks for it: `None` keeps a value, nested
/// parts change field by field.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub slug: Option<Slug>,
    pub plan: Option<PlanCode>,
    pub billing_mode: Option<BillingMode>,
    pub limits: Option<LimitChanges>,
    pub billing_alerts: Option<BillingAlertsUpdate>,
    pub usage_alerts: Option<UsageAlertsUpdate>,
    pub settings: Option<SettingsUpdate>,
    pub metadata: Option<MetadataUpdate>,
}

/// Changes to billing alerts; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct BillingAlertsUpdate {
    pub alert_thresholds: Option<Vec<i64>>,
    pub alert_emails: Option<Vec<String>>,
    pub action_at_100: Option<ActionAt100>,
    pub threshold_actions: Option<BTreeMap<i64, ActionAt100>>,
}

impl BillingAlertsUpdate {
    pub fn apply_to(&self, mut base: BillingAlerts) -> BillingAlerts {
        if let Some(thresholds) = &self.alert_thresholds {
            base.alert_thresholds = thresholds.clone();
        }
        if let Some(emails) = &self.alert_emails {
            base.alert_emails = emails.clone();
        }
        if let Some(action) = self.action_at_100 {
            base.action_at_100 = action;
        }
        if let Some(actions) = &self.threshold_actions {
            base.threshold_actions = actions.clone();
        }
        base
    }
}

/// Changes to settings; `None` keeps a field, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct SettingsUpdate {
    pub sip_enabled: Option<bool>,
    pub sip_domain: Option<Option<String>>,
    pub sip_username: Option<Option<String>>,
    pub recording_enabled: Option<bool>,
    pub recording_format: Option<RecordingFormat>,
    pub retention_days: Option<i64>,
    pub analytics_enabled: Option<bool>,
    pub hipaa_enabled: Option<bool>,
    pub pci_enabled: Option<bool>,
    pub data_encryption_enabled: Option<bool>,
    pub webhook_url: Option<Option<String>>,
    pub webhook_timeout_seconds: Option<i64>,
}

impl SettingsUpdate {
    pub fn apply_to(&self, mut base: Settings) -> Settings {
        macro_rules! set {
            ($($field:ident),*) => {
                $(if let Some(value) = &self.$field { base.$field = value.clone(); })*
            };
        }
        set!(
            sip_enabled,
            sip_domain,
            sip_username,
            recording_enabled,
            recording_format,
            retention_days,
            analytics_enabled,
            hipaa_enabled,
            pci_enabled,
            data_encryption_enabled,
            webhook_url,
            webhook_timeout_seconds
        );
        base
    }
}

/// A change to metadata.
#[derive(Debug, Clone)]
pub enum MetadataUpdate {
    /// Remove every key.
    Clear,
    /// Merge key by key; a key set to `null` is removed.
    Merge(Metadata),
    /// Replace the object whole.
    Replace(Metadata),
}

impl MetadataUpdate {
    pub fn apply_to(&self, current: &Metadata) -> Metadata {
        match self {
            MetadataUpdate::Clear => Metadata::new(),
            MetadataUpdate::Replace(metadata) => metadata.clone(),
            MetadataUpdate::Merge(patch) => {
                let mut merged = current.clone();
                for (key, value) in patch {
                    if value.is_null() {
                        merged.remove(key);
                    } else {
                        merged.insert(key.clone(), value.clone());
                    }
                }
                merged
            }
        }
    }
}

impl TenantUpdate {
    /// Whether it touches what only the agency or the platform may change.
    pub fn touches_commercial_terms(&self) -> bool {
        self.plan.is_some()
            || self.billing_mode.is_some()
            || self.limits.is_some()
            || self.billing_alerts.is_some()
            || self.usage_alerts.is_some()
    }

    /// The whole new values of every part this update changes, laid over `current` and
    /// checked as a whole tenant. Settings it changes are checked together too; settings it
    /// leaves alone are not judged again, so rules added since they were stored do not stop
    /// a rename.
    pub fn apply_to(&self, current: &Tenant) -> Result<TenantChanges, Vec<FieldError>> {
        let mut violations = Violations::default();
        if let Some(name) = &self.name {
            violations.length("name", name, 1, 255);
        }
        let limits = self
            .limits
            .as_ref()
            .map(|changes| changes.apply_to(current.usage_limits.clone()));
        let alerts = self
            .billing_alerts
            .as_ref()
            .map(|update| update.apply_to(current.billing_alerts.clone()));
        let usage_alerts = self
            .usage_alerts
            .as_ref()
            .map(|update| update.apply_to(current.usage_alerts.clone()));
        let settings = self.settings.as_ref().map(|update| {
            let next = update.apply_to(current.settings.clone());
            let recording_stated = update.recording_enabled.is_some();
            current
                .settings
                .check_change(&next, recording_stated, &mut violations);
            next
        });
        let metadata = self
            .metadata
            .as_ref()
            .map(|update| update.apply_to(&current.metadata));
        check_parts(
            &mut violations,
            limits.as_ref().unwrap_or(&current.usage_limits),
            (
                alerts.as_ref().unwrap_or(&current.billing_alerts),
                usage_alerts.as_ref().unwrap_or(&current.usage_alerts),
            ),
            settings.as_ref().unwrap_or(&current.settings),
            metadata.as_ref().unwrap_or(&current.metadata),
        );
        violations.finish(|| TenantChanges {
            name: self.name.clone(),
            slug: self.slug.clone(),
            billing_mode: self.billing_mode,
            limits,
            billing_alerts: alerts,
            usage_alerts,
            settings,
            metadata,
        })
    }
}

/// A checked change to a tenant: each `Some` replaces the stored value whole.
#[derive(Debug, Clone, Default)]
pub struct TenantChanges {
    pub name: Option<String>,
    pub slug: Option<Slug>,
    pub billing_mode: Option<BillingMode>,
    pub limits: Option<Limits>,
    pub billing_alerts: Option<BillingAlerts>,
    pub usage_alerts: Option<UsageAlerts>,
    pub settings: Option<Settings>,
    pub metadata: Option<Metadata>,
}

/// Largest accepted `metadata` object, serialized.
pub const METADATA_MAX_BYTES: usize = 16 * 1024;

pub fn check_metadata(field: &str, metadata: &Metadata, violations: &mut Violations) {
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

impl Audited for Tenant {
    fn audit_target(&self) -> Target {
        Target::new("tenant", self.id)
    }

    fn audit_holder(&self) -> Holder {
        (Some(self.id), None)
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        let mut put = |name: &str, value: Value| flatten_into(&mut fields, name, value);
        put("name", json!(self.name));
        put("slug", json!(self.slug.as_str()));
        put("status", json!(<&str>::from(self.status)));
        put("plan", json!(self.plan.as_str()));
        put("agencyId", json!(self.agency_id.map(|id| id.to_string())));
        put("billingMode", json!(<&str>::from(self.billing_mode)));
        for (key, value) in self.usage_limits.iter() {
            put(&format!("usageLimits.{}", key.field()), json!(value));
        }
        let alerts = &self.billing_alerts;
        put(
            "billingAlerts.alertThresholds",
            json!(alerts.alert_thresholds),
        );
        put("billingAlerts.alertEmails", json!(alerts.alert_emails));
        put(
            "billingAlerts.actionAt100",
            json!(<&str>::from(alerts.action_at_100)),
        );
        put(
            "billingAlerts.thresholdActions",
            actions_json(&alerts.threshold_actions),
        );
        for metric in crate::domain::alerts::Metric::USAGE {
            let rule = self.usage_alerts.rules.get(&metric);
            let name = format!("usageAlerts.{}", metric.name());
            put(
                &format!("{name}.alertThresholds"),
                json!(rule.map(|r| &r.thresholds)),
            );
            put(
                &format!("{name}.thresholdActions"),
                rule.map_or(Value::Null, |r| actions_json(&r.actions)),
            );
        }
        self.settings.audit_into(&mut put);
        put("metadata", Value::Object(self.metadata.clone()));
        put("owner.email", json!(self.owner.as_ref().map(|o| &o.email)));
        put(
            "deactivationReason",
            json!(self.deactivation.as_ref().map(|d| &d.reason)),
        );
        put("purgeAfter", json!(self.deletion.map(|d| d.purge_after)));
        put("suspendedUntil", json!(self.suspended_until));
        let block = self.block.as_ref();
        put(
            "block.services",
            json!(block.map(|b| b.services.iter().map(|s| s.name()).collect::<Vec<_>>())),
        );
        put("block.reason", json!(block.and_then(|b| b.reason.as_ref())));
        put("block.blockedAt", json!(block.map(|b| b.at)));
        fields
    }
}

/// Actions by threshold as `{"90": "block_new_calls"}`, the form the wire and storage use.
pub fn actions_json(actions: &BTreeMap<i64, ActionAt100>) -> Value {
    Value::Object(
        actions
            .iter()
            .map(|(level, action)| (level.to_string(), json!(<&str>::from(*action))))
            .collect(),
    )
}

impl Settings {
    fn audit_into(&self, put: &mut impl FnMut(&str, Value)) {
        put("settings.sipEnabled", json!(self.sip_enabled));
        put("settings.sipDomain", json!(self.sip_domain));
        put("settings.sipUsername", json!(self.sip_username));
        put("settings.recordingEnabled", json!(self.recording_enabled));
        put(
            "settings.recordingFormat",
            json!(<&str>::from(self.recording_format)),
        );
        put("settings.retentionDays", json!(self.retention_days));
        put("settings.analyticsEnabled", json!(self.analytics_enabled));
        put("settings.hipaaEnabled", json!(self.hipaa_enabled));
        put("settings.pciEnabled", json!(self.pci_enabled));
        put(
            "settings.dataEncryptionEnabled",
            json!(self.data_encryption_enabled),
        );
        put("settings.webhookUrl", json!(self.webhook_url));
        put(
            "settings.webhookTimeoutSeconds",
            json!(self.webhook_timeout_seconds),
        );
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
        let settings = Settings::default();
        assert_eq!(settings.recording_format, RecordingFormat::Mp4);
        assert_eq!(settings.retention_days, 90);
        assert_eq!(settings.webhook_timeout_seconds, 20);
        assert!(settings.data_encryption_enabled);
        assert_eq!(settings.sip_domain, None);
        assert_eq!(<&str>::from(RecordingFormat::Mp4), "mp4");
        assert_eq!("agency_billed".parse(), Ok(BillingMode::AgencyBilled));
    }
}

/// Sort keys of the tenant list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "camelCase")]
pub enum TenantSort {
    Name,
    Slug,
    CreatedAt,
    UpdatedAt,
}

impl TenantSort {
    /// Whether `value` is of this key's kind.
    pub fn accepts(self, value: &SortValue) -> bool {
        match self {
            TenantSort::Name | TenantSort::Slug => matches!(value, SortValue::Text(_)),
            TenantSort::CreatedAt | TenantSort::UpdatedAt => matches!(value, SortValue::Time(_)),
        }
    }

    /// Dates list newest first unless told otherwise; names and slugs alphabetically.
    pub fn descending_by_default(self) -> bool {
        matches!(self, TenantSort::CreatedAt | TenantSort::UpdatedAt)
    }

    /// The value of this key on a tenant, to resume a page after it.
    pub fn key_of(self, tenant: &Tenant) -> SortValue {
        match self {
            TenantSort::Name => SortValue::Text(tenant.name.clone()),
            TenantSort::Slug => SortValue::Text(tenant.slug.to_string()),
            TenantSort::CreatedAt => SortValue::Time(BoundedTime::clamped(tenant.created_at)),
            TenantSort::UpdatedAt => SortValue::Time(BoundedTime::clamped(tenant.updated_at)),
        }
    }
}

/// A sort-key value to resume a list after. A time is bounded, like every time a client
/// sends: it comes back in a cursor.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    Time(BoundedTime),
    Text(String),
}

/// Filters and position of one page of tenants.
#[derive(Debug, Clone)]
pub struct TenantQuery {
    /// As every surface shows it: `active` leaves blocked tenants out, `blocked` lists them.
    pub status: Option<EffectiveStatus>,
    /// A plan code; one that is no plan's matches nothing.
    pub plan: Option<String>,
    pub agency_id: Option<AgencyId>,
    /// Text found anywhere in the name or the slug, ASCII letters in any case; 3 characters
    /// or more.
    pub search: Option<String>,
    pub sort: TenantSort,
    pub descending: bool,
    /// Resume strictly after this (sort value, id).
    pub after: Option<(SortValue, TenantId)>,
    pub limit: i64,
    /// Rows to skip before the page, for the dialects that page by offset; 0 with a cursor.
    pub offset: i64,
}

//! Wire shapes of tenant requests, and their mapping onto the domain's `NewTenant` and
//! `TenantUpdate`. Values with a rule of their own (slug, plan code, e-mail) are parsed here,
//! once; everything else is checked by the domain.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::ToSchema;

use super::super::limits::LimitsInput;
use crate::domain::alerts::{AlertRule, Metric, UsageAlertsUpdate};
use crate::domain::ids::AgencyId;
use crate::domain::tenant::{
    ActionAt100, BillingAlerts, BillingAlertsUpdate, BillingMode, Metadata, MetadataUpdate,
    NewOwner, NewTenant, RecordingFormat, Settings, SettingsUpdate, TenantUpdate,
};
use crate::domain::validation::{FieldError, Violations};
use crate::domain::values::{EmailAddress, PlanCode, Slug};
use crate::http::patch::Patch;

/// Billing alert settings to change; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BillingAlertsInput {
    #[serde(default)]
    #[schema(value_type = Option<Vec<BoundedPercent>>, nullable = false, max_items = 10)]
    pub alert_thresholds: Patch<Vec<i64>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<EmailAddressSchema>>, nullable = false, max_items = 20)]
    pub alert_emails: Patch<Vec<String>>,
    #[serde(default, rename = "actionAt100")]
    #[schema(value_type = Option<ActionAt100>, nullable = false)]
    pub action_at_100: Patch<ActionAt100>,
    /// Actions by threshold percent, such as `{"90": "block_new_calls"}`; replaces the
    /// current ones whole. Each key is one of `alertThresholds`, or `100` (the same as
    /// `actionAt100`).
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, ActionAt100>>, nullable = false)]
    pub threshold_actions: Patch<BTreeMap<String, ActionAt100>>,
}

impl BillingAlertsInput {
    fn into_update(self, violations: &mut Violations) -> BillingAlertsUpdate {
        let field = |name: &str| format!("billingAlerts.{name}");
        let mut action_at_100 = self
            .action_at_100
            .non_null(&field("actionAt100"), violations);
        let threshold_actions = self
            .threshold_actions
            .non_null(&field("thresholdActions"), violations)
            .map(|actions| {
                let mut actions = parse_actions("billingAlerts", actions, violations);
                // The action at 100 is `actionAt100`, whichever field names it.
                if let Some(at_100) = actions.remove(&100) {
                    if action_at_100.is_some_and(|named| named != at_100) {
                        violations.add(
                            field("thresholdActions.100"),
                            "conflicting_value",
                            "must agree with actionAt100",
                        );
                    }
                    action_at_100 = Some(at_100);
                }
                actions
            });
        BillingAlertsUpdate {
            alert_thresholds: self
                .alert_thresholds
                .non_null(&field("alertThresholds"), violations),
            alert_emails: self
                .alert_emails
                .non_null(&field("alertEmails"), violations),
            action_at_100,
            threshold_actions,
        }
    }
}

/// Actions keyed by threshold percent; a key that is not a whole number is named as
/// `<owner>.thresholdActions.<key>`.
fn parse_actions(
    owner: &str,
    actions: BTreeMap<String, ActionAt100>,
    violations: &mut Violations,
) -> BTreeMap<i64, ActionAt100> {
    let mut parsed = BTreeMap::new();
    for (key, action) in actions {
        match key.parse::<i64>() {
            Ok(level) => {
                parsed.insert(level, action);
            }
            Err(_) => violations.add(
                format!("{owner}.thresholdActions.{key}"),
                "invalid_value",
                "must be a threshold percent",
            ),
        }
    }
    parsed
}

/// Alerts on one monthly limit; replaces the current rule of that limit whole.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsageAlertRuleInput {
    /// Percentages of the limit that alert.
    #[schema(value_type = Vec<BoundedPercent>, max_items = 10)]
    pub alert_thresholds: Vec<i64>,
    /// Actions by threshold percent, such as `{"100": "block_new_calls"}`; each key is one of
    /// `alertThresholds`, or `100`.
    #[serde(default)]
    pub threshold_actions: BTreeMap<String, ActionAt100>,
}

/// Alerts on the monthly call and minute limits, mailed to `billingAlerts.alertEmails`. A
/// limit left out keeps its rule; `null` removes it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsageAlertsInput {
    #[serde(default)]
    #[schema(value_type = Option<UsageAlertRuleInput>)]
    pub monthly_call_limit: Patch<UsageAlertRuleInput>,
    #[serde(default)]
    #[schema(value_type = Option<UsageAlertRuleInput>)]
    pub max_minutes_per_month: Patch<UsageAlertRuleInput>,
}

impl UsageAlertsInput {
    fn into_update(self, violations: &mut Violations) -> UsageAlertsUpdate {
        let mut update = UsageAlertsUpdate::default();
        for (metric, patch) in [
            (Metric::Calls, self.monthly_call_limit),
            (Metric::Minutes, self.max_minutes_per_month),
        ] {
            let Some(rule) = patch.nullable() else {
                continue;
            };
            let owner = format!("usageAlerts.{}", metric.name());
            let rule = rule.map(|input| AlertRule {
                thresholds: input.alert_thresholds,
                actions: parse_actions(&owner, input.threshold_actions, violations),
            });
            update.rules.insert(metric, rule);
        }
        update
    }
}

/// A percentage from 1 to 100.
pub struct BoundedPercent;

impl utoipa::PartialSchema for BoundedPercent {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .maximum(Some(100))
            .into()
    }
}

impl ToSchema for BoundedPercent {}

/// An e-mail address.
pub struct EmailAddressSchema;

impl utoipa::PartialSchema for EmailAddressSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .max_length(Some(254))
            .into()
    }
}

impl ToSchema for EmailAddressSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("EmailAddress")
    }
}

/// Settings to change; absent fields keep their value, `null` clears a nullable one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsInput {
    #[serde(default)]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub sip_enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 253)]
    pub sip_domain: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    pub sip_username: Patch<String>,
    /// Defaults to `true`. A request that switches `pciEnabled` on must name it.
    #[serde(default)]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub recording_enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<RecordingFormat>, nullable = false)]
    pub recording_format: Patch<RecordingFormat>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, nullable = false, minimum = 1, maximum = 3650)]
    pub retention_days: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub analytics_enabled: Patch<bool>,
    /// Needs `dataEncryptionEnabled` and an `https` `webhookUrl`.
    #[serde(default)]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub hipaa_enabled: Patch<bool>,
    /// A request that switches it on must name `recordingEnabled` too: `true` to keep
    /// recordings, `false` to store none.
    #[serde(default)]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub pci_enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub data_encryption_enabled: Patch<bool>,
    /// An absolute http(s) URL; `https` while `hipaaEnabled` is on.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^https?://[^\\s/?#]+[^\\s]*$", max_length = 2048)]
    pub webhook_url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, nullable = false, minimum = 1, maximum = 300)]
    pub webhook_timeout_seconds: Patch<i64>,
}

impl SettingsInput {
    fn into_update(self, violations: &mut Violations) -> SettingsUpdate {
        let field = |name: &str| format!("settings.{name}");
        SettingsUpdate {
            sip_enabled: self.sip_enabled.non_null(&field("sipEnabled"), violations),
            sip_domain: self.sip_domain.nullable(),
            sip_username: self.sip_username.nullable(),
            recording_enabled: self
                .recording_enabled
                .non_null(&field("recordingEnabled"), violations),
            recording_format: self
                .recording_format
                .non_null(&field("recordingFormat"), violations),
            retention_days: self
                .retention_days
                .non_null(&field("retentionDays"), violations),
            analytics_enabled: self
                .analytics_enabled
                .non_null(&field("analyticsEnabled"), violations),
            hipaa_enabled: self
                .hipaa_enabled
                .non_null(&field("hipaaEnabled"), violations),
            pci_enabled: self.pci_enabled.non_null(&field("pciEnabled"), violations),
            data_encryption_enabled: self
                .data_encryption_enabled
                .non_null(&field("dataEncryptionEnabled"), violations),
            webhook_url: self.webhook_url.nullable(),
            webhook_timeout_seconds: self
                .webhook_timeout_seconds
                .non_null(&field("webhookTimeoutSeconds"), violations),
        }
    }
}

/// The tenant's owner; an invitation goes to this address.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OwnerInput {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// Full name; defaults to first and last name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
}

impl OwnerInput {
    fn into_owner(self, violations: &mut Violations) -> Option<NewOwner> {
        let email = violations.parsed("owner.email", EmailAddress::parse(&self.email))?;
        Some(NewOwner::new(
            email,
            self.first_name,
            self.last_name,
            self.name,
        ))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTenantRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Defaults to one derived from the name.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
    pub slug: Option<String>,
    /// A plan code; defaults to `free`.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,99}$")]
    pub plan: Option<String>,
    #[serde(default)]
    pub billing_mode: Option<BillingMode>,
    /// The owning agency (platform keys only; an agency key's tenants are its own).
    #[serde(default)]
    pub agency_id: Option<AgencyId>,
    #[serde(default)]
    pub owner: Option<OwnerInput>,
    #[serde(default)]
    pub usage_limits: Option<LimitsInput>,
    #[serde(default)]
    pub billing_alerts: Option<BillingAlertsInput>,
    #[serde(default)]
    pub usage_alerts: Option<UsageAlertsInput>,
    #[serde(default)]
    pub settings: Option<SettingsInput>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
}

impl CreateTenantRequest {
    /// The new tenant, its values parsed; the domain checks the rest.
    pub fn into_new_tenant(self) -> Result<NewTenant, Vec<FieldError>> {
        let mut violations = Violations::default();
        let slug = self
            .slug
            .as_deref()
            .and_then(|slug| violations.parsed("slug", Slug::parse(slug)));
        let plan = match self.plan.as_deref() {
            Some(code) => violations.parsed("plan", PlanCode::parse(code)),
            None => Some(PlanCode::free()),
        };
        let owner = self.owner.and_then(|o| o.into_owner(&mut violations));
        let limits = self
            .usage_limits
            .map(|input| input.0.apply_to(Default::default()))
            .unwrap_or_default();
        let billing_alerts = self
            .billing_alerts
            .map(|input| input.into_update(&mut violations))
            .unwrap_or_default()
            .apply_to(BillingAlerts::default());
        let usage_alerts = self
            .usage_alerts
            .map(|input| input.into_update(&mut violations))
            .unwrap_or_default()
            .apply_to(Default::default());
        let settings = self
            .settings
            .map(|input| input.into_update(&mut violations))
            .unwrap_or_default();
        let recording_stated = settings.recording_enabled.is_some();
        let new = NewTenant {
            name: self.name,
            slug,
            plan: plan.unwrap_or_else(PlanCode::free),
            agency_id: self.agency_id,
            billing_mode: self.billing_mode.unwrap_or_default(),
            owner,
            limits,
            billing_alerts,
            usage_alerts,
            settings: settings.apply_to(Settings::default()),
            recording_stated,
            metadata: self.metadata.unwrap_or_default(),
        };
        if violations.is_empty() {
            return Ok(new);
        }
        // Report every bad field at once: the domain's rules too, not only what did not parse.
        new.check(&mut violations);
        Err(violations.into_errors())
    }
}

/// Changes to a tenant. Nested objects merge into the current value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateTenantRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 255)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false, pattern = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
    pub slug: Patch<String>,
    /// A plan code.
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false, pattern = "^[a-z0-9][a-z0-9_-]{0,99}$")]
    pub plan: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<BillingMode>, nullable = false)]
    pub billing_mode: Patch<BillingMode>,
    #[serde(default)]
    #[schema(value_type = Option<LimitsInput>, nullable = false)]
    pub usage_limits: Patch<LimitsInput>,
    #[serde(default)]
    #[schema(value_type = Option<BillingAlertsInput>, nullable = false)]
    pub billing_alerts: Patch<BillingAlertsInput>,
    #[serde(default)]
    #[schema(value_type = Option<UsageAlertsInput>, nullable = false)]
    pub usage_alerts: Patch<UsageAlertsInput>,
    #[serde(default)]
    #[schema(value_type = Option<SettingsInput>, nullable = false)]
    pub settings: Patch<SettingsInput>,
    /// Merged key by key; a key set to `null` is removed, and `null` clears them all.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Patch<Metadata>,
}

impl UpdateTenantRequest {
    /// The change, its values parsed; it is laid over the current tenant under its lock.
    pub fn into_update(self) -> Result<TenantUpdate, Vec<FieldError>> {
        let mut violations = Violations::default();
        let violations = &mut violations;
        let slug = self.slug.non_null("slug", violations);
        let plan = self.plan.non_null("plan", violations);
        let update = TenantUpdate {
            name: self.name.non_null("name", violations),
            slug: slug.and_then(|slug| violations.parsed("slug", Slug::parse(&slug))),
            plan: plan.and_then(|code| violations.parsed("plan", PlanCode::parse(&code))),
            billing_mode: self.billing_mode.non_null("billingMode", violations),
            limits: self
                .usage_limits
                .non_null("usageLimits", violations)
                .map(|input| input.0),
            billing_alerts: self
                .billing_alerts
                .non_null("billingAlerts", violations)
                .map(|input| input.into_update(violations)),
            usage_alerts: self
                .usage_alerts
                .non_null("usageAlerts", violations)
                .map(|input| input.into_update(violations)),
            settings: self
                .settings
                .non_null("settings", violations)
                .map(|input| input.into_update(violations)),
            metadata: self.metadata.nullable().map(|patch| match patch {
                None => MetadataUpdate::Clear,
                Some(patch) => MetadataUpdate::Merge(patch),
            }),
        };
        std::mem::take(violations).finish(|| update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validation::HTTP_URL_PATTERN;
    use crate::domain::values::{PLAN_CODE_PATTERN, SLUG_PATTERN};

    #[test]
    fn schema_patterns_match_the_domain_rules() {
        let spec = serde_json::to_string(&<CreateTenantRequest as utoipa::PartialSchema>::schema())
            .unwrap();
        assert!(spec.contains(&serde_json::to_string(SLUG_PATTERN).unwrap()[1..SLUG_PATTERN.len()]));
        assert!(spec.contains(&PLAN_CODE_PATTERN.replace('\\', "\\\\")));
        let settings =
            serde_json::to_string(&<SettingsInput as utoipa::PartialSchema>::schema()).unwrap();
        assert!(settings.contains(HTTP_URL_PATTERN));
    }
}

//! Wire shapes of tenant requests and their conversion into checked domain commands.

use std::borrow::Cow;

use serde::Deserialize;
use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, SchemaFormat, SchemaType};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::ToSchema;

use crate::domain::ids::AgencyId;
use crate::domain::limits::{by_limit_key, LimitKey, Limits};
use crate::domain::plan::parse_plan_code;
use crate::domain::tenant::{
    check_metadata, ActionAt100, BillingAlerts, BillingMode, NewOwner, NewTenant, RecordingFormat,
    Settings, Tenant, TenantChanges,
};
use crate::domain::validation::{parse_email, parse_slug, FieldError, Violations};
use crate::http::patch::{nullable, present};

type Metadata = serde_json::Map<String, serde_json::Value>;

/// Limits to set: a value overrides, `null` removes the override, an absent key is unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsInput {
    #[serde(default, deserialize_with = "nullable")]
    pub monthly_spend_limit_cents: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub max_agents: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub max_phone_numbers: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub max_concurrent_calls: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub monthly_call_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub max_minutes_per_month: Option<Option<i64>>,
}

impl LimitsInput {
    fn get(&self, key: LimitKey) -> Option<Option<i64>> {
        by_limit_key!(self, key)
    }

    /// `base` with these changes laid over it.
    pub fn apply_to(&self, mut base: Limits) -> Limits {
        for key in LimitKey::ALL {
            if let Some(value) = self.get(key) {
                *base.slot(key) = value;
            }
        }
        base
    }
}

// The schema comes from `LimitKey`, so the ranges documented are the ranges enforced.
impl utoipa::PartialSchema for LimitsInput {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .description(Some(
                "Limits to set: a value overrides the plan, `null` removes the override.",
            ))
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        for key in LimitKey::ALL {
            let (min, max) = key.range();
            object = object.property(
                key.field(),
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(min))
                    .maximum(Some(max)),
            );
        }
        object.into()
    }
}

impl ToSchema for LimitsInput {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("LimitsInput")
    }
}

/// Billing alert settings to change; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BillingAlertsInput {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, max_items = 10, value_type = Option<Vec<BoundedPercent>>)]
    pub alert_thresholds: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, max_items = 20, value_type = Option<Vec<EmailAddress>>)]
    pub alert_emails: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present", rename = "actionAt100")]
    #[schema(nullable = false)]
    pub action_at_100: Option<ActionAt100>,
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
pub struct EmailAddress;

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .max_length(Some(254))
            .into()
    }
}

impl ToSchema for EmailAddress {}

impl BillingAlertsInput {
    pub fn apply_to(self, mut base: BillingAlerts) -> BillingAlerts {
        if let Some(thresholds) = self.alert_thresholds {
            base.alert_thresholds = thresholds;
        }
        if let Some(emails) = self.alert_emails {
            base.alert_emails = emails;
        }
        if let Some(action) = self.action_at_100 {
            base.action_at_100 = action;
        }
        base
    }
}

/// Settings to change; absent fields keep their value, `null` clears a nullable one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsInput {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub sip_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(min_length = 1, max_length = 253)]
    pub sip_domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(min_length = 1, max_length = 255)]
    pub sip_username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub recording_enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub recording_format: Option<RecordingFormat>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 1, maximum = 3650)]
    pub retention_days: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub analytics_enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub hipaa_enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub pci_enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub data_encryption_enabled: Option<bool>,
    /// An absolute http(s) URL.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(pattern = "^https?://[^\\s/?#]+[^\\s]*$", max_length = 2048)]
    pub webhook_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, minimum = 1, maximum = 300)]
    pub webhook_timeout_seconds: Option<i64>,
}

impl SettingsInput {
    pub fn apply_to(self, mut base: Settings) -> Settings {
        macro_rules! set {
            ($($field:ident),*) => {
                $(if let Some(value) = self.$field { base.$field = value; })*
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
    fn into_owner(self, violations: &mut Violations) -> NewOwner {
        violations.parsed("owner.email", parse_email(&self.email));
        for (field, value, max) in [
            ("owner.firstName", &self.first_name, 100),
            ("owner.lastName", &self.last_name, 100),
            ("owner.name", &self.name, 200),
        ] {
            if let Some(value) = value {
                violations.length(field, value, 1, max);
            }
        }
        let joined = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let name = self.name.clone().unwrap_or_else(|| {
            if joined.is_empty() {
                self.email.split('@').next().unwrap_or_default().to_owned()
            } else {
                joined
            }
        });
        NewOwner {
            email: self.email,
            name,
            first_name: self.first_name,
            last_name: self.last_name,
        }
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
    pub settings: Option<SettingsInput>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
}

/// Checks what every tenant must satisfy, whether new or changed.
fn check_tenant_parts(
    violations: &mut Violations,
    limits: &Limits,
    alerts: &BillingAlerts,
    settings: &Settings,
    metadata: &Metadata,
) {
    limits.check("usageLimits", violations);
    alerts.check(violations);
    settings.check(violations);
    check_metadata("metadata", metadata, violations);
}

impl CreateTenantRequest {
    pub fn into_new_tenant(self) -> Result<NewTenant, Vec<FieldError>> {
        let mut violations = Violations::default();
        violations.length("name", &self.name, 1, 255);
        if let Some(slug) = &self.slug {
            violations.parsed("slug", parse_slug(slug));
        }
        if let Some(plan) = &self.plan {
            violations.parsed("plan", parse_plan_code(plan));
        }
        let owner = self.owner.map(|o| o.into_owner(&mut violations));
        let limits = self
            .usage_limits
            .unwrap_or_default()
            .apply_to(Limits::default());
        let billing_alerts = self
            .billing_alerts
            .unwrap_or_default()
            .apply_to(BillingAlerts::default());
        let settings = self
            .settings
            .unwrap_or_default()
            .apply_to(Settings::default());
        let metadata = self.metadata.unwrap_or_default();
        check_tenant_parts(
            &mut violations,
            &limits,
            &billing_alerts,
            &settings,
            &metadata,
        );
        violations.finish(|| NewTenant {
            name: self.name,
            slug: self.slug,
            plan_code: self.plan.unwrap_or_else(|| "free".to_owned()),
            agency_id: self.agency_id,
            billing_mode: self.billing_mode.unwrap_or_default(),
            owner,
            limits,
            billing_alerts,
            settings,
            metadata,
        })
    }
}

/// Changes to a tenant. Nested objects merge into the current value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateTenantRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, max_length = 255)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, pattern = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
    pub slug: Option<String>,
    /// A plan code.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, pattern = "^[a-z0-9][a-z0-9_-]{0,99}$")]
    pub plan: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub billing_mode: Option<BillingMode>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub usage_limits: Option<LimitsInput>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub billing_alerts: Option<BillingAlertsInput>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub settings: Option<SettingsInput>,
    /// Merged key by key; a key set to `null` is removed, and `null` clears them all.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<Metadata>>,
}

impl UpdateTenantRequest {
    /// Whether it touches what only the agency or the platform may change.
    pub fn touches_commercial_terms(&self) -> bool {
        self.plan.is_some()
            || self.billing_mode.is_some()
            || self.usage_limits.is_some()
            || self.billing_alerts.is_some()
    }

    /// The whole new values of every field this request changes, checked.
    pub fn into_changes(self, current: &Tenant) -> Result<TenantChanges, Vec<FieldError>> {
        let mut violations = Violations::default();
        if let Some(name) = &self.name {
            violations.length("name", name, 1, 255);
        }
        if let Some(slug) = &self.slug {
            violations.parsed("slug", parse_slug(slug));
        }
        if let Some(plan) = &self.plan {
            violations.parsed("plan", parse_plan_code(plan));
        }
        let limits = self.usage_limits.map(|l| l.apply_to(current.usage_limits));
        let alerts = self
            .billing_alerts
            .map(|a| a.apply_to(current.billing_alerts.clone()));
        let settings = self.settings.map(|s| s.apply_to(current.settings.clone()));
        let metadata = self.metadata.map(|patch| match patch {
            None => Metadata::new(),
            Some(patch) => {
                let mut merged = current.metadata.clone();
                for (key, value) in patch {
                    if value.is_null() {
                        merged.remove(&key);
                    } else {
                        merged.insert(key, value);
                    }
                }
                merged
            }
        });
        check_tenant_parts(
            &mut violations,
            limits.as_ref().unwrap_or(&current.usage_limits),
            alerts.as_ref().unwrap_or(&current.billing_alerts),
            settings.as_ref().unwrap_or(&current.settings),
            metadata.as_ref().unwrap_or(&current.metadata),
        );
        violations.finish(|| TenantChanges {
            name: self.name,
            slug: self.slug,
            billing_mode: self.billing_mode,
            limits,
            billing_alerts: alerts,
            settings,
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::PLAN_CODE_PATTERN;
    use crate::domain::validation::{HTTP_URL_PATTERN, SLUG_PATTERN};

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

    #[test]
    fn limits_input_sets_and_clears_overrides() {
        let base = Limits {
            max_agents: Some(20),
            max_phone_numbers: Some(10),
            ..Limits::default()
        };
        let input: LimitsInput =
            serde_json::from_str(r#"{"maxAgents": 50, "maxPhoneNumbers": null}"#).unwrap();
        let merged = input.apply_to(base);
        assert_eq!(merged.max_agents, Some(50));
        assert_eq!(merged.max_phone_numbers, None);
    }
}

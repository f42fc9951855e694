//! Compliance rules between a tenant's settings: what HIPAA asks of encryption and webhooks,
//! and the recording choice that switching PCI on asks for.

use super::Settings;
use crate::domain::validation::{is_https_url, Violations};

impl Settings {
    /// Rules on the settings a request results in, `self` being them before it (the
    /// defaults, for a new tenant): the compliance rules over the whole of `next`, and the
    /// choice that switching PCI on asks for. `recording_stated` is whether the request
    /// itself named `recording_enabled`.
    pub fn check_change(
        &self,
        next: &Settings,
        recording_stated: bool,
        violations: &mut Violations,
    ) {
        next.check_compliance(violations);
        // Recording is on by default, and a PCI tenant's recordings may hold card data: whoever
        // switches PCI on says whether to keep them, rather than inherit the default unseen.
        if next.pci_enabled && !self.pci_enabled && !recording_stated {
            violations.between(
                ["settings.pciEnabled", "settings.recordingEnabled"],
                "recording_choice_required",
                "switching pciEnabled on needs recordingEnabled in the same request: \
                 true to keep recordings, false to store none",
            );
        }
    }

    /// What HIPAA asks of the other settings: data encrypted at rest, and webhooks sent only
    /// over TLS.
    pub fn check_compliance(&self, violations: &mut Violations) {
        if !self.hipaa_enabled {
            return;
        }
        if !self.data_encryption_enabled {
            violations.between(
                ["settings.hipaaEnabled", "settings.dataEncryptionEnabled"],
                "requires_encryption",
                "hipaaEnabled needs dataEncryptionEnabled to be true",
            );
        }
        if !self.webhook_url.as_deref().is_some_and(is_https_url) {
            violations.between(
                ["settings.hipaaEnabled", "settings.webhookUrl"],
                "requires_https_webhook",
                "hipaaEnabled needs an https webhookUrl",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::super::*;
    use crate::domain::ids::TenantId;
    use crate::domain::limits::{EffectiveLimits, Limits};
    use crate::domain::validation::{FieldError, Violations};
    use crate::domain::values::{PlanCode, Slug};

    /// The (field, code) pairs of the violations of a change from `before` to `next`.
    fn change_errors(before: &Settings, next: &Settings, stated: bool) -> Vec<(String, String)> {
        let mut violations = Violations::default();
        before.check_change(next, stated, &mut violations);
        violations
            .into_errors()
            .into_iter()
            .map(|error| (error.field, error.code))
            .collect()
    }

    fn pairs(fields: [&str; 2], code: &str) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|field| (format!("settings.{field}"), code.to_owned()))
            .collect()
    }

    fn hipaa(webhook_url: Option<&str>, encrypted: bool) -> Settings {
        Settings {
            hipaa_enabled: true,
            data_encryption_enabled: encrypted,
            webhook_url: webhook_url.map(str::to_owned),
            ..Settings::default()
        }
    }

    #[test]
    fn hipaa_needs_encryption_and_an_https_webhook() {
        let base = Settings::default();
        let https = Some("https://hooks.example.com/x");
        assert_eq!(change_errors(&base, &hipaa(https, true), false), []);
        let webhook = pairs(["hipaaEnabled", "webhookUrl"], "requires_https_webhook");
        assert_eq!(change_errors(&base, &hipaa(None, true), false), webhook);
        assert_eq!(
            change_errors(
                &base,
                &hipaa(Some("http://hooks.example.com/x"), true),
                true
            ),
            webhook
        );
        assert_eq!(
            change_errors(&base, &hipaa(https, false), false),
            pairs(
                ["hipaaEnabled", "dataEncryptionEnabled"],
                "requires_encryption"
            )
        );
        let both = change_errors(&base, &hipaa(None, false), false);
        assert_eq!(both.len(), 4, "{both:?}");
        // Without HIPAA, neither is asked for.
        let plain = Settings {
            data_encryption_enabled: false,
            webhook_url: Some("http://hooks.example.com/x".to_owned()),
            ..Settings::default()
        };
        assert_eq!(change_errors(&base, &plain, false), []);
    }

    #[test]
    fn switching_pci_on_needs_a_stated_recording_choice() {
        let off = Settings::default();
        let on = |recording_enabled| Settings {
            pci_enabled: true,
            recording_enabled,
            ..Settings::default()
        };
        assert_eq!(
            change_errors(&off, &on(true), false),
            pairs(
                ["pciEnabled", "recordingEnabled"],
                "recording_choice_required"
            )
        );
        assert_eq!(change_errors(&off, &on(true), true), []);
        assert_eq!(change_errors(&off, &on(false), true), []);
        // Once PCI is on, later changes need not say it again.
        assert_eq!(change_errors(&on(true), &on(true), false), []);
        assert_eq!(change_errors(&on(false), &on(false), false), []);
    }

    fn tenant_with(settings: Settings) -> Tenant {
        Tenant {
            id: TenantId::generate(),
            name: "Clinic".to_owned(),
            slug: Slug::parse("clinic").unwrap(),
            status: TenantStatus::Active,
            plan: PlanCode::free(),
            plan_details: crate::domain::plan::Plan {
                id: crate::domain::ids::PlanId::generate(),
                fields: crate::domain::plan::PlanFields {
                    code: PlanCode::free(),
                    name: "Free".to_owned(),
                    amount_cents: 0,
                    entitlements: Limits::default(),
                    external_billing_id: None,
                },
                created_at: Utc::now(),
                updated_at: Utc::now(),
            },
            subscription: None,
            agency_id: None,
            billing_mode: BillingMode::default(),
            tenant_type: TenantType::Direct,
            usage_limits: Limits::default(),
            effective_limits: EffectiveLimits::default(),
            billing_alerts: BillingAlerts::default(),
            usage_alerts: Default::default(),
            settings,
            metadata: Metadata::new(),
            usage_current_month: UsageSummary::default(),
            owner: None,
            deactivation: None,
            suspended_until: None,
            deletion: None,
            block: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn fields_of(result: Result<TenantChanges, Vec<FieldError>>) -> Vec<String> {
        let mut fields: Vec<String> = result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| error.field)
            .collect();
        fields.sort();
        fields
    }

    fn settings_update(update: SettingsUpdate) -> TenantUpdate {
        TenantUpdate {
            settings: Some(update),
            ..TenantUpdate::default()
        }
    }

    #[test]
    fn an_update_is_judged_on_the_settings_it_results_in() {
        let clinic = tenant_with(hipaa(Some("https://hooks.example.com/x"), true));
        let cleared = settings_update(SettingsUpdate {
            webhook_url: Some(None),
            ..SettingsUpdate::default()
        });
        assert_eq!(
            fields_of(cleared.apply_to(&clinic)),
            ["settings.hipaaEnabled", "settings.webhookUrl"]
        );
        let unencrypted = settings_update(SettingsUpdate {
            data_encryption_enabled: Some(false),
            ..SettingsUpdate::default()
        });
        assert_eq!(
            fields_of(unencrypted.apply_to(&clinic)),
            ["settings.dataEncryptionEnabled", "settings.hipaaEnabled"]
        );
        let pci = settings_update(SettingsUpdate {
            pci_enabled: Some(true),
            ..SettingsUpdate::default()
        });
        assert_eq!(
            fields_of(pci.apply_to(&clinic)),
            ["settings.pciEnabled", "settings.recordingEnabled"]
        );
        let pci_without_recordings = settings_update(SettingsUpdate {
            pci_enabled: Some(true),
            recording_enabled: Some(false),
            ..SettingsUpdate::default()
        });
        let changes = pci_without_recordings.apply_to(&clinic).unwrap();
        let stored = changes.settings.unwrap();
        assert!(stored.pci_enabled && !stored.recording_enabled);
    }

    #[test]
    fn settings_an_update_leaves_alone_are_not_judged_again() {
        // Stored before the HIPAA rules: a rename still goes through, a settings change
        // must bring the settings into line.
        let legacy = tenant_with(hipaa(None, true));
        let rename = TenantUpdate {
            name: Some("Clinic West".to_owned()),
            ..TenantUpdate::default()
        };
        assert!(rename.apply_to(&legacy).is_ok());
        let retention = settings_update(SettingsUpdate {
            retention_days: Some(30),
            ..SettingsUpdate::default()
        });
        assert_eq!(
            fields_of(retention.apply_to(&legacy)),
            ["settings.hipaaEnabled", "settings.webhookUrl"]
        );
    }

    fn new_tenant(settings: SettingsUpdate) -> NewTenant {
        NewTenant {
            name: "Card Shop".to_owned(),
            slug: None,
            plan: PlanCode::free(),
            agency_id: None,
            billing_mode: BillingMode::default(),
            owner: None,
            limits: Limits::default(),
            billing_alerts: BillingAlerts::default(),
            usage_alerts: Default::default(),
            settings: settings.apply_to(Settings::default()),
            recording_stated: settings.recording_enabled.is_some(),
            metadata: Metadata::new(),
        }
    }

    #[test]
    fn a_new_tenant_is_a_change_from_the_defaults() {
        let fields = |new: NewTenant| {
            let mut violations = Violations::default();
            new.check(&mut violations);
            let mut fields: Vec<String> = violations
                .into_errors()
                .into_iter()
                .map(|error| error.field)
                .collect();
            fields.sort();
            fields
        };
        let pci = SettingsUpdate {
            pci_enabled: Some(true),
            ..SettingsUpdate::default()
        };
        assert_eq!(
            fields(new_tenant(pci.clone())),
            ["settings.pciEnabled", "settings.recordingEnabled"]
        );
        let stated = SettingsUpdate {
            recording_enabled: Some(true),
            ..pci
        };
        assert!(fields(new_tenant(stated)).is_empty());
        let hipaa = SettingsUpdate {
            hipaa_enabled: Some(true),
            ..SettingsUpdate::default()
        };
        assert_eq!(
            fields(new_tenant(hipaa)),
            ["settings.hipaaEnabled", "settings.webhookUrl"]
        );
    }
}

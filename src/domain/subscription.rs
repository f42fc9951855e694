//! Subscriptions: a tenant's standing with its plan, as its billing system keeps it. A tenant
//! has at most one, its current one; while it is not canceled, its current period is the
//! tenant's billing period, which keys the usage counters ([`BillingWindow`]).

use chrono::{DateTime, Utc};
use serde_json::json;
use strum::{EnumString, IntoStaticStr, VariantNames};

use super::audit::{Audited, Fields, Holder, Target};
use super::ids::{PlanId, SubscriptionId, TenantId};
use super::metering::BillingWindow;
use super::tenant::{BillingMode, Tenant};
use super::validation::Violations;
use super::values::PlanCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Trialing,
    PastDue,
    Canceled,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum BillingInterval {
    #[default]
    Monthly,
    Yearly,
}

/// A tenant's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub tenant_id: TenantId,
    /// Always the tenant's plan: setting either sets both.
    pub plan_id: PlanId,
    pub plan_code: PlanCode,
    pub status: SubscriptionStatus,
    pub billing_interval: BillingInterval,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    /// The subscription's id in the outside billing system.
    pub external_billing_id: Option<String>,
    pub cancel_at_period_end: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Subscription {
    /// Its current period, while that decides the tenant's billing period: always, unless
    /// it is canceled.
    pub fn billing_window(&self) -> Option<BillingWindow> {
        (self.status != SubscriptionStatus::Canceled).then_some(BillingWindow {
            start: self.current_period_start,
            end: self.current_period_end,
        })
    }

    /// When it bills next: the end of its current period, unless it ends there (canceled, or
    /// to be canceled at the period's end).
    pub fn next_billing_date(&self) -> Option<DateTime<Utc>> {
        let ends = self.cancel_at_period_end || self.status == SubscriptionStatus::Canceled;
        (!ends).then_some(self.current_period_end)
    }
}

/// What a client sets on a tenant's subscription, whole (a `PUT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFields {
    pub plan_code: PlanCode,
    pub status: SubscriptionStatus,
    pub billing_interval: BillingInterval,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub external_billing_id: Option<String>,
    pub cancel_at_period_end: bool,
}

impl SubscriptionFields {
    /// The rules between its fields; whether the plan exists is the catalog's to say.
    pub fn check(&self, violations: &mut Violations) {
        if self.current_period_end <= self.current_period_start {
            violations.add(
                "currentPeriodEnd",
                "invalid_range",
                "must be after currentPeriodStart",
            );
        }
        if let Some(id) = &self.external_billing_id {
            violations.length("externalBillingId", id, 1, 255);
        }
    }
}

/// The features Voisnap's billing read lists. Tenantry's plans grant limits, not features, so
/// each is derived from the tenant (docs/BILLING.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// Served under its agency's brand: the tenant belongs to an agency.
    pub white_label: bool,
    /// Billed by its agency rather than the platform (`billingMode` `agency_billed`).
    pub agency_mode: bool,
    /// Its `settings.hipaaEnabled`.
    pub hipaa_compliance: bool,
    /// Always off: tenantry has no SAML sign-in.
    pub sso_saml: bool,
    /// Always off: tenantry has no support tiers.
    pub dedicated_support: bool,
}

impl Features {
    pub fn of(tenant: &Tenant) -> Features {
        Features {
            white_label: tenant.agency_id.is_some(),
            agency_mode: tenant.billing_mode == BillingMode::AgencyBilled,
            hipaa_compliance: tenant.settings.hipaa_enabled,
            sso_saml: false,
            dedicated_support: false,
        }
    }
}

impl Audited for Subscription {
    fn audit_target(&self) -> Target {
        Target::new("subscription", self.id)
    }

    fn audit_holder(&self) -> Holder {
        (Some(self.tenant_id), None)
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        fields.insert("planCode".into(), json!(self.plan_code.as_str()));
        fields.insert("status".into(), json!(<&str>::from(self.status)));
        fields.insert(
            "billingInterval".into(),
            json!(<&str>::from(self.billing_interval)),
        );
        fields.insert(
            "currentPeriodStart".into(),
            json!(self.current_period_start),
        );
        fields.insert("currentPeriodEnd".into(), json!(self.current_period_end));
        fields.insert("externalBillingId".into(), json!(self.external_billing_id));
        fields.insert("cancelAtPeriodEnd".into(), json!(self.cancel_at_period_end));
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn fields() -> SubscriptionFields {
        SubscriptionFields {
            plan_code: PlanCode::free(),
            status: SubscriptionStatus::Active,
            billing_interval: BillingInterval::Monthly,
            current_period_start: time("2026-03-15T10:00:00Z"),
            current_period_end: time("2026-04-15T10:00:00Z"),
            external_billing_id: Some("sub_stripe_1".to_owned()),
            cancel_at_period_end: false,
        }
    }

    fn fields_of(fields: &SubscriptionFields) -> Vec<String> {
        let mut violations = Violations::default();
        fields.check(&mut violations);
        violations
            .into_errors()
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn a_period_ends_after_it_starts_and_a_billing_id_is_bounded() {
        assert!(fields_of(&fields()).is_empty());
        let backwards = SubscriptionFields {
            current_period_end: time("2026-03-15T10:00:00Z"),
            ..fields()
        };
        assert_eq!(fields_of(&backwards), ["currentPeriodEnd"]);
        for id in [String::new(), "x".repeat(256)] {
            let bad = SubscriptionFields {
                external_billing_id: Some(id),
                ..fields()
            };
            assert_eq!(fields_of(&bad), ["externalBillingId"]);
        }
    }

    #[test]
    fn a_canceled_subscription_neither_sets_the_period_nor_bills_again() {
        let at = time("2026-01-01T00:00:00Z");
        let mut subscription = Subscription {
            id: SubscriptionId::generate(),
            tenant_id: TenantId::generate(),
            plan_id: PlanId::generate(),
            plan_code: PlanCode::free(),
            status: SubscriptionStatus::Active,
            billing_interval: BillingInterval::Monthly,
            current_period_start: time("2026-03-15T10:00:00Z"),
            current_period_end: time("2026-04-15T10:00:00Z"),
            external_billing_id: None,
            cancel_at_period_end: false,
            created_at: at,
            updated_at: at,
        };
        assert!(subscription.billing_window().is_some());
        assert_eq!(
            subscription.next_billing_date(),
            Some(subscription.current_period_end)
        );
        subscription.cancel_at_period_end = true;
        assert!(subscription.billing_window().is_some());
        assert_eq!(subscription.next_billing_date(), None);
        subscription.cancel_at_period_end = false;
        subscription.status = SubscriptionStatus::Canceled;
        assert_eq!(subscription.billing_window(), None);
        assert_eq!(subscription.next_billing_date(), None);
        assert_eq!(<&str>::from(SubscriptionStatus::PastDue), "past_due");
    }
}

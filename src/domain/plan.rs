//! Plans: catalog entries with a price and the limits they grant.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{Audited, Fields, Holder, Target};

use super::ids::{IdParseError, PathKey, PlanId, TypedId};
use super::limits::{Limits, MAX_CENTS};
use super::validation::Violations;
use super::values::PlanCode;

#[derive(Debug, Clone)]
pub struct Plan {
    pub id: PlanId,
    pub fields: PlanFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the catalog's keeper sets on a plan.
#[derive(Debug, Clone)]
pub struct PlanFields {
    /// Unique, stable handle used by tenants (`free`, `business`, ...).
    pub code: PlanCode,
    pub name: String,
    /// Price per billing period, in cents.
    pub amount_cents: i64,
    /// Limits the plan grants; an absent key is unlimited.
    pub entitlements: Limits,
    pub external_billing_id: Option<String>,
}

impl PlanFields {
    pub fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 100);
        violations.range("amountCents", self.amount_cents, 0, MAX_CENTS);
        self.entitlements.check("entitlements", violations);
        if let Some(id) = &self.external_billing_id {
            violations.length("externalBillingId", id, 1, 255);
        }
    }
}

/// A change to a plan; `None` keeps a value, `Some(None)` clears the billing id.
#[derive(Debug, Clone, Default)]
pub struct PlanUpdate {
    pub code: Option<PlanCode>,
    pub name: Option<String>,
    pub amount_cents: Option<i64>,
    pub entitlements: Option<super::limits::LimitChanges>,
    pub external_billing_id: Option<Option<String>>,
}

impl PlanUpdate {
    /// The plan's fields with this change laid over them.
    pub fn apply_to(&self, current: &PlanFields) -> PlanFields {
        PlanFields {
            code: self.code.clone().unwrap_or_else(|| current.code.clone()),
            name: self.name.clone().unwrap_or_else(|| current.name.clone()),
            amount_cents: self.amount_cents.unwrap_or(current.amount_cents),
            entitlements: match &self.entitlements {
                Some(changes) => changes.apply_to(current.entitlements.clone()),
                None => current.entitlements.clone(),
            },
            external_billing_id: self
                .external_billing_id
                .clone()
                .unwrap_or_else(|| current.external_billing_id.clone()),
        }
    }
}

/// A plan named by id or by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanRef {
    Id(PlanId),
    /// Any other text; one that is not a plan's code names no plan.
    Code(String),
}

impl PathKey for PlanRef {
    const PATH_PARAMS: &'static [&'static str] = <PlanId as TypedId>::PATH_PARAMS;

    fn parse_path(text: &str) -> Result<Self, IdParseError> {
        Ok(match text.parse() {
            Ok(id) => PlanRef::Id(id),
            Err(_) => PlanRef::Code(text.to_owned()),
        })
    }
}

impl Audited for Plan {
    fn audit_target(&self) -> Target {
        Target::new("plan", self.id)
    }

    fn audit_holder(&self) -> Holder {
        (None, None)
    }

    fn audit_fields(&self) -> Fields {
        let plan = &self.fields;
        let mut fields = Fields::new();
        fields.insert("code".into(), json!(plan.code.as_str()));
        fields.insert("name".into(), json!(plan.name));
        fields.insert("amountCents".into(), json!(plan.amount_cents));
        fields.insert("externalBillingId".into(), json!(plan.external_billing_id));
        for (key, value) in plan.entitlements.iter() {
            fields.insert(format!("entitlements.{}", key.field()), json!(value));
        }
        fields
    }
}

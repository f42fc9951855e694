//! Plans: catalog entries with a price and the limits they grant.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ids::PlanId;
use super::limits::Limits;
use super::validation::{FieldProblem, Violations};

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub id: PlanId,
    /// Unique, stable handle used by tenants (`free`, `business`, ...).
    pub code: String,
    pub name: String,
    /// Price per billing period, in cents.
    pub amount_cents: i64,
    /// Limits the plan grants; an absent key is unlimited.
    pub entitlements: Limits,
    pub external_billing_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The rule for plan codes, shared with the OpenAPI schema.
pub const PLAN_CODE_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,99}$";

pub fn parse_plan_code(text: &str) -> Result<String, FieldProblem> {
    let bytes = text.as_bytes();
    let ok = (1..=100).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(FieldProblem::new(
            "invalid_code",
            "must be 1 to 100 lower-case letters, digits, '_' or '-'",
        ))
    }
}

/// A checked plan, for create or for a whole replacement of its fields.
#[derive(Debug, Clone)]
pub struct PlanFields {
    pub code: String,
    pub name: String,
    pub amount_cents: i64,
    pub entitlements: Limits,
    pub external_billing_id: Option<String>,
}

impl PlanFields {
    pub fn check(&self, violations: &mut Violations) {
        violations.parsed("code", parse_plan_code(&self.code));
        violations.length("name", &self.name, 1, 100);
        violations.range(
            "amountCents",
            self.amount_cents,
            0,
            super::limits::MAX_CENTS,
        );
        self.entitlements.check("entitlements", violations);
        if let Some(id) = &self.external_billing_id {
            violations.length("externalBillingId", id, 1, 255);
        }
    }
}

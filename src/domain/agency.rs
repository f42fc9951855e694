//! Agencies: resellers that own client tenants.

use chrono::{DateTime, Utc};

use super::audit::{flatten_into, Audited, Fields, Holder, Target};
use super::ids::AgencyId;
use super::tenant::check_metadata;
use super::validation::Violations;

pub type Metadata = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq)]
pub struct Agency {
    pub id: AgencyId,
    pub fields: AgencyFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an agency's creator sets and may change.
#[derive(Debug, Clone, PartialEq)]
pub struct AgencyFields {
    pub name: String,
    /// Added to tenants' cost to give the revenue the agency bills them, in percent.
    pub markup_percent: i64,
    pub metadata: Metadata,
}

pub const MARKUP_PERCENT_MAX: i64 = 1000;

impl AgencyFields {
    /// Checks every field, naming each bad one.
    pub fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 255);
        violations.range("markupPercent", self.markup_percent, 0, MARKUP_PERCENT_MAX);
        check_metadata("metadata", &self.metadata, violations);
    }
}

impl Audited for Agency {
    fn audit_target(&self) -> Target {
        Target::new("agency", self.id)
    }

    fn audit_holder(&self) -> Holder {
        (None, Some(self.id))
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        let name = serde_json::Value::String(self.fields.name.clone());
        fields.insert("name".into(), name);
        fields.insert("markupPercent".into(), self.fields.markup_percent.into());
        let metadata = serde_json::Value::Object(self.fields.metadata.clone());
        flatten_into(&mut fields, "metadata", metadata);
        fields
    }
}

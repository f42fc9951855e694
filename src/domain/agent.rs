//! Agents: a tenant's voice agents, the minimum analytics and `maxAgents` need.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::audit::{flatten_into, Audited, Fields, Holder, Target};

use super::ids::{AgentId, TenantId};
use super::tenant::check_metadata;
use super::validation::Violations;

pub type Metadata = serde_json::Map<String, serde_json::Value>;

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum AgentStatus {
    #[default]
    Active,
    Inactive,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: AgentId,
    pub tenant_id: TenantId,
    pub fields: AgentFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The editable fields of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFields {
    pub name: String,
    pub status: AgentStatus,
    pub metadata: Metadata,
}

impl AgentFields {
    /// Checks every field, naming each bad one.
    pub fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 255);
        check_metadata("metadata", &self.metadata, violations);
    }
}

impl Audited for Agent {
    fn audit_target(&self) -> Target {
        Target::new("agent", self.id)
    }

    fn audit_holder(&self) -> Holder {
        (Some(self.tenant_id), None)
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        fields.insert("name".into(), json!(self.fields.name));
        fields.insert("status".into(), json!(<&str>::from(self.fields.status)));
        flatten_into(
            &mut fields,
            "metadata",
            Value::Object(self.fields.metadata.clone()),
        );
        fields
    }
}

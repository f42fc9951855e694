//! Squads: a named team of a tenant's agents that share calls.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::{AgentId, SquadId};
use crate::domain::policy::act;
use crate::domain::resource::{ResourceKind, ResourceSpec};
use crate::domain::validation::Violations;

/// The most agents one squad holds.
pub const MAX_SQUAD_AGENTS: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = SquadFields)]
pub struct Squad {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Agents of the same tenant, each at most once.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub agent_ids: Vec<AgentId>,
}

impl ResourceSpec for Squad {
    const KIND: ResourceKind = ResourceKind::Squad;
    type Id = SquadId;
    type Read = act::ReadAgents;
    type Manage = act::ManageAgents;

    fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 255);
        if self.agent_ids.len() > MAX_SQUAD_AGENTS {
            violations.add(
                "agentIds",
                "too_many_items",
                format!("at most {MAX_SQUAD_AGENTS} agents"),
            );
        }
        for (i, id) in self.agent_ids.iter().enumerate() {
            if self.agent_ids[..i].contains(id) {
                violations.add(format!("agentIds[{i}]"), "duplicate", "is listed twice");
            }
        }
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn agents(&self) -> Vec<AgentId> {
        self.agent_ids.clone()
    }
}

//! Workflows: a conversation's steps, as a JSON definition the data plane runs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::agent::Metadata;
use crate::domain::ids::WorkflowId;
use crate::domain::policy::act;
use crate::domain::resource::{is_variant, ResourceKind, ResourceSpec};
use crate::domain::validation::Violations;

/// The largest definition, as compact JSON.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    #[default]
    Draft,
    Active,
    Archived,
}

impl WorkflowStatus {
    fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Draft => "draft",
            WorkflowStatus::Active => "active",
            WorkflowStatus::Archived => "archived",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = WorkflowFields)]
pub struct Workflow {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// A JSON object of at most 256 KiB.
    #[schema(value_type = Object)]
    pub definition: Metadata,
    #[serde(default)]
    pub status: WorkflowStatus,
}

impl ResourceSpec for Workflow {
    const KIND: ResourceKind = ResourceKind::Workflow;
    type Id = WorkflowId;
    type Read = act::ReadAgents;
    type Manage = act::ManageAgents;

    fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 255);
        let size = serde_json::to_vec(&self.definition).map_or(usize::MAX, |bytes| bytes.len());
        if size > MAX_DEFINITION_BYTES {
            violations.add(
                "definition",
                "too_large",
                format!("must be at most {MAX_DEFINITION_BYTES} bytes as JSON"),
            );
        }
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn is_category(value: &str) -> bool {
        is_variant::<WorkflowStatus>(value)
    }

    fn category(&self) -> Option<String> {
        Some(self.status.as_str().to_owned())
    }
}

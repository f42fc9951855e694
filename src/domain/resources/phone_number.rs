//! Phone numbers: an E.164 number, unique across the platform, optionally routed to an agent.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::{AgentId, PhoneNumberId};
use crate::domain::policy::act;
use crate::domain::resource::{is_variant, ResourceKind, ResourceSpec};
use crate::domain::validation::Violations;

/// Which calls a number carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    #[default]
    Both,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Both => "both",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PhoneNumberFields)]
pub struct PhoneNumber {
    /// E.164: `+`, then 7 to 15 digits, the first not 0.
    #[schema(example = "+14155550123")]
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub label: Option<String>,
    /// The agent that answers it: an agent of the same tenant, or null.
    #[serde(default)]
    pub agent_id: Option<AgentId>,
    #[serde(default)]
    pub direction: Direction,
}

/// Whether `number` is in E.164 form.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

impl ResourceSpec for PhoneNumber {
    const KIND: ResourceKind = ResourceKind::PhoneNumber;
    type Id = PhoneNumberId;
    type Read = act::ReadTelephony;
    type Manage = act::ManageTelephony;

    fn check(&self, violations: &mut Violations) {
        if !is_e164(&self.number) {
            violations.add(
                "number",
                "invalid_phone_number",
                "must be an E.164 number: + and 7 to 15 digits, the first not 0",
            );
        }
        if let Some(label) = &self.label {
            violations.length("label", label, 1, 255);
        }
    }

    fn name(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.number.clone())
    }

    fn unique_key(&self) -> Option<String> {
        Some(self.number.clone())
    }

    fn is_category(value: &str) -> bool {
        is_variant::<Direction>(value)
    }

    fn category(&self) -> Option<String> {
        Some(self.direction.as_str().to_owned())
    }

    fn agents(&self) -> Vec<AgentId> {
        self.agent_id.into_iter().collect()
    }

    fn agent_field(&self, _: usize) -> String {
        "agentId".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_are_plus_and_digits() {
        for good in ["+14155550123", "+4930123456", "+1234567"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "14155550123",
            "+0123456789",
            "+1 415 555",
            "+123456",
            "+1234567890123456",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}

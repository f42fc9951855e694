//! Webhook endpoints: where an agency (or the platform) wants its events delivered. Each has
//! a `whsec_` signing secret (Standard Webhooks), shown once and sealed at rest; after a
//! rotation the previous secret keeps signing too for a day, so receivers can switch over.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde_json::json;

use super::access::Scope;
use super::audit::{holder_of, Audited, Fields, Holder, Target};
use super::event::EventType;
use super::ids::WebhookEndpointId;
use super::validation::{parse_http_url, Violations};

/// How long a rotated-out secret keeps signing.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

/// The mark of a signing secret (Standard Webhooks).
pub const SECRET_MARK: &str = "whsec_";

pub const DESCRIPTION_MAX: usize = 500;
pub const MAX_EVENT_TYPES: usize = 64;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn mint_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{SECRET_MARK}{}", STANDARD.encode(bytes))
}

/// What an endpoint's owner sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFields {
    pub url: String,
    pub description: Option<String>,
    /// The event types it receives; empty for every type.
    pub events: Vec<EventType>,
    pub enabled: bool,
}

impl EndpointFields {
    pub fn check(&self, violations: &mut Violations) {
        violations.parsed("url", parse_http_url(&self.url));
        if let Some(description) = &self.description {
            violations.length("description", description, 1, DESCRIPTION_MAX);
        }
        if self.events.len() > MAX_EVENT_TYPES {
            violations.add("events", "too_many_items", "at most 64 event types");
        }
    }
}

/// Parses event type names, naming each unknown one as `events[i]`.
pub fn parse_event_types(names: &[String], violations: &mut Violations) -> Vec<EventType> {
    let mut kinds = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        match EventType::from_name(name) {
            Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
            Some(_) => {}
            None => violations.add(
                format!("events[{i}]"),
                "unknown_event_type",
                "not an event type; docs/EVENTS.md lists them",
            ),
        }
    }
    kinds
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    /// The platform, or one agency.
    pub owner: Scope,
    pub fields: EndpointFields,
    /// Until when the previous secret signs too, after a rotation.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a signing secret is sealed to: its endpoint, so a ciphertext cannot move.
pub fn seal_context(id: uuid::Uuid) -> String {
    format!("webhook_endpoint:{id}:secret")
}

impl Audited for Endpoint {
    fn audit_target(&self) -> Target {
        Target::new("webhook_endpoint", self.id)
    }

    fn audit_holder(&self) -> Holder {
        holder_of(self.owner)
    }

    fn audit_fields(&self) -> Fields {
        let events: Vec<&str> = self.fields.events.iter().map(|k| k.name()).collect();
        let mut fields = Fields::new();
        fields.insert("url".into(), json!(self.fields.url));
        fields.insert("description".into(), json!(self.fields.description));
        fields.insert("events".into(), json!(events));
        fields.insert("enabled".into(), json!(self.fields.enabled));
        fields.insert(
            "previousSecretExpiresAt".into(),
            json!(self.previous_secret_until),
        );
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_marked_and_holds_32_random_bytes() {
        let (one, two) = (mint_secret(), mint_secret());
        assert_ne!(one, two);
        let bytes = STANDARD
            .decode(one.strip_prefix(SECRET_MARK).unwrap())
            .unwrap();
        assert_eq!(bytes.len(), 32);
    }

    #[test]
    fn event_types_are_parsed_once_each_and_unknown_ones_named() {
        let mut violations = Violations::default();
        let names = ["tenant.created", "nope", "tenant.created"].map(String::from);
        let kinds = parse_event_types(&names, &mut violations);
        assert_eq!(kinds, [EventType::TenantCreated]);
        let errors = violations.finish(|| ()).unwrap_err();
        assert_eq!(errors[0].field, "events[1]");
    }
}

//! Events: what tenantry tells the outside world happened. Each is written to the event
//! outbox in the transaction of the change it tells of, so an event exists exactly when its
//! change does; delivery reads the outbox.
//!
//! Most events are changes the audit trail records under the same name (`tenant.updated`):
//! recording such a change emits its event. The others are emitted where they happen.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::audit::Entry;
use super::ids::{AgencyId, EventId, TenantId};

/// Declares the event catalog: `Variant = "type.name", "what it tells"`.
macro_rules! events {
    ($($variant:ident = $name:literal, $doc:literal;)*) => {
        /// A kind of event.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $(#[doc = $doc] $variant,)*
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }

            pub fn describe(self) -> &'static str {
                match self {
                    $(EventType::$variant => $doc,)*
                }
            }

            pub fn from_name(name: &str) -> Option<EventType> {
                match name {
                    $($name => Some(EventType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

events! {
    TenantCreated = "tenant.created", "A tenant was created.";
    TenantUpdated = "tenant.updated", "A tenant's name, plan, limits, settings or alerts changed.";
    TenantDeactivated = "tenant.deactivated", "A tenant was deactivated.";
    TenantReactivated = "tenant.reactivated", "A tenant was reactivated.";
    TenantBlocked = "tenant.blocked", "Some of a tenant's services were blocked, or its block changed.";
    TenantUnblocked = "tenant.unblocked", "A tenant's block was lifted.";
    TenantDeleted = "tenant.deleted", "A tenant was deleted (softly: it can be restored).";
    TenantRestored = "tenant.restored", "A deleted tenant was restored.";
    TenantPurged = "tenant.purged", "A deleted tenant's data was removed for good.";
    TenantTransferred = "tenant.transferred", "A tenant moved to another agency.";
    SubscriptionCreated = "subscription.created", "A tenant's subscription was created.";
    SubscriptionUpdated = "subscription.updated", "A tenant's subscription was replaced (its plan, status or period).";
    TransferRequested = "transfer.requested", "A tenant was offered to another agency.";
    TransferAccepted = "transfer.accepted", "A transfer was accepted.";
    TransferRejected = "transfer.rejected", "A transfer was rejected.";
    TransferCancelled = "transfer.cancelled", "A transfer was cancelled.";
    TransferExpired = "transfer.expired", "A transfer went unanswered for seven days.";
    UserInvited = "user.invited", "A person was invited.";
    UserJoined = "user.joined", "A person accepted an invitation.";
    UsageThresholdReached = "usage.threshold_reached", "A period's usage reached an alert threshold of a monthly limit.";
    LimitRefused = "limit.refused", "Admission refused calls because of a limit (at most once a minute per limit).";
    CallEnded = "call.ended", "A call ended (opt-in: only endpoints that name it get it).";
}

impl EventType {
    /// Sent only to endpoints that name it: a type too frequent for "every type".
    pub fn opt_in(self) -> bool {
        self == EventType::CallEnded
    }

    /// Written to the outbox even when no endpoint takes it now, for a later replay. Not so
    /// an opt-in type, nor `tenant.purged`: it names a tenant whose every row is gone, and
    /// is kept only as long as its deliveries are.
    pub fn kept_unheard(self) -> bool {
        !self.opt_in() && self != EventType::TenantPurged
    }
}

/// One event, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub kind: EventType,
    pub tenant_id: Option<TenantId>,
    pub agency_id: Option<AgencyId>,
    pub occurred_at: DateTime<Utc>,
    /// The body receivers get: Standard Webhooks' `{type, timestamp, data}`.
    pub payload: Value,
}

impl Event {
    /// The event a recorded change emits, if its action is an event type.
    pub fn of_change(entry: &Entry) -> Option<Event> {
        let kind = EventType::from_name(&entry.action)?;
        let data = json!({
            "tenantId": entry.tenant_id.map(|id| id.to_string()),
            "agencyId": entry.agency_id.map(|id| id.to_string()),
            "object": { "type": entry.target.kind, "id": entry.target.id },
            "changes": entry.changes,
            "actor": { "type": <&str>::from(entry.actor.kind), "id": entry.actor.id },
            "auditId": entry.id.to_string(),
        });
        Some(Event::new(
            kind,
            entry.tenant_id,
            entry.agency_id,
            entry.at,
            data,
        ))
    }

    pub fn new(
        kind: EventType,
        tenant_id: Option<TenantId>,
        agency_id: Option<AgencyId>,
        occurred_at: DateTime<Utc>,
        data: Value,
    ) -> Event {
        let payload = json!({
            "type": kind.name(),
            "timestamp": occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "data": data,
        });
        Event {
            id: EventId::generate(),
            kind,
            tenant_id,
            agency_id,
            occurred_at,
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_distinct_dotted_name_that_parses_back() {
        let mut names = std::collections::HashSet::new();
        for kind in EventType::ALL {
            assert!(names.insert(kind.name()), "{} twice", kind.name());
            assert_eq!(kind.name().split('.').count(), 2, "{}", kind.name());
            assert_eq!(EventType::from_name(kind.name()), Some(*kind));
        }
        assert_eq!(EventType::from_name("agent.created"), None);
    }
}

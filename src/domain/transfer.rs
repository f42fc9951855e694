//! Transfers: a tenant's move from its agency to another (or to self-managed), requested by
//! the agency that has it and answered by the one that would take it.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use strum::{EnumString, IntoStaticStr, VariantNames};

use super::audit::{Audited, Fields, Holder, Target};
use super::ids::{AgencyId, TenantId, TransferId};

/// How long a request waits for its answer.
pub const TRANSFER_LIFETIME: Duration = Duration::days(7);

/// The longest note a request carries.
pub const TRANSFER_NOTE_MAX: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum TransferState {
    /// Waiting for the target's answer.
    Pending,
    /// The tenant moved.
    Accepted,
    /// The target refused it.
    Rejected,
    /// The source withdrew it.
    Cancelled,
    /// Nobody answered within [`TRANSFER_LIFETIME`].
    Expired,
}

/// Which side of a transfer a caller is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum TransferDirection {
    /// Transfers to the caller's agency (to self-managed, for the platform).
    Incoming,
    /// Transfers from the caller's agency (from self-managed, for the platform).
    Outgoing,
}

/// An answer to a pending transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
    Cancel,
}

impl Decision {
    pub fn state(self) -> TransferState {
        match self {
            Decision::Accept => TransferState::Accepted,
            Decision::Reject => TransferState::Rejected,
            Decision::Cancel => TransferState::Cancelled,
        }
    }

    /// Whether the target answers it (accept, reject) rather than the source (cancel).
    pub fn by_target(self) -> bool {
        self != Decision::Cancel
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub tenant_id: TenantId,
    /// The agency the tenant leaves; `None` for a self-managed tenant.
    pub source_agency_id: Option<AgencyId>,
    /// The agency it joins; `None` to become self-managed.
    pub target_agency_id: Option<AgencyId>,
    pub note: Option<String>,
    /// As stored: a pending transfer past its expiry still reads `pending` here.
    pub stored_state: TransferState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl Transfer {
    /// Its state at `now`: a pending one past its expiry has expired.
    pub fn state(&self, now: DateTime<Utc>) -> TransferState {
        match self.stored_state {
            TransferState::Pending if self.expires_at <= now => TransferState::Expired,
            state => state,
        }
    }
}

impl Audited for Transfer {
    fn audit_target(&self) -> Target {
        Target::new("transfer", self.id)
    }

    fn audit_holder(&self) -> Holder {
        (Some(self.tenant_id), None)
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        let agency = |id: Option<AgencyId>| json!(id.map(|id| id.to_string()));
        fields.insert("sourceAgencyId".into(), agency(self.source_agency_id));
        fields.insert("targetAgencyId".into(), agency(self.target_agency_id));
        fields.insert("note".into(), json!(self.note));
        // As stored: an expiry is a change of its own (`transfer.expired`).
        fields.insert("state".into(), json!(<&str>::from(self.stored_state)));
        fields.insert("expiresAt".into(), json!(self.expires_at));
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_transfer_expires_at_its_expiry_and_a_decided_one_never() {
        let now = Utc::now();
        let mut transfer = Transfer {
            id: TransferId::generate(),
            tenant_id: TenantId::generate(),
            source_agency_id: None,
            target_agency_id: Some(AgencyId::generate()),
            note: None,
            stored_state: TransferState::Pending,
            created_at: now,
            expires_at: now + TRANSFER_LIFETIME,
            decided_at: None,
        };
        assert_eq!(transfer.state(now), TransferState::Pending);
        assert_eq!(
            transfer.state(now + TRANSFER_LIFETIME),
            TransferState::Expired
        );
        transfer.stored_state = TransferState::Rejected;
        assert_eq!(
            transfer.state(now + TRANSFER_LIFETIME * 2),
            TransferState::Rejected
        );
    }
}

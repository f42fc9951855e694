//! Conflicts: a write that a uniqueness rule or the state of an object refuses.

/// A unique value that is taken. The store maps each database constraint to one of these
/// (`store::constraints`); the service renders them with a stable code and the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    SlugTaken,
    PlanCodeTaken,
    /// A resource's platform-wide unique value (a phone number) is another's.
    UniqueValueTaken,
    /// The write names an object that is gone, or removes one that others still name.
    ReferenceGone,
    /// The address is a member of the scope already.
    AlreadyMember,
    /// An invitation for the address is pending (or the member has not accepted yet).
    InvitationPending,
    /// The invitation was accepted already.
    InvitationAccepted,
    /// The invitation's link has expired.
    InvitationExpired,
    /// The change would leave a tenant without an active owner.
    LastOwner,
    /// Only an active tenant can be deactivated.
    TenantNotActive,
    /// Only an inactive tenant can be reactivated.
    TenantNotInactive,
    /// Calls are in progress; deleting needs `force`.
    TenantHasActiveCalls,
    /// Only a deleted tenant can be restored.
    TenantNotDeleted,
    /// The deleted tenant's grace period is over.
    GracePeriodOver,
    /// The tenant has a pending transfer already.
    TransferPending,
    /// The transfer was accepted, rejected, cancelled or has expired.
    TransferNotPending,
    /// An attempt of the webhook delivery is under way.
    DeliveryInFlight,
    /// Another agency holds the custom domain.
    DomainTaken,
    /// A rule without a domain meaning of its own.
    Other,
}

impl Conflict {
    pub fn code(self) -> &'static str {
        match self {
            Conflict::SlugTaken => "slug_taken",
            Conflict::PlanCodeTaken => "code_taken",
            Conflict::UniqueValueTaken => "unique_value_taken",
            Conflict::ReferenceGone => "reference_conflict",
            Conflict::AlreadyMember => "already_member",
            Conflict::InvitationPending => "invitation_pending",
            Conflict::InvitationAccepted => "invitation_accepted",
            Conflict::InvitationExpired => "invitation_expired",
            Conflict::LastOwner => "last_owner",
            Conflict::TenantNotActive => "tenant_not_active",
            Conflict::TenantNotInactive => "tenant_not_inactive",
            Conflict::TenantHasActiveCalls => "tenant_has_active_calls",
            Conflict::TenantNotDeleted => "tenant_not_deleted",
            Conflict::GracePeriodOver => "grace_period_over",
            Conflict::TransferPending => "transfer_pending",
            Conflict::TransferNotPending => "transfer_not_pending",
            Conflict::DeliveryInFlight => "delivery_in_flight",
            Conflict::DomainTaken => "domain_taken",
            Conflict::Other => "conflict",
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            Conflict::SlugTaken => "this slug is taken",
            Conflict::PlanCodeTaken => "this code is taken",
            Conflict::UniqueValueTaken => "this value is another's",
            Conflict::ReferenceGone => {
                "the change names an object that is gone, or removes one still in use"
            }
            Conflict::AlreadyMember => "this address is a member here already",
            Conflict::InvitationPending => {
                "an invitation to this address is pending: resend or revoke it"
            }
            Conflict::InvitationAccepted => "this invitation was accepted already",
            Conflict::InvitationExpired => "this invitation has expired",
            Conflict::LastOwner => "a tenant keeps at least one active TenantOwner",
            Conflict::TenantNotActive => "the tenant is not active",
            Conflict::TenantNotInactive => "the tenant is not inactive",
            Conflict::TenantHasActiveCalls => {
                "the tenant has calls in progress: end them, or delete with force=true"
            }
            Conflict::TenantNotDeleted => "the tenant is not deleted",
            Conflict::GracePeriodOver => "the tenant's grace period is over",
            Conflict::TransferPending => {
                "the tenant has a pending transfer: cancel it, or wait for its answer"
            }
            Conflict::TransferNotPending => "the transfer is no longer pending",
            Conflict::DeliveryInFlight => {
                "an attempt of this delivery is under way; retry when it has ended"
            }
            Conflict::DomainTaken => "another agency holds this domain",
            Conflict::Other => "the change conflicts with existing data",
        }
    }

    /// The request field that holds the taken value.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Conflict::SlugTaken => Some("slug"),
            Conflict::PlanCodeTaken => Some("code"),
            Conflict::AlreadyMember | Conflict::InvitationPending => Some("email"),
            Conflict::LastOwner => Some("role"),
            Conflict::DomainTaken => Some("domain"),
            Conflict::UniqueValueTaken
            | Conflict::ReferenceGone
            | Conflict::InvitationAccepted
            | Conflict::InvitationExpired
            | Conflict::TenantNotActive
            | Conflict::TenantNotInactive
            | Conflict::TenantHasActiveCalls
            | Conflict::TenantNotDeleted
            | Conflict::GracePeriodOver
            | Conflict::TransferPending
            | Conflict::TransferNotPending
            | Conflict::DeliveryInFlight
            | Conflict::Other => None,
        }
    }
}

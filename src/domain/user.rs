//! People: a user is one email address with a password and optional MFA; a membership gives
//! it a role in the platform, one agency or one tenant. Invitations make memberships, sessions
//! act through one. The rules here are free of storage: what an email, a password, a token and
//! an invitation's state are.

pub mod otp;
pub mod password;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::access::Scope;
pub use super::api_key::mint_token;
use super::audit::{holder_of, Audited, Fields, Holder, Target as AuditTarget};
use super::ids::{AgencyId, InvitationId, TenantId, UserId};
use super::policy::{grants, Action, Role, Target};

/// How long an invitation's link works.
pub const INVITATION_LIFETIME: Duration = Duration::days(7);
/// How long a session lasts after login.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
/// How long a password-reset link works.
pub const RESET_LIFETIME: Duration = Duration::hours(1);
/// Failed logins for one email within [`LOCKOUT_WINDOW`] that lock it.
pub const LOCKOUT_FAILURES: i64 = 5;
/// Failed logins from one client address within [`LOCKOUT_WINDOW`] that throttle it: enough
/// for an office behind one address, too few to guess passwords across many accounts.
pub const ADDRESS_FAILURES: i64 = 50;
/// The window failures are counted in, which is also how long a lock lasts.
pub const LOCKOUT_WINDOW: Duration = Duration::minutes(15);

/// Where a membership is held, as a scope the policy understands.
pub fn reach_of(scope: Scope) -> Uuid {
    match scope {
        Scope::Platform => Uuid::nil(),
        Scope::Agency(id) => id.0,
        Scope::Tenant(id) => id.0,
    }
}

/// The owner of objects held at `scope`, for the policy's reach.
pub fn target_of(scope: Scope, agency_of_tenant: Option<AgencyId>) -> Target {
    match scope {
        Scope::Platform => Target::Platform,
        Scope::Agency(id) => Target::Agency(id),
        Scope::Tenant(id) => Target::Tenant {
            id,
            agency: agency_of_tenant,
        },
    }
}

/// The action that manages members held at a scope.
pub fn manage_action(scope: Scope) -> Action {
    match scope {
        Scope::Platform => Action::ManagePlatformUsers,
        Scope::Agency(_) => Action::ManageAgencyUsers,
        Scope::Tenant(_) => Action::ManageTenantUsers,
    }
}

/// Where a membership stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum MemberStatus {
    /// Invited, not yet accepted.
    Invited,
    Active,
    /// Kept, but may not log in through this membership.
    Disabled,
}

/// A user as a member of one platform, agency or tenant.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: UserId,
    pub membership_id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Role,
    pub status: MemberStatus,
    pub scope: Scope,
    /// The agency of a tenant membership's tenant, for reach.
    pub agency_of_tenant: Option<AgencyId>,
    pub mfa_enabled: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub invited_by: Option<UserId>,
}

impl Member {
    pub fn target(&self) -> Target {
        target_of(self.scope, self.agency_of_tenant)
    }

    pub fn permissions(&self) -> Permissions {
        Permissions::of(self.role)
    }
}

/// Voisnap's permission summary of a role, derived from the policy's grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    pub can_manage_api_keys: bool,
    pub can_view_billing: bool,
    pub can_delete_conversations: bool,
}

impl Permissions {
    pub fn of(role: Role) -> Permissions {
        Permissions {
            can_manage_api_keys: grants(role, Action::RevokeKey),
            can_view_billing: grants(role, Action::ReadLimits),
            // Deleting a conversation's stored audio is the deletion tenantry offers.
            can_delete_conversations: grants(role, Action::StoreRecordings),
        }
    }
}

/// Marks of the tokens people hold, so that scanners and the server tell them apart.
pub const SESSION_MARK: &str = "tnt_ses_";
pub const INVITATION_MARK: &str = "tnt_inv_";
pub const RESET_MARK: &str = "tnt_rst_";

/// Where an invitation stands at an instant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum InvitationState {
    Pending,
    Accepted,
    Expired,
}

/// An invitation to join the platform, an agency or a tenant in a role.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub membership_id: Uuid,
    pub user_id: UserId,
    pub scope: Scope,
    pub agency_of_tenant: Option<AgencyId>,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

impl Invitation {
    pub fn state(&self, now: DateTime<Utc>) -> InvitationState {
        if self.accepted_at.is_some() {
            InvitationState::Accepted
        } else if self.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }

    pub fn target(&self) -> Target {
        target_of(self.scope, self.agency_of_tenant)
    }

    pub fn tenant_id(&self) -> Option<TenantId> {
        match self.scope {
            Scope::Tenant(id) => Some(id),
            _ => None,
        }
    }
}

impl Audited for Member {
    fn audit_target(&self) -> AuditTarget {
        AuditTarget::new("user", self.user_id)
    }

    fn audit_holder(&self) -> Holder {
        holder_of(self.scope)
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        fields.insert("email".into(), json!(self.email));
        fields.insert("firstName".into(), json!(self.first_name));
        fields.insert("lastName".into(), json!(self.last_name));
        fields.insert("role".into(), json!(self.role.name()));
        fields.insert("status".into(), json!(<&str>::from(self.status)));
        fields
    }
}

impl Audited for Invitation {
    fn audit_target(&self) -> AuditTarget {
        AuditTarget::new("invitation", self.id)
    }

    fn audit_holder(&self) -> Holder {
        holder_of(self.scope)
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        fields.insert("email".into(), json!(self.email));
        fields.insert("role".into(), json!(self.role.name()));
        fields.insert("expiresAt".into(), json!(self.expires_at));
        fields.insert("acceptedAt".into(), json!(self.accepted_at));
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_is_pending_until_accepted_or_past_its_expiry() {
        let now = Utc::now();
        let mut invitation = Invitation {
            id: InvitationId::generate(),
            membership_id: Uuid::now_v7(),
            user_id: UserId::generate(),
            scope: Scope::Platform,
            agency_of_tenant: None,
            email: "a@example.com".into(),
            role: Role::Admin,
            invited_by: None,
            expires_at: now + INVITATION_LIFETIME,
            created_at: now,
            accepted_at: None,
        };
        assert_eq!(invitation.state(now), InvitationState::Pending);
        assert_eq!(
            invitation.state(now + INVITATION_LIFETIME),
            InvitationState::Expired
        );
        invitation.accepted_at = Some(now);
        assert_eq!(invitation.state(now), InvitationState::Accepted);
    }

    #[test]
    fn permissions_follow_the_grants() {
        let owner = Permissions::of(Role::TenantOwner);
        assert!(owner.can_manage_api_keys && owner.can_view_billing);
        let reader = Permissions::of(Role::ReadOnly);
        assert!(!reader.can_manage_api_keys && !reader.can_delete_conversations);
    }
}

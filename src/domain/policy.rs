//! The permission policy: the one place that knows what each role may do.
//!
//! A decision has two parts. **Reach** is structural: a caller's [`Scope`] reaches the objects
//! of its platform, agency or tenant, and an object out of reach is hidden (a 404, so its
//! existence is never revealed). **Grants** are rows of [`GRANTS`]: a role either may do an
//! action or may not (a 403 on an object in reach). A new role is a new row; a new action is a
//! new variant with the roles that may do it. Nothing else in the code compares roles.
//!
//! [`authorize`] is the only way to make an [`Authorized`] value, so a use case that takes one
//! cannot run unchecked.

use std::fmt;
use std::marker::PhantomData;

use super::access::{Caller, Scope};
use super::api_key::KeyScope;
use super::ids::{AgencyId, TenantId};

/// A role a caller acts in (Voisnap's seven). Each belongs to one level of the hierarchy,
/// which is also the kind of scope it is held in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
pub enum Role {
    /// Operates the whole platform (platform keys and the master key).
    Admin,
    /// Runs an agency and all of its client tenants.
    AgencyManager,
    /// An agency's technical work: keys, integrations, agent configuration.
    AgencyTechnicalManager,
    /// An agency's client-facing work: client accounts and analytics.
    AgencyAccountManager,
    /// Runs one tenant.
    TenantOwner,
    /// A tenant's agents and conversations.
    TenantUser,
    /// Reads everything of one tenant, changes nothing.
    ReadOnly,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::AgencyManager,
        Role::AgencyTechnicalManager,
        Role::AgencyAccountManager,
        Role::TenantOwner,
        Role::TenantUser,
        Role::ReadOnly,
    ];

    /// Its name, as Voisnap spells it (`AgencyManager`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn from_name(name: &str) -> Option<Role> {
        name.parse().ok()
    }

    /// The level whose scope holds it.
    pub fn level(self) -> KeyScope {
        match self {
            Role::Admin => KeyScope::Platform,
            Role::AgencyManager | Role::AgencyTechnicalManager | Role::AgencyAccountManager => {
                KeyScope::Agency
            }
            Role::TenantOwner | Role::TenantUser | Role::ReadOnly => KeyScope::Tenant,
        }
    }

    /// Whether everything this role may do, `by` may do too: what a caller may hand on.
    pub fn within(self, by: Role) -> bool {
        Action::ALL
            .iter()
            .all(|action| !grants(self, *action) || grants(by, *action))
    }

    /// The role a key of this kind acts in: until keys carry roles of their own, the full
    /// role of its level.
    pub fn of_key(kind: KeyScope) -> Role {
        match kind {
            KeyScope::Platform => Role::Admin,
            KeyScope::Agency => Role::AgencyManager,
            KeyScope::Tenant => Role::TenantOwner,
        }
    }
}

/// Declares every action with its description, and a marker type of the same name in
/// [`act`] for extractors and use cases that require it at compile time.
macro_rules! actions {
    ($($(#[doc = $doc:literal])+ $name:ident => $scope:ident,)*) => {
        /// Something a caller may do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($(#[doc = $doc])+ $name,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$name),*];

            /// One line saying what the action is, for the permission table.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Action::$name => concat!($($doc),+),)*
                }
            }

            /// The key scope a scoped key needs for it.
            pub fn scope(self) -> ApiScope {
                match self {
                    $(Action::$name => ApiScope::$scope,)*
                }
            }
        }

        /// One type per [`Action`], so that a required action is part of a type.
        pub mod act {
            $(
                $(#[doc = $doc])+
                #[derive(Debug, Clone, Copy)]
                pub struct $name;
                impl super::ActionMarker for $name {
                    const ACTION: super::Action = super::Action::$name;
                }
            )*
        }
    };
}

actions! {
    /// Read a tenant and list tenants.
    ReadTenant => TenantsRead,
    /// Create a tenant.
    CreateTenant => TenantsWrite,
    /// Change a tenant's name, slug, settings and metadata.
    UpdateTenant => TenantsWrite,
    /// Change a tenant's plan, usage limits, billing mode or billing alerts.
    ChangeCommercialTerms => TenantsWrite,
    /// Read a tenant's subscription.
    ReadSubscription => BillingRead,
    /// Create or replace a tenant's subscription, and with it the tenant's plan.
    ManageSubscription => TenantsWrite,
    /// Switch a tenant's compliance setting (HIPAA, PCI, encryption) off.
    RelaxCompliance => TenantsWrite,
    /// Deactivate and reactivate a tenant.
    DeactivateTenant => TenantsWrite,
    /// Block and unblock a tenant's services (calls, agents, SIP, recordings, analytics).
    BlockTenant => TenantsWrite,
    /// Delete a tenant, and restore it within its grace period.
    DeleteTenant => TenantsWrite,
    /// Offer a tenant to another agency, answer or cancel such an offer, and list them.
    TransferTenant => TenantsWrite,
    /// Read and verify the audit trail.
    ReadAuditLog => TenantsRead,
    /// Read webhook endpoints (never their secrets) and their deliveries.
    ReadWebhooks => TenantsRead,
    /// Register, change, rotate and remove webhook endpoints, and retry and replay their
    /// deliveries.
    ManageWebhooks => WebhooksWrite,
    /// Export everything a tenant owns as an archive (its secrets left out).
    ExportTenant => TenantsRead,
    /// Recreate a tenant from an archive.
    ImportTenant => TenantsWrite,
    /// List all agencies.
    ListAgencies => TenantsRead,
    /// Create an agency.
    CreateAgency => TenantsWrite,
    /// Read an agency.
    ReadAgency => TenantsRead,
    /// Change an agency.
    UpdateAgency => TenantsWrite,
    /// Read the plan catalog.
    ReadPlans => TenantsRead,
    /// Create and change plans.
    ManagePlans => TenantsWrite,
    /// List API keys.
    ReadKeys => UsersRead,
    /// Mint a platform key.
    MintPlatformKey => UsersWrite,
    /// Mint an agency key.
    MintAgencyKey => UsersWrite,
    /// Mint a tenant key.
    MintTenantKey => UsersWrite,
    /// Revoke an API key.
    RevokeKey => UsersWrite,
    /// List and read the members of a tenant or agency, and their invitations.
    ReadUsers => UsersRead,
    /// Invite, change and remove a tenant's members.
    ManageTenantUsers => UsersWrite,
    /// Invite, change and remove an agency's members.
    ManageAgencyUsers => UsersWrite,
    /// Invite, change and remove the platform's administrators.
    ManagePlatformUsers => UsersWrite,
    /// Read a tenant's agents.
    ReadAgents => AgentsRead,
    /// Create, change and delete a tenant's agents.
    ManageAgents => AgentsWrite,
    /// Start, keep alive and end calls (admission).
    RunCalls => ConversationsWrite,
    /// Read a tenant's calls.
    ReadCalls => ConversationsRead,
    /// Report usage events.
    ReportUsage => UsageWrite,
    /// Read a tenant's phone numbers and SIP trunks.
    ReadTelephony => TelephonyRead,
    /// Create, change and delete a tenant's phone numbers and SIP trunks.
    ManageTelephony => TelephonyWrite,
    /// Read a tenant's integrations (never their secrets).
    ReadIntegrations => AgentsRead,
    /// Create, change and delete a tenant's integrations.
    ManageIntegrations => AgentsWrite,
    /// Read a tenant's knowledge-base files and their contents.
    ReadFiles => AgentsRead,
    /// Upload, rename and delete a tenant's knowledge-base files.
    ManageFiles => AgentsWrite,
    /// Read and play a tenant's call recordings.
    ReadRecordings => ConversationsRead,
    /// Store and delete a tenant's call recordings.
    StoreRecordings => ConversationsWrite,
    /// Read a tenant's limits and usage against them.
    ReadLimits => BillingRead,
    /// Read a tenant's analytics.
    ReadTenantAnalytics => AnalyticsRead,
    /// Read an agency's analytics across its tenants.
    ReadAgencyAnalytics => AnalyticsRead,
    /// Read white-label branding (the platform's default, an agency's, a tenant's own and
    /// what a tenant shows) and an agency's custom domain.
    ReadBranding => TenantsRead,
    /// Set an agency's white-label branding (the platform's default, for the platform), and
    /// register and verify its custom domain.
    ManageAgencyBranding => TenantsWrite,
    /// Set a tenant's own branding, laid over its agency's.
    ManageTenantBranding => TenantsWrite,
}

/// What a scoped key may be used for: Voisnap's scopes, and tenantry's own for what Voisnap
/// leaves to roles (`tenants`, `users`, `usage`). Each action needs one ([`Action::scope`]).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::EnumIter,
)]
pub enum ApiScope {
    #[strum(serialize = "agents:read")]
    AgentsRead,
    #[strum(serialize = "agents:write")]
    AgentsWrite,
    #[strum(serialize = "conversations:read")]
    ConversationsRead,
    #[strum(serialize = "conversations:write")]
    ConversationsWrite,
    #[strum(serialize = "telephony:read")]
    TelephonyRead,
    #[strum(serialize = "telephony:write")]
    TelephonyWrite,
    #[strum(serialize = "webhooks:read")]
    WebhooksRead,
    #[strum(serialize = "webhooks:write")]
    WebhooksWrite,
    #[strum(serialize = "analytics:read")]
    AnalyticsRead,
    #[strum(serialize = "billing:read")]
    BillingRead,
    #[strum(serialize = "tenants:read")]
    TenantsRead,
    #[strum(serialize = "tenants:write")]
    TenantsWrite,
    #[strum(serialize = "users:read")]
    UsersRead,
    #[strum(serialize = "users:write")]
    UsersWrite,
    #[strum(serialize = "usage:write")]
    UsageWrite,
}

impl ApiScope {
    pub fn name(self) -> &'static str {
        self.into()
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The scopes a key carries. `None` on a caller means unscoped: its role alone decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeSet(u32);

impl ScopeSet {
    pub fn contains(self, scope: ApiScope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether every scope here is in `other` too.
    pub fn within(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = ApiScope> {
        <ApiScope as strum::IntoEnumIterator>::iter().filter(move |scope| self.contains(*scope))
    }
}

impl FromIterator<ApiScope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = ApiScope>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

/// Implemented by the types of [`act`].
pub trait ActionMarker {
    const ACTION: Action;
}

/// The grants: each role with every action it may do. The only table of permissions.
pub const GRANTS: &[(Role, &[Action])] = &[
    (Role::Admin, Action::ALL),
    (
        Role::AgencyManager,
        &[
            Action::ReadTenant,
            Action::ReadSubscription,
            Action::CreateTenant,
            Action::UpdateTenant,
            Action::ChangeCommercialTerms,
            Action::ManageSubscription,
            Action::RelaxCompliance,
            Action::DeactivateTenant,
            Action::BlockTenant,
            Action::DeleteTenant,
            Action::TransferTenant,
            Action::ReadAuditLog,
            Action::ReadWebhooks,
            Action::ManageWebhooks,
            Action::ExportTenant,
            Action::ImportTenant,
            Action::ReadAgency,
            Action::ReadPlans,
            Action::ReadKeys,
            Action::MintTenantKey,
            Action::RevokeKey,
            Action::ReadUsers,
            Action::ManageTenantUsers,
            Action::ManageAgencyUsers,
            Action::ReadAgents,
            Action::ManageAgents,
            Action::ReadTelephony,
            Action::ManageTelephony,
            Action::ReadIntegrations,
            Action::ManageIntegrations,
            Action::ReadFiles,
            Action::ManageFiles,
            Action::ReadRecordings,
            Action::StoreRecordings,
            Action::RunCalls,
            Action::ReadCalls,
            Action::ReportUsage,
            Action::ReadLimits,
            Action::ReadTenantAnalytics,
            Action::ReadAgencyAnalytics,
            Action::ReadBranding,
            Action::ManageAgencyBranding,
            Action::ManageTenantBranding,
        ],
    ),
    (
        Role::TenantOwner,
        &[
            Action::ReadTenant,
            Action::ReadSubscription,
            Action::UpdateTenant,
            Action::ReadAuditLog,
            // Its own endpoint (settings.webhookUrl): its secret and deliveries.
            Action::ReadWebhooks,
            Action::ManageWebhooks,
            Action::ExportTenant,
            Action::ReadPlans,
            Action::ReadKeys,
            Action::RevokeKey,
            Action::ReadUsers,
            Action::ManageTenantUsers,
            Action::ReadAgents,
            Action::ManageAgents,
            Action::ReadTelephony,
            Action::ManageTelephony,
            Action::ReadIntegrations,
            Action::ManageIntegrations,
            Action::ReadFiles,
            Action::ManageFiles,
            Action::ReadRecordings,
            Action::StoreRecordings,
            Action::RunCalls,
            Action::ReadCalls,
            Action::ReportUsage,
            Action::ReadLimits,
            Action::ReadTenantAnalytics,
            Action::ReadBranding,
            Action::ManageTenantBranding,
        ],
    ),
    (
        Role::AgencyTechnicalManager,
        &[
            Action::ReadTenant,
            Action::ReadSubscription,
            Action::ReadWebhooks,
            Action::ManageWebhooks,
            Action::ReadAgency,
            Action::ReadPlans,
            Action::ReadKeys,
            Action::MintTenantKey,
            Action::RevokeKey,
            Action::ReadUsers,
            Action::ReadAgents,
            Action::ManageAgents,
            Action::ReadTelephony,
            Action::ManageTelephony,
            Action::ReadIntegrations,
            Action::ManageIntegrations,
            Action::ReadFiles,
            Action::ManageFiles,
            Action::ReadRecordings,
            Action::ReadCalls,
            Action::ReadLimits,
            Action::ReadBranding,
        ],
    ),
    (
        Role::AgencyAccountManager,
        &[
            Action::ReadWebhooks,
            Action::ReadTenant,
            Action::ReadSubscription,
            Action::CreateTenant,
            Action::UpdateTenant,
            Action::ChangeCommercialTerms,
            Action::ManageSubscription,
            Action::DeactivateTenant,
            Action::BlockTenant,
            Action::ReadAuditLog,
            Action::ReadAgency,
            Action::ReadPlans,
            Action::ReadUsers,
            Action::ManageTenantUsers,
            Action::ReadAgents,
            Action::ReadTelephony,
            Action::ReadCalls,
            Action::ReadLimits,
            Action::ReadTenantAnalytics,
            Action::ReadAgencyAnalytics,
            Action::ReadBranding,
            Action::ManageTenantBranding,
        ],
    ),
    (
        Role::TenantUser,
        &[
            Action::ReadTenant,
            Action::ReadSubscription,
            Action::ReadPlans,
            Action::ReadUsers,
            Action::ReadAgents,
            Action::ManageAgents,
            Action::ReadTelephony,
            Action::ReadFiles,
            Action::ManageFiles,
            Action::ReadRecordings,
            Action::StoreRecordings,
            Action::RunCalls,
            Action::ReadCalls,
            Action::ReportUsage,
            Action::ReadLimits,
            Action::ReadTenantAnalytics,
            Action::ReadBranding,
        ],
    ),
    (
        Role::ReadOnly,
        &[
            Action::ReadWebhooks,
            Action::ReadTenant,
            Action::ReadSubscription,
            // A tenant's auditor reads its trail.
            Action::ReadAuditLog,
            Action::ReadPlans,
            Action::ReadUsers,
            Action::ReadAgents,
            Action::ReadTelephony,
            Action::ReadIntegrations,
            Action::ReadFiles,
            Action::ReadRecordings,
            Action::ReadCalls,
            Action::ReadLimits,
            Action::ReadTenantAnalytics,
            Action::ReadBranding,
        ],
    ),
];

/// Whether `role` may do `action` on objects in its reach.
pub fn grants(role: Role, action: Action) -> bool {
    GRANTS
        .iter()
        .any(|(granted, actions)| *granted == role && actions.contains(&action))
}

/// What an action is done to, as far as reach is concerned: the owner of the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Shared by everyone who can call the API (the plan catalog, the list of agencies):
    /// always in reach, so only grants decide.
    Catalog,
    /// Owned by the platform itself (platform keys).
    Platform,
    Agency(AgencyId),
    /// A tenant and the agency that owns it (`None` for a direct tenant, or when the caller
    /// is the tenant itself and the agency does not matter).
    Tenant {
        id: TenantId,
        agency: Option<AgencyId>,
    },
}

impl Scope {
    /// Whether an object owned by `target` is visible in this scope.
    pub fn reaches(&self, target: &Target) -> bool {
        match (self, target) {
            (_, Target::Catalog) | (Scope::Platform, _) => true,
            (Scope::Agency(own), Target::Agency(agency)) => own == agency,
            (Scope::Agency(own), Target::Tenant { agency, .. }) => agency.as_ref() == Some(own),
            (Scope::Tenant(own), Target::Tenant { id, .. }) => own == id,
            _ => false,
        }
    }
}

/// Why the policy refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Out of the caller's reach: answer as if it did not exist.
    Hidden,
    /// In reach, but the caller's role may not do this.
    Denied(Action),
    /// The role may, but the caller's key lacks the scope the action needs.
    MissingScope(ApiScope),
}

/// Proof that `caller` may do `A` on `value`; only [`authorize`] makes one.
pub struct Authorized<T, A> {
    value: T,
    caller: Caller,
    action: PhantomData<A>,
}

impl<T, A> Authorized<T, A> {
    pub fn get(&self) -> &T {
        &self.value
    }

    pub fn into_inner(self) -> T {
        self.value
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

impl<T: fmt::Debug, A> fmt::Debug for Authorized<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorized")
            .field("value", &self.value)
            .field("caller", &self.caller)
            .finish()
    }
}

/// Decides whether `caller` may do `action` on objects owned by `target`.
pub fn decide(caller: &Caller, action: Action, target: &Target) -> Result<(), Refusal> {
    if !caller.scope.reaches(target) {
        return Err(Refusal::Hidden);
    }
    require(caller, action)
}

/// Checks `A` on `value` (owned by `target`) and returns the proof.
pub fn authorize<T, A: ActionMarker>(
    caller: &Caller,
    value: T,
    target: &Target,
) -> Result<Authorized<T, A>, Refusal> {
    decide(caller, A::ACTION, target)?;
    Ok(Authorized {
        value,
        caller: *caller,
        action: PhantomData,
    })
}

/// Checks that the caller's role may do `action` at all, before any object is known (for
/// requests whose target is chosen in their body, or derived from the caller).
pub fn require(caller: &Caller, action: Action) -> Result<(), Refusal> {
    if !grants(caller.role, action) {
        return Err(Refusal::Denied(action));
    }
    match caller.scopes {
        Some(scopes) if !scopes.contains(action.scope()) => {
            Err(Refusal::MissingScope(action.scope()))
        }
        _ => Ok(()),
    }
}

/// The permission table in Markdown: one row per action, one column per role.
pub fn permission_table() -> String {
    let mut table = String::from("| action | what it allows | scope |");
    for role in Role::ALL {
        table.push_str(&format!(" {} |", role.name()));
    }
    table.push_str("\n|---|---|---|");
    for _ in Role::ALL {
        table.push_str(":---:|");
    }
    table.push('\n');
    for action in Action::ALL {
        let scope = action.scope().name();
        let describe = action.describe().trim();
        table.push_str(&format!("| `{action:?}` | {describe} | `{scope}` |"));
        for role in Role::ALL {
            table.push_str(if grants(role, *action) {
                " ✓ |"
            } else {
                " – |"
            });
        }
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Principal;

    fn caller(role: Role, scope: Scope) -> Caller {
        Caller {
            principal: Principal::MasterKey,
            role,
            scope,
            scopes: None,
        }
    }

    #[test]
    fn a_scoped_caller_needs_the_scope_of_each_action_its_role_grants() {
        let tenant = TenantId::generate();
        let target = Target::Tenant {
            id: tenant,
            agency: None,
        };
        let scoped = Caller {
            scopes: Some([ApiScope::AgentsRead].into_iter().collect()),
            ..caller(Role::TenantOwner, Scope::Tenant(tenant))
        };
        assert_eq!(decide(&scoped, Action::ReadAgents, &target), Ok(()));
        assert_eq!(
            decide(&scoped, Action::ManageAgents, &target),
            Err(Refusal::MissingScope(ApiScope::AgentsWrite))
        );
        // A scope never grants what the role lacks.
        let reader = Caller {
            scopes: Some([ApiScope::AgentsWrite].into_iter().collect()),
            ..caller(Role::ReadOnly, Scope::Tenant(tenant))
        };
        assert_eq!(
            decide(&reader, Action::ManageAgents, &target),
            Err(Refusal::Denied(Action::ManageAgents))
        );
        let other = Target::Tenant {
            id: TenantId::generate(),
            agency: None,
        };
        assert_eq!(
            decide(&scoped, Action::ReadAgents, &other),
            Err(Refusal::Hidden)
        );
    }

    #[test]
    fn reach_hides_what_belongs_to_others() {
        let (a, b) = (AgencyId::generate(), AgencyId::generate());
        let tenant = TenantId::generate();
        let of_a = Target::Tenant {
            id: tenant,
            agency: Some(a),
        };
        let agency_a = caller(Role::AgencyManager, Scope::Agency(a));
        let agency_b = caller(Role::AgencyManager, Scope::Agency(b));
        assert_eq!(decide(&agency_a, Action::ReadTenant, &of_a), Ok(()));
        assert_eq!(
            decide(&agency_b, Action::ReadTenant, &of_a),
            Err(Refusal::Hidden)
        );
        let own = caller(Role::TenantOwner, Scope::Tenant(tenant));
        assert_eq!(decide(&own, Action::ReadTenant, &of_a), Ok(()));
        assert_eq!(
            decide(&own, Action::ReadAgency, &Target::Agency(a)),
            Err(Refusal::Hidden)
        );
        assert_eq!(
            decide(&agency_a, Action::RevokeKey, &Target::Platform),
            Err(Refusal::Hidden)
        );
    }

    #[test]
    fn grants_decide_within_reach() {
        let a = AgencyId::generate();
        let agency = caller(Role::AgencyManager, Scope::Agency(a));
        assert_eq!(
            decide(&agency, Action::UpdateAgency, &Target::Agency(a)),
            Err(Refusal::Denied(Action::UpdateAgency))
        );
        assert_eq!(
            decide(&agency, Action::ListAgencies, &Target::Catalog),
            Err(Refusal::Denied(Action::ListAgencies))
        );
        let admin = caller(Role::Admin, Scope::Platform);
        for action in Action::ALL {
            assert_eq!(decide(&admin, *action, &Target::Platform), Ok(()));
        }
    }

    #[test]
    fn tenants_neither_mint_keys_nor_relax_compliance_nor_block_themselves() {
        for action in [
            Action::MintTenantKey,
            Action::RelaxCompliance,
            Action::ChangeCommercialTerms,
            Action::BlockTenant,
            Action::ManageSubscription,
        ] {
            assert!(!grants(Role::TenantOwner, action), "{action:?}");
        }
    }

    #[test]
    fn a_subscription_is_read_by_its_tenant_s_readers_and_set_by_who_sets_its_plan() {
        for role in Role::ALL {
            let same = |a, b| grants(role, a) == grants(role, b);
            assert!(
                same(Action::ReadSubscription, Action::ReadTenant),
                "{role:?}"
            );
            assert!(
                same(Action::ManageSubscription, Action::ChangeCommercialTerms),
                "{role:?}"
            );
        }
    }

    #[test]
    fn the_table_has_a_row_per_action_and_a_column_per_role() {
        let table = permission_table();
        assert_eq!(table.lines().count(), 2 + Action::ALL.len());
        assert!(table.starts_with("| action | what it allows | scope | Admin | AgencyManager |"));
    }
}

#[cfg(test)]
mod documentation {
    /// `docs/PERMISSIONS.md` shows exactly the table the grants make.
    #[test]
    fn the_documented_table_is_the_policy() {
        let doc = include_str!("../../docs/PERMISSIONS.md");
        let table = doc
            .split("<!-- permissions:begin -->\n")
            .nth(1)
            .and_then(|rest| rest.split("<!-- permissions:end -->").next())
            .expect("docs/PERMISSIONS.md has the permission markers");
        assert_eq!(
            table,
            super::permission_table(),
            "docs/PERMISSIONS.md is out of date: regenerate it with `tenantry permissions`"
        );
    }
}

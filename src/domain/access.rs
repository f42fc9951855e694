//! Who is calling: a principal acting in a role, within a scope.

use super::ids::{AgencyId, ApiKeyId, TenantId, UserId};
use super::policy::{Role, ScopeSet};

/// The credential a request was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The `--master-key` of the server.
    MasterKey,
    ApiKey(ApiKeyId),
    /// A person's session, acting through one of their memberships.
    User(UserId),
}

/// How far a caller reaches: the whole platform, one agency with its tenants, or one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Platform,
    Agency(AgencyId),
    Tenant(TenantId),
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub role: Role,
    pub scope: Scope,
    /// The scopes of a scoped key; `None` when the role alone decides.
    pub scopes: Option<ScopeSet>,
}

/// The rows of tenant-owned data a caller may see, as the store filters them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantScope {
    pub agency_id: Option<AgencyId>,
    pub tenant_id: Option<TenantId>,
}

impl TenantScope {
    pub const ALL: TenantScope = TenantScope {
        agency_id: None,
        tenant_id: None,
    };
}

impl Caller {
    /// The holder of the master key.
    pub fn master() -> Caller {
        Caller {
            principal: Principal::MasterKey,
            role: Role::Admin,
            scope: Scope::Platform,
            scopes: None,
        }
    }

    pub fn tenant_scope(&self) -> TenantScope {
        match self.scope {
            Scope::Platform => TenantScope::ALL,
            Scope::Agency(agency_id) => TenantScope {
                agency_id: Some(agency_id),
                tenant_id: None,
            },
            Scope::Tenant(tenant_id) => TenantScope {
                agency_id: None,
                tenant_id: Some(tenant_id),
            },
        }
    }

    /// The agency the caller acts for, if it acts for one.
    pub fn agency(&self) -> Option<AgencyId> {
        match self.scope {
            Scope::Agency(agency_id) => Some(agency_id),
            _ => None,
        }
    }

    /// A stable name for the caller, used to keep idempotency keys apart.
    pub fn principal_name(&self) -> String {
        match self.principal {
            Principal::MasterKey => "master".to_owned(),
            Principal::ApiKey(id) => id.to_string(),
            Principal::User(id) => id.to_string(),
        }
    }

    /// The person acting, for requests made with a session.
    pub fn user(&self) -> Option<UserId> {
        match self.principal {
            Principal::User(id) => Some(id),
            _ => None,
        }
    }
}

//! Who is calling, and which tenants that caller may see.

use super::ids::{AgencyId, ApiKeyId, TenantId};

/// The authenticated caller of a request. `key_id` is `None` for the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Platform {
        key_id: Option<ApiKeyId>,
    },
    Agency {
        key_id: ApiKeyId,
        agency_id: AgencyId,
    },
    Tenant {
        key_id: ApiKeyId,
        tenant_id: TenantId,
    },
}

/// The rows of tenant-owned data a caller may see.
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
    pub fn is_platform(&self) -> bool {
        matches!(self, Caller::Platform { .. })
    }

    pub fn tenant_scope(&self) -> TenantScope {
        match *self {
            Caller::Platform { .. } => TenantScope::ALL,
            Caller::Agency { agency_id, .. } => TenantScope {
                agency_id: Some(agency_id),
                tenant_id: None,
            },
            Caller::Tenant { tenant_id, .. } => TenantScope {
                agency_id: None,
                tenant_id: Some(tenant_id),
            },
        }
    }

    /// A stable name for the caller, used to keep idempotency keys apart.
    pub fn principal(&self) -> String {
        match self {
            Caller::Platform { key_id: None } => "master".to_owned(),
            Caller::Platform { key_id: Some(id) }
            | Caller::Agency { key_id: id, .. }
            | Caller::Tenant { key_id: id, .. } => id.to_string(),
        }
    }
}

//! Tenants: the client organisations agencies create, limit and watch.

use super::{not_found, Context, Lookup, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::policy::{Authorized, Target};
use crate::domain::tenant::Tenant;
use crate::store::{self, StoreError};

/// A tenant as far as the policy needs to know it: for the routes of its sub-resources, which
/// should not load the whole tenant (admission, ingestion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantRef {
    pub id: TenantId,
    /// Its agency; `None` for a direct tenant, and when the caller is the tenant itself.
    pub agency_id: Option<AgencyId>,
}

impl Lookup for TenantRef {
    const NAME: &'static str = "tenant";
    type Id = TenantId;

    async fn lookup(ctx: &Context, caller: &Caller, id: TenantId) -> Result<Option<Self>> {
        match caller.scope {
            // Authentication found the key's tenant active; there is nothing to read.
            Scope::Tenant(own) => Ok((own == id).then_some(TenantRef {
                id,
                agency_id: None,
            })),
            _ => Ok(store::tenants::find_ref(&ctx.db, id)
                .await?
                .map(|(id, agency_id)| TenantRef { id, agency_id })),
        }
    }

    fn target(&self) -> Target {
        Target::Tenant {
            id: self.id,
            agency: self.agency_id,
        }
    }
}

impl Lookup for Tenant {
    const NAME: &'static str = "tenant";
    type Id = TenantId;

    async fn lookup(ctx: &Context, caller: &Caller, id: TenantId) -> Result<Option<Self>> {
        match ctx.db.find_tenant(caller.tenant_scope(), id).await {
            Ok(tenant) => Ok(Some(tenant)),
            Err(StoreError::NotFound) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    fn target(&self) -> Target {
        Target::Tenant {
            id: self.id,
            agency: self.agency_id,
        }
    }
}

/// The whole tenant a reference names, for use cases of its sub-resources that need its
/// limits.
pub async fn load<A>(ctx: &Context, tenant: &Authorized<TenantRef, A>) -> Result<Tenant> {
    ctx.db
        .find_tenant(tenant.caller().tenant_scope(), tenant.get().id)
        .await
        .map_err(not_found("tenant"))
}

//! White-label branding: the platform's default and each agency's (set by the platform and
//! the agency's managers), a tenant's own laid over them, and what a console served on an
//! agency's verified custom domain shows.

use tracing::instrument;

use super::tenants::TenantRef;
use super::{Context, Error, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::branding::{Branding, BrandingRecord, BrandingUpdate};
use crate::domain::ids::AgencyId;
use crate::domain::policy::{self, act, Action, Authorized};
use crate::domain::user::target_of;
use crate::domain::values::HostName;
use crate::store;

/// A tenant's own branding and what it shows (its own over its agency's over the
/// platform's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantBranding {
    pub own: Branding,
    pub shown: Branding,
}

/// Whose white-label settings an agency-level request acts on, once the policy allows
/// `action` there: an agency caller's own agency; for the platform, the agency it names, or
/// (`None`) the platform itself. Another agency is out of an agency's reach (404).
pub(super) async fn owner(
    ctx: &Context,
    caller: &Caller,
    asked: Option<AgencyId>,
    action: Action,
) -> Result<Scope> {
    let owner = match (caller.scope, asked) {
        (Scope::Tenant(_), _) => {
            return Err(Error::Forbidden(
                "white-label settings are an agency's; a tenant's own branding is at \
                 /api/v1/tenants/{tenantId}/branding",
            ))
        }
        (Scope::Agency(own), None) => Scope::Agency(own),
        (Scope::Platform, None) => Scope::Platform,
        (_, Some(agency)) => Scope::Agency(agency),
    };
    policy::decide(caller, action, &target_of(owner, None)).map_err(Error::refused("agency"))?;
    if let Scope::Agency(agency) = owner {
        if caller.scope == Scope::Platform && !store::agencies::exists(&ctx.db, agency).await? {
            return Err(Error::NotFound("agency"));
        }
    }
    Ok(owner)
}

/// The branding record of an agency, or the platform's default: what it set itself.
#[instrument(skip_all)]
pub async fn agency(
    ctx: &Context,
    caller: &Caller,
    asked: Option<AgencyId>,
) -> Result<BrandingRecord> {
    let owner = owner(ctx, caller, asked, Action::ReadBranding).await?;
    let branding = store::branding::find(&ctx.db, owner).await?;
    Ok(BrandingRecord { owner, branding })
}

/// Changes the branding record of an agency, or the platform's default, and answers it.
#[instrument(skip_all)]
pub async fn set_agency(
    ctx: &Context,
    caller: &Caller,
    asked: Option<AgencyId>,
    update: BrandingUpdate,
) -> Result<BrandingRecord> {
    let owner = owner(ctx, caller, asked, Action::ManageAgencyBranding).await?;
    let branding = store::branding::put(&ctx.db, owner, |current| {
        Ok::<_, Error>(update.apply(current))
    })
    .await?;
    Ok(BrandingRecord { owner, branding })
}

/// A tenant's own branding and what it shows.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn tenant(
    ctx: &Context,
    tenant: &Authorized<TenantRef, act::ReadBranding>,
) -> Result<TenantBranding> {
    read_tenant(ctx, tenant.get()).await
}

async fn read_tenant(ctx: &Context, tenant: &TenantRef) -> Result<TenantBranding> {
    let (own, shown) = store::branding::of_tenant(&ctx.db, tenant.id)
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    Ok(TenantBranding { own, shown })
}

/// Changes a tenant's own branding; answers it with what the tenant now shows.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn set_tenant(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ManageTenantBranding>,
    update: BrandingUpdate,
) -> Result<TenantBranding> {
    let owner = Scope::Tenant(tenant.get().id);
    store::branding::put(&ctx.db, owner, |current| {
        Ok::<_, Error>(update.apply(current))
    })
    .await?;
    read_tenant(ctx, tenant.get()).await
}

/// The agency whose verified custom domain is `host` (a `Host` header: its port, case and
/// final dot do not matter), with what its consoles show (its branding over the platform's).
/// Anyone may ask: a console asks before anyone signs in.
#[instrument(skip_all)]
pub async fn for_host(ctx: &Context, host: &str) -> Result<Option<(AgencyId, Branding)>> {
    let Some(host) = HostName::of_host_header(host) else {
        return Ok(None);
    };
    Ok(store::branding::for_host(&ctx.db, &host).await?)
}

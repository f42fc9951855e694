//! A tenant's life after creation: deactivation and reactivation, soft delete and restore.
//! Each change is made under the tenant's row lock, with the notice it sends in the same
//! transaction.

use tracing::instrument;

use super::tenants::TenantRef;
use super::{letters, Context, Error, Result};
use crate::domain::access::Caller;
use crate::domain::ids::TenantId;
use crate::domain::policy::{self, act, Action, Authorized, Target};
use crate::domain::tenant::{Tenant, DEACTIVATION_REASON_MAX};
use crate::domain::validation::Violations;
use crate::store;

/// What a deactivation request says.
#[derive(Debug, Default)]
pub struct DeactivateRequest {
    pub reason: Option<String>,
    /// Mail the tenant's owner about it.
    pub notify_owner: bool,
}

fn not_found(error: store::StoreError) -> Error {
    super::not_found("tenant")(error)
}

/// Deactivates a tenant: its own keys and people are refused, new calls are refused (calls in
/// progress may end), its active agents are switched off. No data is removed.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn deactivate(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::DeactivateTenant>,
    request: DeactivateRequest,
) -> Result<Tenant> {
    let mut violations = Violations::default();
    if let Some(reason) = &request.reason {
        violations.length("reason", reason, 1, DEACTIVATION_REASON_MAX);
    }
    violations.finish(|| ())?;
    let scope = tenant.caller().tenant_scope();
    let mut tx = ctx.db.begin().await?;
    let deactivated =
        store::tenants::deactivate(&mut tx, scope, tenant.get().id, request.reason.as_deref())
            .await
            .map_err(not_found)?;
    let notified = request.notify_owner && deactivated.owner.is_some();
    if notified {
        letters::tenant_deactivated(&mut tx, &deactivated).await?;
    }
    tx.commit().await?;
    if notified {
        ctx.mail_sent_soon();
    }
    Ok(deactivated)
}

/// Reactivates an inactive tenant with exactly the agents its deactivation switched off.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn reactivate(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::DeactivateTenant>,
) -> Result<Tenant> {
    let scope = tenant.caller().tenant_scope();
    let mut tx = ctx.db.begin().await?;
    let reactivated = store::tenants::reactivate(&mut tx, scope, tenant.get().id)
        .await
        .map_err(not_found)?;
    tx.commit().await?;
    Ok(reactivated)
}

/// Soft-deletes a tenant: `deleted`, hidden from lists, its keys and people refused, restorable
/// until `purgeAfter` (the grace period later). Calls in progress refuse it unless `force`,
/// which ends them as `terminated`.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn delete(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::DeleteTenant>,
    force: bool,
) -> Result<Tenant> {
    let scope = tenant.caller().tenant_scope();
    let grace = ctx.deletion_grace;
    let mut tx = ctx.db.begin().await?;
    let deleted = store::tenants::soft_delete(&mut tx, scope, tenant.get().id, force, grace)
        .await
        .map_err(not_found)?;
    tx.commit().await?;
    Ok(deleted)
}

/// Restores a soft-deleted tenant within its grace period, `inactive`.
#[instrument(skip_all, fields(tenant_id = %id))]
pub async fn restore(ctx: &Context, caller: &Caller, id: TenantId) -> Result<Tenant> {
    // A deleted tenant is out of every lookup but this one; reach and grants as for any other.
    let (id, agency) = store::tenants::find_ref_any(&ctx.db, id)
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    let target = Target::Tenant { id, agency };
    policy::decide(caller, Action::DeleteTenant, &target).map_err(Error::refused("tenant"))?;
    let mut tx = ctx.db.begin().await?;
    let restored = store::tenants::restore(&mut tx, id, chrono::Utc::now())
        .await
        .map_err(not_found)?;
    tx.commit().await?;
    Ok(restored)
}

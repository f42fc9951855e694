//! A tenant's life after creation: deactivation and reactivation, per-service blocks, soft
//! delete and restore, permanent delete and the purge of deleted tenants whose grace period is
//! over.
//! Each change is made under the tenant's row lock, with the notice it sends in the same
//! transaction.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::tenants::TenantRef;
use super::{blobs, letters, Context, Error, Lookup, Result};
use crate::domain::access::Caller;
use crate::domain::ids::TenantId;
use crate::domain::policy::{self, act, Action, Authorized, Target};
use crate::domain::tenant::{BlockChange, BlockedService, Tenant, DEACTIVATION_REASON_MAX};
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

/// What a block request says, in any dialect's words.
#[derive(Debug, Default)]
pub struct BlockRequest {
    /// `true` blocks; `false` lifts the whole block, whatever the other fields say.
    pub blocked: bool,
    /// Why; kept with the block, 1 to 500 characters.
    pub reason: Option<String>,
    /// The services to refuse; `None` refuses all five.
    pub services: Option<Vec<BlockedService>>,
}

/// Blocks some of a tenant's services, or lifts its block, for a caller naming the tenant by
/// id: [`set_block`] once the policy allows it.
#[instrument(skip_all, fields(tenant_id = %id))]
pub async fn block(
    ctx: &Context,
    caller: &Caller,
    id: TenantId,
    request: BlockRequest,
) -> Result<Tenant> {
    let tenant = TenantRef::lookup(ctx, caller, id)
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    let target = tenant.target();
    let tenant = policy::authorize::<_, act::BlockTenant>(caller, tenant, &target)
        .map_err(Error::refused("tenant"))?;
    set_block(ctx, tenant, request).await
}

/// Blocks some of a tenant's services, or lifts its block. Refused services answer 403
/// `service_blocked`; everything else works, and the lifecycle status stays as it is (an active
/// tenant reads `blocked`). Blocking is idempotent: the same block again changes nothing
/// (no new version, audit entry or event), and lifting no block neither.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn set_block(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::BlockTenant>,
    request: BlockRequest,
) -> Result<Tenant> {
    let change = BlockChange::parse(request.blocked, request.reason, request.services)?;
    let scope = tenant.caller().tenant_scope();
    let mut tx = ctx.db.begin().await?;
    let changed = store::blocks::set(&mut tx, scope, tenant.get().id, &change)
        .await
        .map_err(not_found)?;
    tx.commit().await?;
    Ok(changed)
}

/// Refuses `service` while the tenant's block names it: for reads. Changes to what exists
/// check it in their write, under the tenant's row lock (`store::blocks::services_held`), and
/// creation under the tenant's counters lock, with its limits.
pub async fn refuse_blocked(ctx: &Context, id: TenantId, service: BlockedService) -> Result<()> {
    let blocked = store::blocks::services_of(&ctx.db, id)
        .await
        .map_err(not_found)?;
    refuse_if(blocked.contains(&service), service)
}

/// [`Error::ServiceBlocked`] when `blocked`.
pub fn refuse_if(blocked: bool, service: BlockedService) -> Result<()> {
    match blocked {
        true => Err(Error::ServiceBlocked(service)),
        false => Ok(()),
    }
}

/// Soft-deletes a tenant: `deleted`, hidden from lists, its keys and people refused, restorable
/// until `purgeAfter` (the grace period later). Calls in progress refuse it unless `force`,
/// which ends them as `terminated`.
#[instrument(skip_all, fields(tenant_id = %id))]
pub async fn delete(ctx: &Context, caller: &Caller, id: TenantId, force: bool) -> Result<Tenant> {
    let id = deletable(ctx, caller, id).await?;
    let scope = caller.tenant_scope();
    let grace = ctx.deletion_grace;
    let mut tx = ctx.db.begin().await?;
    let deleted = store::tenants::soft_delete(&mut tx, scope, id, force, grace)
        .await
        .map_err(not_found)?;
    tx.commit().await?;
    Ok(deleted)
}

/// Restores a soft-deleted tenant within its grace period, `inactive`.
#[instrument(skip_all, fields(tenant_id = %id))]
pub async fn restore(ctx: &Context, caller: &Caller, id: TenantId) -> Result<Tenant> {
    let id = deletable(ctx, caller, id).await?;
    let mut tx = ctx.db.begin().await?;
    let restored = store::tenants::restore(&mut tx, id, chrono::Utc::now())
        .await
        .map_err(not_found)?;
    tx.commit().await?;
    Ok(restored)
}

/// Deletes a tenant for good, whatever its status: every row it owns in one transaction
/// (`store::purge`), then its stored bytes. Calls in progress refuse it unless `force`.
#[instrument(skip_all, fields(tenant_id = %id))]
pub async fn purge(ctx: &Context, caller: &Caller, id: TenantId, force: bool) -> Result<()> {
    let id = deletable(ctx, caller, id).await?;
    let scope = caller.tenant_scope();
    let mut tx = ctx.db.begin().await?;
    let rows = store::purge::permanently(&mut tx, scope, id, force)
        .await
        .map_err(not_found)?;
    tx.commit().await?;
    tracing::info!(rows, "tenant purged");
    blobs::forget_queued(ctx).await;
    Ok(())
}

/// The purge job's pass at `at`: every deleted tenant whose `purgeAfter` has passed is purged
/// in a transaction of its own. Each is claimed first, so replicas never work on the same
/// tenant. Answers how many were purged.
pub async fn purge_due(ctx: &Context, at: DateTime<Utc>) -> Result<u64> {
    let mut purged = 0;
    loop {
        let mut tx = ctx.db.begin().await?;
        let Some(id) = store::purge::claim_due(&mut tx, at).await? else {
            break;
        };
        tracing::info!(tenant_id = %id, "purging a deleted tenant");
        let rows = store::purge::erase(&mut tx, id, store::now()).await?;
        tx.commit().await?;
        tracing::info!(tenant_id = %id, rows, "deleted tenant purged");
        purged += 1;
    }
    blobs::forget_queued(ctx).await;
    Ok(purged)
}

/// The reactivation job's pass at `at`: every tenant an alert's `suspend` deactivated whose
/// period has ended is reactivated, as the system's change, each in a transaction of its own
/// and claimed first, so replicas never work on the same tenant. A tenant a person deactivated
/// is never among them. Answers how many were reactivated.
pub async fn reactivate_suspended(ctx: &Context, at: DateTime<Utc>) -> Result<u64> {
    let today = at.date_naive();
    let mut reactivated = 0;
    loop {
        let mut tx = ctx.db.begin().await?;
        let Some(tenant) = store::tenants::reactivate_one_suspended(&mut tx, today).await? else {
            return Ok(reactivated);
        };
        tx.commit().await?;
        tracing::info!(tenant_id = %tenant.id, "suspended tenant reactivated in a new period");
        reactivated += 1;
    }
}

/// A tenant of any status that `caller` may delete or restore. Deleted tenants are out of
/// every other lookup; reach and grants are as for any tenant.
async fn deletable(ctx: &Context, caller: &Caller, id: TenantId) -> Result<TenantId> {
    let (id, agency) = store::tenants::find_ref_any(&ctx.db, id)
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    let target = Target::Tenant { id, agency };
    policy::decide(caller, Action::DeleteTenant, &target).map_err(Error::refused("tenant"))?;
    Ok(id)
}

//! Transfers: an agency offers a tenant to another agency (or to self-managed); the target
//! accepts or rejects it, the source may cancel it, and an accept moves the tenant with all
//! it owns. Requests expire after seven days.

use tracing::instrument;

use super::tenants::TenantRef;
use super::{Context, Error, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::ids::{AgencyId, TransferId};
use crate::domain::policy::{self, act, Action, Authorized};
use crate::domain::transfer::{
    Decision, Transfer, TransferDirection, TransferState, TRANSFER_NOTE_MAX,
};
use crate::domain::validation::Violations;
use crate::store;
use crate::store::transfers::TransferFilter;

/// What a transfer request says.
#[derive(Debug, Default)]
pub struct TransferRequest {
    /// The agency to move to; `None` for self-managed.
    pub target: Option<AgencyId>,
    pub note: Option<String>,
}

/// Offers the tenant to `request.target`.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn request(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::TransferTenant>,
    request: TransferRequest,
) -> Result<Transfer> {
    let mut violations = Violations::default();
    if let Some(note) = &request.note {
        violations.length("note", note, 1, TRANSFER_NOTE_MAX);
    }
    violations.finish(|| ())?;
    let here = tenant.get().agency_id;
    if let Some(target) = request.target {
        if here == Some(target) {
            let detail = "the tenant is this agency's already";
            return Err(Error::field("targetAgencyId", "same_agency", detail));
        }
        if !store::agencies::exists(&ctx.db, target).await? {
            return Err(Error::field("targetAgencyId", "unknown", "no such agency"));
        }
    } else if here.is_none() {
        return Err(Error::field(
            "targetAgencyId",
            "same_agency",
            "the tenant is self-managed already",
        ));
    }
    let scope = tenant.caller().tenant_scope();
    let id = tenant.get().id;
    let mut tx = ctx.db.begin().await?;
    let transfer =
        store::transfers::request(&mut tx, scope, id, request.target, request.note.as_deref())
            .await
            .map_err(super::not_found("tenant"))?;
    tx.commit().await?;
    Ok(transfer)
}

/// The caller's side of a transfer, if it has one: the platform is on both.
fn sides(caller: &Caller, transfer: &Transfer) -> (bool, bool) {
    match caller.scope {
        Scope::Platform => (true, true),
        Scope::Agency(own) => (
            transfer.source_agency_id == Some(own),
            transfer.target_agency_id == Some(own),
        ),
        Scope::Tenant(_) => (false, false),
    }
}

/// The transfer, if the caller is on one of its sides and may handle transfers.
async fn visible(ctx: &Context, caller: &Caller, id: TransferId) -> Result<Transfer> {
    let transfer = store::transfers::find(&ctx.db, id)
        .await?
        .ok_or(Error::NotFound("transfer"))?;
    let (source, target) = sides(caller, &transfer);
    if !source && !target {
        return Err(Error::NotFound("transfer"));
    }
    policy::require(caller, Action::TransferTenant).map_err(Error::refused("transfer"))?;
    Ok(transfer)
}

#[instrument(skip_all, fields(transfer_id = %id))]
pub async fn get(ctx: &Context, caller: &Caller, id: TransferId) -> Result<Transfer> {
    visible(ctx, caller, id).await
}

/// The caller's transfers, newest first: an agency's to and from it, the platform's every
/// one (or, with a direction, those to or from self-managed).
#[instrument(skip_all)]
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    direction: Option<TransferDirection>,
    state: Option<TransferState>,
    before: Option<TransferId>,
    limit: i64,
) -> Result<Vec<Transfer>> {
    policy::require(caller, Action::TransferTenant).map_err(Error::refused("transfer"))?;
    let agency = match caller.scope {
        Scope::Agency(own) => Some(own),
        Scope::Platform => None,
        Scope::Tenant(_) => return Err(Error::Forbidden("transfers are an agency's")),
    };
    let filter = TransferFilter {
        agency,
        all: agency.is_none() && direction.is_none(),
        direction,
        state,
    };
    Ok(store::transfers::list(&ctx.db, filter, before, limit).await?)
}

/// Accepts, rejects or cancels a pending transfer: the target answers, the source cancels.
#[instrument(skip_all, fields(transfer_id = %id))]
pub async fn decide(
    ctx: &Context,
    caller: &Caller,
    id: TransferId,
    decision: Decision,
) -> Result<Transfer> {
    let transfer = visible(ctx, caller, id).await?;
    let (source, target) = sides(caller, &transfer);
    if decision.by_target() && !target {
        return Err(Error::Forbidden(
            "only the target agency (the platform, for self-managed) answers a transfer",
        ));
    }
    if !decision.by_target() && !source {
        return Err(Error::Forbidden(
            "only the source agency cancels a transfer",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let decided = store::transfers::decide(&mut tx, id, decision)
        .await
        .map_err(super::not_found("transfer"))?;
    tx.commit().await?;
    Ok(decided)
}

/// Marks every pending transfer past its expiry as expired, each in a transaction of its
/// own (with its `transfer.expired` entry and event). Answers how many.
pub async fn expire_due(ctx: &Context, at: chrono::DateTime<chrono::Utc>) -> Result<u64> {
    let mut expired = 0;
    loop {
        let mut tx = ctx.db.begin().await?;
        if store::transfers::expire_one(&mut tx, at, None)
            .await?
            .is_none()
        {
            return Ok(expired);
        }
        tx.commit().await?;
        expired += 1;
    }
}

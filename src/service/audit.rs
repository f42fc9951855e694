//! Reading and verifying the audit trail. Entries are written by the use cases that make
//! changes, in their own transactions ([`store::audit::record`]).

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::tenants::TenantRef;
use super::{Context, Error, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::audit::{chain_of, Actor, BrokenLink, ChainCheck, Entry};
use crate::domain::ids::{AgencyId, AuditId, TenantId};
use crate::domain::policy::{self, act, Action, Authorized};
use crate::domain::user::target_of;
use crate::store;
use crate::store::audit::Acting;

/// Runs a request's handling with its changes recorded as made by `actor`.
pub async fn acting<F: std::future::Future>(
    actor: Actor,
    request_id: Option<String>,
    work: F,
) -> F::Output {
    store::audit::acting(Acting { actor, request_id }, work).await
}

/// Which entries to list, besides the caller's reach.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Platform callers only: one agency's entries.
    pub agency_id: Option<AgencyId>,
    /// One tenant's entries, within the caller's reach.
    pub tenant_id: Option<TenantId>,
}

impl AuditQuery {
    fn filter(self) -> store::audit::AuditFilter {
        store::audit::AuditFilter {
            tenant_id: self.tenant_id,
            agency_id: self.agency_id,
            action: self.action,
            actor: self.actor,
            since: self.since,
            until: self.until,
        }
    }
}

/// One tenant's entries, newest first.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn tenant_log(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadAuditLog>,
    query: AuditQuery,
    before: Option<AuditId>,
    limit: i64,
) -> Result<Vec<Entry>> {
    let query = AuditQuery {
        tenant_id: Some(tenant.get().id),
        agency_id: None,
        ..query
    };
    Ok(store::audit::list(ctx.db.reader(), &query.filter(), before, limit).await?)
}

/// Entries across the caller's reach, newest first: the platform's are every entry, an
/// agency's are those recorded while it owned the tenant (and its own), a tenant's its own.
#[instrument(skip_all)]
pub async fn log(
    ctx: &Context,
    caller: &Caller,
    mut query: AuditQuery,
    before: Option<AuditId>,
    limit: i64,
) -> Result<Vec<Entry>> {
    let target = target_of(caller.scope, None);
    policy::decide(caller, Action::ReadAuditLog, &target).map_err(Error::refused("audit log"))?;
    match caller.scope {
        Scope::Platform => {}
        Scope::Agency(agency) => query.agency_id = Some(agency),
        Scope::Tenant(tenant) => {
            query.tenant_id = Some(tenant);
            query.agency_id = None;
        }
    }
    Ok(store::audit::list(ctx.db.reader(), &query.filter(), before, limit).await?)
}

/// What a walk of a tenant's chain found.
#[derive(Debug, Clone)]
pub struct Verification {
    pub checked: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub broken: Option<BrokenLink>,
}

/// The page size of a chain walk: memory stays flat however long the chain.
const VERIFY_PAGE: i64 = 500;

/// Walks a tenant's chain from its first entry to the head read at the start, recomputing
/// every hash; reports the first broken link.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn verify(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadAuditLog>,
) -> Result<Verification> {
    let chain = chain_of(Some(tenant.get().id), None);
    let reader = ctx.db.reader();
    let (head_seq, head_hash) = store::audit::head(reader, chain).await?;
    let mut check = ChainCheck::new();
    let mut after = 0;
    'walk: while after < head_seq {
        let page = store::audit::chain_page(reader, chain, after, head_seq, VERIFY_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for entry in &page {
            after = entry.seq;
            if !check.check(entry) {
                break 'walk;
            }
        }
    }
    check.finish(head_seq, &head_hash);
    Ok(Verification {
        checked: check.checked,
        head_seq,
        head_hash,
        broken: check.broken,
    })
}

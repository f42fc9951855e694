//! A tenant's block: the columns of `tenants` that hold it (read with the tenant's row by
//! `store::tenants`), the change that sets or lifts it, and the read of what it refuses.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::audit::record_change;
use super::{from_text, next_version, query, Db, StoreError, StoreResult, Tx};
use crate::domain::access::TenantScope;
use crate::domain::ids::TenantId;
use crate::domain::tenant::{Block, BlockChange, BlockedService, Tenant};

/// The block's columns of tenants aliased `t`, for a select list.
pub(super) const COLUMNS: &str = "t.blocked_services, t.block_reason, t.blocked_at";

/// A stored list of services: a JSON array of their names, or null for none.
pub type StoredServices = Option<Json<Vec<String>>>;

/// A tenant's block columns.
#[derive(sqlx::FromRow)]
pub(super) struct BlockRow {
    blocked_services: StoredServices,
    block_reason: Option<String>,
    blocked_at: Option<DateTime<Utc>>,
}

impl BlockRow {
    pub(super) fn into_block(self) -> StoreResult<Option<Block>> {
        let Some(at) = self.blocked_at else {
            return Ok(None);
        };
        Ok(Some(Block {
            services: services(self.blocked_services)?,
            reason: self.block_reason,
            at,
        }))
    }
}

/// The services a stored list names.
pub fn services(stored: StoredServices) -> StoreResult<BTreeSet<BlockedService>> {
    match stored {
        None => Ok(BTreeSet::new()),
        Some(Json(names)) => names.iter().map(|name| from_text(name)).collect(),
    }
}

/// The services a tenant's block refuses now; none when it is not blocked.
pub async fn services_of(db: &Db, id: TenantId) -> StoreResult<BTreeSet<BlockedService>> {
    let row: Option<(StoredServices,)> = db
        .reader()
        .fetch_optional(query("SELECT blocked_services FROM tenants WHERE id = $1").bind(id))
        .await?;
    services(row.ok_or(StoreError::NotFound)?.0)
}

/// The services a tenant's block refuses, read in `tx` under a write lock of the tenant's
/// row, for changes to what exists (which take no counters lock): a block, which updates the
/// row, waits for `tx` to end, or `tx` waits for the block and sees it. A share lock would
/// let a stream of changes hold a block off.
pub async fn services_held(tx: &mut Tx, id: TenantId) -> StoreResult<BTreeSet<BlockedService>> {
    let lock = tx.backend().write_lock_clause();
    let sql = format!("SELECT blocked_services FROM tenants WHERE id = $1{lock}");
    let row: Option<(StoredServices,)> = tx.fetch_optional(query(sql).bind(id)).await?;
    services(row.ok_or(StoreError::NotFound)?.0)
}

/// Blocks or unblocks a tenant in the caller's transaction. It takes the tenant's counters
/// before its row, in admission's order, so an admission (or an agent's or a resource's
/// creation) either committed before the block or waits for it and sees it. A change that
/// changes nothing (blocking again as the block stands, lifting no block) records nothing and
/// answers the tenant as it is.
pub async fn set(
    tx: &mut Tx,
    scope: TenantScope,
    id: TenantId,
    change: &BlockChange,
) -> StoreResult<Tenant> {
    super::counters::lock(tx, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let current = super::tenants::locked(tx, scope, id).await?;
    let at = next_version(current.updated_at);
    let Some(next) = change.next(current.block.as_ref(), at) else {
        return Ok(current);
    };
    let names = next.as_ref().map(|block| {
        let names: Vec<&str> = block.services.iter().map(|s| s.name()).collect();
        serde_json::json!(names)
    });
    tx.execute(
        query(
            "UPDATE tenants SET blocked_services = $2, block_reason = $3, blocked_at = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(names)
        .bind(next.as_ref().and_then(|block| block.reason.as_deref()))
        .bind(next.as_ref().map(|block| block.at))
        .bind(at),
    )
    .await?;
    let changed = super::tenants::reread(tx, id).await?;
    let action = match changed.block {
        Some(_) => "tenant.blocked",
        None => "tenant.unblocked",
    };
    record_change(tx, action, Some(&current), Some(&changed)).await?;
    Ok(changed)
}

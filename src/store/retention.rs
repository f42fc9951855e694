//! Retention: a tenant's call details, raw usage events and recordings older than its
//! `retentionDays` are deleted; the daily and monthly rollups stay, as they hold no personal
//! data.

use chrono::{DateTime, Utc};

use super::{blob_deletions, now, query, resources, Db, StoreResult};
use crate::domain::ids::{CallId, TenantId};
use crate::domain::resource::ResourceKind;
use crate::domain::resources::stored::bytes_key;

/// One page of tenants (deleted ones included: their data is kept until the purge, but not
/// beyond their retention) with their retention in days, in id order after `after`.
pub async fn tenants(
    db: &Db,
    after: Option<TenantId>,
    limit: i64,
) -> StoreResult<Vec<(TenantId, i64)>> {
    let mut statement = query("SELECT id, retention_days FROM tenants");
    if let Some(after) = after {
        statement.push_sql(" WHERE id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    db.reader().fetch_all(statement).await
}

/// Up to `limit` of a tenant's ended calls that started before `cutoff`, oldest first.
pub async fn expired_calls(
    db: &Db,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<CallId>> {
    let rows: Vec<(CallId,)> = db
        .reader()
        .fetch_all(
            query(
                "SELECT id FROM calls WHERE tenant_id = $1 AND started_at < $2 \
                 AND status <> 'active' ORDER BY started_at LIMIT $3",
            )
            .bind(tenant)
            .bind(cutoff)
            .bind(limit),
        )
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Deletes one ended call and its recording's row, queueing the recording's bytes for the
/// blob worker in the same transaction; answers whether it had a recording.
pub async fn forget_call(db: &Db, tenant: TenantId, call: CallId) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let recording = resources::delete_by_unique_key(
        &mut tx,
        tenant,
        ResourceKind::Recording,
        &call.to_string(),
    )
    .await?;
    let key = recording.and_then(|stored| bytes_key(tenant, stored.kind, stored.id));
    if let Some(key) = &key {
        blob_deletions::enqueue(&mut tx, std::slice::from_ref(key), now()).await?;
    }
    tx.execute(
        query("DELETE FROM calls WHERE tenant_id = $1 AND id = $2 AND status <> 'active'")
            .bind(tenant)
            .bind(call),
    )
    .await?;
    tx.commit().await?;
    Ok(key.is_some())
}

/// Deletes a tenant's raw usage events that happened before `cutoff`.
pub async fn forget_events(db: &Db, tenant: TenantId, cutoff: DateTime<Utc>) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let deleted = tx
        .execute(
            query("DELETE FROM usage_events WHERE tenant_id = $1 AND occurred_at < $2")
                .bind(tenant)
                .bind(cutoff),
        )
        .await?;
    tx.commit().await?;
    Ok(deleted)
}

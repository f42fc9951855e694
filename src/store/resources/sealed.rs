//! Sealed secrets across every tenant, for re-sealing them under a new key.

use super::*;

/// One page of rows holding sealed secrets, across every tenant, in key order.
pub async fn sealed_page(
    db: &Db,
    after: Option<(TenantId, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<Stored>> {
    let mut statement = query(format!(
        "SELECT {COLUMNS} FROM resources WHERE sealed IS NOT NULL"
    ));
    if let Some((tenant_id, id)) = after {
        statement.push_sql(
            " AND (tenant_id > ? OR (tenant_id = ? AND id > ?))",
            [tenant_id.into(), tenant_id.into(), id.into()],
        );
    }
    statement.push_sql(" ORDER BY tenant_id, id LIMIT ?", [limit.into()]);
    let rows: Vec<ResourceRow> = db.reader().fetch_all(statement).await?;
    rows.into_iter().map(Stored::try_from).collect()
}

/// Replaces a row's sealed secrets if they are still `before`: a change made meanwhile wins,
/// and sealed its own values under whatever key it had. Returns whether it replaced them.
pub async fn reseal(
    db: &Db,
    tenant_id: TenantId,
    id: Uuid,
    before: &Sealed,
    after: &Sealed,
) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let lock = tx.backend().lock_clause("resources");
    let sql = format!("SELECT sealed FROM resources WHERE tenant_id = $1 AND id = $2{lock}");
    let current: Option<(Option<Json<Sealed>>,)> = tx
        .fetch_optional(query(sql).bind(tenant_id).bind(id))
        .await?;
    let unchanged = matches!(&current, Some((Some(Json(sealed)),)) if sealed == before);
    if unchanged {
        tx.execute(
            query("UPDATE resources SET sealed = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .bind(sealed_arg(after)),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(unchanged)
}

//! Sealed columns outside resources (whose secrets live in one document column), for
//! re-sealing them under a new key. Each table's pair of sealed columns is declared once.

use uuid::Uuid;

use super::{query, Db, StoreResult};

/// Two sealed columns of a table keyed by `id`, and what each ciphertext is bound to.
#[derive(Debug, Clone, Copy)]
pub struct SealedColumns {
    pub table: &'static str,
    pub columns: [&'static str; 2],
    /// The seal context of a row's values, from its id.
    pub context: fn(Uuid) -> String,
}

/// One row's sealed values, in the order of `columns`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedRow {
    pub id: Uuid,
    pub first: Option<String>,
    pub second: Option<String>,
}

impl SealedRow {
    pub fn values(&self) -> [Option<&String>; 2] {
        [self.first.as_ref(), self.second.as_ref()]
    }
}

/// One page of the rows holding a sealed value, in id order after `after`.
pub async fn page(
    db: &Db,
    sealed: &SealedColumns,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<SealedRow>> {
    let [first, second] = sealed.columns;
    let mut statement = query(format!(
        "SELECT id, {first} AS first, {second} AS second FROM {} \
         WHERE ({first} IS NOT NULL OR {second} IS NOT NULL)",
        sealed.table
    ));
    if let Some(after) = after {
        statement.push_sql(" AND id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    db.reader().fetch_all(statement).await
}

/// Replaces one sealed value if it is still `before`: a change made meanwhile wins. Returns
/// whether it replaced it.
pub async fn replace(
    db: &Db,
    sealed: &SealedColumns,
    column: &str,
    id: Uuid,
    before: &str,
    after: &str,
) -> StoreResult<bool> {
    assert!(sealed.columns.contains(&column), "{column} is not sealed");
    let mut tx = db.begin().await?;
    let sql = format!(
        "UPDATE {} SET {column} = $3 WHERE id = $1 AND {column} = $2",
        sealed.table
    );
    let done = tx
        .execute(query(sql).bind(id).bind(before).bind(after))
        .await?;
    tx.commit().await?;
    Ok(done == 1)
}

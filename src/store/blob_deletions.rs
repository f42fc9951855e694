//! The queue of stored bytes to delete: keys written in the transaction that deletes their
//! rows, claimed by a worker after the commit, and removed once the bytes are gone.

use chrono::{DateTime, Duration, Utc};

use super::{query, Db, StoreResult, Tx};

/// Keys per statement, well under either backend's limit of bound values.
const CHUNK: usize = 500;

/// Queues `keys` for deletion, due at once, in the caller's transaction.
pub async fn enqueue(tx: &mut Tx, keys: &[String], at: DateTime<Utc>) -> StoreResult<()> {
    for chunk in keys.chunks(CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|n| format!("(${}, $1)", n + 2))
            .collect();
        let mut statement = query(format!(
            "INSERT INTO blob_deletions (key, due_at) VALUES {} ON CONFLICT (key) DO NOTHING",
            rows.join(", ")
        ))
        .bind(at);
        for key in chunk {
            statement.push(key.as_str());
        }
        tx.execute(statement).await?;
    }
    Ok(())
}

/// Claims up to `batch` due keys until `at + lease`, so that replicas never delete the same
/// bytes at once; a worker that dies leaves its keys due again when the lease ends.
pub async fn claim(
    db: &Db,
    at: DateTime<Utc>,
    batch: i64,
    lease: Duration,
) -> StoreResult<Vec<String>> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "UPDATE blob_deletions SET due_at = $2, attempts = attempts + 1 \
         WHERE key IN (SELECT key FROM blob_deletions WHERE due_at <= $1 \
         ORDER BY due_at LIMIT $3{}) RETURNING key",
        tx.backend().skip_locked_clause()
    );
    let keys: Vec<(String,)> = tx
        .fetch_all(query(sql).bind(at).bind(at + lease).bind(batch))
        .await?;
    tx.commit().await?;
    Ok(keys.into_iter().map(|(key,)| key).collect())
}

/// Forgets a key whose bytes are deleted.
pub async fn done(db: &Db, key: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    tx.execute(query("DELETE FROM blob_deletions WHERE key = $1").bind(key))
        .await?;
    tx.commit().await
}

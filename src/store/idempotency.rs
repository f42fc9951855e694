//! Idempotency records: the first answer to a (caller, `Idempotency-Key`) pair, kept 24 hours.

use chrono::{DateTime, Duration, Utc};

use super::{now, query, Db, StoreError, StoreResult};

/// How long an answer is replayed.
pub const RETENTION: Duration = Duration::hours(24);
/// A request still marked pending after this long is taken to have died with its process.
pub const ABANDONED_AFTER: Duration = Duration::minutes(5);

/// What to do with a request that carries an idempotency key.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use: run it, then [`finish`] (or [`release`] if it failed on our side).
    Started,
    /// Already answered: send this again.
    Replay {
        status: u16,
        /// The headers kept with the answer (`content-type`, `location`, `etag`).
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// The key was used with another request.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

#[derive(sqlx::FromRow)]
struct Record {
    fingerprint: String,
    status_code: Option<i64>,
    headers: Option<String>,
    body: Option<Vec<u8>>,
}

/// Claims `key` for `owner`'s request with this `fingerprint`, or says what to do instead.
/// Records past their retention, and pending ones abandoned by a dead process, are cleared
/// first so that the key can be used again.
pub async fn claim(db: &Db, owner: &str, key: &str, fingerprint: &str) -> StoreResult<Claim> {
    let at = now();
    let mut tx = db.begin().await?;
    tx.execute(
        query(
            "DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 \
             AND (created_at < $3 OR (status_code IS NULL AND created_at < $4))",
        )
        .bind(owner)
        .bind(key)
        .bind(at - RETENTION)
        .bind(at - ABANDONED_AFTER),
    )
    .await?;
    let inserted = tx
        .execute(
            query(
                "INSERT INTO idempotency_keys (owner, key, fingerprint, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (owner, key) DO NOTHING",
            )
            .bind(owner)
            .bind(key)
            .bind(fingerprint)
            .bind(at),
        )
        .await?;
    let claim = if inserted == 1 {
        Claim::Started
    } else {
        let record: Record = tx
            .fetch_one(
                query(
                    "SELECT fingerprint, status_code, headers, body FROM idempotency_keys \
                     WHERE owner = $1 AND key = $2",
                )
                .bind(owner)
                .bind(key),
            )
            .await?;
        record.into_claim(fingerprint)?
    };
    tx.commit().await?;
    Ok(claim)
}

impl Record {
    /// What a request with `fingerprint` does, given the record its key already has.
    fn into_claim(self, fingerprint: &str) -> StoreResult<Claim> {
        Ok(match self {
            Record { fingerprint: f, .. } if f != fingerprint => Claim::Mismatch,
            Record {
                status_code: Some(status),
                headers,
                body,
                ..
            } => Claim::Replay {
                status: u16::try_from(status).unwrap_or(500),
                headers: headers
                    .map(|json| serde_json::from_str(&json))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.into()))?
                    .unwrap_or_default(),
                body: body.unwrap_or_default(),
            },
            Record { .. } => Claim::InFlight,
        })
    }
}

/// Stores the answer to replay for a started key.
pub async fn finish(
    db: &Db,
    owner: &str,
    key: &str,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> StoreResult<()> {
    let headers = serde_json::to_string(headers).map_err(|e| StoreError::Corrupt(e.into()))?;
    let mut tx = db.begin().await?;
    tx.execute(
        query(
            "UPDATE idempotency_keys SET status_code = $3, headers = $4, body = $5 \
             WHERE owner = $1 AND key = $2",
        )
        .bind(owner)
        .bind(key)
        .bind(i64::from(status))
        .bind(headers)
        .bind(body),
    )
    .await?;
    tx.commit().await
}

/// Forgets a started key whose request failed on our side, so a retry runs again.
pub async fn release(db: &Db, owner: &str, key: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    tx.execute(
        query("DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2")
            .bind(owner)
            .bind(key),
    )
    .await?;
    tx.commit().await
}

/// Deletes the records made before `before`; returns how many.
pub async fn purge(db: &Db, before: DateTime<Utc>) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let purged = tx
        .execute(query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(before))
        .await?;
    tx.commit().await?;
    Ok(purged)
}

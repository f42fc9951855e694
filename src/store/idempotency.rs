//! Idempotency records: the first answer to a (caller, `Idempotency-Key`) pair, kept 24 hours.

use chrono::{DateTime, Duration, Utc};

use super::{now, Db, StoreError, StoreResult};
use crate::in_transaction;

/// How long an answer is replayed.
pub const RETENTION: Duration = Duration::hours(24);
/// A request still marked pending after this long is taken to have died with its process.
pub const ABANDONED_AFTER: Duration = Duration::minutes(5);

/// What to do with a request that carries an idempotency key.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use: run it, then [`Db::finish_idempotent`].
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

impl Db {
    pub async fn claim_idempotency_key(
        &self,
        owner: &str,
        key: &str,
        fingerprint: &str,
    ) -> StoreResult<Claim> {
        let at = now();
        in_transaction!(self, |tx| {
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 \
                 AND (created_at < $3 OR (status_code IS NULL AND created_at < $4))",
            )
            .bind(owner)
            .bind(key)
            .bind(at - RETENTION)
            .bind(at - ABANDONED_AFTER)
            .execute(&mut *tx)
            .await?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (owner, key, fingerprint, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (owner, key) DO NOTHING",
            )
            .bind(owner)
            .bind(key)
            .bind(fingerprint)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                Ok(Claim::Started)
            } else {
                let record: Record = sqlx::query_as(
                    "SELECT fingerprint, status_code, headers, body FROM idempotency_keys \
                     WHERE owner = $1 AND key = $2",
                )
                .bind(owner)
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
                Ok(match record {
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
        })
    }

    /// Stores the answer to replay for a started key.
    pub async fn finish_idempotent(
        &self,
        owner: &str,
        key: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> StoreResult<()> {
        let headers = serde_json::to_string(headers).map_err(|e| StoreError::Corrupt(e.into()))?;
        in_transaction!(self, |tx| {
            sqlx::query(
                "UPDATE idempotency_keys SET status_code = $3, headers = $4, body = $5 \
                 WHERE owner = $1 AND key = $2",
            )
            .bind(owner)
            .bind(key)
            .bind(i64::from(status))
            .bind(headers)
            .bind(body)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Forgets a started key whose request failed on our side, so a retry runs again.
    pub async fn release_idempotency_key(&self, owner: &str, key: &str) -> StoreResult<()> {
        in_transaction!(self, |tx| {
            sqlx::query("DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2")
                .bind(owner)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Deletes answers older than the retention; returns how many.
    pub async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = in_transaction!(self, |tx| {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(done)
    }
}

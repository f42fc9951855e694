//! Storage: one repository module per aggregate, each a set of free functions over
//! [`exec`], which runs every query, written once, on SQLite or PostgreSQL. Only the
//! migrations differ per backend. SQLite writes go through a single writer connection and start
//! with `BEGIN IMMEDIATE`, so a transaction that reads then writes never fails half-way with
//! `SQLITE_BUSY`; PostgreSQL uses row locks where it must.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::domain::conflict::Conflict;
use crate::domain::metering::Counter;
pub use exec::{json, query, Arg, Backend, Query, Reader, Row, Tx};

pub mod agencies;
pub mod agents;
pub mod alerts;
pub mod api_keys;
pub mod archive;
pub mod audit;
pub mod blob_deletions;
pub mod blocks;
pub mod branding;
pub mod calls;
pub mod constraints;
pub mod counters;
pub mod custom_domains;
pub mod deliveries;
pub mod events;
pub mod exec;
pub mod idempotency;
pub mod limits;
pub mod monthly;
pub mod outbox;
pub mod plans;
pub mod purge;
pub mod resources;
pub mod retention;
pub mod sealed;
pub mod sessions;
pub mod subscriptions;
pub mod tenants;
pub mod transfers;
pub mod usage;
pub mod users;
pub mod webhooks;

/// Failures of the store, in domain terms.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique rule refused the write.
    #[error("conflict: {}", .0.code())]
    Conflict(Conflict),
    /// Resources still need what the write would remove.
    #[error("{subject} is in use")]
    InUse {
        /// What the write would remove, as a client names it.
        subject: &'static str,
        field: Option<&'static str>,
        by: Vec<resources::Named>,
    },
    /// An `If-Match` version no longer matches the stored object.
    #[error("the object changed since the given version")]
    Stale,
    /// A write would take a usage counter past [`MAX_COUNTER`]; the database refused it.
    ///
    /// [`MAX_COUNTER`]: crate::domain::metering::MAX_COUNTER
    #[error("a usage counter ({}) would pass its ceiling", .0.describe())]
    CounterOverflow(Counter),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("stored data could not be read")]
    Corrupt(#[source] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let sqlx::Error::Database(db) = &error else {
            return match error {
                sqlx::Error::RowNotFound => StoreError::NotFound,
                other => StoreError::Database(other),
            };
        };
        // PostgreSQL names the constraint; SQLite ends its message with it ("UNIQUE constraint
        // failed: tenants.slug", "CHECK constraint failed: name").
        let (backend, name) = match db.constraint() {
            Some(name) => (Backend::Postgres, name),
            None => (
                Backend::Sqlite,
                db.message().rsplit(": ").next().unwrap_or(""),
            ),
        };
        if db.is_unique_violation() {
            StoreError::Conflict(constraints::unique(backend, name))
        } else if let Some(counter) = db
            .is_check_violation()
            .then(|| constraints::counter_bound(name))
            .flatten()
        {
            StoreError::CounterOverflow(counter)
        } else if db.is_foreign_key_violation() {
            StoreError::Conflict(Conflict::ReferenceGone)
        } else {
            StoreError::Database(error)
        }
    }
}

impl From<Counter> for StoreError {
    fn from(counter: Counter) -> Self {
        StoreError::CounterOverflow(counter)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The SQLite side: many readers, one writer.
#[derive(Clone)]
pub struct SqliteDb {
    pub read: SqlitePool,
    pub write: SqlitePool,
}

/// A connected database of either kind.
#[derive(Clone)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

/// The current time at the precision both databases keep (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The `updated_at` of an object changed now, strictly after `previous`: it is the version
/// that ETags and `If-Match` compare, so two changes may never share it.
pub fn next_version(previous: DateTime<Utc>) -> DateTime<Utc> {
    now().max(previous + chrono::Duration::microseconds(1))
}

/// Optimistic concurrency, for every object that can change: `current` is the version read
/// under the object's row lock, `expected` the one the client named in `If-Match` (if any).
/// Returns the version the change gets, or [`StoreError::Stale`].
pub fn versioned_change(
    expected: Option<DateTime<Utc>>,
    current: DateTime<Utc>,
) -> StoreResult<DateTime<Utc>> {
    match expected {
        Some(version) if version != current => Err(StoreError::Stale),
        _ => Ok(next_version(current)),
    }
}

/// How many connections to keep; PostgreSQL's is per process.
const PG_MAX_CONNECTIONS: u32 = 16;
const SQLITE_READERS: u32 = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Db {
    /// Connects by URL scheme (`sqlite:` or `postgres:`), creating a SQLite file if missing.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(PG_MAX_CONNECTIONS)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(BUSY_TIMEOUT);
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(SQLITE_READERS)
                .connect_with(options.read_only(true))
                .await?;
            Ok(Db::Sqlite(SqliteDb { read, write }))
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite:// or postgres://")
        }
    }

    /// Applies this backend's pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(sqlite) => {
                sqlx::migrate!("migrations/sqlite")
                    .run(&sqlite.write)
                    .await?
            }
            Db::Postgres(pg) => sqlx::migrate!("migrations/postgres").run(pg).await?,
        }
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        let _: (i64,) = self
            .reader()
            .fetch_one(query("SELECT CAST(1 AS BIGINT)"))
            .await?;
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(sqlite) => {
                sqlite.read.close().await;
                sqlite.write.close().await;
            }
            Db::Postgres(pg) => pg.close().await,
        }
    }
}

/// Reads an enum stored in its text form (its `strum` name).
pub fn from_text<T: FromStr<Err = strum::ParseError>>(text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(anyhow::anyhow!("{text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strictly_increase_even_within_a_microsecond() {
        let ahead = now() + chrono::Duration::seconds(5);
        assert_eq!(
            next_version(ahead),
            ahead + chrono::Duration::microseconds(1)
        );
        let past = now() - chrono::Duration::seconds(5);
        assert!(next_version(past) > past + chrono::Duration::seconds(4));
        let mut version = now();
        for _ in 0..1000 {
            let next = next_version(version);
            assert!(next > version);
            version = next;
        }
    }
}

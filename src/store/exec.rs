//! How every repository talks to the database: SQL text written once, its arguments as
//! backend-neutral values, and rows decoded by one `FromRow` implementation for both backends.
//!
//! Repositories build a [`Query`] and run it on a [`Reader`] (the read pool) or a [`Tx`] (a
//! write transaction). Only this module knows that there are two backends; it binds the
//! arguments with the backend's own sqlx types, so PostgreSQL still sees typed parameters
//! (`uuid`, `timestamptz`, `jsonb`). The few statements whose text differs (row locks, the
//! bind markers of large batches) ask [`Backend`] for the difference.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgArguments, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqlitePool, SqliteRow};
use sqlx::types::Json;
use sqlx::{Arguments, Postgres, Sqlite, Transaction};
use uuid::Uuid;

use super::{Db, StoreError, StoreResult};
use crate::domain::ids::TypedId;

/// Which backend a statement runs on, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `FOR UPDATE OF <table>` where row locks exist; SQLite's `BEGIN IMMEDIATE` already
    /// holds the database's write lock.
    pub fn lock_clause(self, table: &str) -> String {
        match self {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!(" FOR UPDATE OF {table}"),
        }
    }

    /// ` FOR SHARE` where row locks exist: the row cannot change until the transaction ends,
    /// and a change already under way is waited for. SQLite's single writer orders it anyway.
    pub fn share_clause(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR SHARE",
        }
    }

    /// ` FOR NO KEY UPDATE` where row locks exist: the writers of the row take turns, fairly
    /// (unlike share locks, which a stream of sharers can hold against a writer for good),
    /// while inserts that reference the row go on. SQLite's single writer orders it anyway.
    pub fn write_lock_clause(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// ` FOR UPDATE SKIP LOCKED` where row locks exist, for a queue's claim: concurrent
    /// claimers pass over each other's rows instead of waiting for them. On SQLite the claim
    /// runs under the single writer, so no two claims overlap.
    pub fn skip_locked_clause(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// `count` comma-separated bind markers, numbered from `first` on PostgreSQL. SQLite gets
    /// plain `?`: it binds `$N` by name, which costs quadratic time on batches of thousands.
    pub fn placeholders(self, first: usize, count: usize) -> String {
        let mut list = String::with_capacity(count * 6);
        for n in first..first + count {
            if n > first {
                list.push_str(", ");
            }
            match self {
                Backend::Sqlite => list.push('?'),
                Backend::Postgres => {
                    list.push('$');
                    list.push_str(&n.to_string());
                }
            }
        }
        list
    }
}

/// One bound value. `None` is SQL `NULL` of that type (PostgreSQL wants typed nulls).
#[derive(Debug, Clone)]
pub enum Arg<'q> {
    Bool(Option<bool>),
    Int(Option<i64>),
    Text(Option<Cow<'q, str>>),
    Uuid(Option<Uuid>),
    Time(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    Json(Option<serde_json::Value>),
    Bytes(Option<Cow<'q, [u8]>>),
}

macro_rules! arg_from {
    ($($ty:ty => $variant:ident $(($convert:expr))?),* $(,)?) => {$(
        impl<'q> From<$ty> for Arg<'q> {
            fn from(value: $ty) -> Self {
                Arg::$variant(Some(arg_from!(@convert value $(, $convert)?)))
            }
        }
        impl<'q> From<Option<$ty>> for Arg<'q> {
            fn from(value: Option<$ty>) -> Self {
                Arg::$variant(value.map(|value| arg_from!(@convert value $(, $convert)?)))
            }
        }
    )*};
    (@convert $value:ident) => { $value };
    (@convert $value:ident, $convert:expr) => { ($convert)($value) };
}

arg_from! {
    bool => Bool,
    i64 => Int,
    Uuid => Uuid,
    DateTime<Utc> => Time,
    NaiveDate => Date,
    serde_json::Value => Json,
    String => Text(Cow::Owned),
    &'q str => Text(Cow::Borrowed),
    &'q String => Text(|text: &'q String| Cow::Borrowed(text.as_str())),
    Vec<u8> => Bytes(Cow::Owned),
    &'q [u8] => Bytes(Cow::Borrowed),
}

impl<'q, T: TypedId> From<T> for Arg<'q> {
    fn from(id: T) -> Self {
        Arg::Uuid(Some(id.uuid()))
    }
}

impl<'q, T: TypedId> From<Option<T>> for Arg<'q> {
    fn from(id: Option<T>) -> Self {
        Arg::Uuid(id.map(TypedId::uuid))
    }
}

/// The type of a column read or written as data, without a row type of its own (a tenant's
/// archive copies rows this way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Uuid,
    Text,
    Int,
    Bool,
    Time,
    Date,
    Json,
}

impl ColumnType {
    /// The argument that writes `value`, a value [`Reader::fetch_values`] read; `None` when it
    /// is not of this type.
    pub fn arg(self, value: &serde_json::Value) -> Option<Arg<'static>> {
        use serde_json::Value;
        if value.is_null() {
            return Some(match self {
                ColumnType::Uuid => Arg::Uuid(None),
                ColumnType::Text => Arg::Text(None),
                ColumnType::Int => Arg::Int(None),
                ColumnType::Bool => Arg::Bool(None),
                ColumnType::Time => Arg::Time(None),
                ColumnType::Date => Arg::Date(None),
                ColumnType::Json => Arg::Json(None),
            });
        }
        Some(match (self, value) {
            (ColumnType::Uuid, Value::String(text)) => Uuid::parse_str(text).ok()?.into(),
            (ColumnType::Text, Value::String(text)) => text.clone().into(),
            (ColumnType::Int, Value::Number(number)) => number.as_i64()?.into(),
            (ColumnType::Bool, Value::Bool(flag)) => (*flag).into(),
            (ColumnType::Time, Value::String(text)) => DateTime::parse_from_rfc3339(text)
                .ok()?
                .with_timezone(&Utc)
                .into(),
            (ColumnType::Date, Value::String(text)) => text.parse::<NaiveDate>().ok()?.into(),
            (ColumnType::Json, value) => value.clone().into(),
            _ => return None,
        })
    }
}

/// Decodes the columns of one row of either backend as JSON values of `types`.
macro_rules! values_of {
    ($row:expr, $types:expr) => {{
        use sqlx::Row as _;
        let mut values = Vec::with_capacity($types.len());
        for (i, ty) in $types.iter().enumerate() {
            use serde_json::Value;
            let value = match ty {
                ColumnType::Uuid => $row
                    .try_get::<Option<Uuid>, _>(i)?
                    .map(|id| Value::String(id.to_string())),
                ColumnType::Text => $row.try_get::<Option<String>, _>(i)?.map(Value::String),
                ColumnType::Int => $row.try_get::<Option<i64>, _>(i)?.map(Value::from),
                ColumnType::Bool => $row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
                ColumnType::Time => $row.try_get::<Option<DateTime<Utc>>, _>(i)?.map(|at| {
                    Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                }),
                ColumnType::Date => $row
                    .try_get::<Option<NaiveDate>, _>(i)?
                    .map(|day| Value::String(day.to_string())),
                ColumnType::Json => $row
                    .try_get::<Option<Json<serde_json::Value>>, _>(i)?
                    .map(|json| json.0),
            };
            values.push(value.unwrap_or(Value::Null));
        }
        values
    }};
}

/// A JSON document column (only for opaque documents; anything queried has a column).
pub fn json<T: serde::Serialize>(document: &T) -> Arg<'static> {
    Arg::Json(Some(
        serde_json::to_value(document).expect("documents serialize to JSON"),
    ))
}

/// SQL text and its arguments, in order: `$1` is the first `bind`.
#[derive(Debug, Clone)]
pub struct Query<'q> {
    sql: Cow<'q, str>,
    args: Vec<Arg<'q>>,
}

/// A statement to run; bind its arguments with [`Query::bind`].
pub fn query<'q>(sql: impl Into<Cow<'q, str>>) -> Query<'q> {
    Query {
        sql: sql.into(),
        args: Vec::new(),
    }
}

impl<'q> Query<'q> {
    pub fn bind(mut self, value: impl Into<Arg<'q>>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Binds one more value in place, for statements built in a loop.
    pub fn push(&mut self, value: impl Into<Arg<'q>>) {
        self.args.push(value.into());
    }

    /// Appends `sql`, whose `?` markers bind `args` in order as the next `$N`. Statements
    /// assembled from optional filters use it, so that an absent filter leaves no predicate
    /// behind: an `$N IS NULL OR …` term would hide the index its filter needs.
    pub fn push_sql(&mut self, sql: &str, args: impl IntoIterator<Item = Arg<'q>>) {
        let text = self.sql.to_mut();
        let mut args = args.into_iter();
        for (n, piece) in sql.split('?').enumerate() {
            if n > 0 {
                let arg = args.next().expect("an argument for each marker");
                self.args.push(arg);
                text.push('$');
                text.push_str(&self.args.len().to_string());
            }
            text.push_str(piece);
        }
        assert!(
            args.next().is_none(),
            "a marker for each argument in {sql:?}"
        );
    }

    /// The statement's text, for diagnostics.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    fn postgres_args(&self) -> StoreResult<PgArguments> {
        let mut args = PgArguments::default();
        for arg in &self.args {
            let added = match arg {
                Arg::Bool(v) => args.add(*v),
                Arg::Int(v) => args.add(*v),
                Arg::Text(v) => args.add(v.as_deref()),
                Arg::Uuid(v) => args.add(*v),
                Arg::Time(v) => args.add(*v),
                Arg::Date(v) => args.add(*v),
                Arg::Json(v) => args.add(v.as_ref().map(Json)),
                Arg::Bytes(v) => args.add(v.as_deref()),
            };
            added.map_err(|e| StoreError::Corrupt(anyhow::anyhow!("bind: {e}")))?;
        }
        Ok(args)
    }

    fn sqlite_args(&self) -> StoreResult<SqliteArguments<'_>> {
        let mut args = SqliteArguments::default();
        for arg in &self.args {
            let added = match arg {
                Arg::Bool(v) => args.add(*v),
                Arg::Int(v) => args.add(*v),
                Arg::Text(v) => args.add(v.as_deref()),
                Arg::Uuid(v) => args.add(*v),
                Arg::Time(v) => args.add(*v),
                Arg::Date(v) => args.add(*v),
                Arg::Json(v) => args.add(v.as_ref().map(Json)),
                Arg::Bytes(v) => args.add(v.as_deref()),
            };
            added.map_err(|e| StoreError::Corrupt(anyhow::anyhow!("bind: {e}")))?;
        }
        Ok(args)
    }
}

/// A row type both backends decode: derive `sqlx::FromRow`, or use a tuple.
pub trait Row:
    for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin
{
}

impl<T> Row for T where
    T: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// Runs one statement on `$executor` of either backend: `run!(self, query, fetch_one)`.
macro_rules! run {
    ($target:expr, $query:expr, $method:ident, as $row:ty) => {
        match $target {
            Target::Sqlite(executor) => {
                sqlx::query_as_with::<Sqlite, $row, _>(&$query.sql, $query.sqlite_args()?)
                    .$method(executor)
                    .await?
            }
            Target::Postgres(executor) => {
                sqlx::query_as_with::<Postgres, $row, _>(&$query.sql, $query.postgres_args()?)
                    .$method(executor)
                    .await?
            }
        }
    };
    ($target:expr, $query:expr, execute) => {
        match $target {
            Target::Sqlite(executor) => {
                sqlx::query_with::<Sqlite, _>(&$query.sql, $query.sqlite_args()?)
                    .execute(executor)
                    .await?
                    .rows_affected()
            }
            Target::Postgres(executor) => {
                sqlx::query_with::<Postgres, _>(&$query.sql, $query.postgres_args()?)
                    .execute(executor)
                    .await?
                    .rows_affected()
            }
        }
    };
}

/// What a statement runs on, borrowed for one statement.
enum Target<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// The pools that serve reads (on SQLite, the read-only pool).
#[derive(Clone, Copy)]
pub enum Reader<'d> {
    Sqlite(&'d SqlitePool),
    Postgres(&'d PgPool),
}

impl Reader<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Reader::Sqlite(_) => Backend::Sqlite,
            Reader::Postgres(_) => Backend::Postgres,
        }
    }

    fn target(&self) -> Target<&SqlitePool, &PgPool> {
        match *self {
            Reader::Sqlite(pool) => Target::Sqlite(pool),
            Reader::Postgres(pool) => Target::Postgres(pool),
        }
    }

    pub async fn fetch_one<R: Row>(&self, query: Query<'_>) -> StoreResult<R> {
        Ok(run!(self.target(), query, fetch_one, as R))
    }

    /// The plan the database chooses for `query` with its arguments, one line per step:
    /// SQLite's `EXPLAIN QUERY PLAN` details, PostgreSQL's `EXPLAIN` text.
    pub async fn query_plan(&self, mut query: Query<'_>) -> StoreResult<Vec<String>> {
        let backend = self.backend();
        let prefix = match backend {
            Backend::Sqlite => "EXPLAIN QUERY PLAN ",
            Backend::Postgres => "EXPLAIN ",
        };
        query.sql = Cow::Owned(format!("{prefix}{}", query.sql));
        Ok(match backend {
            Backend::Sqlite => {
                let steps: Vec<(i64, i64, i64, String)> =
                    run!(self.target(), query, fetch_all, as (i64, i64, i64, String));
                steps.into_iter().map(|step| step.3).collect()
            }
            Backend::Postgres => {
                let lines: Vec<(String,)> = run!(self.target(), query, fetch_all, as (String,));
                lines.into_iter().map(|line| line.0).collect()
            }
        })
    }

    pub async fn fetch_optional<R: Row>(&self, query: Query<'_>) -> StoreResult<Option<R>> {
        Ok(run!(self.target(), query, fetch_optional, as R))
    }

    pub async fn fetch_all<R: Row>(&self, query: Query<'_>) -> StoreResult<Vec<R>> {
        Ok(run!(self.target(), query, fetch_all, as R))
    }

    /// The rows of `query` as JSON values, a column of each of `types` in order.
    pub async fn fetch_values(
        &self,
        query: Query<'_>,
        types: &[ColumnType],
    ) -> StoreResult<Vec<Vec<serde_json::Value>>> {
        let mut rows = Vec::new();
        match self.target() {
            Target::Sqlite(pool) => {
                let raw = sqlx::query_with::<Sqlite, _>(&query.sql, query.sqlite_args()?)
                    .fetch_all(pool)
                    .await?;
                for row in &raw {
                    rows.push(values_of!(row, types));
                }
            }
            Target::Postgres(pool) => {
                let raw = sqlx::query_with::<Postgres, _>(&query.sql, query.postgres_args()?)
                    .fetch_all(pool)
                    .await?;
                for row in &raw {
                    rows.push(values_of!(row, types));
                }
            }
        }
        Ok(rows)
    }
}

/// A write transaction: `BEGIN IMMEDIATE` on SQLite's single writer, a pooled transaction on
/// PostgreSQL. Dropping it without [`Tx::commit`] rolls it back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    fn target(&mut self) -> Target<&mut sqlx::SqliteConnection, &mut sqlx::PgConnection> {
        match self {
            Tx::Sqlite(tx) => Target::Sqlite(&mut **tx),
            Tx::Postgres(tx) => Target::Postgres(&mut **tx),
        }
    }

    pub async fn fetch_one<R: Row>(&mut self, query: Query<'_>) -> StoreResult<R> {
        Ok(run!(self.target(), query, fetch_one, as R))
    }

    pub async fn fetch_optional<R: Row>(&mut self, query: Query<'_>) -> StoreResult<Option<R>> {
        Ok(run!(self.target(), query, fetch_optional, as R))
    }

    pub async fn fetch_all<R: Row>(&mut self, query: Query<'_>) -> StoreResult<Vec<R>> {
        Ok(run!(self.target(), query, fetch_all, as R))
    }

    /// Runs a statement; returns how many rows it changed.
    pub async fn execute(&mut self, query: Query<'_>) -> StoreResult<u64> {
        Ok(run!(self.target(), query, execute))
    }

    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl Db {
    pub fn backend(&self) -> Backend {
        self.reader().backend()
    }

    /// The pool for reads.
    pub fn reader(&self) -> Reader<'_> {
        match self {
            Db::Sqlite(sqlite) => Reader::Sqlite(&sqlite.read),
            Db::Postgres(pool) => Reader::Postgres(pool),
        }
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite(sqlite) => Tx::Sqlite(sqlite.write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_values_are_checked_by_type() {
        let id = Uuid::now_v7();
        assert!(matches!(
            ColumnType::Uuid.arg(&serde_json::json!(id.to_string())),
            Some(Arg::Uuid(Some(read))) if read == id
        ));
        assert!(matches!(
            ColumnType::Time.arg(&serde_json::json!("2024-05-01T10:00:00.5Z")),
            Some(Arg::Time(Some(_)))
        ));
        assert!(matches!(
            ColumnType::Int.arg(&serde_json::Value::Null),
            Some(Arg::Int(None))
        ));
        assert!(ColumnType::Int.arg(&serde_json::json!("7")).is_none());
        assert!(ColumnType::Date
            .arg(&serde_json::json!("2024-02-30"))
            .is_none());
        assert!(ColumnType::Uuid.arg(&serde_json::json!("ten_x")).is_none());
    }

    #[test]
    fn placeholders_follow_each_backend() {
        assert_eq!(Backend::Postgres.placeholders(3, 3), "$3, $4, $5");
        assert_eq!(Backend::Sqlite.placeholders(3, 3), "?, ?, ?");
        assert_eq!(Backend::Sqlite.placeholders(1, 0), "");
    }

    #[test]
    fn pushed_sql_numbers_its_markers_after_the_bound_ones() {
        let mut statement = query("SELECT 1 WHERE a = $1").bind(1_i64);
        statement.push_sql(
            " AND b = ? AND c IN (?, ?)",
            [2_i64.into(), "x".into(), "y".into()],
        );
        statement.push_sql(" ORDER BY a", []);
        assert_eq!(
            statement.sql(),
            "SELECT 1 WHERE a = $1 AND b = $2 AND c IN ($3, $4) ORDER BY a"
        );
        assert_eq!(statement.args.len(), 4);
    }
}

//! The test harness: a real tenantry server on a real socket, one fresh database per test,
//! typed clients per role and fixture builders.
//!
//! [`both!`](crate::both) runs one story on SQLite and on PostgreSQL. PostgreSQL is expected at
//! `127.0.0.1:5432` (user `postgres`, database `test`; override with `TENANTRY_TEST_POSTGRES`);
//! each test gets a schema of its own. When it is unreachable the PostgreSQL half is skipped
//! with a notice, unless `CI=true`, where it fails.

use sqlx::Connection;
use tempfile::TempDir;
use tenantry::http::AppState;
use tenantry::store::Db;
use tokio::task::JoinHandle;

mod client;
mod fixtures;

pub use client::{Answer, Client};

/// Runs a story against SQLite and against PostgreSQL, each with a fresh database:
/// `both!(name, |app| async move { ... });` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($name:ident, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let app = $crate::support::TestApp::sqlite().await;
                let $app = app.clone();
                $body.await;
                app.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(app) = $crate::support::TestApp::postgres().await else {
                    return;
                };
                let $app = app.clone();
                $body.await;
                app.finish().await;
            }
        }
    };
}

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

fn postgres_base_url() -> String {
    std::env::var("TENANTRY_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// Where a test's database lives; dropping it removes the database.
enum Storage {
    Sqlite(TempDir),
    Postgres { schema: String },
}

/// A running server with its own database.
#[derive(Clone)]
pub struct TestApp {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    base_url: String,
    master_key: String,
    db: Db,
    storage: Storage,
    server: JoinHandle<()>,
    http: reqwest::Client,
    finished: std::sync::atomic::AtomicBool,
}

impl TestApp {
    /// A server on a fresh SQLite file.
    pub async fn sqlite() -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/t.db", dir.path().display());
        Self::start(&url, Storage::Sqlite(dir)).await
    }

    /// A server on a fresh PostgreSQL schema, or `None` (with a notice) when PostgreSQL is
    /// unreachable outside CI.
    pub async fn postgres() -> Option<TestApp> {
        let base = postgres_base_url();
        let mut admin = match sqlx::PgConnection::connect(&base).await {
            Ok(connection) => connection,
            Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL at {base} is required when CI=true but unreachable: {error}")
            }
            Err(error) => {
                eprintln!("skipping PostgreSQL: {base} is unreachable ({error})");
                return None;
            }
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        let _ = admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Some(Self::start(&url, Storage::Postgres { schema }).await)
    }

    async fn start(url: &str, storage: Storage) -> TestApp {
        let db = tenantry::server::open_database(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e:#}"));
        let master_key = format!("master-{}", uuid::Uuid::new_v4().simple());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let address = listener.local_addr().expect("a local address");
        let router = tenantry::http::app(AppState::new(db.clone(), Some(&master_key)));
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the server runs");
        });
        TestApp {
            inner: std::sync::Arc::new(Inner {
                base_url: format!("http://{address}"),
                master_key,
                db,
                storage,
                server,
                http: reqwest::Client::new(),
                finished: false.into(),
            }),
        }
    }

    /// A client holding `key`.
    pub fn client(&self, key: &str) -> Client {
        Client::new(
            self.inner.http.clone(),
            &self.inner.base_url,
            Some(key.to_owned()),
        )
    }

    /// The platform operator, holding the master key.
    pub fn platform(&self) -> Client {
        self.client(&self.inner.master_key)
    }

    /// A client without any key.
    pub fn anonymous(&self) -> Client {
        Client::new(self.inner.http.clone(), &self.inner.base_url, None)
    }

    /// Whether `needle` appears anywhere in the stored data: in the bytes of the SQLite files,
    /// or in the text of any row of any table on PostgreSQL (byte columns show as hex).
    pub async fn database_contains(&self, needle: &str) -> bool {
        match &self.inner.storage {
            Storage::Sqlite(dir) => {
                let mut found = false;
                for entry in std::fs::read_dir(dir.path()).expect("list the database files") {
                    let bytes = std::fs::read(entry.expect("a file").path()).expect("read");
                    found |= bytes
                        .windows(needle.len())
                        .any(|window| window == needle.as_bytes());
                }
                found
            }
            Storage::Postgres { schema } => {
                let Db::Postgres(pool) = &self.inner.db else {
                    unreachable!("a PostgreSQL test runs on PostgreSQL")
                };
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = $1",
                )
                .bind(schema)
                .fetch_all(pool)
                .await
                .expect("list tables");
                let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
                for (table,) in tables {
                    let (hits,): (i64,) = sqlx::query_as(&format!(
                        "SELECT COUNT(*) FROM \"{table}\" r \
                         WHERE strpos(r::text, $1) > 0 OR strpos(r::text, $2) > 0"
                    ))
                    .bind(needle)
                    .bind(&hex)
                    .fetch_one(pool)
                    .await
                    .expect("scan a table");
                    if hits > 0 {
                        return true;
                    }
                }
                false
            }
        }
    }

    /// Stops the server, closes the database and removes it.
    pub async fn finish(&self) {
        let inner = &self.inner;
        inner.server.abort();
        inner.db.close().await;
        if let Storage::Postgres { schema } = &inner.storage {
            drop_schema(schema).await;
        }
        inner
            .finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn drop_schema(schema: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_base_url()).await {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut admin)
            .await;
        let _ = admin.close().await;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.abort();
        // A story that panicked never reached `finish`: remove its schema anyway, from a
        // thread of its own because `Drop` cannot wait on the test's runtime.
        if let Storage::Postgres { schema } = &self.storage {
            if !self.finished.load(std::sync::atomic::Ordering::SeqCst) {
                let schema = schema.clone();
                let cleanup = std::thread::spawn(move || {
                    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        runtime.block_on(drop_schema(&schema));
                    }
                });
                let _ = cleanup.join();
            }
        }
    }
}

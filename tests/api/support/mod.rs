//! The test harness: a real tenantry server on a real socket, one fresh database per test,
//! typed clients per role and fixture builders.
//!
//! [`both!`](crate::both) runs one story on SQLite and on PostgreSQL. PostgreSQL is expected at
//! `127.0.0.1:5432` (user `postgres`, database `test`; override with `TENANTRY_TEST_POSTGRES`);
//! each test gets a schema of its own. When it is unreachable the PostgreSQL half is skipped
//! with a notice, unless `CI=true`, where it fails.
//!
//! Stories about metering reach below the API where the API has no door yet: [`TestApp::db`]
//! runs the reaper's pass (`store::calls::expire`) at a chosen instant (so leases expire
//! without waiting), and [`TestApp::set_tenant_status`] deactivates a tenant. [`process`] runs the real binary.
//!
//! The server is `tenantry::server::serve_connections`, as in the binary, so stories also cover
//! the connection cap and the deadlines; [`Settings`] shortens them for the stories about slow
//! clients.

use sqlx::Connection;
use tempfile::TempDir;
use tenantry::domain::ids::TenantId;
use tenantry::http::connection::ConnectionLimits;
use tenantry::http::rate_limit::RateLimitConfig;
use tenantry::store::Db;

pub mod billing;
pub mod blobs;
mod client;
pub mod dns;
mod fixtures;
mod in_process;
pub mod mail;
mod metering;
pub mod people;
pub mod process;
pub mod races;
pub mod receiver;
pub mod redis;
mod resources;
pub mod smtp;
mod spec;
pub mod tenant_rows;
pub mod wire;

pub use client::{Answer, Client};
pub use fixtures::{AgencyFixture, TenantFixture};
pub use metering::{event, simultaneous_starts, time, Database};
pub use resources::StoredResource;
pub use spec::{assert_committed_spec, assert_spec_served};

/// Runs a story against SQLite and against PostgreSQL, each with a fresh database:
/// `both!(name, |app| async move { ... });` makes `name::sqlite` and `name::postgres`.
/// `both!(name, Settings::..., |app| ...)` starts the servers with those settings.
#[macro_export]
macro_rules! both {
    ($name:ident, |$app:ident| $body:expr) => {
        $crate::both!($name, $crate::support::Settings::default(), |$app| $body);
    };
    ($name:ident, $settings:expr, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let app = $crate::support::TestApp::sqlite_with($settings).await;
                let $app = app.clone();
                $body.await;
                app.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(app) = $crate::support::TestApp::postgres_with($settings).await else {
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

/// How a test's server is configured.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long an admitted call keeps its slot without a heartbeat.
    pub call_lease: chrono::Duration,
    /// The connection cap and the deadlines clients must keep.
    pub connections: ConnectionLimits,
    /// The mail worker, if the server runs one; without it mail waits in the outbox.
    pub mail: Option<mail::MailWorker>,
    /// `--public-url`; the server's own address when `None`.
    pub public_url: Option<String>,
    /// Request-rate limits; off unless a story is about them, since stories send many
    /// requests with one key from one address.
    pub rate_limits: Option<RateLimitConfig>,
    /// The webhook worker, if the server runs one; without it deliveries wait.
    pub webhooks: Option<WebhookWorker>,
    /// `--dns-server`: the [`dns::shared`] server on loopback, so that lookups (webhook
    /// destinations, custom domains' CNAMEs) are answered by the stories' own records.
    pub dns_server: std::net::SocketAddr,
    /// `--white-label-cname-target`.
    pub cname_target: String,
}

/// The name test servers tell agencies to point their custom domains at.
pub const CNAME_TARGET: &str = "edge.tenantry.test";

/// How a test server's webhook worker runs.
#[derive(Debug, Clone)]
pub struct WebhookWorker {
    /// `--webhook-retry-schedule`: short, so that retries come within a test.
    pub schedule: tenantry::domain::delivery::RetrySchedule,
    /// `--webhook-disable-after`.
    pub disable_after: chrono::Duration,
    /// `--allow-private-webhooks`: the receivers listen on loopback.
    pub allow_private: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            call_lease: chrono::Duration::seconds(tenantry::service::DEFAULT_CALL_LEASE_SECONDS),
            connections: ConnectionLimits::default(),
            mail: None,
            public_url: None,
            rate_limits: None,
            webhooks: None,
            dns_server: dns::shared().address(),
            cname_target: CNAME_TARGET.to_owned(),
        }
    }
}

impl Settings {
    /// A server that limits request rates as `tenantry serve` does by default: in memory,
    /// with the declared budgets.
    pub fn rate_limited() -> Settings {
        Settings::rate_limited_by(RateLimitConfig::default())
    }

    /// A server that limits request rates as `config` says.
    pub fn rate_limited_by(config: RateLimitConfig) -> Settings {
        Settings {
            rate_limits: Some(config),
            ..Settings::default()
        }
    }

    /// A server delivering webhooks, retrying after each of `schedule`'s delays (`50ms,50ms`),
    /// to receivers on loopback.
    pub fn webhooks(schedule: &str) -> Settings {
        Settings {
            webhooks: Some(WebhookWorker {
                schedule: tenantry::domain::delivery::RetrySchedule::parse(schedule)
                    .expect("a retry schedule"),
                disable_after: chrono::Duration::days(5),
                allow_private: true,
            }),
            ..Settings::default()
        }
    }

    /// This server's webhook worker, changed by `change`.
    pub fn webhook_worker(mut self, change: impl FnOnce(&mut WebhookWorker)) -> Settings {
        change(self.webhooks.as_mut().expect("a server with webhooks"));
        self
    }

    /// A server whose calls hold their slot for `seconds` without a heartbeat.
    pub fn call_lease_seconds(seconds: i64) -> Settings {
        Settings {
            call_lease: chrono::Duration::seconds(seconds),
            ..Settings::default()
        }
    }

    /// A server whose clients get one second for headers, for a body and between requests.
    pub fn short_timeouts() -> Settings {
        let second = std::time::Duration::from_secs(1);
        Settings {
            connections: ConnectionLimits {
                header_read_timeout: second,
                body_timeout: second,
                idle_timeout: second,
                ..ConnectionLimits::default()
            },
            ..Settings::default()
        }
    }

    /// A server that serves at most `n` connections at once.
    pub fn max_connections(n: usize) -> Settings {
        Settings {
            connections: ConnectionLimits {
                max_connections: n,
                ..ConnectionLimits::default()
            },
            ..Settings::default()
        }
    }
}

/// The storage of a test's servers: a key file made on first use (shared by every server of
/// the test, as replicas share theirs), and bytes under the data directory.
fn open_storage(
    data_dir: &std::path::Path,
    db: &Db,
) -> (
    std::sync::Arc<tenantry::secrets::LiveKeyring>,
    tenantry::blobs::BlobStore,
) {
    let generate = tenantry::secrets::KeySource::Generate {
        data_dir: data_dir.to_owned(),
    };
    tenantry::secrets::Keyring::load(&generate).expect("a generated key");
    let args = tenantry::cli::StorageArgs {
        data_dir: data_dir.to_owned(),
        object_store_url: None,
        secret_key_file: Some(data_dir.join("secret.key")),
        secret_key: None,
    };
    tenantry::server::open_storage(&args, db).expect("storage opens")
}

/// A new SQLite file in a directory of its own.
fn fresh_sqlite() -> (String, Storage) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    (url, Storage::Sqlite(dir))
}

/// A new PostgreSQL schema, or `None` (with a notice) when PostgreSQL is unreachable outside
/// CI.
async fn fresh_postgres() -> Option<(String, Storage)> {
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
    install_trigram_extension(&mut admin).await;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("create the test schema");
    let _ = admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    // The application name marks every connection of this test, so that a cleanup can end them
    // even when the test's own runtime can no longer run (see `Drop for Inner`).
    let url =
        format!("{base}{separator}options=-c%20search_path%3D{schema}&application_name={schema}");
    Some((url, Storage::Postgres { schema }))
}

/// Installs pg_trgm in `public` once, before any test's migrations would install it into the
/// test's own schema, whose drop would take every other test's trigram indexes with it.
/// Parallel tests may race to create it; the loser finds it installed.
async fn install_trigram_extension(admin: &mut sqlx::PgConnection) {
    if sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        .execute(&mut *admin)
        .await
        .is_ok()
    {
        return;
    }
    let installed: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            .fetch_optional(&mut *admin)
            .await
            .expect("read the installed extensions");
    assert!(installed.is_some(), "pg_trgm could not be installed");
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
    database_url: String,
    settings: Settings,
    db: Db,
    storage: Storage,
    /// Stored bytes and the secret key (`secret.key`) of the servers on this database.
    data_dir: TempDir,
    server: in_process::InProcess,
    http: reqwest::Client,
    finished: std::sync::atomic::AtomicBool,
}

impl TestApp {
    /// A server on a fresh SQLite file.
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(Settings::default()).await
    }

    pub async fn sqlite_with(settings: Settings) -> TestApp {
        let (url, storage) = fresh_sqlite();
        Self::start(&url, storage, settings).await
    }

    /// A server on a fresh SQLite file that `prepare` fills first, given its URL (to start from
    /// an older schema, say); the server then applies the remaining migrations.
    pub async fn sqlite_prepared<F, Fut>(prepare: F) -> TestApp
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let (url, storage) = fresh_sqlite();
        prepare(url.clone()).await;
        Self::start(&url, storage, Settings::default()).await
    }

    /// A server on a fresh PostgreSQL schema, or `None` (with a notice) when PostgreSQL is
    /// unreachable outside CI.
    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_with(Settings::default()).await
    }

    pub async fn postgres_with(settings: Settings) -> Option<TestApp> {
        let (url, storage) = fresh_postgres().await?;
        Some(Self::start(&url, storage, settings).await)
    }

    /// Like [`TestApp::sqlite_prepared`], on a fresh PostgreSQL schema.
    pub async fn postgres_prepared<F, Fut>(prepare: F) -> Option<TestApp>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let (url, storage) = fresh_postgres().await?;
        prepare(url.clone()).await;
        Some(Self::start(&url, storage, Settings::default()).await)
    }

    async fn start(url: &str, storage: Storage, settings: Settings) -> TestApp {
        let db = tenantry::server::open_database(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e:#}"));
        let data_dir = tempfile::tempdir().expect("a data directory");
        let master_key = format!("master-{}", uuid::Uuid::new_v4().simple());
        let server =
            in_process::InProcess::start(&db, data_dir.path(), &master_key, &settings).await;
        TestApp {
            inner: std::sync::Arc::new(Inner {
                base_url: format!("http://{}", server.address),
                master_key,
                database_url: url.to_owned(),
                settings,
                db,
                storage,
                data_dir,
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

    /// A client of another server (a replica started on this test's database) holding `key`.
    pub fn client_of(&self, base_url: &str, key: &str) -> Client {
        Client::for_url(self.inner.http.clone(), base_url, key)
    }

    /// Where this test's server listens.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// A client without any key.
    pub fn anonymous(&self) -> Client {
        Client::new(self.inner.http.clone(), &self.inner.base_url, None)
    }

    /// A raw TCP connection to the server, for stories about the wire itself.
    pub async fn connect(&self) -> tokio::net::TcpStream {
        tokio::net::TcpStream::connect(self.inner.server.address)
            .await
            .expect("connect to the server")
    }

    pub fn master_key(&self) -> &str {
        &self.inner.master_key
    }

    /// The URL of this test's database, for other processes to share it.
    pub fn database_url(&self) -> &str {
        &self.inner.database_url
    }

    /// The servers' data directory: stored bytes under `objects/`, the key in `secret.key`.
    /// The server's use-case context, for running a background job's pass at a chosen
    /// instant (as the reaper's pass is run through [`TestApp::db`]).
    pub fn context(&self) -> &tenantry::service::Context {
        &self.inner.server.ctx
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.inner.data_dir.path()
    }

    pub fn settings(&self) -> Settings {
        self.inner.settings.clone()
    }

    /// The server's database, reached below the API.
    pub fn db(&self) -> Database {
        Database(self.inner.db.clone())
    }

    /// Sets a tenant's status in the database (the API has no door for it yet).
    pub async fn set_tenant_status(&self, tenant_id: &str, status: &str) {
        let id: TenantId = tenant_id.parse().expect("a tenant id");
        let sql = "UPDATE tenants SET status = $1 WHERE id = $2";
        let changed = match &self.inner.db {
            Db::Sqlite(sqlite) => sqlx::query(sql)
                .bind(status)
                .bind(id)
                .execute(&sqlite.write)
                .await
                .map(|done| done.rows_affected()),
            Db::Postgres(pool) => sqlx::query(sql)
                .bind(status)
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()),
        }
        .expect("update the tenant's status");
        assert_eq!(changed, 1, "no tenant {tenant_id}");
    }

    /// How many usage events the database holds for a tenant.
    pub async fn stored_event_count(&self, tenant_id: &str) -> i64 {
        let id: TenantId = tenant_id.parse().expect("a tenant id");
        let sql = "SELECT COUNT(*) FROM usage_events WHERE tenant_id = $1";
        let (count,): (i64,) = match &self.inner.db {
            Db::Sqlite(sqlite) => sqlx::query_as(sql).bind(id).fetch_one(&sqlite.read).await,
            Db::Postgres(pool) => sqlx::query_as(sql).bind(id).fetch_one(pool).await,
        }
        .expect("count the stored events");
        count
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
        inner.server.stop();
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
        // Connections of the test may still hold locks the drop would wait for.
        let _ = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(schema)
        .execute(&mut admin)
        .await;
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut admin)
            .await;
        let _ = admin.close().await;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.stop();
        // A story that panicked never reached `finish`: remove its schema anyway, from a
        // thread of its own because `Drop` cannot wait on the test's runtime. That runtime is
        // blocked here, so the server's tasks may still hold row locks: the cleanup ends their
        // connections first.
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

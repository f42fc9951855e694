//! The servers under test, as child processes, and the database each run gets fresh.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::{Connection, Executor, PgConnection};

/// A server process, killed when dropped.
pub struct Server {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Starts `command` and waits for it to print `<prefix>http://ADDR` on stdout.
    pub fn start(name: &'static str, mut command: Command, prefix: &str) -> anyhow::Result<Server> {
        command.stdout(Stdio::piped()).stdin(Stdio::null());
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (found, address) = mpsc::channel();
        let prefix = prefix.to_owned();
        // Keep draining stdout so that the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(addr) = line.strip_prefix(&prefix) {
                        let _ = found.send(addr.trim().to_owned());
                        sent = true;
                    }
                }
            }
        });
        let mut server = Server {
            name,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
        };
        match address.recv_timeout(Duration::from_secs(120)) {
            Ok(addr) => server.addr = addr.parse().context("listening address")?,
            Err(_) => {
                let status = server.child.try_wait()?;
                bail!("{name} did not start (exit status {status:?}); see its log");
            }
        }
        Ok(server)
    }

    /// The process id, to read its memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited during the benchmark: {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tenantry serve` on a free port, logging to `log`.
fn tenantry(
    binary: &Path,
    database_url: &str,
    master_key: &str,
    log: &Path,
) -> anyhow::Result<Server> {
    // Stored bytes and the key that seals secrets, beside the log; PostgreSQL needs the key
    // given, as replicas would share it.
    let data_dir = log.with_file_name("data");
    let generate = tenantry::secrets::KeySource::Generate {
        data_dir: data_dir.clone(),
    };
    tenantry::secrets::Keyring::load(&generate)?;
    let mut command = Command::new(binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(database_url)
        .args(["--master-key", master_key])
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--secret-key-file")
        .arg(data_dir.join("secret.key"))
        .args(unthrottled_budgets())
        // The bench's webhook receivers listen on loopback.
        .arg("--allow-private-webhooks")
        .stderr(std::fs::File::create(log)?);
    Server::start("tenantry", command, "tenantry listening on http://")
}

/// Rate limits stay on, so every request pays for its decision, but the bench's keys (the
/// master key and agency keys, which spend the server's default budgets) get the largest
/// budgets: the bench measures the server, not the policies. The data plane keeps its own
/// default, which the bench's load stays under.
fn unthrottled_budgets() -> Vec<String> {
    use tenantry::domain::rate_limit::{RatePolicy, MAX_LIMIT};
    RatePolicy::ALL
        .iter()
        .filter(|policy| **policy != RatePolicy::DataPlane)
        .map(|policy| format!("--rate-limit={}={MAX_LIMIT}", policy.name()))
        .collect()
}

/// The baseline server (this program's `baseline` subcommand) on a free port.
pub fn baseline(
    database_url: &str,
    sqlite_placeholders: crate::baseline::Placeholders,
    log: &Path,
) -> anyhow::Result<Server> {
    let placeholders = match sqlite_placeholders {
        crate::baseline::Placeholders::Anonymous => "anonymous",
        crate::baseline::Placeholders::Numbered => "numbered",
    };
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["baseline", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(database_url)
        .args(["--sqlite-placeholders", placeholders])
        .stderr(std::fs::File::create(log)?);
    Server::start("baseline", command, "baseline listening on http://")
}

/// Where the database of one run lives; removed when dropped (SQLite) or by [`drop_schema`].
pub enum Database {
    Sqlite { dir: tempfile::TempDir },
    Postgres { admin_url: String, schema: String },
}

impl Database {
    /// A fresh database of `kind` (`sqlite`, or `postgres` in the database of `postgres_url`).
    pub async fn fresh(kind: &str, postgres_url: &str) -> anyhow::Result<Database> {
        if kind == "sqlite" {
            Database::sqlite()
        } else {
            Database::postgres(postgres_url).await
        }
    }

    pub fn sqlite() -> anyhow::Result<Database> {
        let dir = tempfile::Builder::new()
            .prefix("tenantry-bench-")
            .tempdir()?;
        Ok(Database::Sqlite { dir })
    }

    /// A fresh schema in the database of `admin_url`.
    pub async fn postgres(admin_url: &str) -> anyhow::Result<Database> {
        let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
        let schema = format!("tenantry_bench_{stamp}_{}", std::process::id());
        let mut admin = PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {admin_url}"))?;
        // In `public`, so that dropping the run's schema leaves the extension to other users.
        admin
            .execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            .await
            .context("installing pg_trgm (PostgreSQL's contrib package)")?;
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await?;
        Ok(Database::Postgres {
            admin_url: admin_url.to_owned(),
            schema,
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    pub fn url(&self) -> String {
        match self {
            Database::Sqlite { dir } => format!("sqlite://{}", self.sqlite_file(dir).display()),
            Database::Postgres { admin_url, schema } => {
                let separator = if admin_url.contains('?') { '&' } else { '?' };
                format!("{admin_url}{separator}options=-c%20search_path%3D{schema}")
            }
        }
    }

    fn sqlite_file(&self, dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("tenantry.db")
    }

    /// A directory for the servers' logs.
    pub fn log_dir(&self) -> PathBuf {
        match self {
            Database::Sqlite { dir } => dir.path().to_owned(),
            Database::Postgres { schema, .. } => std::env::temp_dir().join(schema),
        }
    }

    /// `tenantry serve` on this database, logging to `tenantry.log` in [`Database::log_dir`].
    pub fn serve(&self, binary: &Path, master_key: &str) -> anyhow::Result<Server> {
        let logs = self.log_dir();
        std::fs::create_dir_all(&logs)?;
        tenantry(binary, &self.url(), master_key, &logs.join("tenantry.log"))
    }

    /// Leaves the database in place after the run; returns its URL.
    pub fn keep(self) -> String {
        let url = self.url();
        if let Database::Sqlite { dir } = self {
            let _ = dir.keep();
        }
        url
    }

    /// Removes what [`Database::postgres`] created; SQLite's directory goes with the value.
    pub async fn drop_schema(&self) -> anyhow::Result<()> {
        if let Database::Postgres { admin_url, schema } = self {
            let mut admin = PgConnection::connect(admin_url).await?;
            admin
                .execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                .await?;
        }
        Ok(())
    }
}

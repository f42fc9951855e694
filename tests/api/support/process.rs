//! Real `tenantry serve` processes on a test's database: several replicas on one PostgreSQL,
//! one server to `kill -9` in the middle of its work, or one whose log a story reads.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, LazyLock};

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{Mutex, OwnedMutexGuard};

use tenantry::domain::rate_limit::RatePolicy;
use tenantry::http::rate_limit::RateLimitConfig;

use super::{Client, TestApp};

/// A running `tenantry serve`, killed when dropped.
pub struct Served {
    child: Child,
    /// Kept open so that the server never writes into a closed pipe.
    _stdout: Lines<BufReader<ChildStdout>>,
    /// Holds the server's log (its stderr), read when it fails to start or when it stops.
    _logs: TempDir,
    log_path: PathBuf,
    http: reqwest::Client,
    pub base_url: String,
}

impl Served {
    /// Starts `tenantry serve` on `app`'s database with `app`'s master key, on a free port,
    /// and waits until it says where it listens. It logs warnings and errors only.
    pub async fn start(app: &TestApp) -> Served {
        Self::start_logging(app, "warn").await
    }

    /// Like [`Served::start`], logging what `RUST_LOG=filter` selects (`debug`, say); read the
    /// log with [`Served::stop`]. Rate limits are as the app's settings say.
    pub async fn start_logging(app: &TestApp, filter: &str) -> Served {
        Self::start_with(app, filter, &[]).await
    }

    /// Like [`Served::start_logging`], with more flags (`--smtp-url`, say).
    pub async fn start_with(app: &TestApp, filter: &str, flags: &[&str]) -> Served {
        Self::launch(app, filter, app.settings().rate_limits.as_ref(), flags).await
    }

    /// Like [`Served::start_logging`], limiting request rates as `rate_limits` says (`None`:
    /// off).
    pub async fn start_limited(
        app: &TestApp,
        filter: &str,
        rate_limits: Option<&RateLimitConfig>,
    ) -> Served {
        Self::launch(app, filter, rate_limits, &[]).await
    }

    async fn launch(
        app: &TestApp,
        filter: &str,
        rate_limits: Option<&RateLimitConfig>,
        flags: &[&str],
    ) -> Served {
        let logs = tempfile::tempdir().expect("a directory for the server's log");
        let log_path = logs.path().join("stderr.log");
        let log = std::fs::File::create(&log_path).expect("create the log");
        let lease = app.settings().call_lease.num_seconds().to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--database-url", app.database_url()])
            .args(["--master-key", app.master_key()])
            .args(["--call-lease-seconds", &lease])
            .arg("--data-dir")
            .arg(app.data_dir())
            .arg("--secret-key-file")
            .arg(app.data_dir().join("secret.key"))
            // Webhook receivers in tests listen on loopback.
            .arg("--allow-private-webhooks")
            .args(flags)
            .env_remove("TENANTRY_DATA_DIR")
            .env_remove("TENANTRY_OBJECT_STORE_URL")
            .env_remove("TENANTRY_SECRET_KEY_FILE")
            .env_remove("TENANTRY_SECRET_KEY")
            .env_remove("DATABASE_URL")
            .env_remove("TENANTRY_LISTEN")
            .env_remove("TENANTRY_MASTER_KEY")
            .env_remove("TENANTRY_CALL_LEASE_SECONDS")
            .env_remove("TENANTRY_MAX_CONNECTIONS")
            .env_remove("TENANTRY_HEADER_READ_TIMEOUT_SECONDS")
            .env_remove("TENANTRY_BODY_TIMEOUT_SECONDS")
            .env_remove("TENANTRY_IDLE_TIMEOUT_SECONDS")
            .env_remove("TENANTRY_SMTP_URL")
            .env_remove("TENANTRY_EMAIL_FROM")
            .env_remove("TENANTRY_PUBLIC_URL")
            .args(rate_limit_flags(rate_limits))
            .env_remove("TENANTRY_RATE_LIMITS")
            .env_remove("TENANTRY_RATE_LIMIT_DEFAULTS")
            .env_remove("TENANTRY_REDIS_URL")
            .env_remove("TENANTRY_REDIS_KEY_PREFIX")
            .env_remove("TENANTRY_TRUSTED_PROXIES")
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("tenantry starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        loop {
            match stdout.next_line().await.expect("read stdout") {
                Some(line) => {
                    if let Some(url) = line.strip_prefix("tenantry listening on ") {
                        return Served {
                            base_url: url.trim().to_owned(),
                            child,
                            _stdout: stdout,
                            _logs: logs,
                            log_path,
                            http: reqwest::Client::new(),
                        };
                    }
                }
                None => panic!("tenantry exited before listening:\n{}", read_log(&log_path)),
            }
        }
    }

    /// Waits until the server has logged a line that holds `needle`, and returns that line.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        loop {
            if let Some(line) = read_log(&self.log_path)
                .lines()
                .find(|line| line.contains(needle))
            {
                return line.to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The server's process id, to read what it uses from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// A client of this server holding `key`.
    pub fn client(&self, key: &str) -> Client {
        Client::for_url(self.http.clone(), &self.base_url, key)
    }

    /// Stops the server as an operator would (SIGTERM), waits until it has exited, and returns
    /// everything it logged: it flushes its log on the way out.
    pub async fn stop(mut self) -> String {
        let pid = self.child.id().expect("a running server").to_string();
        let signalled = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(signalled.success(), "SIGTERM to tenantry {pid}");
        let exited = self.child.wait().await.expect("wait for tenantry");
        let log = read_log(&self.log_path);
        assert!(exited.success(), "tenantry exited with {exited:?}:\n{log}");
        log
    }

    /// `kill -9`: the process gets no chance to finish anything.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill tenantry");
    }
}

/// Three servers on one database, like replicas behind a load balancer.
pub struct Replicas {
    pub servers: [Served; 3],
    /// Held while the servers run: each has a pool of PostgreSQL connections, and several sets
    /// at once, beside the other tests' pools, would pass the database's connection limit.
    _turn: OwnedMutexGuard<()>,
}

static REPLICAS_TURN: LazyLock<Arc<Mutex<()>>> = LazyLock::new(Arc::default);

/// Held by a story while it runs several servers, so that few sets of pools run at once.
pub async fn replicas_turn() -> OwnedMutexGuard<()> {
    REPLICAS_TURN.clone().lock_owned().await
}

impl Replicas {
    pub async fn start(app: &TestApp) -> Replicas {
        Self::start_with(app, &[]).await
    }

    /// Three servers started at once, each with these flags as well.
    pub async fn start_with(app: &TestApp, flags: &[&str]) -> Replicas {
        let turn = replicas_turn().await;
        let (a, b, c) = tokio::join!(
            Served::start_with(app, "warn", flags),
            Served::start_with(app, "warn", flags),
            Served::start_with(app, "warn", flags)
        );
        Replicas {
            servers: [a, b, c],
            _turn: turn,
        }
    }

    pub fn urls(&self) -> Vec<&str> {
        self.servers.iter().map(|s| s.base_url.as_str()).collect()
    }

    pub async fn kill(self) {
        for server in self.servers {
            server.kill().await;
        }
    }
}

/// The flags of `tenantry serve` that configure `rate_limits`.
fn rate_limit_flags(rate_limits: Option<&RateLimitConfig>) -> Vec<String> {
    let Some(config) = rate_limits else {
        return vec!["--rate-limits".into(), "off".into()];
    };
    let mut flags = vec![
        "--redis-key-prefix".to_owned(),
        config.redis_key_prefix.clone(),
    ];
    for policy in RatePolicy::ALL {
        let limit = config.defaults.get(*policy).limit;
        flags.push(format!("--rate-limit={}={limit}", policy.name()));
    }
    if let Some(url) = &config.redis_url {
        flags.extend(["--redis-url".to_owned(), url.clone()]);
    }
    for proxy in &config.trusted_proxies {
        flags.extend(["--trusted-proxy".to_owned(), proxy.to_string()]);
    }
    flags
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

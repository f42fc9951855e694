//! The `tenantry` binary: zero-config first start, `keys create`, `migrate`, `openapi`, and
//! `serve`'s connection limits and graceful stop.

use std::path::Path;
use std::process::Stdio;

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};

use crate::support::wire::{read_answer, until_closed, GUARD, HEALTHZ};
use crate::support::Client;

/// `tenantry` run in `dir`, with none of its settings taken from this environment.
fn tenantry(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("TENANTRY_LISTEN")
        .env_remove("TENANTRY_MASTER_KEY")
        .env_remove("TENANTRY_MAX_CONNECTIONS")
        .env_remove("TENANTRY_HEADER_READ_TIMEOUT_SECONDS")
        .env_remove("TENANTRY_BODY_TIMEOUT_SECONDS")
        .env_remove("TENANTRY_IDLE_TIMEOUT_SECONDS")
        .env_remove("TENANTRY_DATA_DIR")
        .env_remove("TENANTRY_OBJECT_STORE_URL")
        .env_remove("TENANTRY_SECRET_KEY_FILE")
        .env_remove("TENANTRY_SECRET_KEY")
        .env_remove("TENANTRY_SMTP_URL")
        .env_remove("TENANTRY_EMAIL_FROM")
        .env_remove("TENANTRY_PUBLIC_URL")
        .env_remove("TENANTRY_RATE_LIMITS")
        .env_remove("TENANTRY_RATE_LIMIT_DEFAULTS")
        .env_remove("TENANTRY_REDIS_URL")
        .env_remove("TENANTRY_REDIS_KEY_PREFIX")
        .env_remove("TENANTRY_TRUSTED_PROXIES")
        .env_remove("TENANTRY_ALLOW_PRIVATE_WEBHOOKS")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A running `tenantry serve`; killed when the test ends, whether it passed or not.
struct Server {
    child: Child,
    /// What it printed before it started listening.
    banner: Vec<String>,
    client: reqwest::Client,
    base_url: String,
}

impl Server {
    async fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = tenantry(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .spawn()
            .expect("tenantry starts");
        let mut lines: Lines<BufReader<ChildStdout>> =
            BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut banner = Vec::new();
        loop {
            match lines.next_line().await.expect("read stdout") {
                Some(line) => match line.strip_prefix("tenantry listening on ") {
                    Some(url) => {
                        return Server {
                            base_url: url.to_owned(),
                            child,
                            banner,
                            client: reqwest::Client::new(),
                        };
                    }
                    None => banner.push(line),
                },
                None => {
                    let mut errors = String::new();
                    if let Some(mut stderr) = child.stderr.take() {
                        let _ = stderr.read_to_string(&mut errors).await;
                    }
                    panic!(
                        "tenantry exited before listening:\n{}\n{errors}",
                        banner.join("\n")
                    );
                }
            }
        }
    }

    /// The platform key printed in the banner, if one was.
    fn printed_key(&self) -> Option<String> {
        let keys: Vec<_> = self
            .banner
            .iter()
            .filter_map(|line| line.trim().strip_prefix("TENANTRY_PLATFORM_KEY="))
            .collect();
        assert!(keys.len() <= 1, "one key at most: {:?}", self.banner);
        keys.first().map(|key| (*key).to_owned())
    }

    fn client(&self, key: &str) -> Client {
        crate::support::Client::for_url(self.client.clone(), &self.base_url, key)
    }

    async fn stop(mut self) {
        self.child.kill().await.expect("stop tenantry");
    }
}

#[tokio::test]
async fn first_start_creates_the_database_and_prints_a_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    assert!(
        dir.path().join("tenantry.db").exists(),
        "tenantry.db is created"
    );
    assert!(
        server.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        server.base_url
    );
    let key = server
        .printed_key()
        .unwrap_or_else(|| panic!("no key in {:?}", server.banner));
    let listed = server.client(&key).get("/api/v1/tenants").await;
    listed.assert_status(StatusCode::OK);
    // Rate limits are on by default, in memory.
    assert_eq!(listed.header("x-ratelimit-policy"), Some("api-read-heavy"));
    assert_eq!(listed.header("x-ratelimit-limit"), Some("300"));
    server
        .client("tnty_not-a-key")
        .get("/api/v1/tenants")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    server.stop().await;
    // The SQLite default makes its secret key too, readable by its owner only.
    let key_file = dir.path().join("tenantry-data").join("secret.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file)
            .expect("secret.key is made")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let secret_key = std::fs::read(&key_file).unwrap();

    let again = Server::start(dir.path(), &[]).await;
    assert_eq!(
        std::fs::read(&key_file).unwrap(),
        secret_key,
        "the key is kept"
    );
    assert_eq!(again.printed_key(), None, "a second start prints no key");
    again
        .client(&key)
        .get("/api/v1/plans")
        .await
        .assert_status(StatusCode::OK);
    again.stop().await;
}

#[tokio::test]
async fn serve_on_postgresql_refuses_to_start_without_a_shared_secret_key() {
    let Some(app) = crate::support::TestApp::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = tenantry(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            app.database_url(),
        ])
        .output()
        .await
        .expect("tenantry runs");
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(stderr.contains("--secret-key-file"), "{stderr}");
    assert!(!dir.path().join("tenantry-data").join("secret.key").exists());
    app.finish().await;
}

#[tokio::test]
async fn keys_create_prints_a_usable_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--master-key", "operator-secret"]).await;
    assert_eq!(
        server.printed_key(),
        None,
        "a master key means no printed key"
    );
    let master = server.client("operator-secret");
    master
        .get("/api/v1/plans")
        .await
        .assert_status(StatusCode::OK);

    let output = tenantry(dir.path())
        .args(["keys", "create", "--name", "x"])
        .output()
        .await
        .expect("keys create runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let secret = stdout
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .expect("a secret")
        .to_owned();
    let holder = server.client(&secret);
    holder
        .get("/api/v1/tenants")
        .await
        .assert_status(StatusCode::OK);
    let keys = holder.walk("/api/v1/api-keys").await;
    assert!(
        keys.iter()
            .any(|k| k["name"] == "x" && k["scope"] == "platform"),
        "{keys:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn migrate_creates_the_named_database() {
    let dir = tempfile::tempdir().unwrap();
    let output = tenantry(dir.path())
        .args(["migrate", "--database-url", "sqlite://elsewhere.db"])
        .output()
        .await
        .expect("migrate runs");
    assert!(output.status.success(), "{output:?}");
    assert!(dir.path().join("elsewhere.db").exists());
    assert!(!dir.path().join("tenantry.db").exists());
}

#[tokio::test]
async fn openapi_prints_the_generated_spec() {
    let dir = tempfile::tempdir().unwrap();
    let output = tenantry(dir.path())
        .arg("openapi")
        .output()
        .await
        .expect("openapi runs");
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    let generated = tenantry::http::openapi().to_pretty_json().unwrap();
    assert_eq!(printed.trim_end(), generated.trim_end());
}

#[tokio::test]
async fn serve_applies_its_connection_flags_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        &[
            "--master-key",
            "operator-secret",
            "--header-read-timeout-seconds",
            "1",
            "--max-connections",
            "8",
        ],
    )
    .await;
    let address = server.base_url.trim_start_matches("http://").to_owned();

    // The header deadline given on the command line holds: a silent connection is closed.
    let mut silent = TcpStream::connect(&address).await.expect("connect");
    assert_eq!(until_closed(&mut silent).await, b"");

    // A kept-alive connection does not hold up a stop: the server closes it and exits.
    let mut kept = TcpStream::connect(&address).await.expect("connect");
    kept.write_all(HEALTHZ).await.expect("send a request");
    assert_eq!(read_answer(&mut kept).await.status, 200);
    let pid = server.child.id().expect("a running server").to_string();
    let signalled = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(signalled.success());
    let exited = tokio::time::timeout(GUARD, server.child.wait())
        .await
        .expect("tenantry stops")
        .expect("wait for tenantry");
    assert!(exited.success(), "{exited:?}");
    assert_eq!(until_closed(&mut kept).await, b"");
}

/// Runs `command`, which must fail; returns what it wrote to stderr.
async fn refused_at_start(command: &mut Command) -> String {
    let output = command.output().await.expect("tenantry runs");
    assert!(!output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn bad_mail_settings_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--email-from", "not an address"),
        ("--public-url", "ftp://files.example"),
        ("--public-url", "https://tenantry.example/?next=1"),
        ("--smtp-url", "http://ops:hunter2@mail.example"),
        ("--smtp-url", "smtp://"),
    ] {
        let errors = refused_at_start(tenantry(dir.path()).args(["serve", flag, value])).await;
        assert!(errors.contains(flag), "{flag} {value}: {errors}");
        assert!(
            !errors.contains("hunter2"),
            "the password is repeated: {errors}"
        );
    }
    let errors = refused_at_start(
        tenantry(dir.path())
            .arg("serve")
            .env("TENANTRY_SMTP_URL", "imap://mail.example"),
    )
    .await;
    assert!(errors.contains("--smtp-url"), "{errors}");
    assert!(
        !dir.path().join("tenantry.db").exists(),
        "nothing was started"
    );
}

#[tokio::test]
async fn connection_limits_out_of_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let errors = refused_at_start(
        tenantry(dir.path())
            .arg("serve")
            .env("TENANTRY_MAX_CONNECTIONS", "0"),
    )
    .await;
    assert!(errors.contains("--max-connections"), "{errors}");

    let errors =
        refused_at_start(tenantry(dir.path()).args(["serve", "--body-timeout-seconds", "0"])).await;
    assert!(errors.contains("--body-timeout-seconds"), "{errors}");
    assert!(
        !dir.path().join("tenantry.db").exists(),
        "nothing was started"
    );
}

#[tokio::test]
async fn rate_limit_flags_name_what_is_wrong_and_off_sends_no_headers() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, says) in [
        ("--rate-limit=api-writes=5", "the policies are auth-strict"),
        ("--rate-limit=api-write=0", "from 1 to 10000000"),
        ("--rate-limit=api-write", "POLICY=LIMIT"),
        ("--trusted-proxy=proxy.example", "--trusted-proxy"),
        ("--rate-limits=maybe", "--rate-limits"),
    ] {
        let refused = tenantry(dir.path())
            .args(["serve", flag])
            .output()
            .await
            .expect("serve runs");
        assert!(!refused.status.success(), "{flag}");
        let errors = String::from_utf8_lossy(&refused.stderr);
        assert!(errors.contains(says), "{flag}: {errors}");
    }
    let key = "tenantry-cli-master-key";
    let off = Server::start(dir.path(), &["--rate-limits", "off", "--master-key", key]).await;
    let answer = off.client(key).get("/api/v1/plans").await;
    answer.assert_status(StatusCode::OK);
    assert_eq!(answer.header("x-ratelimit-policy"), None);
    off.stop().await;
    let lowered = Server::start(
        dir.path(),
        &["--rate-limit", "api-read-heavy=1", "--master-key", key],
    )
    .await;
    let client = lowered.client(key);
    assert_eq!(
        client
            .get("/api/v1/plans")
            .await
            .header("x-ratelimit-limit"),
        Some("1")
    );
    client
        .get("/api/v1/plans")
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded");
    lowered.stop().await;
}

//! Command-line interface: subcommands, flags and their environment variables.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::delivery::RetrySchedule;
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::rate_limit::{RateDefaults, RatePolicy, MAX_LIMIT};
use crate::domain::values::HostName;
use crate::http::connection::{
    ConnectionLimits, DEFAULT_BODY_TIMEOUT_SECONDS, DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
    DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_MAX_CONNECTIONS,
};
use crate::http::rate_limit::{RateLimitConfig, DEFAULT_REDIS_KEY_PREFIX};
use crate::outbound::GuardSettings;
use crate::service::email;

#[derive(Debug, Parser)]
#[command(
    name = "tenantry",
    version,
    about = "Tenant control plane for voice-AI agent platforms"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrations run first). Boxed: its flags outweigh the others'.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI document of a dialect (v1 unless told otherwise).
    Openapi {
        /// `v1`, `mrassistant` or `trieve`.
        #[arg(long, default_value = "v1")]
        dialect: String,
    },
    /// Print the permission table: which role may do which action.
    Permissions,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://FILE` (created if missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tenantry.db")]
    pub database_url: String,
}

/// Where stored bytes and the generated secret key live, and which key seals secrets.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Folder for stored files and recordings (without `--object-store-url`) and for the
    /// secret key generated on the SQLite default.
    #[arg(long, env = "TENANTRY_DATA_DIR", default_value = "tenantry-data")]
    pub data_dir: std::path::PathBuf,
    /// Object storage for files and recordings: `s3://bucket/prefix` (credentials and endpoint
    /// from the `AWS_*` variables, so any S3-compatible store works) or `file:///path`.
    /// Default: `<data-dir>/objects`.
    #[arg(long, env = "TENANTRY_OBJECT_STORE_URL")]
    pub object_store_url: Option<String>,
    /// A file of base64 AES-256 keys, one a line, the first current: they seal SIP passwords
    /// and integration secrets.
    #[arg(long, env = "TENANTRY_SECRET_KEY_FILE")]
    pub secret_key_file: Option<std::path::PathBuf>,
    /// The keys themselves, base64, comma-separated, the first current.
    #[arg(
        long = "secret-key",
        env = "TENANTRY_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TENANTRY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// A platform-admin bearer token. Without one, a platform key is created and printed once
    /// on first start.
    #[arg(long, env = "TENANTRY_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Seconds an admitted call keeps its slot without a heartbeat before it expires.
    #[arg(long, env = "TENANTRY_CALL_LEASE_SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(i64).range(1..=86_400))]
    pub call_lease_seconds: i64,
    /// Days a deleted tenant can be restored before it is purged.
    #[arg(long, env = "TENANTRY_DELETION_GRACE_DAYS",
          default_value_t = crate::service::DEFAULT_DELETION_GRACE_DAYS,
          value_parser = clap::value_parser!(i64).range(0..=3_650))]
    pub deletion_grace_days: i64,
    /// Client connections served at once; further ones wait in the listen backlog. Lowered at
    /// start when the open-file limit cannot hold this many.
    #[arg(long, env = "TENANTRY_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Seconds a client has to send a request's headers, from connecting or from the first
    /// byte of a kept-alive connection's next request.
    #[arg(long, env = "TENANTRY_HEADER_READ_TIMEOUT_SECONDS",
          default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub header_read_timeout_seconds: u64,
    /// Seconds a client has to send a request's whole body after its headers; later bodies
    /// are answered 408 and the connection closed.
    #[arg(long, env = "TENANTRY_BODY_TIMEOUT_SECONDS",
          default_value_t = DEFAULT_BODY_TIMEOUT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub body_timeout_seconds: u64,
    /// Seconds a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "TENANTRY_IDLE_TIMEOUT_SECONDS",
          default_value_t = DEFAULT_IDLE_TIMEOUT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub idle_timeout_seconds: u64,
    /// Let webhooks reach loopback, private and link-local addresses, as a receiver on this
    /// machine or network is (tests set it). Without it such destinations are refused.
    // So that the variable may be `1` or `0` too, not only `true` or `false`.
    #[arg(long, env = "TENANTRY_ALLOW_PRIVATE_WEBHOOKS",
          value_parser = clap::builder::FalseyValueParser::new())]
    pub allow_private_webhooks: bool,
    /// The delays before each retry of a failed webhook, as `5s,5m,30m,2h` (units ms, s, m,
    /// h); after the last retry fails the delivery is given up. Each delay gets ±20% jitter.
    #[arg(long, env = "TENANTRY_WEBHOOK_RETRY_SCHEDULE", default_value = DEFAULT_WEBHOOK_RETRIES,
          value_parser = RetrySchedule::parse)]
    pub webhook_retry_schedule: RetrySchedule,
    /// How long an endpoint may fail without a success before it is disabled and its owners
    /// are mailed, as a number with a unit (`120h`).
    #[arg(long, env = "TENANTRY_WEBHOOK_DISABLE_AFTER", default_value = "120h",
          value_parser = parse_duration)]
    pub webhook_disable_after: Duration,
    /// The DNS server every lookup asks (UDP), as `IP:PORT` or an IP (port 53), instead of
    /// the system's resolver configuration: webhook destinations and custom domains' CNAMEs.
    #[arg(long, env = "TENANTRY_DNS_SERVER", value_parser = parse_dns_server)]
    pub dns_server: Option<SocketAddr>,
    /// The host name agencies point their custom domains' CNAME at, as their consoles reach
    /// tenantry (docs/WHITE_LABEL.md). Default: the host of `--public-url`.
    #[arg(long, env = "TENANTRY_WHITE_LABEL_CNAME_TARGET", value_parser = parse_host_name)]
    pub white_label_cname_target: Option<HostName>,
    #[command(flatten)]
    pub email: EmailArgs,
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
}

/// Request-rate limits (docs/RATE_LIMITS.md).
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// `off` leaves request rates to a gateway in front of tenantry: no limits, no headers.
    #[arg(long = "rate-limits", env = "TENANTRY_RATE_LIMITS", value_enum,
          default_value_t = Switch::On)]
    pub switch: Switch,
    /// A policy's budget where no plan or tenant sets one, as `POLICY=LIMIT` (`api-write=100`);
    /// repeatable, or comma-separated in the variable.
    #[arg(long = "rate-limit", env = "TENANTRY_RATE_LIMIT_DEFAULTS", value_delimiter = ',',
          value_parser = parse_rate_limit)]
    pub defaults: Vec<(RatePolicy, i64)>,
    /// Share rate-limit budgets between replicas through this Redis (`redis://host:6379/0`).
    /// When it is unreachable each server limits on its own and logs it.
    #[arg(long, env = "TENANTRY_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// The prefix of the budgets' keys in Redis; servers with the same prefix share budgets.
    #[arg(long, env = "TENANTRY_REDIS_KEY_PREFIX", default_value = DEFAULT_REDIS_KEY_PREFIX)]
    pub redis_key_prefix: String,
    /// A proxy (an IP address) whose `X-Forwarded-For` names the client, for limits kept per
    /// client address; repeatable, or comma-separated in the variable.
    #[arg(
        long = "trusted-proxy",
        env = "TENANTRY_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl RateLimitArgs {
    /// The limits to serve with, or `None` when they are off.
    pub fn config(&self) -> Option<RateLimitConfig> {
        if self.switch == Switch::Off {
            return None;
        }
        let defaults = self
            .defaults
            .iter()
            .fold(RateDefaults::default(), |defaults, (policy, limit)| {
                defaults.with(*policy, *limit)
            });
        Some(RateLimitConfig {
            defaults,
            redis_url: self.redis_url.clone(),
            redis_key_prefix: self.redis_key_prefix.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
        })
    }
}

/// Standard Webhooks' retry delays.
const DEFAULT_WEBHOOK_RETRIES: &str = "5s,5m,30m,2h,5h,10h,10h";

fn parse_duration(text: &str) -> Result<Duration, String> {
    RetrySchedule::parse(text).and_then(|schedule| match schedule.0.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!("`{text}` is not one duration")),
    })
}

/// `IP:PORT`, or an IP for DNS's port 53.
fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("`{text}` is not IP:PORT or an IP address"))
}

fn parse_host_name(text: &str) -> Result<HostName, String> {
    HostName::parse(text).map_err(|problem| format!("`{text}` {}", problem.message))
}

/// The CNAME target when neither the flag nor `--public-url` names a host.
pub const FALLBACK_CNAME_TARGET: &str = "tenantry.localhost";

fn parse_rate_limit(text: &str) -> Result<(RatePolicy, i64), String> {
    let (name, limit) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not POLICY=LIMIT"))?;
    let policy = RatePolicy::from_name(name.trim()).ok_or_else(|| {
        let names: Vec<_> = RatePolicy::ALL.iter().map(|p| p.name()).collect();
        format!("no policy `{name}`; the policies are {}", names.join(", "))
    })?;
    let limit = limit
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| {
            format!("the limit of {name} must be a whole number from 1 to {MAX_LIMIT}")
        })?;
    Ok((policy, limit))
}

/// Where mail goes, who it is from, and where its links point.
#[derive(Debug, Clone, Args)]
pub struct EmailArgs {
    /// The SMTP server mail is sent through: `smtp://HOST:PORT` (plain),
    /// `smtp://HOST:PORT?tls=required` (STARTTLS) or `smtps://HOST:PORT`, with
    /// `USER:PASSWORD@` before the host to log in. Without it, mail is written to the log
    /// (recipient and subject) and kept in the outbox until a server with SMTP sends it.
    #[arg(long, env = "TENANTRY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every mail: `Name <address>` or a bare address.
    #[arg(long, env = "TENANTRY_EMAIL_FROM", default_value = email::DEFAULT_FROM)]
    pub email_from: lettre::message::Mailbox,
    /// Where clients reach tenantry (`https://tenantry.example.com`); links in mail start with
    /// it. Default: `http://` and the listen address (`localhost` for 0.0.0.0 or [::]).
    #[arg(long, env = "TENANTRY_PUBLIC_URL", value_parser = email::parse_public_url)]
    pub public_url: Option<url::Url>,
}

impl ServeArgs {
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections as usize,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
            body_timeout: Duration::from_secs(self.body_timeout_seconds),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
        }
    }

    /// What webhook delivery builds its destination guard from.
    pub fn webhook_destinations(&self) -> GuardSettings {
        GuardSettings {
            allow_private: self.allow_private_webhooks,
            nameserver: self.dns_server,
        }
    }

    /// The name custom domains must be CNAMEs of: the flag's, else the host of
    /// `--public-url`, else [`FALLBACK_CNAME_TARGET`] (`false`: no real name was given).
    pub fn cname_target(&self) -> (HostName, bool) {
        if let Some(target) = &self.white_label_cname_target {
            return (target.clone(), true);
        }
        let public_host = self
            .email
            .public_url
            .as_ref()
            .and_then(|url| url.host_str());
        match public_host.and_then(|host| HostName::parse(host).ok()) {
            Some(host) => (host, true),
            None => (
                HostName::parse(FALLBACK_CNAME_TARGET).expect("a host name"),
                false,
            ),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret once: a platform key by default, an agency key with
    /// `--agency-id`, a tenant key with `--tenant-id`.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, conflicts_with = "tenant_id")]
        agency_id: Option<AgencyId>,
        #[arg(long)]
        tenant_id: Option<TenantId>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Seal every stored secret under a new key, while servers run: a new key is written
    /// first in the key file (the old ones stay after it, for reading), servers seal with it
    /// from their next secret on, and every secret stored is re-sealed under it. With keys in
    /// TENANTRY_SECRET_KEY, put the new key first and pass `--reseal-only`.
    RotateSecret {
        /// Keep the keys as they are; re-seal what is not under the current one.
        #[arg(long)]
        reseal_only: bool,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(flags: &[&str]) -> ServeArgs {
        let line = ["tenantry", "serve"].iter().chain(flags);
        match Cli::try_parse_from(line).expect("valid flags").command {
            Command::Serve(args) => *args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn private_webhook_destinations_are_refused_unless_the_flag_allows_them() {
        let default = serve_args(&[]).webhook_destinations();
        let allowed = serve_args(&["--allow-private-webhooks"]).webhook_destinations();
        assert!(!default.allow_private);
        assert!(allowed.allow_private);
        assert_eq!(allowed.nameserver, None);
    }

    #[test]
    fn the_dns_server_flag_reaches_webhook_destinations() {
        let asked = serve_args(&["--dns-server", "127.0.0.1:5353"]).webhook_destinations();
        assert_eq!(asked.nameserver, Some("127.0.0.1:5353".parse().unwrap()));
        let port_53 = serve_args(&["--dns-server", "10.0.0.2"]).webhook_destinations();
        assert_eq!(port_53.nameserver, Some("10.0.0.2:53".parse().unwrap()));
        let line = ["tenantry", "serve", "--dns-server", "dns.example.com"];
        assert!(Cli::try_parse_from(line).is_err());
    }

    #[test]
    fn the_cname_target_is_the_flags_else_the_public_urls_host() {
        let named = serve_args(&["--white-label-cname-target", "edge.example.com"]);
        assert_eq!(named.cname_target().0.as_str(), "edge.example.com");
        let public = serve_args(&["--public-url", "https://console.example.com"]);
        assert_eq!(
            public.cname_target(),
            (HostName::parse("console.example.com").unwrap(), true)
        );
        let (fallback, given) =
            serve_args(&["--public-url", "http://127.0.0.1:8080"]).cname_target();
        assert_eq!((fallback.as_str(), given), (FALLBACK_CNAME_TARGET, false));
        let line = [
            "tenantry",
            "serve",
            "--white-label-cname-target",
            "Edge.Example.com",
        ];
        assert!(Cli::try_parse_from(line).is_err());
    }
}

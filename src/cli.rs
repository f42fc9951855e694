//! Command-line interface: subcommands, flags and their environment variables.

use clap::{Args, Parser, Subcommand};

use crate::domain::ids::{AgencyId, TenantId};

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
    /// Run the HTTP server (migrations run first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://FILE` (created if missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tenantry.db")]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TENANTRY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// A platform-admin bearer token. Without one, a platform key is created and printed once
    /// on first start.
    #[arg(long, env = "TENANTRY_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Seconds an admitted call keeps its slot without a heartbeat before it expires.
    #[arg(long, env = "TENANTRY_CALL_LEASE_SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(i64).range(1..=86_400))]
    pub call_lease_seconds: i64,
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
}

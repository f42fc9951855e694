//! The `tenantry` binary: parses the command line and starts the requested command.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use tenantry::cli::{Cli, Command, KeysCommand};
use tenantry::domain::access::Scope;
use tenantry::server;
use tenantry::store::api_keys;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Log lines are written by a background thread, off the request path; when its buffer is
    // full, callers wait rather than lose lines. The guard flushes what is left on exit.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(writer)
        .init();
    match cli.command {
        Command::Serve(args) => server::serve(&args, server::shutdown_signal()).await,
        Command::Migrate(database) => {
            server::open_database(&database.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys(KeysCommand::Create {
            name,
            agency_id,
            tenant_id,
            database,
        }) => {
            let db = server::open_database(&database.database_url).await?;
            let holder = match (agency_id, tenant_id) {
                (Some(agency_id), _) => Scope::Agency(agency_id),
                (None, Some(tenant_id)) => Scope::Tenant(tenant_id),
                (None, None) => Scope::Platform,
            };
            let (key, secret) = api_keys::create(&db, &name, holder).await?;
            let kind: &str = key.owner.kind().into();
            println!(
                "{kind} key {} created. Its secret is shown only once:",
                key.id
            );
            println!("{secret}");
            Ok(())
        }
        Command::Openapi { dialect } => {
            let document = tenantry::http::documents()
                .into_iter()
                .find(|(name, _, _)| *name == dialect)
                .map(|(_, _, document)| document)
                .ok_or_else(|| {
                    anyhow::anyhow!("no dialect {dialect:?}: v1, mrassistant or trieve")
                })?;
            println!("{}", document.to_pretty_json()?);
            Ok(())
        }
        Command::Permissions => {
            print!("{}", tenantry::domain::policy::permission_table());
            Ok(())
        }
    }
}

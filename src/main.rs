//! The `tenantry` binary: parses the command line and starts the requested command.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use tenantry::cli::{Cli, Command, DatabaseArgs, KeysCommand, StorageArgs};
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
            let holder = match (agency_id, tenant_id) {
                (Some(agency_id), _) => Scope::Agency(agency_id),
                (None, Some(tenant_id)) => Scope::Tenant(tenant_id),
                (None, None) => Scope::Platform,
            };
            create_key(&database, &name, holder).await
        }
        Command::Keys(KeysCommand::RotateSecret {
            reseal_only,
            database,
            storage,
        }) => rotate_secret(&database, &storage, reseal_only).await,
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

/// `tenantry keys create`: a key of the holder's level, its secret printed once.
async fn create_key(database: &DatabaseArgs, name: &str, holder: Scope) -> anyhow::Result<()> {
    let db = server::open_database(&database.database_url).await?;
    let live = tenantry::domain::api_key::KeyEnvironment::Live;
    let (key, secret) = api_keys::create(&db, name, holder, Default::default(), live).await?;
    let kind: &str = key.owner.kind().into();
    println!(
        "{kind} key {} created. Its secret is shown only once:",
        key.id
    );
    println!("{secret}");
    Ok(())
}

/// `tenantry keys rotate-secret`: a new key in the key file (unless `reseal_only`), then
/// every stored secret re-sealed under the current key.
async fn rotate_secret(
    database: &DatabaseArgs,
    storage: &StorageArgs,
    reseal_only: bool,
) -> anyhow::Result<()> {
    let db = server::open_database(&database.database_url).await?;
    let (keyring, _) = server::open_storage(storage, &db)?;
    let mut keys = keyring.current();
    if !reseal_only {
        let path = keyring.file().ok_or_else(|| {
            anyhow::anyhow!(
                "keys from TENANTRY_SECRET_KEY cannot be rotated here: put the new key \
                 first and run again with --reseal-only"
            )
        })?;
        keys = std::sync::Arc::new(tenantry::secrets::rotate_key_file(&path)?);
        println!(
            "new secret key {} written to {}",
            keys.current.id(),
            path.display()
        );
    }
    let report = tenantry::service::secrets::reseal_until_settled(&db, &keys).await?;
    println!(
        "{} resources and {} other rows hold secrets: {} re-sealed under key {}, {} were already, \
         {} changed meanwhile, {} unreadable",
        report.resources,
        report.rows,
        report.resealed,
        keys.current.id(),
        report.current,
        report.changed_meanwhile,
        report.unreadable
    );
    if report.unreadable > 0 {
        anyhow::bail!(
            "{} stored secrets open with no key of the keyring",
            report.unreadable
        );
    }
    Ok(())
}

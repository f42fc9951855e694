//! Starting the service: database, bootstrap key, background jobs and the HTTP listener with
//! its connection limits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::blobs::BlobStore;
use crate::cli::{EmailArgs, ServeArgs, StorageArgs};
use crate::domain::access::Scope;
use crate::domain::api_key::KeyEnvironment;
use crate::http::connection::{serve_connection, ConnectionLimits};
use crate::http::rate_limit::RateLimits;
use crate::http::{app, AppState};
use crate::outbound::{DestinationGuard, Sender};
use crate::secrets::{KeySource, LiveKeyring};
use crate::service::custom_domains::DomainSettings;
use crate::service::email::{self, EmailSettings, Mailer};
use crate::service::Context;
use crate::store::{api_keys, Backend, Db};
use crate::workers;

/// Connects and migrates the database named by `url`.
pub async fn open_database(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url).await?;
    db.migrate().await?;
    Ok(db)
}

/// The keyring that seals secrets and the store of files and recordings. A key is generated
/// only on SQLite: replicas on PostgreSQL must share one, so they are told to pass it.
pub fn open_storage(args: &StorageArgs, db: &Db) -> anyhow::Result<(Arc<LiveKeyring>, BlobStore)> {
    let source = KeySource::choose(
        args.secret_key_file.clone(),
        args.secret_key.clone(),
        &args.data_dir,
        db.backend() == Backend::Sqlite,
    )?;
    let keyring = LiveKeyring::load(source.clone())?;
    let blobs = BlobStore::open(args.object_store_url.as_deref(), &args.data_dir)?;
    let key_id = keyring.current().current.id().to_owned();
    tracing::info!(
        ?source,
        key_id,
        blobs = blobs.description(),
        "storage ready"
    );
    Ok((Arc::new(keyring), blobs))
}

/// Creates and prints a platform key when none exists and no master key is configured, so a
/// fresh install can be used at once.
async fn bootstrap_platform_key(db: &Db, master_key: Option<&str>) -> anyhow::Result<()> {
    if master_key.is_some() || api_keys::count_platform_keys(db).await? > 0 {
        return Ok(());
    }
    let (key, secret) = api_keys::create(
        db,
        "bootstrap",
        Scope::Platform,
        Default::default(),
        KeyEnvironment::Live,
    )
    .await?;
    println!("==================================================================");
    println!(
        " tenantry created a platform API key ({}). It is shown only once:",
        key.id
    );
    println!();
    println!("   TENANTRY_PLATFORM_KEY={secret}");
    println!();
    println!(" Use it as: Authorization: Bearer <key>");
    println!("==================================================================");
    Ok(())
}

/// The SMTP sender of `--smtp-url`, or `None` when mail is only logged and kept.
pub fn open_mailer(args: &EmailArgs) -> anyhow::Result<Option<Mailer>> {
    let Some(url) = args.smtp_url.as_deref() else {
        tracing::info!("no --smtp-url: mail is logged and kept in the outbox, not sent");
        return Ok(None);
    };
    let mailer = Mailer::new(url, args.email_from.clone())?;
    tracing::info!(from = %args.email_from, "mail is sent by SMTP");
    Ok(Some(mailer))
}

/// The mail settings of `args`; links point at `listening` unless `--public-url` says where
/// clients reach this server.
pub fn email_settings(args: &EmailArgs, listening: std::net::SocketAddr) -> EmailSettings {
    let public_url = match &args.public_url {
        Some(url) => url.clone(),
        None => {
            let url = email::default_public_url(listening);
            tracing::info!(%url, "no --public-url: links in mail point at the listen address");
            url
        }
    };
    EmailSettings::new(args.smtp_url.clone(), args.email_from.clone(), public_url)
}

/// How this server delivers webhooks.
fn delivery_settings(args: &ServeArgs) -> anyhow::Result<workers::DeliverySettings> {
    let guard = DestinationGuard::new(args.webhook_destinations())?;
    Ok(workers::DeliverySettings {
        sender: Sender::new(guard)?,
        schedule: args.webhook_retry_schedule.clone(),
        disable_after: chrono::Duration::from_std(args.webhook_disable_after)?,
    })
}

/// How this server verifies custom domains.
fn domain_settings(args: &ServeArgs) -> anyhow::Result<DomainSettings> {
    let (target, given) = args.cname_target();
    if given {
        tracing::info!(cname_target = %target, "custom domains are CNAMEs of this name");
    } else {
        tracing::warn!(
            cname_target = %target,
            "neither --white-label-cname-target nor --public-url names a host: custom domains \
             cannot be verified until one does"
        );
    }
    DomainSettings::new(target, args.dns_server)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = fit_to_open_file_limit(args.connection_limits());
    // A bad --smtp-url stops the start before anything is opened.
    let mailer = open_mailer(&args.email)?;
    let db = open_database(&args.database.database_url).await?;
    // Refuse to start, before listening, without a key to seal secrets with.
    let (keyring, blobs) = open_storage(&args.storage, &db)?;
    bootstrap_platform_key(&db, args.master_key.as_deref()).await?;
    let listener = TcpListener::bind(&args.listen).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = db.backend_name(), "tenantry listening");
    println!("tenantry listening on http://{address}");
    if args.webhook_destinations().allow_private {
        tracing::warn!("--allow-private-webhooks: webhooks may reach private addresses");
    }
    let delivery = delivery_settings(args)?;
    let domains = domain_settings(args)?;
    let lease = chrono::Duration::seconds(args.call_lease_seconds);
    let ctx = Context {
        db: db.clone(),
        call_lease: lease,
        deletion_grace: chrono::Duration::days(args.deletion_grace_days),
        keyring,
        blobs,
        email: Arc::new(email_settings(&args.email, address)),
        mail_waiting: Arc::default(),
        domains: Arc::new(domains),
    };
    let jobs = [
        tokio::spawn(workers::purge_idempotency_records(db.clone())),
        tokio::spawn(workers::purge_people_records(db.clone())),
        tokio::spawn(workers::enforce_retention(ctx.clone())),
        tokio::spawn(workers::purge_deleted_tenants(ctx.clone())),
        tokio::spawn(workers::expire_transfers(ctx.clone())),
        tokio::spawn(workers::reactivate_suspended_tenants(ctx.clone())),
        tokio::spawn(workers::delete_queued_blobs(ctx.clone())),
        tokio::spawn(workers::reap_expired_calls(db.clone(), lease)),
        tokio::spawn(workers::deliver_mail(ctx.clone(), mailer)),
        tokio::spawn(workers::purge_old_mail(db.clone())),
        tokio::spawn(workers::deliver_webhooks(ctx.clone(), delivery)),
        tokio::spawn(workers::purge_old_events(db.clone())),
        tokio::spawn(workers::verify_custom_domains(ctx.clone())),
    ];
    let mut state = AppState::new(ctx, args.master_key.as_deref());
    match args.rate_limits.config() {
        Some(config) => {
            state = state.with_rate_limits(RateLimits::new(&config)?);
            tracing::info!(
                shared_through_redis = config.redis_url.is_some(),
                "rate limits on"
            );
        }
        None => tracing::info!("rate limits off"),
    }
    serve_connections(listener, app(state), &limits, shutdown).await;
    for job in jobs {
        job.abort();
    }
    db.close().await;
    Ok(())
}

/// File descriptors kept for what is not a client connection: the listener, the database
/// pools (at most 16 connections), SQLite's files, logs and standard streams.
const RESERVED_FILE_DESCRIPTORS: u64 = 128;

/// Raises the soft open-file limit to the hard limit, then lowers the connection cap if even
/// that cannot hold it: a process out of descriptors cannot even answer `/healthz`.
fn fit_to_open_file_limit(mut limits: ConnectionLimits) -> ConnectionLimits {
    let open_files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(open_files) => open_files,
        Err(error) => {
            tracing::warn!(%error, "could not raise the open-file limit");
            return limits;
        }
    };
    let fits = open_files.saturating_sub(RESERVED_FILE_DESCRIPTORS).max(1);
    let fits = usize::try_from(fits).unwrap_or(usize::MAX);
    if fits < limits.max_connections {
        tracing::warn!(
            open_files,
            configured = limits.max_connections,
            max_connections = fits,
            "the open-file limit holds fewer connections than configured; serving fewer"
        );
        limits.max_connections = fits;
    }
    tracing::info!(
        open_files,
        max_connections = limits.max_connections,
        "connection limits"
    );
    limits
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits for
/// the open connections to finish their requests.
///
/// At most `limits.max_connections` connections are served at once. Further ones are not
/// accepted until one closes: they wait in the kernel's listen backlog, where a client sees a
/// slow connect rather than an error, and a load balancer's health check is not refused.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: &ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = serve_connection(stream, router.clone(), *limits, graceful.watcher());
        tokio::spawn(async move {
            connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A failed accept: the client gave up (try the next one), or the process is out of
/// descriptors or memory (wait, rather than spin on the error).
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed by the call, not at the first
/// poll: a SIGTERM that arrives while the server is still starting must stop it gracefully,
/// not kill it.
#[cfg(unix)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let received = |installed: std::io::Result<tokio::signal::unix::Signal>| async move {
            match installed {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                // Without the handler the signal keeps its default action.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            () = received(interrupt) => {},
            () = received(terminate) => {},
        }
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

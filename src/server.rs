//! Starting the service: database, bootstrap key, background jobs and the HTTP listener.

use std::future::Future;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;
use crate::http::{app, AppState};
use crate::store::Db;
use crate::workers;

/// Connects and migrates the database named by `url`.
pub async fn open_database(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url).await?;
    db.migrate().await?;
    Ok(db)
}

/// Creates and prints a platform key when none exists and no master key is configured, so a
/// fresh install can be used at once.
async fn bootstrap_platform_key(db: &Db, master_key: Option<&str>) -> anyhow::Result<()> {
    if master_key.is_some() || db.count_platform_keys().await? > 0 {
        return Ok(());
    }
    let (key, secret) = db
        .create_api_key(
            "bootstrap",
            crate::domain::api_key::KeyScope::Platform,
            None,
            None,
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

/// Serves until `shutdown` resolves.
pub async fn serve(
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = open_database(&args.database.database_url).await?;
    bootstrap_platform_key(&db, args.master_key.as_deref()).await?;
    let listener = TcpListener::bind(&args.listen).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = db.backend_name(), "tenantry listening");
    println!("tenantry listening on http://{address}");
    let lease = chrono::Duration::seconds(args.call_lease_seconds);
    let jobs = [
        tokio::spawn(workers::purge_idempotency_records(db.clone())),
        tokio::spawn(workers::reap_expired_calls(db.clone(), lease)),
    ];
    let state = AppState::new(db.clone(), args.master_key.as_deref()).with_call_lease(lease);
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    for job in jobs {
        job.abort();
    }
    db.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

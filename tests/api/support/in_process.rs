//! A tenantry server inside the test process: the HTTP listener of the binary
//! (`serve_connections`) and, when the settings ask for it, the mail worker. A test's own
//! server is one; [`Replica`] is another on the same database, as a second replica would be.

use std::path::Path;
use std::sync::Arc;

use tenantry::domain::values::HostName;
use tenantry::http::rate_limit::RateLimits;
use tenantry::http::AppState;
use tenantry::service::custom_domains::DomainSettings;
use tenantry::service::email::EmailSettings;
use tenantry::service::Context;
use tenantry::store::Db;
use tokio::task::JoinHandle;

use super::{Settings, TestApp};

/// A running server; its tasks stop when it is dropped.
pub(super) struct InProcess {
    pub address: std::net::SocketAddr,
    pub ctx: Context,
    tasks: Vec<JoinHandle<()>>,
}

impl InProcess {
    pub async fn start(db: &Db, data_dir: &Path, master_key: &str, settings: &Settings) -> Self {
        let (keyring, blobs) = super::open_storage(data_dir, db);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let address = listener.local_addr().expect("a local address");
        let (email, mailer) = super::mail::email_settings(settings, address);
        let ctx = Context {
            db: db.clone(),
            call_lease: settings.call_lease,
            deletion_grace: chrono::Duration::days(tenantry::service::DEFAULT_DELETION_GRACE_DAYS),
            keyring,
            blobs,
            email: Arc::new(email),
            mail_waiting: Arc::default(),
            domains: Arc::new(domain_settings(settings)),
        };
        let state = AppState::new(ctx.clone(), Some(master_key));
        let state = match &settings.rate_limits {
            Some(config) => state.with_rate_limits(RateLimits::new(config).expect("rate limits")),
            None => state,
        };
        let router = tenantry::http::app(state);
        let connections = settings.connections;
        let mut tasks = vec![tokio::spawn(async move {
            let forever = std::future::pending();
            tenantry::server::serve_connections(listener, router, &connections, forever).await;
        })];
        if settings.mail.is_some() {
            tasks.push(tokio::spawn(tenantry::workers::deliver_mail(
                ctx.clone(),
                mailer,
            )));
        }
        if let Some(worker) = &settings.webhooks {
            let guard =
                tenantry::outbound::DestinationGuard::new(tenantry::outbound::GuardSettings {
                    allow_private: worker.allow_private,
                    nameserver: Some(settings.dns_server),
                })
                .expect("a destination guard");
            let delivery = tenantry::workers::DeliverySettings {
                sender: tenantry::outbound::Sender::new(guard).expect("a webhook sender"),
                schedule: worker.schedule.clone(),
                disable_after: worker.disable_after,
            };
            tasks.push(tokio::spawn(tenantry::workers::deliver_webhooks(
                ctx.clone(),
                delivery,
            )));
        }
        InProcess {
            address,
            ctx,
            tasks,
        }
    }

    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How the server verifies custom domains: against the test's CNAME target, through the
/// test's DNS server.
fn domain_settings(settings: &Settings) -> DomainSettings {
    let target = HostName::parse(&settings.cname_target).expect("a CNAME target");
    DomainSettings::new(target, Some(settings.dns_server)).expect("domain settings")
}

/// Another server on a test's database, with pools of its own.
pub struct Replica {
    server: InProcess,
    db: Db,
}

impl TestApp {
    /// Starts another server on this test's database, with `settings`.
    pub async fn replica(&self, settings: Settings) -> Replica {
        let db = tenantry::server::open_database(self.database_url())
            .await
            .expect("open the database again");
        let server = InProcess::start(&db, self.data_dir(), self.master_key(), &settings).await;
        Replica { server, db }
    }
}

impl Replica {
    /// What this server's mail is from and where its links point.
    pub fn email(&self) -> &EmailSettings {
        &self.server.ctx.email
    }

    /// Wakes this server's mail worker, as a use case does after its commit.
    pub fn mail_sent_soon(&self) {
        self.server.ctx.mail_sent_soon();
    }

    /// Stops the server and closes its pools.
    pub async fn stop(self) {
        self.server.stop();
        self.db.close().await;
    }
}

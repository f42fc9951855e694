//! Mail stories reach below the API, since no route sends mail yet: they enqueue mail in a
//! transaction on the test's database, as a use case would, and read the outbox's delivery
//! records. [`Settings::smtp`] runs the server's mail worker against a [`SmtpServer`].

use std::time::Duration;

use tenantry::domain::email::{Letter, Mail};
use tenantry::domain::ids::{EmailId, TenantId};
use tenantry::service::email::{EmailSettings, Mailer, RetrySchedule, DEFAULT_FROM};
use tenantry::store::outbox::{self, Delivery};
use tenantry::store::{StoreError, Tx};

use super::smtp::SmtpServer;
use super::{Database, Settings};

/// The mail worker a test's server runs.
#[derive(Debug, Clone)]
pub struct MailWorker {
    /// Where it sends; `None`: it logs and keeps mail, as `serve` without `--smtp-url` does.
    pub smtp_url: Option<String>,
}

/// Retries and looks for other servers' mail come quickly in the stories.
const QUICK_RETRY: Duration = Duration::from_millis(100);
const QUICK_POLL: Duration = Duration::from_millis(100);

impl Settings {
    /// A server whose mail worker sends to `server`, retrying within a fraction of a second.
    pub fn smtp(server: &SmtpServer) -> Settings {
        Settings {
            mail: Some(MailWorker {
                smtp_url: Some(server.url()),
            }),
            ..Settings::default()
        }
    }

    /// A server whose mail worker runs without SMTP.
    pub fn mail_without_smtp() -> Settings {
        Settings {
            mail: Some(MailWorker { smtp_url: None }),
            ..Settings::default()
        }
    }

    /// The same, with links in mail under `url` (`--public-url`).
    pub fn public_url(self, url: &str) -> Settings {
        Settings {
            public_url: Some(url.to_owned()),
            ..self
        }
    }
}

/// The mail settings and the sender of a server listening on `address`.
pub(super) fn email_settings(
    settings: &Settings,
    address: std::net::SocketAddr,
) -> (EmailSettings, Option<Mailer>) {
    let from: lettre::message::Mailbox = DEFAULT_FROM.parse().expect("the default sender");
    let public_url = match &settings.public_url {
        Some(url) => tenantry::service::email::parse_public_url(url).expect("a public URL"),
        None => tenantry::service::email::default_public_url(address),
    };
    let smtp_url = settings
        .mail
        .as_ref()
        .and_then(|mail| mail.smtp_url.clone());
    let mailer = smtp_url
        .as_deref()
        .map(|url| Mailer::new(url, from.clone()).expect("a usable SMTP URL"));
    let mut email = EmailSettings::new(smtp_url, from, public_url);
    email.retry = RetrySchedule {
        delays: vec![QUICK_RETRY; 5],
    };
    email.poll = QUICK_POLL;
    (email, mailer)
}

/// A branded invitation to `to` whose button links to `link`.
pub fn invitation(to: &str, brand: &str, link: &str) -> Mail {
    let paragraphs = [format!("{brand} invites you to manage your voice agents.")];
    Mail::branded(
        to,
        &Letter {
            brand,
            subject: "You are invited",
            greeting: "Hello,",
            paragraphs: &paragraphs,
            action: Some(("Accept the invitation", link)),
            footer: "You get this mail because someone invited you.",
        },
    )
    .expect("a valid recipient")
}

fn tenant_id(tenant: &str) -> TenantId {
    tenant.parse().expect("a tenant id")
}

impl Database {
    /// A write transaction on the test's database.
    pub async fn begin(&self) -> Tx {
        self.store().begin().await.expect("begin a transaction")
    }

    /// The brand of `tenant`'s mail, read as a use case would.
    pub async fn brand_of(&self, tenant: &str) -> String {
        let mut tx = self.begin().await;
        let brand = outbox::brand_of(&mut tx, tenant_id(tenant))
            .await
            .expect("read the brand");
        tx.commit().await.expect("commit");
        brand
    }

    /// Enqueues `mail` in a committed transaction of its own; nothing wakes a worker.
    pub async fn enqueue_mail(&self, tenant: Option<&str>, mail: &Mail) -> EmailId {
        let mut tx = self.begin().await;
        let id = outbox::enqueue(&mut tx, mail, tenant.map(tenant_id))
            .await
            .expect("enqueue the mail");
        tx.commit().await.expect("commit the mail");
        id
    }

    /// The outbox's record of mail `id`, or `None` if there is none.
    pub async fn delivery(&self, id: EmailId) -> Option<Delivery> {
        match outbox::get(self.store(), id).await {
            Ok(delivery) => Some(delivery),
            Err(StoreError::NotFound) => None,
            Err(error) => panic!("read the outbox: {error:?}"),
        }
    }

    /// Reads mail `id`'s record until `done` holds for it: a worker records an outcome in a
    /// transaction of its own, just after the SMTP server answered.
    pub async fn delivery_when(&self, id: EmailId, done: impl Fn(&Delivery) -> bool) -> Delivery {
        eventually(|| async {
            let delivery = self.delivery(id).await.expect("the mail is in the outbox");
            done(&delivery).then_some(delivery)
        })
        .await
    }

    /// How many mails are neither sent nor given up.
    pub async fn pending_mail(&self) -> i64 {
        outbox::count_pending(self.store())
            .await
            .expect("count the outbox")
    }

    /// Waits until no mail is pending: every mail is sent or given up.
    pub async fn until_no_mail_pending(&self) {
        eventually(|| async { (self.pending_mail().await == 0).then_some(()) }).await
    }
}

/// Asks `probe` until it answers: for what a background worker records in its own time.
pub async fn eventually<T, F, Fut>(mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    loop {
        if let Some(answer) = probe().await {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

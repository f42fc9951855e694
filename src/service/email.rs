//! Mail: where links point, who mail is from, how it reaches SMTP and when a failed attempt
//! is tried again. Use cases enqueue mail with `store::outbox::enqueue` in their own
//! transaction, then call [`Context::mail_sent_soon`] after the commit; [`send_now`] does all
//! three for mail that goes with no other change. The worker (`workers::deliver_mail`) sends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::Rng;
use url::Url;

use super::{Context, Result};
use crate::domain::email::{parse_mailbox, Mail};
use crate::domain::ids::{EmailId, TenantId};
use crate::store::outbox;

/// The sender when `--email-from` is not given.
pub const DEFAULT_FROM: &str = "tenantry <no-reply@localhost>";

/// How mail is sent and what it links to.
#[derive(Clone)]
pub struct EmailSettings {
    /// `--smtp-url`; without it mail is logged and kept in the outbox.
    pub smtp_url: Option<String>,
    pub from: Mailbox,
    /// Where tenantry is reached from outside; links in mail start with it.
    pub public_url: Url,
    pub retry: RetrySchedule,
    /// How often the worker looks for mail enqueued by other replicas; mail enqueued by this
    /// process wakes it at once.
    pub poll: Duration,
}

/// How often a worker looks for other replicas' mail, by default.
pub const DEFAULT_POLL: Duration = Duration::from_secs(5);

impl EmailSettings {
    pub fn new(smtp_url: Option<String>, from: Mailbox, public_url: Url) -> EmailSettings {
        EmailSettings {
            smtp_url,
            from,
            public_url,
            retry: RetrySchedule::default(),
            poll: DEFAULT_POLL,
        }
    }

    /// An absolute link to `path_and_query` (which starts with `/`) under the public URL,
    /// keeping the public URL's own path: `https://example.com/tenantry` and
    /// `/invitations/x` make `https://example.com/tenantry/invitations/x`.
    pub fn link(&self, path_and_query: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        let rest = path_and_query.trim_start_matches('/');
        format!("{base}/{rest}")
    }
}

/// The public URL when `--public-url` is not given: the address the server listens on, with
/// `localhost` for an address that listens on every interface.
pub fn default_public_url(listening: std::net::SocketAddr) -> Url {
    let host = if listening.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        match listening.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        }
    };
    Url::parse(&format!("http://{host}:{}/", listening.port())).expect("a URL of an address")
}

/// `--public-url`: an absolute `http` or `https` URL, without query or fragment.
pub fn parse_public_url(text: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(text).map_err(|error| format!("not an absolute URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or a fragment: links are built under it".to_owned());
    }
    Ok(url)
}

/// When a mail whose attempt failed is tried again: each delay once, in order, give or take a
/// fifth so that mail refused together is not retried together; then the mail is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    /// 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 6 h, 8 h: nine attempts over about a day.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        RetrySchedule {
            delays: vec![
                Duration::from_secs(30),
                minutes(2),
                minutes(10),
                minutes(60),
                minutes(3 * 60),
                minutes(6 * 60),
                minutes(6 * 60),
                minutes(8 * 60),
            ],
        }
    }
}

impl RetrySchedule {
    /// How many attempts a mail gets in all: the first, and one after each delay.
    pub fn attempts_allowed(&self) -> i64 {
        self.delays.len() as i64 + 1
    }

    /// When to try again after the `attempts`-th attempt failed at `at`; `None`: give up.
    pub fn after(&self, attempts: i64, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
        let delay = self.delays.get(index)?;
        let jittered = delay.mul_f64(rand::thread_rng().gen_range(0.8..=1.2));
        Some(at + chrono::Duration::from_std(jittered).ok()?)
    }
}

/// How long one mail may take to hand to the SMTP server, whatever it does.
pub const SEND_DEADLINE: Duration = Duration::from_secs(60);
/// How long one SMTP command may wait for an answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends mail to the SMTP server of `--smtp-url`, keeping connections open between mails.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why an attempt failed, and whether trying again could help.
#[derive(Debug, Clone)]
pub struct SendFailure {
    /// The SMTP server refused the mail for good (a 5xx answer), or it cannot be made.
    pub permanent: bool,
    pub reason: String,
}

impl Mailer {
    /// A mailer for `smtp_url`: `smtp://host:port` (plain, for a relay on loopback),
    /// `smtp://host?tls=required` (STARTTLS), `smtps://host` (TLS from the first byte), with
    /// `user:password@` for authentication. Refused at start when lettre cannot use the URL;
    /// the message never repeats the URL, which may hold a password.
    pub fn new(smtp_url: &str, from: Mailbox) -> anyhow::Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|error| {
                anyhow::anyhow!(
                    "--smtp-url cannot be used ({error}); use smtp://HOST:PORT, \
                     smtp://HOST:PORT?tls=required or smtps://HOST:PORT, with USER:PASSWORD@ \
                     before the host to log in"
                )
            })?
            .timeout(Some(COMMAND_TIMEOUT))
            .build();
        Ok(Mailer { transport, from })
    }

    /// Hands `mail` to the SMTP server as a text and HTML alternative. Its `Message-ID` is
    /// made of its outbox id, so a mail sent twice (its worker died after sending) is one
    /// message to the receiving side.
    pub async fn send(&self, id: EmailId, mail: &Mail) -> std::result::Result<(), SendFailure> {
        let message = self.message(id, mail).map_err(|reason| SendFailure {
            permanent: true,
            reason,
        })?;
        match tokio::time::timeout(SEND_DEADLINE, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(SendFailure {
                permanent: error.is_permanent(),
                reason: error.to_string(),
            }),
            Err(_) => Err(SendFailure {
                permanent: false,
                reason: format!("the SMTP server took more than {SEND_DEADLINE:?}"),
            }),
        }
    }

    fn message(&self, id: EmailId, mail: &Mail) -> std::result::Result<Message, String> {
        let to = parse_mailbox(&mail.to).map_err(|error| error.to_string())?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|error| format!("the mail cannot be made: {error}"))
    }
}

impl Context {
    /// Wakes this process's mail worker: call it after committing a transaction that
    /// enqueued mail. Other replicas find the mail on their next look.
    pub fn mail_sent_soon(&self) {
        self.mail_waiting.notify_one();
    }
}

/// Enqueues `mail` in a transaction of its own and wakes the worker: for mail that goes with
/// no other change. Mail about a change is enqueued in the change's own transaction instead.
pub async fn send_now(ctx: &Context, tenant: Option<TenantId>, mail: &Mail) -> Result<EmailId> {
    let mut tx = ctx.db.begin().await?;
    let id = outbox::enqueue(&mut tx, mail, tenant).await?;
    tx.commit().await?;
    ctx.mail_sent_soon();
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public_url: &str) -> EmailSettings {
        EmailSettings::new(
            None,
            DEFAULT_FROM.parse().expect("the default sender parses"),
            parse_public_url(public_url).expect("a public URL"),
        )
    }

    #[test]
    fn links_keep_the_public_urls_path() {
        let root = settings("https://tenantry.example");
        assert_eq!(
            root.link("/invitations/abc?x=1"),
            "https://tenantry.example/invitations/abc?x=1"
        );
        let nested = settings("https://example.com/tenantry/");
        assert_eq!(
            nested.link("/invitations/abc"),
            "https://example.com/tenantry/invitations/abc"
        );
        assert_eq!(
            settings("https://example.com/tenantry").link("invitations/abc"),
            "https://example.com/tenantry/invitations/abc"
        );
    }

    #[test]
    fn public_urls_are_absolute_http_without_query() {
        for bad in [
            "example.com",
            "/relative",
            "ftp://example.com",
            "https://example.com/?a=1",
            "https://example.com/#top",
            "mailto:a@b.c",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
        assert!(parse_public_url("http://127.0.0.1:8080").is_ok());
    }

    #[test]
    fn the_default_public_url_is_the_listen_address() {
        let url = |text: &str| default_public_url(text.parse().unwrap()).to_string();
        assert_eq!(url("127.0.0.1:8080"), "http://127.0.0.1:8080/");
        assert_eq!(url("0.0.0.0:9000"), "http://localhost:9000/");
        assert_eq!(url("[::1]:8080"), "http://[::1]:8080/");
        assert_eq!(url("[::]:8080"), "http://localhost:8080/");
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_then_give_up() {
        let schedule = RetrySchedule::default();
        let at = crate::store::now();
        for (n, delay) in schedule.delays.iter().enumerate() {
            let attempts = n as i64 + 1;
            for _ in 0..50 {
                let next = schedule.after(attempts, at).expect("a retry");
                let waited = (next - at).to_std().unwrap();
                assert!(waited >= delay.mul_f64(0.8) && waited <= delay.mul_f64(1.2));
            }
        }
        let total: Duration = schedule.delays.iter().sum();
        assert!(total > Duration::from_secs(22 * 3600) && total < Duration::from_secs(26 * 3600));
        assert_eq!(schedule.attempts_allowed(), 9);
        assert_eq!(schedule.after(schedule.attempts_allowed(), at), None);
        assert_eq!(schedule.after(0, at), None);
    }

    // The connection pool of a mailer runs on the runtime it is made in.
    #[tokio::test]
    async fn smtp_urls_lettre_cannot_use_are_refused_without_repeating_them() {
        let from: Mailbox = DEFAULT_FROM.parse().unwrap();
        for good in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.example.com:587?tls=required",
            "smtps://user:secret@mail.example.com",
        ] {
            assert!(Mailer::new(good, from.clone()).is_ok(), "{good}");
        }
        for bad in [
            "http://user:hunter2@mail.example.com",
            "smtp://",
            "not a url",
        ] {
            let refused = Mailer::new(bad, from.clone()).err().expect(bad).to_string();
            assert!(refused.contains("--smtp-url"), "{refused}");
            assert!(!refused.contains("hunter2"), "{refused}");
        }
    }
}

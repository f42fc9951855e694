//! The mail outbox across real `tenantry serve` processes: replicas on one database send each
//! mail once; without `--smtp-url` each mail is logged once, never with its body; a server
//! killed with mail pending leaves it for the next one.

use std::collections::HashSet;

use tenantry::domain::ids::EmailId;

use crate::both;
use crate::support::mail::invitation;
use crate::support::process::{Replicas, Served};
use crate::support::smtp::SmtpServer;
use crate::support::Database;

const MAILS: usize = 60;

fn recipient(n: usize) -> String {
    format!("user{n}@acme.example")
}

/// Enqueues mails to recipients `range`, each with a secret link of its own.
async fn enqueue(db: &Database, range: std::ops::Range<usize>) -> Vec<EmailId> {
    let mut ids = Vec::new();
    for n in range {
        let link = format!("https://tenantry.example/invitations/secret-token-{n}");
        ids.push(
            db.enqueue_mail(None, &invitation(&recipient(n), "tenantry", &link))
                .await,
        );
    }
    ids
}

/// Waits until a server without SMTP has logged each of `ids`.
async fn until_logged(db: &Database, ids: &[EmailId]) {
    for id in ids {
        db.delivery_when(*id, |d| d.logged_at.is_some()).await;
    }
}

/// Every recipient in `0..count` got exactly one message, and no one else got any.
fn assert_each_received_once(smtp: &SmtpServer, count: usize) {
    let received = smtp.received();
    let recipients: Vec<String> = received
        .iter()
        .flat_map(|message| message.rcpt_to.clone())
        .collect();
    let distinct: HashSet<&String> = recipients.iter().collect();
    assert_eq!(recipients.len(), count, "one message each: {recipients:?}");
    let expected: Vec<String> = (0..count).map(recipient).collect();
    assert_eq!(distinct, expected.iter().collect::<HashSet<_>>());
}

both!(
    three_servers_on_one_database_send_each_mail_once,
    |app| async move {
        let smtp = SmtpServer::start().await;
        let db = app.db();
        enqueue(&db, 0..MAILS / 2).await;
        let url = smtp.url();
        let replicas = Replicas::start_with(&app, &["--smtp-url", &url]).await;
        // The rest arrive while all three claim.
        enqueue(&db, MAILS / 2..MAILS).await;

        smtp.wait_for(MAILS).await;
        db.until_no_mail_pending().await;
        // A mail is sent only under a claim, and none is claimed once sent: all that will
        // ever be sent has arrived.
        assert_each_received_once(&smtp, MAILS);
        replicas.kill().await;
    }
);

both!(
    without_smtp_each_mail_is_logged_once_and_never_its_body,
    |app| async move {
        let (a, b) = tokio::join!(
            Served::start_with(&app, "info", &[]),
            Served::start_with(&app, "info", &[])
        );
        let db = app.db();
        let ids = enqueue(&db, 0..20).await;
        until_logged(&db, &ids).await;
        assert_eq!(db.pending_mail().await, 20, "logged mail is kept");
        let logs = format!("{}\n{}", a.stop().await, b.stop().await);

        assert!(
            logs.contains("no --smtp-url: mail is logged and kept"),
            "{logs}"
        );
        for (n, id) in ids.iter().enumerate() {
            let lines: Vec<&str> = logs
                .lines()
                .filter(|line| line.contains(&id.to_string()))
                .collect();
            assert_eq!(lines.len(), 1, "{id} is logged once: {lines:?}");
            assert!(lines[0].contains(&recipient(n)), "{}", lines[0]);
            assert!(lines[0].contains("You are invited"), "{}", lines[0]);
        }
        assert!(!logs.contains("secret-token"), "a body was logged:\n{logs}");
    }
);

both!(
    a_server_killed_with_mail_pending_leaves_it_to_the_next,
    |app| async move {
        let db = app.db();
        let holder = Served::start(&app).await;
        let ids = enqueue(&db, 0..20).await;
        until_logged(&db, &ids).await;
        holder.kill().await;
        assert_eq!(db.pending_mail().await, 20);

        let smtp = SmtpServer::start().await;
        let url = smtp.url();
        let sender = Served::start_with(&app, "warn", &["--smtp-url", &url]).await;
        smtp.wait_for(20).await;
        db.until_no_mail_pending().await;
        assert_each_received_once(&smtp, 20);
        sender.kill().await;
    }
);

//! The mail outbox: mail enqueued in a transaction goes out only if it commits, reaches a real
//! SMTP server with a text and an HTML part, is retried after a temporary refusal and given up
//! after a permanent one, and waits in the outbox, logged once, while no SMTP is configured.
//! No route sends mail yet, so the stories enqueue it in a transaction on the test's database,
//! as a use case does, and a server with a mail worker (a replica of the test's) sends it.

use tenantry::domain::ids::TenantId;
use tenantry::store::outbox::{self, Delivery};

use crate::both;
use crate::support::mail::invitation;
use crate::support::smtp::{link_starting_with, SmtpServer};
use crate::support::Settings;

fn sent(delivery: &Delivery) -> bool {
    delivery.sent_at.is_some()
}

both!(
    a_committed_mail_arrives_with_both_parts_the_brand_and_the_link,
    |app| async move {
        let smtp = SmtpServer::start().await;
        let public = "https://tenantry.example/console";
        let sender = app.replica(Settings::smtp(&smtp).public_url(public)).await;
        let agency = app.agency().name("Northwind <Voice> & Co").create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let tenant_id: TenantId = tenant.id.parse().unwrap();
        let link = sender
            .email()
            .link("/invitations/inv-token-123?step=accept");
        assert_eq!(
            link,
            "https://tenantry.example/console/invitations/inv-token-123?step=accept"
        );

        let db = app.db();
        let mut tx = db.begin().await;
        let brand = outbox::brand_of(&mut tx, tenant_id).await.unwrap();
        let mail = invitation("Jane Smith <jane@acme.example>", &brand, &link);
        let id = outbox::enqueue(&mut tx, &mail, Some(tenant_id))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        sender.mail_sent_soon();

        let message = smtp.wait_for(1).await.remove(0);
        assert_eq!(message.mail_from, "no-reply@localhost");
        assert_eq!(message.rcpt_to, ["jane@acme.example"]);
        assert_eq!(
            message.header("Subject").as_deref(),
            Some("You are invited")
        );
        let message_id = message.header("Message-ID").expect("a Message-ID");
        assert!(message_id.contains(&id.to_string()), "{message_id}");
        let parts = message.parts();
        assert!(
            parts.text.contains("Northwind <Voice> & Co"),
            "{}",
            parts.text
        );
        assert!(
            parts.html.contains("Northwind &lt;Voice&gt; &amp; Co"),
            "{}",
            parts.html
        );
        assert_eq!(link_starting_with(&parts.text, public), Some(link.clone()));
        assert_eq!(link_starting_with(&parts.html, public), Some(link));

        let delivered = db.delivery_when(id, sent).await;
        assert_eq!(delivered.attempts, 1);
        assert_eq!(delivered.tenant_id, Some(tenant_id));
        assert_eq!(delivered.last_error, None);
        assert_eq!(smtp.received().len(), 1);
        let metrics = app.anonymous().get("/metrics").await;
        assert!(
            metrics.text.contains("tenantry_emails_sent_total"),
            "{}",
            metrics.text
        );
        sender.stop().await;
    }
);

both!(
    a_tenant_of_no_agency_gets_the_default_brand,
    |app| async move {
        let tenant = app.tenant().create().await;
        assert_eq!(app.db().brand_of(&tenant.id).await, "tenantry");
    }
);

both!(
    a_rolled_back_transaction_leaves_no_mail_and_sends_none,
    |app| async move {
        let smtp = SmtpServer::start().await;
        let sender = app.replica(Settings::smtp(&smtp)).await;
        let db = app.db();
        let mut tx = db.begin().await;
        let gone = invitation("gone@acme.example", "tenantry", "http://x.example/a");
        let rolled_back = outbox::enqueue(&mut tx, &gone, None).await.unwrap();
        drop(tx);
        sender.mail_sent_soon();
        assert!(db.delivery(rolled_back).await.is_none());

        // A later mail goes out alone: the worker never had the first one to send.
        let kept = invitation("kept@acme.example", "tenantry", "http://x.example/b");
        let kept = db.enqueue_mail(None, &kept).await;
        sender.mail_sent_soon();
        db.delivery_when(kept, sent).await;
        assert_eq!(db.pending_mail().await, 0);
        let received = smtp.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].rcpt_to, ["kept@acme.example"]);
        sender.stop().await;
    }
);

both!(
    a_temporary_refusal_is_retried_and_delivered_once,
    |app| async move {
        let smtp = SmtpServer::start().await;
        smtp.refuse_next(2);
        let sender = app.replica(Settings::smtp(&smtp)).await;
        let db = app.db();
        let mail = invitation("retry@acme.example", "tenantry", "http://x.example/r");
        let id = db.enqueue_mail(None, &mail).await;
        sender.mail_sent_soon();

        let delivered = db.delivery_when(id, sent).await;
        assert_eq!(smtp.refused(), 2);
        assert_eq!(delivered.attempts, 3, "two refusals, then the delivery");
        assert_eq!(delivered.last_error, None);
        assert_eq!(delivered.failed_at, None);

        // Nothing else goes out for it: a later mail is the second and last to arrive.
        let later = invitation("later@acme.example", "tenantry", "http://x.example/l");
        let later = db.enqueue_mail(None, &later).await;
        sender.mail_sent_soon();
        db.delivery_when(later, sent).await;
        let recipients: Vec<_> = smtp
            .received()
            .into_iter()
            .map(|message| message.rcpt_to)
            .collect();
        assert_eq!(recipients, [["retry@acme.example"], ["later@acme.example"]]);
        sender.stop().await;
    }
);

both!(a_permanent_refusal_gives_up_at_once, |app| async move {
    let smtp = SmtpServer::start().await;
    smtp.reject_recipient("nobody@acme.example");
    let sender = app.replica(Settings::smtp(&smtp)).await;
    let db = app.db();
    let mail = invitation("nobody@acme.example", "tenantry", "http://x.example/n");
    let id = db.enqueue_mail(None, &mail).await;
    sender.mail_sent_soon();

    let failed = db.delivery_when(id, |d| d.failed_at.is_some()).await;
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.sent_at, None);
    let error = failed.last_error.expect("the refusal is kept");
    assert!(error.contains("550"), "{error}");
    assert_eq!(db.pending_mail().await, 0);
    assert!(smtp.received().is_empty());
    sender.stop().await;
});

both!(
    without_smtp_mail_is_kept_and_a_later_server_with_smtp_sends_it,
    |app| async move {
        let holder = app.replica(Settings::mail_without_smtp()).await;
        let db = app.db();
        let mail = invitation("later@acme.example", "tenantry", "http://x.example/k");
        let id = db.enqueue_mail(None, &mail).await;
        holder.mail_sent_soon();
        let held = db.delivery_when(id, |d| d.logged_at.is_some()).await;
        assert_eq!(held.sent_at, None);
        assert_eq!(held.failed_at, None);
        assert_eq!(held.attempts, 0, "no attempt without SMTP");
        assert_eq!(db.pending_mail().await, 1);
        holder.stop().await;

        let smtp = SmtpServer::start().await;
        let sender = app.replica(Settings::smtp(&smtp)).await;
        let message = smtp.wait_for(1).await.remove(0);
        assert_eq!(message.rcpt_to, ["later@acme.example"]);
        let delivered = db.delivery_when(id, sent).await;
        assert_eq!(delivered.attempts, 1);
        sender.stop().await;
    }
);

both!(
    a_lapsed_claim_is_claimed_again_and_its_holder_records_nothing,
    |app| async move {
        let db = app.db();
        let mail = invitation("lease@acme.example", "tenantry", "http://x.example/z");
        let id = db.enqueue_mail(None, &mail).await;
        let lease = chrono::Duration::minutes(15);
        let at = tenantry::store::now();

        let first = outbox::claim(db.store(), at, 10, lease).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].id, first[0].attempts), (id, 1));
        let during = at + chrono::Duration::minutes(14);
        assert!(outbox::claim(db.store(), during, 10, lease)
            .await
            .unwrap()
            .is_empty());

        // Its worker died: once the lease ends, another worker takes the mail.
        let after = at + chrono::Duration::minutes(16);
        let second = outbox::claim(db.store(), after, 10, lease).await.unwrap();
        assert_eq!((second[0].id, second[0].attempts), (id, 2));
        assert!(!outbox::mark_sent(db.store(), &first[0], after)
            .await
            .unwrap());
        assert!(outbox::mark_sent(db.store(), &second[0], after)
            .await
            .unwrap());
        let delivered = db.delivery(id).await.unwrap();
        assert_eq!(delivered.sent_at, Some(after));
        let later = after + chrono::Duration::hours(1);
        assert!(outbox::claim(db.store(), later, 10, lease)
            .await
            .unwrap()
            .is_empty());
    }
);

//! Background work: expiring calls whose data plane vanished, sending the mail outbox and
//! webhooks, retention, purging deleted tenants and the bytes of deleted rows, purging old
//! idempotency records, mail and login records, and verifying custom domains. Every job is
//! safe to run on all replicas at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::domain::delivery::RetrySchedule;
use crate::domain::ids::WebhookEndpointId;
use crate::store::deliveries;

use crate::service::email::{Mailer, SendFailure};
use crate::service::Context;
use crate::store::outbox::{self, NextAttempt};
use crate::store::{calls, idempotency, now, sessions, Db};

/// How many expired calls one pass handles before looking again.
const REAP_BATCH: i64 = 500;

/// Ends calls whose lease ran out, so a crashed data plane cannot hold a slot for ever.
pub async fn reap_expired_calls(db: Db, lease: chrono::Duration) {
    // Look a few times per lease, so a slot is free soon after its lease ends.
    let every = (lease / 4).to_std().unwrap_or(Duration::from_secs(1));
    let mut tick =
        tokio::time::interval(every.clamp(Duration::from_secs(1), Duration::from_secs(15)));
    loop {
        tick.tick().await;
        loop {
            match calls::expire(&db, now(), REAP_BATCH).await {
                Ok(expired) => {
                    if expired > 0 {
                        metrics::counter!("tenantry_calls_expired_total").increment(expired);
                        tracing::info!(expired, "expired calls whose lease ran out");
                    }
                    if expired < REAP_BATCH as u64 {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = ?error, "call reaper failed");
                    break;
                }
            }
        }
    }
}

/// Deletes call details, raw usage events and recordings past each tenant's retention, once
/// an hour, and logs each run.
pub async fn enforce_retention(ctx: crate::service::Context) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match crate::service::retention::sweep(&ctx, now()).await {
            Ok(swept) => tracing::info!(
                calls = swept.calls,
                recordings = swept.recordings,
                events = swept.events,
                "retention run"
            ),
            Err(error) => tracing::warn!(error = ?error, "retention run failed"),
        }
    }
}

/// How often each server looks for deleted tenants past their grace period.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Purges deleted tenants whose `purgeAfter` has passed, at start and every
/// [`PURGE_EVERY`]; each in a transaction of its own, claimed so that replicas share the work.
pub async fn purge_deleted_tenants(ctx: Context) {
    purge_every(
        "deleted tenants past their grace period",
        PURGE_EVERY,
        || crate::service::lifecycle::purge_due(&ctx, now()),
    )
    .await
}

/// Marks pending transfers past their expiry as expired (and tells of it), every minute.
pub async fn expire_transfers(ctx: Context) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match crate::service::transfers::expire_due(&ctx, now()).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "transfers expired"),
            Err(error) => tracing::warn!(error = ?error, "expiring transfers failed"),
        }
    }
}

/// Reactivates tenants an alert's `suspend` deactivated once a new period has begun, every
/// minute: a suspended tenant comes back at most a minute (plus one pass) after midnight UTC
/// on the period's first day.
pub async fn reactivate_suspended_tenants(ctx: Context) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match crate::service::lifecycle::reactivate_suspended(&ctx, now()).await {
            Ok(0) => {}
            Ok(reactivated) => tracing::info!(reactivated, "suspended tenants reactivated"),
            Err(error) => tracing::warn!(error = ?error, "reactivating suspended tenants failed"),
        }
    }
}

/// Deletes the stored bytes queued with the deletion of their rows, at start and every
/// minute: what a crash or a failing store left behind after the commit.
pub async fn delete_queued_blobs(ctx: Context) {
    purge_every("queued bytes", Duration::from_secs(60), || {
        crate::service::blobs::delete_queued(&ctx)
    })
    .await
}

/// Deletes expired sessions and reset links, and failed logins older than a lockout window.
pub async fn purge_people_records(db: Db) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let at = now();
        match sessions::purge(&db, at, at - crate::domain::user::LOCKOUT_WINDOW).await {
            Ok(purged) if purged > 0 => tracing::info!(purged, "purged expired login records"),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = ?error, "login record purge failed"),
        }
    }
}

/// Deletes idempotency records past their retention.
pub async fn purge_idempotency_records(db: Db) {
    purge_every("old idempotency records", Duration::from_secs(600), || {
        idempotency::purge(&db, now() - idempotency::RETENTION)
    })
    .await
}

/// Deletes mail sent or given up more than [`MAIL_RETENTION`] ago.
pub async fn purge_old_mail(db: Db) {
    purge_every("old mail", Duration::from_secs(3600), || {
        outbox::purge(&db, now() - MAIL_RETENTION)
    })
    .await
}

/// Events and done deliveries are kept this long, for the deliveries list and replays.
pub const EVENT_RETENTION: chrono::Duration = chrono::Duration::days(30);

/// Deletes events and done webhook deliveries older than [`EVENT_RETENTION`], hourly.
pub async fn purge_old_events(db: Db) {
    purge_every(
        "old events and deliveries",
        Duration::from_secs(3600),
        || deliveries::purge(&db, now() - EVENT_RETENTION),
    )
    .await
}

/// Looks up the CNAME of pending custom domains due for it, every minute, each domain
/// every [`RECHECK_EVERY`](crate::service::custom_domains::RECHECK_EVERY) at most, and
/// verifies those that point at the target.
pub async fn verify_custom_domains(ctx: Context) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    // A pass slowed by an unanswering DNS server is not followed by a burst of others.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::service::custom_domains::check_due(&ctx, now()).await {
            Ok(0) => {}
            Ok(verified) => tracing::info!(verified, "custom domains verified"),
            Err(error) => tracing::warn!(error = ?error, "checking custom domains failed"),
        }
    }
}

/// Runs `purge` every `every`, the first time at once, logging what it deleted.
async fn purge_every<F, Fut, E>(what: &str, every: Duration, purge: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: std::fmt::Debug,
{
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match purge().await {
            Ok(purged) if purged > 0 => tracing::info!(purged, "purged {what}"),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = ?error, "purging {what} failed"),
        }
    }
}

/// How many mails one claim takes. They are sent one after another, each within
/// `SEND_DEADLINE`, so the lease below outlasts the whole batch.
const MAIL_BATCH: i64 = 10;
/// How long a claim holds its mails: a worker that dies mid-batch leaves them due again then.
const MAIL_LEASE: chrono::Duration = chrono::Duration::minutes(15);
/// Sent and given-up mail is kept this long, then deleted.
pub const MAIL_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// Sends the outbox's due mail through `mailer`, or, without one, logs each pending mail once
/// and keeps it for a server that has SMTP. Runs on every replica: each mail is claimed by one
/// worker at a time. Wakes on [`Context::mail_sent_soon`], when a retry falls due, and every
/// [`EmailSettings::poll`] for mail other replicas enqueued.
///
/// [`EmailSettings::poll`]: crate::service::email::EmailSettings::poll
pub async fn deliver_mail(ctx: Context, mailer: Option<Mailer>) {
    loop {
        let wait = match &mailer {
            Some(mailer) => send_due_mail(&ctx, mailer).await,
            None => log_held_mail(&ctx).await,
        };
        tokio::select! {
            () = ctx.mail_waiting.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends every mail due now; returns how long to wait before looking again.
async fn send_due_mail(ctx: &Context, mailer: &Mailer) -> Duration {
    loop {
        let claimed = match outbox::claim(&ctx.db, now(), MAIL_BATCH, MAIL_LEASE).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = ?error, "claiming mail failed");
                return ctx.email.poll;
            }
        };
        for mail in &claimed {
            send_one(ctx, mailer, mail).await;
        }
        if (claimed.len() as i64) < MAIL_BATCH {
            break;
        }
    }
    match outbox::next_due(&ctx.db).await {
        // A mail due already is held by another replica's claim in flight, which moves it.
        Ok(Some(due)) => (due - now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(MIN_MAIL_WAIT, ctx.email.poll),
        Ok(None) => ctx.email.poll,
        Err(error) => {
            tracing::warn!(error = ?error, "reading the outbox failed");
            ctx.email.poll
        }
    }
}

/// The shortest wait between two looks at the outbox, so that mail another replica is about
/// to claim is not polled in a tight loop.
const MIN_MAIL_WAIT: Duration = Duration::from_millis(50);

/// One attempt at one claimed mail, and its outcome recorded.
#[tracing::instrument(skip_all, fields(email_id = %claimed.id, attempt = claimed.attempts))]
async fn send_one(ctx: &Context, mailer: &Mailer, claimed: &outbox::Claimed) {
    let outcome = if claimed.attempts > ctx.email.retry.attempts_allowed() {
        // Earlier claims lapsed unrecorded: their workers died, perhaps on this very mail.
        Err(SendFailure {
            permanent: true,
            reason: "no attempt left: earlier claims lapsed unrecorded".to_owned(),
        })
    } else {
        mailer.send(claimed.id, &claimed.mail).await
    };
    let at = now();
    let recorded = match &outcome {
        Ok(()) => {
            metrics::counter!("tenantry_emails_sent_total").increment(1);
            outbox::mark_sent(&ctx.db, claimed, at).await
        }
        Err(failure) => {
            let retry = match failure.permanent {
                true => None,
                false => ctx.email.retry.after(claimed.attempts, at),
            };
            let next = match retry {
                Some(retry) => {
                    metrics::counter!("tenantry_email_retries_total").increment(1);
                    tracing::info!(reason = %failure.reason, %retry, "mail not sent; will retry");
                    NextAttempt::At(retry)
                }
                None => {
                    metrics::counter!("tenantry_emails_failed_total").increment(1);
                    tracing::warn!(
                        reason = %failure.reason,
                        permanent = failure.permanent,
                        recipient = %claimed.mail.to,
                        "mail given up"
                    );
                    NextAttempt::GiveUp(at)
                }
            };
            outbox::mark_failed(&ctx.db, claimed, &failure.reason, next).await
        }
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::warn!("the mail's claim lapsed before its outcome was recorded"),
        Err(error) => tracing::warn!(error = ?error, "recording a mail's outcome failed"),
    }
}

/// Without SMTP: logs each pending mail once, recipient and subject only (a body may hold a
/// secret link), and keeps it pending. Returns how long to wait before looking again.
async fn log_held_mail(ctx: &Context) -> Duration {
    loop {
        match outbox::take_unlogged(&ctx.db, now(), MAIL_BATCH).await {
            Ok(held) => {
                for mail in &held {
                    tracing::info!(
                        email_id = %mail.id,
                        recipient = %mail.recipient,
                        subject = %mail.subject,
                        "no --smtp-url: mail kept in the outbox, unsent"
                    );
                }
                if (held.len() as i64) < MAIL_BATCH {
                    return ctx.email.poll;
                }
            }
            Err(error) => {
                tracing::warn!(error = ?error, "reading the outbox failed");
                return ctx.email.poll;
            }
        }
    }
}

/// How webhook deliveries are attempted.
#[derive(Clone)]
pub struct DeliverySettings {
    pub sender: crate::outbound::Sender,
    pub schedule: RetrySchedule,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: chrono::Duration,
}

/// Attempts in flight on one server at once.
const WEBHOOKS_IN_FLIGHT: usize = 256;
/// Attempts in flight to one endpoint at once: a receiver that hangs ties up no more.
const WEBHOOKS_PER_ENDPOINT: usize = 32;
/// An endpoint with attempts in flight is claimed for once this many slots are free: claims
/// are write transactions, and one per finished attempt would crowd SQLite's single writer.
const WEBHOOK_CLAIM_AT: usize = WEBHOOKS_PER_ENDPOINT / 2;
/// How long the recorder gathers outcomes before writing them, for the same reason.
const OUTCOME_LINGER: Duration = Duration::from_millis(10);
/// How often an idle worker looks for due deliveries (other replicas' and new events').
const WEBHOOK_POLL: Duration = Duration::from_millis(200);
/// Outcomes recorded in one transaction at most.
const OUTCOME_BATCH: usize = 512;

/// Delivers due webhooks: claims them (any number of replicas may run this), attempts each
/// concurrently, at most [`WEBHOOKS_PER_ENDPOINT`] to one endpoint, and records outcomes in
/// batches. Runs for the life of the server.
pub async fn deliver_webhooks(ctx: Context, settings: DeliverySettings) {
    let (outcomes, received) = tokio::sync::mpsc::channel(OUTCOME_BATCH * 2);
    tokio::spawn(record_webhook_outcomes(
        ctx.clone(),
        received,
        settings.disable_after,
    ));
    let worker = WebhookWorker {
        ctx,
        settings,
        outcomes,
        permits: Arc::new(Semaphore::new(WEBHOOKS_IN_FLIGHT)),
        in_flight: Arc::default(),
        finished: Arc::default(),
    };
    loop {
        // Wait for room; then look again as soon as an attempt ends, or after a while.
        drop(worker.permits.clone().acquire_owned().await);
        if worker.claim_round().await == 0 {
            tokio::select! {
                () = worker.finished.notified() => {}
                () = tokio::time::sleep(WEBHOOK_POLL) => {}
            }
        }
    }
}

/// One server's webhook worker: its room, and the attempts it has in flight per endpoint.
struct WebhookWorker {
    ctx: Context,
    settings: DeliverySettings,
    outcomes: tokio::sync::mpsc::Sender<deliveries::Outcome>,
    permits: Arc<Semaphore>,
    in_flight: Arc<Mutex<HashMap<WebhookEndpointId, usize>>>,
    /// Told when an attempt ends, so that its endpoint's next delivery goes at once.
    finished: Arc<tokio::sync::Notify>,
}

impl WebhookWorker {
    /// Claims what there is room for and starts it; answers how many started. An endpoint
    /// with attempts in flight is asked for exactly its free slots; the others together for
    /// one endpoint's share, so that no claim takes more of one endpoint than it may attempt.
    async fn claim_round(&self) -> usize {
        let busy: Vec<(WebhookEndpointId, usize)> = self
            .in_flight
            .lock()
            .expect("in-flight map")
            .iter()
            .map(|(id, count)| (*id, *count))
            .collect();
        let mut started = 0;
        for &(endpoint, count) in &busy {
            let free = WEBHOOKS_PER_ENDPOINT - count.min(WEBHOOKS_PER_ENDPOINT);
            let room = free.min(self.permits.available_permits());
            if room >= WEBHOOK_CLAIM_AT {
                started += self
                    .claim(room, deliveries::Endpoints::Only(endpoint))
                    .await;
            }
        }
        let room = WEBHOOKS_PER_ENDPOINT.min(self.permits.available_permits());
        if room > 0 {
            let skip: Vec<WebhookEndpointId> = busy.iter().map(|(id, _)| *id).collect();
            started += self.claim(room, deliveries::Endpoints::Except(&skip)).await;
        }
        started
    }

    async fn claim(&self, room: usize, endpoints: deliveries::Endpoints<'_>) -> usize {
        let claimed = match deliveries::claim(&self.ctx.db, now(), room as i64, endpoints).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = ?error, "claiming webhook deliveries failed");
                return 0;
            }
        };
        let mut no_room = Vec::new();
        let mut started = 0;
        for delivery in claimed {
            match self.start(delivery).await {
                Ok(()) => started += 1,
                Err(delivery) => no_room.push(delivery),
            }
        }
        if !no_room.is_empty() {
            // Only when an endpoint's count moved under the claim; due again at once.
            let handed_back: Vec<&deliveries::Claimed> = no_room.iter().collect();
            if let Err(error) = deliveries::release(&self.ctx.db, &handed_back).await {
                tracing::warn!(error = ?error, "handing back webhook deliveries failed");
            }
        }
        started
    }

    /// Starts the attempt of a claimed delivery, if its endpoint has a free slot.
    async fn start(&self, delivery: deliveries::Claimed) -> Result<(), deliveries::Claimed> {
        let admitted = {
            let mut counts = self.in_flight.lock().expect("in-flight map");
            let count = counts.entry(delivery.endpoint_id).or_default();
            (*count < WEBHOOKS_PER_ENDPOINT)
                .then(|| *count += 1)
                .is_some()
        };
        if !admitted {
            return Err(delivery);
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let attempt = attempt_webhook(self.ctx.clone(), self.settings.clone(), delivery);
        let (outcomes, in_flight) = (self.outcomes.clone(), self.in_flight.clone());
        let finished = self.finished.clone();
        tokio::spawn(async move {
            let outcome = attempt.await;
            let endpoint = outcome.claimed.endpoint_id;
            // Recorded before the slot frees, so a claim never overtakes its record.
            let _ = outcomes.send(outcome).await;
            {
                let mut counts = in_flight.lock().expect("in-flight map");
                if let Some(count) = counts.get_mut(&endpoint) {
                    *count -= 1;
                    if *count == 0 {
                        counts.remove(&endpoint);
                    }
                }
            }
            drop(permit);
            finished.notify_one();
        });
        Ok(())
    }
}

/// One attempt and what follows it by the schedule.
async fn attempt_webhook(
    ctx: Context,
    settings: DeliverySettings,
    claimed: deliveries::Claimed,
) -> deliveries::Outcome {
    let attempt = match crate::service::deliveries::secrets(&ctx, &claimed) {
        Ok(secrets) => {
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            settings.sender.attempt(&claimed, &secrets).await
        }
        Err(error) => {
            tracing::error!(error = ?error, "a webhook endpoint's secret cannot be opened");
            crate::domain::delivery::Attempt {
                id: crate::domain::ids::WebhookAttemptId::generate(),
                delivery_id: claimed.id,
                attempt: claimed.attempts,
                attempted_at: now(),
                status_code: None,
                latency_ms: 0,
                response: None,
                error: Some("the signing secret cannot be opened".to_owned()),
            }
        }
    };
    let next = if attempt.succeeded() {
        metrics::counter!("tenantry_webhooks_delivered_total").increment(1);
        deliveries::Next::Delivered
    } else {
        metrics::counter!("tenantry_webhook_failures_total").increment(1);
        match settings
            .schedule
            .after(claimed.attempts, attempt.attempted_at)
        {
            Some(at) => deliveries::Next::RetryAt(at),
            None => deliveries::Next::GiveUp,
        }
    };
    deliveries::Outcome {
        claimed,
        attempt,
        next,
    }
}

/// Records outcomes as they come, many to a transaction.
async fn record_webhook_outcomes(
    ctx: Context,
    mut received: tokio::sync::mpsc::Receiver<deliveries::Outcome>,
    disable_after: chrono::Duration,
) {
    let mut batch = Vec::with_capacity(OUTCOME_BATCH);
    while received.recv_many(&mut batch, OUTCOME_BATCH).await > 0 {
        tokio::time::sleep(OUTCOME_LINGER).await;
        while batch.len() < OUTCOME_BATCH {
            match received.try_recv() {
                Ok(outcome) => batch.push(outcome),
                Err(_) => break,
            }
        }
        let disable_before = now() - disable_after;
        if let Err(error) =
            crate::service::deliveries::record_outcomes(&ctx, &batch, disable_before).await
        {
            // Their leases run out and they are attempted again: at least once.
            tracing::warn!(error = ?error, "recording webhook attempts failed");
        }
        batch.clear();
    }
}

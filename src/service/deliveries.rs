//! Webhook delivery as the owners of endpoints see it: recording what workers attempted,
//! disabling endpoints that keep failing (and telling their owners), and the deliveries list,
//! retry and replay.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::{Context, Error, Result};
use crate::domain::access::Caller;
use crate::domain::audit::{Actor, Target};
use crate::domain::conflict::Conflict;
use crate::domain::delivery::{Attempt, Delivery};
use crate::domain::email::{Letter, Mail};
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::domain::policy::Action;
use crate::domain::user::reach_of;
use crate::domain::webhook::seal_context;
use crate::store::audit::{record, Change};
use crate::store::deliveries::{self, Claimed, DeliveryFilter, Outcome};
use crate::store::{outbox, StoreError, Tx};

/// The open secrets that sign a claimed delivery.
pub fn secrets(ctx: &Context, claimed: &Claimed) -> Result<Vec<String>> {
    let keyring = ctx.keyring();
    let context = seal_context(claimed.endpoint_id.0);
    claimed
        .sealed_secrets
        .iter()
        .map(|sealed| {
            keyring
                .open_str(sealed, context.as_bytes())
                .map(|secret| secret.expose().to_owned())
                .map_err(|error| {
                    Error::Internal(anyhow::anyhow!("opening a signing secret: {error}"))
                })
        })
        .collect()
}

/// Records a batch of attempts in one transaction; an endpoint failing since before
/// `disable_before` is disabled and its owners are mailed.
pub async fn record_outcomes(
    ctx: &Context,
    outcomes: &[Outcome],
    disable_before: DateTime<Utc>,
) -> Result<()> {
    let mut tx = ctx.db.begin().await?;
    let disabled = deliveries::record(&mut tx, outcomes, disable_before).await?;
    for endpoint in &disabled {
        tell_disabled(&mut tx, endpoint).await?;
    }
    tx.commit().await?;
    for endpoint in &disabled {
        tracing::warn!(endpoint_id = %endpoint.endpoint, failing_since = %endpoint.failing_since,
            "webhook endpoint disabled: it kept failing");
    }
    if !disabled.is_empty() {
        ctx.mail_sent_soon();
    }
    Ok(())
}

/// The system's audit entry of a disabled endpoint, and a mail to each of its owners.
async fn tell_disabled(tx: &mut Tx, disabled: &deliveries::Disabled) -> Result<()> {
    let (url, brand, contacts) = deliveries::endpoint_contacts(tx, disabled.endpoint).await?;
    let (tenant_id, agency_id) = deliveries::holder(tx, disabled.endpoint).await?;
    let change = Change::new(
        (tenant_id, agency_id),
        "webhook_endpoint.disabled",
        Target::new("webhook_endpoint", disabled.endpoint),
        serde_json::json!({ "enabled": { "before": true, "after": false } }),
    );
    record(tx, change.by(Some(Actor::SYSTEM))).await?;
    let since = disabled.failing_since.format("%Y-%m-%d %H:%M UTC");
    let paragraphs = [
        format!("Every delivery to the webhook endpoint {url} has failed since {since}, so it has been disabled."),
        "Events are no longer sent to it. Once it answers again, enable it and replay what it missed (POST …/webhook-endpoints/{id}/replay?since=…).".to_owned(),
    ];
    let subject = "A webhook endpoint was disabled".to_owned();
    for (email, name) in contacts {
        let greeting = format!("Hello {name},");
        let letter = Letter {
            brand: &brand,
            subject: &subject,
            greeting: &greeting,
            paragraphs: &paragraphs,
            action: None,
            footer: "You received this because you manage this webhook endpoint.",
        };
        match Mail::branded(&email, &letter) {
            Ok(mail) => {
                outbox::enqueue(tx, &mail, tenant_id).await?;
            }
            Err(error) => tracing::warn!(%error, "an endpoint owner's address cannot be mailed"),
        }
    }
    Ok(())
}

/// A delivery with its attempts, oldest first.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}

async fn with_attempts(ctx: &Context, deliveries: Vec<Delivery>) -> Result<Vec<DeliveryRecord>> {
    let ids: Vec<_> = deliveries.iter().map(|d| d.id).collect();
    let mut attempts = deliveries::attempts_of(ctx.db.reader(), &ids).await?;
    Ok(deliveries
        .into_iter()
        .map(|delivery| {
            let (mine, rest) = attempts
                .drain(..)
                .partition(|a| a.delivery_id == delivery.id);
            attempts = rest;
            DeliveryRecord {
                delivery,
                attempts: mine,
            }
        })
        .collect())
}

/// The deliveries of the caller's endpoints (or of one endpoint it may manage), newest first.
#[instrument(skip_all)]
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    mut filter: DeliveryFilter,
    before: Option<WebhookDeliveryId>,
    limit: i64,
) -> Result<Vec<DeliveryRecord>> {
    match filter.endpoint {
        Some(endpoint) => {
            super::webhooks::get(ctx, caller, endpoint).await?;
        }
        None => {
            super::webhooks::allowed_for(ctx, caller, Action::ReadWebhooks, caller.scope).await?;
            filter.reach = Some(reach_of(caller.scope));
        }
    }
    let found = deliveries::list(ctx.db.reader(), &filter, before, limit).await?;
    with_attempts(ctx, found).await
}

/// One delivery, if its endpoint is one the caller may manage.
#[instrument(skip_all, fields(delivery_id = %id))]
pub async fn get(ctx: &Context, caller: &Caller, id: WebhookDeliveryId) -> Result<DeliveryRecord> {
    let (delivery, _) = deliveries::find(&ctx.db, id)
        .await?
        .ok_or(Error::NotFound("webhook delivery"))?;
    super::webhooks::get(ctx, caller, delivery.endpoint_id)
        .await
        .map_err(|_| Error::NotFound("webhook delivery"))?;
    let mut found = with_attempts(ctx, vec![delivery]).await?;
    Ok(found.remove(0))
}

/// Sends a delivery again now, with a fresh schedule.
#[instrument(skip_all, fields(delivery_id = %id))]
pub async fn retry(
    ctx: &Context,
    caller: &Caller,
    id: WebhookDeliveryId,
) -> Result<DeliveryRecord> {
    get(ctx, caller, id).await?;
    if !deliveries::retry(&ctx.db, id).await? {
        return Err(StoreError::Conflict(Conflict::DeliveryInFlight).into());
    }
    get(ctx, caller, id).await
}

/// Sends again every event since `since` that the endpoint takes; how many are due.
#[instrument(skip_all, fields(endpoint_id = %endpoint))]
pub async fn replay(
    ctx: &Context,
    caller: &Caller,
    endpoint: WebhookEndpointId,
    since: DateTime<Utc>,
) -> Result<u64> {
    super::webhooks::managed(ctx, caller, endpoint).await?;
    deliveries::replay(&ctx.db, endpoint, since)
        .await
        .map_err(super::not_found("webhook endpoint"))
}

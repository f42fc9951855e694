//! Webhook endpoints: an agency (or the platform) registers where its events go, reads them
//! back without their secret, changes, rotates and removes them.

use tracing::instrument;

use super::{Context, Error, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::ids::{AgencyId, TenantId, WebhookEndpointId};
use crate::domain::policy::{self, Action};
use crate::domain::user::target_of;
use crate::domain::validation::Violations;
use crate::domain::webhook::{
    mint_secret, seal_context, Endpoint, EndpointFields, ROTATION_OVERLAP,
};
use crate::store;
use crate::store::webhooks::TenantEndpointSeed;

/// The owner an endpoint request acts for: the caller's agency, or for the platform the
/// agency it names (or itself).
async fn owner(
    ctx: &Context,
    caller: &Caller,
    agency: Option<AgencyId>,
    action: Action,
) -> Result<Scope> {
    let owner = match (caller.scope, agency) {
        (Scope::Platform, Some(agency)) => {
            if !store::agencies::exists(&ctx.db, agency).await? {
                return Err(Error::field("agencyId", "unknown", "no such agency"));
            }
            Scope::Agency(agency)
        }
        (Scope::Platform, None) => Scope::Platform,
        (Scope::Agency(own), None) => Scope::Agency(own),
        (Scope::Agency(own), Some(agency)) if own == agency => Scope::Agency(own),
        (Scope::Agency(_), Some(_)) => {
            let detail = "only the platform names another agency";
            return Err(Error::field("agencyId", "forbidden", detail));
        }
        (Scope::Tenant(_), _) => return Err(Error::Forbidden("webhook endpoints are an agency's")),
    };
    allowed(caller, action, owner, None)?;
    Ok(owner)
}

/// Whether the caller may manage endpoints of `owner`; a tenant's is reached through the
/// agency that has it.
pub(super) fn allowed(
    caller: &Caller,
    action: Action,
    owner: Scope,
    agency: Option<AgencyId>,
) -> Result<()> {
    policy::decide(caller, action, &target_of(owner, agency))
        .map_err(Error::refused("webhook endpoint"))
}

/// [`allowed`], finding the agency of a tenant owner.
pub(super) async fn allowed_for(
    ctx: &Context,
    caller: &Caller,
    action: Action,
    owner: Scope,
) -> Result<()> {
    let agency = match owner {
        Scope::Tenant(tenant) => store::tenants::find_ref(&ctx.db, tenant)
            .await?
            .and_then(|(_, agency)| agency),
        _ => None,
    };
    allowed(caller, action, owner, agency)
}

/// A fresh id and sealed secret, for the tenant endpoint a `webhookUrl` may make.
pub fn tenant_endpoint_seed(ctx: &Context) -> TenantEndpointSeed {
    let id = WebhookEndpointId::generate();
    let sealed_secret = ctx
        .keyring()
        .seal_str(&mint_secret(), seal_context(id.0).as_bytes());
    TenantEndpointSeed { id, sealed_secret }
}

/// A tenant's own endpoint: what its `settings.webhookUrl` made.
#[instrument(skip_all, fields(tenant_id = %tenant))]
pub async fn of_tenant(ctx: &Context, caller: &Caller, tenant: TenantId) -> Result<Endpoint> {
    allowed_for(ctx, caller, Action::ReadWebhooks, Scope::Tenant(tenant)).await?;
    let id = store::webhooks::of_tenant(&ctx.db, tenant)
        .await?
        .ok_or(Error::NotFound("webhook endpoint"))?;
    get(ctx, caller, id).await
}

/// Refuses what only `settings.webhookUrl` changes on a tenant's own endpoint.
fn settings_own(endpoint: &Endpoint, what: &'static str) -> Result<()> {
    match endpoint.owner {
        Scope::Tenant(_) => Err(Error::field(
            what,
            "set_by_settings",
            "a tenant's endpoint follows its settings.webhookUrl: change that",
        )),
        _ => Ok(()),
    }
}

/// Registers an endpoint; answers it with its signing secret, which is never shown again.
#[instrument(skip_all)]
pub async fn create(
    ctx: &Context,
    caller: &Caller,
    agency: Option<AgencyId>,
    fields: EndpointFields,
) -> Result<(Endpoint, String)> {
    let mut violations = Violations::default();
    fields.check(&mut violations);
    violations.finish(|| ())?;
    let owner = owner(ctx, caller, agency, Action::ManageWebhooks).await?;
    let id = WebhookEndpointId::generate();
    let secret = mint_secret();
    let sealed = ctx
        .keyring()
        .seal_str(&secret, seal_context(id.0).as_bytes());
    let endpoint = store::webhooks::create(&ctx.db, id, owner, &fields, &sealed).await?;
    Ok((endpoint, secret))
}

#[instrument(skip_all)]
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    agency: Option<AgencyId>,
    after: Option<WebhookEndpointId>,
    limit: i64,
) -> Result<Vec<Endpoint>> {
    let owner = owner(ctx, caller, agency, Action::ReadWebhooks).await?;
    Ok(store::webhooks::list(&ctx.db, owner, after, limit).await?)
}

/// The endpoint, if it is in the caller's reach and the caller may manage it.
#[instrument(skip_all, fields(endpoint_id = %id))]
pub async fn get(ctx: &Context, caller: &Caller, id: WebhookEndpointId) -> Result<Endpoint> {
    let endpoint = store::webhooks::find(&ctx.db, id)
        .await?
        .ok_or(Error::NotFound("webhook endpoint"))?;
    allowed_for(ctx, caller, Action::ReadWebhooks, endpoint.owner).await?;
    Ok(endpoint)
}

/// The endpoint, if the caller may change it.
pub(super) async fn managed(
    ctx: &Context,
    caller: &Caller,
    id: WebhookEndpointId,
) -> Result<Endpoint> {
    let endpoint = get(ctx, caller, id).await?;
    allowed_for(ctx, caller, Action::ManageWebhooks, endpoint.owner).await?;
    Ok(endpoint)
}

/// What a change sets; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub events: Option<Vec<crate::domain::event::EventType>>,
    pub enabled: Option<bool>,
}

#[instrument(skip_all, fields(endpoint_id = %id))]
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    id: WebhookEndpointId,
    expected: Option<chrono::DateTime<chrono::Utc>>,
    changes: EndpointChanges,
) -> Result<Endpoint> {
    let endpoint = managed(ctx, caller, id).await?;
    if changes.url.is_some() {
        settings_own(&endpoint, "url")?;
    }
    let updated = store::webhooks::update(&ctx.db, id, expected, |current| {
        let current = current.fields.clone();
        let fields = EndpointFields {
            url: changes.url.unwrap_or(current.url),
            description: changes.description.unwrap_or(current.description),
            events: changes.events.unwrap_or(current.events),
            enabled: changes.enabled.unwrap_or(current.enabled),
        };
        let mut violations = Violations::default();
        fields.check(&mut violations);
        violations.finish(|| fields).map_err(Error::Invalid)
    })
    .await
    .map_err(not_found)?;
    Ok(updated)
}

fn not_found(error: Error) -> Error {
    match error {
        Error::NotFound(_) => Error::NotFound("webhook endpoint"),
        other => other,
    }
}

/// Starts signing with a new secret, answered once; the old one signs too for a day.
#[instrument(skip_all, fields(endpoint_id = %id))]
pub async fn rotate_secret(
    ctx: &Context,
    caller: &Caller,
    id: WebhookEndpointId,
) -> Result<(Endpoint, String)> {
    managed(ctx, caller, id).await?;
    let secret = mint_secret();
    let sealed = ctx
        .keyring()
        .seal_str(&secret, seal_context(id.0).as_bytes());
    let until = chrono::Utc::now() + ROTATION_OVERLAP;
    let endpoint = store::webhooks::rotate(&ctx.db, id, &sealed, until)
        .await
        .map_err(super::not_found("webhook endpoint"))?;
    Ok((endpoint, secret))
}

#[instrument(skip_all, fields(endpoint_id = %id))]
pub async fn delete(ctx: &Context, caller: &Caller, id: WebhookEndpointId) -> Result<()> {
    let endpoint = managed(ctx, caller, id).await?;
    settings_own(&endpoint, "settings.webhookUrl")?;
    store::webhooks::delete(&ctx.db, id)
        .await
        .map_err(super::not_found("webhook endpoint"))
}

//! Custom domains: an agency registers one, points its CNAME at the platform's target, and
//! it is verified by a real DNS lookup, when the agency asks and by a background pass over
//! pending domains.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::{Context, Error, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::custom_domain::{cname_verdict, CustomDomain, DomainStatus};
use crate::domain::ids::AgencyId;
use crate::domain::policy::Action;
use crate::domain::values::HostName;
use crate::outbound::CnameResolver;
use crate::store;

/// How long a pending domain waits between two lookups of the background pass.
pub const RECHECK_EVERY: chrono::Duration = chrono::Duration::minutes(5);

/// How many pending domains one pass of the background check looks up.
const CHECK_BATCH: i64 = 50;

/// How custom domains are verified: the name their CNAME must point at
/// (`--white-label-cname-target`) and the resolver that looks it up (`--dns-server`).
#[derive(Clone)]
pub struct DomainSettings {
    pub cname_target: HostName,
    resolver: CnameResolver,
}

impl DomainSettings {
    pub fn new(cname_target: HostName, nameserver: Option<SocketAddr>) -> anyhow::Result<Self> {
        Ok(DomainSettings {
            cname_target,
            resolver: CnameResolver::new(nameserver)?,
        })
    }
}

/// The agency a domain request acts on: an agency caller's own, or the one a platform
/// caller names.
async fn agency_of(
    ctx: &Context,
    caller: &Caller,
    asked: Option<AgencyId>,
    action: Action,
) -> Result<AgencyId> {
    match super::branding::owner(ctx, caller, asked, action).await? {
        Scope::Agency(agency) => Ok(agency),
        _ => Err(Error::field(
            "agencyId",
            "required",
            "platform keys name the agency whose domain it is",
        )),
    }
}

/// Registers `domain` as the agency's custom domain, pending until its CNAME points at the
/// target. It replaces a domain the agency had; the same domain again is answered as it
/// stands. A domain another agency holds is a conflict.
#[instrument(skip_all)]
pub async fn register(
    ctx: &Context,
    caller: &Caller,
    asked: Option<AgencyId>,
    domain: HostName,
) -> Result<CustomDomain> {
    let agency = agency_of(ctx, caller, asked, Action::ManageAgencyBranding).await?;
    if domain == ctx.domains.cname_target {
        return Err(Error::field(
            "domain",
            "invalid_host",
            "the CNAME target is the platform's own name, not a custom domain",
        ));
    }
    Ok(store::custom_domains::register(&ctx.db, agency, &domain).await?)
}

/// The agency's custom domain.
#[instrument(skip_all)]
pub async fn get(ctx: &Context, caller: &Caller, asked: Option<AgencyId>) -> Result<CustomDomain> {
    let agency = agency_of(ctx, caller, asked, Action::ReadBranding).await?;
    store::custom_domains::find(&ctx.db, agency)
        .await?
        .ok_or(Error::NotFound("custom domain"))
}

/// Removes the agency's custom domain: a console on it no longer finds the agency, and any
/// agency may register it.
#[instrument(skip_all)]
pub async fn remove(
    ctx: &Context,
    caller: &Caller,
    asked: Option<AgencyId>,
) -> Result<CustomDomain> {
    let agency = agency_of(ctx, caller, asked, Action::ManageAgencyBranding).await?;
    store::custom_domains::remove(&ctx.db, agency)
        .await?
        .ok_or(Error::NotFound("custom domain"))
}

/// Looks up the agency's pending domain's CNAME now and verifies it if it points at the
/// target; answers the domain as it then stands (an active one as it is).
#[instrument(skip_all)]
pub async fn verify(
    ctx: &Context,
    caller: &Caller,
    asked: Option<AgencyId>,
) -> Result<CustomDomain> {
    let agency = agency_of(ctx, caller, asked, Action::ManageAgencyBranding).await?;
    let domain = store::custom_domains::find(&ctx.db, agency)
        .await?
        .ok_or(Error::NotFound("custom domain"))?;
    check(ctx, domain, store::now()).await
}

/// Looks up `domain`'s CNAME and records what was found; the next background check of a
/// domain still pending comes [`RECHECK_EVERY`] after `at`.
async fn check(ctx: &Context, domain: CustomDomain, at: DateTime<Utc>) -> Result<CustomDomain> {
    if domain.status != DomainStatus::PendingVerification {
        return Ok(domain);
    }
    let settings = &ctx.domains;
    let verdict = match settings.resolver.cname(domain.domain.as_str()).await {
        Ok(found) => cname_verdict(found.as_deref(), &settings.cname_target),
        Err(failure) => Err(failure),
    };
    let next = at + RECHECK_EVERY;
    let checked = store::custom_domains::record_check(&ctx.db, &domain, verdict, next).await?;
    // Replaced by another domain meanwhile: the old one stands as it was read.
    Ok(checked.unwrap_or(domain))
}

/// One pass of the background check: looks up the pending domains due at `at` (each claimed
/// by one server at a time) and answers how many were verified.
pub async fn check_due(ctx: &Context, at: DateTime<Utc>) -> Result<u64> {
    let due =
        store::custom_domains::claim_due(&ctx.db, at, at + RECHECK_EVERY, CHECK_BATCH).await?;
    let mut verified = 0;
    for domain in due {
        if check(ctx, domain, at).await?.status == DomainStatus::Active {
            verified += 1;
        }
    }
    Ok(verified)
}

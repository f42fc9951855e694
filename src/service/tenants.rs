//! Tenants: the client organisations agencies create, limit and watch.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::{not_found, users, Context, Error, Lookup, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::analytics::Activity;
use crate::domain::ids::{AgencyId, PlanId, TenantId};
use crate::domain::plan::PlanRef;
use crate::domain::policy::{self, act, Action, Authorized, Role, Target};
use crate::domain::tenant::{NewTenant, Tenant, TenantProfile, TenantQuery, TenantUpdate};
use crate::domain::validation::Violations;
use crate::domain::values::PlanCode;
use crate::store::{self, StoreError};

/// A tenant as far as the policy needs to know it: for the routes of its sub-resources, which
/// should not load the whole tenant (admission, ingestion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantRef {
    pub id: TenantId,
    /// Its agency; `None` for a direct tenant, and when the caller is the tenant itself.
    pub agency_id: Option<AgencyId>,
}

impl Lookup for TenantRef {
    const NAME: &'static str = "tenant";
    type Id = TenantId;

    async fn lookup(ctx: &Context, caller: &Caller, id: TenantId) -> Result<Option<Self>> {
        match caller.scope {
            // Authentication found the key's tenant active; there is nothing to read.
            Scope::Tenant(own) => Ok((own == id).then_some(TenantRef {
                id,
                agency_id: None,
            })),
            _ => Ok(store::tenants::find_ref(&ctx.db, id)
                .await?
                .map(|(id, agency_id)| TenantRef { id, agency_id })),
        }
    }

    fn target(&self) -> Target {
        Target::Tenant {
            id: self.id,
            agency: self.agency_id,
        }
    }
}

/// A `Lookup` for a read of one tenant (`$read`, with `id` and `agency_id`) by `$find`, a
/// store read within the caller's tenant scope; judged as its tenant.
macro_rules! tenant_read {
    ($read:ty, $find:path) => {
        impl Lookup for $read {
            const NAME: &'static str = "tenant";
            type Id = TenantId;

            async fn lookup(ctx: &Context, caller: &Caller, id: TenantId) -> Result<Option<Self>> {
                found($find(&ctx.db, caller.tenant_scope(), id).await)
            }

            fn target(&self) -> Target {
                Target::Tenant {
                    id: self.id,
                    agency: self.agency_id,
                }
            }
        }
    };
}

tenant_read!(Tenant, store::tenants::find);
tenant_read!(TenantProfile, store::tenants::find_profile);

/// A read by id as a lookup answers it: `None` when there is nothing to see.
fn found<T>(read: store::StoreResult<T>) -> Result<Option<T>> {
    match read {
        Ok(object) => Ok(Some(object)),
        Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The plan a code names, as a field error when there is none.
async fn plan_id(ctx: &Context, code: &PlanCode) -> Result<PlanId> {
    match store::plans::find(&ctx.db, &PlanRef::Code(code.to_string())).await {
        Ok(plan) => Ok(plan.id),
        Err(StoreError::NotFound) => Err(Error::field("plan", "unknown_plan", "no such plan")),
        Err(other) => Err(other.into()),
    }
}

/// The agency a new tenant belongs to: an agency's own, or the one a platform caller names.
async fn owning_agency(
    ctx: &Context,
    caller: &Caller,
    requested: Option<AgencyId>,
) -> Result<Option<AgencyId>> {
    match (caller.scope, requested) {
        (Scope::Platform, None) => Ok(None),
        (Scope::Platform, Some(agency)) => match store::agencies::find(&ctx.db, agency).await {
            Ok(_) => Ok(Some(agency)),
            Err(StoreError::NotFound) => {
                Err(Error::field("agencyId", "unknown_agency", "no such agency"))
            }
            Err(other) => Err(other.into()),
        },
        (Scope::Agency(own), None) => Ok(Some(own)),
        (Scope::Agency(own), Some(agency)) if agency == own => Ok(Some(own)),
        _ => Err(Error::Forbidden(
            "an agency key creates tenants only in its own agency",
        )),
    }
}

/// Creates a tenant. A caller names the agency only as far as its scope reaches.
#[instrument(skip_all)]
pub async fn create(ctx: &Context, caller: &Caller, new: NewTenant) -> Result<Tenant> {
    policy::require(caller, Action::CreateTenant).map_err(Error::refused("tenant"))?;
    let agency_id = owning_agency(ctx, caller, new.agency_id).await?;
    let mut violations = Violations::default();
    new.check(&mut violations);
    violations.finish(|| ())?;
    let plan_id = plan_id(ctx, &new.plan).await?;
    let mut tx = ctx.db.begin().await?;
    let endpoint = super::webhooks::tenant_endpoint_seed(ctx);
    let tenant = store::tenants::create(&mut tx, &new, agency_id, plan_id, &endpoint).await?;
    // The owner is invited with the tenant: both are made, or neither.
    if let Some(owner) = &new.owner {
        let request = users::InviteRequest {
            email: owner.email.as_str().to_owned(),
            first_name: owner.first_name.clone(),
            last_name: owner.last_name.clone(),
            role: Role::TenantOwner,
        };
        let scope = Scope::Tenant(tenant.id);
        users::invite_in(ctx, &mut tx, scope, &owner.email, &request, caller.user()).await?;
    }
    tx.commit().await?;
    if new.owner.is_some() {
        ctx.mail_sent_soon();
    }
    Ok(tenant)
}

/// One page of the tenants the caller can see.
#[instrument(skip_all)]
pub async fn list(ctx: &Context, caller: &Caller, query: &TenantQuery) -> Result<Vec<Tenant>> {
    policy::require(caller, Action::ReadTenant).map_err(Error::refused("tenant"))?;
    Ok(store::tenants::list(&ctx.db, caller.tenant_scope(), query).await?)
}

/// One page of the tenants the caller can see, each with its [`Activity`], in one more query
/// for the whole page.
#[instrument(skip_all)]
pub async fn list_with_activity(
    ctx: &Context,
    caller: &Caller,
    query: &TenantQuery,
) -> Result<Vec<(Tenant, Activity)>> {
    let tenants = list(ctx, caller, query).await?;
    let ids: Vec<TenantId> = tenants.iter().map(|tenant| tenant.id).collect();
    let mut activity = store::usage::activity(&ctx.db, &ids).await?;
    Ok(tenants
        .into_iter()
        .map(|tenant| {
            let figures = activity.remove(&tenant.id).unwrap_or_default();
            (tenant, figures)
        })
        .collect())
}

/// The [`Activity`] of a tenant the caller may read.
pub async fn activity<A>(ctx: &Context, tenant: &Authorized<Tenant, A>) -> Result<Activity> {
    let id = tenant.get().id;
    Ok(store::usage::activity(&ctx.db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default())
}

/// Changes a tenant. Commercial terms need their own grant, and switching a compliance
/// setting off needs one too; both are judged against the tenant as it is under the lock.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn update(
    ctx: &Context,
    tenant: Authorized<Tenant, act::UpdateTenant>,
    expected: Option<DateTime<Utc>>,
    update: TenantUpdate,
) -> Result<Tenant> {
    let caller = *tenant.caller();
    if update.touches_commercial_terms() {
        policy::require(&caller, Action::ChangeCommercialTerms)
            .map_err(Error::refused("tenant"))?;
    }
    let plan_id = match &update.plan {
        Some(code) => Some(plan_id(ctx, code).await?),
        None => None,
    };
    let id = tenant.get().id;
    let endpoint = super::webhooks::tenant_endpoint_seed(ctx);
    store::tenants::update(
        &ctx.db,
        caller.tenant_scope(),
        id,
        expected,
        &endpoint,
        |current| {
            // Whether the caller may make the change at all comes before whether it is valid.
            let relaxed = update.settings.as_ref().and_then(|settings| {
                let next = settings.apply_to(current.settings.clone());
                current.settings.compliance_switched_off(&next)
            });
            if let Some(field) = relaxed {
                if policy::require(&caller, Action::RelaxCompliance).is_err() {
                    return Err(Error::ForbiddenField {
                        field,
                        detail:
                            "only the agency or the platform may switch a compliance setting off",
                    });
                }
            }
            Ok((update.apply_to(current)?, plan_id))
        },
    )
    .await
    .map_err(|error| match error {
        Error::NotFound(_) => Error::NotFound("tenant"),
        other => other,
    })
}

/// The whole tenant behind a path reference, for use cases that need its limits or settings.
pub async fn load<A>(ctx: &Context, tenant: &Authorized<TenantRef, A>) -> Result<Tenant> {
    store::tenants::find(&ctx.db, tenant.caller().tenant_scope(), tenant.get().id)
        .await
        .map_err(not_found("tenant"))
}

//! Subscriptions: read by whoever reads the tenant, set by whoever sets the tenant's plan.
//! Setting one sets the tenant's plan in the same transaction, so the plan's entitlements are
//! the tenant's effective limits at once; its current period becomes the tenant's billing
//! period (docs/BILLING.md).

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::tenants::TenantRef;
use super::{not_found, Context, Error, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::plan::PlanRef;
use crate::domain::policy::{self, act, Action, Authorized, Target};
use crate::domain::subscription::{Subscription, SubscriptionFields};
use crate::domain::tenant::Tenant;
use crate::domain::validation::Violations;
use crate::store::{self, StoreError};

/// What a tenant without a subscription answers.
fn none() -> Error {
    Error::Absent {
        code: "subscription_not_found",
        detail: "this tenant has no subscription",
    }
}

/// The tenant's subscription (the tenant read carries it).
pub fn get(tenant: Authorized<Tenant, act::ReadSubscription>) -> Result<Subscription> {
    tenant.into_inner().subscription.ok_or_else(none)
}

/// Creates or replaces the tenant's subscription with `fields`, and sets the tenant's plan to
/// its plan. `expected` is an `If-Match` version of the subscription. Answers the
/// subscription and whether it is new. Bad fields, an unknown plan included, change nothing.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn put(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ManageSubscription>,
    expected: Option<DateTime<Utc>>,
    fields: SubscriptionFields,
) -> Result<(Subscription, bool)> {
    let mut violations = Violations::default();
    fields.check(&mut violations);
    let code = PlanRef::Code(fields.plan_code.to_string());
    let plan = match store::plans::find(&ctx.db, &code).await {
        Ok(plan) => Some(plan.id),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    if plan.is_none() {
        violations.add("planCode", "unknown_plan", "no plan has this code");
    }
    let plan_id = violations
        .finish(|| plan)?
        .expect("an unknown plan is a violation");
    let scope = tenant.caller().tenant_scope();
    let id = tenant.get().id;
    let mut tx = ctx.db.begin().await?;
    let (tenant, created) =
        store::subscriptions::put(&mut tx, scope, id, plan_id, &fields, expected)
            .await
            .map_err(not_found("tenant"))?;
    tx.commit().await?;
    let subscription = tenant
        .subscription
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("the subscription reads back")))?;
    Ok((subscription, created))
}

/// A tenant caller's own tenant with its subscription, for the billing routes, which name no
/// tenant: other callers name one under `/api/v1/tenants/{tenantId}/subscription`.
#[instrument(skip_all)]
pub async fn own(ctx: &Context, caller: &Caller) -> Result<(Subscription, Tenant)> {
    let Scope::Tenant(id) = caller.scope else {
        return Err(Error::Forbidden(
            "the billing routes answer for a tenant key's own tenant; other keys read \
             /api/v1/tenants/{tenantId}/subscription",
        ));
    };
    let target = Target::Tenant { id, agency: None };
    policy::decide(caller, Action::ReadSubscription, &target).map_err(Error::refused("tenant"))?;
    let mut tenant = store::tenants::find(&ctx.db, caller.tenant_scope(), id)
        .await
        .map_err(not_found("tenant"))?;
    let subscription = tenant.subscription.take().ok_or_else(none)?;
    Ok((subscription, tenant))
}

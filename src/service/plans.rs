//! The plan catalog: every caller reads it; the platform keeps it.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::{Context, Error, Lookup, Result};
use crate::domain::access::Caller;
use crate::domain::plan::{Plan, PlanFields, PlanRef, PlanUpdate};
use crate::domain::policy::{self, act, Action, Authorized, Target};
use crate::domain::validation::Violations;
use crate::store::{self, StoreError};

impl Lookup for Plan {
    const NAME: &'static str = "plan";
    type Id = PlanRef;

    async fn lookup(ctx: &Context, _caller: &Caller, plan: PlanRef) -> Result<Option<Plan>> {
        match store::plans::find(&ctx.db, &plan).await {
            Ok(plan) => Ok(Some(plan)),
            Err(StoreError::NotFound) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    fn target(&self) -> Target {
        Target::Catalog
    }
}

fn checked(fields: PlanFields) -> Result<PlanFields> {
    let mut violations = Violations::default();
    fields.check(&mut violations);
    Ok(violations.finish(|| fields)?)
}

#[instrument(skip_all)]
pub async fn list(ctx: &Context, caller: &Caller) -> Result<Vec<Plan>> {
    policy::require(caller, Action::ReadPlans).map_err(Error::refused("plan"))?;
    Ok(store::plans::list(&ctx.db).await?)
}

#[instrument(skip_all)]
pub async fn create(ctx: &Context, caller: &Caller, fields: PlanFields) -> Result<Plan> {
    policy::decide(caller, Action::ManagePlans, &Target::Catalog)
        .map_err(Error::refused("plan"))?;
    Ok(store::plans::create(&ctx.db, &checked(fields)?).await?)
}

#[instrument(skip_all, fields(plan_id = %plan.get().id))]
pub async fn update(
    ctx: &Context,
    plan: Authorized<Plan, act::ManagePlans>,
    expected: Option<DateTime<Utc>>,
    update: PlanUpdate,
) -> Result<Plan> {
    store::plans::update(&ctx.db, plan.get().id, expected, |current| {
        checked(update.apply_to(&current.fields))
    })
    .await
    .map_err(|error| match error {
        Error::NotFound(_) => Error::NotFound("plan"),
        other => other,
    })
}

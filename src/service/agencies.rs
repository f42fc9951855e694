//! Agencies: the catalog of resellers (platform) and each agency's own record.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::{not_found, Context, Error, Lookup, Result};
use crate::domain::access::Caller;
use crate::domain::agency::{Agency, AgencyFields};
use crate::domain::ids::AgencyId;
use crate::domain::policy::{self, act, Action, Authorized, Target};
use crate::domain::validation::Violations;
use crate::store::{self, StoreError};

impl Lookup for Agency {
    const NAME: &'static str = "agency";
    type Id = AgencyId;

    async fn lookup(ctx: &Context, caller: &Caller, id: AgencyId) -> Result<Option<Agency>> {
        // Out of reach is as good as missing: don't even read it.
        if !caller.scope.reaches(&Target::Agency(id)) {
            return Ok(None);
        }
        match store::agencies::find(&ctx.db, id).await {
            Ok(agency) => Ok(Some(agency)),
            Err(StoreError::NotFound) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    fn target(&self) -> Target {
        Target::Agency(self.id)
    }
}

fn checked(fields: AgencyFields) -> Result<AgencyFields> {
    let mut violations = Violations::default();
    fields.check(&mut violations);
    Ok(violations.finish(|| fields)?)
}

#[instrument(skip_all)]
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    after: Option<AgencyId>,
    limit: i64,
) -> Result<Vec<Agency>> {
    policy::decide(caller, Action::ListAgencies, &Target::Catalog)
        .map_err(Error::refused("agency"))?;
    Ok(store::agencies::list(&ctx.db, after, limit).await?)
}

#[instrument(skip_all)]
pub async fn create(ctx: &Context, caller: &Caller, fields: AgencyFields) -> Result<Agency> {
    policy::decide(caller, Action::CreateAgency, &Target::Catalog)
        .map_err(Error::refused("agency"))?;
    Ok(store::agencies::create(&ctx.db, &checked(fields)?).await?)
}

/// The caller's own agency.
#[instrument(skip_all)]
pub async fn own(ctx: &Context, caller: &Caller) -> Result<Agency> {
    let id = caller.agency().ok_or(Error::NotFound("agency"))?;
    store::agencies::find(&ctx.db, id)
        .await
        .map_err(not_found("agency"))
}

/// What a change to an agency sets; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct AgencyChanges {
    pub name: Option<String>,
    pub markup_percent: Option<i64>,
    pub metadata: Option<crate::domain::agency::Metadata>,
}

#[instrument(skip_all, fields(agency_id = %agency.get().id))]
pub async fn update(
    ctx: &Context,
    agency: Authorized<Agency, act::UpdateAgency>,
    expected: Option<DateTime<Utc>>,
    changes: AgencyChanges,
) -> Result<Agency> {
    store::agencies::update(&ctx.db, agency.get().id, expected, |current| {
        let fields = &current.fields;
        checked(AgencyFields {
            name: changes.name.unwrap_or_else(|| fields.name.clone()),
            markup_percent: changes.markup_percent.unwrap_or(fields.markup_percent),
            metadata: changes.metadata.unwrap_or_else(|| fields.metadata.clone()),
        })
    })
    .await
    .map_err(|error| match error {
        Error::NotFound(_) => Error::NotFound("agency"),
        other => other,
    })
}

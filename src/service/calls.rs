//! Calls: admission, heartbeats and ending (the data plane's hot path), and reading calls
//! back.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::tenants::TenantRef;
use super::{not_found, Context, Error, LimitRefusal, Result};
use crate::domain::ids::CallId;
use crate::domain::metering::{Call, CallFilter, CallOutcome, Counter, NewCall, Refusal};
use crate::domain::policy::{act, Authorized};
use crate::domain::tenant::BlockedService;
use crate::domain::validation::Violations;
use crate::store::calls::CallError;
use crate::store::{self, StoreError};

impl From<CallError> for Error {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Refused(Refusal::TenantInactive) => Error::TenantInactive,
            CallError::Refused(Refusal::Blocked) => Error::ServiceBlocked(BlockedService::Calls),
            CallError::Refused(Refusal::Limit {
                key,
                code,
                limit,
                current,
            }) => {
                metrics::counter!("tenantry_call_refusals_total", "code" => code).increment(1);
                Error::LimitExceeded(LimitRefusal {
                    code,
                    limit: key.field(),
                    limit_value: limit,
                    current,
                })
            }
            CallError::UnknownAgent => {
                Error::field("agentId", "unknown_agent", "is not an agent of this tenant")
            }
            CallError::AlreadyEnded => Error::Conflict {
                code: "call_already_ended",
                detail: "the call was ended with another outcome".to_owned(),
                field: None,
            },
            CallError::NotActive => Error::Conflict {
                code: "call_not_active",
                detail: "the call is no longer active".to_owned(),
                field: None,
            },
            CallError::Store(StoreError::NotFound) => Error::NotFound("call"),
            CallError::Store(other) => other.into(),
        }
    }
}

/// Starts a call if the tenant is active, its block leaves calls alone and it is under every
/// limit, atomically.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn admit(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::RunCalls>,
    new: NewCall,
) -> Result<Call> {
    let mut violations = Violations::default();
    new.check(&mut violations);
    violations.finish(|| ())?;
    let tenant_id = tenant.get().id;
    let (call, alerted) = match store::calls::admit(&ctx.db, tenant_id, &new, ctx.call_lease).await
    {
        Err(CallError::Refused(refusal)) => {
            // Only refusals pay for telling of them; a failure to tell leaves the refusal as it is.
            if let Err(error) =
                store::alerts::note_refusal(&ctx.db, tenant_id, &refusal, store::now()).await
            {
                tracing::warn!(error = ?error, "telling of a refusal failed");
            }
            return Err(CallError::Refused(refusal).into());
        }
        admitted => admitted?,
    };
    metrics::counter!("tenantry_call_admissions_total").increment(1);
    super::usage::alerts_fired(ctx, &alerted);
    Ok(call)
}

/// Extends an active call's lease, so it keeps its slot.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn heartbeat(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::RunCalls>,
    id: CallId,
) -> Result<Call> {
    Ok(store::calls::heartbeat(&ctx.db, tenant.get().id, id, ctx.call_lease).await?)
}

/// Ends a call with what it used.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn end(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::RunCalls>,
    id: CallId,
    outcome: CallOutcome,
) -> Result<Call> {
    let mut violations = Violations::default();
    outcome.check(&mut violations);
    violations.finish(|| ())?;
    let (call, alerted) = store::calls::end(&ctx.db, tenant.get().id, id, &outcome)
        .await
        .map_err(|error| match error {
            CallError::Store(StoreError::CounterOverflow(counter)) => Error::CounterOverflow {
                counter,
                field: outcome_field(counter),
            },
            other => Error::from(other),
        })?;
    super::usage::alerts_fired(ctx, &alerted);
    Ok(call)
}

/// The field of an end request that adds to `counter`.
fn outcome_field(counter: Counter) -> Option<&'static str> {
    match counter {
        Counter::Conversations => None,
        Counter::Seconds => Some("durationSeconds"),
        Counter::CostCents => Some("costCents"),
        Counter::Sentiment => Some("sentimentScore"),
    }
}

#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn get(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadCalls>,
    id: CallId,
) -> Result<Call> {
    store::calls::find(&ctx.db, tenant.get().id, id)
        .await
        .map_err(not_found("call"))
}

/// A tenant's calls, newest first, after `after` (a call's start and id).
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn list(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadCalls>,
    filter: &CallFilter,
    after: Option<(DateTime<Utc>, CallId)>,
    limit: i64,
) -> Result<Vec<Call>> {
    Ok(store::calls::list(&ctx.db, tenant.get().id, filter, after, limit).await?)
}

//! Usage: batch ingestion of completed calls, and a tenant's limits with its usage against
//! them.

use tracing::instrument;

use super::tenants::{self, TenantRef};
use super::{Context, Error, Result};
use crate::domain::ids::{AgentId, TenantId};
use crate::domain::limits::{LimitKey, Measured};
use crate::domain::metering::{
    check_batch, IngestOutcome, LimitSource, LimitStatus, LimitsReport, UsageEvent,
};
use crate::domain::policy::{act, Authorized};
use crate::domain::resource::ResourceKind;
use crate::domain::validation::FieldError;
use crate::store::{self, now, StoreError};

/// Stores a batch of completed calls, checked whole: one bad event refuses the batch.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn ingest(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReportUsage>,
    events: Vec<UsageEvent>,
) -> Result<IngestOutcome> {
    let tenant_id = tenant.get().id;
    check_batch(&events, now())?;
    check_agents(ctx, tenant_id, &events).await?;
    let (outcome, alerted) = store::usage::ingest(&ctx.db, tenant_id, &events)
        .await
        .map_err(|error| match error {
            StoreError::CounterOverflow(counter) => Error::CounterOverflow {
                counter,
                field: Some("events"),
            },
            other => other.into(),
        })?;
    metrics::counter!("tenantry_usage_events_ingested_total").increment(outcome.accepted as u64);
    alerts_fired(ctx, &alerted);
    Ok(outcome)
}

/// After a commit that fired alerts: counts them, and wakes the mail worker for their mail.
pub(super) fn alerts_fired(ctx: &Context, alerted: &store::alerts::AlertOutcome) {
    if !alerted.fired.is_empty() {
        metrics::counter!("tenantry_usage_alerts_fired_total")
            .increment(alerted.fired.len() as u64);
    }
    if alerted.mailed {
        ctx.mail_sent_soon();
    }
}

/// Every `agentId` must be an agent of the tenant.
async fn check_agents(ctx: &Context, tenant_id: TenantId, events: &[UsageEvent]) -> Result<()> {
    let named: Vec<AgentId> = events.iter().filter_map(|e| e.agent_id).collect();
    if named.is_empty() {
        return Ok(());
    }
    let known = store::agents::known(&ctx.db, tenant_id, &named).await?;
    let unknown: Vec<FieldError> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.agent_id.is_some_and(|id| !known.contains(&id)))
        .map(|(i, _)| FieldError {
            field: format!("events[{i}].agentId"),
            code: "unknown_agent".to_owned(),
            message: "is not an agent of this tenant".to_owned(),
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(unknown))
    }
}

/// Every limit of a tenant: value, origin, and usage this period.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn limits(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ReadLimits>,
) -> Result<LimitsReport> {
    let at = now();
    let tenant_id = tenant.get().id;
    let tenant = tenants::load(ctx, &tenant).await?;
    let live = store::usage::live(&ctx.db, tenant_id, at).await?;
    let agents = store::agents::count(&ctx.db, tenant_id).await?;
    let held = store::resources::measure(&ctx.db, tenant_id).await?;
    let count = |kind: ResourceKind| held.get(&kind).map_or(0, |(count, _)| *count);
    // Byte limits are stored in whole megabytes; a started one counts.
    let megabytes = |kind: ResourceKind| {
        held.get(&kind)
            .map_or(0, |(_, bytes)| (bytes + 999_999) / 1_000_000)
    };
    let measured = Measured {
        active_calls: live.active_calls,
        period_calls: live.usage.calls,
        period_seconds: live.usage.seconds,
        period_cost_cents: live.usage.cost_cents,
        agents: agents.total,
        phone_numbers: count(ResourceKind::PhoneNumber),
        squads: count(ResourceKind::Squad),
        file_megabytes: megabytes(ResourceKind::File),
        recording_megabytes: megabytes(ResourceKind::Recording),
        campaigns: 0,
    };
    let limits = LimitKey::ALL
        .iter()
        .map(|&key| LimitStatus {
            key,
            value: tenant.effective_limits.get(key),
            source: if tenant.usage_limits.get(key).is_some() {
                LimitSource::Tenant
            } else {
                LimitSource::Plan
            },
            used: measured.of(key.meter()),
        })
        .collect();
    Ok(LimitsReport {
        tenant_id,
        period: live.period,
        active_calls: live.active_calls,
        limits,
    })
}

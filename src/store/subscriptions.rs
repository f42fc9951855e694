//! The subscriptions repository: a tenant's one subscription, read with the tenant (the tenant
//! read joins it, see `store::tenants`), and written with the tenant's plan in one
//! transaction. Statements that key usage by billing period join it through [`window_join`],
//! so finding the period costs no statement of its own.

use chrono::{DateTime, NaiveDate, Utc};

use super::audit::record_change;
use super::{now, query, versioned_change, Db, Query, StoreError, StoreResult, Tx};
use crate::domain::access::TenantScope;
use crate::domain::ids::{PlanId, SubscriptionId, TenantId};
use crate::domain::metering::BillingWindow;
use crate::domain::subscription::{Subscription, SubscriptionFields};
use crate::domain::tenant::Tenant;
use crate::domain::values::PlanCode;

/// `LEFT JOIN subscriptions <alias>` to the subscription of the tenant whose id is `tenant`
/// (a column) whose current period is the billing period at the time bound as `at` (a `$N`
/// marker): one that is not canceled and whose `[start, end)` holds it.
/// `COALESCE(<alias>.period_start_day, …)` then keys that period's counters.
pub fn window_join(alias: &str, tenant: &str, at: &str) -> String {
    format!(
        " LEFT JOIN subscriptions {alias} ON {alias}.tenant_id = {tenant} \
         AND {alias}.status <> 'canceled' AND {alias}.current_period_start <= {at} \
         AND {alias}.current_period_end > {at}"
    )
}

/// `, <alias>.current_period_start AS window_start, <alias>.current_period_end AS window_end`:
/// the period a [`window_join`] found, read by [`WindowColumns`].
pub fn window_columns(alias: &str) -> String {
    format!(
        ", {alias}.current_period_start AS window_start, \
         {alias}.current_period_end AS window_end"
    )
}

/// The subscription period a [`window_join`] found, if any.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct WindowColumns {
    window_start: Option<DateTime<Utc>>,
    window_end: Option<DateTime<Utc>>,
}

impl WindowColumns {
    pub fn window(&self) -> Option<BillingWindow> {
        let (start, end) = self.window_start.zip(self.window_end)?;
        Some(BillingWindow { start, end })
    }
}

/// The columns [`SubscriptionColumns`] reads, from subscriptions aliased `alias` and their
/// plans aliased `plan`.
pub fn columns(alias: &str, plan: &str) -> String {
    format!(
        ", {alias}.id AS sub_id, {alias}.plan_id AS sub_plan_id, {plan}.code AS sub_plan_code, \
         {alias}.status AS sub_status, {alias}.billing_interval AS sub_billing_interval, \
         {alias}.current_period_start AS sub_period_start, \
         {alias}.current_period_end AS sub_period_end, \
         {alias}.external_billing_id AS sub_external_billing_id, \
         {alias}.cancel_at_period_end AS sub_cancel_at_period_end, \
         {alias}.created_at AS sub_created_at, {alias}.updated_at AS sub_updated_at"
    )
}

/// A subscription read as columns of its tenant's row; all `NULL` when it has none.
#[derive(Debug, sqlx::FromRow)]
pub struct SubscriptionColumns {
    sub_id: Option<SubscriptionId>,
    sub_plan_id: Option<PlanId>,
    sub_plan_code: Option<String>,
    sub_status: Option<String>,
    sub_billing_interval: Option<String>,
    sub_period_start: Option<DateTime<Utc>>,
    sub_period_end: Option<DateTime<Utc>>,
    sub_external_billing_id: Option<String>,
    sub_cancel_at_period_end: Option<bool>,
    sub_created_at: Option<DateTime<Utc>>,
    sub_updated_at: Option<DateTime<Utc>>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(anyhow::anyhow!(
        "a subscription's {what} does not read back"
    ))
}

impl SubscriptionColumns {
    pub fn into_subscription(self, tenant_id: TenantId) -> StoreResult<Option<Subscription>> {
        let Some(id) = self.sub_id else {
            return Ok(None);
        };
        let text = |value: Option<String>, what| value.ok_or_else(|| corrupt(what));
        let code = text(self.sub_plan_code, "plan")?;
        Ok(Some(Subscription {
            id,
            tenant_id,
            plan_id: self.sub_plan_id.ok_or_else(|| corrupt("plan"))?,
            plan_code: PlanCode::parse(&code).map_err(|_| corrupt("plan"))?,
            status: super::from_text(&text(self.sub_status, "status")?)?,
            billing_interval: super::from_text(&text(
                self.sub_billing_interval,
                "billing interval",
            )?)?,
            current_period_start: self.sub_period_start.ok_or_else(|| corrupt("period"))?,
            current_period_end: self.sub_period_end.ok_or_else(|| corrupt("period"))?,
            external_billing_id: self.sub_external_billing_id,
            cancel_at_period_end: self.sub_cancel_at_period_end.unwrap_or(false),
            created_at: self.sub_created_at.ok_or_else(|| corrupt("creation"))?,
            updated_at: self.sub_updated_at.ok_or_else(|| corrupt("version"))?,
        }))
    }
}

/// The billing window of a tenant's subscription, unless it is canceled, read in the caller's
/// transaction: for writers of usage that read nothing else of the tenant (ingestion), whose
/// moments may each fall in it or not.
pub async fn window_of(tx: &mut Tx, tenant_id: TenantId) -> StoreResult<Option<BillingWindow>> {
    let row: Option<WindowColumns> = tx.fetch_optional(window_query(tenant_id)).await?;
    Ok(row.and_then(|row| row.window()))
}

fn window_query(tenant_id: TenantId) -> Query<'static> {
    query(
        "SELECT current_period_start AS window_start, current_period_end AS window_end \
         FROM subscriptions WHERE tenant_id = $1 AND status <> 'canceled'",
    )
    .bind(tenant_id)
}

/// [`window_of`], read outside any transaction (for reports).
pub async fn window(db: &Db, tenant_id: TenantId) -> StoreResult<Option<BillingWindow>> {
    let row: Option<WindowColumns> = db.reader().fetch_optional(window_query(tenant_id)).await?;
    Ok(row.and_then(|row| row.window()))
}

/// Sets the subscription of the tenant `scope` reaches to `fields`, creating it if it has
/// none, and the tenant's plan to `plan_id`, in one transaction under the tenant's row lock.
/// `expected` is an `If-Match` version of the subscription: one with no subscription to
/// match is stale. Answers the tenant as it now is, and whether the subscription is new.
pub async fn put(
    tx: &mut Tx,
    scope: TenantScope,
    tenant_id: TenantId,
    plan_id: PlanId,
    fields: &SubscriptionFields,
    expected: Option<DateTime<Utc>>,
) -> StoreResult<(Tenant, bool)> {
    let current = super::tenants::locked(tx, scope, tenant_id).await?;
    let before = current.subscription.clone();
    let version = match &before {
        Some(subscription) => versioned_change(expected, subscription.updated_at)?,
        None if expected.is_some() => return Err(StoreError::Stale),
        None => now(),
    };
    upsert(tx, tenant_id, plan_id, fields, version).await?;
    let plan_changed = current.plan_details.id != plan_id;
    if plan_changed {
        tx.execute(
            query("UPDATE tenants SET plan_id = $2, updated_at = $3 WHERE id = $1")
                .bind(tenant_id)
                .bind(plan_id)
                .bind(super::next_version(current.updated_at)),
        )
        .await?;
    }
    let after = super::tenants::reread(tx, tenant_id).await?;
    let subscription = after.subscription.clone().ok_or_else(|| corrupt("row"))?;
    if plan_changed {
        record_change(tx, "tenant.updated", Some(&current), Some(&after)).await?;
    }
    let action = if before.is_some() {
        "subscription.updated"
    } else {
        "subscription.created"
    };
    record_change(tx, action, before.as_ref(), Some(&subscription)).await?;
    Ok((after, before.is_none()))
}

/// Writes the tenant's subscription as `fields` say, versioned `version`: a new one, or its
/// current one changed in place (it keeps its id and creation time).
async fn upsert(
    tx: &mut Tx,
    tenant_id: TenantId,
    plan_id: PlanId,
    fields: &SubscriptionFields,
    version: DateTime<Utc>,
) -> StoreResult<()> {
    tx.execute(
        query(
            "INSERT INTO subscriptions (id, tenant_id, plan_id, status, billing_interval, \
             current_period_start, current_period_end, period_start_day, external_billing_id, \
             cancel_at_period_end, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (tenant_id) DO UPDATE SET plan_id = excluded.plan_id, \
             status = excluded.status, billing_interval = excluded.billing_interval, \
             current_period_start = excluded.current_period_start, \
             current_period_end = excluded.current_period_end, \
             period_start_day = excluded.period_start_day, \
             external_billing_id = excluded.external_billing_id, \
             cancel_at_period_end = excluded.cancel_at_period_end, \
             updated_at = excluded.updated_at",
        )
        .bind(SubscriptionId::generate())
        .bind(tenant_id)
        .bind(plan_id)
        .bind(<&str>::from(fields.status))
        .bind(<&str>::from(fields.billing_interval))
        .bind(fields.current_period_start)
        .bind(fields.current_period_end)
        .bind(period_start_day(fields))
        .bind(fields.external_billing_id.as_deref())
        .bind(fields.cancel_at_period_end)
        .bind(version),
    )
    .await?;
    Ok(())
}

/// Keeps the subscription of a tenant whose row the caller has locked on the tenant's plan,
/// when that changes to `plan_id`. It reads the subscription in a statement after the lock:
/// on PostgreSQL the locking statement's joined rows may predate the lock.
pub async fn follow_plan(tx: &mut Tx, tenant_id: TenantId, plan_id: PlanId) -> StoreResult<()> {
    let current: Option<(PlanId, DateTime<Utc>)> = tx
        .fetch_optional(
            query("SELECT plan_id, updated_at FROM subscriptions WHERE tenant_id = $1")
                .bind(tenant_id),
        )
        .await?;
    let Some((_, version)) = current.filter(|(current, _)| *current != plan_id) else {
        return Ok(());
    };
    tx.execute(
        query("UPDATE subscriptions SET plan_id = $2, updated_at = $3 WHERE tenant_id = $1")
            .bind(tenant_id)
            .bind(plan_id)
            .bind(super::next_version(version)),
    )
    .await?;
    Ok(())
}

/// The day that keys a period's counters: the UTC day it starts on.
fn period_start_day(fields: &SubscriptionFields) -> NaiveDate {
    BillingWindow {
        start: fields.current_period_start,
        end: fields.current_period_end,
    }
    .period()
    .start
}

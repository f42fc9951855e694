//! A tenant's usage counters: the `tenant_counters` row, which is the lock of everything
//! admission compares against, the period counters (`tenant_usage`), the daily rollups
//! (`usage_daily`) and the monthly series agency reports read ([`monthly`]).
//!
//! Every writer of them (admission, call end, lease expiry, ingestion, agent creation) takes
//! [`lock`] first, and all take their locks in one order: `tenant_counters`, then `calls`, then
//! `tenant_usage`, then `usage_daily`, then `usage_monthly`. Counters change in the same
//! transaction as what they count.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::monthly::{self, Amount, Series};
use super::{query, StoreResult, Tx};
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::metering::{checked_add, sentiment_to_micros, Channel, Counter, PeriodUsage};

/// What a writer learns from the counters row it locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub active_calls: i64,
    pub series: Series,
}

type LockedRow = (
    i64,
    Option<AgencyId>,
    Option<NaiveDate>,
    Option<NaiveDate>,
    i64,
    i64,
);

/// Locks the tenant's counters row until the transaction ends and returns what it holds, or
/// `None` when the tenant has no counters row.
///
/// Take the lock in a statement of its own, before anything it guards is read. Under
/// PostgreSQL's READ COMMITTED, a statement that waited for a row lock re-reads only the locked
/// row: other rows it joins still come from the snapshot taken before the wait. A later
/// statement takes a new snapshot, which holds everything the previous lock holders committed.
pub async fn lock(tx: &mut Tx, tenant_id: TenantId) -> StoreResult<Option<Locked>> {
    let sql = format!(
        "SELECT active_calls, agency_id, first_usage_month, last_usage_month, \
         conversations_total, cost_cents_total FROM tenant_counters WHERE tenant_id = $1{}",
        tx.backend().lock_clause("tenant_counters")
    );
    let row: Option<LockedRow> = tx.fetch_optional(query(sql).bind(tenant_id)).await?;
    Ok(row.map(
        |(active_calls, agency_id, first, last, conversations, cost_cents)| Locked {
            active_calls,
            series: Series {
                agency_id,
                months: first.zip(last),
                totals: Amount {
                    conversations,
                    cost_cents,
                },
            },
        },
    ))
}

/// Counts an admitted call as active, and as the tenant's last call.
pub async fn add_active_call(
    tx: &mut Tx,
    tenant_id: TenantId,
    started_at: DateTime<Utc>,
) -> StoreResult<()> {
    tx.execute(
        query(
            "UPDATE tenant_counters SET active_calls = active_calls + 1, last_call_at = $2 \
             WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .bind(started_at),
    )
    .await?;
    Ok(())
}

/// Gives back the slot of a call that is no longer active.
pub async fn release_active_call(tx: &mut Tx, tenant_id: TenantId) -> StoreResult<()> {
    tx.execute(
        query("UPDATE tenant_counters SET active_calls = active_calls - 1 WHERE tenant_id = $1")
            .bind(tenant_id),
    )
    .await?;
    Ok(())
}

/// Adds to a period's usage; creates the row on first use.
pub async fn add_period_usage(
    tx: &mut Tx,
    tenant_id: TenantId,
    period_start: NaiveDate,
    usage: PeriodUsage,
) -> StoreResult<()> {
    tx.execute(
        query(
            "INSERT INTO tenant_usage (tenant_id, period_start, calls, seconds, cost_cents) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, period_start) DO UPDATE SET \
             calls = tenant_usage.calls + excluded.calls, \
             seconds = tenant_usage.seconds + excluded.seconds, \
             cost_cents = tenant_usage.cost_cents + excluded.cost_cents",
        )
        .bind(tenant_id)
        .bind(period_start)
        .bind(usage.calls)
        .bind(usage.seconds)
        .bind(usage.cost_cents),
    )
    .await?;
    Ok(())
}

/// Usage of completed conversations to record, by day and channel.
#[derive(Debug, Clone, Default)]
pub struct UsageByDay {
    deltas: BTreeMap<(NaiveDate, Channel), DailyDelta>,
}

impl UsageByDay {
    /// Adds conversations of one day and channel; a sum that does not fit is the overflow of
    /// its counter.
    pub fn add(
        &mut self,
        day: NaiveDate,
        channel: Channel,
        conversations: i64,
        seconds: i64,
        cost: i64,
        sentiment: Option<f64>,
    ) -> StoreResult<()> {
        self.deltas
            .entry((day, channel))
            .or_default()
            .add(conversations, seconds, cost, sentiment)
    }
}

/// Records usage in the daily rollups and in the tenant's monthly series, which move together.
/// `locked` is what [`lock`] returned in this transaction.
pub async fn record_usage(
    tx: &mut Tx,
    tenant_id: TenantId,
    locked: &Locked,
    usage: &UsageByDay,
) -> StoreResult<()> {
    let mut days: BTreeMap<NaiveDate, Amount> = BTreeMap::new();
    for ((day, channel), delta) in &usage.deltas {
        add_daily_usage(tx, tenant_id, *day, *channel, delta).await?;
        let total = days.entry(*day).or_default();
        *total = total.plus(Amount {
            conversations: delta.conversations,
            cost_cents: delta.cost_cents,
        })?;
    }
    monthly::add(tx, tenant_id, &locked.series, &days).await
}

/// Adds to one day's rollup for a channel; creates the row on first use.
async fn add_daily_usage(
    tx: &mut Tx,
    tenant_id: TenantId,
    day: NaiveDate,
    channel: Channel,
    delta: &DailyDelta,
) -> StoreResult<()> {
    tx.execute(
        query(
            "INSERT INTO usage_daily (tenant_id, day, channel, conversations, seconds, cost_cents, \
             sentiment_micros_sum, sentiment_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, day, channel) DO UPDATE SET \
             conversations = usage_daily.conversations + excluded.conversations, \
             seconds = usage_daily.seconds + excluded.seconds, \
             cost_cents = usage_daily.cost_cents + excluded.cost_cents, \
             sentiment_micros_sum = usage_daily.sentiment_micros_sum + excluded.sentiment_micros_sum, \
             sentiment_count = usage_daily.sentiment_count + excluded.sentiment_count",
        )
        .bind(tenant_id)
        .bind(day)
        .bind(<&'static str>::from(channel))
        .bind(delta.conversations)
        .bind(delta.seconds)
        .bind(delta.cost_cents)
        .bind(delta.sentiment_micros_sum)
        .bind(delta.sentiment_count),
    )
    .await?;
    Ok(())
}

/// What one or more conversations add to a daily rollup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DailyDelta {
    conversations: i64,
    seconds: i64,
    cost_cents: i64,
    sentiment_micros_sum: i64,
    sentiment_count: i64,
}

impl DailyDelta {
    /// Adds conversations; a sum that does not fit is the overflow of its counter.
    fn add(
        &mut self,
        conversations: i64,
        seconds: i64,
        cost: i64,
        sentiment: Option<f64>,
    ) -> StoreResult<()> {
        let mut next = *self;
        next.conversations =
            checked_add(next.conversations, conversations, Counter::Conversations)?;
        next.seconds = checked_add(next.seconds, seconds, Counter::Seconds)?;
        next.cost_cents = checked_add(next.cost_cents, cost, Counter::CostCents)?;
        if let Some(score) = sentiment {
            let micros = sentiment_to_micros(score);
            next.sentiment_micros_sum =
                checked_add(next.sentiment_micros_sum, micros, Counter::Sentiment)?;
            next.sentiment_count = checked_add(next.sentiment_count, 1, Counter::Sentiment)?;
        }
        *self = next;
        Ok(())
    }
}

//! Usage: batch ingestion of completed calls, and the counters and rollups that stats and
//! analytics read (never the calls themselves).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::counters::{self, DailyDelta};
use super::{from_text, now, query, Backend, Db, StoreError, StoreResult};
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::metering::{
    sentiment_to_micros, Channel, IngestOutcome, Period, PeriodUsage, UsageEvent,
};

/// Columns bound per event in the multi-row insert.
const EVENT_COLUMNS: usize = 9;

/// `INSERT … VALUES (…), (…) … RETURNING id` for `rows` events.
fn insert_events_sql(rows: usize, backend: Backend) -> String {
    let mut sql = String::with_capacity(160 + rows * EVENT_COLUMNS * 6);
    sql.push_str(
        "INSERT INTO usage_events (tenant_id, id, occurred_at, channel, duration_seconds, \
         cost_cents, sentiment_micros, agent_id, received_at) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&backend.placeholders(row * EVENT_COLUMNS + 1, EVENT_COLUMNS));
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id");
    sql
}

/// One day and channel of a tenant's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUsage {
    pub day: NaiveDate,
    pub channel: Channel,
    pub conversations: i64,
    pub seconds: i64,
    pub cost_cents: i64,
    pub sentiment_micros_sum: i64,
    pub sentiment_count: i64,
}

#[derive(sqlx::FromRow)]
struct DailyUsageRow {
    day: NaiveDate,
    channel: String,
    conversations: i64,
    seconds: i64,
    cost_cents: i64,
    sentiment_micros_sum: i64,
    sentiment_count: i64,
}

impl TryFrom<DailyUsageRow> for DailyUsage {
    type Error = StoreError;

    fn try_from(row: DailyUsageRow) -> StoreResult<DailyUsage> {
        Ok(DailyUsage {
            day: row.day,
            channel: from_text(&row.channel)?,
            conversations: row.conversations,
            seconds: row.seconds,
            cost_cents: row.cost_cents,
            sentiment_micros_sum: row.sentiment_micros_sum,
            sentiment_count: row.sentiment_count,
        })
    }
}

/// One tenant's totals over a date range, summed wide: many rows near the counters' ceiling
/// add up past `i64::MAX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantTotals {
    pub id: TenantId,
    pub name: String,
    pub conversations: i128,
    pub cost_cents: i128,
}

/// [`TenantTotals`] as SQL returns them: each sum in a high and a low 32-bit half.
#[derive(sqlx::FromRow)]
struct SplitTotalsRow {
    id: TenantId,
    name: String,
    conversations_high: i64,
    conversations_low: i64,
    cost_cents_high: i64,
    cost_cents_low: i64,
}

/// A sum taken in halves: `SUM(x >> 32)` and `SUM(x & 0xFFFFFFFF)` of non-negative counters
/// each stay far inside `i64` (a group would need 2^32 rows to overflow), where `SUM(x)`
/// fails on both backends once it passes `i64::MAX`.
fn join_halves(high: i64, low: i64) -> i128 {
    (i128::from(high) << 32) + i128::from(low)
}

/// Active calls, last call, and the period's calls, seconds and cost (absent before use).
type LiveUsageRow = (
    i64,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// What the counters say of a tenant right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveUsage {
    pub period: PeriodUsage,
    pub active_calls: i64,
    pub last_call_at: Option<DateTime<Utc>>,
}

/// Stores a checked batch: each id once per tenant, counters and rollups in the same
/// transaction. Ids are inserted in sorted order, so overlapping concurrent batches take
/// their locks in the same order and cannot deadlock.
pub async fn ingest(
    db: &Db,
    tenant_id: TenantId,
    events: &[UsageEvent],
) -> StoreResult<IngestOutcome> {
    let mut unique: Vec<&UsageEvent> = Vec::with_capacity(events.len());
    let mut seen = HashSet::with_capacity(events.len());
    for event in events {
        if seen.insert(event.id.as_str()) {
            unique.push(event);
        }
    }
    unique.sort_by(|a, b| a.id.cmp(&b.id));
    let all_duplicates = IngestOutcome {
        accepted: 0,
        duplicates: events.len() as i64,
    };
    if unique.is_empty() {
        return Ok(all_duplicates);
    }
    let received_at = now();
    let mut tx = db.begin().await?;
    let mut insert = query(insert_events_sql(unique.len(), tx.backend()));
    for event in &unique {
        insert.push(tenant_id);
        insert.push(event.id.as_str());
        insert.push(event.occurred_at);
        insert.push(<&'static str>::from(event.channel));
        insert.push(event.duration_seconds);
        insert.push(event.cost_cents);
        insert.push(event.sentiment_score.map(sentiment_to_micros));
        insert.push(event.agent_id);
        insert.push(received_at);
    }
    let inserted: Vec<(String,)> = tx.fetch_all(insert).await?;
    if inserted.is_empty() {
        // All duplicates: nothing to count, nothing to commit.
        return Ok(all_duplicates);
    }
    // Usage counters change only under the lock admission reads them under.
    counters::lock(&mut tx, tenant_id).await?;
    let accepted: HashSet<&str> = inserted.iter().map(|(id,)| id.as_str()).collect();
    let mut periods: BTreeMap<NaiveDate, PeriodUsage> = BTreeMap::new();
    let mut days: BTreeMap<(NaiveDate, Channel), DailyDelta> = BTreeMap::new();
    for event in unique.iter().filter(|e| accepted.contains(e.id.as_str())) {
        periods
            .entry(Period::containing(event.occurred_at).start)
            .or_default()
            .add(1, event.duration_seconds, event.cost_cents)?;
        days.entry((event.occurred_at.date_naive(), event.channel))
            .or_default()
            .add(
                1,
                event.duration_seconds,
                event.cost_cents,
                event.sentiment_score,
            )?;
    }
    for (period, usage) in periods {
        counters::add_period_usage(&mut tx, tenant_id, period, usage).await?;
    }
    for ((day, channel), delta) in &days {
        counters::add_daily_usage(&mut tx, tenant_id, *day, *channel, delta).await?;
    }
    tx.commit().await?;
    let accepted = inserted.len() as i64;
    Ok(IngestOutcome {
        accepted,
        duplicates: events.len() as i64 - accepted,
    })
}

/// The counters of a tenant for the period holding `at`.
pub async fn live(db: &Db, tenant_id: TenantId, at: DateTime<Utc>) -> StoreResult<LiveUsage> {
    let row: Option<LiveUsageRow> = db
        .reader()
        .fetch_optional(
            query(
                "SELECT c.active_calls, c.last_call_at, u.calls, u.seconds, u.cost_cents \
                 FROM tenant_counters c LEFT JOIN tenant_usage u \
                 ON u.tenant_id = c.tenant_id AND u.period_start = $2 WHERE c.tenant_id = $1",
            )
            .bind(tenant_id)
            .bind(Period::containing(at).start),
        )
        .await?;
    Ok(row.map_or_else(
        LiveUsage::default,
        |(active, last, calls, seconds, cost)| LiveUsage {
            period: PeriodUsage {
                calls: calls.unwrap_or(0),
                seconds: seconds.unwrap_or(0),
                cost_cents: cost.unwrap_or(0),
            },
            active_calls: active,
            last_call_at: last,
        },
    ))
}

/// Daily rollups of a tenant from `from` to `to`, both included.
pub async fn daily(
    db: &Db,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<Vec<DailyUsage>> {
    let rows: Vec<DailyUsageRow> = db
        .reader()
        .fetch_all(
            query(
                "SELECT day, channel, conversations, seconds, cost_cents, sentiment_micros_sum, \
                 sentiment_count FROM usage_daily \
                 WHERE tenant_id = $1 AND day >= $2 AND day <= $3 ORDER BY day, channel",
            )
            .bind(tenant_id)
            .bind(from)
            .bind(to),
        )
        .await?;
    rows.into_iter().map(DailyUsage::try_from).collect()
}

/// Each tenant of an agency with usage from `from` to `to`, with its totals.
pub async fn agency_tenant_totals(
    db: &Db,
    agency_id: AgencyId,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<Vec<TenantTotals>> {
    let rows: Vec<SplitTotalsRow> = db
        .reader()
        .fetch_all(
            query(
                "SELECT t.id, t.name, \
                 CAST(SUM(d.conversations >> 32) AS BIGINT) AS conversations_high, \
                 CAST(SUM(d.conversations & 4294967295) AS BIGINT) AS conversations_low, \
                 CAST(SUM(d.cost_cents >> 32) AS BIGINT) AS cost_cents_high, \
                 CAST(SUM(d.cost_cents & 4294967295) AS BIGINT) AS cost_cents_low \
                 FROM tenants t JOIN usage_daily d ON d.tenant_id = t.id \
                 WHERE t.agency_id = $1 AND t.status <> 'deleted' AND d.day >= $2 AND d.day <= $3 \
                 GROUP BY t.id, t.name",
            )
            .bind(agency_id)
            .bind(from)
            .bind(to),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| TenantTotals {
            id: row.id,
            name: row.name,
            conversations: join_halves(row.conversations_high, row.conversations_low),
            cost_cents: join_halves(row.cost_cents_high, row.cost_cents_low),
        })
        .collect())
}

/// How many tenants an agency has, and how many are active.
pub async fn agency_tenant_counts(db: &Db, agency_id: AgencyId) -> StoreResult<(i64, i64)> {
    let (total, active): (i64, Option<i64>) = db
        .reader()
        .fetch_one(
            query(
                "SELECT COUNT(*), CAST(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) AS BIGINT) \
                 FROM tenants WHERE agency_id = $1 AND status <> 'deleted'",
            )
            .bind(agency_id),
        )
        .await?;
    Ok((total, active.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_numbers_every_column() {
        assert!(insert_events_sql(2, Backend::Sqlite).contains("(?, ?, ?, ?, ?, ?, ?, ?, ?), (?,"));
        let sql = insert_events_sql(2, Backend::Postgres);
        assert!(sql.contains("($1, $2, $3, $4, $5, $6, $7, $8, $9), ($10,"));
        assert!(sql.ends_with("($10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id"));
    }

    #[test]
    fn halves_join_into_the_exact_sum() {
        let values = [i64::MAX, 9_000_000_000_000_000_000, 4_294_967_295, 1, 0];
        let high: i64 = values.iter().map(|v| v >> 32).sum();
        let low: i64 = values.iter().map(|v| v & 0xFFFF_FFFF).sum();
        let exact: i128 = values.iter().map(|v| i128::from(*v)).sum();
        assert_eq!(join_halves(high, low), exact);
    }
}

//! Usage: batch ingestion of completed calls, and the counters and rollups that stats and
//! analytics read (never the calls themselves).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::alerts::{self, AlertOutcome};
use super::counters::{self, UsageByDay};
use super::subscriptions::{self, WindowColumns};
use super::{from_text, now, query, Backend, Db, Query, StoreError, StoreResult};
use crate::domain::analytics::Activity;
use crate::domain::ids::TenantId;
use crate::domain::metering::{
    sentiment_to_micros, BillingWindow, Channel, IngestOutcome, Period, PeriodUsage, UsageEvent,
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

/// Active calls, last call, the period's calls, seconds and cost (absent before use), and
/// the subscription period that is the billing period, if one is.
#[derive(sqlx::FromRow)]
struct LiveUsageRow {
    active_calls: i64,
    last_call_at: Option<DateTime<Utc>>,
    calls: Option<i64>,
    seconds: Option<i64>,
    cost_cents: Option<i64>,
    #[sqlx(flatten)]
    window: WindowColumns,
}

/// What the counters say of a tenant right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveUsage {
    /// The billing period the usage is of.
    pub period: Period,
    pub usage: PeriodUsage,
    pub active_calls: i64,
    pub last_call_at: Option<DateTime<Utc>>,
}

/// The batch's events, each id once, sorted by id.
fn unique_by_id(events: &[UsageEvent]) -> Vec<&UsageEvent> {
    let mut unique: Vec<&UsageEvent> = Vec::with_capacity(events.len());
    let mut seen = HashSet::with_capacity(events.len());
    for event in events {
        if seen.insert(event.id.as_str()) {
            unique.push(event);
        }
    }
    unique.sort_by(|a, b| a.id.cmp(&b.id));
    unique
}

/// What the accepted events add, by billing period (the subscription's `window` for the
/// events it holds, else their calendar month) and by day and channel.
fn sum_accepted(
    unique: &[&UsageEvent],
    accepted: &HashSet<&str>,
    window: Option<BillingWindow>,
) -> StoreResult<(BTreeMap<NaiveDate, PeriodUsage>, UsageByDay)> {
    let mut periods: BTreeMap<NaiveDate, PeriodUsage> = BTreeMap::new();
    let mut days = UsageByDay::default();
    for event in unique.iter().filter(|e| accepted.contains(e.id.as_str())) {
        periods
            .entry(Period::billing(event.occurred_at, window).start)
            .or_default()
            .add(1, event.duration_seconds, event.cost_cents)?;
        days.add(
            event.occurred_at.date_naive(),
            event.channel,
            1,
            event.duration_seconds,
            event.cost_cents,
            event.sentiment_score,
        )?;
    }
    Ok((periods, days))
}

/// Stores a checked batch: each id once per tenant, counters and rollups in the same
/// transaction, and the alerts they reach. Ids are inserted in sorted order, so overlapping
/// concurrent batches take their locks in the same order and cannot deadlock.
pub async fn ingest(
    db: &Db,
    tenant_id: TenantId,
    events: &[UsageEvent],
) -> StoreResult<(IngestOutcome, AlertOutcome)> {
    let unique = unique_by_id(events);
    let all_duplicates = IngestOutcome {
        accepted: 0,
        duplicates: events.len() as i64,
    };
    if unique.is_empty() {
        return Ok((all_duplicates, AlertOutcome::default()));
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
        return Ok((all_duplicates, AlertOutcome::default()));
    }
    // Usage counters change only under the lock admission reads them under.
    let locked = counters::lock(&mut tx, tenant_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let accepted: HashSet<&str> = inserted.iter().map(|(id,)| id.as_str()).collect();
    let window = subscriptions::window_of(&mut tx, tenant_id).await?;
    let (periods, days) = sum_accepted(&unique, &accepted, window)?;
    let touched: Vec<NaiveDate> = periods.keys().copied().collect();
    for (period, usage) in periods {
        counters::add_period_usage(&mut tx, tenant_id, period, usage).await?;
    }
    counters::record_usage(&mut tx, tenant_id, &locked, &days).await?;
    let mut alerted = AlertOutcome::default();
    for period in touched {
        let more = alerts::fire_reached(&mut tx, tenant_id, period, received_at).await?;
        alerted.fired.extend(more.fired);
        alerted.mailed |= more.mailed;
    }
    tx.commit().await?;
    let accepted = inserted.len() as i64;
    let outcome = IngestOutcome {
        accepted,
        duplicates: events.len() as i64 - accepted,
    };
    Ok((outcome, alerted))
}

/// The counters of a tenant for its billing period holding `at` (its subscription's, joined,
/// or the calendar month).
pub async fn live(db: &Db, tenant_id: TenantId, at: DateTime<Utc>) -> StoreResult<LiveUsage> {
    let sql = format!(
        "SELECT c.active_calls, c.last_call_at, u.calls, u.seconds, u.cost_cents{} \
         FROM tenant_counters c{} LEFT JOIN tenant_usage u ON u.tenant_id = c.tenant_id \
         AND u.period_start = COALESCE(s.period_start_day, $2) WHERE c.tenant_id = $1",
        subscriptions::window_columns("s"),
        subscriptions::window_join("s", "c.tenant_id", "$3"),
    );
    let row: Option<LiveUsageRow> = db
        .reader()
        .fetch_optional(
            query(sql)
                .bind(tenant_id)
                .bind(Period::containing(at).start)
                .bind(at),
        )
        .await?;
    Ok(match row {
        None => LiveUsage {
            period: Period::containing(at),
            usage: PeriodUsage::default(),
            active_calls: 0,
            last_call_at: None,
        },
        Some(row) => LiveUsage {
            period: Period::billing(at, row.window.window()),
            usage: PeriodUsage {
                calls: row.calls.unwrap_or(0),
                seconds: row.seconds.unwrap_or(0),
                cost_cents: row.cost_cents.unwrap_or(0),
            },
            active_calls: row.active_calls,
            last_call_at: row.last_call_at,
        },
    })
}

/// Agents, lifetime usage and live counters of each of `ids`, in one query: each figure is a
/// lookup on its table's tenant index. A tenant without counters yet shows zeros.
pub async fn activity(db: &Db, ids: &[TenantId]) -> StoreResult<HashMap<TenantId, Activity>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let reader = db.reader();
    let select = activity_query(reader.backend(), ids);
    let rows: Vec<ActivityRow> = reader.fetch_all(select).await?;
    Ok(rows
        .into_iter()
        .map(|(id, agents, calls, seconds, active, last)| {
            let activity = Activity {
                agents,
                lifetime_calls: calls.unwrap_or(0),
                lifetime_seconds: seconds.unwrap_or(0),
                active_calls: active.unwrap_or(0),
                last_call_at: last,
            };
            (id, activity)
        })
        .collect())
}

/// The statement of [`activity`], for its query plan.
pub fn activity_query(backend: Backend, ids: &[TenantId]) -> Query<'static> {
    let sql = format!(
        "SELECT t.id, \
         (SELECT COUNT(*) FROM agents a WHERE a.tenant_id = t.id) AS agents, \
         (SELECT CAST(SUM(u.calls) AS BIGINT) FROM tenant_usage u WHERE u.tenant_id = t.id) AS calls, \
         (SELECT CAST(SUM(u.seconds) AS BIGINT) FROM tenant_usage u WHERE u.tenant_id = t.id) \
         AS seconds, c.active_calls, c.last_call_at \
         FROM tenants t LEFT JOIN tenant_counters c ON c.tenant_id = t.id WHERE t.id IN ({})",
        backend.placeholders(1, ids.len())
    );
    let mut select = query(sql);
    for id in ids {
        select.push(*id);
    }
    select
}

type ActivityRow = (
    TenantId,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<DateTime<Utc>>,
);

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
}

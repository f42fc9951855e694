//! Monthly running totals of each tenant's usage in its agency (`usage_monthly`), which agency
//! reports read instead of the daily rollups. Migration 0007 describes the shape: a row for
//! every month from a tenant's first usage to its last, holding the totals before the month
//! and through each of its days. The totals of any range of days are then the difference of
//! two values, read from two rows.
//!
//! Writers hold the tenant's counters lock ([`super::counters::lock`]), which also hands them
//! the tenant's [`Series`]: a write in the series' last month is one `UPDATE`, and only a late
//! write, into an earlier month, also moves the later months' starting totals.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::{query, Db, Query, StoreError, StoreResult, Tx};
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::metering::{Counter, MAX_COUNTER};

/// Days a month row has a column for; day 31 is the month's end in shorter months too.
const DAYS: usize = 31;

/// What agency reports count of usage: conversations and their cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount {
    pub conversations: i64,
    pub cost_cents: i64,
}

impl Amount {
    /// The sum, or the counter it would take past [`MAX_COUNTER`].
    pub fn plus(self, other: Amount) -> Result<Amount, Counter> {
        let bounded = |a: i64, b: i64, counter| {
            a.checked_add(b)
                .filter(|sum| *sum <= MAX_COUNTER)
                .ok_or(counter)
        };
        Ok(Amount {
            conversations: bounded(
                self.conversations,
                other.conversations,
                Counter::Conversations,
            )?,
            cost_cents: bounded(self.cost_cents, other.cost_cents, Counter::CostCents)?,
        })
    }

    /// How much `self` exceeds `earlier`, a total through an earlier day of the same series.
    fn since(self, earlier: Amount) -> Amount {
        Amount {
            conversations: self.conversations - earlier.conversations,
            cost_cents: self.cost_cents - earlier.cost_cents,
        }
    }

    fn is_zero(self) -> bool {
        self == Amount::default()
    }
}

/// A tenant's usage series in its agency, as its counters row keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Series {
    /// The agency the usage counts for; a tenant of no agency keeps no series.
    pub agency_id: Option<AgencyId>,
    /// The first and last months with a row, if any.
    pub months: Option<(NaiveDate, NaiveDate)>,
    /// Everything the series holds.
    pub totals: Amount,
}

impl Series {
    /// The totals through `day`: nothing before the first month, everything after the last,
    /// and in between what the month's row says (`row`, read by the caller).
    fn through(&self, day: NaiveDate, row: Option<Amount>) -> StoreResult<Amount> {
        let month = month_of(day);
        match self.months {
            Some((first, _)) if month < first => Ok(Amount::default()),
            Some((_, last)) if month > last => Ok(self.totals),
            None => Ok(Amount::default()),
            Some(_) => row.ok_or_else(|| {
                StoreError::Corrupt(anyhow::anyhow!(
                    "usage_monthly has no row for {month} inside its series"
                ))
            }),
        }
    }
}

/// The first day of the month holding `day`.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

fn next_month(month: NaiveDate) -> NaiveDate {
    month
        .checked_add_months(Months::new(1))
        .expect("months stay far inside chrono's range")
}

/// Column names of the totals through `day` (1 to 31) of a month.
fn day_columns(day: usize) -> [String; 2] {
    [
        format!("conversations_d{day:02}"),
        format!("cost_cents_d{day:02}"),
    ]
}

/// Adds usage, by day, to the tenant's series, and saves the series on its counters row.
/// `series` is what [`super::counters::lock`] read under the lock this transaction holds.
pub async fn add(
    tx: &mut Tx,
    tenant_id: TenantId,
    series: &Series,
    days: &BTreeMap<NaiveDate, Amount>,
) -> StoreResult<()> {
    let Some(agency_id) = series.agency_id else {
        return Ok(());
    };
    let mut by_month: BTreeMap<NaiveDate, [Amount; DAYS]> = BTreeMap::new();
    for (day, amount) in days {
        let month = by_month
            .entry(month_of(*day))
            .or_insert([Amount::default(); DAYS]);
        let slot = &mut month[day.day0() as usize];
        *slot = slot.plus(*amount)?;
    }
    let mut state = *series;
    let row = RowKey {
        tenant_id,
        agency_id,
    };
    for (month, per_day) in by_month {
        let running = running_totals(&per_day)?;
        let added = running[DAYS - 1];
        if added.is_zero() {
            continue;
        }
        let totals = state.totals.plus(added)?;
        state.months = Some(match state.months {
            None => {
                row.insert(tx, month, Amount::default(), &running).await?;
                (month, month)
            }
            Some((first, last)) if month > last => {
                row.insert_gap(tx, next_month(last), month, state.totals)
                    .await?;
                row.insert(tx, month, state.totals, &running).await?;
                (first, month)
            }
            Some((first, last)) if month < first => {
                row.shift_after(tx, month, added).await?;
                row.insert(tx, month, Amount::default(), &running).await?;
                row.insert_gap(tx, next_month(month), first, added).await?;
                (month, last)
            }
            Some((first, last)) => {
                row.add_to_days(tx, month, &running).await?;
                if month < last {
                    row.shift_after(tx, month, added).await?;
                }
                (first, last)
            }
        });
        state.totals = totals;
    }
    let (first, last) = state.months.unzip();
    tx.execute(
        query(
            "UPDATE tenant_counters SET first_usage_month = $2, last_usage_month = $3, \
             conversations_total = $4, cost_cents_total = $5 WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .bind(first)
        .bind(last)
        .bind(state.totals.conversations)
        .bind(state.totals.cost_cents),
    )
    .await?;
    Ok(())
}

/// Running totals through each day of a month, from what each day adds.
fn running_totals(per_day: &[Amount; DAYS]) -> Result<[Amount; DAYS], Counter> {
    let mut running = [Amount::default(); DAYS];
    let mut sum = Amount::default();
    for (day, amount) in per_day.iter().enumerate() {
        sum = sum.plus(*amount)?;
        running[day] = sum;
    }
    Ok(running)
}

/// The rows of one tenant's series in one agency.
struct RowKey {
    tenant_id: TenantId,
    agency_id: AgencyId,
}

impl RowKey {
    /// A new month row: `before` the month, then `running` through each of its days.
    async fn insert(
        &self,
        tx: &mut Tx,
        month: NaiveDate,
        before: Amount,
        running: &[Amount; DAYS],
    ) -> StoreResult<()> {
        let columns = (1..=DAYS)
            .map(|day| day_columns(day)[0].clone())
            .chain((1..=DAYS).map(|day| day_columns(day)[1].clone()))
            .collect::<Vec<_>>()
            .join(", ");
        let placeholders = tx.backend().placeholders(1, 5 + 2 * DAYS);
        let mut insert = query(format!(
            "INSERT INTO usage_monthly (tenant_id, agency_id, month, conversations_before, \
             cost_cents_before, {columns}) VALUES ({placeholders})"
        ));
        insert.push(self.tenant_id);
        insert.push(self.agency_id);
        insert.push(month);
        insert.push(before.conversations);
        insert.push(before.cost_cents);
        for amount in running {
            insert.push(amount.conversations);
        }
        for amount in running {
            insert.push(amount.cost_cents);
        }
        tx.execute(insert).await?;
        Ok(())
    }

    /// Rows without usage for the months from `from` up to (not including) `until`, each
    /// starting at `before`, so that every month of the series has its row.
    async fn insert_gap(
        &self,
        tx: &mut Tx,
        from: NaiveDate,
        until: NaiveDate,
        before: Amount,
    ) -> StoreResult<()> {
        let mut months = Vec::new();
        let mut month = from;
        while month < until {
            months.push(month);
            month = next_month(month);
        }
        if months.is_empty() {
            return Ok(());
        }
        let backend = tx.backend();
        let values: Vec<String> = (0..months.len())
            .map(|row| format!("({})", backend.placeholders(row * 5 + 1, 5)))
            .collect();
        let mut insert = query(format!(
            "INSERT INTO usage_monthly (tenant_id, agency_id, month, conversations_before, \
             cost_cents_before) VALUES {}",
            values.join(", ")
        ));
        for month in months {
            insert.push(self.tenant_id);
            insert.push(self.agency_id);
            insert.push(month);
            insert.push(before.conversations);
            insert.push(before.cost_cents);
        }
        tx.execute(insert).await?;
        Ok(())
    }

    /// Adds running totals to an existing month row, from the first day they change on.
    async fn add_to_days(
        &self,
        tx: &mut Tx,
        month: NaiveDate,
        running: &[Amount; DAYS],
    ) -> StoreResult<()> {
        let first = running
            .iter()
            .position(|a| !a.is_zero())
            .unwrap_or(DAYS - 1);
        let mut sets = Vec::with_capacity(2 * (DAYS - first));
        for (n, day) in (first..DAYS).enumerate() {
            let [conversations, cost] = day_columns(day + 1);
            let param = 4 + 2 * n;
            sets.push(format!("{conversations} = {conversations} + ${param}"));
            sets.push(format!("{cost} = {cost} + ${}", param + 1));
        }
        let mut update = query(format!(
            "UPDATE usage_monthly SET {} WHERE tenant_id = $1 AND agency_id = $2 AND month = $3",
            sets.join(", ")
        ));
        update.push(self.tenant_id);
        update.push(self.agency_id);
        update.push(month);
        for amount in &running[first..] {
            update.push(amount.conversations);
            update.push(amount.cost_cents);
        }
        if tx.execute(update).await? != 1 {
            return Err(StoreError::Corrupt(anyhow::anyhow!(
                "usage_monthly has no row for {month} inside its series"
            )));
        }
        Ok(())
    }

    /// Moves the starting totals of every month after `month` by what `month` gained.
    async fn shift_after(&self, tx: &mut Tx, month: NaiveDate, added: Amount) -> StoreResult<()> {
        tx.execute(
            query(
                "UPDATE usage_monthly SET \
                 conversations_before = conversations_before + $4, \
                 cost_cents_before = cost_cents_before + $5 \
                 WHERE tenant_id = $1 AND agency_id = $2 AND month > $3",
            )
            .bind(self.tenant_id)
            .bind(self.agency_id)
            .bind(month)
            .bind(added.conversations)
            .bind(added.cost_cents),
        )
        .await?;
        Ok(())
    }
}

/// One tenant's usage over a range of days, for an agency report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRange {
    pub id: TenantId,
    pub name: String,
    pub usage: Amount,
}

#[derive(sqlx::FromRow)]
struct RangeRow {
    tenant_id: TenantId,
    name: String,
    first_usage_month: NaiveDate,
    last_usage_month: NaiveDate,
    conversations_total: i64,
    cost_cents_total: i64,
    before_conversations: Option<i64>,
    before_cost_cents: Option<i64>,
    through_conversations: Option<i64>,
    through_cost_cents: Option<i64>,
}

fn amount(conversations: Option<i64>, cost_cents: Option<i64>) -> Option<Amount> {
    Some(Amount {
        conversations: conversations?,
        cost_cents: cost_cents?,
    })
}

fn day_before(day: NaiveDate) -> NaiveDate {
    day.pred_opt()
        .expect("dates stay far inside chrono's range")
}

/// An agency's series with usage in the months `$2` to `$3`: those of its tenants, and those
/// it kept of tenants that moved away.
const SERIES: &str = "SELECT tenant_id, first_usage_month, last_usage_month, \
     conversations_total, cost_cents_total FROM tenant_counters \
     WHERE agency_id = $1 AND last_usage_month >= $2 AND first_usage_month <= $3 \
     UNION ALL SELECT tenant_id, first_usage_month, last_usage_month, \
     conversations_total, cost_cents_total FROM usage_series_history \
     WHERE agency_id = $1 AND last_usage_month >= $2 AND first_usage_month <= $3";

/// The statement behind [`agency_range`].
pub fn agency_range_query(agency_id: AgencyId, from: NaiveDate, to: NaiveDate) -> Query<'static> {
    let before = day_before(from);
    let [before_conversations, before_cost] = day_columns(before.day() as usize);
    let [through_conversations, through_cost] = day_columns(to.day() as usize);
    let sql = format!(
        "SELECT c.tenant_id, t.name, c.first_usage_month, c.last_usage_month, \
         c.conversations_total, c.cost_cents_total, \
         b.conversations_before + b.{before_conversations} AS before_conversations, \
         b.cost_cents_before + b.{before_cost} AS before_cost_cents, \
         e.conversations_before + e.{through_conversations} AS through_conversations, \
         e.cost_cents_before + e.{through_cost} AS through_cost_cents \
         FROM ({SERIES}) c \
         JOIN tenants t ON t.id = c.tenant_id AND t.status <> 'deleted' \
         LEFT JOIN usage_monthly b \
         ON b.agency_id = $1 AND b.month = $4 AND b.tenant_id = c.tenant_id \
         LEFT JOIN usage_monthly e \
         ON e.agency_id = $1 AND e.month = $5 AND e.tenant_id = c.tenant_id"
    );
    query(sql)
        .bind(agency_id)
        .bind(month_of(from))
        .bind(month_of(to))
        .bind(month_of(before))
        .bind(month_of(to))
}

/// Each tenant of an agency (deleted ones aside) with usage from `from` to `to`, both
/// included, and that usage. One statement, so every value comes from one snapshot: the
/// counters name the tenants with usage in the range's months, and two month rows per tenant,
/// around the day before `from` and around `to`, give the totals at the range's two ends.
pub async fn agency_range(
    db: &Db,
    agency_id: AgencyId,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<Vec<TenantRange>> {
    let before = day_before(from);
    let rows: Vec<RangeRow> = db
        .reader()
        .fetch_all(agency_range_query(agency_id, from, to))
        .await?;
    let mut ranges = Vec::with_capacity(rows.len());
    for row in rows {
        let series = Series {
            agency_id: Some(agency_id),
            months: Some((row.first_usage_month, row.last_usage_month)),
            totals: Amount {
                conversations: row.conversations_total,
                cost_cents: row.cost_cents_total,
            },
        };
        let start = series.through(
            before,
            amount(row.before_conversations, row.before_cost_cents),
        )?;
        let end = series.through(
            to,
            amount(row.through_conversations, row.through_cost_cents),
        )?;
        let usage = end.since(start);
        if !usage.is_zero() {
            ranges.push(TenantRange {
                id: row.tenant_id,
                name: row.name,
                usage,
            });
        }
    }
    Ok(ranges)
}

/// How many tenants an agency has (deleted ones aside), and how many are active, as
/// `agency_counters` keeps them.
pub async fn agency_tenant_counts(db: &Db, agency_id: AgencyId) -> StoreResult<(i64, i64)> {
    let counts: Option<(i64, i64)> = db
        .reader()
        .fetch_optional(
            query("SELECT tenants, active_tenants FROM agency_counters WHERE agency_id = $1")
                .bind(agency_id),
        )
        .await?;
    Ok(counts.unwrap_or_default())
}

/// Hands a tenant's usage series from its agency to `target`, in the caller's transaction
/// (which holds the tenant's counters): the series the agency kept goes to
/// `usage_series_history`, so its reports keep the months it had the tenant, and the target's
/// series comes back from there (a tenant returning) or starts empty.
pub async fn hand_over(
    tx: &mut Tx,
    tenant_id: TenantId,
    target: Option<AgencyId>,
) -> StoreResult<()> {
    tx.execute(
        query(
            "INSERT INTO usage_series_history (tenant_id, agency_id, first_usage_month, \
             last_usage_month, conversations_total, cost_cents_total) \
             SELECT tenant_id, agency_id, first_usage_month, last_usage_month, \
             conversations_total, cost_cents_total FROM tenant_counters \
             WHERE tenant_id = $1 AND agency_id IS NOT NULL AND first_usage_month IS NOT NULL",
        )
        .bind(tenant_id),
    )
    .await?;
    let kept = |column: &str| {
        format!(
            "(SELECT h.{column} FROM usage_series_history h \
             WHERE h.tenant_id = $1 AND h.agency_id = $2)"
        )
    };
    let sql = format!(
        "UPDATE tenant_counters SET agency_id = $2, first_usage_month = {}, \
         last_usage_month = {}, conversations_total = COALESCE({}, 0), \
         cost_cents_total = COALESCE({}, 0) WHERE tenant_id = $1",
        kept("first_usage_month"),
        kept("last_usage_month"),
        kept("conversations_total"),
        kept("cost_cents_total"),
    );
    tx.execute(query(sql).bind(tenant_id).bind(target)).await?;
    tx.execute(
        query("DELETE FROM usage_series_history WHERE tenant_id = $1 AND agency_id = $2")
            .bind(tenant_id)
            .bind(target),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn running_totals_carry_each_day_to_the_months_end() {
        let mut per_day = [Amount::default(); DAYS];
        per_day[2] = Amount {
            conversations: 2,
            cost_cents: 10,
        };
        per_day[29] = Amount {
            conversations: 1,
            cost_cents: 5,
        };
        let running = running_totals(&per_day).unwrap();
        assert_eq!(running[1], Amount::default());
        assert_eq!(running[2].conversations, 2);
        assert_eq!(running[28].cost_cents, 10);
        assert_eq!(running[29].conversations, 3);
        assert_eq!(running[30].cost_cents, 15);
    }

    #[test]
    fn sums_stop_at_the_counters_ceiling() {
        let full = Amount {
            conversations: MAX_COUNTER,
            cost_cents: 0,
        };
        let one = Amount {
            conversations: 1,
            cost_cents: 1,
        };
        assert_eq!(full.plus(one), Err(Counter::Conversations));
        assert!(full.plus(Amount::default()).is_ok());
    }

    #[test]
    fn a_series_answers_outside_its_months_without_a_row() {
        let totals = Amount {
            conversations: 7,
            cost_cents: 70,
        };
        let series = Series {
            agency_id: None,
            months: Some((day("2026-03-01"), day("2026-05-01"))),
            totals,
        };
        assert_eq!(
            series.through(day("2026-02-28"), None).unwrap(),
            Amount::default()
        );
        assert_eq!(series.through(day("2026-06-01"), None).unwrap(), totals);
        assert!(series.through(day("2026-04-10"), None).is_err());
        assert_eq!(month_of(day("2026-04-10")), day("2026-04-01"));
    }
}

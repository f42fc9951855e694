//! Billing and usage alerts in storage: the rules' JSON columns on `tenants`, the thresholds
//! that fired (`usage_alerts`), and when each limit's refusal was last told
//! (`limit_refusals`).
//!
//! [`fire_reached`] runs in the transaction that adds usage, after the counters lock and the
//! usage writes: every threshold the period's usage has reached and that has not fired yet is
//! inserted under the key (tenant, period, metric, threshold), and only the insert that made
//! the row acts. So each threshold fires once per period on any number of servers, and a batch
//! that jumps over several fires each of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use sqlx::types::Json;

use super::limits::{effective_columns, EffectiveColumns};
use super::subscriptions::{self, WindowColumns};
use super::{from_text, outbox, query, Db, StoreError, StoreResult, Tx};
use crate::domain::alerts::{AlertAction, AlertRule, Fired, Metric, UsageAlerts};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::limits::LimitKey;
use crate::domain::metering::{Period, PeriodUsage, Refusal};
use crate::domain::tenant::{actions_json, ActionAt100, BillingAlerts, TenantStatus};

/// How long after telling a limit's refusal the next one of the same limit is told.
pub const REFUSAL_QUIET: Duration = Duration::minutes(1);

/// The stored form of actions by threshold: `{"90": "block_new_calls"}`.
pub fn actions_from_json(value: &Value) -> StoreResult<BTreeMap<i64, ActionAt100>> {
    let corrupt = || StoreError::Corrupt(anyhow::anyhow!("stored threshold actions {value}"));
    let Value::Object(map) = value else {
        return Err(corrupt());
    };
    map.iter()
        .map(|(level, action)| {
            let level = level.parse().map_err(|_| corrupt())?;
            let action = action.as_str().ok_or_else(corrupt)?;
            Ok((level, from_text(action)?))
        })
        .collect()
}

/// The stored (and wire) form of usage alerts.
pub fn usage_alerts_json(alerts: &UsageAlerts) -> Value {
    Value::Object(
        alerts
            .rules
            .iter()
            .map(|(metric, rule)| {
                let document = json!({
                    "alertThresholds": rule.thresholds,
                    "thresholdActions": actions_json(&rule.actions),
                });
                (metric.name().to_owned(), document)
            })
            .collect(),
    )
}

pub fn usage_alerts_from_json(value: &Value) -> StoreResult<UsageAlerts> {
    let corrupt = || StoreError::Corrupt(anyhow::anyhow!("stored usage alerts {value}"));
    let Value::Object(map) = value else {
        return Err(corrupt());
    };
    let mut alerts = UsageAlerts::default();
    for (name, document) in map {
        let metric = Metric::from_name(name).ok_or_else(corrupt)?;
        let thresholds = document["alertThresholds"]
            .as_array()
            .ok_or_else(corrupt)?
            .iter()
            .map(|t| t.as_i64().ok_or_else(corrupt))
            .collect::<StoreResult<Vec<i64>>>()?;
        let actions = actions_from_json(&document["thresholdActions"])?;
        alerts.rules.insert(
            metric,
            AlertRule {
                thresholds,
                actions,
            },
        );
    }
    Ok(alerts)
}

/// The percentages at which the rules refuse new calls, as admission needs them.
pub fn block_points(
    action_at_100: ActionAt100,
    threshold_actions: &Value,
    usage_alerts: &Value,
) -> StoreResult<Vec<(Metric, i64)>> {
    let mut points = Vec::new();
    if action_at_100 == AlertAction::BlockNewCalls {
        points.push((Metric::Spend, 100));
    }
    // Most tenants have no actions: skip the parse.
    if threshold_actions.as_object().is_some_and(|m| !m.is_empty()) {
        let rule = AlertRule {
            thresholds: Vec::new(),
            actions: actions_from_json(threshold_actions)?,
        };
        points.extend(rule.block_at().map(|level| (Metric::Spend, level)));
    }
    if usage_alerts.as_object().is_some_and(|m| !m.is_empty()) {
        for (metric, rule) in usage_alerts_from_json(usage_alerts)?.rules {
            points.extend(rule.block_at().map(|level| (metric, level)));
        }
    }
    Ok(points)
}

/// Whether one more call crosses a level of the call limit's alerts: admission counts calls,
/// and checks alerts only then, so admissions between levels pay nothing more.
pub fn next_call_crosses(
    usage_alerts: &Value,
    limit: Option<i64>,
    usage: &PeriodUsage,
) -> StoreResult<bool> {
    let Some(limit) = limit else {
        return Ok(false);
    };
    if !usage_alerts
        .as_object()
        .is_some_and(|m| m.contains_key(Metric::Calls.name()))
    {
        return Ok(false);
    }
    let alerts = usage_alerts_from_json(usage_alerts)?;
    let Some(rule) = alerts.rules.get(&Metric::Calls) else {
        return Ok(false);
    };
    let after = PeriodUsage {
        calls: usage.calls.saturating_add(1),
        ..*usage
    };
    Ok(rule.levels().into_iter().any(|level| {
        Metric::Calls.reached(&after, limit, level) && !Metric::Calls.reached(usage, limit, level)
    }))
}

/// What the check reads of the tenant after the usage writes.
#[derive(sqlx::FromRow)]
struct AlertRow {
    name: String,
    agency_id: Option<AgencyId>,
    status: String,
    alert_thresholds: Json<Vec<i64>>,
    alert_emails: Json<Vec<String>>,
    action_at_100: String,
    threshold_actions: Json<Value>,
    usage_alerts: Json<Value>,
    calls: Option<i64>,
    seconds: Option<i64>,
    cost_cents: Option<i64>,
    #[sqlx(flatten)]
    limits: EffectiveColumns,
    #[sqlx(flatten)]
    window: WindowColumns,
}

const METRIC_KEYS: &[LimitKey] = &[
    LimitKey::MonthlySpendLimitCents,
    LimitKey::MonthlyCallLimit,
    LimitKey::MaxMinutesPerMonth,
];

/// What a transaction that added usage must do after its commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertOutcome {
    pub fired: Vec<Fired>,
    /// Alert mail was enqueued: wake the mail worker.
    pub mailed: bool,
}

/// Fires every threshold that `period`'s usage has reached and that has not fired yet, in the
/// caller's transaction, which holds the tenant's counters lock and has written the usage.
/// Call it as the transaction's last step: a suspension records an audit entry, whose chain
/// head is the last lock a transaction takes. Only the current period alerts: usage reported
/// late for a past period tells nobody.
pub async fn fire_reached(
    tx: &mut Tx,
    tenant_id: TenantId,
    period_start: chrono::NaiveDate,
    at: DateTime<Utc>,
) -> StoreResult<AlertOutcome> {
    let (row, usage, period) = alert_state(tx, tenant_id, at).await?;
    if period_start != period.start {
        return Ok(AlertOutcome::default());
    }
    let reached = reached_levels(&row, &usage)?;
    if reached.is_empty() {
        return Ok(AlertOutcome::default());
    }
    let reached = reached
        .into_iter()
        .map(|(metric, threshold, limit, action)| Fired {
            tenant_id,
            agency_id: row.agency_id,
            tenant_name: row.name.clone(),
            metric,
            threshold,
            used: metric.used(&usage),
            limit,
            period,
            action,
            at,
        })
        .collect();
    let mut outcome = AlertOutcome {
        fired: first_firings(tx, reached).await?,
        mailed: false,
    };
    if outcome.fired.is_empty() {
        return Ok(outcome);
    }
    outcome.mailed = tell(tx, &row, &outcome.fired).await?;
    let status: TenantStatus = from_text(&row.status)?;
    let suspends = outcome
        .fired
        .iter()
        .any(|fired| fired.action == AlertAction::Suspend);
    if suspends && status == TenantStatus::Active {
        super::tenants::suspend(tx, tenant_id, period.end).await?;
    }
    Ok(outcome)
}

/// The tenant's alert settings, limits, billing period at `at` (its subscription's, joined)
/// and that period's usage, read in one statement.
async fn alert_state(
    tx: &mut Tx,
    tenant_id: TenantId,
    at: DateTime<Utc>,
) -> StoreResult<(AlertRow, PeriodUsage, Period)> {
    let sql = format!(
        "SELECT t.name, t.agency_id, t.status, t.alert_thresholds, t.alert_emails, \
         t.action_at_100, t.threshold_actions, t.usage_alerts, u.calls, u.seconds, \
         u.cost_cents{}{} FROM tenants t{} LEFT JOIN tenant_usage u \
         ON u.tenant_id = t.id AND u.period_start = COALESCE(s.period_start_day, $2) \
         WHERE t.id = $1",
        effective_columns("t", METRIC_KEYS),
        subscriptions::window_columns("s"),
        subscriptions::window_join("s", "t.id", "$3"),
    );
    let calendar = Period::containing(at).start;
    let row: AlertRow = tx
        .fetch_optional(query(sql).bind(tenant_id).bind(calendar).bind(at))
        .await?
        .ok_or(StoreError::NotFound)?;
    let usage = PeriodUsage {
        calls: row.calls.unwrap_or(0),
        seconds: row.seconds.unwrap_or(0),
        cost_cents: row.cost_cents.unwrap_or(0),
    };
    let period = Period::billing(at, row.window.window());
    Ok((row, usage, period))
}

/// Of the levels reached, those that fire now: not fired before in the period, and recorded
/// by this transaction (a concurrent one that recorded it first fires it instead).
async fn first_firings(tx: &mut Tx, reached: Vec<Fired>) -> StoreResult<Vec<Fired>> {
    let Some(first) = reached.first() else {
        return Ok(reached);
    };
    let already: Vec<(String, i64)> = tx
        .fetch_all(
            query(
                "SELECT metric, threshold FROM usage_alerts \
                 WHERE tenant_id = $1 AND period_start = $2",
            )
            .bind(first.tenant_id)
            .bind(first.period.start),
        )
        .await?;
    let mut firing = Vec::new();
    for fired in reached {
        let name = fired.metric.name();
        if already
            .iter()
            .any(|(m, t)| m == name && *t == fired.threshold)
        {
            continue;
        }
        if insert_fired(tx, &fired).await? {
            firing.push(fired);
        }
    }
    Ok(firing)
}

/// Emits `usage.threshold_reached` for each firing and mails every alert address; answers
/// whether any mail was enqueued.
async fn tell(tx: &mut Tx, row: &AlertRow, firing: &[Fired]) -> StoreResult<bool> {
    let Some(first) = firing.first() else {
        return Ok(false);
    };
    let tenant_id = first.tenant_id;
    let brand = if row.alert_emails.0.is_empty() {
        String::new()
    } else {
        outbox::brand_of(tx, tenant_id).await?
    };
    let mut mailed = false;
    for fired in firing {
        let event = Event::new(
            EventType::UsageThresholdReached,
            Some(tenant_id),
            row.agency_id,
            fired.at,
            fired.event_data(),
        );
        super::events::emit(tx, &event).await?;
        for to in &row.alert_emails.0 {
            match fired.mail(to, &brand) {
                Ok(mail) => {
                    outbox::enqueue(tx, &mail, Some(tenant_id)).await?;
                    mailed = true;
                }
                // Addresses are checked when stored; one that no longer parses costs its mail
                // only, never the usage.
                Err(error) => tracing::warn!(%error, "alert mail not sent"),
            }
        }
    }
    Ok(mailed)
}

/// Every (metric, threshold, limit, action) whose level `usage` has reached.
fn reached_levels(
    row: &AlertRow,
    usage: &PeriodUsage,
) -> StoreResult<Vec<(Metric, i64, i64, AlertAction)>> {
    let mut rules: Vec<(Metric, AlertRule)> = Vec::new();
    if row.limits.0.get(Metric::Spend.key()).is_some() {
        let billing = BillingAlerts {
            alert_thresholds: row.alert_thresholds.0.clone(),
            alert_emails: Vec::new(),
            action_at_100: from_text(&row.action_at_100)?,
            threshold_actions: actions_from_json(&row.threshold_actions.0)?,
        };
        rules.push((Metric::Spend, billing.rule()));
    }
    if row
        .usage_alerts
        .0
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        rules.extend(usage_alerts_from_json(&row.usage_alerts.0)?.rules);
    }
    let mut reached = Vec::new();
    for (metric, rule) in rules {
        let Some(limit) = row.limits.0.get(metric.key()) else {
            continue;
        };
        for level in rule.levels() {
            if metric.reached(usage, limit, level) {
                reached.push((metric, level, limit, rule.action_at(level)));
            }
        }
    }
    Ok(reached)
}

/// Records that a threshold fired; `false` when another transaction fired it first.
async fn insert_fired(tx: &mut Tx, fired: &Fired) -> StoreResult<bool> {
    let inserted: Option<(i64,)> = tx
        .fetch_optional(
            query(
                "INSERT INTO usage_alerts (tenant_id, period_start, metric, threshold, used, \
                 limit_value, action, fired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (tenant_id, period_start, metric, threshold) DO NOTHING \
                 RETURNING threshold",
            )
            .bind(fired.tenant_id)
            .bind(fired.period.start)
            .bind(fired.metric.name())
            .bind(fired.threshold)
            .bind(fired.used)
            .bind(fired.limit)
            .bind(<&str>::from(fired.action))
            .bind(fired.at),
        )
        .await?;
    Ok(inserted.is_some())
}

/// Tells of a limit's refusal with a `limit.refused` event, unless one was told for the same
/// tenant and limit less than [`REFUSAL_QUIET`] ago, on any server: a conditional upsert of
/// the limit's row decides, in a short transaction of its own (the refused admission rolled
/// back). Answers whether it told.
pub async fn note_refusal(
    db: &Db,
    tenant_id: TenantId,
    refusal: &Refusal,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let Refusal::Limit {
        key,
        code,
        limit,
        current,
    } = refusal
    else {
        return Ok(false);
    };
    let mut tx = db.begin().await?;
    let claimed: Option<(TenantId,)> = tx
        .fetch_optional(
            query(
                "INSERT INTO limit_refusals (tenant_id, limit_key, last_emitted_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (tenant_id, limit_key) DO UPDATE \
                 SET last_emitted_at = excluded.last_emitted_at \
                 WHERE limit_refusals.last_emitted_at <= $4 RETURNING tenant_id",
            )
            .bind(tenant_id)
            .bind(key.field())
            .bind(at)
            .bind(at - REFUSAL_QUIET),
        )
        .await?;
    if claimed.is_none() {
        return Ok(false);
    }
    let (agency_id,): (Option<AgencyId>,) = tx
        .fetch_one(query("SELECT agency_id FROM tenants WHERE id = $1").bind(tenant_id))
        .await?;
    let data = json!({
        "tenantId": tenant_id.to_string(),
        "agencyId": agency_id.map(|id| id.to_string()),
        "limitKey": key.field(),
        "code": code,
        "limit": limit,
        "current": current,
    });
    let event = Event::new(
        EventType::LimitRefused,
        Some(tenant_id),
        agency_id,
        at,
        data,
    );
    super::events::emit(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(true)
}

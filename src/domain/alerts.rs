//! Billing and usage alerts: percentages of a monthly limit that, once a period's usage reaches
//! them, fire once in that period: mail to the tenant's alert addresses, a
//! `usage.threshold_reached` event, and the threshold's action. Actions that block new calls
//! are read by admission from the rules themselves, not from what fired.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::email::{InvalidRecipient, Letter, Mail};
use super::ids::{AgencyId, TenantId};
use super::limits::LimitKey;
use super::metering::{Period, PeriodUsage};
use super::tenant::ActionAt100;
use super::validation::Violations;

/// What a threshold does when usage reaches it, besides telling: the values of `actionAt100`.
pub type AlertAction = ActionAt100;

/// The reason a tenant deactivated by an alert's `suspend` shows.
pub const SUSPEND_REASON: &str = "spend_limit_reached";

/// The most thresholds one rule may have.
pub const MAX_ALERT_THRESHOLDS: usize = 10;

/// A monthly limit that alerts watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    Spend,
    Calls,
    Minutes,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Spend, Metric::Calls, Metric::Minutes];
    /// The metrics `usageAlerts` configures (spend has `billingAlerts`).
    pub const USAGE: [Metric; 2] = [Metric::Calls, Metric::Minutes];

    pub fn key(self) -> LimitKey {
        match self {
            Metric::Spend => LimitKey::MonthlySpendLimitCents,
            Metric::Calls => LimitKey::MonthlyCallLimit,
            Metric::Minutes => LimitKey::MaxMinutesPerMonth,
        }
    }

    /// The limit's wire name, which events, mail and storage use.
    pub fn name(self) -> &'static str {
        self.key().field()
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Usage in the limit's unit: cents, calls, whole minutes.
    pub fn used(self, usage: &PeriodUsage) -> i64 {
        match self {
            Metric::Spend => usage.cost_cents,
            Metric::Calls => usage.calls,
            Metric::Minutes => usage.seconds / 60,
        }
    }

    /// Whether `usage` has reached `percent` of `limit`. Minutes compare in seconds, as
    /// admission does, so a part-used minute still counts as available.
    pub fn reached(self, usage: &PeriodUsage, limit: i64, percent: i64) -> bool {
        let (used, capacity) = match self {
            Metric::Spend => (usage.cost_cents, i128::from(limit)),
            Metric::Calls => (usage.calls, i128::from(limit)),
            Metric::Minutes => (usage.seconds, i128::from(limit) * 60),
        };
        i128::from(used) * 100 >= capacity * i128::from(percent)
    }

    fn noun(self) -> &'static str {
        match self {
            Metric::Spend => "spend",
            Metric::Calls => "calls",
            Metric::Minutes => "minutes",
        }
    }

    fn amount(self, value: i64) -> String {
        match self {
            Metric::Spend => format!("{}.{:02} USD", value / 100, value % 100),
            Metric::Calls => format!("{value} calls"),
            Metric::Minutes => format!("{value} minutes"),
        }
    }
}

/// The thresholds of one limit and their actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertRule {
    /// Percentages of the limit that alert.
    pub thresholds: Vec<i64>,
    /// Actions by percentage; a threshold without one only notifies.
    pub actions: BTreeMap<i64, AlertAction>,
}

impl AlertRule {
    /// The percentages that fire, lowest first: the thresholds and every level with an action.
    pub fn levels(&self) -> Vec<i64> {
        let mut levels: Vec<i64> = self.thresholds.clone();
        levels.extend(
            self.actions
                .iter()
                .filter(|(_, action)| **action != AlertAction::NotifyOnly)
                .map(|(level, _)| *level),
        );
        levels.sort_unstable();
        levels.dedup();
        levels
    }

    pub fn action_at(&self, percent: i64) -> AlertAction {
        self.actions.get(&percent).copied().unwrap_or_default()
    }

    /// The lowest percentage at which new calls are refused, if any.
    pub fn block_at(&self) -> Option<i64> {
        self.actions
            .iter()
            .find(|(_, action)| **action == AlertAction::BlockNewCalls)
            .map(|(level, _)| *level)
    }

    /// Checks thresholds and actions under `field` (`billingAlerts`, say): thresholds from 1
    /// to 100, and actions only at a threshold or at 100.
    pub fn check(&self, field: &str, violations: &mut Violations) {
        if self.thresholds.len() > MAX_ALERT_THRESHOLDS {
            violations.add(
                format!("{field}.alertThresholds"),
                "too_many_items",
                format!("at most {MAX_ALERT_THRESHOLDS} thresholds"),
            );
        }
        for (i, threshold) in self.thresholds.iter().enumerate() {
            violations.range(&format!("{field}.alertThresholds[{i}]"), *threshold, 1, 100);
        }
        for level in self.actions.keys() {
            if *level != 100 && !self.thresholds.contains(level) {
                violations.add(
                    format!("{field}.thresholdActions.{level}"),
                    "unknown_threshold",
                    "must be one of alertThresholds, or 100",
                );
            }
        }
    }
}

/// Alerts on the monthly call and minute limits; a limit without a rule has no alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageAlerts {
    pub rules: BTreeMap<Metric, AlertRule>,
}

impl UsageAlerts {
    pub fn check(&self, violations: &mut Violations) {
        for (metric, rule) in &self.rules {
            if *metric == Metric::Spend {
                violations.add(
                    format!("usageAlerts.{}", metric.name()),
                    "unknown_field",
                    "spend alerts are billingAlerts",
                );
            }
            rule.check(&format!("usageAlerts.{}", metric.name()), violations);
        }
    }
}

/// Changes to usage alerts, by limit: `Some` replaces its rule, `None` removes it.
#[derive(Debug, Clone, Default)]
pub struct UsageAlertsUpdate {
    pub rules: BTreeMap<Metric, Option<AlertRule>>,
}

impl UsageAlertsUpdate {
    pub fn apply_to(&self, mut base: UsageAlerts) -> UsageAlerts {
        for (metric, rule) in &self.rules {
            match rule {
                Some(rule) => base.rules.insert(*metric, rule.clone()),
                None => base.rules.remove(metric),
            };
        }
        base
    }
}

/// One threshold reached in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub tenant_id: TenantId,
    pub agency_id: Option<AgencyId>,
    pub tenant_name: String,
    pub metric: Metric,
    pub threshold: i64,
    /// Usage in the limit's unit when it fired.
    pub used: i64,
    pub limit: i64,
    pub period: Period,
    pub action: AlertAction,
    pub at: DateTime<Utc>,
}

impl Fired {
    /// The `usage.threshold_reached` event's data.
    pub fn event_data(&self) -> Value {
        json!({
            "tenantId": self.tenant_id.to_string(),
            "agencyId": self.agency_id.map(|id| id.to_string()),
            "metric": self.metric.name(),
            "threshold": self.threshold,
            "usage": self.used,
            "limit": self.limit,
            "period": { "start": self.period.start, "end": self.period.end },
            "action": <&str>::from(self.action),
            "reachedAt": self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        })
    }

    /// The alert mail to `to`, branded `brand`.
    pub fn mail(&self, to: &str, brand: &str) -> Result<Mail, InvalidRecipient> {
        let noun = self.metric.noun();
        let subject = format!(
            "{}: {noun} reached {}% of its monthly limit",
            self.tenant_name, self.threshold
        );
        let mut paragraphs = vec![format!(
            "{} has used {} of its monthly limit of {} ({}% or more) in the period from {} \
                 to {}.",
            self.tenant_name,
            self.metric.amount(self.used),
            self.metric.amount(self.limit),
            self.threshold,
            self.period.start,
            self.period.end.pred_opt().unwrap_or(self.period.end),
        )];
        paragraphs.push(match self.action {
            AlertAction::NotifyOnly => "Nothing else happens: calls go on.".to_owned(),
            AlertAction::BlockNewCalls => {
                "New calls are refused until the next period or a higher limit.".to_owned()
            }
            AlertAction::Suspend => format!(
                "The account is deactivated until the next period begins on {}.",
                self.period.end
            ),
        });
        let letter = Letter {
            brand,
            subject: &subject,
            greeting: "Hello,",
            paragraphs: &paragraphs,
            action: None,
            footer: "You receive this because this address is one of the account's alert emails.",
        };
        Mail::branded(to, &letter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(calls: i64, seconds: i64, cost_cents: i64) -> PeriodUsage {
        PeriodUsage {
            calls,
            seconds,
            cost_cents,
        }
    }

    #[test]
    fn reached_compares_exactly() {
        assert!(!Metric::Spend.reached(&usage(0, 0, 49), 100, 50));
        assert!(Metric::Spend.reached(&usage(0, 0, 50), 100, 50));
        assert!(Metric::Spend.reached(&usage(0, 0, 1), 1, 100));
        assert!(!Metric::Minutes.reached(&usage(0, 299, 0), 5, 100));
        assert!(Metric::Minutes.reached(&usage(0, 300, 0), 5, 100));
        assert!(Metric::Calls.reached(&usage(8, 0, 0), 10, 80));
        assert!(!Metric::Spend.reached(&usage(0, 0, i64::MAX - 1), i64::MAX, 100));
    }

    #[test]
    fn levels_join_thresholds_and_actions() {
        let rule = AlertRule {
            thresholds: vec![80, 50],
            actions: BTreeMap::from([
                (100, AlertAction::Suspend),
                (80, AlertAction::BlockNewCalls),
            ]),
        };
        assert_eq!(rule.levels(), [50, 80, 100]);
        assert_eq!(rule.block_at(), Some(80));
        assert_eq!(rule.action_at(50), AlertAction::NotifyOnly);
    }

    #[test]
    fn actions_need_a_threshold() {
        let rule = AlertRule {
            thresholds: vec![50],
            actions: BTreeMap::from([(90, AlertAction::Suspend), (100, AlertAction::Suspend)]),
        };
        let mut violations = Violations::default();
        rule.check("billingAlerts", &mut violations);
        let errors = violations.into_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "billingAlerts.thresholdActions.90");
    }
}

//! Usage limits: the six keys a plan grants and a tenant may override, with their ranges.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::validation::Violations;

/// One limit key; `ALL` drives validation, merging and the limits report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKey {
    MonthlySpendLimitCents,
    MaxAgents,
    MaxPhoneNumbers,
    MaxConcurrentCalls,
    MonthlyCallLimit,
    MaxMinutesPerMonth,
}

impl LimitKey {
    pub const ALL: [LimitKey; 6] = [
        LimitKey::MonthlySpendLimitCents,
        LimitKey::MaxAgents,
        LimitKey::MaxPhoneNumbers,
        LimitKey::MaxConcurrentCalls,
        LimitKey::MonthlyCallLimit,
        LimitKey::MaxMinutesPerMonth,
    ];

    /// The camelCase field name on the wire.
    pub fn field(self) -> &'static str {
        match self {
            LimitKey::MonthlySpendLimitCents => "monthlySpendLimitCents",
            LimitKey::MaxAgents => "maxAgents",
            LimitKey::MaxPhoneNumbers => "maxPhoneNumbers",
            LimitKey::MaxConcurrentCalls => "maxConcurrentCalls",
            LimitKey::MonthlyCallLimit => "monthlyCallLimit",
            LimitKey::MaxMinutesPerMonth => "maxMinutesPerMonth",
        }
    }

    /// Inclusive range of a valid value (the seeds give 1..=1000 for concurrency).
    pub fn range(self) -> (i64, i64) {
        match self {
            LimitKey::MonthlySpendLimitCents => (0, MAX_CENTS),
            LimitKey::MaxAgents | LimitKey::MaxPhoneNumbers => (0, 100_000),
            LimitKey::MaxConcurrentCalls => (1, 1000),
            LimitKey::MonthlyCallLimit | LimitKey::MaxMinutesPerMonth => (0, 1_000_000_000),
        }
    }
}

/// The field `key` names, on any struct with the six limit fields.
macro_rules! by_limit_key {
    ($value:expr, $key:expr) => {
        match $key {
            LimitKey::MonthlySpendLimitCents => $value.monthly_spend_limit_cents,
            LimitKey::MaxAgents => $value.max_agents,
            LimitKey::MaxPhoneNumbers => $value.max_phone_numbers,
            LimitKey::MaxConcurrentCalls => $value.max_concurrent_calls,
            LimitKey::MonthlyCallLimit => $value.monthly_call_limit,
            LimitKey::MaxMinutesPerMonth => $value.max_minutes_per_month,
        }
    };
}
pub(crate) use by_limit_key;

/// The largest money amount a limit or a price may state (ten billion dollars, in cents). One
/// call has a bound of its own, [`super::metering::MAX_CALL_CENTS`].
pub const MAX_CENTS: i64 = 1_000_000_000_000;

/// A set of limits; `None` means "not set here" (unlimited once effective).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub monthly_spend_limit_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 100000)]
    pub max_agents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 100000)]
    pub max_phone_numbers: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_concurrent_calls: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub monthly_call_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub max_minutes_per_month: Option<i64>,
}

impl Limits {
    pub fn get(&self, key: LimitKey) -> Option<i64> {
        by_limit_key!(self, key)
    }

    pub fn slot(&mut self, key: LimitKey) -> &mut Option<i64> {
        match key {
            LimitKey::MonthlySpendLimitCents => &mut self.monthly_spend_limit_cents,
            LimitKey::MaxAgents => &mut self.max_agents,
            LimitKey::MaxPhoneNumbers => &mut self.max_phone_numbers,
            LimitKey::MaxConcurrentCalls => &mut self.max_concurrent_calls,
            LimitKey::MonthlyCallLimit => &mut self.monthly_call_limit,
            LimitKey::MaxMinutesPerMonth => &mut self.max_minutes_per_month,
        }
    }

    /// These limits laid over `base`: a value set here wins.
    pub fn over(&self, base: &Limits) -> EffectiveLimits {
        let mut merged = *base;
        for key in LimitKey::ALL {
            if let Some(value) = self.get(key) {
                *merged.slot(key) = Some(value);
            }
        }
        EffectiveLimits::from(merged)
    }

    /// Records an out-of-range value under `prefix.field`.
    pub fn check(&self, prefix: &str, violations: &mut Violations) {
        for key in LimitKey::ALL {
            if let Some(value) = self.get(key) {
                let (min, max) = key.range();
                violations.range(&format!("{prefix}.{}", key.field()), value, min, max);
            }
        }
    }
}

/// Every limit after the plan's defaults; `null` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveLimits {
    pub monthly_spend_limit_cents: Option<i64>,
    pub max_agents: Option<i64>,
    pub max_phone_numbers: Option<i64>,
    pub max_concurrent_calls: Option<i64>,
    pub monthly_call_limit: Option<i64>,
    pub max_minutes_per_month: Option<i64>,
}

impl From<Limits> for EffectiveLimits {
    fn from(l: Limits) -> Self {
        Self {
            monthly_spend_limit_cents: l.monthly_spend_limit_cents,
            max_agents: l.max_agents,
            max_phone_numbers: l.max_phone_numbers,
            max_concurrent_calls: l.max_concurrent_calls,
            monthly_call_limit: l.monthly_call_limit,
            max_minutes_per_month: l.max_minutes_per_month,
        }
    }
}

impl EffectiveLimits {
    pub fn get(&self, key: LimitKey) -> Option<i64> {
        by_limit_key!(self, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_values_override_plan_values_key_by_key() {
        let plan = Limits {
            max_agents: Some(10),
            max_concurrent_calls: Some(10),
            monthly_call_limit: Some(1000),
            ..Limits::default()
        };
        let tenant = Limits {
            max_agents: Some(20),
            monthly_spend_limit_cents: Some(500_000),
            ..Limits::default()
        };
        let effective = tenant.over(&plan);
        assert_eq!(effective.max_agents, Some(20));
        assert_eq!(effective.max_concurrent_calls, Some(10));
        assert_eq!(effective.monthly_call_limit, Some(1000));
        assert_eq!(effective.monthly_spend_limit_cents, Some(500_000));
        assert_eq!(effective.max_minutes_per_month, None);
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let limits = Limits {
            max_concurrent_calls: Some(0),
            monthly_call_limit: Some(-1),
            ..Limits::default()
        };
        let mut violations = Violations::default();
        limits.check("usageLimits", &mut violations);
        let fields: Vec<_> = violations
            .into_errors()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "usageLimits.maxConcurrentCalls",
                "usageLimits.monthlyCallLimit"
            ]
        );
    }
}

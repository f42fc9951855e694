//! Usage limits: every limit key is declared once, in [`limit_keys!`], with its wire name, the
//! range of a valid value and its unit. Plans grant limits, tenants override them, and every
//! set of limits is a map keyed by [`LimitKey`], so plans, overrides, effective limits, their
//! storage, the explain report and the API schemas all follow the declaration. Request-rate
//! budgets are limit keys too ([`LimitKey::Rate`]): each per-key policy of
//! [`super::rate_limit`] brings its own.

use std::collections::BTreeMap;

use super::rate_limit::{RatePolicy, MAX_LIMIT};
use super::validation::Violations;

/// The largest money amount accepted anywhere (ten billion dollars, in cents).
pub const MAX_CENTS: i64 = 1_000_000_000_000;

/// How a limit's value is written on the wire, relative to how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A whole number, stored as it is (calls, agents, cents, minutes, megabytes).
    Count,
    /// Gigabytes on the wire, a decimal number; stored in whole megabytes (1 GB = 1,000 MB).
    Gigabytes,
}

impl Unit {
    /// Stored units per wire unit.
    pub fn scale(self) -> i64 {
        match self {
            Unit::Count => 1,
            Unit::Gigabytes => 1000,
        }
    }
}

/// What a limit is measured against, as the explain report and enforcement count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meter {
    /// Calls holding a concurrency slot now.
    ActiveCalls,
    /// Calls admitted or reported this billing period.
    PeriodCalls,
    /// Whole minutes of calls this billing period.
    PeriodMinutes,
    /// Spend this billing period, in cents.
    PeriodCostCents,
    /// Resources the tenant has.
    Agents,
    PhoneNumbers,
    Squads,
    Campaigns,
    /// Stored bytes, in megabytes.
    FileMegabytes,
    RecordingMegabytes,
    /// A bound on each single item (a file's size): nothing accumulates against it.
    EachItem,
    /// Requests per window: the rate limiter counts them, in memory or in Redis, not here.
    Requests,
}

/// The amounts a tenant has used, one per [`Meter`]; a resource that does not exist yet
/// counts zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measured {
    pub active_calls: i64,
    pub period_calls: i64,
    pub period_seconds: i64,
    pub period_cost_cents: i64,
    pub agents: i64,
    pub phone_numbers: i64,
    pub squads: i64,
    pub campaigns: i64,
    pub file_megabytes: i64,
    pub recording_megabytes: i64,
}

impl Measured {
    /// What `meter` reads, in the unit its limits are stored in.
    pub fn of(&self, meter: Meter) -> i64 {
        match meter {
            Meter::ActiveCalls => self.active_calls,
            Meter::PeriodCalls => self.period_calls,
            Meter::PeriodMinutes => self.period_seconds / 60,
            Meter::PeriodCostCents => self.period_cost_cents,
            Meter::Agents => self.agents,
            Meter::PhoneNumbers => self.phone_numbers,
            Meter::Squads => self.squads,
            Meter::Campaigns => self.campaigns,
            Meter::FileMegabytes => self.file_megabytes,
            Meter::RecordingMegabytes => self.recording_megabytes,
            Meter::EachItem | Meter::Requests => 0,
        }
    }
}

/// Per-key rate policies, which are limit keys too.
const RATE_KEYS: usize = {
    let mut count = 0;
    let mut i = 0;
    while i < RatePolicy::ALL.len() {
        if RatePolicy::ALL[i].limit_field().is_some() {
            count += 1;
        }
        i += 1;
    }
    count
};

/// Declares the limit keys:
/// `Variant = "wireName", min, max (in stored units), Unit, Meter`.
/// Rate policies with a limit key name follow them as [`LimitKey::Rate`].
macro_rules! limit_keys {
    ($($(#[doc = $doc:literal])+ $variant:ident = $field:literal, $min:expr, $max:expr, $unit:ident, $meter:ident;)*) => {
        /// One limit a plan grants and a tenant may override.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum LimitKey {
            $($(#[doc = $doc])+ $variant,)*
            /// A per-key request-rate budget, in requests per the policy's window.
            Rate(RatePolicy),
        }

        impl LimitKey {
            pub const ALL: &'static [LimitKey] = &{
                const DECLARED: &[LimitKey] = &[$(LimitKey::$variant),*];
                let mut all = [DECLARED[0]; DECLARED.len() + RATE_KEYS];
                let mut i = 0;
                while i < DECLARED.len() {
                    all[i] = DECLARED[i];
                    i += 1;
                }
                let mut policy = 0;
                while policy < RatePolicy::ALL.len() {
                    if RatePolicy::ALL[policy].limit_field().is_some() {
                        all[i] = LimitKey::Rate(RatePolicy::ALL[policy]);
                        i += 1;
                    }
                    policy += 1;
                }
                all
            };
            /// Every key's wire name, in the order of `ALL`.
            pub const FIELDS: &'static [&'static str] = &{
                let mut fields = [""; LimitKey::ALL.len()];
                let mut i = 0;
                while i < fields.len() {
                    fields[i] = LimitKey::ALL[i].field();
                    i += 1;
                }
                fields
            };

            /// The camelCase name on the wire (and in stored limit rows).
            pub const fn field(self) -> &'static str {
                match self {
                    $(LimitKey::$variant => $field,)*
                    LimitKey::Rate(policy) => match policy.limit_field() {
                        Some(field) => field,
                        // Only policies with a name are in `ALL`.
                        None => policy.name(),
                    },
                }
            }

            /// Inclusive range of a valid value, in stored units.
            pub fn range(self) -> (i64, i64) {
                match self {
                    $(LimitKey::$variant => ($min, $max),)*
                    LimitKey::Rate(_) => (1, MAX_LIMIT),
                }
            }

            pub fn unit(self) -> Unit {
                match self {
                    $(LimitKey::$variant => Unit::$unit,)*
                    LimitKey::Rate(_) => Unit::Count,
                }
            }

            /// What the limit is measured against.
            pub fn meter(self) -> Meter {
                match self {
                    $(LimitKey::$variant => Meter::$meter,)*
                    LimitKey::Rate(_) => Meter::Requests,
                }
            }

            /// What the limit bounds, for documentation.
            pub fn describe(self) -> &'static str {
                match self {
                    $(LimitKey::$variant => concat!($($doc),+),)*
                    LimitKey::Rate(policy) => policy.describe(),
                }
            }
        }
    };
}

limit_keys! {
    /// Spend in a billing period, in cents.
    MonthlySpendLimitCents = "monthlySpendLimitCents", 0, MAX_CENTS, Count, PeriodCostCents;
    /// Agents a tenant may have.
    MaxAgents = "maxAgents", 0, 100_000, Count, Agents;
    /// Phone numbers a tenant may have.
    MaxPhoneNumbers = "maxPhoneNumbers", 0, 100_000, Count, PhoneNumbers;
    /// Calls in progress at once (seeds: 1 to 1,000).
    MaxConcurrentCalls = "maxConcurrentCalls", 1, 1000, Count, ActiveCalls;
    /// Calls in a billing period.
    MonthlyCallLimit = "monthlyCallLimit", 0, 1_000_000_000, Count, PeriodCalls;
    /// Minutes of calls in a billing period.
    MaxMinutesPerMonth = "maxMinutesPerMonth", 0, 1_000_000_000, Count, PeriodMinutes;
    /// Squads (agent teams) a tenant may have.
    MaxSquads = "maxSquads", 1, 100, Count, Squads;
    /// The largest knowledge-base file, in megabytes.
    MaxFileSizeMb = "maxFileSizeMb", 1, 500, Count, EachItem;
    /// All knowledge-base files together, in gigabytes.
    MaxFilesGb = "maxFilesGb", 0, 100_000, Gigabytes, FileMegabytes;
    /// All call recordings together, in gigabytes.
    MaxRecordingsGb = "maxRecordingsGb", 0, 1_000_000, Gigabytes, RecordingMegabytes;
    /// Outbound campaigns a tenant may have.
    MaxCampaigns = "maxCampaigns", 0, 1000, Count, Campaigns;
}

impl LimitKey {
    /// The key with this wire name.
    pub fn from_field(field: &str) -> Option<LimitKey> {
        LimitKey::ALL
            .iter()
            .copied()
            .find(|key| key.field() == field)
    }

    /// A wire value in stored units, or why it is not one.
    pub fn from_wire(self, value: f64) -> Result<i64, &'static str> {
        if !value.is_finite() {
            return Err("must be a number");
        }
        let scale = self.unit().scale();
        let stored = value * scale as f64;
        if scale == 1 && stored.fract() != 0.0 {
            return Err("must be a whole number");
        }
        // Beyond i64 is out of every range; the range check names the bounds.
        Ok(stored.round().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
    }

    /// A stored value as the wire writes it.
    pub fn to_wire(self, stored: i64) -> serde_json::Number {
        match self.unit() {
            Unit::Count => stored.into(),
            Unit::Gigabytes => {
                let gigabytes = stored as f64 / self.unit().scale() as f64;
                serde_json::Number::from_f64(gigabytes).unwrap_or_else(|| 0.into())
            }
        }
    }
}

/// A set of limits: the keys set here, each with its value in stored units. An absent key is
/// "not set here"; once effective, it is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits(BTreeMap<LimitKey, i64>);

impl Limits {
    pub fn get(&self, key: LimitKey) -> Option<i64> {
        self.0.get(&key).copied()
    }

    /// Sets (`Some`) or removes (`None`) one key.
    pub fn set(&mut self, key: LimitKey, value: Option<i64>) {
        match value {
            Some(value) => self.0.insert(key, value),
            None => self.0.remove(&key),
        };
    }

    pub fn with(mut self, key: LimitKey, value: i64) -> Self {
        self.set(key, Some(value));
        self
    }

    /// The keys set, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (LimitKey, i64)> + '_ {
        self.0.iter().map(|(key, value)| (*key, *value))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These limits laid over `base`: a value set here wins.
    pub fn over(&self, base: &Limits) -> EffectiveLimits {
        let mut merged = base.clone();
        merged.0.extend(self.iter());
        EffectiveLimits(merged)
    }

    /// Records an out-of-range value under `prefix.field`.
    pub fn check(&self, prefix: &str, violations: &mut Violations) {
        for (key, value) in self.iter() {
            let (min, max) = key.range();
            let field = format!("{prefix}.{}", key.field());
            match key.unit() {
                Unit::Count => violations.range(&field, value, min, max),
                Unit::Gigabytes if (min..=max).contains(&value) => {}
                Unit::Gigabytes => {
                    let scale = key.unit().scale() as f64;
                    violations.add(
                        field,
                        "out_of_range",
                        format!(
                            "must be between {} and {}",
                            min as f64 / scale,
                            max as f64 / scale
                        ),
                    );
                }
            }
        }
    }
}

impl FromIterator<(LimitKey, i64)> for Limits {
    fn from_iter<I: IntoIterator<Item = (LimitKey, i64)>>(iter: I) -> Self {
        Limits(iter.into_iter().collect())
    }
}

/// Changes to a set of limits: per key, a new value or `None` to remove it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitChanges(pub Vec<(LimitKey, Option<i64>)>);

impl LimitChanges {
    /// `base` with these changes laid over it.
    pub fn apply_to(&self, mut base: Limits) -> Limits {
        for (key, value) in &self.0 {
            base.set(*key, *value);
        }
        base
    }
}

/// Every limit after the plan's defaults; an absent key is unlimited, except a request-rate
/// budget, which is then the server's default for its policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectiveLimits(Limits);

impl EffectiveLimits {
    pub fn get(&self, key: LimitKey) -> Option<i64> {
        self.0.get(key)
    }

    /// Limits taken as they are, for a tenant whose plan grants nothing more.
    pub fn from_limits(limits: Limits) -> Self {
        EffectiveLimits(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_values_override_plan_values_key_by_key() {
        let plan = Limits::default()
            .with(LimitKey::MaxAgents, 10)
            .with(LimitKey::MaxConcurrentCalls, 10)
            .with(LimitKey::MonthlyCallLimit, 1000);
        let tenant = Limits::default()
            .with(LimitKey::MaxAgents, 20)
            .with(LimitKey::MonthlySpendLimitCents, 500_000);
        let effective = tenant.over(&plan);
        assert_eq!(effective.get(LimitKey::MaxAgents), Some(20));
        assert_eq!(effective.get(LimitKey::MaxConcurrentCalls), Some(10));
        assert_eq!(effective.get(LimitKey::MonthlyCallLimit), Some(1000));
        assert_eq!(
            effective.get(LimitKey::MonthlySpendLimitCents),
            Some(500_000)
        );
        assert_eq!(effective.get(LimitKey::MaxMinutesPerMonth), None);
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let limits = Limits::default()
            .with(LimitKey::MaxConcurrentCalls, 0)
            .with(LimitKey::MonthlyCallLimit, -1)
            .with(LimitKey::MaxFilesGb, 100_001);
        let mut violations = Violations::default();
        limits.check("usageLimits", &mut violations);
        let errors = violations.into_errors();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "usageLimits.maxConcurrentCalls",
                "usageLimits.monthlyCallLimit",
                "usageLimits.maxFilesGb"
            ]
        );
        assert_eq!(errors[2].message, "must be between 0 and 100");
    }

    #[test]
    fn gigabytes_travel_as_decimals_and_are_stored_as_megabytes() {
        assert_eq!(LimitKey::MaxFilesGb.from_wire(1.5), Ok(1500));
        assert_eq!(LimitKey::MaxFilesGb.to_wire(1500).as_f64(), Some(1.5));
        assert_eq!(LimitKey::MaxAgents.from_wire(20.0), Ok(20));
        assert!(LimitKey::MaxAgents.from_wire(20.5).is_err());
        assert_eq!(LimitKey::MaxAgents.to_wire(20).as_i64(), Some(20));
    }

    #[test]
    fn every_key_has_a_distinct_wire_name_and_a_sane_range() {
        let mut names = std::collections::HashSet::new();
        for key in LimitKey::ALL {
            assert!(names.insert(key.field()), "{key:?}");
            assert_eq!(LimitKey::from_field(key.field()), Some(*key));
            let (min, max) = key.range();
            assert!(0 <= min && min <= max, "{key:?}");
        }
    }
}

//! Request-rate limits: every policy is declared once, in [`rate_policies!`], and every limiter
//! (in memory or in Redis) decides with the same GCRA arithmetic ([`gcra`], [`Decision`]).
//!
//! GCRA (the generic cell rate algorithm) keeps one instant per bucket, its theoretical
//! arrival time (TAT): the moment the bucket would be full again. A request is admitted when
//! admitting it leaves that moment at most one window ahead of now; it then moves the TAT on by
//! one emission interval (the window divided by the limit). A budget of `limit` per window thus
//! allows a burst of `limit` and refills steadily, with no window edges to game.

/// Microseconds in a second; GCRA instants are microseconds since the Unix epoch.
pub const MICROS: i64 = 1_000_000;

/// The window a policy's limit is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    Minute,
    Hour,
}

impl Window {
    pub const fn seconds(self) -> i64 {
        match self {
            Window::Minute => 60,
            Window::Hour => 3600,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Hour => "hour",
        }
    }
}

/// Whose budget a request of a policy spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyed {
    /// The caller's API key; the tenant's plan and overrides set the budget.
    ApiKey,
    /// The client's address, whoever it claims to be.
    ClientAddress,
}

/// Declares the policies:
/// `Variant = "name", LIMIT per Window, Keyed[, tenant "limitKeyName"];`.
/// A policy with a limit key name is also a limit key ([`super::limits::LimitKey::Rate`]):
/// plans grant it and tenants override it like any other limit.
macro_rules! rate_policies {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal, $limit:literal per $window:ident,
       $keyed:ident $(, tenant $field:literal)?;)*) => {
        /// A rate-limit policy: a named budget of requests per window.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RatePolicy {
            $($(#[doc = $doc])+ $variant,)*
        }

        impl RatePolicy {
            pub const ALL: &'static [RatePolicy] = &[$(RatePolicy::$variant),*];

            /// The name in `X-RateLimit-Policy`, problems and flags (`api-write`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(RatePolicy::$variant => $name,)*
                }
            }

            /// The budget when neither the tenant nor its plan sets one.
            pub const fn default_limit(self) -> i64 {
                match self {
                    $(RatePolicy::$variant => $limit,)*
                }
            }

            pub const fn window(self) -> Window {
                match self {
                    $(RatePolicy::$variant => Window::$window,)*
                }
            }

            pub const fn keyed(self) -> Keyed {
                match self {
                    $(RatePolicy::$variant => Keyed::$keyed,)*
                }
            }

            /// The limit key that plans and tenants set this budget with.
            pub const fn limit_field(self) -> Option<&'static str> {
                match self {
                    $(RatePolicy::$variant => rate_policies!(@field $($field)?),)*
                }
            }

            /// What the policy covers, for documentation.
            pub fn describe(self) -> &'static str {
                match self {
                    $(RatePolicy::$variant => concat!($($doc),+),)*
                }
            }
        }
    };
    (@field) => { None };
    (@field $field:literal) => { Some($field) };
}

rate_policies! {
    /// Requests per minute from one client address to sign-in and MFA.
    AuthStrict = "auth-strict", 5 per Minute, ClientAddress;
    /// Requests per minute from one client address to password reset and account unlock.
    AuthLenient = "auth-lenient", 3 per Minute, ClientAddress;
    /// Requests per minute with one key to most routes: single-object reads and what no other
    /// policy covers.
    ApiStandard = "api-standard", 120 per Minute, ApiKey, tenant "apiStandardPerMinute";
    /// Requests per minute with one key to lists and searches.
    ApiReadHeavy = "api-read-heavy", 300 per Minute, ApiKey, tenant "apiReadHeavyPerMinute";
    /// Requests per minute with one key that create, change or delete.
    ApiWrite = "api-write", 60 per Minute, ApiKey, tenant "apiWritePerMinute";
    /// Requests per hour with one key to CSV and PDF exports.
    AnalyticsExport = "analytics-export", 5 per Hour, ApiKey, tenant "analyticsExportPerHour";
    /// Requests per minute with one key to the data plane: call admission, heartbeat and end,
    /// usage ingestion and tenant config reads. One voice platform sends thousands a second
    /// with one key, so this is a guard against runaway clients, not a quota.
    DataPlane = "data-plane", 3000000 per Minute, ApiKey, tenant "dataPlanePerMinute";
}

/// The largest budget a plan, a tenant or a flag may set: the emission interval stays at
/// least a few microseconds.
pub const MAX_LIMIT: i64 = 10_000_000;

impl RatePolicy {
    /// The policy with this name.
    pub fn from_name(name: &str) -> Option<RatePolicy> {
        RatePolicy::ALL
            .iter()
            .copied()
            .find(|policy| policy.name() == name)
    }
}

/// Each policy's budget where no plan or tenant sets one: the declared defaults, which an
/// operator may change per server (`--rate-limit api-write=100`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDefaults([i64; RatePolicy::ALL.len()]);

impl Default for RateDefaults {
    fn default() -> Self {
        let mut limits = [0; RatePolicy::ALL.len()];
        for policy in RatePolicy::ALL {
            limits[*policy as usize] = policy.default_limit();
        }
        RateDefaults(limits)
    }
}

impl RateDefaults {
    pub fn get(&self, policy: RatePolicy) -> Budget {
        Budget {
            limit: self.0[policy as usize],
            window: policy.window(),
        }
    }

    pub fn with(mut self, policy: RatePolicy, limit: i64) -> Self {
        self.0[policy as usize] = limit.clamp(1, MAX_LIMIT);
        self
    }
}

/// A budget in force: `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: i64,
    pub window: Window,
}

impl Budget {
    /// Microseconds the whole window spans.
    pub fn window_micros(self) -> i64 {
        self.window.seconds() * MICROS
    }

    /// Microseconds one request takes of the budget.
    pub fn interval_micros(self) -> i64 {
        (self.window_micros() / self.limit.clamp(1, MAX_LIMIT)).max(1)
    }
}

/// What a limiter answered for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: i64,
    /// Requests that could follow at once.
    pub remaining: i64,
    /// Unix seconds when the budget is whole again.
    pub reset: i64,
    /// Whole seconds until a refused request could be admitted; 0 when admitted.
    pub retry_after: i64,
}

impl Decision {
    /// The answer for a bucket whose TAT is `tat` after the decision at `now` (microseconds
    /// since the epoch): the new TAT if admitted, the unchanged one if not.
    pub fn at(budget: Budget, now: i64, tat: i64, allowed: bool) -> Decision {
        let interval = budget.interval_micros();
        let ahead = (tat - now).max(0);
        let (remaining, retry_after) = if allowed {
            ((budget.window_micros() - ahead) / interval, 0)
        } else {
            let wait = ahead + interval - budget.window_micros();
            (0, ceil_div(wait.max(1), MICROS))
        };
        Decision {
            allowed,
            limit: budget.limit,
            remaining: remaining.clamp(0, budget.limit),
            reset: ceil_div(now + ahead, MICROS),
            retry_after,
        }
    }
}

fn ceil_div(value: i64, by: i64) -> i64 {
    (value + by - 1).div_euclid(by)
}

/// One GCRA step at `now` on a bucket whose TAT is `tat` (`None`: a bucket never used or long
/// refilled). Returns the decision and, when admitted, the bucket's new TAT.
pub fn gcra(budget: Budget, now: i64, tat: Option<i64>) -> (Decision, Option<i64>) {
    let tat = tat.unwrap_or(now).max(now);
    let next = tat + budget.interval_micros();
    if next - budget.window_micros() > now {
        (Decision::at(budget, now, tat, false), None)
    } else {
        (Decision::at(budget, now, next, true), Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000 * MICROS;

    fn run(budget: Budget, times: &[i64]) -> Vec<Decision> {
        let mut tat = None;
        times
            .iter()
            .map(|&now| {
                let (decision, next) = gcra(budget, now, tat);
                tat = next.or(tat);
                decision
            })
            .collect()
    }

    #[test]
    fn a_full_budget_admits_a_burst_of_its_limit_then_refuses() {
        let budget = Budget {
            limit: 5,
            window: Window::Minute,
        };
        let decisions = run(budget, &[NOW; 6]);
        let remaining: Vec<_> = decisions.iter().map(|d| d.remaining).collect();
        assert_eq!(remaining, [4, 3, 2, 1, 0, 0]);
        assert!(decisions[..5].iter().all(|d| d.allowed));
        let refused = decisions[5];
        assert!(!refused.allowed);
        // One request's worth (12 s) refills first.
        assert_eq!(refused.retry_after, 12);
        assert_eq!(refused.reset, NOW / MICROS + 60);
    }

    #[test]
    fn the_budget_refills_one_interval_at_a_time() {
        let budget = Budget {
            limit: 60,
            window: Window::Minute,
        };
        let mut times = vec![NOW; 60];
        times.push(NOW + MICROS / 2);
        times.push(NOW + MICROS);
        let decisions = run(budget, &times);
        assert!(!decisions[60].allowed, "half a second refills nothing");
        assert_eq!(decisions[60].retry_after, 1);
        assert!(decisions[61].allowed, "a second refills one request");
        assert_eq!(decisions[61].remaining, 0);
    }

    #[test]
    fn an_idle_bucket_is_whole_again_after_its_window() {
        let budget = Budget {
            limit: 5,
            window: Window::Hour,
        };
        let decisions = run(budget, &[NOW, NOW, NOW + 3600 * MICROS]);
        assert_eq!(decisions[1].remaining, 3);
        assert_eq!(decisions[2].remaining, 4);
    }

    #[test]
    fn every_policy_has_a_distinct_name_and_a_sane_default() {
        let mut names = std::collections::HashSet::new();
        for policy in RatePolicy::ALL {
            assert!(names.insert(policy.name()), "{policy:?}");
            assert_eq!(RatePolicy::from_name(policy.name()), Some(*policy));
            assert!((1..=MAX_LIMIT).contains(&policy.default_limit()));
            assert_eq!(
                policy.limit_field().is_some(),
                policy.keyed() == Keyed::ApiKey,
                "a per-key budget is a tenant's limit: {policy:?}"
            );
        }
    }
}

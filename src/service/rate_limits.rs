//! The request-rate budget a caller spends: a tenant key's comes from its tenant's override,
//! then its plan, then the server's default; every other caller's is the server's default.
//! Tenants' budgets are cached for [`TENANT_BUDGET_TTL`], so a decision reads no database on
//! the hot path; a changed plan or override takes effect within that time.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::Context;
use crate::domain::access::{Caller, Scope};
use crate::domain::ids::TenantId;
use crate::domain::limits::LimitKey;
use crate::domain::rate_limit::{Budget, RateDefaults, RatePolicy};
use crate::store;

/// How long a tenant's budgets are reused before they are read again.
pub const TENANT_BUDGET_TTL: Duration = Duration::from_secs(5);

/// Cached tenants are swept of stale entries past this many.
const SWEEP_AT: usize = 10_000;

/// The budgets in force on this server.
pub struct Budgets {
    defaults: RateDefaults,
    tenants: RwLock<HashMap<TenantId, Cached>>,
}

/// One tenant's budgets as read, per policy (`None`: the server's default).
struct Cached {
    read_at: Instant,
    limits: [Option<i64>; RatePolicy::ALL.len()],
}

impl Budgets {
    pub fn new(defaults: RateDefaults) -> Budgets {
        Budgets {
            defaults,
            tenants: RwLock::default(),
        }
    }

    /// The budget of `policy` for requests not made with a key (public routes, failed keys).
    pub fn default_of(&self, policy: RatePolicy) -> Budget {
        self.defaults.get(policy)
    }

    /// The budget of `policy` that `caller` spends.
    pub async fn of(&self, ctx: &Context, caller: &Caller, policy: RatePolicy) -> Budget {
        let default = self.defaults.get(policy);
        let Scope::Tenant(tenant) = caller.scope else {
            return default;
        };
        match self.tenant_limit(ctx, tenant, policy).await {
            Some(limit) => Budget { limit, ..default },
            None => default,
        }
    }

    async fn tenant_limit(
        &self,
        ctx: &Context,
        tenant: TenantId,
        policy: RatePolicy,
    ) -> Option<i64> {
        if let Some(cached) = self
            .tenants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant)
            .filter(|cached| cached.read_at.elapsed() < TENANT_BUDGET_TTL)
        {
            return cached.limits[policy as usize];
        }
        let limits = match store::limits::rate_budgets(&ctx.db, tenant).await {
            Ok(Some(limits)) => limits,
            Ok(None) => return None,
            Err(error) => {
                // The limiter never fails a request: the default budget applies meanwhile.
                tracing::warn!(%error, %tenant, "reading the tenant's rate limits failed");
                return None;
            }
        };
        let mut cached = Cached {
            read_at: Instant::now(),
            limits: [None; RatePolicy::ALL.len()],
        };
        for policy in RatePolicy::ALL {
            cached.limits[*policy as usize] = limits.get(LimitKey::Rate(*policy));
        }
        let limit = cached.limits[policy as usize];
        let mut tenants = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        if tenants.len() >= SWEEP_AT {
            tenants.retain(|_, cached| cached.read_at.elapsed() < TENANT_BUDGET_TTL);
        }
        tenants.insert(tenant, cached);
        limit
    }
}

//! Limit rows: a plan's grants in `plan_limits`, a tenant's overrides in `tenant_limits`, one
//! row per key, named by the key's wire name. Reads take them as columns of the owner's own
//! row (a scalar subquery per key, each a primary-key lookup), so reading a tenant with its
//! limits stays one statement, and a new key needs no new column anywhere.

use std::sync::LazyLock;

use super::exec::{query, Tx};
use super::{Db, StoreResult};
use crate::domain::ids::{PlanId, TenantId};
use crate::domain::limits::{EffectiveLimits, LimitKey, Limits};

/// Column names per key: the tenant's override and the plan's grant.
struct Names {
    key: LimitKey,
    tenant: String,
    plan: String,
    effective: String,
}

static NAMES: LazyLock<Vec<Names>> = LazyLock::new(|| {
    LimitKey::ALL
        .iter()
        .map(|key| Names {
            key: *key,
            tenant: format!("t_{}", key.field()),
            plan: format!("p_{}", key.field()),
            effective: format!("e_{}", key.field()),
        })
        .collect()
});

fn names(key: LimitKey) -> &'static Names {
    NAMES
        .iter()
        .find(|names| names.key == key)
        .expect("every key has column names")
}

fn override_of(owner: &str, key: LimitKey) -> String {
    format!(
        "(SELECT value FROM tenant_limits WHERE tenant_id = {owner}.id AND key = '{}')",
        key.field()
    )
}

fn grant_of(owner: &str, key: LimitKey) -> String {
    format!(
        "(SELECT value FROM plan_limits WHERE plan_id = {owner}.plan_id AND key = '{}')",
        key.field()
    )
}

/// `, <override> AS "t_<key>", <grant> AS "p_<key>"` for every key, for a select on
/// `tenants` aliased `owner`; [`TenantLimits`] reads them.
pub fn tenant_columns(owner: &str) -> String {
    let mut sql = String::new();
    for key in LimitKey::ALL {
        let names = names(*key);
        sql.push_str(&format!(
            ", {} AS \"{}\", {} AS \"{}\"",
            override_of(owner, *key),
            names.tenant,
            grant_of(owner, *key),
            names.plan
        ));
    }
    sql
}

/// `, <grant> AS "p_<key>"` for every key, for a select on `tenants` aliased `owner`: its
/// plan's grants without its overrides; [`PlanLimits`] reads them.
pub fn grant_columns(owner: &str) -> String {
    let mut sql = String::new();
    for key in LimitKey::ALL {
        let grant = grant_of(owner, *key);
        sql.push_str(&format!(", {grant} AS \"{}\"", names(*key).plan));
    }
    sql
}

/// `, COALESCE(<override>, <grant>) AS "e_<key>"` for each of `keys`, for a select on
/// `tenants` aliased `owner`; [`EffectiveColumns`] reads them.
pub fn effective_columns(owner: &str, keys: &[LimitKey]) -> String {
    let mut sql = String::new();
    for key in keys {
        sql.push_str(&format!(
            ", COALESCE({}, {}) AS \"{}\"",
            override_of(owner, *key),
            grant_of(owner, *key),
            names(*key).effective
        ));
    }
    sql
}

/// `, <value> AS "p_<key>"` for every key, for a select on `plans` aliased `owner`.
pub fn plan_columns(owner: &str) -> String {
    let mut sql = String::new();
    for key in LimitKey::ALL {
        sql.push_str(&format!(
            ", (SELECT value FROM plan_limits WHERE plan_id = {owner}.id AND key = '{}') AS \"{}\"",
            key.field(),
            names(*key).plan
        ));
    }
    sql
}

/// Reads each key's column of `which`, skipping keys the select did not ask for.
fn read<'r, R>(row: &'r R, which: impl Fn(&'static Names) -> &'static str) -> sqlx::Result<Limits>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut limits = Limits::default();
    for names in NAMES.iter() {
        match row.try_get::<Option<i64>, _>(which(names)) {
            Ok(value) => limits.set(names.key, value),
            Err(sqlx::Error::ColumnNotFound(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(limits)
}

/// A tenant's overrides and its plan's grants, from [`tenant_columns`].
#[derive(Debug, Clone, Default)]
pub struct TenantLimits {
    pub overrides: Limits,
    pub plan: Limits,
}

impl<'r, R> sqlx::FromRow<'r, R> for TenantLimits
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        Ok(TenantLimits {
            overrides: read(row, |names| names.tenant.as_str())?,
            plan: read(row, |names| names.plan.as_str())?,
        })
    }
}

/// A plan's grants, from [`plan_columns`].
#[derive(Debug, Clone, Default)]
pub struct PlanLimits(pub Limits);

impl<'r, R> sqlx::FromRow<'r, R> for PlanLimits
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        read(row, |names| names.plan.as_str()).map(PlanLimits)
    }
}

/// Effective limits of the keys an [`effective_columns`] select asked for.
#[derive(Debug, Clone, Default)]
pub struct EffectiveColumns(pub EffectiveLimits);

impl<'r, R> sqlx::FromRow<'r, R> for EffectiveColumns
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        read(row, |names| names.effective.as_str())
            .map(|limits| EffectiveColumns(EffectiveLimits::from_limits(limits)))
    }
}

/// The request-rate budgets (every [`LimitKey::Rate`]) a tenant's overrides and plan set, or
/// `None` for no such tenant: one statement, which the rate limiter caches per tenant.
pub async fn rate_budgets(db: &Db, tenant_id: TenantId) -> StoreResult<Option<EffectiveLimits>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let keys: Vec<LimitKey> = LimitKey::ALL
            .iter()
            .copied()
            .filter(|key| matches!(key, LimitKey::Rate(_)))
            .collect();
        format!(
            "SELECT t.id{} FROM tenants t WHERE t.id = $1",
            effective_columns("t", &keys)
        )
    });
    let row: Option<EffectiveColumns> = db
        .reader()
        .fetch_optional(query(SQL.as_str()).bind(tenant_id))
        .await?;
    Ok(row.map(|columns| columns.0))
}

/// Replaces a tenant's overrides with `limits`.
pub async fn replace_tenant_limits(
    tx: &mut Tx,
    tenant_id: TenantId,
    limits: &Limits,
) -> StoreResult<()> {
    tx.execute(query("DELETE FROM tenant_limits WHERE tenant_id = $1").bind(tenant_id))
        .await?;
    for (key, value) in limits.iter() {
        tx.execute(
            query("INSERT INTO tenant_limits (tenant_id, key, value) VALUES ($1, $2, $3)")
                .bind(tenant_id)
                .bind(key.field())
                .bind(value),
        )
        .await?;
    }
    Ok(())
}

/// Replaces a plan's grants with `limits`.
pub async fn replace_plan_limits(tx: &mut Tx, plan_id: PlanId, limits: &Limits) -> StoreResult<()> {
    tx.execute(query("DELETE FROM plan_limits WHERE plan_id = $1").bind(plan_id))
        .await?;
    for (key, value) in limits.iter() {
        tx.execute(
            query("INSERT INTO plan_limits (plan_id, key, value) VALUES ($1, $2, $3)")
                .bind(plan_id)
                .bind(key.field())
                .bind(value),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_gets_its_columns() {
        let columns = tenant_columns("t");
        for key in LimitKey::ALL {
            assert!(
                columns.contains(&format!("\"t_{}\"", key.field())),
                "{key:?}"
            );
            assert!(
                columns.contains(&format!("\"p_{}\"", key.field())),
                "{key:?}"
            );
        }
        let effective = effective_columns("t", &[LimitKey::MaxAgents]);
        assert!(effective.starts_with(", COALESCE((SELECT value FROM tenant_limits"));
        assert!(effective.ends_with("AS \"e_maxAgents\""));
    }
}

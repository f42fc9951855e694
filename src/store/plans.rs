//! The plans repository: the catalog, each plan with its grants in `plan_limits`.

use chrono::{DateTime, Utc};

use super::audit::record_change;
use super::limits::{plan_columns, replace_plan_limits, PlanLimits};
use super::{now, query, versioned_change, Db, Query, StoreError, StoreResult};
use crate::domain::ids::PlanId;
use crate::domain::plan::{Plan, PlanFields, PlanRef};
use crate::domain::values::PlanCode;

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: PlanId,
    code: String,
    name: String,
    amount_cents: i64,
    external_billing_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[sqlx(flatten)]
    limits: PlanLimits,
}

impl PlanRow {
    fn into_plan(self) -> StoreResult<Plan> {
        let code = PlanCode::parse(&self.code)
            .map_err(|_| StoreError::Corrupt(anyhow::anyhow!("plan code {:?}", self.code)))?;
        Ok(Plan {
            id: self.id,
            fields: PlanFields {
                code,
                name: self.name,
                amount_cents: self.amount_cents,
                entitlements: self.limits.0,
                external_billing_id: self.external_billing_id,
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// `SELECT` of plans aliased `p`, with their grants, followed by `rest`.
fn select(rest: &str) -> String {
    format!(
        "SELECT p.id, p.code, p.name, p.amount_cents, p.external_billing_id, p.created_at, \
         p.updated_at{} FROM plans p {rest}",
        plan_columns("p")
    )
}

fn find_query(plan: &PlanRef) -> Query<'_> {
    match plan {
        PlanRef::Id(id) => query(select("WHERE p.id = $1")).bind(*id),
        PlanRef::Code(code) => query(select("WHERE p.code = $1")).bind(code.as_str()),
    }
}

pub async fn list(db: &Db) -> StoreResult<Vec<Plan>> {
    let rows: Vec<PlanRow> = db
        .reader()
        .fetch_all(query(select("ORDER BY p.amount_cents, p.code")))
        .await?;
    rows.into_iter().map(PlanRow::into_plan).collect()
}

pub async fn find(db: &Db, plan: &PlanRef) -> StoreResult<Plan> {
    let row: Option<PlanRow> = db.reader().fetch_optional(find_query(plan)).await?;
    row.ok_or(StoreError::NotFound)?.into_plan()
}

pub async fn create(db: &Db, fields: &PlanFields) -> StoreResult<Plan> {
    let id = PlanId::generate();
    let mut tx = db.begin().await?;
    tx.execute(
        query(
            "INSERT INTO plans (id, code, name, amount_cents, external_billing_id, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id)
        .bind(fields.code.as_str())
        .bind(&fields.name)
        .bind(fields.amount_cents)
        .bind(fields.external_billing_id.as_deref())
        .bind(now()),
    )
    .await?;
    replace_plan_limits(&mut tx, id, &fields.entitlements).await?;
    let row: PlanRow = tx.fetch_one(find_query(&PlanRef::Id(id))).await?;
    let plan = row.into_plan()?;
    record_change(&mut tx, "plan.created", None, Some(&plan)).await?;
    tx.commit().await?;
    Ok(plan)
}

/// Changes a plan under its row lock: `change` gets the current fields and returns the new
/// ones (or refuses them); `expected` is an `If-Match` version.
pub async fn update<E: From<StoreError>>(
    db: &Db,
    id: PlanId,
    expected: Option<DateTime<Utc>>,
    change: impl FnOnce(&Plan) -> Result<PlanFields, E>,
) -> Result<Plan, E> {
    let mut tx = db.begin().await?;
    let lock = tx.backend().lock_clause("p");
    let current: PlanRow = tx
        .fetch_optional(query(select(&format!("WHERE p.id = $1{lock}"))).bind(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    let current = current.into_plan()?;
    let fields = change(&current)?;
    let version = versioned_change(expected, current.updated_at)?;
    tx.execute(
        query(
            "UPDATE plans SET code = $2, name = $3, amount_cents = $4, external_billing_id = $5, \
             updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(fields.code.as_str())
        .bind(&fields.name)
        .bind(fields.amount_cents)
        .bind(fields.external_billing_id.as_deref())
        .bind(version),
    )
    .await?;
    replace_plan_limits(&mut tx, id, &fields.entitlements).await?;
    let row: PlanRow = tx.fetch_one(find_query(&PlanRef::Id(id))).await?;
    let plan = row.into_plan()?;
    record_change(&mut tx, "plan.updated", Some(&current), Some(&plan)).await?;
    tx.commit().await?;
    Ok(plan)
}

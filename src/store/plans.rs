//! Plans: the catalog.

use chrono::{DateTime, Utc};

use super::{next_version, now, Db, StoreError, StoreResult};
use crate::domain::ids::PlanId;
use crate::domain::limits::Limits;
use crate::domain::plan::{Plan, PlanFields};
use crate::{in_transaction, on_reader};

macro_rules! plan_columns {
    () => {
        "id, code, name, amount_cents, monthly_spend_limit_cents, max_agents, max_phone_numbers, \
         max_concurrent_calls, monthly_call_limit, max_minutes_per_month, external_billing_id, \
         created_at, updated_at"
    };
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: PlanId,
    code: String,
    name: String,
    amount_cents: i64,
    monthly_spend_limit_cents: Option<i64>,
    max_agents: Option<i64>,
    max_phone_numbers: Option<i64>,
    max_concurrent_calls: Option<i64>,
    monthly_call_limit: Option<i64>,
    max_minutes_per_month: Option<i64>,
    external_billing_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PlanRow> for Plan {
    fn from(row: PlanRow) -> Self {
        Plan {
            id: row.id,
            code: row.code,
            name: row.name,
            amount_cents: row.amount_cents,
            entitlements: Limits {
                monthly_spend_limit_cents: row.monthly_spend_limit_cents,
                max_agents: row.max_agents,
                max_phone_numbers: row.max_phone_numbers,
                max_concurrent_calls: row.max_concurrent_calls,
                monthly_call_limit: row.monthly_call_limit,
                max_minutes_per_month: row.max_minutes_per_month,
            },
            external_billing_id: row.external_billing_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A plan named by id or by code.
#[derive(Debug, Clone)]
pub enum PlanRef {
    Id(PlanId),
    Code(String),
}

impl Db {
    pub async fn list_plans(&self) -> StoreResult<Vec<Plan>> {
        let rows: Vec<PlanRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                plan_columns!(),
                " FROM plans ORDER BY amount_cents, code"
            ))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Plan::from).collect())
    }

    pub async fn find_plan(&self, plan: &PlanRef) -> StoreResult<Plan> {
        let (id, code) = match plan {
            PlanRef::Id(id) => (Some(*id), None),
            PlanRef::Code(code) => (None, Some(code.as_str())),
        };
        let row: Option<PlanRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                plan_columns!(),
                " FROM plans WHERE id = $1 OR code = $2"
            ))
            .bind(id)
            .bind(code)
            .fetch_optional(pool)
            .await?
        });
        row.map(Plan::from).ok_or(StoreError::NotFound)
    }

    pub async fn create_plan(&self, fields: &PlanFields) -> StoreResult<Plan> {
        let at = now();
        let row: PlanRow = in_transaction!(self, |tx| {
            sqlx::query_as(concat!(
                "INSERT INTO plans (",
                plan_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING ",
                plan_columns!()
            ))
            .bind(PlanId::generate())
            .bind(&fields.code)
            .bind(&fields.name)
            .bind(fields.amount_cents)
            .bind(fields.entitlements.monthly_spend_limit_cents)
            .bind(fields.entitlements.max_agents)
            .bind(fields.entitlements.max_phone_numbers)
            .bind(fields.entitlements.max_concurrent_calls)
            .bind(fields.entitlements.monthly_call_limit)
            .bind(fields.entitlements.max_minutes_per_month)
            .bind(&fields.external_billing_id)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?
        });
        Ok(row.into())
    }

    /// Replaces a plan's fields, unless `expected` (an `If-Match` version) is stale.
    pub async fn update_plan(
        &self,
        id: PlanId,
        fields: &PlanFields,
        expected: Option<DateTime<Utc>>,
        previous: DateTime<Utc>,
    ) -> StoreResult<Plan> {
        let row: Option<PlanRow> = in_transaction!(self, |tx| {
            sqlx::query_as(concat!(
                "UPDATE plans SET code = $2, name = $3, amount_cents = $4, \
                 monthly_spend_limit_cents = $5, max_agents = $6, max_phone_numbers = $7, \
                 max_concurrent_calls = $8, monthly_call_limit = $9, max_minutes_per_month = $10, \
                 external_billing_id = $11, updated_at = $12 \
                 WHERE id = $1 AND ($13 IS NULL OR updated_at = $13) RETURNING ",
                plan_columns!()
            ))
            .bind(id)
            .bind(&fields.code)
            .bind(&fields.name)
            .bind(fields.amount_cents)
            .bind(fields.entitlements.monthly_spend_limit_cents)
            .bind(fields.entitlements.max_agents)
            .bind(fields.entitlements.max_phone_numbers)
            .bind(fields.entitlements.max_concurrent_calls)
            .bind(fields.entitlements.monthly_call_limit)
            .bind(fields.entitlements.max_minutes_per_month)
            .bind(&fields.external_billing_id)
            .bind(next_version(previous))
            .bind(expected)
            .fetch_optional(&mut *tx)
            .await?
        });
        // The caller loaded the object first, so a missing row means the version moved on.
        row.map(Plan::from).ok_or(StoreError::Stale)
    }
}

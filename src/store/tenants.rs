//! Tenants and their owners. Every read is filtered by the caller's [`TenantScope`].

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{next_version, now, Db, StoreError, StoreResult};
use crate::domain::access::TenantScope;
use crate::domain::conflict::Conflict;
use crate::domain::ids::{AgencyId, PlanId, TenantId, UserId};
use crate::domain::limits::Limits;
use crate::domain::metering::Period;
use crate::domain::tenant::{
    BillingAlerts, NewTenant, Owner, Settings, Tenant, TenantChanges, TenantStatus, TenantType,
    UsageSummary,
};
use crate::domain::time::BoundedTime;
use crate::domain::validation::slugify;
use crate::{in_transaction, on_reader};

/// The tenant read: its row, its plan's entitlements, its owner and its usage in the period
/// that starts on the date bound at `$1`.
macro_rules! tenant_select {
    () => {
        "SELECT t.id, t.agency_id, t.name, t.slug, t.status, t.billing_mode, p.code AS plan_code, \
         t.monthly_spend_limit_cents, t.max_agents, t.max_phone_numbers, t.max_concurrent_calls, \
         t.monthly_call_limit, t.max_minutes_per_month, \
         p.monthly_spend_limit_cents AS plan_monthly_spend_limit_cents, \
         p.max_agents AS plan_max_agents, p.max_phone_numbers AS plan_max_phone_numbers, \
         p.max_concurrent_calls AS plan_max_concurrent_calls, \
         p.monthly_call_limit AS plan_monthly_call_limit, \
         p.max_minutes_per_month AS plan_max_minutes_per_month, \
         t.billing_alerts, t.settings, t.metadata, \
         t.owner_user_id AS owner_id, t.owner_email, t.owner_name, t.owner_first_name, \
         t.owner_last_name, t.created_at, t.updated_at, \
         m.calls AS usage_calls, m.seconds AS usage_seconds, m.cost_cents AS usage_cost_cents \
         FROM tenants t JOIN plans p ON p.id = t.plan_id \
         LEFT JOIN tenant_usage m ON m.tenant_id = t.id AND m.period_start = $1"
    };
}

/// Visible to the scope bound at `$2` (agency) and `$3` (tenant); never soft-deleted.
macro_rules! scoped {
    () => {
        " WHERE t.status <> 'deleted' AND ($2 IS NULL OR t.agency_id = $2) \
         AND ($3 IS NULL OR t.id = $3)"
    };
}

/// The first day of the period whose usage a tenant read shows.
fn current_period() -> chrono::NaiveDate {
    Period::containing(now()).start
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: TenantId,
    agency_id: Option<AgencyId>,
    name: String,
    slug: String,
    status: String,
    billing_mode: String,
    plan_code: String,
    monthly_spend_limit_cents: Option<i64>,
    max_agents: Option<i64>,
    max_phone_numbers: Option<i64>,
    max_concurrent_calls: Option<i64>,
    monthly_call_limit: Option<i64>,
    max_minutes_per_month: Option<i64>,
    plan_monthly_spend_limit_cents: Option<i64>,
    plan_max_agents: Option<i64>,
    plan_max_phone_numbers: Option<i64>,
    plan_max_concurrent_calls: Option<i64>,
    plan_monthly_call_limit: Option<i64>,
    plan_max_minutes_per_month: Option<i64>,
    billing_alerts: Json<BillingAlerts>,
    settings: Json<Settings>,
    metadata: Json<serde_json::Map<String, serde_json::Value>>,
    owner_id: Option<UserId>,
    owner_email: Option<String>,
    owner_name: Option<String>,
    owner_first_name: Option<String>,
    owner_last_name: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    usage_calls: Option<i64>,
    usage_seconds: Option<i64>,
    usage_cost_cents: Option<i64>,
}

/// Reads a snake_case enum stored as text.
pub(crate) fn enum_from_text<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    super::from_json(serde_json::Value::String(text.to_owned()))
}

/// Writes a snake_case enum as text.
pub(crate) fn enum_to_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => unreachable!("enums serialize to strings"),
    }
}

impl TenantRow {
    fn into_tenant(self) -> StoreResult<Tenant> {
        let usage_limits = Limits {
            monthly_spend_limit_cents: self.monthly_spend_limit_cents,
            max_agents: self.max_agents,
            max_phone_numbers: self.max_phone_numbers,
            max_concurrent_calls: self.max_concurrent_calls,
            monthly_call_limit: self.monthly_call_limit,
            max_minutes_per_month: self.max_minutes_per_month,
        };
        let plan_limits = Limits {
            monthly_spend_limit_cents: self.plan_monthly_spend_limit_cents,
            max_agents: self.plan_max_agents,
            max_phone_numbers: self.plan_max_phone_numbers,
            max_concurrent_calls: self.plan_max_concurrent_calls,
            monthly_call_limit: self.plan_monthly_call_limit,
            max_minutes_per_month: self.plan_max_minutes_per_month,
        };
        let owner = match (self.owner_email, self.owner_name) {
            (Some(email), Some(name)) => Some(Owner {
                id: self.owner_id,
                email,
                name,
                first_name: self.owner_first_name,
                last_name: self.owner_last_name,
            }),
            _ => None,
        };
        Ok(Tenant {
            id: self.id,
            name: self.name,
            slug: self.slug,
            status: enum_from_text(&self.status)?,
            plan: self.plan_code,
            agency_id: self.agency_id,
            billing_mode: enum_from_text(&self.billing_mode)?,
            tenant_type: TenantType::for_agency(self.agency_id),
            effective_limits: usage_limits.over(&plan_limits),
            usage_limits,
            billing_alerts: self.billing_alerts.0,
            settings: self.settings.0,
            metadata: self.metadata.0,
            usage_current_month: UsageSummary::new(
                self.usage_calls.unwrap_or(0),
                self.usage_seconds.unwrap_or(0),
                self.usage_cost_cents.unwrap_or(0),
            ),
            owner,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Sort keys of the tenant list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSort {
    Name,
    Slug,
    CreatedAt,
    UpdatedAt,
}

impl TenantSort {
    fn column(self) -> &'static str {
        match self {
            TenantSort::Name => "t.name",
            TenantSort::Slug => "t.slug",
            TenantSort::CreatedAt => "t.created_at",
            TenantSort::UpdatedAt => "t.updated_at",
        }
    }

    /// Whether `value` is of this key's kind.
    pub fn accepts(self, value: &SortValue) -> bool {
        match self {
            TenantSort::Name | TenantSort::Slug => matches!(value, SortValue::Text(_)),
            TenantSort::CreatedAt | TenantSort::UpdatedAt => matches!(value, SortValue::Time(_)),
        }
    }

    /// The value of this key on a tenant, to resume a page after it.
    pub fn key_of(self, tenant: &Tenant) -> SortValue {
        match self {
            TenantSort::Name => SortValue::Text(tenant.name.clone()),
            TenantSort::Slug => SortValue::Text(tenant.slug.clone()),
            TenantSort::CreatedAt => SortValue::Time(BoundedTime::clamped(tenant.created_at)),
            TenantSort::UpdatedAt => SortValue::Time(BoundedTime::clamped(tenant.updated_at)),
        }
    }
}

/// A sort-key value carried in a cursor; tagged, so a name that reads like a time stays text.
/// A time is bounded, like every time a client sends: a cursor comes back from the client.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortValue {
    Time(BoundedTime),
    Text(String),
}

/// Filters and position of one page of tenants.
#[derive(Debug, Clone)]
pub struct TenantQuery {
    pub status: Option<TenantStatus>,
    pub plan_code: Option<String>,
    pub agency_id: Option<AgencyId>,
    /// Case-insensitive prefix of the name or the slug.
    pub name_prefix: Option<String>,
    pub sort: TenantSort,
    pub descending: bool,
    /// Resume strictly after this (sort value, id).
    pub after: Option<(SortValue, TenantId)>,
    pub limit: i64,
}

/// A value bound to a dynamically built query.
enum Arg {
    Text(String),
    Uuid(Uuid),
    Time(DateTime<Utc>),
    Int(i64),
}

fn escape_like(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len() + 1);
    for c in prefix.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

impl TenantQuery {
    /// The SQL after the SELECT and its arguments, numbered from `$4` (the period and the
    /// scope take `$1` to `$3`).
    fn to_sql(&self) -> (String, Vec<Arg>) {
        let mut sql = String::from(scoped!());
        let mut args = Vec::new();
        let mut push = |sql: &mut String, clause: &str, arg: Arg| {
            args.push(arg);
            sql.push_str(&clause.replace('?', &format!("${}", args.len() + 3)));
        };
        if let Some(status) = self.status {
            // The scope hides deleted tenants; asking for them by status shows them again.
            if status == TenantStatus::Deleted {
                sql = sql.replace("t.status <> 'deleted' AND ", "");
            }
            push(
                &mut sql,
                " AND t.status = ?",
                Arg::Text(enum_to_text(&status)),
            );
        }
        if let Some(code) = &self.plan_code {
            push(&mut sql, " AND p.code = ?", Arg::Text(code.clone()));
        }
        if let Some(agency) = self.agency_id {
            push(&mut sql, " AND t.agency_id = ?", Arg::Uuid(agency.0));
        }
        if let Some(prefix) = &self.name_prefix {
            let pattern = escape_like(prefix);
            push(
                &mut sql,
                " AND (lower(t.name) LIKE ? ESCAPE '\\'",
                Arg::Text(pattern.clone()),
            );
            push(
                &mut sql,
                " OR t.slug LIKE ? ESCAPE '\\')",
                Arg::Text(pattern),
            );
        }
        let column = self.sort.column();
        let (cmp, dir) = if self.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some((value, id)) = &self.after {
            let value = match value {
                SortValue::Text(text) => Arg::Text(text.clone()),
                SortValue::Time(time) => Arg::Time(time.get()),
            };
            push(&mut sql, &format!(" AND ({column}, t.id) {cmp} (?"), value);
            push(&mut sql, ", ?)", Arg::Uuid(id.0));
        }
        sql.push_str(&format!(" ORDER BY {column} {dir}, t.id {dir}"));
        push(&mut sql, " LIMIT ?", Arg::Int(self.limit));
        (sql, args)
    }
}

/// Writes the fields of `$changes` over `$current`.
macro_rules! apply_changes {
    ($executor:expr, $current:expr, $changes:expr, $plan_id:expr) => {{
        let current: &Tenant = $current;
        let changes: &TenantChanges = $changes;
        let limits = changes.limits.unwrap_or(current.usage_limits);
        let updated_at = next_version(current.updated_at);
        sqlx::query(
            "UPDATE tenants SET name = $2, slug = $3, plan_id = COALESCE($4, plan_id), \
             billing_mode = $5, monthly_spend_limit_cents = $6, max_agents = $7, \
             max_phone_numbers = $8, max_concurrent_calls = $9, monthly_call_limit = $10, \
             max_minutes_per_month = $11, billing_alerts = $12, settings = $13, metadata = $14, \
             updated_at = $15 WHERE id = $1",
        )
        .bind(current.id)
        .bind(changes.name.as_ref().unwrap_or(&current.name))
        .bind(changes.slug.as_ref().unwrap_or(&current.slug))
        .bind($plan_id)
        .bind(enum_to_text(
            &changes.billing_mode.unwrap_or(current.billing_mode),
        ))
        .bind(limits.monthly_spend_limit_cents)
        .bind(limits.max_agents)
        .bind(limits.max_phone_numbers)
        .bind(limits.max_concurrent_calls)
        .bind(limits.monthly_call_limit)
        .bind(limits.max_minutes_per_month)
        .bind(Json(
            changes
                .billing_alerts
                .as_ref()
                .unwrap_or(&current.billing_alerts),
        ))
        .bind(Json(changes.settings.as_ref().unwrap_or(&current.settings)))
        .bind(Json(changes.metadata.as_ref().unwrap_or(&current.metadata)))
        .bind(updated_at)
        .execute($executor)
        .await
        .map_err(StoreError::from)?;
    }};
}

impl Db {
    pub async fn find_tenant(&self, scope: TenantScope, id: TenantId) -> StoreResult<Tenant> {
        let row: Option<TenantRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(tenant_select!(), scoped!(), " AND t.id = $4"))
                .bind(current_period())
                .bind(scope.agency_id)
                .bind(scope.tenant_id)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound)?.into_tenant()
    }

    pub async fn list_tenants(
        &self,
        scope: TenantScope,
        query: &TenantQuery,
    ) -> StoreResult<Vec<Tenant>> {
        let (filter, args) = query.to_sql();
        let sql = format!("{}{filter}", tenant_select!());
        let rows: Vec<TenantRow> = on_reader!(self, |pool| {
            let mut q = sqlx::query_as(&sql)
                .bind(current_period())
                .bind(scope.agency_id)
                .bind(scope.tenant_id);
            for arg in &args {
                q = match arg {
                    Arg::Text(text) => q.bind(text.as_str()),
                    Arg::Uuid(uuid) => q.bind(*uuid),
                    Arg::Time(time) => q.bind(*time),
                    Arg::Int(int) => q.bind(*int),
                };
            }
            q.fetch_all(pool).await?
        });
        rows.into_iter().map(TenantRow::into_tenant).collect()
    }

    /// Creates a tenant with its owner. A taken slug is `Conflict { "tenants.slug" }`, unless
    /// the slug was derived from the name, in which case a short suffix makes it unique.
    pub async fn create_tenant(&self, new: &NewTenant, plan_id: PlanId) -> StoreResult<Tenant> {
        let id = TenantId::generate();
        let at = now();
        let row: TenantRow = in_transaction!(self, |tx| {
            let mut slug = new.slug.clone().unwrap_or_else(|| slugify(&new.name));
            for attempt in 0.. {
                let inserted: Option<(TenantId,)> = sqlx::query_as(
                    "INSERT INTO tenants (id, agency_id, name, slug, status, plan_id, billing_mode, \
                     owner_email, owner_name, owner_first_name, owner_last_name, \
                     monthly_spend_limit_cents, max_agents, max_phone_numbers, \
                     max_concurrent_calls, monthly_call_limit, max_minutes_per_month, \
                     billing_alerts, settings, metadata, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                     $14, $15, $16, $17, $18, $19, $20, $20) ON CONFLICT (slug) DO NOTHING RETURNING id",
                )
                .bind(id)
                .bind(new.agency_id)
                .bind(&new.name)
                .bind(&slug)
                .bind(plan_id)
                .bind(enum_to_text(&new.billing_mode))
                .bind(new.owner.as_ref().map(|o| o.email.to_lowercase()))
                .bind(new.owner.as_ref().map(|o| &o.name))
                .bind(new.owner.as_ref().and_then(|o| o.first_name.as_ref()))
                .bind(new.owner.as_ref().and_then(|o| o.last_name.as_ref()))
                .bind(new.limits.monthly_spend_limit_cents)
                .bind(new.limits.max_agents)
                .bind(new.limits.max_phone_numbers)
                .bind(new.limits.max_concurrent_calls)
                .bind(new.limits.monthly_call_limit)
                .bind(new.limits.max_minutes_per_month)
                .bind(Json(&new.billing_alerts))
                .bind(Json(&new.settings))
                .bind(Json(&new.metadata))
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                if inserted.is_some() {
                    break;
                }
                if new.slug.is_some() || attempt == 3 {
                    return Err(StoreError::Conflict(Conflict::SlugTaken));
                }
                let base: String = slugify(&new.name).chars().take(56).collect();
                let suffix = &id.to_string()[24..];
                slug = format!("{}-{suffix}{attempt}", base.trim_end_matches('-'));
            }
            sqlx::query("INSERT INTO tenant_counters (tenant_id) VALUES ($1)")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query_as(concat!(tenant_select!(), " WHERE t.id = $2"))
                .bind(current_period())
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
        });
        row.into_tenant()
    }

    /// Applies `change` to the current tenant under a write lock, so concurrent partial
    /// updates never overwrite each other. `expected` is an `If-Match` version.
    pub async fn update_tenant<E>(
        &self,
        scope: TenantScope,
        id: TenantId,
        expected: Option<DateTime<Utc>>,
        change: impl FnOnce(&Tenant) -> Result<(TenantChanges, Option<PlanId>), E>,
    ) -> Result<Tenant, E>
    where
        E: From<StoreError>,
    {
        let row: TenantRow = in_transaction!(self, |tx, backend| {
            let lock = backend.lock_clause("t");
            let sql = format!("{}{} AND t.id = $4{lock}", tenant_select!(), scoped!());
            let current: Option<TenantRow> = sqlx::query_as(&sql)
                .bind(current_period())
                .bind(scope.agency_id)
                .bind(scope.tenant_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            let current = current.ok_or(StoreError::NotFound)?.into_tenant()?;
            // Bad input is refused as such, whatever the version.
            let (changes, plan_id) = change(&current)?;
            if expected.is_some_and(|version| version != current.updated_at) {
                return Err(StoreError::Stale.into());
            }
            apply_changes!(&mut *tx, &current, &changes, plan_id);
            sqlx::query_as(concat!(tenant_select!(), " WHERE t.id = $2"))
                .bind(current_period())
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from)?
        });
        row.into_tenant().map_err(E::from)
    }
}

/// A tenant's id and agency, for the policy's reach; `None` when it does not exist or is
/// deleted.
pub async fn find_ref(db: &Db, id: TenantId) -> StoreResult<Option<(TenantId, Option<AgencyId>)>> {
    db.reader()
        .fetch_optional(
            super::query("SELECT id, agency_id FROM tenants WHERE id = $1 AND status <> 'deleted'")
                .bind(id),
        )
        .await
}

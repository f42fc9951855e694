//! The tenants repository. Every read is filtered by the caller's [`TenantScope`]; a tenant's
//! limits are read with its row (see `store::limits`), and its usage of the current period
//! from `tenant_usage`.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::alerts::{actions_from_json, usage_alerts_from_json, usage_alerts_json};
use super::audit::{record, record_change, Change};
use super::branding;
use super::limits::{
    grant_columns, replace_tenant_limits, tenant_columns, PlanLimits, TenantLimits,
};
use super::subscriptions::{self, SubscriptionColumns};
use super::{
    json, next_version, now, query, versioned_change, Arg, Backend, Db, Query, StoreError,
    StoreResult, Tx,
};
use crate::domain::access::TenantScope;
use crate::domain::alerts::{UsageAlerts, SUSPEND_REASON};
use crate::domain::audit::Actor;
use crate::domain::conflict::Conflict;
use crate::domain::ids::{AgencyId, PlanId, TenantId, UserId};
use crate::domain::limits::Limits;
use crate::domain::metering::Period;
use crate::domain::plan::{Plan, PlanFields};
use crate::domain::tenant::{
    BillingAlerts, Deactivation, Deletion, EffectiveStatus, Metadata, NewTenant, Owner, Settings,
    Tenant, TenantChanges, TenantProfile, TenantQuery, TenantSort, TenantStatus, TenantType,
    UsageSummary,
};
use crate::domain::values::{PlanCode, Slug};

/// The tenant read: its row, its plan, its limits, its block, its subscription, and its usage
/// in its billing period at the time bound at `$2` (its subscription's current period if
/// that holds the time and the subscription is not canceled, else the calendar month that
/// starts on the date bound at `$1`). Tenants are aliased `t`; [`read`] binds both. Written
/// once: it is the text of every tenant read, a hot path.
static SELECT: LazyLock<String> = LazyLock::new(select);

/// A tenant's profile ([`TenantProfile`]): its row's identity, its plan with its grants, its
/// subscription and what it shows. Tenants are aliased `t`; nothing is bound.
static SELECT_PROFILE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT t.id, t.agency_id, t.name, t.status, t.created_at, t.updated_at, \
         {PLAN_COLUMNS}{grants}{subscription}{shown} {PLAN_AND_SUBSCRIPTION}{joins}",
        grants = grant_columns("t"),
        subscription = subscriptions::columns("s", "sp"),
        shown = branding::Layered::columns(&branding::TENANT_LAYERS),
        joins = branding::TENANT_JOINS,
    )
});

/// The columns [`PlanRow`] reads, of the tenant's plan `p`.
const PLAN_COLUMNS: &str = "p.code AS plan_code, t.plan_id, p.name AS plan_name, \
     p.amount_cents AS plan_amount_cents, p.external_billing_id AS plan_external_billing_id, \
     p.created_at AS plan_created_at, p.updated_at AS plan_updated_at";

/// Tenants `t` with their plan `p`, their subscription `s` and its plan `sp`.
const PLAN_AND_SUBSCRIPTION: &str = "FROM tenants t JOIN plans p ON p.id = t.plan_id \
     LEFT JOIN subscriptions s ON s.tenant_id = t.id LEFT JOIN plans sp ON sp.id = s.plan_id";

fn select() -> String {
    format!(
        "SELECT t.id, t.agency_id, t.name, t.slug, t.status, t.billing_mode, {PLAN_COLUMNS}, \
         t.sip_enabled, t.sip_domain, t.sip_username, t.recording_enabled, t.recording_format, \
         t.retention_days, t.analytics_enabled, t.hipaa_enabled, t.pci_enabled, \
         t.data_encryption_enabled, t.webhook_url, t.webhook_timeout_seconds, \
         t.alert_thresholds, t.alert_emails, t.action_at_100, t.threshold_actions, \
         t.usage_alerts, t.suspended_until, t.metadata, \
         t.owner_user_id AS owner_id, t.owner_email, t.owner_name, t.owner_first_name, \
         t.owner_last_name, t.deactivated_at, t.deactivation_reason, t.deleted_at, t.purge_after, \
         t.created_at, t.updated_at, {block}, \
         m.calls AS usage_calls, m.seconds AS usage_seconds, m.cost_cents AS usage_cost_cents\
         {limits}{subscription} {PLAN_AND_SUBSCRIPTION} \
         LEFT JOIN tenant_usage m ON m.tenant_id = t.id AND m.period_start = CASE \
         WHEN s.status <> 'canceled' AND s.current_period_start <= $2 \
         AND s.current_period_end > $2 THEN s.period_start_day ELSE $1 END",
        limits = tenant_columns("t"),
        subscription = subscriptions::columns("s", "sp"),
        block = super::blocks::COLUMNS,
    )
}

/// The tenant read with its times bound: `$1` and `$2`, so what follows binds from `$3`.
fn read() -> Query<'static> {
    let at = now();
    query(SELECT.as_str())
        .bind(Period::containing(at).start)
        .bind(at)
}

/// Narrows a tenant read to `scope`. Soft-deleted tenants stay hidden unless `status` asks
/// for them. Only present parts become predicates, so each scope keeps its own indexes.
/// `column` writes a column's name (see [`list_query`] for why it may change it), `unindexed`
/// one that no index should serve.
fn push_scope(
    statement: &mut Query<'static>,
    scope: TenantScope,
    status: Option<EffectiveStatus>,
    (column, unindexed): (impl Fn(&str) -> String, impl Fn(&str) -> String),
) {
    let status_column = column("t.status");
    let blocked_at = column("t.blocked_at");
    match status {
        // Written out, not bound: the planner matches them to the partial indexes of blocked
        // tenants (migration 0025) only as literals.
        Some(EffectiveStatus::Active) => statement.push_sql(
            &format!(" WHERE {status_column} = 'active' AND {blocked_at} IS NULL"),
            [],
        ),
        // Blocked tenants are few: walk their index, not the status's (which SQLite, without
        // statistics, would rather take).
        Some(EffectiveStatus::Blocked) => statement.push_sql(
            &format!(
                " WHERE {blocked_at} IS NOT NULL AND {} = 'active'",
                unindexed("t.status")
            ),
            [],
        ),
        Some(status) => statement.push_sql(
            &format!(" WHERE {status_column} = ?"),
            [<&str>::from(status).into()],
        ),
        None => statement.push_sql(&format!(" WHERE {status_column} <> 'deleted'"), []),
    }
    if let Some(agency) = scope.agency_id {
        statement.push_sql(
            &format!(" AND {} = ?", column("t.agency_id")),
            [agency.into()],
        );
    }
    if let Some(tenant) = scope.tenant_id {
        statement.push_sql(" AND t.id = ?", [tenant.into()]);
    }
}

/// The tenant read of one tenant in `scope`: the statement of [`find`].
pub fn find_query(scope: TenantScope, id: TenantId) -> Query<'static> {
    by_id(read(), scope, id)
}

/// `statement`, a tenant read, narrowed to tenant `id` within `scope`.
fn by_id(mut statement: Query<'static>, scope: TenantScope, id: TenantId) -> Query<'static> {
    push_scope(&mut statement, scope, None, (str::to_owned, str::to_owned));
    statement.push_sql(" AND t.id = ?", [id.into()]);
    statement
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: TenantId,
    agency_id: Option<AgencyId>,
    name: String,
    slug: String,
    status: String,
    billing_mode: String,
    #[sqlx(flatten)]
    plan: PlanRow,
    #[sqlx(flatten)]
    settings: SettingsRow,
    alert_thresholds: Json<Vec<i64>>,
    alert_emails: Json<Vec<String>>,
    action_at_100: String,
    threshold_actions: Json<Value>,
    usage_alerts: Json<Value>,
    suspended_until: Option<NaiveDate>,
    metadata: Json<Metadata>,
    owner_id: Option<UserId>,
    owner_email: Option<String>,
    owner_name: Option<String>,
    owner_first_name: Option<String>,
    owner_last_name: Option<String>,
    deactivated_at: Option<DateTime<Utc>>,
    deactivation_reason: Option<String>,
    deleted_at: Option<DateTime<Utc>>,
    purge_after: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    usage_calls: Option<i64>,
    usage_seconds: Option<i64>,
    usage_cost_cents: Option<i64>,
    #[sqlx(flatten)]
    limits: TenantLimits,
    #[sqlx(flatten)]
    block: super::blocks::BlockRow,
    #[sqlx(flatten)]
    subscription: SubscriptionColumns,
}

/// The tenant's plan's columns; its grants are the limits' `p_` columns.
#[derive(sqlx::FromRow)]
struct PlanRow {
    plan_id: PlanId,
    plan_code: String,
    plan_name: String,
    plan_amount_cents: i64,
    plan_external_billing_id: Option<String>,
    plan_created_at: DateTime<Utc>,
    plan_updated_at: DateTime<Utc>,
}

impl PlanRow {
    fn into_plan(self, entitlements: Limits) -> StoreResult<Plan> {
        Ok(Plan {
            id: self.plan_id,
            fields: PlanFields {
                code: PlanCode::parse(&self.plan_code)
                    .map_err(|_| corrupt("plan", &self.plan_code))?,
                name: self.plan_name,
                amount_cents: self.plan_amount_cents,
                entitlements,
                external_billing_id: self.plan_external_billing_id,
            },
            created_at: self.plan_created_at,
            updated_at: self.plan_updated_at,
        })
    }
}

/// A tenant's settings columns.
#[derive(sqlx::FromRow)]
struct SettingsRow {
    sip_enabled: bool,
    sip_domain: Option<String>,
    sip_username: Option<String>,
    recording_enabled: bool,
    recording_format: String,
    retention_days: i64,
    analytics_enabled: bool,
    hipaa_enabled: bool,
    pci_enabled: bool,
    data_encryption_enabled: bool,
    webhook_url: Option<String>,
    webhook_timeout_seconds: i64,
}

impl SettingsRow {
    fn into_settings(self) -> StoreResult<Settings> {
        Ok(Settings {
            sip_enabled: self.sip_enabled,
            sip_domain: self.sip_domain,
            sip_username: self.sip_username,
            recording_enabled: self.recording_enabled,
            recording_format: stored("recording format", &self.recording_format)?,
            retention_days: self.retention_days,
            analytics_enabled: self.analytics_enabled,
            hipaa_enabled: self.hipaa_enabled,
            pci_enabled: self.pci_enabled,
            data_encryption_enabled: self.data_encryption_enabled,
            webhook_url: self.webhook_url,
            webhook_timeout_seconds: self.webhook_timeout_seconds,
        })
    }
}

/// A value stored by this program that does not read back.
fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(anyhow::anyhow!("stored {what} {value:?} does not parse"))
}

/// Parses a text column written from a domain value.
fn stored<T: std::str::FromStr>(what: &str, text: &str) -> StoreResult<T> {
    text.parse().map_err(|_| corrupt(what, text))
}

impl TenantRow {
    fn into_tenant(self) -> StoreResult<Tenant> {
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
        let TenantLimits { overrides, plan } = self.limits;
        let effective_limits = overrides.over(&plan);
        let plan_details = self.plan.into_plan(plan)?;
        Ok(Tenant {
            id: self.id,
            name: self.name,
            slug: Slug::parse(&self.slug).map_err(|_| corrupt("slug", &self.slug))?,
            status: stored("status", &self.status)?,
            plan: plan_details.fields.code.clone(),
            plan_details,
            subscription: self.subscription.into_subscription(self.id)?,
            agency_id: self.agency_id,
            billing_mode: stored("billing mode", &self.billing_mode)?,
            tenant_type: TenantType::for_agency(self.agency_id),
            effective_limits,
            usage_limits: overrides,
            billing_alerts: BillingAlerts {
                alert_thresholds: self.alert_thresholds.0,
                alert_emails: self.alert_emails.0,
                action_at_100: stored("action at 100%", &self.action_at_100)?,
                threshold_actions: actions_from_json(&self.threshold_actions.0)?,
            },
            usage_alerts: usage_alerts_from_json(&self.usage_alerts.0)?,
            settings: self.settings.into_settings()?,
            metadata: self.metadata.0,
            usage_current_month: UsageSummary::new(
                self.usage_calls.unwrap_or(0),
                self.usage_seconds.unwrap_or(0),
                self.usage_cost_cents.unwrap_or(0),
            ),
            owner,
            deactivation: self.deactivated_at.map(|at| Deactivation {
                at,
                reason: self.deactivation_reason,
            }),
            suspended_until: self.suspended_until,
            deletion: self
                .deleted_at
                .zip(self.purge_after)
                .map(|(at, purge_after)| Deletion { at, purge_after }),
            block: self.block.into_block()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn sort_column(sort: TenantSort) -> &'static str {
    match sort {
        TenantSort::Name => "t.name",
        TenantSort::Slug => "t.slug",
        TenantSort::CreatedAt => "t.created_at",
        TenantSort::UpdatedAt => "t.updated_at",
    }
}

/// `LIKE` pattern matching `text` anywhere, with its wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// FTS5 query for `text` as one phrase: with the trigram tokenizer, a substring. The index
/// holds names lowered in ASCII only, as SQLite's `LIKE` compares, so both paths agree.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.to_ascii_lowercase().replace('"', "\"\""))
}

/// How a list statement finds the tenants whose name or slug contains the searched text.
/// Neither planner can tell a rare text from a common one well enough (SQLite keeps no
/// statistics; PostgreSQL assumes matches spread evenly along the list's order, and walks a
/// million tenants when they sit at its end), so the store counts matches, up to
/// [`rare_matches`], and says which path to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchPath {
    /// From the trigram index, then sorted: cost grows with the matches.
    Index,
    /// Along the list's own index, testing each tenant: a page fills fast when many match.
    Walk,
}

/// Up to this many matches on the platform, a search reads them from the trigram index.
/// PostgreSQL sorts matches cheaply (it computes the page's columns after the sort), SQLite
/// computes every match's columns first, so it stops sooner.
pub fn rare_matches(backend: Backend) -> i64 {
    match backend {
        Backend::Sqlite => 2_000,
        Backend::Postgres => 20_000,
    }
}

/// The search's condition on tenants aliased `t`, for `path`, with its arguments.
fn search_condition(
    backend: Backend,
    path: SearchPath,
    text: &str,
) -> (&'static str, Vec<Arg<'static>>) {
    let pattern = || contains_pattern(text);
    match (backend, path) {
        (Backend::Sqlite, SearchPath::Index) => (
            "t.id IN (SELECT k.tenant_id FROM tenant_search \
             JOIN tenant_search_keys k ON k.search_id = tenant_search.rowid \
             WHERE tenant_search MATCH ?)",
            vec![fts_phrase(text).into()],
        ),
        (Backend::Sqlite, SearchPath::Walk) => (
            "(t.name LIKE ? ESCAPE '\\' OR t.slug LIKE ? ESCAPE '\\')",
            vec![pattern().into(), pattern().into()],
        ),
        (Backend::Postgres, _) => (
            "(lower(t.name) LIKE lower(?) OR t.slug LIKE lower(?))",
            vec![pattern().into(), pattern().into()],
        ),
    }
}

async fn search_path(db: &Db, text: &str) -> StoreResult<SearchPath> {
    let backend = db.backend();
    let limit = rare_matches(backend);
    let mut count = match backend {
        Backend::Sqlite => query(
            "SELECT COUNT(*) FROM (SELECT 1 FROM tenant_search WHERE tenant_search MATCH $1 LIMIT $2)",
        )
        .bind(fts_phrase(text)),
        Backend::Postgres => {
            let pattern = contains_pattern(text);
            query(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tenants t \
                 WHERE lower(t.name) LIKE lower($1) OR t.slug LIKE lower($1) LIMIT $2) m",
            )
            .bind(pattern)
        }
    };
    count.push(limit + 1);
    let (matches,): (i64,) = db.reader().fetch_one(count).await?;
    Ok(if matches > limit {
        SearchPath::Walk
    } else {
        SearchPath::Index
    })
}

/// The id of the plan whose code is `code`.
pub async fn plan_id_of(db: &Db, code: &str) -> StoreResult<Option<PlanId>> {
    let id: Option<(PlanId,)> = db
        .reader()
        .fetch_optional(query("SELECT id FROM plans WHERE code = $1").bind(code))
        .await?;
    Ok(id.map(|(id,)| id))
}

/// The statement of one page of tenants, `plan_id` being the plan `list.plan` names. It is
/// bound as a value, not looked up in the statement, so that PostgreSQL plans with that plan's
/// share of tenants. Each filter and sort has an index (migration 0008); `docs/SCALE.md` says
/// which. `path` says how a search finds its tenants on SQLite.
pub fn list_query(
    backend: Backend,
    scope: TenantScope,
    list: &TenantQuery,
    plan_id: Option<PlanId>,
    path: SearchPath,
) -> Query<'static> {
    // A search from the index reads the tenants the trigram index found, then sorts them.
    // The planners would rather walk a scope, filter or order index and test each row: on
    // SQLite a unary `+` keeps a term off the indexes, on PostgreSQL the order is an
    // expression no index provides.
    let index_leads = list.search.is_some() && path == SearchPath::Index;
    let column = |name: &str| {
        if index_leads && backend == Backend::Sqlite {
            format!("+{name}")
        } else {
            name.to_owned()
        }
    };
    let mut statement = read();
    let unindexed = |name: &str| match backend {
        Backend::Sqlite => format!("+{}", name.trim_start_matches('+')),
        Backend::Postgres => name.to_owned(),
    };
    push_scope(&mut statement, scope, list.status, (column, unindexed));
    if let Some(agency) = list.agency_id {
        statement.push_sql(
            &format!(" AND {} = ?", column("t.agency_id")),
            [agency.into()],
        );
    }
    if let Some(plan_id) = plan_id {
        statement.push_sql(
            &format!(" AND {} = ?", column("t.plan_id")),
            [plan_id.into()],
        );
    }
    if let Some(text) = &list.search {
        let (condition, args) = search_condition(backend, path, text);
        statement.push_sql(&format!(" AND {condition}"), args);
    }
    push_page(
        &mut statement,
        list,
        index_leads && backend == Backend::Postgres,
    );
    statement
}

/// Orders a tenant list by its sort (then id), starts it after its cursor and cuts its page.
/// `hide_sort_index` orders by an expression no index provides (see [`list_query`]).
fn push_page(statement: &mut Query<'static>, list: &TenantQuery, hide_sort_index: bool) {
    let column = sort_column(list.sort);
    let order = if hide_sort_index {
        match list.sort {
            TenantSort::Name | TenantSort::Slug => format!("({column} || '')"),
            TenantSort::CreatedAt | TenantSort::UpdatedAt => {
                format!("({column} + interval '0 seconds')")
            }
        }
    } else {
        column.to_owned()
    };
    let (cmp, dir) = if list.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some((value, id)) = &list.after {
        let value = match value {
            crate::domain::tenant::SortValue::Text(text) => text.clone().into(),
            crate::domain::tenant::SortValue::Time(time) => time.get().into(),
        };
        statement.push_sql(
            &format!(" AND ({column}, t.id) {cmp} (?, ?)"),
            [value, (*id).into()],
        );
    }
    statement.push_sql(
        &format!(" ORDER BY {order} {dir}, t.id {dir} LIMIT ?"),
        [list.limit.into()],
    );
    if list.offset > 0 {
        statement.push_sql(" OFFSET ?", [list.offset.into()]);
    }
}

/// One tenant in the scope, or `NotFound`.
pub async fn find(db: &Db, scope: TenantScope, id: TenantId) -> StoreResult<Tenant> {
    let row: Option<TenantRow> = db.reader().fetch_optional(find_query(scope, id)).await?;
    row.ok_or(StoreError::NotFound)?.into_tenant()
}

/// A row of [`SELECT_PROFILE`].
#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: TenantId,
    agency_id: Option<AgencyId>,
    name: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[sqlx(flatten)]
    plan: PlanRow,
    #[sqlx(flatten)]
    grants: PlanLimits,
    #[sqlx(flatten)]
    subscription: SubscriptionColumns,
    #[sqlx(flatten)]
    shown: branding::Layered,
}

/// Tenant `id`'s profile, within `scope` (soft-deleted tenants hidden, as by [`find`]).
pub async fn find_profile(db: &Db, scope: TenantScope, id: TenantId) -> StoreResult<TenantProfile> {
    let statement = by_id(query(SELECT_PROFILE.as_str()), scope, id);
    let row: Option<ProfileRow> = db.reader().fetch_optional(statement).await?;
    let row = row.ok_or(StoreError::NotFound)?;
    Ok(TenantProfile {
        id: row.id,
        agency_id: row.agency_id,
        name: row.name,
        status: stored("status", &row.status)?,
        plan: row.plan.into_plan(row.grants.0)?,
        subscription: row.subscription.into_subscription(row.id)?,
        branding: row.shown.0,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A tenant's id and agency, for the policy's reach; `None` when it does not exist or is
/// deleted.
pub async fn find_ref(db: &Db, id: TenantId) -> StoreResult<Option<(TenantId, Option<AgencyId>)>> {
    db.reader()
        .fetch_optional(
            query("SELECT id, agency_id FROM tenants WHERE id = $1 AND status <> 'deleted'")
                .bind(id),
        )
        .await
}

pub async fn list(db: &Db, scope: TenantScope, list: &TenantQuery) -> StoreResult<Vec<Tenant>> {
    let path = match &list.search {
        Some(text) => search_path(db, text).await?,
        None => SearchPath::Index,
    };
    list_along(db, scope, list, path).await
}

/// [`list`], with the search path chosen by the caller.
pub async fn list_along(
    db: &Db,
    scope: TenantScope,
    list: &TenantQuery,
    path: SearchPath,
) -> StoreResult<Vec<Tenant>> {
    let plan_id = match &list.plan {
        None => None,
        Some(code) => match plan_id_of(db, code).await? {
            Some(id) => Some(id),
            // A code that is no plan's matches nothing.
            None => return Ok(Vec::new()),
        },
    };
    let statement = list_query(db.backend(), scope, list, plan_id, path);
    let rows: Vec<TenantRow> = db.reader().fetch_all(statement).await?;
    rows.into_iter().map(TenantRow::into_tenant).collect()
}

/// Reads one tenant inside a transaction, whatever its scope.
pub(super) async fn reread(tx: &mut Tx, id: TenantId) -> StoreResult<Tenant> {
    let mut statement = read();
    statement.push_sql(" WHERE t.id = ?", [id.into()]);
    let row: TenantRow = tx.fetch_one(statement).await?;
    row.into_tenant()
}

/// Creates a tenant in `agency_id` on the plan `plan_id`. A taken slug is
/// [`Conflict::SlugTaken`], unless the slug was derived from the name: then a short suffix
/// makes it unique.
pub async fn create(
    tx: &mut Tx,
    new: &NewTenant,
    agency_id: Option<AgencyId>,
    plan_id: PlanId,
    endpoint: &super::webhooks::TenantEndpointSeed,
) -> StoreResult<Tenant> {
    let id = TenantId::generate();
    let at = now();
    let mut slug = new
        .slug
        .clone()
        .unwrap_or_else(|| Slug::from_name(&new.name));
    for attempt in 0.. {
        let inserted: Option<(TenantId,)> = tx
            .fetch_optional(insert_query(id, new, agency_id, plan_id, &slug, at))
            .await?;
        if inserted.is_some() {
            break;
        }
        if new.slug.is_some() || attempt == 3 {
            return Err(StoreError::Conflict(Conflict::SlugTaken));
        }
        let suffix = &id.to_string()[24..];
        slug = Slug::from_name(&new.name).with_suffix(&format!("{suffix}{attempt}"));
    }
    replace_tenant_limits(tx, id, &new.limits).await?;
    tx.execute(
        query("INSERT INTO tenant_counters (tenant_id, agency_id) VALUES ($1, $2)")
            .bind(id)
            .bind(agency_id),
    )
    .await?;
    let created = reread(tx, id).await?;
    // Before its first event, so that its own endpoint hears of its creation too.
    let url = created.settings.webhook_url.as_deref();
    super::webhooks::sync_tenant_endpoint(tx, id, url, endpoint).await?;
    record_change(tx, "tenant.created", None, Some(&created)).await?;
    Ok(created)
}

/// Binds a tenant's settings, billing alerts and usage alerts, in the order both its insert
/// and its update name their columns.
trait BindSettings<'q> {
    fn bind_settings(
        self,
        settings: &'q Settings,
        alerts: &'q BillingAlerts,
        usage_alerts: &'q UsageAlerts,
    ) -> Self;
}

impl<'q> BindSettings<'q> for Query<'q> {
    fn bind_settings(
        self,
        settings: &'q Settings,
        alerts: &'q BillingAlerts,
        usage_alerts: &'q UsageAlerts,
    ) -> Self {
        self.bind(settings.sip_enabled)
            .bind(settings.sip_domain.as_deref())
            .bind(settings.sip_username.as_deref())
            .bind(settings.recording_enabled)
            .bind(<&str>::from(settings.recording_format))
            .bind(settings.retention_days)
            .bind(settings.analytics_enabled)
            .bind(settings.hipaa_enabled)
            .bind(settings.pci_enabled)
            .bind(settings.data_encryption_enabled)
            .bind(settings.webhook_url.as_deref())
            .bind(settings.webhook_timeout_seconds)
            .bind(json(&alerts.alert_thresholds))
            .bind(json(&alerts.alert_emails))
            .bind(<&str>::from(alerts.action_at_100))
            .bind(json(&crate::domain::tenant::actions_json(
                &alerts.threshold_actions,
            )))
            .bind(json(&usage_alerts_json(usage_alerts)))
    }
}

/// The insert of a new tenant's row under `slug`; it returns the id unless the slug is taken.
fn insert_query<'q>(
    id: TenantId,
    new: &'q NewTenant,
    agency_id: Option<AgencyId>,
    plan_id: PlanId,
    slug: &'q Slug,
    at: DateTime<Utc>,
) -> Query<'q> {
    let owner = new.owner.as_ref();
    query(
        "INSERT INTO tenants (id, agency_id, name, slug, status, plan_id, \
         billing_mode, owner_email, owner_name, owner_first_name, owner_last_name, \
         sip_enabled, sip_domain, sip_username, recording_enabled, \
         recording_format, retention_days, analytics_enabled, hipaa_enabled, \
         pci_enabled, data_encryption_enabled, webhook_url, \
         webhook_timeout_seconds, alert_thresholds, alert_emails, action_at_100, \
         threshold_actions, usage_alerts, metadata, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, \
         $29) \
         ON CONFLICT (slug) DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(agency_id)
    .bind(&new.name)
    .bind(slug.as_str())
    .bind(plan_id)
    .bind(<&str>::from(new.billing_mode))
    .bind(owner.map(|o| o.email.normalized()))
    .bind(owner.map(|o| o.name.as_str()))
    .bind(owner.and_then(|o| o.first_name.as_deref()))
    .bind(owner.and_then(|o| o.last_name.as_deref()))
    .bind_settings(&new.settings, &new.billing_alerts, &new.usage_alerts)
    .bind(json(&new.metadata))
    .bind(at)
}

/// Records an imported tenant in its trail, after the trail it brought, and makes its own
/// webhook endpoint if it has a `webhookUrl` (endpoints are not in archives: their secrets
/// are not).
pub async fn record_imported(
    tx: &mut Tx,
    id: TenantId,
    endpoint: &super::webhooks::TenantEndpointSeed,
) -> StoreResult<()> {
    let tenant = reread(tx, id).await?;
    let url = tenant.settings.webhook_url.as_deref();
    super::webhooks::sync_tenant_endpoint(tx, id, url, endpoint).await?;
    record_change(tx, "tenant.imported", None, Some(&tenant)).await
}

/// Applies `change` to the tenant under its row lock, so concurrent partial updates never
/// overwrite each other. `change` gets the current tenant and returns the checked changes and
/// a new plan (or refuses); `expected` is an `If-Match` version.
pub async fn update<E: From<StoreError>>(
    db: &Db,
    scope: TenantScope,
    id: TenantId,
    expected: Option<DateTime<Utc>>,
    endpoint: &super::webhooks::TenantEndpointSeed,
    change: impl FnOnce(&Tenant) -> Result<(TenantChanges, Option<PlanId>), E>,
) -> Result<Tenant, E> {
    let mut tx = db.begin().await?;
    let current = locked(&mut tx, scope, id).await?;
    // Bad input is refused as such, whatever the version.
    let (changes, plan_id) = change(&current)?;
    let version = versioned_change(expected, current.updated_at)?;
    let settings = changes.settings.as_ref().unwrap_or(&current.settings);
    let alerts = changes
        .billing_alerts
        .as_ref()
        .unwrap_or(&current.billing_alerts);
    let usage_alerts = changes
        .usage_alerts
        .as_ref()
        .unwrap_or(&current.usage_alerts);
    tx.execute(
        query(
            "UPDATE tenants SET name = $2, slug = $3, plan_id = COALESCE($4, plan_id), \
             billing_mode = $5, sip_enabled = $6, sip_domain = $7, sip_username = $8, \
             recording_enabled = $9, recording_format = $10, retention_days = $11, \
             analytics_enabled = $12, hipaa_enabled = $13, pci_enabled = $14, \
             data_encryption_enabled = $15, webhook_url = $16, webhook_timeout_seconds = $17, \
             alert_thresholds = $18, alert_emails = $19, action_at_100 = $20, \
             threshold_actions = $21, usage_alerts = $22, metadata = $23, updated_at = $24 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(changes.name.as_ref().unwrap_or(&current.name))
        .bind(changes.slug.as_ref().unwrap_or(&current.slug).as_str())
        .bind(plan_id)
        .bind(<&str>::from(
            changes.billing_mode.unwrap_or(current.billing_mode),
        ))
        .bind_settings(settings, alerts, usage_alerts)
        .bind(json(changes.metadata.as_ref().unwrap_or(&current.metadata)))
        .bind(version),
    )
    .await?;
    if let Some(limits) = &changes.limits {
        replace_tenant_limits(&mut tx, id, limits).await?;
    }
    if let Some(plan_id) = plan_id {
        subscriptions::follow_plan(&mut tx, id, plan_id).await?;
    }
    super::resources::check_required_settings(&mut tx, id).await?;
    let tenant = reread(&mut tx, id).await?;
    let url = tenant.settings.webhook_url.as_deref();
    super::webhooks::sync_tenant_endpoint(&mut tx, id, url, endpoint).await?;
    record_change(&mut tx, "tenant.updated", Some(&current), Some(&tenant)).await?;
    tx.commit().await?;
    Ok(tenant)
}

/// Deactivates an active tenant under its row lock, in the caller's transaction: records when
/// and why, and switches its active agents off, remembering which. A tenant the system
/// suspended for reaching a limit may be deactivated too: the person's deactivation then
/// stands, and the next period does not undo it.
pub async fn deactivate(
    tx: &mut Tx,
    scope: TenantScope,
    id: TenantId,
    reason: Option<&str>,
) -> StoreResult<Tenant> {
    let current = locked(tx, scope, id).await?;
    let suspended = current.status == TenantStatus::Inactive && current.suspended_until.is_some();
    if current.status != TenantStatus::Active && !suspended {
        return Err(StoreError::Conflict(Conflict::TenantNotActive));
    }
    set_inactive(tx, &current, reason, None, None).await
}

/// Deactivates an active tenant as the system's change, because an alert's `suspend` fired;
/// the first period starting on or after `until` reactivates it. Answers `None` when the
/// tenant is not active (a person's deactivation stands as it is).
pub async fn suspend(tx: &mut Tx, id: TenantId, until: NaiveDate) -> StoreResult<Option<Tenant>> {
    let current = locked(tx, TenantScope::ALL, id).await?;
    if current.status != TenantStatus::Active {
        return Ok(None);
    }
    let suspended = set_inactive(
        tx,
        &current,
        Some(SUSPEND_REASON),
        Some(until),
        Some(Actor::SYSTEM),
    )
    .await?;
    Ok(Some(suspended))
}

/// Makes the locked tenant `current` inactive and records it, as `actor` when given.
async fn set_inactive(
    tx: &mut Tx,
    current: &Tenant,
    reason: Option<&str>,
    suspended_until: Option<NaiveDate>,
    actor: Option<Actor>,
) -> StoreResult<Tenant> {
    let id = current.id;
    let at = next_version(current.updated_at);
    tx.execute(
        query(
            "UPDATE tenants SET status = 'inactive', deactivated_at = $2, \
             deactivation_reason = $3, suspended_until = $4, updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(reason)
        .bind(suspended_until),
    )
    .await?;
    tx.execute(
        query(
            "UPDATE agents SET status = 'inactive', paused_with_tenant = TRUE, updated_at = $2 \
             WHERE tenant_id = $1 AND status = 'active'",
        )
        .bind(id)
        .bind(at),
    )
    .await?;
    let deactivated = reread(tx, id).await?;
    let change = Change::of("tenant.deactivated", Some(current), Some(&deactivated));
    record(tx, Change { actor, ..change }).await?;
    Ok(deactivated)
}

/// Reactivates an inactive tenant under its row lock, with exactly the agents its
/// deactivation switched off.
pub async fn reactivate(tx: &mut Tx, scope: TenantScope, id: TenantId) -> StoreResult<Tenant> {
    let current = locked(tx, scope, id).await?;
    if current.status != TenantStatus::Inactive {
        return Err(StoreError::Conflict(Conflict::TenantNotInactive));
    }
    set_active(tx, &current, None).await
}

/// Claims one tenant the system suspended whose suspension ends by `today` (passing over
/// those another server holds) and reactivates it as the system's change. Answers `None` when
/// none is due.
pub async fn reactivate_one_suspended(
    tx: &mut Tx,
    today: NaiveDate,
) -> StoreResult<Option<Tenant>> {
    let claim = format!(
        "SELECT id FROM tenants WHERE status = 'inactive' AND suspended_until <= $1 \
         ORDER BY suspended_until LIMIT 1{}",
        tx.backend().skip_locked_clause()
    );
    let Some((id,)) = tx
        .fetch_optional::<(TenantId,)>(query(claim).bind(today))
        .await?
    else {
        return Ok(None);
    };
    let current = locked(tx, TenantScope::ALL, id).await?;
    let due = current.status == TenantStatus::Inactive
        && current.suspended_until.is_some_and(|until| until <= today);
    if !due {
        return Ok(None);
    }
    Ok(Some(set_active(tx, &current, Some(Actor::SYSTEM)).await?))
}

/// Makes the locked tenant `current` active with the agents its deactivation paused, and
/// records it, as `actor` when given.
async fn set_active(tx: &mut Tx, current: &Tenant, actor: Option<Actor>) -> StoreResult<Tenant> {
    let id = current.id;
    let at = next_version(current.updated_at);
    tx.execute(
        query(
            "UPDATE tenants SET status = 'active', deactivated_at = NULL, \
             deactivation_reason = NULL, suspended_until = NULL, updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(at),
    )
    .await?;
    tx.execute(
        query(
            "UPDATE agents SET status = 'active', paused_with_tenant = FALSE, updated_at = $2 \
             WHERE tenant_id = $1 AND paused_with_tenant",
        )
        .bind(id)
        .bind(at),
    )
    .await?;
    let reactivated = reread(tx, id).await?;
    let change = Change::of("tenant.reactivated", Some(current), Some(&reactivated));
    record(tx, Change { actor, ..change }).await?;
    Ok(reactivated)
}

/// The tenant `scope` reaches, locked for the rest of the transaction. The lock is taken in a
/// statement of its own, and the tenant read in the next: on PostgreSQL a statement that
/// waited for the lock re-checks its joins against the rows they read before the wait (a
/// tenant whose plan the holder changed would drop out) and reads every other row from then.
pub(super) async fn locked(tx: &mut Tx, scope: TenantScope, id: TenantId) -> StoreResult<Tenant> {
    let mut statement = query("SELECT t.id FROM tenants t");
    push_scope(&mut statement, scope, None, (str::to_owned, str::to_owned));
    statement.push_sql(" AND t.id = ?", [id.into()]);
    statement.push_sql(&tx.backend().lock_clause("t"), []);
    let found: Option<(TenantId,)> = tx.fetch_optional(statement).await?;
    found.ok_or(StoreError::NotFound)?;
    reread(tx, id).await
}

/// Moves a tenant to `target` (`None`: self-managed) with everything it owns, in the caller's
/// transaction. Its counters and row are taken in admission's order. Usage stays with the
/// agency of its day: the series the source kept is set aside for the source's reports, and
/// the target's series starts now (or goes on, for a tenant coming back).
pub async fn move_to(tx: &mut Tx, id: TenantId, target: Option<AgencyId>) -> StoreResult<Tenant> {
    super::counters::lock(tx, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let current = locked(tx, TenantScope::ALL, id).await?;
    let version = next_version(current.updated_at);
    // Agency billing needs an agency.
    tx.execute(
        query(
            "UPDATE tenants SET agency_id = $2, updated_at = $3, billing_mode = CASE \
             WHEN $2 IS NULL THEN 'platform_billed' ELSE billing_mode END WHERE id = $1",
        )
        .bind(id)
        .bind(target)
        .bind(version),
    )
    .await?;
    tx.execute(
        query("UPDATE api_keys SET reach_agency_id = $2 WHERE tenant_id = $1")
            .bind(id)
            .bind(target),
    )
    .await?;
    super::monthly::hand_over(tx, id, target).await?;
    let moved = reread(tx, id).await?;
    record_change(tx, "tenant.transferred", Some(&current), Some(&moved)).await?;
    Ok(moved)
}

/// Soft-deletes a tenant in the caller's transaction, purgeable after `grace`. With calls in
/// progress it refuses, unless `force`, which ends them as `terminated`. It takes the
/// tenant's counters before its row, in admission's order, so the two never deadlock.
pub async fn soft_delete(
    tx: &mut Tx,
    scope: TenantScope,
    id: TenantId,
    force: bool,
    grace: chrono::Duration,
) -> StoreResult<Tenant> {
    let Some(counters) = super::counters::lock(tx, id).await? else {
        return Err(StoreError::NotFound);
    };
    let current = locked(tx, scope, id).await?;
    if counters.active_calls > 0 {
        if !force {
            return Err(StoreError::Conflict(Conflict::TenantHasActiveCalls));
        }
        super::calls::terminate_all(tx, id, &counters, now()).await?;
    }
    let at = next_version(current.updated_at);
    tx.execute(
        query(
            "UPDATE tenants SET status = 'deleted', deleted_at = $2, purge_after = $3, \
             suspended_until = NULL, updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(at + grace),
    )
    .await?;
    // A deleted tenant moves nowhere: its offer ends with it.
    tx.execute(
        query(
            "UPDATE transfers SET state = 'cancelled', decided_at = $2 \
             WHERE tenant_id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(at),
    )
    .await?;
    let deleted = reread(tx, id).await?;
    record_change(tx, "tenant.deleted", Some(&current), Some(&deleted)).await?;
    Ok(deleted)
}

/// A deleted tenant's id and agency, if it exists at all (for restoring it).
pub async fn find_ref_any(
    db: &Db,
    id: TenantId,
) -> StoreResult<Option<(TenantId, Option<AgencyId>)>> {
    db.reader()
        .fetch_optional(query("SELECT id, agency_id FROM tenants WHERE id = $1").bind(id))
        .await
}

/// Restores a soft-deleted tenant before its purge, inactive: its agency reactivates it.
pub async fn restore(tx: &mut Tx, id: TenantId, at: DateTime<Utc>) -> StoreResult<Tenant> {
    let mut statement = read();
    statement.push_sql(" WHERE t.id = ?", [id.into()]);
    statement.push_sql(&tx.backend().lock_clause("t"), []);
    let row: Option<TenantRow> = tx.fetch_optional(statement).await?;
    let current = row.ok_or(StoreError::NotFound)?.into_tenant()?;
    let Some(deletion) = current
        .deletion
        .filter(|_| current.status == TenantStatus::Deleted)
    else {
        return Err(StoreError::Conflict(Conflict::TenantNotDeleted));
    };
    if deletion.purge_after <= at {
        return Err(StoreError::Conflict(Conflict::GracePeriodOver));
    }
    let version = next_version(current.updated_at);
    tx.execute(
        query(
            "UPDATE tenants SET status = 'inactive', deleted_at = NULL, purge_after = NULL, \
             deactivated_at = COALESCE(deactivated_at, $2), updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(version),
    )
    .await?;
    let restored = reread(tx, id).await?;
    record_change(tx, "tenant.restored", Some(&current), Some(&restored)).await?;
    Ok(restored)
}

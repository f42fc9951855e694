//! A tenant's rows as data, for its archive: each kind of row is a [`Table`] of typed
//! columns, read a page at a time in key order and written back in batches. Columns that hold
//! secrets (key hashes, invitation tokens, sealed values, passwords) are not among them.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::exec::ColumnType;
use super::{query, Arg, Db, StoreResult, Tx};
use crate::domain::branding::Field;
use crate::domain::ids::{AgencyId, PlanId, TenantId, UserId};
use crate::domain::resource::ResourceKind;

/// One column of a kind: its name in the archive, the SQL that reads it, and its type.
#[derive(Debug)]
pub struct Column {
    pub name: String,
    sql: String,
    pub ty: ColumnType,
    /// What an archive written before the column existed stands for: its default.
    absent: Option<Value>,
}

/// One kind of a tenant's rows.
#[derive(Debug)]
pub struct Table {
    /// The kind's name, and its folder in the archive.
    pub kind: &'static str,
    /// The table rows are written back to.
    pub table: &'static str,
    from: &'static str,
    /// The condition that picks the tenant's rows, with the tenant as `$1`.
    filter: &'static str,
    pub columns: Vec<Column>,
    /// The columns (by name) that order the rows, unique within the tenant; none for a kind
    /// of one row.
    key: &'static [&'static str],
}

fn plain(names: &[(&str, ColumnType)]) -> Vec<Column> {
    names
        .iter()
        .map(|(name, ty)| Column {
            name: (*name).to_owned(),
            sql: (*name).to_owned(),
            ty: *ty,
            absent: None,
        })
        .collect()
}

fn read_as(name: &str, sql: &str, ty: ColumnType) -> Column {
    Column {
        name: name.to_owned(),
        sql: sql.to_owned(),
        ty,
        absent: None,
    }
}

impl Table {
    fn new(kind: &'static str, table: &'static str, columns: Vec<Column>) -> Table {
        Table {
            kind,
            table,
            from: table,
            filter: "tenant_id = $1",
            columns,
            key: &["id"],
        }
    }

    fn keyed(self, key: &'static [&'static str]) -> Table {
        Table { key, ..self }
    }

    /// The index of the column `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name)
    }

    /// The column names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|column| column.name.as_str())
    }

    /// The arguments that write a row read back from the archive, in column order; the name
    /// of the first column missing or of the wrong type otherwise.
    pub fn args(&self, row: &serde_json::Map<String, Value>) -> Result<Vec<Arg<'static>>, String> {
        self.columns
            .iter()
            .map(|column| {
                let value = row
                    .get(&column.name)
                    .or(column.absent.as_ref())
                    .unwrap_or(&Value::Null);
                column.ty.arg(value).ok_or_else(|| column.name.clone())
            })
            .collect()
    }
}

use ColumnType::{Bool, Date, Int, Json, Text, Time, Uuid as Id};

/// Every kind, in the order they are written and read back: a row comes after the rows it
/// refers to.
pub static TABLES: LazyLock<Vec<Table>> = LazyLock::new(|| {
    vec![
        tenant(),
        Table::new(
            "limits",
            "tenant_limits",
            plain(&[("key", Text), ("value", Int)]),
        )
        .keyed(&["key"]),
        branding(),
        // Its plan is the tenant's: an import sets it from the tenant's.
        Table::new(
            "subscription",
            "subscriptions",
            plain(&[
                ("id", Id),
                ("status", Text),
                ("billing_interval", Text),
                ("current_period_start", Time),
                ("current_period_end", Time),
                ("period_start_day", Date),
                ("external_billing_id", Text),
                ("cancel_at_period_end", Bool),
                ("created_at", Time),
                ("updated_at", Time),
            ]),
        )
        .keyed(&[]),
        Table::new(
            "counters",
            "tenant_counters",
            plain(&[
                ("active_calls", Int),
                ("last_call_at", Time),
                ("first_usage_month", Date),
                ("last_usage_month", Date),
                ("conversations_total", Int),
                ("cost_cents_total", Int),
            ]),
        )
        .keyed(&[]),
        Table::new(
            "agents",
            "agents",
            plain(&[
                ("id", Id),
                ("name", Text),
                ("status", Text),
                ("metadata", Json),
                ("created_at", Time),
                ("updated_at", Time),
                ("paused_with_tenant", Bool),
            ]),
        ),
        Table::new(
            "resources",
            "resources",
            plain(&[
                ("id", Id),
                ("kind", Text),
                ("name", Text),
                ("unique_key", Text),
                ("category", Text),
                ("size_bytes", Int),
                ("document", Json),
                ("version", Int),
                ("created_at", Time),
                ("updated_at", Time),
            ]),
        ),
        Table::new(
            "resource_agents",
            "resource_agents",
            plain(&[("resource_id", Id), ("agent_id", Id)]),
        )
        .keyed(&["resource_id", "agent_id"]),
        calls(),
        Table::new(
            "usage_events",
            "usage_events",
            plain(&[
                ("id", Text),
                ("occurred_at", Time),
                ("channel", Text),
                ("duration_seconds", Int),
                ("cost_cents", Int),
                ("sentiment_micros", Int),
                ("agent_id", Id),
                ("received_at", Time),
            ]),
        ),
        Table::new(
            "usage_periods",
            "tenant_usage",
            plain(&[
                ("period_start", Date),
                ("calls", Int),
                ("seconds", Int),
                ("cost_cents", Int),
            ]),
        )
        .keyed(&["period_start"]),
        // Exported with the usage they fired on: a server that imports the tenant then fires
        // none of this period's thresholds again. `limit_refusals` is left out: it only keeps
        // `limit.refused` to one a minute.
        Table::new(
            "usage_alerts",
            "usage_alerts",
            plain(&[
                ("period_start", Date),
                ("metric", Text),
                ("threshold", Int),
                ("used", Int),
                ("limit_value", Int),
                ("action", Text),
                ("fired_at", Time),
            ]),
        )
        .keyed(&["period_start", "metric", "threshold"]),
        Table::new(
            "usage_daily",
            "usage_daily",
            plain(&[
                ("day", Date),
                ("channel", Text),
                ("conversations", Int),
                ("seconds", Int),
                ("cost_cents", Int),
                ("sentiment_micros_sum", Int),
                ("sentiment_count", Int),
            ]),
        )
        .keyed(&["day", "channel"]),
        usage_monthly(),
        members(),
        Table::new(
            "invitations",
            "invitations",
            plain(&[
                ("id", Id),
                ("membership_id", Id),
                ("email", Text),
                ("role", Text),
                ("expires_at", Time),
                ("created_at", Time),
                ("accepted_at", Time),
            ]),
        ),
        // The trail as it was written: its hashes cover every field, so it verifies after an
        // import as before.
        Table::new(
            "audit_log",
            "audit_log",
            plain(&[
                ("id", Id),
                ("seq", Int),
                ("at", Time),
                ("agency_id", Id),
                ("actor_type", Text),
                ("actor_id", Text),
                ("action", Text),
                ("target_type", Text),
                ("target_id", Text),
                ("changes", Json),
                ("request_id", Text),
                ("prev_hash", Text),
                ("hash", Text),
            ]),
        ),
        Table::new(
            "api_keys",
            "api_keys",
            plain(&[
                ("id", Id),
                ("name", Text),
                ("scope", Text),
                ("prefix", Text),
                ("created_at", Time),
                ("revoked_at", Time),
                ("role", Text),
                ("scopes", Json),
                ("expires_at", Time),
                ("environment", Text),
            ]),
        ),
    ]
});

/// The kind named `kind`.
pub fn table(kind: &str) -> Option<&'static Table> {
    TABLES.iter().find(|table| table.kind == kind)
}

/// The tenant's own row, with its plan by code (plan ids differ between servers).
fn tenant() -> Table {
    let mut columns = plain(&[
        ("id", Id),
        ("name", Text),
        ("slug", Text),
        ("status", Text),
        ("billing_mode", Text),
        ("owner_email", Text),
        ("owner_name", Text),
        ("owner_first_name", Text),
        ("owner_last_name", Text),
        ("sip_enabled", Bool),
        ("sip_domain", Text),
        ("sip_username", Text),
        ("recording_enabled", Bool),
        ("recording_format", Text),
        ("retention_days", Int),
        ("analytics_enabled", Bool),
        ("hipaa_enabled", Bool),
        ("pci_enabled", Bool),
        ("data_encryption_enabled", Bool),
        ("webhook_url", Text),
        ("webhook_timeout_seconds", Int),
        ("alert_thresholds", Json),
        ("alert_emails", Json),
        ("action_at_100", Text),
        ("threshold_actions", Json),
        ("usage_alerts", Json),
        ("suspended_until", Date),
        ("metadata", Json),
        ("created_at", Time),
        ("updated_at", Time),
        ("deactivated_at", Time),
        ("deactivation_reason", Text),
        ("deleted_at", Time),
        ("purge_after", Time),
        // Added after archives were first written: older ones lack them, and mean no block.
        ("blocked_services", Json),
        ("block_reason", Text),
        ("blocked_at", Time),
    ]);
    // Added after archives were first written: older ones lack them.
    for column in &mut columns {
        if column.name == "threshold_actions" || column.name == "usage_alerts" {
            column.absent = Some(Value::Object(Default::default()));
        }
    }
    columns.push(read_as(
        "plan",
        "(SELECT p.code FROM plans p WHERE p.id = tenants.plan_id)",
        Text,
    ));
    Table {
        filter: "id = $1",
        key: &[],
        ..Table::new("tenant", "tenants", columns)
    }
}

/// The tenant's own branding, one row at most.
fn branding() -> Table {
    let mut names: Vec<(&str, ColumnType)> = Field::ALL
        .iter()
        .map(|field| (field.spec().column, Text))
        .collect();
    names.push(("updated_at", Time));
    Table::new("branding", "tenant_brandings", plain(&names)).keyed(&[])
}

fn calls() -> Table {
    Table::new(
        "calls",
        "calls",
        plain(&[
            ("id", Id),
            ("agent_id", Id),
            ("channel", Text),
            ("direction", Text),
            ("external_id", Text),
            ("metadata", Json),
            ("status", Text),
            ("period_start", Date),
            ("started_at", Time),
            ("lease_expires_at", Time),
            ("ended_at", Time),
            ("duration_seconds", Int),
            ("cost_cents", Int),
            ("sentiment_micros", Int),
            ("ended_reason", Text),
            ("recording_url", Text),
            ("end_fingerprint", Text),
        ]),
    )
}

/// The monthly series under the tenant's current agency (its agency is the importer's).
fn usage_monthly() -> Table {
    let mut names = vec![
        ("month".to_owned(), Date),
        ("conversations_before".to_owned(), Int),
        ("cost_cents_before".to_owned(), Int),
    ];
    for series in ["conversations", "cost_cents"] {
        names.extend((1..=31).map(|day| (format!("{series}_d{day:02}"), Int)));
    }
    let columns = names
        .into_iter()
        .map(|(name, ty)| Column {
            sql: name.clone(),
            name,
            ty,
            absent: None,
        })
        .collect();
    Table {
        filter: "tenant_id = $1 AND agency_id = (SELECT agency_id FROM tenants WHERE id = $1)",
        ..Table::new("usage_monthly", "usage_monthly", columns).keyed(&["month"])
    }
}

/// Memberships with their people's names and addresses (never their passwords).
fn members() -> Table {
    let columns = vec![
        read_as("id", "m.id", Id),
        read_as("user_id", "m.user_id", Id),
        read_as("email", "u.email", Text),
        read_as("name", "u.name", Text),
        read_as("first_name", "u.first_name", Text),
        read_as("last_name", "u.last_name", Text),
        read_as("user_created_at", "u.created_at", Time),
        read_as("role", "m.role", Text),
        read_as("status", "m.status", Text),
        read_as("created_at", "m.created_at", Time),
        read_as("updated_at", "m.updated_at", Time),
    ];
    Table {
        from: "memberships m JOIN users u ON u.id = m.user_id",
        filter: "m.tenant_id = $1",
        ..Table::new("members", "memberships", columns)
    }
}

/// Up to `limit` of the tenant's rows of `table` after the row `after` (a row this read
/// before), in key order.
pub async fn page(
    db: &Db,
    table: &Table,
    tenant: TenantId,
    after: Option<&[Value]>,
    limit: i64,
) -> StoreResult<Vec<Vec<Value>>> {
    let select: Vec<&str> = table.columns.iter().map(|c| c.sql.as_str()).collect();
    let mut statement = query(format!(
        "SELECT {} FROM {} WHERE {}",
        select.join(", "),
        table.from,
        table.filter
    ))
    .bind(tenant);
    let key: Vec<&Column> = table
        .key
        .iter()
        .filter_map(|name| table.position(name).map(|at| &table.columns[at]))
        .collect();
    if let (Some(after), false) = (after, key.is_empty()) {
        let mut cursor = Vec::new();
        for column in &key {
            let at = table.position(&column.name).expect("a key column");
            cursor.push(column.ty.arg(&after[at]).expect("a value this read"));
        }
        let columns: Vec<&str> = key.iter().map(|c| c.sql.as_str()).collect();
        let markers = vec!["?"; key.len()].join(", ");
        let sql = format!(" AND ({}) > ({markers})", columns.join(", "));
        statement.push_sql(&sql, cursor);
    }
    if !key.is_empty() {
        let columns: Vec<&str> = key.iter().map(|c| c.sql.as_str()).collect();
        statement.push_sql(
            &format!(" ORDER BY {} LIMIT ?", columns.join(", ")),
            [limit.into()],
        );
    }
    let types: Vec<ColumnType> = table.columns.iter().map(|c| c.ty).collect();
    db.reader().fetch_values(statement, &types).await
}

/// Inserts `rows` into `table`, each with a value for each of `names`, in statements of a few
/// hundred rows.
pub async fn insert(
    tx: &mut Tx,
    table: &str,
    names: &[&str],
    rows: Vec<Vec<Arg<'static>>>,
) -> StoreResult<()> {
    // Within both backends' limits on bound values per statement.
    let per_statement = (20_000 / names.len().max(1)).clamp(1, 500);
    let backend = tx.backend();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
        let mut statement_args = Vec::new();
        for (n, row) in rows.by_ref().take(per_statement).enumerate() {
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&backend.placeholders(statement_args.len() + 1, row.len()));
            sql.push(')');
            statement_args.extend(row);
        }
        let mut statement = query(sql);
        for arg in statement_args {
            statement.push(arg);
        }
        tx.execute(statement).await?;
    }
    Ok(())
}

/// What of a tenant's id and slug is taken already: `"id"`, `"slug"` or nothing.
pub async fn taken(tx: &mut Tx, id: TenantId, slug: &str) -> StoreResult<Option<&'static str>> {
    let found: Option<(TenantId,)> = tx
        .fetch_optional(
            query("SELECT id FROM tenants WHERE id = $1 OR slug = $2 LIMIT 1")
                .bind(id)
                .bind(slug),
        )
        .await?;
    Ok(found.map(|(found,)| if found == id { "id" } else { "slug" }))
}

/// The plan with this code in this server's catalog.
pub async fn plan_id(tx: &mut Tx, code: &str) -> StoreResult<Option<PlanId>> {
    let found: Option<(PlanId,)> = tx
        .fetch_optional(query("SELECT id FROM plans WHERE code = $1").bind(code))
        .await?;
    Ok(found.map(|(id,)| id))
}

/// A person of an imported membership: the user this server knows by that address, or a new
/// one (without a password) under the archive's id.
pub struct Person<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub email_key: String,
    pub name: &'a str,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub created_at: DateTime<Utc>,
}

/// The id of the user `person` is on this server, made if the address is new.
pub async fn user_for(tx: &mut Tx, person: &Person<'_>) -> StoreResult<UserId> {
    let known: Option<(UserId,)> = tx
        .fetch_optional(
            query("SELECT id FROM users WHERE email_key = $1").bind(person.email_key.as_str()),
        )
        .await?;
    if let Some((id,)) = known {
        return Ok(id);
    }
    tx.execute(
        query(
            "INSERT INTO users (id, email, email_key, name, first_name, last_name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(person.id)
        .bind(person.email)
        .bind(person.email_key.as_str())
        .bind(person.name)
        .bind(person.first_name)
        .bind(person.last_name)
        .bind(person.created_at),
    )
    .await?;
    Ok(person.id)
}

/// Makes the tenant's counters agree with its imported rows: a counters row exists, and its
/// calls in progress are those of its calls still active.
pub async fn settle_counters(
    tx: &mut Tx,
    tenant: TenantId,
    agency: Option<AgencyId>,
) -> StoreResult<()> {
    tx.execute(
        query(
            "INSERT INTO tenant_counters (tenant_id, agency_id) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant)
        .bind(agency),
    )
    .await?;
    tx.execute(
        query(
            "UPDATE tenant_counters SET active_calls = (SELECT COUNT(*) FROM calls \
             WHERE tenant_id = $1 AND status = 'active') WHERE tenant_id = $1",
        )
        .bind(tenant),
    )
    .await?;
    // The chain's head is its last imported entry.
    tx.execute(
        query(
            "INSERT INTO audit_chains (chain_id, seq, hash) SELECT chain_id, seq, hash \
             FROM audit_log WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(tenant),
    )
    .await?;
    Ok(())
}

/// Up to `limit` of the tenant's resources whose content is stored bytes, after `after`, in
/// id order.
pub async fn stored_objects(
    db: &Db,
    tenant: TenantId,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<(Uuid, ResourceKind)>> {
    let kinds: Vec<&str> = ResourceKind::all()
        .filter(|kind| kind.info().bytes_limit.is_some())
        .map(|kind| kind.name())
        .collect();
    let mut statement = query("SELECT id, kind FROM resources WHERE tenant_id = $1").bind(tenant);
    let markers = vec!["?"; kinds.len()].join(", ");
    statement.push_sql(
        &format!(" AND kind IN ({markers})"),
        kinds.iter().map(|kind| Arg::from(*kind)),
    );
    if let Some(after) = after {
        statement.push_sql(" AND id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    let rows: Vec<(Uuid, String)> = db.reader().fetch_all(statement).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind)| Some((id, ResourceKind::from_name(&kind)?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_from_an_archive_older_than_its_alert_columns_takes_their_defaults() {
        let tenants = &TABLES[0];
        let mut row = serde_json::Map::new();
        for column in &tenants.columns {
            row.insert(column.name.clone(), Value::Null);
        }
        row.remove("threshold_actions");
        row.remove("usage_alerts");
        let args = tenants.args(&row).expect("every column has a value");
        let at = tenants.position("usage_alerts").unwrap();
        assert!(matches!(&args[at], Arg::Json(Some(value)) if value == &serde_json::json!({})));
        // A column the archive has, even null, is taken as it is.
        row.insert("usage_alerts".to_owned(), Value::Null);
        let args = tenants.args(&row).unwrap();
        assert!(matches!(&args[at], Arg::Json(None)));
    }
}

//! White-label branding records, one column per field: an agency's or the platform's default
//! in `agency_brandings` (keyed by `reach`: the agency's id, or the nil UUID), a tenant's own
//! in `tenant_brandings`. Reads lay records over each other in SQL ([`Layered::columns`]), so a
//! tenant comes back with its branding in its one statement.

use std::sync::LazyLock;

use uuid::Uuid;

use super::audit::record_change;
use super::{now, query, Db, Query, StoreResult};
use crate::domain::access::Scope;
use crate::domain::branding::{Branding, BrandingRecord, Field};
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::values::HostName;

/// The joins that bring a tenant's records to a read of `tenants` aliased `t`: its own
/// (`tb`), its agency's (`ab`) and the platform's (`pb`), in [`TENANT_LAYERS`] order.
pub const TENANT_JOINS: &str = " LEFT JOIN tenant_brandings tb ON tb.tenant_id = t.id \
     LEFT JOIN agency_brandings ab ON ab.agency_id = t.agency_id \
     LEFT JOIN agency_brandings pb ON pb.agency_id IS NULL";

/// The records of [`TENANT_JOINS`], the one that shows first first.
pub const TENANT_LAYERS: [&str; 3] = ["tb", "ab", "pb"];

/// The aliases fields are read under, so that they never meet a column of the tables they
/// are read with: `brand_<column>` for what shows, `own_<column>` for a record's own fields
/// read beside it.
static ALIASES: LazyLock<[Vec<String>; 2]> = LazyLock::new(|| {
    ["brand", "own"].map(|prefix| {
        Field::ALL
            .iter()
            .map(|field| format!("{prefix}_{}", field.spec().column))
            .collect()
    })
});

/// A branding read from aliased columns: what shows ([`Layered`]), or, with `OWN`, a
/// record's own fields beside it.
#[derive(Debug, Clone, Default)]
pub struct Aliased<const OWN: bool>(pub Branding);

/// What shows, laid from several records.
pub type Layered = Aliased<false>;
type Own = Aliased<true>;

impl<const OWN: bool> Aliased<OWN> {
    fn aliases() -> &'static [String] {
        &ALIASES[usize::from(OWN)]
    }

    /// `, COALESCE(l1.col, l2.col, …) AS <alias>` for every field: the first of `layers`
    /// (table aliases) that sets it gives its value.
    pub fn columns(layers: &[&str]) -> String {
        let mut sql = String::new();
        for (field, alias) in Field::ALL.iter().zip(Self::aliases()) {
            let column = field.spec().column;
            let values: Vec<String> = layers.iter().map(|l| format!("{l}.{column}")).collect();
            // SQLite's COALESCE takes two arguments at least.
            match values.as_slice() {
                [one] => sql.push_str(&format!(", {one} AS {alias}")),
                _ => sql.push_str(&format!(", COALESCE({}) AS {alias}", values.join(", "))),
            }
        }
        sql
    }
}

impl<'r, R, const OWN: bool> sqlx::FromRow<'r, R> for Aliased<OWN>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        let mut branding = Branding::default();
        for (field, alias) in Field::ALL.iter().zip(Self::aliases()) {
            branding.set(*field, row.try_get(alias.as_str())?);
        }
        Ok(Aliased(branding))
    }
}

/// A tenant's own record and the one it shows, read together.
#[derive(sqlx::FromRow)]
struct TenantBranding {
    #[sqlx(flatten)]
    own: Own,
    #[sqlx(flatten)]
    shown: Layered,
}

/// The agency of a custom domain and what it shows.
#[derive(sqlx::FromRow)]
struct HostBranding {
    agency_id: AgencyId,
    #[sqlx(flatten)]
    shown: Layered,
}

/// Where `owner`'s record is kept: its table, key column and key.
fn home(owner: Scope) -> (&'static str, &'static str, Uuid) {
    match owner {
        Scope::Platform => ("agency_brandings", "reach", Uuid::nil()),
        Scope::Agency(agency) => ("agency_brandings", "reach", agency.0),
        Scope::Tenant(tenant) => ("tenant_brandings", "tenant_id", tenant.0),
    }
}

/// `owner`'s own record (empty when it never set one).
pub async fn find(db: &Db, owner: Scope) -> StoreResult<Branding> {
    let (table, key, id) = home(owner);
    let sql = format!(
        "SELECT r.{key}{} FROM {table} r WHERE r.{key} = $1",
        Own::columns(&["r"])
    );
    let row: Option<Own> = db.reader().fetch_optional(query(sql).bind(id)).await?;
    Ok(row.map(|own| own.0).unwrap_or_default())
}

/// A tenant's own record and the one it shows (its own over its agency's over the
/// platform's), in one statement; `None` when there is no such tenant.
pub async fn of_tenant(db: &Db, tenant: TenantId) -> StoreResult<Option<(Branding, Branding)>> {
    let sql = format!(
        "SELECT t.id{}{} FROM tenants t{TENANT_JOINS} WHERE t.id = $1",
        Own::columns(&["tb"]),
        Layered::columns(&TENANT_LAYERS)
    );
    let row: Option<TenantBranding> = db.reader().fetch_optional(query(sql).bind(tenant)).await?;
    Ok(row.map(|row| (row.own.0, row.shown.0)))
}

/// What an agency shows (its record over the platform's) on its verified custom domain
/// `host`; `None` when no agency has `host` verified.
pub async fn for_host(db: &Db, host: &HostName) -> StoreResult<Option<(AgencyId, Branding)>> {
    let sql = format!(
        "SELECT d.agency_id{} FROM custom_domains d \
         LEFT JOIN agency_brandings ab ON ab.agency_id = d.agency_id \
         LEFT JOIN agency_brandings pb ON pb.agency_id IS NULL \
         WHERE d.domain = $1 AND d.status = 'active'",
        Layered::columns(&TENANT_LAYERS[1..])
    );
    let row: Option<HostBranding> = db
        .reader()
        .fetch_optional(query(sql).bind(host.as_str()))
        .await?;
    Ok(row.map(|row| (row.agency_id, row.shown.0)))
}

/// Replaces `owner`'s record with what `change` makes of the current one, under the
/// record's row lock, and records the change (nothing is written or recorded when it changes
/// nothing). A record left empty is removed. Answers the new record.
pub async fn put<E: From<super::StoreError>>(
    db: &Db,
    owner: Scope,
    change: impl FnOnce(&Branding) -> Result<Branding, E>,
) -> Result<Branding, E> {
    let (table, key, id) = home(owner);
    let mut tx = db.begin().await?;
    // An empty row to lock, so that concurrent first changes take turns too.
    let make = match owner {
        Scope::Tenant(_) => query(
            "INSERT INTO tenant_brandings (tenant_id, updated_at) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(id)
        .bind(now()),
        Scope::Agency(_) | Scope::Platform => query(
            "INSERT INTO agency_brandings (reach, updated_at, agency_id) VALUES ($1, $2, $3) \
             ON CONFLICT (reach) DO NOTHING",
        )
        .bind(id)
        .bind(now())
        .bind(match owner {
            Scope::Agency(agency) => Some(agency),
            _ => None,
        }),
    };
    tx.execute(make).await?;
    let lock = tx.backend().lock_clause("r");
    let sql = format!(
        "SELECT r.{key}{} FROM {table} r WHERE r.{key} = $1{lock}",
        Own::columns(&["r"])
    );
    let Aliased(current): Own = tx.fetch_one(query(sql).bind(id)).await?;
    let changed = change(&current)?;
    if changed.is_empty() {
        let sql = format!("DELETE FROM {table} WHERE {key} = $1");
        tx.execute(query(sql).bind(id)).await?;
    } else {
        tx.execute(update(table, key, id, &changed)).await?;
    }
    if changed != current {
        let before = BrandingRecord {
            owner,
            branding: current,
        };
        let after = BrandingRecord {
            owner,
            branding: changed.clone(),
        };
        record_change(&mut tx, "branding.updated", Some(&before), Some(&after)).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// The statement that writes every field of `branding` to the row keyed `id`.
fn update(table: &str, key: &str, id: Uuid, branding: &Branding) -> Query<'static> {
    let sets: Vec<String> = Field::ALL
        .iter()
        .enumerate()
        .map(|(n, field)| format!("{} = ${}", field.spec().column, n + 3))
        .collect();
    let mut statement = query(format!(
        "UPDATE {table} SET updated_at = $2, {} WHERE {key} = $1",
        sets.join(", ")
    ))
    .bind(id)
    .bind(now());
    for field in Field::ALL {
        statement.push(branding.get(field).map(str::to_owned));
    }
    statement
}

//! The API keys repository: only hashes of secrets are stored.

use chrono::{DateTime, Utc};

use super::audit::{record_change, Change};
use super::{now, query, Db, Query, StoreError, StoreResult};
use crate::domain::access::{Scope, TenantScope};
use crate::domain::api_key::{
    hash_secret, mint_secret, ApiKey, KeyEnvironment, KeyOwner, KeyScope,
};
use crate::domain::audit::Target;
use crate::domain::ids::{AgencyId, ApiKeyId, TenantId};
use crate::domain::policy::{ApiScope, Role, ScopeSet};
use sqlx::types::Json;

/// A key with the agency of its tenant, so that its owner is known in one read.
const SELECT: &str = "SELECT k.id, k.name, k.scope, k.agency_id, k.tenant_id, \
     t.agency_id AS tenant_agency_id, k.prefix, k.role, k.scopes, k.expires_at, k.environment, \
     k.created_at \
     FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id";

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: ApiKeyId,
    name: String,
    scope: String,
    agency_id: Option<AgencyId>,
    tenant_id: Option<TenantId>,
    tenant_agency_id: Option<AgencyId>,
    prefix: String,
    role: Option<String>,
    scopes: Option<Json<Vec<String>>>,
    expires_at: Option<DateTime<Utc>>,
    environment: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> StoreResult<ApiKey> {
        let corrupt = |what: &str| {
            StoreError::Corrupt(anyhow::anyhow!("key {}: {what} {:?}", row.id, row.scope))
        };
        let owner = match row.scope.parse().map_err(|_| corrupt("unknown scope"))? {
            KeyScope::Platform => KeyOwner::Platform,
            KeyScope::Agency => {
                KeyOwner::Agency(row.agency_id.ok_or_else(|| corrupt("no agency"))?)
            }
            KeyScope::Tenant => KeyOwner::Tenant {
                id: row.tenant_id.ok_or_else(|| corrupt("no tenant"))?,
                agency: row.tenant_agency_id,
            },
        };
        let role = match &row.role {
            None => Role::of_key(owner.kind()),
            Some(name) => Role::from_name(name)
                .filter(|role| role.level() == owner.kind())
                .ok_or_else(|| corrupt("role"))?,
        };
        let scopes = match &row.scopes {
            None => None,
            Some(Json(names)) => Some(
                names
                    .iter()
                    .map(|name| name.parse::<ApiScope>().map_err(|_| corrupt("scope")))
                    .collect::<StoreResult<ScopeSet>>()?,
            ),
        };
        Ok(ApiKey {
            id: row.id,
            name: row.name,
            owner,
            prefix: row.prefix,
            role,
            scopes,
            expires_at: row.expires_at,
            environment: row
                .environment
                .parse()
                .map_err(|_| corrupt("environment"))?,
            created_at: row.created_at,
        })
    }
}

/// Unrevoked keys within `scope`: an agency reaches its own keys and those of its tenants
/// (`reach_agency_id`, kept by the database when a tenant changes agency).
fn visible(scope: TenantScope) -> Query<'static> {
    let mut statement = query(format!("{SELECT} WHERE k.revoked_at IS NULL"));
    if let Some(agency) = scope.agency_id {
        statement.push_sql(" AND k.reach_agency_id = ?", [agency.into()]);
    }
    if let Some(tenant) = scope.tenant_id {
        statement.push_sql(" AND k.tenant_id = ?", [tenant.into()]);
    }
    statement
}

/// Stores a new key held in `holder` and returns it with its secret, which is not kept.
/// What a new key may do beyond where it is held: `role` is `None` for the full role of the
/// holder's level, `scopes` `None` for unscoped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub role: Option<Role>,
    pub scopes: Option<ScopeSet>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn create(
    db: &Db,
    name: &str,
    holder: Scope,
    limits: Limits,
    environment: KeyEnvironment,
) -> StoreResult<(ApiKey, String)> {
    let minted = mint_secret(environment);
    let id = ApiKeyId::generate();
    let (kind, agency_id, tenant_id) = match holder {
        Scope::Platform => (KeyScope::Platform, None, None),
        Scope::Agency(agency_id) => (KeyScope::Agency, Some(agency_id), None),
        Scope::Tenant(tenant_id) => (KeyScope::Tenant, None, Some(tenant_id)),
    };
    let mut tx = db.begin().await?;
    tx.execute(
        query(
            "INSERT INTO api_keys (id, name, scope, agency_id, tenant_id, reach_agency_id, \
             prefix, secret_hash, created_at, role, scopes, expires_at, environment) VALUES ($1, \
             $2, $3, $4, $5, COALESCE($4, (SELECT agency_id FROM tenants WHERE id = $5)), $6, $7, \
             $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(name)
        .bind(<&'static str>::from(kind))
        .bind(agency_id)
        .bind(tenant_id)
        .bind(&minted.prefix)
        .bind(&minted.hash)
        .bind(now())
        .bind(limits.role.map(Role::name))
        .bind(limits.scopes.map(|scopes| {
            let names = scopes.iter().map(|scope| scope.name().into()).collect();
            serde_json::Value::Array(names)
        }))
        .bind(limits.expires_at)
        .bind(<&'static str>::from(environment)),
    )
    .await?;
    // Read back with the tenant's agency, which the insert cannot return.
    let row: ApiKeyRow = tx
        .fetch_one(query(format!("{SELECT} WHERE k.id = $1")).bind(id))
        .await?;
    let key: ApiKey = row.try_into()?;
    record_change(&mut tx, "api_key.created", None, Some(&key)).await?;
    tx.commit().await?;
    Ok((key, minted.secret))
}

/// The statement of one page of the keys `scope` reaches, in id (creation) order after
/// `after`.
pub fn list_query(scope: TenantScope, after: Option<ApiKeyId>, limit: i64) -> Query<'static> {
    let mut statement = visible(scope);
    if let Some(after) = after {
        statement.push_sql(" AND k.id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY k.id LIMIT ?", [limit.into()]);
    statement
}

pub async fn list(
    db: &Db,
    scope: TenantScope,
    after: Option<ApiKeyId>,
    limit: i64,
) -> StoreResult<Vec<ApiKey>> {
    let rows: Vec<ApiKeyRow> = db
        .reader()
        .fetch_all(list_query(scope, after, limit))
        .await?;
    rows.into_iter().map(ApiKey::try_from).collect()
}

/// An unrevoked key, if `scope` reaches it.
pub async fn find(db: &Db, scope: TenantScope, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
    let mut statement = visible(scope);
    statement.push_sql(" AND k.id = ?", [id.into()]);
    let row: Option<ApiKeyRow> = db.reader().fetch_optional(statement).await?;
    row.map(ApiKey::try_from).transpose()
}

/// Revokes a key at once; later requests with it are refused.
pub async fn revoke(db: &Db, id: ApiKeyId) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let at = now();
    let holder: (Option<TenantId>, Option<AgencyId>) = tx
        .fetch_optional(
            query(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
                 RETURNING tenant_id, agency_id",
            )
            .bind(id)
            .bind(at),
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    let change = Change::new(
        holder,
        "api_key.revoked",
        Target::new("api_key", id),
        serde_json::json!({"revokedAt": {"before": null, "after": at}}),
    );
    super::audit::record(&mut tx, change).await?;
    tx.commit().await
}

/// A presented key, and whether its tenant is inactive (its requests are then refused).
#[derive(Debug, Clone)]
pub struct Presented {
    pub key: ApiKey,
    pub tenant_inactive: bool,
}

/// The key a secret belongs to: `None` when it is unknown, revoked, expired, or held by a
/// deleted tenant.
pub async fn authenticate(db: &Db, secret: &str) -> StoreResult<Option<Presented>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        key: ApiKeyRow,
        tenant_inactive: bool,
    }
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let select = SELECT.replace(
            " FROM api_keys",
            ", COALESCE(t.status = 'inactive', FALSE) AS tenant_inactive FROM api_keys",
        );
        format!(
            "{select} WHERE k.secret_hash = $1 AND k.revoked_at IS NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $2) \
             AND (k.tenant_id IS NULL OR t.status <> 'deleted')"
        )
    });
    let row: Option<Row> = db
        .reader()
        .fetch_optional(query(SQL.as_str()).bind(hash_secret(secret)).bind(now()))
        .await?;
    row.map(|row| {
        Ok(Presented {
            key: ApiKey::try_from(row.key)?,
            tenant_inactive: row.tenant_inactive,
        })
    })
    .transpose()
}

/// How many unrevoked platform keys exist.
pub async fn count_platform_keys(db: &Db) -> StoreResult<i64> {
    let (count,): (i64,) = db
        .reader()
        .fetch_one(
            query("SELECT COUNT(*) FROM api_keys WHERE scope = $1 AND revoked_at IS NULL")
                .bind(<&'static str>::from(KeyScope::Platform)),
        )
        .await?;
    Ok(count)
}

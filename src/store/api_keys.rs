//! API keys: only hashes of secrets are stored.

use chrono::{DateTime, Utc};

use super::{now, Db, StoreError, StoreResult};
use crate::domain::access::{Caller, Principal, Scope, TenantScope};
use crate::domain::api_key::{hash_secret, mint_secret, ApiKey, KeyScope};
use crate::domain::ids::{AgencyId, ApiKeyId, TenantId};
use crate::domain::policy::Role;
use crate::{in_transaction, on_reader};

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: ApiKeyId,
    name: String,
    scope: String,
    agency_id: Option<AgencyId>,
    tenant_id: Option<TenantId>,
    prefix: String,
    created_at: DateTime<Utc>,
}

impl ApiKeyRow {
    fn into_key(self) -> StoreResult<ApiKey> {
        let scope = KeyScope::parse(&self.scope).ok_or_else(|| {
            StoreError::Corrupt(anyhow::anyhow!("unknown key scope {:?}", self.scope))
        })?;
        Ok(ApiKey {
            id: self.id,
            name: self.name,
            scope,
            agency_id: self.agency_id,
            tenant_id: self.tenant_id,
            prefix: self.prefix,
            created_at: self.created_at,
        })
    }

    fn into_caller(self) -> StoreResult<Caller> {
        let key = self.into_key()?;
        let missing = || StoreError::Corrupt(anyhow::anyhow!("key {} lacks its owner", key.id));
        // Until keys carry roles of their own, a key acts in its level's full role.
        let (role, scope) = match key.scope {
            KeyScope::Platform => (Role::Admin, Scope::Platform),
            KeyScope::Agency => (
                Role::AgencyManager,
                Scope::Agency(key.agency_id.ok_or_else(missing)?),
            ),
            KeyScope::Tenant => (
                Role::TenantOwner,
                Scope::Tenant(key.tenant_id.ok_or_else(missing)?),
            ),
        };
        Ok(Caller {
            principal: Principal::ApiKey(key.id),
            role,
            scope,
        })
    }
}

/// Keys of the scope bound at `$1` (agency) and `$2` (tenant): an agency sees its own keys
/// and those of its tenants.
macro_rules! visible_keys {
    () => {
        "SELECT k.id, k.name, k.scope, k.agency_id, k.tenant_id, k.prefix, k.created_at \
         FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id \
         WHERE k.revoked_at IS NULL AND ($1 IS NULL OR k.agency_id = $1 OR t.agency_id = $1) \
         AND ($2 IS NULL OR k.tenant_id = $2)"
    };
}

impl Db {
    /// Stores a new key and returns it with its secret, which is not kept.
    pub async fn create_api_key(
        &self,
        name: &str,
        scope: KeyScope,
        agency_id: Option<AgencyId>,
        tenant_id: Option<TenantId>,
    ) -> StoreResult<(ApiKey, String)> {
        let minted = mint_secret();
        let row: ApiKeyRow = in_transaction!(self, |tx| {
            sqlx::query_as(
                "INSERT INTO api_keys (id, name, scope, agency_id, tenant_id, prefix, secret_hash, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING id, name, scope, agency_id, tenant_id, prefix, created_at",
            )
            .bind(ApiKeyId::generate())
            .bind(name)
            .bind(scope.as_str())
            .bind(agency_id)
            .bind(tenant_id)
            .bind(&minted.prefix)
            .bind(&minted.hash)
            .bind(now())
            .fetch_one(&mut *tx)
            .await?
        });
        Ok((row.into_key()?, minted.secret))
    }

    pub async fn list_api_keys(
        &self,
        scope: TenantScope,
        after: Option<ApiKeyId>,
        limit: i64,
    ) -> StoreResult<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                visible_keys!(),
                " AND ($3 IS NULL OR k.id > $3) ORDER BY k.id LIMIT $4"
            ))
            .bind(scope.agency_id)
            .bind(scope.tenant_id)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(ApiKeyRow::into_key).collect()
    }

    pub async fn find_api_key(&self, scope: TenantScope, id: ApiKeyId) -> StoreResult<ApiKey> {
        let row: Option<ApiKeyRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(visible_keys!(), " AND k.id = $3"))
                .bind(scope.agency_id)
                .bind(scope.tenant_id)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound)?.into_key()
    }

    /// Revokes a key at once; later requests with it are refused.
    pub async fn revoke_api_key(&self, id: ApiKeyId) -> StoreResult<()> {
        let done = in_transaction!(self, |tx| {
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(now())
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The caller a secret stands for: `None` when it is unknown, revoked, or belongs to a
    /// tenant that is no longer active.
    pub async fn authenticate(&self, secret: &str) -> StoreResult<Option<Caller>> {
        let row: Option<ApiKeyRow> = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT k.id, k.name, k.scope, k.agency_id, k.tenant_id, k.prefix, k.created_at \
                 FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id \
                 WHERE k.secret_hash = $1 AND k.revoked_at IS NULL \
                 AND (k.tenant_id IS NULL OR t.status = 'active')",
            )
            .bind(hash_secret(secret))
            .fetch_optional(pool)
            .await?
        });
        row.map(ApiKeyRow::into_caller).transpose()
    }

    pub async fn count_platform_keys(&self) -> StoreResult<i64> {
        let (count,): (i64,) = on_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*) FROM api_keys WHERE scope = 'platform' AND revoked_at IS NULL",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(count)
    }
}

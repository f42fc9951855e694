//! API keys: minting keys within the caller's reach, listing and revoking them, and finding
//! the caller a presented secret stands for.

use tracing::instrument;

use super::tenants::TenantRef;
use super::{not_found, Context, Error, Lookup, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::agency::Agency;
use crate::domain::api_key::{ApiKey, KeyEnvironment, KeyOwner, KeyScope};
use crate::domain::ids::{AgencyId, ApiKeyId, TenantId};
use crate::domain::policy::{self, act, Action, Authorized, Role, ScopeSet, Target};
use crate::domain::validation::Violations;
use crate::store;
use chrono::{DateTime, Utc};

impl Lookup for ApiKey {
    const NAME: &'static str = "API key";
    type Id = ApiKeyId;

    async fn lookup(ctx: &Context, caller: &Caller, id: ApiKeyId) -> Result<Option<ApiKey>> {
        Ok(store::api_keys::find(&ctx.db, caller.tenant_scope(), id).await?)
    }

    fn target(&self) -> Target {
        match self.owner {
            KeyOwner::Platform => Target::Platform,
            KeyOwner::Agency(id) => Target::Agency(id),
            KeyOwner::Tenant { id, agency } => Target::Tenant { id, agency },
        }
    }
}

/// A key to mint, as a request names it: for the platform (no ids), an agency or a tenant.
#[derive(Debug)]
pub struct NewKey {
    pub name: String,
    pub agency_id: Option<AgencyId>,
    pub tenant_id: Option<TenantId>,
    /// A narrower role than the level's full one.
    pub role: Option<Role>,
    /// What it may be used for; `None` for everything its role may do.
    pub scopes: Option<ScopeSet>,
    pub expires_at: Option<DateTime<Utc>>,
    /// `test` for a sandbox key (`tnt_test_…`); `live` by default.
    pub environment: Option<KeyEnvironment>,
}

/// Mints a key: a platform or agency key for platform callers, a tenant key for a tenant the
/// caller reaches. Returns the key with its secret, which is never shown again.
#[instrument(skip_all)]
pub async fn mint(ctx: &Context, caller: &Caller, new: NewKey) -> Result<(ApiKey, String)> {
    let mut violations = Violations::default();
    violations.length("name", &new.name, 1, 255);
    violations.finish(|| ())?;
    let holder = holder(ctx, caller, &new).await?;
    let level = match holder {
        Scope::Platform => KeyScope::Platform,
        Scope::Agency(_) => KeyScope::Agency,
        Scope::Tenant(_) => KeyScope::Tenant,
    };
    let role = new.role.unwrap_or(Role::of_key(level));
    if role.level() != level {
        let level: &str = level.into();
        return Err(Error::field(
            "role",
            "role_of_another_level",
            format!("is not a role of a {level} key"),
        ));
    }
    // A key never gets more than its minter may do.
    if !role.within(caller.role) {
        return Err(Error::ForbiddenField {
            field: "role",
            detail: "a key may not act in a role that can do more than the caller's",
        });
    }
    // Nor scopes beyond the minter's, nor a life beyond its own.
    if let (Some(wanted), Some(own)) = (new.scopes, caller.scopes) {
        if !wanted.within(own) {
            return Err(Error::ForbiddenField {
                field: "scopes",
                detail: "a key may not be given a scope its minter lacks",
            });
        }
    }
    if new.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        return Err(Error::field(
            "expiresAt",
            "in_past",
            "must be in the future",
        ));
    }
    let limits = store::api_keys::Limits {
        role: new.role,
        scopes: new.scopes.or(caller.scopes),
        expires_at: new.expires_at,
    };
    let environment = new.environment.unwrap_or(KeyEnvironment::Live);
    Ok(store::api_keys::create(&ctx.db, &new.name, holder, limits, environment).await?)
}

/// Where the new key is held, refusing what the caller may not mint. An agency or tenant the
/// caller does not reach is an unknown one, whose existence is not revealed.
async fn holder(ctx: &Context, caller: &Caller, new: &NewKey) -> Result<Scope> {
    let action = match (new.agency_id, new.tenant_id) {
        (Some(_), Some(_)) => {
            return Err(Error::field(
                "tenantId",
                "conflicting_fields",
                "give agencyId or tenantId, not both",
            ))
        }
        (None, None) => Action::MintPlatformKey,
        (Some(_), None) => Action::MintAgencyKey,
        (None, Some(_)) => Action::MintTenantKey,
    };
    policy::require(caller, action).map_err(Error::refused("API key"))?;
    if let Some(id) = new.agency_id {
        return match Agency::lookup(ctx, caller, id).await? {
            Some(_) => Ok(Scope::Agency(id)),
            None => Err(Error::field("agencyId", "unknown_agency", "no such agency")),
        };
    }
    if let Some(id) = new.tenant_id {
        let tenant = TenantRef::lookup(ctx, caller, id).await?;
        return match tenant.filter(|tenant| caller.scope.reaches(&tenant.target())) {
            Some(_) => Ok(Scope::Tenant(id)),
            None => Err(Error::field("tenantId", "unknown_tenant", "no such tenant")),
        };
    }
    Ok(Scope::Platform)
}

/// The keys the caller reaches, in id order after `after`.
#[instrument(skip_all)]
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    after: Option<ApiKeyId>,
    limit: i64,
) -> Result<Vec<ApiKey>> {
    policy::require(caller, Action::ReadKeys).map_err(Error::refused("API key"))?;
    Ok(store::api_keys::list(&ctx.db, caller.tenant_scope(), after, limit).await?)
}

/// Revokes a key; requests made with it are refused from now on.
#[instrument(skip_all, fields(api_key_id = %key.get().id))]
pub async fn revoke(ctx: &Context, key: Authorized<ApiKey, act::RevokeKey>) -> Result<()> {
    store::api_keys::revoke(&ctx.db, key.get().id)
        .await
        .map_err(not_found("API key"))
}

/// The caller a presented secret stands for; `None` when no usable key has it.
#[instrument(skip_all)]
pub async fn authenticate(ctx: &Context, secret: &str) -> Result<Option<Caller>> {
    match store::api_keys::authenticate(&ctx.db, secret).await? {
        // An inactive tenant's own keys are refused on every route until it is reactivated.
        Some(presented) if presented.tenant_inactive => Err(Error::TenantInactive),
        presented => Ok(presented.map(|presented| presented.key.caller())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn key(owner: KeyOwner) -> ApiKey {
        ApiKey {
            id: ApiKeyId::generate(),
            name: "key".to_owned(),
            owner,
            prefix: "tnty_abcdefgh".to_owned(),
            role: Role::of_key(owner.kind()),
            scopes: None,
            expires_at: None,
            environment: KeyEnvironment::Live,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_key_is_judged_by_its_holder() {
        let (agency, tenant) = (AgencyId::generate(), TenantId::generate());
        assert_eq!(key(KeyOwner::Platform).target(), Target::Platform);
        assert_eq!(
            key(KeyOwner::Agency(agency)).target(),
            Target::Agency(agency)
        );
        for agency in [Some(agency), None] {
            assert_eq!(
                key(KeyOwner::Tenant { id: tenant, agency }).target(),
                Target::Tenant { id: tenant, agency }
            );
        }
    }

    #[test]
    fn agencies_reach_their_tenants_keys_and_tenants_only_their_own() {
        let (a, b) = (AgencyId::generate(), AgencyId::generate());
        let tenant = TenantId::generate();
        let of_a = key(KeyOwner::Tenant {
            id: tenant,
            agency: Some(a),
        });
        assert!(Scope::Agency(a).reaches(&of_a.target()));
        assert!(!Scope::Agency(b).reaches(&of_a.target()));
        assert!(Scope::Tenant(tenant).reaches(&of_a.target()));
        let direct = key(KeyOwner::Tenant {
            id: tenant,
            agency: None,
        });
        assert!(!Scope::Agency(a).reaches(&direct.target()));
        for scope in [Scope::Agency(a), Scope::Tenant(tenant)] {
            assert!(!scope.reaches(&key(KeyOwner::Platform).target()));
        }
        assert!(!Scope::Tenant(tenant).reaches(&key(KeyOwner::Agency(a)).target()));
        assert!(Scope::Platform.reaches(&key(KeyOwner::Agency(b)).target()));
    }
}

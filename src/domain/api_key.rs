//! API keys: bearer secrets held by the platform, one agency, or one tenant.

use chrono::{DateTime, Utc};
use rand::{distributions::Alphanumeric, Rng};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::access::{Caller, Principal, Scope};
use super::audit::{holder_of, Audited, Fields, Holder, Target};
use super::ids::{AgencyId, ApiKeyId, TenantId};
use super::policy::{Role, ScopeSet};

/// The kind of a key: the level of the hierarchy that holds it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum KeyScope {
    Platform,
    Agency,
    Tenant,
}

/// Who holds a key, which is what it reaches and what the policy judges it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner {
    Platform,
    Agency(AgencyId),
    /// A tenant, with the agency that owns the tenant (`None` for a direct tenant).
    Tenant {
        id: TenantId,
        agency: Option<AgencyId>,
    },
}

impl KeyOwner {
    pub fn kind(&self) -> KeyScope {
        match self {
            KeyOwner::Platform => KeyScope::Platform,
            KeyOwner::Agency(_) => KeyScope::Agency,
            KeyOwner::Tenant { .. } => KeyScope::Tenant,
        }
    }

    /// How far a request made with the key reaches.
    pub fn scope(&self) -> Scope {
        match *self {
            KeyOwner::Platform => Scope::Platform,
            KeyOwner::Agency(id) => Scope::Agency(id),
            KeyOwner::Tenant { id, .. } => Scope::Tenant(id),
        }
    }

    /// The agency of an agency key.
    pub fn agency_id(&self) -> Option<AgencyId> {
        match *self {
            KeyOwner::Agency(id) => Some(id),
            _ => None,
        }
    }

    /// The tenant of a tenant key.
    pub fn tenant_id(&self) -> Option<TenantId> {
        match *self {
            KeyOwner::Tenant { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// A stored key: never the secret.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub owner: KeyOwner,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    /// The role it acts in: one of its level's.
    pub role: Role,
    /// What it may be used for; `None` for everything its role may do.
    pub scopes: Option<ScopeSet>,
    /// When it stops working; `None` for never.
    pub expires_at: Option<DateTime<Utc>>,
    pub environment: KeyEnvironment,
    pub created_at: DateTime<Utc>,
}

impl ApiKey {
    /// The caller a request made with this key acts as.
    pub fn caller(&self) -> Caller {
        Caller {
            principal: Principal::ApiKey(self.id),
            role: self.role,
            scopes: self.scopes,
            scope: self.owner.scope(),
        }
    }
}

/// A newly minted secret and what is stored of it.
pub struct MintedSecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

/// Where a key is used: production or a sandbox. The secret's mark says which, so that
/// secret scanners can find leaked ones and tell them apart.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum KeyEnvironment {
    Live,
    Test,
}

impl KeyEnvironment {
    /// Every secret starts with its environment's mark. Keys minted before marks (`tnty_…`)
    /// keep working: a key is found by its hash, whatever its text.
    pub fn mark(self) -> &'static str {
        match self {
            KeyEnvironment::Live => "tnt_live_",
            KeyEnvironment::Test => "tnt_test_",
        }
    }
}

/// A bearer token: a recognisable mark, then 40 random alphanumerics (about 238 bits), so a
/// fast hash is enough to store it.
pub fn mint_token(mark: &str) -> String {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("{mark}{random}")
}

/// A key's secret; its first characters after the mark are kept to tell keys apart.
pub fn mint_secret(environment: KeyEnvironment) -> MintedSecret {
    let secret = mint_token(environment.mark());
    MintedSecret {
        prefix: secret[..environment.mark().len() + 8].to_owned(),
        hash: hash_secret(&secret),
        secret,
    }
}

/// What the database holds of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Audited for ApiKey {
    fn audit_target(&self) -> Target {
        Target::new("api_key", self.id)
    }

    fn audit_holder(&self) -> Holder {
        holder_of(self.owner.scope())
    }

    fn audit_fields(&self) -> Fields {
        let scopes = self
            .scopes
            .map(|scopes| scopes.iter().map(|scope| scope.name()).collect::<Vec<_>>());
        let mut fields = Fields::new();
        fields.insert("name".into(), json!(self.name));
        fields.insert("prefix".into(), json!(self.prefix));
        fields.insert("role".into(), json!(self.role.name()));
        fields.insert("scopes".into(), json!(scopes));
        fields.insert("expiresAt".into(), json!(self.expires_at));
        fields.insert("environment".into(), json!(<&str>::from(self.environment)));
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_are_unique_and_hash_stably() {
        let a = mint_secret(KeyEnvironment::Live);
        let b = mint_secret(KeyEnvironment::Live);
        assert!(a.secret.starts_with("tnt_live_"));
        assert!(mint_secret(KeyEnvironment::Test)
            .secret
            .starts_with("tnt_test_"));
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(hash_secret(&a.secret), a.hash);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn a_key_acts_within_its_holder() {
        let (agency, tenant) = (AgencyId::generate(), TenantId::generate());
        let key = |owner: KeyOwner| ApiKey {
            id: ApiKeyId::generate(),
            name: "k".to_owned(),
            owner,
            prefix: "tnty_".to_owned(),
            environment: KeyEnvironment::Live,
            role: Role::of_key(owner.kind()),
            scopes: None,
            expires_at: None,
            created_at: Utc::now(),
        };
        for (owner, role, scope) in [
            (KeyOwner::Platform, Role::Admin, Scope::Platform),
            (
                KeyOwner::Agency(agency),
                Role::AgencyManager,
                Scope::Agency(agency),
            ),
            (
                KeyOwner::Tenant {
                    id: tenant,
                    agency: Some(agency),
                },
                Role::TenantOwner,
                Scope::Tenant(tenant),
            ),
        ] {
            let key = key(owner);
            let caller = key.caller();
            assert_eq!(caller.principal, Principal::ApiKey(key.id));
            assert_eq!((caller.role, caller.scope), (role, scope), "{owner:?}");
        }
    }

    #[test]
    fn kinds_have_one_text_form() {
        for kind in [KeyScope::Platform, KeyScope::Agency, KeyScope::Tenant] {
            let text: &'static str = kind.into();
            assert_eq!(text.parse::<KeyScope>(), Ok(kind));
        }
        assert_eq!(<&str>::from(KeyScope::Platform), "platform");
        assert!("Platform".parse::<KeyScope>().is_err());
    }
}

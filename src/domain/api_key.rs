//! API keys: bearer secrets held by the platform, one agency, or one tenant.

use chrono::{DateTime, Utc};
use rand::{distributions::Alphanumeric, Rng};
use sha2::{Digest, Sha256};

use super::access::{Caller, Principal, Scope};
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

/// Every secret starts with it, so that secret scanners can find leaked ones. Keys minted
/// before it (`tnty_…`) keep working: a key is found by its hash, whatever its text.
const SECRET_MARK: &str = "tnt_live_";
const PREFIX_LEN: usize = SECRET_MARK.len() + 8;

/// 40 random alphanumerics (about 238 bits), so a fast hash is enough to store it.
pub fn mint_secret() -> MintedSecret {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let secret = format!("{SECRET_MARK}{random}");
    MintedSecret {
        prefix: secret[..PREFIX_LEN].to_owned(),
        hash: hash_secret(&secret),
        secret,
    }
}

/// What the database holds of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_are_unique_and_hash_stably() {
        let a = mint_secret();
        let b = mint_secret();
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

//! API keys: bearer secrets scoped to the platform, one agency, or one tenant.

use chrono::{DateTime, Utc};
use rand::{distributions::Alphanumeric, Rng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::ids::{AgencyId, ApiKeyId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    Platform,
    Agency,
    Tenant,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Platform => "platform",
            KeyScope::Agency => "agency",
            KeyScope::Tenant => "tenant",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "platform" => Some(KeyScope::Platform),
            "agency" => Some(KeyScope::Agency),
            "tenant" => Some(KeyScope::Tenant),
            _ => None,
        }
    }
}

/// A key as listed: never the secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub scope: KeyScope,
    pub agency_id: Option<AgencyId>,
    pub tenant_id: Option<TenantId>,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
}

/// A newly minted secret and what is stored of it.
pub struct MintedSecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

const SECRET_MARK: &str = "tnty_";
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
}

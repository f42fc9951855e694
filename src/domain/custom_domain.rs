//! An agency's custom domain: registered pending, verified once its CNAME points at the
//! platform's target, and from then on how a console served on it finds its agency.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use strum::{EnumString, IntoStaticStr, VariantNames};

use super::audit::{Audited, Fields, Holder, Target};
use super::ids::AgencyId;
use super::values::HostName;

/// Where a domain stands. Voisnap's `active` is what the issue calls verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum DomainStatus {
    /// Registered; its CNAME does not point at the target yet.
    PendingVerification,
    /// Its CNAME pointed at the target: consoles on it show the agency's branding.
    Active,
}

/// How ownership of a domain is proven: only a CNAME to the platform's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum VerificationMethod {
    Cname,
}

/// An agency's custom domain (one per agency; a domain belongs to one agency only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    pub agency_id: AgencyId,
    pub domain: HostName,
    pub status: DomainStatus,
    /// Shown to the agency with the domain (`vsnp-verify-…`); proves nothing by itself.
    pub verification_token: String,
    pub verified_at: Option<DateTime<Utc>>,
    /// The last lookup of its CNAME, and why it did not verify.
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_check_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How long a claim left unverified keeps its domain from other agencies: after it, another
/// agency registering the domain takes it over, so that nobody holds a domain they cannot
/// point at the platform. DNS changes take up to a day to spread.
pub const PENDING_CLAIM_HOLDS: chrono::Duration = chrono::Duration::days(7);

/// The prefix of a verification token, as Voisnap shows it.
pub const TOKEN_PREFIX: &str = "vsnp-verify-";

/// A fresh verification token: the prefix and 128 random bits in hex.
pub fn mint_verification_token() -> String {
    let random: [u8; 16] = rand::random();
    format!("{TOKEN_PREFIX}{}", hex::encode(random))
}

/// Whether a domain whose CNAME is `found` (as DNS wrote it, maybe with its final dot and in
/// any case) points at `target`; otherwise why not, in words for the agency.
pub fn cname_verdict(found: Option<&str>, target: &HostName) -> Result<(), String> {
    match found {
        None => Err(format!(
            "no CNAME record found; create one pointing at {target}"
        )),
        Some(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == target.as_str() {
                Ok(())
            } else {
                Err(format!("the CNAME points at {name}, not at {target}"))
            }
        }
    }
}

impl Audited for CustomDomain {
    fn audit_target(&self) -> Target {
        Target::new("custom_domain", &self.domain)
    }

    fn audit_holder(&self) -> Holder {
        (None, Some(self.agency_id))
    }

    fn audit_fields(&self) -> Fields {
        let mut fields = Fields::new();
        fields.insert("domain".into(), json!(self.domain.as_str()));
        let status: &str = self.status.into();
        fields.insert("status".into(), json!(status));
        let verified = self.verified_at.map(|at| at.to_rfc3339());
        fields.insert(
            "verifiedAt".into(),
            verified.map_or(Value::Null, Value::from),
        );
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cname_verifies_when_it_names_the_target_whatever_its_case_or_final_dot() {
        let target = HostName::parse("edge.tenantry.example").unwrap();
        for found in ["edge.tenantry.example", "Edge.Tenantry.Example."] {
            assert_eq!(cname_verdict(Some(found), &target), Ok(()), "{found}");
        }
        let wrong = cname_verdict(Some("elsewhere.example."), &target).unwrap_err();
        assert_eq!(
            wrong,
            "the CNAME points at elsewhere.example, not at edge.tenantry.example"
        );
        assert!(cname_verdict(None, &target)
            .unwrap_err()
            .starts_with("no CNAME record found"));
    }

    #[test]
    fn tokens_are_random_and_prefixed() {
        let (a, b) = (mint_verification_token(), mint_verification_token());
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 32);
        assert_ne!(a, b);
    }
}

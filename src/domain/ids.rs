//! Prefixed, typed identifiers: TypeID text (`ten_` + 26 base32 characters of a UUIDv7).
//!
//! Every id type is made by [`typed_id!`], so they all parse, print, serialize, bind to SQL
//! and describe themselves in OpenAPI the same way. Parsing also accepts the plain UUID form.

use std::fmt;

use uuid::Uuid;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Encodes 128 bits as the 26-character TypeID suffix (the top character holds 3 bits).
pub fn encode_suffix(uuid: Uuid) -> String {
    let value = uuid.as_u128();
    (0..26)
        .map(|i| ALPHABET[((value >> (5 * (25 - i))) & 31) as usize] as char)
        .collect()
}

/// Decodes a TypeID suffix; `None` when it is not 26 valid characters or overflows 128 bits.
pub fn decode_suffix(suffix: &str) -> Option<Uuid> {
    let bytes = suffix.as_bytes();
    if bytes.len() != 26 || bytes[0] > b'7' {
        return None;
    }
    let mut value: u128 = 0;
    for &b in bytes {
        let digit = ALPHABET.iter().position(|&a| a == b)? as u128;
        value = (value << 5) | digit;
    }
    Some(Uuid::from_u128(value))
}

/// Why an id string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdParseError {
    pub expected_prefix: &'static str,
}

impl fmt::Display for IdParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "must be an id of the form {}_<26 base32 characters> or a UUID",
            self.expected_prefix
        )
    }
}

impl std::error::Error for IdParseError {}

/// Parses either `prefix_suffix` or a hyphenated UUID.
pub fn parse_prefixed(text: &str, prefix: &'static str) -> Result<Uuid, IdParseError> {
    let error = IdParseError {
        expected_prefix: prefix,
    };
    if let Some(suffix) = text
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
    {
        return decode_suffix(suffix).ok_or(error);
    }
    if text.len() == 36 {
        return Uuid::try_parse(text).map_err(|_| error);
    }
    Err(error)
}

/// What every typed id is: a UUID with a prefix, named in paths by one of `PATH_PARAMS`.
pub trait TypedId: Copy + std::str::FromStr<Err = IdParseError> {
    const PREFIX: &'static str;
    /// The names this id takes as a path parameter (`tenantId`, and the dialects' spellings).
    const PATH_PARAMS: &'static [&'static str];
    fn uuid(self) -> Uuid;
}

/// Something a path parameter names, under one of `PATH_PARAMS`: every [`TypedId`], and a few
/// keys of other kinds (a plan is named by id or by code).
pub trait PathKey: Sized + Send {
    const PATH_PARAMS: &'static [&'static str];
    fn parse_path(text: &str) -> Result<Self, IdParseError>;
}

impl<T: TypedId + Send> PathKey for T {
    const PATH_PARAMS: &'static [&'static str] = T::PATH_PARAMS;

    fn parse_path(text: &str) -> Result<Self, IdParseError> {
        text.parse()
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, params = [$($param:literal),+ $(,)?]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl TypedId for $name {
            const PREFIX: &'static str = $prefix;
            const PATH_PARAMS: &'static [&'static str] = &[$($param),+];
            fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, encode_suffix(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdParseError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_prefixed(text, $prefix).map(Self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!(
                        "TypeID with prefix `", $prefix, "_`; the UUID form is accepted on input."
                    )))
                    .pattern(Some(concat!(
                        "^(", $prefix, "_[0-7][0-9a-hjkmnp-tv-z]{25}|",
                        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
                    )))
                    .examples([serde_json::json!(concat!($prefix, "_01jdw3k5yzf8s9tq2v6x4b7c8d"))])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

typed_id!(
    /// An agency (reseller) that owns client tenants.
    AgencyId,
    "agn",
    params = ["agencyId", "agency_id"]
);
typed_id!(
    /// A client organisation.
    TenantId,
    "ten",
    params = ["tenantId", "tenant_id", "organization_id"]
);
typed_id!(
    /// A person.
    UserId,
    "usr",
    params = ["userId", "user_id"]
);
typed_id!(
    /// An invitation to join the platform, an agency or a tenant.
    InvitationId,
    "inv",
    params = ["invitationId"]
);
typed_id!(
    /// A bearer API key.
    ApiKeyId,
    "key",
    params = ["apiKeyId"]
);
typed_id!(
    /// A catalog plan.
    PlanId,
    "pln",
    params = ["planId", "plan_id"]
);
typed_id!(
    /// A tenant's voice agent.
    AgentId,
    "agt",
    params = ["agentId", "agent_id"]
);
typed_id!(
    /// One conversation.
    CallId,
    "call",
    params = ["callId", "call_id"]
);

typed_id!(
    /// A phone number a tenant's calls use.
    PhoneNumberId,
    "pn",
    params = ["phoneNumberId", "phone_number_id"]
);
typed_id!(
    /// A SIP trunk of a tenant.
    SipTrunkId,
    "sip",
    params = ["sipTrunkId", "sip_trunk_id"]
);
typed_id!(
    /// A team of a tenant's agents.
    SquadId,
    "sqd",
    params = ["squadId", "squad_id"]
);
typed_id!(
    /// A conversation workflow.
    WorkflowId,
    "wf",
    params = ["workflowId", "workflow_id"]
);
typed_id!(
    /// A connection to an outside system (CRM, calendar, HTTP).
    IntegrationId,
    "int",
    params = ["integrationId", "integration_id"]
);
typed_id!(
    /// A knowledge-base file.
    FileId,
    "fil",
    params = ["fileId", "file_id"]
);
typed_id!(
    /// A call's stored audio.
    RecordingId,
    "rec",
    params = ["recordingId", "recording_id"]
);
typed_id!(
    /// A tenant's move from one agency to another.
    TransferId,
    "trf",
    params = ["transferId"]
);
typed_id!(
    /// Something that happened, as webhooks tell it.
    EventId,
    "evt",
    params = ["eventId"]
);
typed_id!(
    /// Where an agency's or the platform's events are delivered.
    WebhookEndpointId,
    "whe",
    params = ["webhookEndpointId"]
);
typed_id!(
    /// One event on its way to one webhook endpoint.
    WebhookDeliveryId,
    "whd",
    params = ["webhookDeliveryId"]
);
typed_id!(
    /// One attempt at a webhook delivery.
    WebhookAttemptId,
    "wha",
    params = ["webhookAttemptId"]
);
typed_id!(
    /// A tenant's subscription to its plan.
    SubscriptionId,
    "sub",
    params = ["subscriptionId"]
);
typed_id!(
    /// An entry of the audit trail.
    AuditId,
    "aud",
    params = ["auditId"]
);
typed_id!(
    /// A mail in the outbox.
    EmailId,
    "eml",
    params = ["emailId"]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_uuid_forms() {
        for _ in 0..1000 {
            let id = TenantId::generate();
            let text = id.to_string();
            assert!(text.starts_with("ten_"));
            assert_eq!(text.len(), 30);
            assert_eq!(text.parse::<TenantId>().unwrap(), id);
            assert_eq!(id.0.to_string().parse::<TenantId>().unwrap(), id);
        }
    }

    #[test]
    fn matches_the_typeid_spec_vectors() {
        let uuid = Uuid::parse_str("01890a5d-ac96-774b-bcce-b302099a8057").unwrap();
        assert_eq!(encode_suffix(uuid), "01h455vb4pex5vsknk084sn02q");
        assert_eq!(encode_suffix(Uuid::max()), "7zzzzzzzzzzzzzzzzzzzzzzzzz");
        assert_eq!(decode_suffix("01h455vb4pex5vsknk084sn02q"), Some(uuid));
    }

    #[test]
    fn refuses_wrong_prefix_overflow_and_garbage() {
        let id = AgencyId::generate().to_string();
        assert!(id.parse::<TenantId>().is_err());
        assert!("ten_8zzzzzzzzzzzzzzzzzzzzzzzzz"
            .parse::<TenantId>()
            .is_err());
        assert!("ten_01h455vb4pex5vsknk084sn02".parse::<TenantId>().is_err());
        assert!("ten_01h455vb4pex5vsknk084sn0u".parse::<TenantId>().is_err());
        assert!("".parse::<TenantId>().is_err());
        assert!("tenant".parse::<TenantId>().is_err());
    }
}

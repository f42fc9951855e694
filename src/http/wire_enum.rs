//! Enums on the wire. Each domain enum has one text form, given once by its `strum` derives
//! (`snake_case`), which storage reads and writes too. [`wire_enums!`] gives the listed enums
//! the serde and OpenAPI impls every dialect uses, from that same text form.

/// Implements `Serialize`, `Deserialize` and `ToSchema` for domain enums through their
/// `strum` text form (`IntoStaticStr`, `FromStr`, `VariantNames`).
#[macro_export]
macro_rules! wire_enums {
    ($($ty:ty $(: $doc:literal)?),* $(,)?) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(<&'static str>::from(*self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                text.parse().map_err(|_| {
                    serde::de::Error::unknown_variant(
                        &text,
                        <$ty as strum::VariantNames>::VARIANTS,
                    )
                })
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let schema = utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(<$ty as strum::VariantNames>::VARIANTS.iter().copied()));
                $(let schema = schema.description(Some($doc));)?
                schema.into()
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                let path = stringify!($ty);
                std::borrow::Cow::Borrowed(path.rsplit("::").next().unwrap_or(path))
            }
        }
    )*};
}

use crate::domain::agent::AgentStatus;
use crate::domain::api_key::{KeyEnvironment, KeyScope};
use crate::domain::audit::ActorKind;
use crate::domain::custom_domain::{DomainStatus, VerificationMethod};
use crate::domain::metering::{CallStatus, Channel, Direction, LimitSource};
use crate::domain::policy::{ApiScope, Role};
use crate::domain::subscription::{BillingInterval, SubscriptionStatus};
use crate::domain::tenant::{
    ActionAt100, BillingMode, BlockedService, EffectiveStatus, RecordingFormat, TenantSort,
    TenantStatus, TenantType,
};
use crate::domain::transfer::{TransferDirection, TransferState};
use crate::domain::user::MemberStatus;

wire_enums! {
    ActionAt100: "What happens when usage reaches an alert threshold (`actionAt100`: 100% of `monthlySpendLimitCents`): `notify_only`, `block_new_calls` (admission refuses from that threshold on) or `suspend` (the tenant is deactivated until the next period).",
    ApiScope: "A key scope: what a scoped key may be used for.",
    Role: "A role: `Admin` (platform); `AgencyManager`, `AgencyTechnicalManager`, `AgencyAccountManager` (agency); `TenantOwner`, `TenantUser`, `ReadOnly` (tenant). docs/PERMISSIONS.md lists what each may do.",
    ActorKind: "Who made a change: an API `key`, a `user`, the `master` key or the `system` (a job).",
    AgentStatus,
    BillingInterval: "How often a subscription bills: `monthly` or `yearly`.",
    BillingMode,
    BlockedService: "A service a block can refuse: `calls` (starting calls), `agents` (creating agents and switching one on), `sip` (creating and changing SIP trunks and phone numbers), `recordings` (reading, playing and storing recordings) or `analytics` (the tenant's analytics).",
    CallStatus,
    Channel,
    Direction,
    DomainStatus: "Where a custom domain stands: `pending_verification` until its CNAME points at the target, then `active` (verified).",
    EffectiveStatus: "A tenant's status: `active`, `blocked` (active, with some services blocked: see `block`), `inactive` (deactivated) or `deleted` (soft-deleted, restorable until `purgeAfter`).",
    KeyScope,
    KeyEnvironment: "Where a key is used: `live` (secrets `tnt_live_…`) or `test`, a sandbox (`tnt_test_…`).",
    LimitSource,
    MemberStatus: "A membership's state: `invited` (not accepted yet), `active` or `disabled`.",
    RecordingFormat,
    SubscriptionStatus: "A subscription's state: `active`, `trialing`, `past_due` or `canceled` (a canceled one no longer sets the billing period).",
    TenantSort,
    TenantStatus,
    TenantType,
    TransferDirection,
    VerificationMethod: "How a custom domain is verified: only `cname`.",
    TransferState: "A transfer's state: `pending` (waiting for the target), `accepted`, `rejected`, `cancelled` (by the source) or `expired` (unanswered for seven days).",
}

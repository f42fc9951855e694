//! Use cases: what tenantry does, whatever wire dialect asked for it.
//!
//! Each use case is a function that takes the [`Context`], the caller (or an [`Authorized`]
//! object that proves the caller may act on it), checked input, and returns domain values or
//! an [`Error`]. Dialects parse, call one use case and render; they hold no rule of their own.
//!
//! [`Authorized`]: crate::domain::policy::Authorized

use std::sync::Arc;

use crate::blobs::BlobStore;
use crate::domain::access::Caller;
use crate::domain::ids::PathKey;
use crate::domain::metering::{Counter, MAX_COUNTER};
use crate::domain::policy::{self, Refusal, Target};
use crate::domain::tenant::BlockedService;
use crate::domain::validation::FieldError;
use crate::secrets::{Keyring, LiveKeyring};
use crate::store::{Db, StoreError};

pub mod agencies;
pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod archive;
pub mod audit;
pub mod blobs;
pub mod branding;
pub mod calls;
pub mod custom_domains;
pub mod deliveries;
pub mod email;
pub mod letters;
pub mod lifecycle;
pub mod plans;
pub mod rate_limits;
pub mod resources;
pub mod retention;
pub mod secrets;
pub mod sessions;
pub mod subscriptions;
pub mod tenants;
pub mod transfers;
pub mod usage;
pub mod users;
pub mod webhooks;

/// What every use case can reach.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    /// How long an admitted call holds its slot without a heartbeat.
    pub call_lease: chrono::Duration,
    /// How long a deleted tenant can be restored before it is purged.
    pub deletion_grace: chrono::Duration,
    /// The keys that seal secrets at rest.
    pub keyring: Arc<LiveKeyring>,
    /// Where files and recordings keep their bytes.
    pub blobs: BlobStore,
    /// Who mail is from and where its links point.
    pub email: Arc<email::EmailSettings>,
    /// Wakes this process's mail worker; see [`Context::mail_sent_soon`].
    pub mail_waiting: Arc<tokio::sync::Notify>,
    /// How agencies' custom domains are verified.
    pub domains: Arc<custom_domains::DomainSettings>,
}

/// The default grace period of a deleted tenant, in days.
pub const DEFAULT_DELETION_GRACE_DAYS: i64 = 30;

/// The default lease of an admitted call.
pub const DEFAULT_CALL_LEASE_SECONDS: i64 = 120;

impl Context {
    /// The keys to seal with now: the key file's, if it changed since it was read.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.keyring.current()
    }
}

/// A limit that refused a request, in its wire name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRefusal {
    /// Stable code, e.g. `concurrency_limit_exceeded`.
    pub code: &'static str,
    /// The limit key's wire name, e.g. `maxConcurrentCalls`.
    pub limit: &'static str,
    pub limit_value: i64,
    pub current: i64,
}

/// Why a use case did not do what was asked, in terms every dialect can render.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such object, or one the caller may not see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An object in reach lacks the part asked for (a tenant without a subscription): a 404
    /// with a code of its own.
    #[error("{detail}")]
    Absent {
        code: &'static str,
        detail: &'static str,
    },
    /// The caller may see the object but not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The caller may not set this field to this value.
    #[error("{field}: {detail}")]
    ForbiddenField {
        field: &'static str,
        detail: &'static str,
    },
    /// The caller's key lacks the scope this needs (403).
    #[error("this key lacks the scope {}", .0.name())]
    MissingScope(policy::ApiScope),
    /// The tenant is not active.
    #[error("the tenant is not active")]
    TenantInactive,
    /// The tenant's block refuses this service (403).
    #[error("the tenant's {} service is blocked", .0.name())]
    ServiceBlocked(BlockedService),
    /// The credentials are wrong, or a second factor is missing (401).
    #[error("{detail}")]
    Unauthenticated {
        code: &'static str,
        detail: &'static str,
    },
    /// A link that worked once works no more (410).
    #[error("{detail}")]
    Gone {
        code: &'static str,
        detail: &'static str,
    },
    /// Too many failed logins for this address or from this client (429).
    #[error("too many failed logins; try again in {retry_after} seconds")]
    LoginLocked { retry_after: u64 },
    /// Fields failed validation.
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// A unique value is taken, or the state forbids the change.
    #[error("{detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        field: Option<&'static str>,
    },
    /// The object changed since the version the caller named.
    #[error("the object changed since the version in If-Match")]
    Stale,
    /// The write would take one of the tenant's usage counters past its ceiling; nothing
    /// was recorded. `field` names the input that adds to that counter, where one does.
    #[error(
        "this would take the tenant's {} past its ceiling of {MAX_COUNTER}; nothing was recorded",
        .counter.describe()
    )]
    CounterOverflow {
        counter: Counter,
        field: Option<&'static str>,
    },
    /// A usage limit refuses the request (429).
    #[error("{} reached", .0.limit)]
    LimitExceeded(LimitRefusal),
    /// A resource quota (such as `maxAgents`) is used up (403).
    #[error("{} reached", .0.limit)]
    QuotaReached(LimitRefusal),
    /// Our fault; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// One bad field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }])
    }

    /// Refused by the policy: hidden objects are not found, denied actions forbidden.
    pub fn refused(what: &'static str) -> impl Fn(Refusal) -> Error {
        move |refusal| match refusal {
            Refusal::Hidden => Error::NotFound(what),
            Refusal::Denied(action) => Error::Forbidden(forbidden_detail(action)),
            Refusal::MissingScope(scope) => Error::MissingScope(scope),
        }
    }
}

/// What a 403 says for an action the caller's role lacks.
fn forbidden_detail(action: policy::Action) -> &'static str {
    use policy::Action;
    match action {
        Action::CreateTenant => "this key cannot create tenants",
        Action::ChangeCommercialTerms => "tenant keys may not change the plan, limits or billing",
        Action::ManageSubscription => {
            "only the tenant's agency or the platform may change its subscription"
        }
        Action::RelaxCompliance => {
            "only the agency or the platform may switch a compliance setting off"
        }
        Action::MintPlatformKey => "only a platform key may mint platform keys",
        Action::MintAgencyKey => "only a platform key may mint agency keys",
        Action::MintTenantKey => "tenant keys may not mint keys",
        Action::ReadAgencyAnalytics => "agency analytics need an agency key",
        Action::ManageAgencyBranding => {
            "only the agency's managers or the platform change its white-label settings"
        }
        _ => "this role may not do this; docs/PERMISSIONS.md lists what each role may do",
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Error::NotFound("object"),
            StoreError::Stale => Error::Stale,
            StoreError::Conflict(conflict) => Error::Conflict {
                code: conflict.code(),
                detail: conflict.detail().to_owned(),
                field: conflict.field(),
            },
            StoreError::CounterOverflow(counter) => Error::CounterOverflow {
                counter,
                field: None,
            },
            StoreError::InUse { subject, field, by } => resources::in_use(subject, field, &by),
            other => Error::Internal(other.into()),
        }
    }
}

impl From<Vec<FieldError>> for Error {
    fn from(errors: Vec<FieldError>) -> Self {
        Error::Invalid(errors)
    }
}

/// Maps a store failure, naming `what` when the row does not exist (or is not the caller's).
pub fn not_found(what: &'static str) -> impl Fn(StoreError) -> Error {
    move |error| match error {
        StoreError::NotFound => Error::NotFound(what),
        other => other.into(),
    }
}

/// An object a request's path names, loaded within the caller's reach, with the owner the
/// policy judges it by. The path extractor of every dialect loads objects through this.
pub trait Lookup: Sized + Send + 'static {
    /// What a missing or hidden one is called in a 404.
    const NAME: &'static str;
    type Id: PathKey;

    /// The object, or `None` when it does not exist or the caller's scope hides it.
    fn lookup(
        ctx: &Context,
        caller: &Caller,
        id: Self::Id,
    ) -> impl std::future::Future<Output = Result<Option<Self>>> + Send;

    /// Who owns it, for the policy's reach.
    fn target(&self) -> Target;
}

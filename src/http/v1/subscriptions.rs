//! `/api/v1/tenants/{tenantId}/subscription`: a tenant's subscription, set whole by `PUT`; and
//! `/api/v1/billing/subscription`: a tenant key's own, in Voisnap's shape.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::ids::{SubscriptionId, TenantId};
use crate::domain::limits::LimitKey;
use crate::domain::policy::act;
use crate::domain::rate_limit::RatePolicy;
use crate::domain::subscription::{
    BillingInterval, Features, Subscription, SubscriptionFields, SubscriptionStatus,
};
use crate::domain::tenant::{usd_from_cents, Tenant};
use crate::domain::time::BoundedTime;
use crate::domain::validation::Violations;
use crate::domain::values::PlanCode;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{created, with_etag, IfMatch, Json};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::subscriptions;
use crate::service::tenants::TenantRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_subscription, put_subscription))
        .routes(routes!(billing_subscription))
}

/// A tenant's subscription, as v1 shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Subscription)]
pub struct SubscriptionBody {
    pub id: SubscriptionId,
    pub tenant_id: TenantId,
    /// The plan's code; always the tenant's plan.
    pub plan_code: String,
    pub status: SubscriptionStatus,
    pub billing_interval: BillingInterval,
    /// While the subscription is not canceled, `[currentPeriodStart, currentPeriodEnd)` is
    /// the tenant's billing period (docs/BILLING.md).
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub external_billing_id: Option<String>,
    pub cancel_at_period_end: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Subscription> for SubscriptionBody {
    fn from(subscription: Subscription) -> Self {
        SubscriptionBody {
            id: subscription.id,
            tenant_id: subscription.tenant_id,
            plan_code: subscription.plan_code.into_string(),
            status: subscription.status,
            billing_interval: subscription.billing_interval,
            current_period_start: subscription.current_period_start,
            current_period_end: subscription.current_period_end,
            external_billing_id: subscription.external_billing_id,
            cancel_at_period_end: subscription.cancel_at_period_end,
            created_at: subscription.created_at,
            updated_at: subscription.updated_at,
        }
    }
}

/// A whole subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PutSubscriptionRequest {
    /// A plan of the catalog; the tenant moves to it.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,99}$")]
    pub plan_code: String,
    pub status: SubscriptionStatus,
    /// Default `monthly`.
    #[serde(default)]
    pub billing_interval: Option<BillingInterval>,
    pub current_period_start: BoundedTime,
    /// After `currentPeriodStart`.
    pub current_period_end: BoundedTime,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub external_billing_id: Option<String>,
    /// Default `false`.
    #[serde(default)]
    pub cancel_at_period_end: Option<bool>,
}

impl PutSubscriptionRequest {
    fn into_fields(self) -> ApiResult<SubscriptionFields> {
        let mut violations = Violations::default();
        let code = violations.parsed("planCode", PlanCode::parse(&self.plan_code));
        Ok(violations.finish(|| SubscriptionFields {
            plan_code: code.unwrap_or_else(PlanCode::free),
            status: self.status,
            billing_interval: self.billing_interval.unwrap_or_default(),
            current_period_start: self.current_period_start.get(),
            current_period_end: self.current_period_end.get(),
            external_billing_id: self.external_billing_id,
            cancel_at_period_end: self.cancel_at_period_end.unwrap_or(false),
        })?)
    }
}

/// Get a tenant's subscription (404 `subscription_not_found` when it has none).
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/subscription", tag = "billing",
    params(("tenantId" = TenantId, Path)),
    responses((status = 200, body = SubscriptionBody, headers(("ETag" = String))),
        (status = 404, body = Problem, description = "`subscription_not_found`, or no such tenant")))]
async fn get_subscription(
    InPath(tenant): InPath<Tenant, act::ReadSubscription>,
) -> ApiResult<Response> {
    let subscription = subscriptions::get(tenant)?;
    Ok(with_etag(
        subscription.updated_at,
        SubscriptionBody::from(subscription),
    ))
}

/// Create or replace a tenant's subscription, and move the tenant to its plan.
///
/// The plan's entitlements are the tenant's limits at once (its own overrides still win), and
/// while the subscription is not canceled its current period is the tenant's billing period:
/// usage counts and monthly limits reset when it starts. 201 when the tenant had none, 200
/// otherwise. `If-Match` names the version replaced.
#[utoipa::path(put, path = "/api/v1/tenants/{tenantId}/subscription", tag = "billing",
    params(("tenantId" = TenantId, Path),
        ("If-Match" = Option<String>, Header,
            description = "The ETag last read; a stale one, or one when there is none, is refused with 412")),
    request_body = PutSubscriptionRequest,
    responses((status = 200, body = SubscriptionBody, headers(("ETag" = String))),
        (status = 201, body = SubscriptionBody, headers(("ETag" = String))),
        (status = 403, body = Problem),
        (status = 412, body = Problem, description = "`If-Match` names another version")))]
async fn put_subscription(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ManageSubscription>,
    IfMatch(expected): IfMatch,
    Json(request): Json<PutSubscriptionRequest>,
) -> ApiResult<Response> {
    let fields = request.into_fields()?;
    let (subscription, new) = subscriptions::put(&state.ctx, tenant, expected, fields).await?;
    let version = subscription.updated_at;
    let body = SubscriptionBody::from(subscription);
    Ok(if new {
        created(version, body)
    } else {
        with_etag(version, body)
    })
}

/// Voisnap's rate limits of a subscription; `null` is unlimited.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BillingRateLimits)]
pub struct RateLimitsBody {
    /// The `api-standard` budget per minute.
    pub api_requests_per_minute: Option<i64>,
    /// The `data-plane` budget per minute (call admission, heartbeats, ends, usage).
    pub voice_hub_connections_per_minute: Option<i64>,
    pub max_concurrent_calls: Option<i64>,
}

/// Voisnap's features of a subscription, derived from the tenant (docs/BILLING.md).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BillingFeatures)]
pub struct FeaturesBody {
    pub white_label: bool,
    pub agency_mode: bool,
    pub hipaa_compliance: bool,
    pub sso_saml: bool,
    pub dedicated_support: bool,
}

impl From<Features> for FeaturesBody {
    fn from(features: Features) -> Self {
        FeaturesBody {
            white_label: features.white_label,
            agency_mode: features.agency_mode,
            hipaa_compliance: features.hipaa_compliance,
            sso_saml: features.sso_saml,
            dedicated_support: features.dedicated_support,
        }
    }
}

/// A tenant's subscription in Voisnap's shape.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BillingSubscription)]
pub struct BillingSubscriptionBody {
    pub id: SubscriptionId,
    /// The plan's code.
    pub plan: String,
    pub status: SubscriptionStatus,
    pub billing_interval: BillingInterval,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    /// `currentPeriodEnd`, or `null` when the subscription ends then (canceled, or
    /// `cancelAtPeriodEnd`).
    pub next_billing_date: Option<DateTime<Utc>>,
    /// Always `USD`.
    pub currency: &'static str,
    /// The plan's price per period, in US dollars.
    pub base_amount_usd: f64,
    /// The plan's `monthlyCallLimit`; `null` when it sets none.
    pub included_conversations: Option<i64>,
    pub rate_limits: RateLimitsBody,
    pub features: FeaturesBody,
    pub cancel_at_period_end: bool,
    pub created_at: DateTime<Utc>,
}

/// Get the caller's own subscription, in Voisnap's shape (tenant keys only).
///
/// Other keys get a 403: they read `/api/v1/tenants/{tenantId}/subscription`.
#[utoipa::path(get, path = "/api/v1/billing/subscription", tag = "billing",
    responses((status = 200, body = BillingSubscriptionBody),
        (status = 403, body = Problem, description = "Not a tenant key"),
        (status = 404, body = Problem, description = "`subscription_not_found`")))]
async fn billing_subscription(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<BillingSubscriptionBody>> {
    let (subscription, tenant) = subscriptions::own(&state.ctx, &caller).await?;
    // A rate budget the tenant's plan and overrides leave unset is the server's default,
    // unless this server limits no rates at all.
    let budget = |policy: RatePolicy| {
        let limits = state.rate_limits.as_ref()?;
        let set = tenant.effective_limits.get(LimitKey::Rate(policy));
        Some(set.unwrap_or_else(|| limits.default_limit(policy)))
    };
    let plan = &tenant.plan_details.fields;
    Ok(Json(BillingSubscriptionBody {
        id: subscription.id,
        plan: subscription.plan_code.to_string(),
        status: subscription.status,
        billing_interval: subscription.billing_interval,
        current_period_start: subscription.current_period_start,
        current_period_end: subscription.current_period_end,
        next_billing_date: subscription.next_billing_date(),
        currency: "USD",
        base_amount_usd: usd_from_cents(plan.amount_cents),
        included_conversations: plan.entitlements.get(LimitKey::MonthlyCallLimit),
        rate_limits: RateLimitsBody {
            api_requests_per_minute: budget(RatePolicy::ApiStandard),
            voice_hub_connections_per_minute: budget(RatePolicy::DataPlane),
            max_concurrent_calls: tenant.effective_limits.get(LimitKey::MaxConcurrentCalls),
        },
        features: Features::of(&tenant).into(),
        cancel_at_period_end: subscription.cancel_at_period_end,
        created_at: subscription.created_at,
    }))
}

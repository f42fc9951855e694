//! Rate limits on the wire. Every answer of an API route carries its policy's
//! `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix seconds) and `-Policy`; a request over
//! its budget is a 429 `rate_limit_exceeded` problem with `Retry-After`.
//!
//! Two layers decide. [`limit_requests`] wraps every API route: it classes the route
//! ([`routes`]) and decides at once what is limited per client address (sign-in, public
//! routes). Per-key routes are decided by [`limit_caller`], which runs after authentication
//! and knows the caller. A request that no layer decided was answered before its caller was
//! known (a 401); it counts against its client address under the route's policy, and once that
//! budget is spent it is answered 429, so guessing keys is limited too.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;
use crate::domain::access::{Caller, Principal};
use crate::domain::rate_limit::{Decision, Keyed, RateDefaults, RatePolicy};
use crate::limiter::{BucketKey, Limiter, Subject};
use crate::service::rate_limits::Budgets;

pub mod routes;

pub const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
pub const POLICY: HeaderName = HeaderName::from_static("x-ratelimit-policy");

/// The prefix of every bucket's key in Redis, unless told otherwise.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "tenantry:rate";

/// How a server limits request rates.
#[derive(Debug, Clone, Default)]
pub struct RateLimitConfig {
    /// Each policy's budget where no plan or tenant sets one.
    pub defaults: RateDefaults,
    /// Share buckets with other replicas through this Redis.
    pub redis_url: Option<String>,
    /// Where the buckets live in Redis; servers with the same prefix share them.
    pub redis_key_prefix: String,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
}

impl RateLimitConfig {
    /// With `policy`'s default budget set to `limit`.
    pub fn with_default(mut self, policy: RatePolicy, limit: i64) -> Self {
        self.defaults = self.defaults.with(policy, limit);
        self
    }
}

/// The limiter, the budgets and who the client is.
pub struct RateLimits {
    limiter: Limiter,
    budgets: Budgets,
    trusted_proxies: Vec<IpAddr>,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> anyhow::Result<RateLimits> {
        let limiter = match &config.redis_url {
            Some(url) => Limiter::shared(url, &config.redis_key_prefix)?,
            None => Limiter::in_memory(),
        };
        Ok(RateLimits {
            limiter,
            budgets: Budgets::new(config.defaults),
            trusted_proxies: config.trusted_proxies.clone(),
        })
    }

    /// The budget of `policy` where no plan or tenant sets one.
    pub fn default_limit(&self, policy: RatePolicy) -> i64 {
        self.budgets.default_of(policy).limit
    }

    /// The client's address: the peer's, or, from a trusted proxy, the nearest address in
    /// `X-Forwarded-For` that no trusted proxy added.
    fn client_address(&self, request: &Request) -> IpAddr {
        let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
            return Ipv4Addr::UNSPECIFIED.into();
        };
        let peer = peer.ip();
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|address| address.trim().parse().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|address| !self.trusted_proxies.contains(address))
            .unwrap_or(peer)
    }

    async fn decide_for_address(&self, policy: RatePolicy, address: IpAddr) -> Decision {
        let key = BucketKey {
            policy,
            subject: Subject::Address(address),
        };
        self.limiter
            .decide(key, self.budgets.default_of(policy))
            .await
    }
}

/// The policy of a per-key route, for [`limit_caller`].
#[derive(Debug, Clone, Copy)]
struct PerKey(RatePolicy);

/// Middleware around every API route: classes it, decides what is limited per client address,
/// and counts what was answered before a caller was known.
pub async fn limit_requests(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(limits) = state.rate_limits.clone() else {
        return next.run(request).await;
    };
    let Some(template) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    let class = routes::classify(request.method().as_str(), template.as_str());
    let address = limits.client_address(&request);
    if class.keyed == Keyed::ClientAddress {
        let decision = limits.decide_for_address(class.policy, address).await;
        return answer(class.policy, decision, request, next).await;
    }
    request.extensions_mut().insert(PerKey(class.policy));
    let mut response = next.run(request).await;
    if response.headers().contains_key(POLICY) {
        return response;
    }
    let decision = limits.decide_for_address(class.policy, address).await;
    if !decision.allowed && response.status() == StatusCode::UNAUTHORIZED {
        return refusal(class.policy, decision);
    }
    stamp(response.headers_mut(), class.policy, &decision);
    response
}

/// Route middleware after authentication: spends the caller's budget of the route's policy.
pub async fn limit_caller(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (Some(limits), Some(PerKey(policy)), Some(caller)) = (
        state.rate_limits.as_deref(),
        request.extensions().get::<PerKey>().copied(),
        request.extensions().get::<Caller>().copied(),
    ) else {
        return next.run(request).await;
    };
    let budget = limits.budgets.of(&state.ctx, &caller, policy).await;
    let key = BucketKey {
        policy,
        subject: subject_of(&caller),
    };
    let decision = limits.limiter.decide(key, budget).await;
    answer(policy, decision, request, next).await
}

fn subject_of(caller: &Caller) -> Subject {
    match caller.principal {
        Principal::MasterKey => Subject::MasterKey,
        Principal::ApiKey(id) => Subject::ApiKey(id),
        Principal::User(id) => Subject::User(id),
    }
}

/// Runs the request if `decision` admits it; either way, the answer carries the headers.
async fn answer(policy: RatePolicy, decision: Decision, request: Request, next: Next) -> Response {
    if !decision.allowed {
        return refusal(policy, decision);
    }
    let mut response = next.run(request).await;
    stamp(response.headers_mut(), policy, &decision);
    response
}

fn refusal(policy: RatePolicy, decision: Decision) -> Response {
    metrics::counter!("rate_limit_refusals_total", "policy" => policy.name()).increment(1);
    let mut response = ApiError::RateLimited {
        policy,
        limit: decision.limit,
        retry_after: decision.retry_after,
    }
    .into_response();
    stamp(response.headers_mut(), policy, &decision);
    response
}

fn stamp(headers: &mut HeaderMap, policy: RatePolicy, decision: &Decision) {
    headers.insert(LIMIT, HeaderValue::from(decision.limit));
    headers.insert(REMAINING, HeaderValue::from(decision.remaining));
    headers.insert(RESET, HeaderValue::from(decision.reset));
    headers.insert(POLICY, HeaderValue::from_static(policy.name()));
}

//! Authentication: the bearer key becomes a [`Caller`] in the request's extensions before any
//! handler runs, and handlers take it as an extractor.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::observability::REQUEST_ID;
use super::AppState;
use crate::domain::access::Caller;
use crate::domain::api_key::hash_secret;
use crate::domain::audit::Actor;
use crate::domain::user::SESSION_MARK;
use crate::service::{api_keys, audit, sessions};

/// Trieve's second key header, `X-API-KEY: [Bearer ]<key>`.
const X_API_KEY: &str = "x-api-key";

/// The key in `Authorization: Bearer <key>`; `bare` also takes `Authorization: <key>` and
/// `X-API-KEY: [Bearer ]<key>` (Trieve's clients), `Authorization` first.
pub fn presented_key(headers: &HeaderMap, bare: bool) -> Option<&str> {
    // Like Trieve, an `Authorization` header is the one read when there is one.
    let (value, bare) = match headers.get(header::AUTHORIZATION) {
        Some(value) => (value, bare),
        None if bare => (headers.get(X_API_KEY)?, true),
        None => return None,
    };
    key_in(value.to_str().ok()?, bare)
}

/// The key in one header's value: after `Bearer `, or the whole value when `bare`.
fn key_in(value: &str, bare: bool) -> Option<&str> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or(("", value));
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.trim()).filter(|key| !key.is_empty())
    } else if bare && !value.is_empty() && !value.contains(' ') {
        Some(value)
    } else {
        None
    }
}

/// Resolves a presented key against the master key, the stored keys and people's sessions.
pub async fn resolve(state: &AppState, key: &str) -> Result<Caller, ApiError> {
    if state
        .master_key_hash
        .as_deref()
        .is_some_and(|hash| hash == hash_secret(key))
    {
        return Ok(Caller::master());
    }
    let caller = if key.starts_with(SESSION_MARK) {
        sessions::authenticate(&state.ctx, key).await?
    } else {
        api_keys::authenticate(&state.ctx, key).await?
    };
    caller.ok_or(ApiError::Unauthorized)
}

/// The state of [`require_key`]: the application's, and whether a bare key counts (see
/// [`presented_key`]).
#[derive(Clone)]
pub struct KeyRequired {
    pub state: AppState,
    pub bare: bool,
}

/// Middleware: refuse the request with 401 unless it carries a valid key.
pub async fn require_key(
    State(required): State<KeyRequired>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    authenticate(&required.state, request, next, required.bare).await
}

async fn authenticate(
    state: &AppState,
    mut request: Request,
    next: Next,
    bare: bool,
) -> Result<Response, ApiError> {
    let key = presented_key(request.headers(), bare).ok_or(ApiError::Unauthorized)?;
    let caller = resolve(state, key).await?;
    request.extensions_mut().insert(caller);
    let request_id = request_id(&request);
    let actor = Actor::of(caller.principal);
    Ok(audit::acting(actor, request_id, next.run(request)).await)
}

fn request_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID)?.to_str().ok()?;
    Some(value.to_owned())
}

/// Middleware: changes made by requests without a key (invitation links, password resets)
/// are recorded with their request, as the system's until a use case names the person.
pub async fn scope_anonymous(request: Request, next: Next) -> Response {
    let request_id = request_id(&request);
    audit::acting(Actor::SYSTEM, request_id, next.run(request)).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .copied()
            .ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                let name = header::HeaderName::from_static(name);
                (name, HeaderValue::from_static(value))
            })
            .collect()
    }

    #[test]
    fn bearer_everywhere_bare_and_x_api_key_only_for_trieve() {
        let bearer = headers(&[("authorization", "Bearer k1")]);
        assert_eq!(presented_key(&bearer, false), Some("k1"));
        assert_eq!(presented_key(&bearer, true), Some("k1"));
        let bare = headers(&[("authorization", "k1")]);
        assert_eq!(presented_key(&bare, false), None);
        assert_eq!(presented_key(&bare, true), Some("k1"));
        for value in ["k2", "Bearer k2"] {
            let x_api_key = headers(&[("x-api-key", value)]);
            assert_eq!(presented_key(&x_api_key, false), None);
            assert_eq!(presented_key(&x_api_key, true), Some("k2"));
        }
        // `Authorization` is the one read when there is one.
        let both = headers(&[("authorization", "Basic abc"), ("x-api-key", "k2")]);
        assert_eq!(presented_key(&both, true), None);
    }
}

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

/// The key in `Authorization: Bearer <key>`; `bare` also takes `Authorization: <key>`.
pub fn presented_key(headers: &HeaderMap, bare: bool) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
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

/// Middleware: refuse the request with 401 unless it carries a valid key.
pub async fn require_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    authenticate(&state, request, next, false).await
}

/// Like [`require_key`], also taking the bare key in `Authorization` (Trieve's clients).
pub async fn require_key_or_bare(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    authenticate(&state, request, next, true).await
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

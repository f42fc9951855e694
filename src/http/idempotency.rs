//! `Idempotency-Key` on POST: the first answer is stored and replayed for the same key and
//! body; the same key with another body is a 422, and a duplicate still running is a 409.
//! Answers of 5xx are not kept, so a retry after our failure runs again.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::extract::BODY_LIMIT;
use super::AppState;
use crate::domain::access::Caller;
use crate::store::idempotency::Claim;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;
/// Answers larger than this are not kept (lists are GETs; creates answer one object).
const MAX_STORED_BODY: usize = 4 * BODY_LIMIT;

pub async fn idempotent_post(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let Some(key) = request.headers().get(HEADER) else {
        return Ok(next.run(request).await);
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| (1..=MAX_KEY_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "invalid_header",
                format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )
        })?
        .to_owned();
    let owner = request
        .extensions()
        .get::<Caller>()
        .ok_or(ApiError::Unauthorized)?
        .principal();

    let (parts, body) = request.into_parts();
    let body = to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(BODY_LIMIT))?;
    let mut hasher = Sha256::new();
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(parts.uri.query().unwrap_or("").as_bytes());
    hasher.update([0]);
    hasher.update(&body);
    let fingerprint = hex::encode(hasher.finalize());

    match state
        .db
        .claim_idempotency_key(&owner, &key, &fingerprint)
        .await?
    {
        Claim::Mismatch => Err(ApiError::IdempotencyMismatch),
        Claim::InFlight => Err(ApiError::IdempotencyInFlight),
        Claim::Replay {
            status,
            content_type,
            body,
        } => Ok(replay(status, content_type, body)),
        Claim::Started => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            remember(&state, &owner, &key, response).await
        }
    }
}

/// Stores the answer (or forgets the key after a 5xx) and passes the answer on.
async fn remember(
    state: &AppState,
    owner: &str,
    key: &str,
    response: Response,
) -> Result<Response, ApiError> {
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_STORED_BODY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            state.db.release_idempotency_key(owner, key).await?;
            return Err(ApiError::Internal(anyhow::anyhow!(
                "answer too large to keep: {error}"
            )));
        }
    };
    if parts.status.is_server_error() {
        state.db.release_idempotency_key(owner, key).await?;
    } else {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        state
            .db
            .finish_idempotent(owner, key, parts.status.as_u16(), content_type, &bytes)
            .await?;
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn replay(status: u16, content_type: Option<String>, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Some(value) = content_type.and_then(|ct| HeaderValue::from_str(&ct).ok()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

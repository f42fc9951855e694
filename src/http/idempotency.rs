//! `Idempotency-Key` on POST: the first answer is stored and replayed for the same key and
//! body; the same key with another body is a 422, and a duplicate still running is a 409.
//! Answers of 5xx are not kept, so a retry after our failure runs again.

use crate::service::Error;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::extract::{read_body, BODY_LIMIT};
use super::AppState;
use crate::domain::access::Caller;
use crate::store::idempotency::{self as records, Claim};

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
    // Uploads stream their bytes and are never buffered, so they cannot be fingerprinted;
    // a retried upload makes a second file, which the client may delete.
    if !super::extract::is_json(request.headers()) {
        return Ok(next.run(request).await);
    }
    let key = checked_key(key)?;
    let owner = request
        .extensions()
        .get::<Caller>()
        .ok_or(ApiError::Unauthorized)?
        .principal_name();

    let (parts, body) = request.into_parts();
    let body = read_body(body).await?;
    let fingerprint = fingerprint(&parts.uri, &body);

    match records::claim(&state.ctx.db, &owner, &key, &fingerprint).await? {
        Claim::Mismatch => Err(ApiError::IdempotencyMismatch),
        Claim::InFlight => Err(ApiError::IdempotencyInFlight),
        Claim::Replay {
            status,
            headers,
            body,
        } => Ok(replay(status, &headers, body)),
        Claim::Started => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            remember(&state, &owner, &key, response).await
        }
    }
}

/// The key as sent, if it is 1 to 255 visible ASCII characters.
fn checked_key(key: &HeaderValue) -> Result<String, ApiError> {
    key.to_str()
        .ok()
        .filter(|k| (1..=MAX_KEY_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "invalid_header",
                format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )
        })
}

/// What makes two requests with one key the same request: path, query and body.
fn fingerprint(uri: &Uri, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(uri.query().unwrap_or("").as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Fields of an answer that must never be stored, such as a newly minted secret: a handler
/// adds this to its response, and the stored copy (and so any replay) has them as `null`.
#[derive(Debug, Clone, Copy)]
pub struct SecretFields(pub &'static [&'static str]);

/// Headers a replay repeats.
const KEPT_HEADERS: [header::HeaderName; 3] =
    [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

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
            records::release(&state.ctx.db, owner, key).await?;
            return Err(
                Error::Internal(anyhow::anyhow!("answer too large to keep: {error}")).into(),
            );
        }
    };
    if parts.status.is_server_error() {
        records::release(&state.ctx.db, owner, key).await?;
    } else {
        let headers: Vec<(String, String)> = KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let stored = match parts.extensions.get::<SecretFields>() {
            Some(SecretFields(fields)) => redact(&bytes, fields),
            None => bytes.to_vec(),
        };
        let status = parts.status.as_u16();
        records::finish(&state.ctx.db, owner, key, status, &headers, &stored).await?;
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// The JSON object `body` with `fields` set to `null`.
fn redact(body: &[u8], fields: &[&str]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut object)) => {
            for field in fields {
                if let Some(value) = object.get_mut(*field) {
                    *value = serde_json::Value::Null;
                }
            }
            serde_json::to_vec(&object).unwrap_or_default()
        }
        // Not an object: keep nothing rather than risk keeping a secret.
        _ => Vec::new(),
    }
}

fn replay(status: u16, headers: &[(String, String)], body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let kept = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            kept.insert(name, value);
        }
    }
    kept.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

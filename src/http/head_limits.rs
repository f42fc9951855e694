//! Limits on the request head: the request target and the headers. They sit below hyper's own
//! parser limits, so an oversized head almost always gets a problem+json answer here rather
//! than hyper's empty one (see `docs/SECURITY.md` for what hyper still answers itself).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;

/// The longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes accepted, counted as on the wire: `name: value` and its line end.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Answers 414 or 431 before routing-dependent work (auth, handlers) sees the request.
pub async fn limit_head(request: Request, next: Next) -> Result<Response, ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if target > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong(MAX_URI_BYTES));
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge(MAX_HEADER_BYTES));
    }
    Ok(next.run(request).await)
}

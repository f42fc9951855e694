//! The Trieve dialect: Trieve's documented organization endpoints, with its
//! `{"message": …}` errors, bare-key auth and `TR-Organization` header. Its routes map shapes
//! onto the same use cases as v1. docs/TRIEVE.md tells how.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use super::error::{ErrorRenderer, Problem};
use super::{AppState, Dialect};

mod openapi;
mod organizations;
pub mod request;
pub mod shapes;

pub struct Trieve;

/// Trieve's error body, for every status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponseBody {
    pub message: String,
}

/// Trieve's `ErrorResponseBody`: `{"message": …}`, with `Not Found: …` for 404s. Trieve
/// answers every mistake in a request with a 400, so tenantry's 409, 415 and 422 become one.
pub struct MessageErrors;

impl ErrorRenderer for MessageErrors {
    fn render(problem: &Problem) -> Response {
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (status, message) = match status {
            StatusCode::UNAUTHORIZED => (status, "Unauthorized".to_owned()),
            StatusCode::FORBIDDEN => (status, "Forbidden".to_owned()),
            StatusCode::NOT_FOUND => (
                status,
                format!("Not Found: {}", in_trieve_words(&problem.detail)),
            ),
            StatusCode::CONFLICT
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY => (StatusCode::BAD_REQUEST, bad_request(problem)),
            _ => (status, in_trieve_words(&problem.detail)),
        };
        (status, axum::Json(ErrorResponseBody { message })).into_response()
    }
}

/// A refused request's message: each bad field with what is wrong with it.
fn bad_request(problem: &Problem) -> String {
    if problem.errors.is_empty() {
        return in_trieve_words(&problem.detail);
    }
    problem
        .errors
        .iter()
        .map(|error| format!("{}: {}", error.field, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A message as Trieve's clients read it: tenants are organizations, and it starts with a
/// capital.
fn in_trieve_words(detail: &str) -> String {
    let worded = detail
        .replace("tenant", "organization")
        .replace("Tenant", "Organization");
    let mut chars = worded.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => worded,
    }
}

impl Dialect for Trieve {
    const NAME: &'static str = "trieve";
    const OPENAPI_PATH: &'static str = "/openapi/trieve.json";
    const BARE_KEY: bool = true;
    const PREFIXES: &'static [&'static str] = &["/api/organization"];
    type Errors = MessageErrors;

    fn routes() -> OpenApiRouter<AppState> {
        organizations::router()
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        let (_, mut document) = OpenApiRouter::<AppState>::with_openapi(openapi::ApiDoc::openapi())
            .merge(Self::routes())
            .split_for_parts();
        // The answers every route shares, once the routes are merged in.
        openapi::add_error_answers(&mut document);
        document
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_speak_of_organizations() {
        assert_eq!(
            in_trieve_words("tenant not found"),
            "Organization not found"
        );
        assert_eq!(
            in_trieve_words("the tenant has calls in progress"),
            "The organization has calls in progress"
        );
        assert_eq!(in_trieve_words(""), "");
    }
}

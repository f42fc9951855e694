//! The Trieve dialect: Trieve's documented organization endpoints, with its
//! `{"message": …}` errors, bare-key auth and `TR-Organization` header. Its routes map shapes
//! onto the same use cases as v1.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::error::{ErrorRenderer, Problem};
use super::{AppState, Dialect};

pub struct Trieve;

#[derive(OpenApi)]
#[openapi(info(
    title = "tenantry: Trieve dialect",
    description = "Trieve's documented organization endpoints, served by tenantry.",
    license(name = "Apache-2.0", identifier = "Apache-2.0"),
))]
struct ApiDoc;

/// Trieve's `ErrorResponseBody`: `{"message": …}`, with `Not Found: …` for 404s.
pub struct MessageErrors;

impl ErrorRenderer for MessageErrors {
    fn render(problem: &Problem) -> Response {
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match status {
            StatusCode::UNAUTHORIZED => "Unauthorized".to_owned(),
            StatusCode::FORBIDDEN => "Forbidden".to_owned(),
            StatusCode::NOT_FOUND => format!("Not Found: {}", problem.detail),
            _ => problem.detail.clone(),
        };
        (
            status,
            axum::Json(serde_json::json!({ "message": message })),
        )
            .into_response()
    }
}

impl Dialect for Trieve {
    const NAME: &'static str = "trieve";
    const OPENAPI_PATH: &'static str = "/openapi/trieve.json";
    const BARE_KEY: bool = true;
    const PREFIXES: &'static [&'static str] = &["/api/organization"];
    type Errors = MessageErrors;

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        let (_, document) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
            .merge(Self::routes())
            .split_for_parts();
        document
    }
}

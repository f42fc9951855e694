//! The MrAssistant dialect: the documented paths and snake_case shapes of MrAssistant's
//! tenant, admin and quota endpoints, with FastAPI-style errors. Its routes map shapes onto
//! the same use cases as v1.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::error::{ErrorRenderer, Problem};
use super::{AppState, Dialect};

pub struct MrAssistant;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tenantry: MrAssistant dialect",
        description = "MrAssistant's documented tenant endpoints, served by tenantry.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ValidationErrorItem)),
    security(("bearer" = [])),
)]
struct ApiDoc;

/// One item of a FastAPI validation error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValidationErrorItem {
    /// Where the bad value is: `["body", "max_agents"]`.
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// FastAPI's shapes: `{"detail": [{loc, msg, type}]}` for a 422, `{"detail": "…"}` otherwise.
pub struct FastApiErrors;

impl ErrorRenderer for FastApiErrors {
    fn render(problem: &Problem) -> Response {
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::UNPROCESSABLE_ENTITY && !problem.errors.is_empty() {
            let detail: Vec<ValidationErrorItem> = problem
                .errors
                .iter()
                .map(|error| ValidationErrorItem {
                    loc: std::iter::once("body".to_owned())
                        .chain(error.field.split('.').map(snake_case))
                        .collect(),
                    msg: error.message.clone(),
                    kind: error.code.clone(),
                })
                .collect();
            return (status, axum::Json(serde_json::json!({ "detail": detail }))).into_response();
        }
        (
            status,
            axum::Json(serde_json::json!({ "detail": problem.detail })),
        )
            .into_response()
    }
}

/// `maxAgents` → `max_agents`, for field names in `loc`.
fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

impl Dialect for MrAssistant {
    const NAME: &'static str = "mrassistant";
    const OPENAPI_PATH: &'static str = "/openapi/mrassistant.json";
    type Errors = FastApiErrors;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_become_snake_case_locations() {
        assert_eq!(snake_case("maxAgents"), "max_agents");
        assert_eq!(snake_case("events[3]"), "events[3]");
    }
}

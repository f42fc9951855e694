//! The MrAssistant dialect: the documented paths and snake_case shapes of MrAssistant's
//! tenant, admin and quota endpoints, with FastAPI-style errors. Its routes map shapes onto
//! the same use cases as v1.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::error::{ApiError, ErrorRenderer, Problem};
use super::extract::Query;
use super::{AppState, Dialect};
use crate::service::Error;

mod admin;
mod requests;
mod shapes;
mod tenants;

pub struct MrAssistant;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tenantry: MrAssistant dialect",
        description = "MrAssistant's documented tenant endpoints, served by tenantry.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ValidationErrorItem, HttpValidationError, HttpError)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

/// Bearer authentication, as MrAssistant documents it.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Query parameters whose errors FastAPI would locate in `query`.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(params)) => Ok(QueryParams(params)),
            Err(ApiError::Service(Error::Invalid(errors))) => Err(Error::Invalid(
                errors
                    .into_iter()
                    .map(|mut error| {
                        error.field = format!("query.{}", error.field);
                        error
                    })
                    .collect(),
            )
            .into()),
            Err(other) => Err(other),
        }
    }
}

/// One item of a FastAPI validation error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValidationErrorItem {
    /// Where the bad value is: `["body", "max_agents"]`, `["query", "limit"]`,
    /// `["path", "tenant_id"]`; list indexes are integers.
    #[schema(value_type = Vec<Object>)]
    pub loc: Vec<serde_json::Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// FastAPI's 422 body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HttpValidationError {
    pub detail: Vec<ValidationErrorItem>,
}

/// FastAPI's body for every other error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HttpError {
    pub detail: String,
}

/// FastAPI's shapes: `{"detail": [{loc, msg, type}]}` for a 422 (and for a body that is not
/// JSON, which FastAPI also answers with 422), `{"detail": "…"}` otherwise.
pub struct FastApiErrors;

impl ErrorRenderer for FastApiErrors {
    fn render(problem: &Problem) -> Response {
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if problem.code == "malformed_json" {
            let item = ValidationErrorItem {
                loc: vec!["body".into(), 0.into()],
                msg: format!("JSON decode error: {}", problem.detail),
                kind: "json_invalid".to_owned(),
            };
            let body = HttpValidationError { detail: vec![item] };
            return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY && !problem.errors.is_empty() {
            let detail = problem
                .errors
                .iter()
                .map(|error| ValidationErrorItem {
                    loc: location(&error.field),
                    msg: error.message.clone(),
                    kind: pydantic_type(&error.code).to_owned(),
                })
                .collect();
            return (status, axum::Json(HttpValidationError { detail })).into_response();
        }
        let detail = problem.detail.clone();
        (status, axum::Json(HttpError { detail })).into_response()
    }
}

/// The path parameters of the dialect's routes.
const PATH_PARAMS: &[&str] = &["tenant_id"];

/// FastAPI's `loc` of a field: where it was sent (`query.` and path parameters are named so;
/// the rest is the body), then its path in MrAssistant's names.
fn location(field: &str) -> Vec<serde_json::Value> {
    let (place, path) = match field.split_once('.') {
        Some(("query", rest)) => ("query", rest.to_owned()),
        _ if PATH_PARAMS.contains(&field) => ("path", field.to_owned()),
        _ => ("body", wire_field(field)),
    };
    let mut loc = vec![serde_json::Value::from(place)];
    for segment in path.split('.').filter(|s| !s.is_empty() && *s != "body") {
        let mut parts = segment.split('[');
        if let Some(name) = parts.next().filter(|name| !name.is_empty()) {
            loc.push(name.into());
        }
        for index in parts {
            let index = index.trim_end_matches(']');
            loc.push(match index.parse::<u64>() {
                Ok(number) => number.into(),
                Err(_) => index.into(),
            });
        }
    }
    loc
}

/// A field as the domain names it (v1's camelCase paths), in MrAssistant's names: settings and
/// limits are top-level fields of its tenant model.
fn wire_field(field: &str) -> String {
    let field = field
        .strip_prefix("settings.")
        .or_else(|| field.strip_prefix("usageLimits."))
        .unwrap_or(field);
    if field == "plan" {
        return "billing_plan".to_owned();
    }
    if let Some(rest) = field.strip_prefix("metadata") {
        return format!("meta_data{rest}");
    }
    snake_case(field)
}

/// pydantic's error type for the codes it has one for.
fn pydantic_type(code: &str) -> &str {
    match code {
        "required" => "missing",
        "unknown_field" => "extra_forbidden",
        other => other,
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
    const PREFIXES: &'static [&'static str] = &["/tenants", "/admin", "/analytics"];
    type Errors = FastApiErrors;

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .merge(tenants::router())
            .merge(admin::router())
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

    #[test]
    fn locations_name_where_and_what_in_mrassistant_terms() {
        let loc = |field: &str| serde_json::to_string(&location(field)).unwrap();
        assert_eq!(
            loc("usageLimits.maxConcurrentCalls"),
            r#"["body","max_concurrent_calls"]"#
        );
        assert_eq!(loc("settings.webhookUrl"), r#"["body","webhook_url"]"#);
        assert_eq!(loc("plan"), r#"["body","billing_plan"]"#);
        assert_eq!(loc("metadata.tags[2]"), r#"["body","meta_data","tags",2]"#);
        assert_eq!(loc("query.limit"), r#"["query","limit"]"#);
        assert_eq!(loc("tenant_id"), r#"["path","tenant_id"]"#);
        assert_eq!(loc("body"), r#"["body"]"#);
    }
}

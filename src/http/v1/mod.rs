//! v1, the canonical API under `/api/v1`: camelCase JSON, problem+json errors, cursor
//! pagination. One module per resource, each with its own `router()`.

use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::{ops, AppState, Dialect};
use crate::http::error::{problem_response, ErrorRenderer, Problem};

pub mod agencies;
pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod calls;
pub mod limits;
pub mod openapi;
pub mod plans;
pub mod resources;
pub mod sessions;
pub mod subscriptions;
pub mod tenants;
pub mod transfers;
pub mod usage;
pub mod users;
pub mod webhooks;
pub mod white_label;

/// The canonical dialect.
pub struct V1;

/// v1 answers errors as problem+json, the canonical shape.
pub struct ProblemJson;

impl ErrorRenderer for ProblemJson {
    fn render(problem: &Problem) -> axum::response::Response {
        problem_response(problem.clone())
    }
}

impl Dialect for V1 {
    const NAME: &'static str = "v1";
    const OPENAPI_PATH: &'static str = "/openapi.json";
    type Errors = ProblemJson;

    fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .merge(tenants::router())
            .merge(agencies::router())
            .merge(plans::router())
            .merge(api_keys::router())
            .merge(agents::router())
            .merge(resources::router())
            .merge(calls::router())
            .merge(usage::router())
            .merge(analytics::router())
            .merge(users::router())
            .merge(sessions::router())
            .merge(audit::router())
            .merge(transfers::router())
            .merge(webhooks::router())
            .merge(white_label::router())
            .merge(subscriptions::router())
    }

    fn public_routes() -> OpenApiRouter<AppState> {
        sessions::public_router().merge(white_label::public_router())
    }

    fn openapi() -> utoipa::openapi::OpenApi {
        let (_, mut document) = OpenApiRouter::<AppState>::with_openapi(openapi::ApiDoc::openapi())
            .merge(Self::routes())
            .split_for_parts();
        // The modifier runs before routes are merged in; run it over the routes once they are.
        openapi::Conventions.modify(&mut document);
        let (_, public) = Self::public_routes().split_for_parts();
        document.merge(openapi::public_conventions(public));
        let (_, operations) = ops::router().split_for_parts();
        document.merge(operations);
        document
    }
}

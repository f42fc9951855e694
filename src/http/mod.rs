//! The HTTP surfaces: shared infrastructure (auth, errors, extractors, idempotency,
//! observability, connection handling) beside one folder per wire dialect. A dialect is a
//! [`Dialect`]: its routes, its error shape and its OpenAPI document. It maps shapes and calls
//! the use cases in `crate::service`; it holds no rule of its own.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::Response;
use axum::Router;
use tower::ServiceBuilder;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::{SwaggerUi, Url};

use crate::domain::api_key::hash_secret;
use crate::service::Context;

pub mod auth;
pub mod byte_range;
pub mod connection;
pub mod error;
pub mod extract;
pub mod head_limits;
pub mod idempotency;
pub mod observability;
pub mod ops;
pub mod pagination;
pub mod patch;
pub mod path;
pub mod rate_limit;
pub mod strict_json;
pub mod wire_enum;

pub mod mrassistant;
pub mod trieve;
pub mod v1;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// What the use cases run with.
    pub ctx: Context,
    /// Hash of the `--master-key`, if one was given.
    pub master_key_hash: Option<Arc<str>>,
    /// Request-rate limits; `None` when they are off.
    pub rate_limits: Option<Arc<rate_limit::RateLimits>>,
}

impl AppState {
    /// A state without rate limits; see [`AppState::with_rate_limits`].
    pub fn new(ctx: Context, master_key: Option<&str>) -> Self {
        Self {
            ctx,
            master_key_hash: master_key.map(|key| Arc::from(hash_secret(key))),
            rate_limits: None,
        }
    }

    pub fn with_rate_limits(mut self, limits: rate_limit::RateLimits) -> Self {
        self.rate_limits = Some(Arc::new(limits));
        self
    }
}

/// One wire dialect of the API.
pub trait Dialect {
    /// Its name in the interactive reference and in `tenantry openapi --dialect`.
    const NAME: &'static str;
    /// Where its OpenAPI document is served.
    const OPENAPI_PATH: &'static str;
    /// Whether `Authorization` may carry the bare key, without `Bearer`, and `X-API-KEY` may
    /// carry the key (Trieve's clients).
    const BARE_KEY: bool = false;
    /// The path prefixes it owns: every error answered under them, by a route or not (an
    /// unknown path, a wrong method, a rate limit, a head limit), takes its shape. v1, the
    /// default shape, declares none.
    const PREFIXES: &'static [&'static str] = &[];
    /// How its errors look on the wire.
    type Errors: error::ErrorRenderer + 'static;

    /// Its authenticated routes.
    fn routes() -> OpenApiRouter<AppState>;
    /// Its routes for callers without credentials (logging in, invitation links).
    fn public_routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
    }
    /// Its OpenAPI document, with its conventions applied.
    fn openapi() -> utoipa::openapi::OpenApi;
}

/// The names and documents of every dialect, for the interactive reference and the CLI.
pub fn documents() -> Vec<(&'static str, &'static str, utoipa::openapi::OpenApi)> {
    fn entry<D: Dialect>() -> (&'static str, &'static str, utoipa::openapi::OpenApi) {
        (D::NAME, D::OPENAPI_PATH, D::openapi())
    }
    vec![
        entry::<v1::V1>(),
        entry::<mrassistant::MrAssistant>(),
        entry::<trieve::Trieve>(),
    ]
}

/// The OpenAPI document of the canonical API (v1).
pub fn openapi() -> utoipa::openapi::OpenApi {
    <v1::V1 as Dialect>::openapi()
}

/// A dialect's routes behind authentication, rate limits, idempotency and its error renderer.
fn mount<D: Dialect>(state: &AppState) -> Router<AppState> {
    let (routes, _) = D::routes().split_for_parts();
    if !routes.has_routes() {
        // A dialect with nothing in it yet; axum refuses layers on an empty router.
        return routes;
    }
    // One layer of a stack, not one per middleware: axum boxes each route once per layer and
    // clones every box on each request.
    let required = auth::KeyRequired {
        state: state.clone(),
        bare: D::BARE_KEY,
    };
    let routes = routes.route_layer(
        ServiceBuilder::new()
            .layer(from_fn_with_state(required, auth::require_key))
            .layer(from_fn_with_state(state.clone(), rate_limit::limit_caller))
            .layer(from_fn_with_state(
                state.clone(),
                idempotency::idempotent_post,
            )),
    );
    let (public, _) = D::public_routes().split_for_parts();
    routes.merge(public)
}

/// A dialect's error shape, with the path prefixes it owns.
type OwnedShape = (&'static [&'static str], fn(&error::Problem) -> Response);

/// The error shape of each dialect that has its own.
fn dialect_renderers() -> [OwnedShape; 2] {
    fn entry<D: Dialect>() -> OwnedShape {
        (D::PREFIXES, <D::Errors as error::ErrorRenderer>::render)
    }
    [
        entry::<mrassistant::MrAssistant>(),
        entry::<trieve::Trieve>(),
    ]
}

/// Whether `path` lies under `prefix`: the prefix itself, or below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Outer layer: an error answered under a dialect's prefixes takes that dialect's shape, so
/// that no problem+json leaks into a dialect, whichever layer refused the request.
async fn render_in_dialect(request: Request, next: Next) -> Response {
    let render = dialect_renderers()
        .into_iter()
        .find_map(|(prefixes, render)| {
            let path = request.uri().path();
            prefixes
                .iter()
                .any(|prefix| under(path, prefix))
                .then_some(render)
        });
    let response = next.run(request).await;
    match render {
        Some(render) => error::rerender(response, render),
        None => response,
    }
}

/// The application: every dialect, the operations routes, the docs, and the cross-cutting
/// layers.
pub fn app(state: AppState) -> Router {
    // Install the recorder before the first request records anything.
    observability::prometheus();
    let (ops, _) = ops::router().split_for_parts();
    let urls = documents()
        .into_iter()
        .map(|(name, path, document)| (Url::new(name, path), document))
        .collect();
    // Every API route, and only those, is rate limited; a route added outside the dialects
    // (a public one, say) is merged here, before the layer.
    let api = Router::new()
        .merge(mount::<v1::V1>(&state))
        .merge(mount::<mrassistant::MrAssistant>(&state))
        .merge(mount::<trieve::Trieve>(&state))
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(auth::scope_anonymous))
                .layer(from_fn_with_state(
                    state.clone(),
                    rate_limit::limit_requests,
                )),
        );
    Router::new()
        .merge(api)
        .merge(ops)
        .merge(SwaggerUi::new("/docs").urls(urls))
        .fallback(|| async { error::ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { error::ApiError::MethodNotAllowed })
        .layer(
            ServiceBuilder::new()
                .layer(observability::set_request_id())
                .layer(observability::trace_layer())
                .layer(observability::propagate_request_id())
                .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
                .layer(from_fn(observability::record_metrics))
                .layer(from_fn(render_in_dialect))
                .layer(from_fn(head_limits::limit_head)),
        )
        .with_state(state)
}

//! The HTTP layer: one module per resource (each with its own `router()`), the shared
//! extractors and middleware, and the assembly of the application below.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use tower::ServiceBuilder;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::domain::api_key::hash_secret;
use crate::store::Db;

pub mod access;
pub mod agencies;
pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod auth;
pub mod calls;
pub mod connection;
pub mod error;
pub mod extract;
pub mod head_limits;
pub mod idempotency;
pub mod observability;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod patch;
pub mod plans;
pub mod strict_json;
pub mod tenants;
pub mod usage;

pub const DEFAULT_CALL_LEASE_SECONDS: i64 = 120;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Hash of the `--master-key`, if one was given.
    pub master_key_hash: Option<Arc<str>>,
    /// How long an admitted call holds its slot without a heartbeat.
    pub call_lease: chrono::Duration,
}

impl AppState {
    pub fn new(db: Db, master_key: Option<&str>) -> Self {
        Self {
            db,
            master_key_hash: master_key.map(|key| Arc::from(hash_secret(key))),
            call_lease: chrono::Duration::seconds(DEFAULT_CALL_LEASE_SECONDS),
        }
    }

    pub fn with_call_lease(mut self, lease: chrono::Duration) -> Self {
        self.call_lease = lease;
        self
    }
}

/// The authenticated API: every route that needs a key.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(tenants::router())
        .merge(agencies::router())
        .merge(plans::router())
        .merge(api_keys::router())
        .merge(agents::router())
        .merge(calls::router())
        .merge(usage::router())
        .merge(analytics::router())
}

/// The OpenAPI document of the whole service.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = OpenApiRouter::<AppState>::with_openapi(openapi::ApiDoc::openapi())
        .merge(api_routes())
        .merge(ops::router())
        .split_for_parts();
    // The modifier runs before routes are merged in; run it again over the full document.
    utoipa::Modify::modify(&openapi::Conventions, &mut doc);
    doc
}

/// The application: routes, auth, idempotency, docs and the cross-cutting layers.
pub fn app(state: AppState) -> Router {
    // Install the recorder before the first request records anything.
    observability::prometheus();
    let (api, _) = api_routes().split_for_parts();
    let api = api
        .route_layer(from_fn_with_state(
            state.clone(),
            idempotency::idempotent_post,
        ))
        .route_layer(from_fn_with_state(state.clone(), auth::require_key));
    let (ops, _) = ops::router().split_for_parts();
    Router::new()
        .merge(api)
        .merge(ops)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi()))
        .fallback(|| async { error::ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { error::ApiError::MethodNotAllowed })
        .layer(from_fn(head_limits::limit_head))
        .layer(from_fn(observability::record_metrics))
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(
            ServiceBuilder::new()
                .layer(observability::set_request_id())
                .layer(observability::trace_layer())
                .layer(observability::propagate_request_id()),
        )
        .with_state(state)
}

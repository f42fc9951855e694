//! `/api/v1/agency/webhook-endpoints`: where an agency's (or the platform's) events go.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::{Caller, Scope};
use crate::domain::ids::{AgencyId, WebhookEndpointId};
use crate::domain::validation::Violations;
use crate::domain::webhook::{parse_event_types, Endpoint, EndpointFields};
use crate::http::error::ApiResult;
use crate::http::extract::{created, with_etag, IfMatch, Json, PathId, Query};
use crate::http::pagination::{decode_cursor, page_limit, Page};
use crate::http::patch::Patch;
use crate::http::AppState;
use crate::service::webhooks::{self, EndpointChanges};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_endpoint_secret))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEndpoint)]
pub struct EndpointBody {
    pub id: WebhookEndpointId,
    /// The agency it serves; `null` for the platform's own.
    pub agency_id: Option<AgencyId>,
    pub url: String,
    pub description: Option<String>,
    /// The event types it receives; empty for every type (docs/EVENTS.md).
    pub events: Vec<String>,
    pub enabled: bool,
    /// The signing secret (`whsec_…`): only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Until when the previous secret signs too, after a rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EndpointBody {
    fn of(endpoint: Endpoint, secret: Option<String>) -> EndpointBody {
        let agency_id = match endpoint.owner {
            Scope::Agency(agency) => Some(agency),
            _ => None,
        };
        EndpointBody {
            id: endpoint.id,
            agency_id,
            url: endpoint.fields.url,
            description: endpoint.fields.description,
            events: endpoint
                .fields
                .events
                .iter()
                .map(|k| k.name().to_owned())
                .collect(),
            enabled: endpoint.fields.enabled,
            secret,
            previous_secret_expires_at: endpoint.previous_secret_until,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

fn answer(endpoint: Endpoint) -> Response {
    with_etag(endpoint.updated_at, EndpointBody::of(endpoint, None))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEndpointRequest {
    /// An absolute http or https URL.
    #[schema(max_length = 2048)]
    pub url: String,
    /// Event types to receive; absent or empty for every type.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    pub description: Option<String>,
    /// Platform callers only: the agency it serves (absent: the platform's own).
    #[serde(default)]
    pub agency_id: Option<AgencyId>,
}

/// Register a webhook endpoint. The answer holds its `whsec_` signing secret, shown once.
///
/// An agency's endpoint receives the events of all its client tenants.
#[utoipa::path(post, path = "/api/v1/agency/webhook-endpoints", tag = "webhooks",
    request_body = CreateEndpointRequest, responses((status = 201, body = EndpointBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateEndpointRequest>,
) -> ApiResult<Response> {
    let mut violations = Violations::default();
    let events = parse_event_types(&request.events, &mut violations);
    violations.finish(|| ())?;
    let fields = EndpointFields {
        url: request.url,
        description: request.description,
        events,
        enabled: true,
    };
    let (endpoint, secret) =
        webhooks::create(&state.ctx, &caller, request.agency_id, fields).await?;
    Ok(created(
        endpoint.updated_at,
        EndpointBody::of(endpoint, Some(secret)),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListEndpointsParams {
    /// Platform callers only: one agency's endpoints (absent: the platform's own).
    pub agency_id: Option<AgencyId>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// List webhook endpoints.
#[utoipa::path(get, path = "/api/v1/agency/webhook-endpoints", tag = "webhooks",
    params(ListEndpointsParams), responses((status = 200, body = Page<EndpointBody>)))]
async fn list_endpoints(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListEndpointsParams>,
) -> ApiResult<Json<Page<EndpointBody>>> {
    let limit = page_limit(params.limit)?;
    let after = params
        .cursor
        .as_deref()
        .map(decode_cursor::<WebhookEndpointId>);
    let rows = webhooks::list(
        &state.ctx,
        &caller,
        params.agency_id,
        after.transpose()?,
        limit + 1,
    )
    .await?;
    let rows = rows
        .into_iter()
        .map(|e| EndpointBody::of(e, None))
        .collect();
    Ok(Json(Page::from_rows(rows, limit, |endpoint| endpoint.id)))
}

/// Get a webhook endpoint (never its secret).
#[utoipa::path(get, path = "/api/v1/agency/webhook-endpoints/{webhookEndpointId}",
    tag = "webhooks", params(("webhookEndpointId" = WebhookEndpointId, Path)),
    responses((status = 200, body = EndpointBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookEndpointId>,
) -> ApiResult<Response> {
    Ok(answer(webhooks::get(&state.ctx, &caller, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateEndpointRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable = false, max_length = 2048)]
    pub url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, nullable = false)]
    pub events: Patch<Vec<String>>,
    /// `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 500)]
    pub description: Patch<String>,
    /// A disabled endpoint receives nothing.
    #[serde(default)]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub enabled: Patch<bool>,
}

/// Update a webhook endpoint.
#[utoipa::path(patch, path = "/api/v1/agency/webhook-endpoints/{webhookEndpointId}",
    tag = "webhooks", params(("webhookEndpointId" = WebhookEndpointId, Path)),
    request_body = UpdateEndpointRequest, responses((status = 200, body = EndpointBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookEndpointId>,
    IfMatch(expected): IfMatch,
    Json(request): Json<UpdateEndpointRequest>,
) -> ApiResult<Response> {
    let mut violations = Violations::default();
    let events = request.events.non_null("events", &mut violations);
    let changes = EndpointChanges {
        url: request.url.non_null("url", &mut violations),
        description: request.description.nullable(),
        events: events.map(|names| parse_event_types(&names, &mut violations)),
        enabled: request.enabled.non_null("enabled", &mut violations),
    };
    violations.finish(|| ())?;
    let endpoint = webhooks::update(&state.ctx, &caller, id, expected, changes).await?;
    Ok(answer(endpoint))
}

/// Remove a webhook endpoint.
#[utoipa::path(delete, path = "/api/v1/agency/webhook-endpoints/{webhookEndpointId}",
    tag = "webhooks", params(("webhookEndpointId" = WebhookEndpointId, Path)),
    responses((status = 204, description = "Removed")))]
async fn delete_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookEndpointId>,
) -> ApiResult<StatusCode> {
    webhooks::delete(&state.ctx, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate an endpoint's signing secret. The answer holds the new secret, shown once; the
/// previous one signs too until `previousSecretExpiresAt`, 24 hours later.
#[utoipa::path(post,
    path = "/api/v1/agency/webhook-endpoints/{webhookEndpointId}/rotate-secret",
    tag = "webhooks", params(("webhookEndpointId" = WebhookEndpointId, Path)),
    responses((status = 200, body = EndpointBody)))]
async fn rotate_endpoint_secret(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookEndpointId>,
) -> ApiResult<Response> {
    let (endpoint, secret) = webhooks::rotate_secret(&state.ctx, &caller, id).await?;
    Ok(with_etag(
        endpoint.updated_at,
        EndpointBody::of(endpoint, Some(secret)),
    ))
}

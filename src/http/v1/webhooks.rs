//! `/api/v1/agency/webhook-endpoints`: where an agency's (or the platform's) events go;
//! `/api/v1/tenants/{tenantId}/webhook-endpoint`: a tenant's own (its `settings.webhookUrl`);
//! `/api/v1/webhook-deliveries`: what was sent to them, and resending it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::{Caller, Scope};
use crate::domain::delivery::{Attempt, DeliveryStatus};
use crate::domain::event::EventType;
use crate::domain::ids::{AgencyId, EventId, TenantId, WebhookDeliveryId, WebhookEndpointId};
use crate::domain::time::BoundedTime;
use crate::domain::validation::Violations;
use crate::domain::webhook::{parse_event_types, Endpoint, EndpointFields};
use crate::http::error::ApiResult;
use crate::http::extract::{created, with_etag, IfMatch, Json, PathId, Query};
use crate::http::pagination::{decode_cursor, page_limit, Page};
use crate::http::patch::Patch;
use crate::http::AppState;
use crate::service::deliveries::{self, DeliveryRecord};
use crate::service::webhooks::{self, EndpointChanges};
use crate::store::deliveries::DeliveryFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_endpoint_secret))
        .routes(routes!(replay_endpoint))
        .routes(routes!(tenant_endpoint))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEndpoint)]
pub struct EndpointBody {
    pub id: WebhookEndpointId,
    /// The agency it serves; `null` for the platform's own and for a tenant's.
    pub agency_id: Option<AgencyId>,
    /// The tenant whose `settings.webhookUrl` it is; `null` for an agency's or the platform's.
    pub tenant_id: Option<TenantId>,
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
        let (agency_id, tenant_id) = match endpoint.owner {
            Scope::Agency(agency) => (Some(agency), None),
            Scope::Tenant(tenant) => (None, Some(tenant)),
            Scope::Platform => (None, None),
        };
        EndpointBody {
            id: endpoint.id,
            agency_id,
            tenant_id,
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

/// Get a tenant's own endpoint: the one its `settings.webhookUrl` makes. It receives the
/// tenant's events; rotate its secret to read one.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/webhook-endpoint", tag = "webhooks",
    params(("tenantId" = TenantId, Path)), responses((status = 200, body = EndpointBody)))]
async fn tenant_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    PathId(tenant): PathId<TenantId>,
) -> ApiResult<Response> {
    Ok(answer(
        webhooks::of_tenant(&state.ctx, &caller, tenant).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ReplayParams {
    /// Resend every event since this time (RFC 3339) that the endpoint takes; absent, every
    /// event still kept (30 days).
    pub since: Option<BoundedTime>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayBody {
    /// Deliveries now due: events resent, and events the endpoint had missed.
    pub replayed: u64,
}

/// Resend what an endpoint got (or missed, while disabled) since a time. Each event keeps its
/// `webhook-id`, so a receiver that has it already can tell.
#[utoipa::path(post, path = "/api/v1/agency/webhook-endpoints/{webhookEndpointId}/replay",
    tag = "webhooks", params(("webhookEndpointId" = WebhookEndpointId, Path), ReplayParams),
    responses((status = 202, body = ReplayBody)))]
async fn replay_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookEndpointId>,
    Query(params): Query<ReplayParams>,
) -> ApiResult<(StatusCode, Json<ReplayBody>)> {
    let since = params.since.map_or_else(
        || Utc::now() - crate::workers::EVENT_RETENTION,
        BoundedTime::get,
    );
    let replayed = deliveries::replay(&state.ctx, &caller, id, since).await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayBody { replayed })))
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookAttempt)]
pub struct AttemptBody {
    /// 1 for the first attempt of a (re)scheduled delivery.
    pub attempt: i64,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status; `null` when it did not answer.
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// The first KiB of the receiver's answer.
    pub response: Option<String>,
    /// Why it failed: the status, a timeout, a refused destination.
    pub error: Option<String>,
}

impl From<Attempt> for AttemptBody {
    fn from(attempt: Attempt) -> AttemptBody {
        AttemptBody {
            attempt: attempt.attempt,
            attempted_at: attempt.attempted_at,
            status_code: attempt.status_code,
            latency_ms: attempt.latency_ms,
            response: attempt.response,
            error: attempt.error,
        }
    }
}

/// One event on its way to one endpoint, with its attempts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
pub struct DeliveryBody {
    pub id: WebhookDeliveryId,
    /// The `webhook-id` every attempt carries.
    pub event_id: EventId,
    pub event_type: String,
    pub endpoint_id: WebhookEndpointId,
    pub tenant_id: Option<TenantId>,
    pub status: DeliveryStatusBody,
    pub attempts: Vec<AttemptBody>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = WebhookDeliveryStatus)]
pub enum DeliveryStatusBody {
    Pending,
    Delivered,
    Failed,
}

impl From<DeliveryStatus> for DeliveryStatusBody {
    fn from(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Pending => DeliveryStatusBody::Pending,
            DeliveryStatus::Delivered => DeliveryStatusBody::Delivered,
            DeliveryStatus::Failed => DeliveryStatusBody::Failed,
        }
    }
}

impl From<DeliveryStatusBody> for DeliveryStatus {
    fn from(status: DeliveryStatusBody) -> Self {
        match status {
            DeliveryStatusBody::Pending => DeliveryStatus::Pending,
            DeliveryStatusBody::Delivered => DeliveryStatus::Delivered,
            DeliveryStatusBody::Failed => DeliveryStatus::Failed,
        }
    }
}

impl From<DeliveryRecord> for DeliveryBody {
    fn from(record: DeliveryRecord) -> DeliveryBody {
        let delivery = record.delivery;
        DeliveryBody {
            id: delivery.id,
            event_id: delivery.event_id,
            event_type: delivery.event_type.name().to_owned(),
            endpoint_id: delivery.endpoint_id,
            tenant_id: delivery.tenant_id,
            status: delivery.status.into(),
            attempts: record.attempts.into_iter().map(AttemptBody::from).collect(),
            next_attempt_at: delivery.next_attempt_at,
            delivered_at: delivery.delivered_at,
            created_at: delivery.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesParams {
    /// One endpoint's deliveries (absent: those of the caller's own endpoints).
    pub endpoint_id: Option<WebhookEndpointId>,
    pub status: Option<DeliveryStatusBody>,
    /// One event type's (docs/EVENTS.md).
    pub event_type: Option<String>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// List webhook deliveries with their attempts, newest first: status, latency and the first
/// KiB of each answer.
#[utoipa::path(get, path = "/api/v1/webhook-deliveries", tag = "webhooks",
    params(ListDeliveriesParams), responses((status = 200, body = Page<DeliveryBody>)))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListDeliveriesParams>,
) -> ApiResult<Json<Page<DeliveryBody>>> {
    let limit = page_limit(params.limit)?;
    let before = params
        .cursor
        .as_deref()
        .map(decode_cursor::<WebhookDeliveryId>)
        .transpose()?;
    let mut violations = Violations::default();
    let event_type = params.event_type.as_deref().and_then(|name| {
        let kind = EventType::from_name(name);
        if kind.is_none() {
            violations.add(
                "eventType",
                "unknown_event_type",
                "not an event type; docs/EVENTS.md lists them",
            );
        }
        kind
    });
    violations.finish(|| ())?;
    let filter = DeliveryFilter {
        reach: None,
        endpoint: params.endpoint_id,
        status: params.status.map(DeliveryStatus::from),
        event_type,
    };
    let rows = deliveries::list(&state.ctx, &caller, filter, before, limit + 1).await?;
    let rows = rows.into_iter().map(DeliveryBody::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |delivery| delivery.id)))
}

/// Get a webhook delivery with its attempts.
#[utoipa::path(get, path = "/api/v1/webhook-deliveries/{webhookDeliveryId}", tag = "webhooks",
    params(("webhookDeliveryId" = WebhookDeliveryId, Path)),
    responses((status = 200, body = DeliveryBody)))]
async fn get_delivery(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookDeliveryId>,
) -> ApiResult<Json<DeliveryBody>> {
    Ok(Json(deliveries::get(&state.ctx, &caller, id).await?.into()))
}

/// Send a delivery again now, with a fresh retry schedule.
#[utoipa::path(post, path = "/api/v1/webhook-deliveries/{webhookDeliveryId}/retry",
    tag = "webhooks", params(("webhookDeliveryId" = WebhookDeliveryId, Path)),
    responses((status = 202, body = DeliveryBody)))]
async fn retry_delivery(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<WebhookDeliveryId>,
) -> ApiResult<(StatusCode, Json<DeliveryBody>)> {
    let delivery = deliveries::retry(&state.ctx, &caller, id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery.into())))
}

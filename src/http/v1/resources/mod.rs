//! `/api/v1/tenants/{tenantId}/<kind>`: the routes of every resource kind, made from the
//! registry (`domain::resource`). Each kind gets list, get, merge-patch and delete, and a JSON
//! create unless its content is bytes; files add an upload and their content, recordings hang
//! off their call (`bytes`). Each kind's OpenAPI operations are built beside its routes
//! (`docs`), so the two cannot drift apart.

use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::access::Caller;
use crate::domain::ids::{TenantId, TypedId};
use crate::domain::resource::{Resource, ResourceKind, ResourceSpec};
use crate::domain::resources::integration::Integration;
use crate::domain::resources::phone_number::PhoneNumber;
use crate::domain::resources::sip_trunk::SipTrunk;
use crate::domain::resources::squad::Squad;
use crate::domain::resources::stored::{KnowledgeFile, Recording};
use crate::domain::resources::workflow::Workflow;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{created, with_etag, IfMatch, Json, PathId, Query};
use crate::http::pagination::{Page, PageParams};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::resources;
use crate::service::tenants::TenantRef;

mod bytes;
mod docs;

use crate::store::resources::Filters;
use bytes::{call_recording, file_content, upload_file};
use docs::Docs;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(kind::<PhoneNumber>(Create::Json))
        .merge(kind::<SipTrunk>(Create::Json))
        .merge(kind::<Squad>(Create::Json))
        .merge(kind::<Workflow>(Create::Json))
        .merge(kind::<Integration>(Create::Json))
        .merge(kind::<KnowledgeFile>(Create::Upload))
        .merge(kind::<Recording>(Create::None))
        .routes(file_content())
        .routes(call_recording())
        .routes(routes!(route_phone_number))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RouteQuery {
    /// The dialled number, E.164 (`+` encoded as `%2B`).
    pub number: String,
}

/// Route an inbound call: the phone number `number` with its tenant and agent, whichever
/// tenant holds it within the caller's reach (404 otherwise).
#[utoipa::path(get, path = "/api/v1/phone-numbers/route", tag = "phone-numbers",
    params(RouteQuery),
    responses((status = 200, description = "The phone number, with `tenantId` and `agentId`",
        body = Object)))]
async fn route_phone_number(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<RouteQuery>,
) -> ApiResult<Response> {
    let number = resources::route_number(&state.ctx, &caller, &query.number).await?;
    Ok(answer(number))
}

/// How a kind's resources come to be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Create {
    /// `POST` of its fields as JSON.
    Json,
    /// `POST` of bytes, raw or multipart.
    Upload,
    /// Elsewhere (a recording is stored through its call).
    None,
}

/// A resource on the wire: its id, its tenant, its fields, version and times.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBody {
    pub id: String,
    pub tenant_id: TenantId,
    #[serde(flatten)]
    pub fields: Value,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Resource> for ResourceBody {
    fn from(resource: Resource) -> Self {
        ResourceBody {
            id: resource.kind.display_id(resource.id),
            tenant_id: resource.tenant_id,
            fields: resource.document,
            version: resource.version,
            created_at: resource.created_at,
            updated_at: resource.updated_at,
        }
    }
}

fn answer(resource: Resource) -> Response {
    with_etag(resource.updated_at, ResourceBody::from(resource))
}

fn collection_path(kind: ResourceKind) -> String {
    format!("/api/v1/tenants/{{tenantId}}/{}", kind.info().path)
}

fn item_path<S: ResourceSpec>() -> String {
    let param = S::Id::PATH_PARAMS[0];
    format!("{}/{{{param}}}", collection_path(S::KIND))
}

/// The routes of one kind, with their operations.
fn kind<S: ResourceSpec + ToSchema>(create: Create) -> OpenApiRouter<AppState> {
    let docs = Docs::<S>::new();
    let mut collection: MethodRouter<AppState> = get(list_resources::<S>);
    let mut collection_ops = vec![docs.list()];
    match create {
        Create::Json => {
            collection = collection.post(create_resource::<S>);
            collection_ops.push(docs.create());
        }
        Create::Upload => {
            // Uploads stream to storage under limits of their own (`maxFileSizeMb`,
            // `maxFilesGb`); the app's 1 MiB body limit, which `Multipart` honours, is for JSON.
            collection = collection.post(upload_file.layer(DefaultBodyLimit::disable()));
            collection_ops.push(docs.upload());
        }
        Create::None => {}
    }
    let mut item: MethodRouter<AppState> = get(get_resource::<S>).delete(delete_resource::<S>);
    let mut item_ops = vec![docs.get(), docs.delete()];
    if S::PATCHABLE != Some(&[]) {
        item = item.patch(update_resource::<S>);
        item_ops.push(docs.update());
    }
    OpenApiRouter::new()
        .routes(docs.routed(collection_path(S::KIND), collection_ops, collection))
        .routes(docs.routed(item_path::<S>(), item_ops, item))
}

/// The filters of a list: `limit`, `cursor`, `agentId` and the kind's category field.
fn list_filters<S: ResourceSpec>(query: Option<&str>) -> ApiResult<(PageParams, Filters)> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| ApiError::field("query", "invalid_query", "is not a valid query string"))?;
    let mut page = PageParams {
        limit: None,
        cursor: None,
    };
    let mut filters = Filters::default();
    let info = S::KIND.info();
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => {
                let limit = value.parse().map_err(|_| {
                    ApiError::field("limit", "invalid_integer", "must be a whole number")
                })?;
                page.limit = Some(limit);
            }
            "cursor" => page.cursor = Some(value),
            "agentId" => {
                let agent_id =
                    value
                        .parse()
                        .map_err(|error: crate::domain::ids::IdParseError| {
                            ApiError::field("agentId", "invalid_id", error.to_string())
                        })?;
                filters.agent_id = Some(agent_id);
            }
            other if Some(other) == info.category_field => {
                if !S::is_category(&value) {
                    return Err(ApiError::field(
                        other,
                        "invalid_value",
                        "is not a value this field takes",
                    ));
                }
                filters.category = Some(value);
            }
            other => {
                return Err(ApiError::field(
                    other,
                    "unknown_parameter",
                    "is not a parameter of this list",
                ));
            }
        }
    }
    Ok((page, filters))
}

async fn list_resources<S: ResourceSpec>(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, S::Read>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Page<ResourceBody>>> {
    let (page, filters) = list_filters::<S>(query.as_deref())?;
    let limit = page.limit()?;
    let after: Option<Uuid> = page.after()?;
    let rows = resources::list::<S>(&state.ctx, tenant, &filters, after, limit + 1).await?;
    let page = Page::from_rows(rows, limit, |resource| resource.id);
    Ok(Json(page.map(ResourceBody::from)))
}

async fn create_resource<S: ResourceSpec>(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, S::Manage>,
    Json(spec): Json<S>,
) -> ApiResult<Response> {
    let resource = resources::create::<S>(&state.ctx, tenant, spec).await?;
    Ok(created(resource.updated_at, ResourceBody::from(resource)))
}

async fn get_resource<S: ResourceSpec>(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, S::Read>,
    PathId(id): PathId<S::Id>,
) -> ApiResult<Response> {
    Ok(answer(resources::get::<S>(&state.ctx, tenant, id).await?))
}

async fn update_resource<S: ResourceSpec>(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, S::Manage>,
    PathId(id): PathId<S::Id>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<Value>,
) -> ApiResult<Response> {
    let resource = resources::update::<S>(&state.ctx, tenant, id, expected, patch).await?;
    Ok(answer(resource))
}

async fn delete_resource<S: ResourceSpec>(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, S::Manage>,
    PathId(id): PathId<S::Id>,
) -> ApiResult<StatusCode> {
    resources::delete::<S>(&state.ctx, tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

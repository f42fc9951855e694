//! `/api/v1/tenants/{tenantId}/<kind>`: the routes of every resource kind, made from the
//! registry (`domain::resource`). Each kind gets list, get, merge-patch and delete, and a JSON
//! create unless its content is bytes; files add an upload and their content, recordings hang
//! off their call. OpenAPI operations are built here too, so a kind's routes and documentation
//! cannot drift apart.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, RawQuery, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, put, MethodRouter};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, Paths, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder, Schema};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use uuid::Uuid;

use crate::domain::ids::{CallId, FileId, TenantId, TypedId};
use crate::domain::policy::act;
use crate::domain::resource::{Resource, ResourceKind, ResourceSpec};
use crate::domain::resources::integration::Integration;
use crate::domain::resources::phone_number::PhoneNumber;
use crate::domain::resources::sip_trunk::SipTrunk;
use crate::domain::resources::squad::Squad;
use crate::domain::resources::stored::{KnowledgeFile, Recording};
use crate::domain::resources::workflow::Workflow;
use crate::http::byte_range::{content_range, parse_range};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{created, with_etag, IfMatch, Json, PathId};
use crate::http::pagination::{Page, PageParams};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::blobs::{self, Upload};
use crate::service::resources;
use crate::service::tenants::TenantRef;
use crate::store::resources::Filters;

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

/// The longest `name` part of a multipart upload.
const MAX_NAME_PART: usize = 1024;

fn content_type_of(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned()
}

/// `POST …/files`: the file as the raw body (named by `?name=`), or as the `file` part of a
/// multipart form (named by its `name` part or its filename).
async fn upload_file(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ManageFiles>,
    RawQuery(query): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let query_name =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or(""))
            .ok()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find(|(key, _)| key == "name")
                    .map(|(_, v)| v)
            });
    let content_type = content_type_of(request.headers());
    let resource = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let mut form = Multipart::from_request(request, &state)
            .await
            .map_err(|error| ApiError::field("body", "invalid_multipart", error.body_text()))?;
        let mut name = query_name;
        loop {
            let field = form
                .next_field()
                .await
                .map_err(|error| ApiError::field("body", "invalid_multipart", error.body_text()))?
                .ok_or_else(|| ApiError::field("file", "required", "the form has no file part"))?;
            match field.name() {
                Some("name") => {
                    let bytes = read_small_part(field).await?;
                    name = Some(bytes);
                }
                Some("file") => {
                    let name = name
                        .or_else(|| field.file_name().map(str::to_owned))
                        .ok_or_else(|| ApiError::field("name", "required", "name the file"))?;
                    let upload = Upload {
                        content_type: field
                            .content_type()
                            .unwrap_or("application/octet-stream")
                            .to_owned(),
                        declared_size: None,
                        body: field,
                    };
                    break blobs::upload_file(&state.ctx, tenant, name, upload).await?;
                }
                _ => {}
            }
        }
    } else {
        let name = query_name.ok_or_else(|| {
            ApiError::field(
                "name",
                "required",
                "name the file with ?name= or a multipart form",
            )
        })?;
        let upload = Upload {
            content_type,
            declared_size: declared_size(request.headers()),
            body: request.into_body().into_data_stream(),
        };
        blobs::upload_file(&state.ctx, tenant, name, upload).await?
    };
    Ok(created(resource.updated_at, ResourceBody::from(resource)))
}

async fn read_small_part(mut field: axum::extract::multipart::Field<'_>) -> ApiResult<String> {
    let mut text = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|error| ApiError::field("name", "invalid_multipart", error.body_text()))?
    {
        text.extend_from_slice(&chunk);
        if text.len() > MAX_NAME_PART {
            return Err(ApiError::field(
                "name",
                "invalid_length",
                "must be 1 to 255 characters long",
            ));
        }
    }
    String::from_utf8(text).map_err(|_| ApiError::field("name", "invalid_text", "must be UTF-8"))
}

fn declared_size(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
}

/// Streams a resource's bytes, or the one range a `Range` header asks for.
async fn serve_bytes(
    state: &AppState,
    resource: Resource,
    headers: &HeaderMap,
    disposition: &'static str,
) -> ApiResult<Response> {
    let size = resource.document["sizeBytes"].as_u64().unwrap_or(0);
    let range = match headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
    {
        Some(text) => parse_range(text, size).map_err(|_| ApiError::RangeNotSatisfiable(size))?,
        None => None,
    };
    let partial = range.is_some();
    let read = blobs::read(&state.ctx, &resource, range).await?;
    let mut response = Response::new(Body::from_stream(read.body.map_err(axum::Error::new)));
    let head = response.headers_mut();
    let content_type = resource.document["contentType"]
        .as_str()
        .unwrap_or("application/octet-stream");
    let text = |value: &str| HeaderValue::from_str(value).ok();
    if let Some(value) = text(content_type) {
        head.insert(header::CONTENT_TYPE, value);
    }
    head.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(read.range.end - read.range.start),
    );
    head.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    head.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    // Stored bytes are the tenant's, not ours: never let a browser run them as a page.
    head.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    head.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    head.insert(
        header::ETAG,
        crate::http::extract::etag(resource.updated_at),
    );
    if partial {
        if let Some(value) = text(&content_range(&read.range, read.size)) {
            head.insert(header::CONTENT_RANGE, value);
        }
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(response)
}

async fn file_content_handler(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadFiles>,
    PathId(id): PathId<FileId>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let resource = blobs::file(&state.ctx, &tenant, id).await?;
    serve_bytes(&state, resource, &headers, "attachment").await
}

fn file_content() -> UtoipaMethodRouter<AppState> {
    let path = format!("{}/content", item_path::<KnowledgeFile>());
    let operation = OperationBuilder::new()
        .tags(Some(["files"]))
        .operation_id(Some("getFileContent"))
        .summary(Some(
            "Stream a file's bytes; a `Range` header asks for part of them (206).",
        ))
        .parameters(Some(vec![
            path_param("tenantId"),
            path_param(FileId::PATH_PARAMS[0]),
        ]))
        .response(
            "200",
            ResponseBuilder::new().description("The bytes").build(),
        )
        .response(
            "206",
            ResponseBuilder::new()
                .description("The requested range")
                .build(),
        )
        .response(
            "416",
            ResponseBuilder::new()
                .description("`range_not_satisfiable`")
                .build(),
        )
        .build();
    let paths = PathsBuilder::new()
        .path(path, PathItem::new(HttpMethod::Get, operation))
        .build();
    (Vec::new(), paths, get(file_content_handler))
}

async fn put_recording(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::StoreRecordings>,
    PathId(call_id): PathId<CallId>,
    request: Request,
) -> ApiResult<Response> {
    let upload = Upload {
        content_type: content_type_of(request.headers()),
        declared_size: declared_size(request.headers()),
        body: request.into_body().into_data_stream(),
    };
    let resource = blobs::store_recording(&state.ctx, tenant, call_id, upload).await?;
    Ok(created(resource.updated_at, ResourceBody::from(resource)))
}

async fn get_recording(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadRecordings>,
    PathId(call_id): PathId<CallId>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let resource = blobs::recording(&state.ctx, &tenant, call_id).await?;
    serve_bytes(&state, resource, &headers, "inline").await
}

async fn delete_recording(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::StoreRecordings>,
    PathId(call_id): PathId<CallId>,
) -> ApiResult<StatusCode> {
    blobs::delete_recording(&state.ctx, tenant, call_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn call_recording() -> UtoipaMethodRouter<AppState> {
    let path = "/api/v1/tenants/{tenantId}/calls/{callId}/recording";
    let params = || Some(vec![path_param("tenantId"), path_param("callId")]);
    let operation = |id: &str, summary: &str, responses: &[(&str, &str)]| {
        let mut builder = OperationBuilder::new()
            .tags(Some(["recordings"]))
            .operation_id(Some(id))
            .summary(Some(summary))
            .parameters(params());
        for (status, description) in responses {
            builder = builder.response(
                *status,
                ResponseBuilder::new().description(*description).build(),
            );
        }
        builder.build()
    };
    let mut store = operation(
        "putCallRecording",
        "Store the call's audio, replacing any before. Its Content-Type must match the tenant's `recordingFormat`.",
        &[("201", "The recording"), ("403", "`recordingEnabled` is false, or `storage_limit_reached`")],
    );
    store.request_body = Some(
        RequestBodyBuilder::new()
            .content(
                "audio/*",
                ContentBuilder::new().schema(Some(binary())).build(),
            )
            .required(Some(Required::True))
            .build(),
    );
    let mut item = PathItem::new(HttpMethod::Put, store);
    item.merge_operations(PathItem::new(
        HttpMethod::Get,
        operation(
            "getCallRecording",
            "Stream the call's audio; a `Range` header asks for part of it (206).",
            &[
                ("200", "The audio"),
                ("206", "The requested range"),
                ("416", "`range_not_satisfiable`"),
            ],
        ),
    ));
    item.merge_operations(PathItem::new(
        HttpMethod::Delete,
        operation(
            "deleteCallRecording",
            "Delete the call's audio.",
            &[("204", "Deleted")],
        ),
    ));
    let paths = PathsBuilder::new().path(path, item).build();
    (
        Vec::new(),
        paths,
        put(put_recording)
            .get(get_recording)
            .delete(delete_recording),
    )
}

/// Bytes, as OpenAPI 3.1 describes them.
fn binary() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/octet-stream")
}

fn path_param(name: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// The OpenAPI operations of one kind.
struct Docs<S> {
    fields: String,
    read: String,
    tag: &'static str,
    _kind: std::marker::PhantomData<S>,
}

impl<S: ResourceSpec + ToSchema> Docs<S> {
    fn new() -> Self {
        let fields = <S as ToSchema>::name().into_owned();
        let read = fields.trim_end_matches("Fields").to_owned();
        Docs {
            fields,
            read,
            tag: S::KIND.info().path,
            _kind: std::marker::PhantomData,
        }
    }

    /// The schemas the kind's operations refer to.
    fn schemas(&self) -> Vec<(String, RefOr<Schema>)> {
        let mut schemas = vec![(self.fields.clone(), S::schema())];
        S::schemas(&mut schemas);
        let envelope = ObjectBuilder::new()
            .property("id", ObjectBuilder::new().schema_type(Type::String))
            .required("id")
            .property("tenantId", ObjectBuilder::new().schema_type(Type::String))
            .required("tenantId")
            .property("version", ObjectBuilder::new().schema_type(Type::Integer))
            .required("version")
            .property(
                "createdAt",
                ObjectBuilder::new().schema_type(Type::String).format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::DateTime,
                    ),
                )),
            )
            .required("createdAt")
            .property(
                "updatedAt",
                ObjectBuilder::new().schema_type(Type::String).format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::DateTime,
                    ),
                )),
            )
            .required("updatedAt");
        let read = AllOfBuilder::new()
            .item(Ref::from_schema_name(&self.fields))
            .item(envelope)
            .build();
        schemas.push((self.read.clone(), RefOr::T(Schema::AllOf(read))));
        let page = ObjectBuilder::new()
            .property(
                "data",
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(Ref::from_schema_name(&self.read)),
            )
            .required("data")
            .property("nextCursor", ObjectBuilder::new().schema_type(Type::String));
        schemas.push((
            format!("{}Page", self.read),
            RefOr::T(Schema::Object(page.build())),
        ));
        schemas
    }

    fn json(schema: &str) -> utoipa::openapi::Content {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(schema)))
            .build()
    }

    fn operation(&self, id: String, summary: String, item: bool) -> OperationBuilder {
        let mut params = vec![path_param("tenantId")];
        if item {
            params.push(path_param(S::Id::PATH_PARAMS[0]));
        }
        OperationBuilder::new()
            .tags(Some([self.tag]))
            .operation_id(Some(id))
            .summary(Some(summary))
            .parameters(Some(params))
    }

    fn list(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let info = S::KIND.info();
        let mut filters = vec![
            query_param("limit", "1 to 100, default 20"),
            query_param("cursor", "`nextCursor` of the page before"),
            query_param("agentId", "only those that name this agent"),
        ];
        if let Some(field) = info.category_field {
            filters.push(query_param(field, "only those with this value"));
        }
        let mut operation = self
            .operation(
                format!("list{}s", self.read),
                format!("List a tenant's {}s.", info.noun),
                false,
            )
            .response(
                "200",
                ResponseBuilder::new()
                    .description("A page")
                    .content(
                        "application/json",
                        Self::json(&format!("{}Page", self.read)),
                    )
                    .build(),
            )
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .extend(filters);
        (HttpMethod::Get, operation)
    }

    fn create(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let info = S::KIND.info();
        let mut summary = format!("Create a {}.", info.noun);
        if let Some(limit) = info.count_limit {
            summary.push_str(&format!(
                " Refused with 403 `{}` once the tenant has `{}`.",
                limit.code,
                limit.key.field()
            ));
        }
        let operation = self
            .operation(format!("create{}", self.read), summary, false)
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", Self::json(&self.fields))
                    .required(Some(Required::True))
                    .build(),
            ))
            .response("201", self.one("Created"))
            .build();
        (HttpMethod::Post, operation)
    }

    fn upload(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let summary = "Upload a file: the raw body with `?name=`, or a multipart form with a `file` part (and an optional `name` part). Refused with 403 `file_too_large` over `maxFileSizeMb`, `storage_limit_reached` over `maxFilesGb`.".to_owned();
        let form = ObjectBuilder::new()
            .property("file", binary())
            .required("file")
            .property("name", ObjectBuilder::new().schema_type(Type::String));
        let body = RequestBodyBuilder::new()
            .content(
                "multipart/form-data",
                ContentBuilder::new().schema(Some(form)).build(),
            )
            .content(
                "application/octet-stream",
                ContentBuilder::new().schema(Some(binary())).build(),
            )
            .required(Some(Required::True))
            .build();
        let mut operation = self
            .operation(format!("upload{}", self.read), summary, false)
            .request_body(Some(body))
            .response("201", self.one("Stored"))
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(query_param("name", "the file's name, for a raw body"));
        (HttpMethod::Post, operation)
    }

    fn one(&self, description: &str) -> utoipa::openapi::Response {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", Self::json(&self.read))
            .build()
    }

    fn get(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let summary = format!("Get a {}.", S::KIND.info().noun);
        let operation = self
            .operation(format!("get{}", self.read), summary, true)
            .response("200", self.one("Found"))
            .build();
        (HttpMethod::Get, operation)
    }

    fn update(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let summary = format!(
            "Change a {} by a JSON merge patch (RFC 7386) of its fields; send `If-Match` to change only the version you read.",
            S::KIND.info().noun
        );
        let operation = self
            .operation(format!("update{}", self.read), summary, true)
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", Self::json(&self.fields))
                    .required(Some(Required::True))
                    .build(),
            ))
            .response("200", self.one("Changed"))
            .build();
        (HttpMethod::Patch, operation)
    }

    fn delete(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let summary = format!("Delete a {}.", S::KIND.info().noun);
        let operation = self
            .operation(format!("delete{}", self.read), summary, true)
            .response("204", ResponseBuilder::new().description("Deleted").build())
            .build();
        (HttpMethod::Delete, operation)
    }

    fn routed(
        &self,
        path: String,
        operations: Vec<(HttpMethod, utoipa::openapi::path::Operation)>,
        method_router: MethodRouter<AppState>,
    ) -> UtoipaMethodRouter<AppState> {
        let mut item: Option<PathItem> = None;
        for (method, operation) in operations {
            let next = PathItem::new(method, operation);
            match &mut item {
                Some(item) => item.merge_operations(next),
                None => item = Some(next),
            }
        }
        let mut paths: Paths = PathsBuilder::new().build();
        if let Some(item) = item {
            paths.paths.insert(path, item);
        }
        (self.schemas(), paths, method_router)
    }
}

fn query_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

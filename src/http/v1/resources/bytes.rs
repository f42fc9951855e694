//! The routes of stored bytes: uploading a file, streaming a file's or a recording's bytes
//! with `Range`, and a recording's routes under its call.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use futures_util::TryStreamExt;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{ContentBuilder, Required, ResponseBuilder};
use utoipa_axum::router::UtoipaMethodRouter;

use crate::domain::ids::{CallId, FileId, TypedId};
use crate::domain::policy::{act, Authorized};
use crate::domain::resource::Resource;
use crate::domain::resources::stored::KnowledgeFile;
use crate::http::byte_range::{content_range, parse_range};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{created, PathId};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::blobs::{self, Upload};
use crate::service::tenants::TenantRef;

use super::docs::{binary, path_param};
use super::{item_path, ResourceBody};

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
pub(super) async fn upload_file(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ManageFiles>,
    RawQuery(query): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let query_name =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or(""))
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(key, _)| key == "name"))
            .map(|(_, name)| name);
    let content_type = content_type_of(request.headers());
    let resource = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        upload_form(&state, tenant, query_name, request).await?
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

/// A multipart upload: a `name` part sent before the `file` part names it, else the file's
/// own filename.
async fn upload_form(
    state: &AppState,
    tenant: Authorized<TenantRef, act::ManageFiles>,
    mut name: Option<String>,
    request: Request,
) -> ApiResult<Resource> {
    let invalid = |text: String| ApiError::field("body", "invalid_multipart", text);
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|error| invalid(error.body_text()))?;
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|error| invalid(error.body_text()))?
            .ok_or_else(|| ApiError::field("file", "required", "the form has no file part"))?;
        match field.name() {
            Some("name") => name = Some(read_small_part(field).await?),
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
                return Ok(blobs::upload_file(&state.ctx, tenant, name, upload).await?);
            }
            _ => {}
        }
    }
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

pub(super) fn file_content() -> UtoipaMethodRouter<AppState> {
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

pub(super) fn call_recording() -> UtoipaMethodRouter<AppState> {
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

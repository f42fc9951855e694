//! A tenant's archive: `GET …/export` streams everything the tenant owns as a tar.gz, and
//! `POST /api/v1/tenants/import` recreates a tenant from one.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::body::TenantBody;
use crate::domain::access::Caller;
use crate::domain::ids::{AgencyId, TenantId};
use crate::domain::policy::act;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{created, Query};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::archive;
use crate::service::tenants::TenantRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_tenant))
        .routes(routes!(import_tenant))
}

/// Export a tenant: everything it owns, as a tar.gz streamed as it is read.
///
/// One NDJSON folder per kind of row (`tenant`, `limits`, `counters`, `agents`, `resources`,
/// `resource_agents`, `calls`, `usage_events`, `usage_periods`, `usage_daily`,
/// `usage_monthly`, `members`, `invitations`, `api_keys`) in parts of about 4 MiB, the bytes
/// of files and recordings under `objects/`, and last `manifest.json` with every entry's row
/// count, size and SHA-256. Secrets are left out: key hashes, invitation tokens, passwords and
/// sealed values. An archive cut short by a failure ends with a broken stream, never as a
/// whole one. Limited by the `analytics-export` policy.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/export", tag = "tenants",
    params(("tenantId" = TenantId, Path)),
    responses((status = 200, description = "The archive", content_type = "application/gzip",
            body = Vec<u8>),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn export_tenant(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ExportTenant>,
) -> ApiResult<Response> {
    let name = format!("attachment; filename=\"{}.tar.gz\"", tenant.get().id);
    let body = Body::from_stream(archive::export(&state.ctx, tenant));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ImportTenantParams {
    /// The agency the tenant will belong to, for a platform key; none makes a direct tenant.
    /// An agency key's tenant belongs to its agency.
    pub agency_id: Option<AgencyId>,
}

/// Import a tenant from an archive made by `GET …/export`.
///
/// The body is the tar.gz, streamed (up to 16 GiB; the 1 MiB limit of JSON bodies does not
/// apply). The tenant is recreated under the caller's agency with every row in one
/// transaction, keeping its ids. Every entry must match its count and checksum in the
/// manifest, or the import is a 422 naming the entry and nothing is written. A tenant id or
/// slug this server holds already is a 409 naming it. API keys come revoked, and invitations
/// cannot be accepted: their secrets are not in the archive.
#[utoipa::path(post, path = "/api/v1/tenants/import", tag = "tenants",
    params(ImportTenantParams),
    request_body(content = Vec<u8>, content_type = "application/gzip", description = "The archive"),
    responses((status = 201, body = TenantBody, headers(("ETag" = String), ("Location" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn import_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ImportTenantParams>,
    request: Request,
) -> ApiResult<Response> {
    let body = request.into_body().into_data_stream();
    let tenant = archive::import(&state.ctx, &caller, params.agency_id, body).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/tenants/{}", tenant.id)).ok();
    let mut response = created(tenant.updated_at, TenantBody::from(tenant));
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

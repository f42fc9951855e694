//! `/api/v1/api-keys`: mint, list and revoke keys. Secrets are shown once, at creation.

use crate::service::Error;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::api_key::{ApiKey, KeyScope};
use crate::domain::ids::{AgencyId, ApiKeyId, TenantId};
use crate::domain::policy::{self, Action, Target};
use crate::domain::validation::Violations;
use crate::http::error::{not_found, ApiError, ApiResult};
use crate::http::extract::{Json, PathId, Query};
use crate::http::idempotency::SecretFields;
use crate::http::pagination::{Page, PageParams};
use crate::http::AppState;
use crate::store::StoreError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateApiKeyRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Makes an agency key (platform callers only).
    #[serde(default)]
    pub agency_id: Option<AgencyId>,
    /// Makes a tenant key.
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
}

/// A new key, with its secret; the secret is never shown again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The bearer secret. Store it now: only its hash is kept, so an idempotent replay of this
    /// answer has `null` here.
    pub key: Option<String>,
}

/// Works out the new key's scope, refusing what the caller may not mint.
async fn scope_for(
    state: &AppState,
    caller: &Caller,
    request: &CreateApiKeyRequest,
) -> ApiResult<(KeyScope, Option<AgencyId>, Option<TenantId>)> {
    let action = match (request.agency_id, request.tenant_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "tenantId",
                "conflicting_fields",
                "give agencyId or tenantId, not both",
            ))
        }
        (None, None) => Action::MintPlatformKey,
        (Some(_), None) => Action::MintAgencyKey,
        (None, Some(_)) => Action::MintTenantKey,
    };
    policy::require(caller, action).map_err(Error::refused("API key"))?;
    match (request.agency_id, request.tenant_id) {
        (None, None) | (Some(_), Some(_)) => Ok((KeyScope::Platform, None, None)),
        (Some(agency_id), None) => {
            match crate::store::agencies::find(&state.ctx.db, agency_id).await {
                Ok(_) => Ok((KeyScope::Agency, Some(agency_id), None)),
                Err(StoreError::NotFound) => Err(ApiError::field(
                    "agencyId",
                    "unknown_agency",
                    "no such agency",
                )),
                Err(other) => Err(other.into()),
            }
        }
        (None, Some(tenant_id)) => {
            match crate::store::tenants::find(&state.ctx.db, caller.tenant_scope(), tenant_id).await
            {
                Ok(_) => Ok((KeyScope::Tenant, None, Some(tenant_id))),
                Err(StoreError::NotFound) => Err(ApiError::field(
                    "tenantId",
                    "unknown_tenant",
                    "no such tenant",
                )),
                Err(other) => Err(other.into()),
            }
        }
    }
}

/// Create an API key.
///
/// Without ids it is a platform key (platform callers only); with `agencyId` an agency key
/// (platform callers only); with `tenantId` a key for a tenant the caller can see (platform
/// and agency callers; tenant keys mint no keys).
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = crate::http::error::Problem)))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateApiKeyRequest>,
) -> ApiResult<Response> {
    let mut violations = Violations::default();
    violations.length("name", &request.name, 1, 255);
    violations.finish(|| ())?;
    let (scope, agency_id, tenant_id) = scope_for(&state, &caller, &request).await?;
    let (api_key, key) = state
        .ctx
        .db
        .create_api_key(&request.name, scope, agency_id, tenant_id)
        .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(CreatedApiKey {
            api_key,
            key: Some(key),
        }),
    )
        .into_response();
    response.extensions_mut().insert(SecretFields(&["key"]));
    Ok(response)
}

/// List the keys the caller can see; secrets are never listed.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(PageParams),
    responses((status = 200, body = Page<ApiKey>)))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<ApiKey>>> {
    let limit = page.limit()?;
    let keys = state
        .ctx
        .db
        .list_api_keys(caller.tenant_scope(), page.after()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(keys, limit, |key| key.id)))
}

/// Revoke a key; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{apiKeyId}", tag = "api-keys",
    params(("apiKeyId" = ApiKeyId, Path)),
    responses((status = 204, description = "Revoked"), (status = 403, body = crate::http::error::Problem)))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<ApiKeyId>,
) -> ApiResult<StatusCode> {
    let key = state
        .ctx
        .db
        .find_api_key(caller.tenant_scope(), id)
        .await
        .map_err(not_found("API key"))?;
    let target = match key.scope {
        KeyScope::Platform => Target::Platform,
        KeyScope::Agency => Target::Catalog,
        KeyScope::Tenant => Target::Catalog,
    };
    policy::decide(&caller, Action::RevokeKey, &target).map_err(Error::refused("API key"))?;
    state.ctx.db.revoke_api_key(key.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

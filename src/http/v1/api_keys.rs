//! `/api/v1/api-keys`: mint, list and revoke keys. Secrets are shown once, at creation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::api_key::{ApiKey, KeyEnvironment, KeyScope};
use crate::domain::ids::{AgencyId, ApiKeyId, TenantId};
use crate::domain::policy::{act, ApiScope, Role};
use crate::domain::time::BoundedTime;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{Json, Query};
use crate::http::idempotency::SecretFields;
use crate::http::pagination::{Page, PageParams};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::api_keys::{self, NewKey};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// A key as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiKey)]
pub struct ApiKeyBody {
    pub id: ApiKeyId,
    pub name: String,
    pub scope: KeyScope,
    pub agency_id: Option<AgencyId>,
    pub tenant_id: Option<TenantId>,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    /// The role it acts in.
    pub role: Role,
    /// Its scopes; absent when it is unscoped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<ApiScope>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub environment: KeyEnvironment,
    pub created_at: DateTime<Utc>,
}

impl From<ApiKey> for ApiKeyBody {
    fn from(key: ApiKey) -> Self {
        ApiKeyBody {
            id: key.id,
            name: key.name,
            scope: key.owner.kind(),
            agency_id: key.owner.agency_id(),
            tenant_id: key.owner.tenant_id(),
            prefix: key.prefix,
            role: key.role,
            scopes: key.scopes.map(|scopes| scopes.iter().collect()),
            expires_at: key.expires_at,
            environment: key.environment,
            created_at: key.created_at,
        }
    }
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
    /// A role of the key's level that may do no more than the caller; by default the level's
    /// full role (`Admin`, `AgencyManager`, `TenantOwner`).
    #[serde(default)]
    pub role: Option<Role>,
    /// Limits the key to these scopes (within the caller's own); without them it may do
    /// whatever its role may.
    #[serde(default)]
    #[schema(max_items = 15)]
    pub scopes: Option<Vec<ApiScope>>,
    /// When the key stops working (in the future).
    #[serde(default)]
    pub expires_at: Option<BoundedTime>,
    /// `test` makes a sandbox key, whose secret starts `tnt_test_`; `live` (`tnt_live_`) by
    /// default.
    #[serde(default)]
    pub environment: Option<KeyEnvironment>,
}

/// A new key, with its secret; the secret is never shown again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyBody,
    /// The bearer secret. Store it now: only its hash is kept, so an idempotent replay of this
    /// answer has `null` here.
    pub key: Option<String>,
}

/// Create an API key.
///
/// Without ids it is a platform key (platform callers only); with `agencyId` an agency key
/// (platform callers only); with `tenantId` a key for a tenant the caller can see (platform
/// and agency callers; tenant keys mint no keys).
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = Problem)))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateApiKeyRequest>,
) -> ApiResult<Response> {
    let new = NewKey {
        name: request.name,
        agency_id: request.agency_id,
        tenant_id: request.tenant_id,
        role: request.role,
        scopes: request.scopes.map(|scopes| scopes.into_iter().collect()),
        expires_at: request.expires_at.map(BoundedTime::get),
        environment: request.environment,
    };
    let (api_key, secret) = api_keys::mint(&state.ctx, &caller, new).await?;
    let body = CreatedApiKey {
        api_key: api_key.into(),
        key: Some(secret),
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    // The secret is shown once: an idempotent replay has it as `null`.
    response.extensions_mut().insert(SecretFields(&["key"]));
    Ok(response)
}

/// List the keys the caller can see; secrets are never listed.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(PageParams),
    responses((status = 200, body = Page<ApiKeyBody>)))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<ApiKeyBody>>> {
    let limit = page.limit()?;
    let keys = api_keys::list(&state.ctx, &caller, page.after()?, limit + 1).await?;
    let keys = keys.into_iter().map(ApiKeyBody::from).collect();
    Ok(Json(Page::from_rows(keys, limit, |key| key.id)))
}

/// Revoke a key; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{apiKeyId}", tag = "api-keys",
    params(("apiKeyId" = ApiKeyId, Path)),
    responses((status = 204, description = "Revoked"), (status = 403, body = Problem)))]
async fn revoke_key(
    State(state): State<AppState>,
    InPath(key): InPath<ApiKey, act::RevokeKey>,
) -> ApiResult<StatusCode> {
    api_keys::revoke(&state.ctx, key).await?;
    Ok(StatusCode::NO_CONTENT)
}

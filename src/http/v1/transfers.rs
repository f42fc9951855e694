//! Transfers (seed 003): `POST /api/v1/tenants/{tenantId}/transfer`, and
//! `/api/v1/transfers` to list, read, accept, reject and cancel them.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::ids::{AgencyId, TenantId, TransferId};
use crate::domain::policy::act;
use crate::domain::transfer::{Decision, Transfer, TransferDirection, TransferState};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{decode_cursor, page_limit, Page};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::tenants::TenantRef;
use crate::service::transfers::{self, TransferRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_transfer))
        .routes(routes!(list_transfers))
        .routes(routes!(get_transfer))
        .routes(routes!(accept_transfer))
        .routes(routes!(reject_transfer))
        .routes(routes!(cancel_transfer))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Transfer)]
pub struct TransferBody {
    pub id: TransferId,
    pub tenant_id: TenantId,
    /// The agency the tenant leaves; `null` for a self-managed tenant.
    pub source_agency_id: Option<AgencyId>,
    /// The agency it joins; `null` to become self-managed.
    pub target_agency_id: Option<AgencyId>,
    pub note: Option<String>,
    pub state: TransferState,
    pub created_at: DateTime<Utc>,
    /// When a pending transfer expires: seven days after its request.
    pub expires_at: DateTime<Utc>,
    /// When it was accepted, rejected, cancelled or expired.
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<Transfer> for TransferBody {
    fn from(transfer: Transfer) -> Self {
        let now = Utc::now();
        let state = transfer.state(now);
        let decided_at = match state {
            TransferState::Expired => transfer.decided_at.or(Some(transfer.expires_at)),
            _ => transfer.decided_at,
        };
        TransferBody {
            id: transfer.id,
            tenant_id: transfer.tenant_id,
            source_agency_id: transfer.source_agency_id,
            target_agency_id: transfer.target_agency_id,
            note: transfer.note,
            state,
            created_at: transfer.created_at,
            expires_at: transfer.expires_at,
            decided_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransferTenantRequest {
    /// The agency to move the tenant to; `null` makes it self-managed (the platform accepts).
    #[serde(default)]
    pub target_agency_id: Option<AgencyId>,
    /// For the target agency.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1000)]
    pub note: Option<String>,
}

/// Offer a tenant to another agency (seed 003).
///
/// Creates a `pending` transfer that the target agency accepts or rejects within seven days
/// (`targetAgencyId: null`: the platform, to make the tenant self-managed); the source agency
/// may cancel it. A tenant has one pending transfer at most: another is a 409
/// `transfer_pending`.
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/transfer", tag = "transfers",
    params(("tenantId" = TenantId, Path)), request_body = TransferTenantRequest,
    responses((status = 201, body = TransferBody)))]
async fn request_transfer(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::TransferTenant>,
    Json(request): Json<TransferTenantRequest>,
) -> ApiResult<(StatusCode, Json<TransferBody>)> {
    let request = TransferRequest {
        target: request.target_agency_id,
        note: request.note,
    };
    let transfer = transfers::request(&state.ctx, tenant, request).await?;
    Ok((StatusCode::CREATED, Json(transfer.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListTransfersParams {
    /// `incoming` (to the caller's agency) or `outgoing` (from it); both when absent. For the
    /// platform, to and from self-managed.
    pub direction: Option<TransferDirection>,
    pub state: Option<TransferState>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// List transfers, newest first.
#[utoipa::path(get, path = "/api/v1/transfers", tag = "transfers",
    params(ListTransfersParams),
    responses((status = 200, body = Page<TransferBody>)))]
async fn list_transfers(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListTransfersParams>,
) -> ApiResult<Json<Page<TransferBody>>> {
    let limit = page_limit(params.limit)?;
    let before = params.cursor.as_deref().map(decode_cursor::<TransferId>);
    let (direction, wanted) = (params.direction, params.state);
    let rows = transfers::list(
        &state.ctx,
        &caller,
        direction,
        wanted,
        before.transpose()?,
        limit + 1,
    )
    .await?;
    let rows = rows.into_iter().map(TransferBody::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |transfer| transfer.id)))
}

/// Get a transfer.
#[utoipa::path(get, path = "/api/v1/transfers/{transferId}", tag = "transfers",
    params(("transferId" = TransferId, Path)),
    responses((status = 200, body = TransferBody)))]
async fn get_transfer(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TransferId>,
) -> ApiResult<Json<TransferBody>> {
    Ok(Json(transfers::get(&state.ctx, &caller, id).await?.into()))
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    id: TransferId,
    decision: Decision,
) -> ApiResult<Json<TransferBody>> {
    let transfer = transfers::decide(&state.ctx, caller, id, decision).await?;
    Ok(Json(transfer.into()))
}

/// Accept a transfer: the tenant moves to the target agency at once, with all its data,
/// agents and numbers. For the target agency (the platform, for self-managed).
#[utoipa::path(post, path = "/api/v1/transfers/{transferId}/accept", tag = "transfers",
    params(("transferId" = TransferId, Path)),
    responses((status = 200, body = TransferBody)))]
async fn accept_transfer(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TransferId>,
) -> ApiResult<Json<TransferBody>> {
    decide(&state, &caller, id, Decision::Accept).await
}

/// Reject a transfer. For the target agency.
#[utoipa::path(post, path = "/api/v1/transfers/{transferId}/reject", tag = "transfers",
    params(("transferId" = TransferId, Path)),
    responses((status = 200, body = TransferBody)))]
async fn reject_transfer(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TransferId>,
) -> ApiResult<Json<TransferBody>> {
    decide(&state, &caller, id, Decision::Reject).await
}

/// Cancel a transfer. For the source agency.
#[utoipa::path(post, path = "/api/v1/transfers/{transferId}/cancel", tag = "transfers",
    params(("transferId" = TransferId, Path)),
    responses((status = 200, body = TransferBody)))]
async fn cancel_transfer(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId<TransferId>,
) -> ApiResult<Json<TransferBody>> {
    decide(&state, &caller, id, Decision::Cancel).await
}

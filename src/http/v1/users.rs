//! `/api/v1/users` and `/api/v1/tenants/{tenantId}/users`: members and their invitations,
//! as Voisnap describes its Users API. Lists are numbered pages (`page`, `pageSize`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::ids::{AgencyId, InvitationId, TenantId, UserId};
use crate::domain::policy::{act, Role};
use crate::domain::user::{Invitation, InvitationState, Member, MemberStatus, Permissions};
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{Page, PageParams};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::tenants::TenantRef;
use crate::service::users::{self, InviteRequest, Issued, Place};
use crate::store::users::{MemberChange, MemberFilter};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(invite_user))
        .routes(routes!(get_user, update_user, remove_user))
        .routes(routes!(list_tenant_users))
        .routes(routes!(invite_tenant_user))
        .routes(routes!(
            get_tenant_user,
            update_tenant_user,
            remove_tenant_user
        ))
        .routes(routes!(list_invitations))
        .routes(routes!(list_tenant_invitations))
        .routes(routes!(resend_invitation))
        .routes(routes!(revoke_invitation))
}

/// What a member's role allows, in Voisnap's terms.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionsBody {
    pub can_manage_api_keys: bool,
    pub can_view_billing: bool,
    pub can_delete_conversations: bool,
}

impl From<Permissions> for PermissionsBody {
    fn from(p: Permissions) -> Self {
        PermissionsBody {
            can_manage_api_keys: p.can_manage_api_keys,
            can_view_billing: p.can_view_billing,
            can_delete_conversations: p.can_delete_conversations,
        }
    }
}

/// A user as a member of the platform, an agency or a tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct UserBody {
    pub id: UserId,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Their role here.
    pub role: Role,
    pub status: MemberStatus,
    pub mfa_enabled: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub invited_by: Option<UserId>,
    /// Set for a tenant membership.
    pub tenant_id: Option<TenantId>,
    /// Set for an agency membership.
    pub agency_id: Option<AgencyId>,
    pub permissions: PermissionsBody,
}

impl From<Member> for UserBody {
    fn from(member: Member) -> Self {
        use crate::domain::access::Scope;
        let (tenant_id, agency_id) = match member.scope {
            Scope::Platform => (None, None),
            Scope::Agency(id) => (None, Some(id)),
            Scope::Tenant(id) => (Some(id), None),
        };
        UserBody {
            permissions: member.permissions().into(),
            id: member.user_id,
            email: member.email,
            first_name: member.first_name,
            last_name: member.last_name,
            role: member.role,
            status: member.status,
            mfa_enabled: member.mfa_enabled,
            last_login_at: member.last_login_at,
            created_at: member.created_at,
            invited_by: member.invited_by,
            tenant_id,
            agency_id,
        }
    }
}

/// A numbered page, as Voisnap lists.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub data: Vec<UserBody>,
    pub page: i64,
    pub page_size: i64,
    pub total: i64,
    pub total_pages: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Only members in this role.
    pub role: Option<Role>,
    /// Only members in this state.
    pub status: Option<MemberStatus>,
    /// Part of the email, first or last name, in any case.
    #[param(max_length = 254)]
    pub search: Option<String>,
    /// 1-based page number.
    #[param(minimum = 1, default = 1)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub page_size: Option<i64>,
}

const MAX_PAGE: i64 = 1_000_000;

impl UserListParams {
    fn filter(&self) -> ApiResult<(MemberFilter, i64, i64)> {
        if let Some(search) = &self.search {
            if search.chars().count() > 254 {
                return Err(ApiError::field(
                    "search",
                    "invalid_length",
                    "must be at most 254 characters",
                ));
            }
        }
        let page = self.page.unwrap_or(1);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(ApiError::field(
                "page",
                "out_of_range",
                "must be between 1 and 1000000",
            ));
        }
        let size = self.page_size.unwrap_or(20);
        if !(1..=100).contains(&size) {
            return Err(ApiError::field(
                "pageSize",
                "out_of_range",
                "must be between 1 and 100",
            ));
        }
        let filter = MemberFilter {
            role: self.role,
            status: self.status,
            search: self.search.clone().filter(|s| !s.is_empty()),
        };
        Ok((filter, page, size))
    }
}

async fn list_in(
    state: &AppState,
    caller: &Caller,
    place: Place,
    params: UserListParams,
) -> ApiResult<Json<UserPage>> {
    let (filter, page, page_size) = params.filter()?;
    let listed = users::list(&state.ctx, caller, place, &filter, page, page_size).await?;
    Ok(Json(UserPage {
        data: listed.members.into_iter().map(UserBody::from).collect(),
        page,
        page_size,
        total: listed.total,
        total_pages: (listed.total + page_size - 1) / page_size,
    }))
}

/// List the members of the caller's own platform, agency or tenant.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserListParams),
    responses((status = 200, body = UserPage)))]
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<UserListParams>,
) -> ApiResult<Json<UserPage>> {
    list_in(&state, &caller, Place::Own, params).await
}

/// List a tenant's members.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/users", tag = "users",
    params(("tenantId" = TenantId, Path), UserListParams),
    responses((status = 200, body = UserPage)))]
async fn list_tenant_users(
    State(state): State<AppState>,
    caller: Caller,
    InPath(tenant): InPath<TenantRef, act::ReadUsers>,
    Query(params): Query<UserListParams>,
) -> ApiResult<Json<UserPage>> {
    list_in(&state, &caller, Place::Tenant(tenant.get().id), params).await
}

/// Who to invite (seed 003's body).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InviteUserRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// A role of the level invited into, that can do no more than the caller's.
    pub role: Role,
    /// Invites into this agency (platform callers, on `/api/v1/users/invite`).
    #[serde(default)]
    pub agency_id: Option<AgencyId>,
}

impl InviteUserRequest {
    fn into_parts(self) -> (Option<AgencyId>, InviteRequest) {
        let request = InviteRequest {
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            role: self.role,
        };
        (self.agency_id, request)
    }
}

/// An invitation as its inviters see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Invitation)]
pub struct InvitationBody {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    /// `pending`, `accepted` or `expired`.
    #[schema(value_type = String, example = "pending")]
    pub status: &'static str,
    pub user_id: UserId,
    pub tenant_id: Option<TenantId>,
    pub agency_id: Option<AgencyId>,
    pub invited_by: Option<UserId>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

impl From<Invitation> for InvitationBody {
    fn from(invitation: Invitation) -> Self {
        use crate::domain::access::Scope;
        let state: InvitationState = invitation.state(Utc::now());
        let (tenant_id, agency_id) = match invitation.scope {
            Scope::Platform => (None, None),
            Scope::Agency(id) => (None, Some(id)),
            Scope::Tenant(id) => (Some(id), invitation.agency_of_tenant),
        };
        InvitationBody {
            id: invitation.id,
            email: invitation.email,
            role: invitation.role,
            status: state.into(),
            user_id: invitation.user_id,
            tenant_id,
            agency_id,
            invited_by: invitation.invited_by,
            expires_at: invitation.expires_at,
            created_at: invitation.created_at,
            accepted_at: invitation.accepted_at,
        }
    }
}

/// A new or renewed invitation. Its link went to the invitee by email; the token is never
/// shown to the inviter.
fn issued(status: StatusCode, issued: Issued) -> Response {
    (status, Json(InvitationBody::from(issued.invitation))).into_response()
}

/// Invite someone into the caller's own agency or platform (or, for platform callers, the
/// agency in `agencyId`). Tenant callers invite into their tenant. The link is emailed and
/// expires after 7 days.
#[utoipa::path(post, path = "/api/v1/users/invite", tag = "users",
    request_body = InviteUserRequest,
    responses((status = 201, body = InvitationBody), (status = 409, body = Problem)))]
async fn invite_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<InviteUserRequest>,
) -> ApiResult<Response> {
    let (agency, request) = request.into_parts();
    let place = agency.map_or(Place::Own, Place::Agency);
    let invited = users::invite(&state.ctx, &caller, place, request).await?;
    Ok(issued(StatusCode::CREATED, invited))
}

/// Invite someone into a tenant, in a tenant role (seed 003).
#[utoipa::path(post, path = "/api/v1/tenants/{tenantId}/users/invite", tag = "users",
    params(("tenantId" = TenantId, Path)), request_body = InviteUserRequest,
    responses((status = 201, body = InvitationBody), (status = 409, body = Problem)))]
async fn invite_tenant_user(
    State(state): State<AppState>,
    caller: Caller,
    InPath(tenant): InPath<TenantRef, act::ManageTenantUsers>,
    Json(request): Json<InviteUserRequest>,
) -> ApiResult<Response> {
    let (agency, request) = request.into_parts();
    if agency.is_some() {
        return Err(ApiError::field(
            "agencyId",
            "not_allowed",
            "the tenant is named by the path",
        ));
    }
    let invited =
        users::invite(&state.ctx, &caller, Place::Tenant(tenant.get().id), request).await?;
    Ok(issued(StatusCode::CREATED, invited))
}

/// Get a member of the caller's own platform, agency or tenant.
#[utoipa::path(get, path = "/api/v1/users/{userId}", tag = "users",
    params(("userId" = UserId, Path)), responses((status = 200, body = UserBody)))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    PathId(user): PathId<UserId>,
) -> ApiResult<Json<UserBody>> {
    let member = users::get(&state.ctx, &caller, Place::Own, user).await?;
    Ok(Json(member.into()))
}

/// Get a member of a tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/users/{userId}", tag = "users",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    responses((status = 200, body = UserBody)))]
async fn get_tenant_user(
    State(state): State<AppState>,
    caller: Caller,
    InPath(tenant): InPath<TenantRef, act::ReadUsers>,
    PathId(user): PathId<UserId>,
) -> ApiResult<Json<UserBody>> {
    let member = users::get(&state.ctx, &caller, Place::Tenant(tenant.get().id), user).await?;
    Ok(Json(member.into()))
}

/// A change to a member; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateUserRequest {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    /// `active` or `disabled`; a disabled member's sessions here end at once.
    #[serde(default)]
    pub status: Option<MemberStatus>,
}

impl UpdateUserRequest {
    fn into_change(self) -> MemberChange {
        MemberChange {
            first_name: self.first_name,
            last_name: self.last_name,
            role: self.role,
            status: self.status,
        }
    }
}

/// Change a member of the caller's own platform, agency or tenant. Demoting or disabling a
/// tenant's last active `TenantOwner` is a 409.
#[utoipa::path(patch, path = "/api/v1/users/{userId}", tag = "users",
    params(("userId" = UserId, Path)), request_body = UpdateUserRequest,
    responses((status = 200, body = UserBody), (status = 409, body = Problem)))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    PathId(user): PathId<UserId>,
    Json(request): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserBody>> {
    let change = request.into_change();
    let member = users::update(&state.ctx, &caller, Place::Own, user, change).await?;
    Ok(Json(member.into()))
}

/// Change a member of a tenant. Demoting or disabling its last active `TenantOwner` is a 409.
#[utoipa::path(patch, path = "/api/v1/tenants/{tenantId}/users/{userId}", tag = "users",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = UserBody), (status = 409, body = Problem)))]
async fn update_tenant_user(
    State(state): State<AppState>,
    caller: Caller,
    InPath(tenant): InPath<TenantRef, act::ManageTenantUsers>,
    PathId(user): PathId<UserId>,
    Json(request): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserBody>> {
    let change = request.into_change();
    let member = users::update(
        &state.ctx,
        &caller,
        Place::Tenant(tenant.get().id),
        user,
        change,
    )
    .await?;
    Ok(Json(member.into()))
}

/// Remove a member from the caller's own platform, agency or tenant.
#[utoipa::path(delete, path = "/api/v1/users/{userId}", tag = "users",
    params(("userId" = UserId, Path)),
    responses((status = 204, description = "Removed"), (status = 409, body = Problem)))]
async fn remove_user(
    State(state): State<AppState>,
    caller: Caller,
    PathId(user): PathId<UserId>,
) -> ApiResult<StatusCode> {
    users::remove(&state.ctx, &caller, Place::Own, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member from a tenant. Removing its last active `TenantOwner` is a 409.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenantId}/users/{userId}", tag = "users",
    params(("tenantId" = TenantId, Path), ("userId" = UserId, Path)),
    responses((status = 204, description = "Removed"), (status = 409, body = Problem)))]
async fn remove_tenant_user(
    State(state): State<AppState>,
    caller: Caller,
    InPath(tenant): InPath<TenantRef, act::ManageTenantUsers>,
    PathId(user): PathId<UserId>,
) -> ApiResult<StatusCode> {
    users::remove(&state.ctx, &caller, Place::Tenant(tenant.get().id), user).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn invitations_in(
    state: &AppState,
    caller: &Caller,
    place: Place,
    page: PageParams,
) -> ApiResult<Json<Page<InvitationBody>>> {
    let limit = page.limit()?;
    let rows = users::invitations(&state.ctx, caller, place, page.after()?, limit + 1).await?;
    let rows = rows.into_iter().map(InvitationBody::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |invitation| {
        invitation.id
    })))
}

/// List the invitations into the caller's own platform, agency or tenant.
#[utoipa::path(get, path = "/api/v1/users/invitations", tag = "users", params(PageParams),
    responses((status = 200, body = Page<InvitationBody>)))]
async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<InvitationBody>>> {
    invitations_in(&state, &caller, Place::Own, page).await
}

/// List the invitations into a tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/invitations", tag = "users",
    params(("tenantId" = TenantId, Path), PageParams),
    responses((status = 200, body = Page<InvitationBody>)))]
async fn list_tenant_invitations(
    State(state): State<AppState>,
    caller: Caller,
    InPath(tenant): InPath<TenantRef, act::ReadUsers>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<InvitationBody>>> {
    invitations_in(&state, &caller, Place::Tenant(tenant.get().id), page).await
}

/// Send an invitation again with a new link, valid for another 7 days; the old link stops
/// working.
#[utoipa::path(post, path = "/api/v1/users/invitations/{invitationId}/resend", tag = "users",
    params(("invitationId" = InvitationId, Path)),
    responses((status = 200, body = InvitationBody), (status = 409, body = Problem)))]
async fn resend_invitation(
    State(state): State<AppState>,
    InPath(invitation): InPath<Invitation, act::ReadUsers>,
) -> ApiResult<Response> {
    let caller = *invitation.caller();
    let renewed = users::resend(&state.ctx, &caller, invitation.into_inner()).await?;
    Ok(issued(StatusCode::OK, renewed))
}

/// Revoke an invitation that was not accepted; its link stops working.
#[utoipa::path(delete, path = "/api/v1/users/invitations/{invitationId}", tag = "users",
    params(("invitationId" = InvitationId, Path)),
    responses((status = 204, description = "Revoked"), (status = 409, body = Problem)))]
async fn revoke_invitation(
    State(state): State<AppState>,
    InPath(invitation): InPath<Invitation, act::ReadUsers>,
) -> ApiResult<StatusCode> {
    let caller = *invitation.caller();
    users::revoke(&state.ctx, &caller, invitation.into_inner()).await?;
    Ok(StatusCode::NO_CONTENT)
}

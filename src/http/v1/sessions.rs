//! People's sessions: logging in and out, the person behind a session, MFA enrollment,
//! password reset, and the invitation links. The routes an anonymous person calls (login,
//! reset, invitation links) are [`public_router`]; the rest need a session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::users::UserBody;
use crate::domain::access::Caller;
use crate::domain::ids::{AgencyId, InvitationId, TenantId};
use crate::domain::policy::Role;
use crate::http::auth::presented_key;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{raw_path_param, Json};
use crate::http::idempotency::SecretFields;
use crate::http::AppState;
use crate::service::sessions::{self, LoginRequest};
use crate::service::users::{self, AcceptRequest};

/// Routes that need a session (or, for reading oneself, any caller that is a person).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(enroll_mfa))
        .routes(routes!(confirm_mfa))
        .routes(routes!(disable_mfa))
}

/// Routes for people who hold no session yet.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(request_password_reset))
        .routes(routes!(reset_password))
        .routes(routes!(show_invitation))
        .routes(routes!(accept_invitation))
}

/// The token of an invitation link, from the path.
struct Token(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Token {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let (_, token) = raw_path_param(parts, state, &["token"]).await?;
        Ok(Token(token))
    }
}

/// The client's address, which failed logins are also counted by.
fn client(connection: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<std::net::IpAddr> {
    connection.map(|Extension(ConnectInfo(address))| address.ip())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSessionRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    #[schema(max_length = 256)]
    pub password: String,
    /// The authenticator app's current code, for accounts with MFA.
    #[serde(default)]
    #[schema(example = "123456")]
    pub code: Option<String>,
    /// A single-use recovery code, instead of `code`.
    #[serde(default)]
    pub recovery_code: Option<String>,
    /// Act as a member of this tenant (by default: the widest membership).
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
    /// Act as a member of this agency.
    #[serde(default)]
    pub agency_id: Option<AgencyId>,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionBody {
    /// The bearer token (`tnt_ses_…`); send it as `Authorization: Bearer <token>`.
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    /// The membership the session acts through.
    pub user: UserBody,
    /// Every active membership; log in again with `tenantId` or `agencyId` to act in another.
    pub memberships: Vec<UserBody>,
}

/// Log in with email and password (and a TOTP or recovery code when MFA is on). Every wrong
/// answer is the same 401, whether or not the address has an account; five failures in 15
/// minutes lock the address for 15 minutes (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", security(()),
    request_body = CreateSessionRequest,
    responses((status = 201, body = SessionBody), (status = 401, body = Problem),
        (status = 429, body = Problem)))]
async fn login(
    State(state): State<AppState>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(request): Json<CreateSessionRequest>,
) -> ApiResult<Response> {
    let request = LoginRequest {
        email: request.email,
        password: request.password,
        code: request.code,
        recovery_code: request.recovery_code,
        tenant_id: request.tenant_id,
        agency_id: request.agency_id,
    };
    let session = sessions::login(&state.ctx, request, client(connection)).await?;
    let body = SessionBody {
        token: session.token,
        token_type: "Bearer",
        expires_at: session.expires_at,
        user: session.member.into(),
        memberships: session
            .memberships
            .into_iter()
            .map(UserBody::from)
            .collect(),
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.extensions_mut().insert(SecretFields(&["token"]));
    Ok(response)
}

/// Log out: the session's token stops working.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions",
    responses((status = 204, description = "Logged out"), (status = 403, body = Problem)))]
async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    if caller.user().is_none() {
        return Err(crate::service::Error::Forbidden("only a session can be logged out").into());
    }
    let token = presented_key(&headers, false).ok_or(ApiError::Unauthorized)?;
    sessions::logout(&state.ctx, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The person behind the session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeBody {
    #[serde(flatten)]
    pub user: UserBody,
    /// Every membership of the person, in every state.
    pub memberships: Vec<UserBody>,
}

/// The person behind the session, as the member it acts as.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "sessions",
    responses((status = 200, body = MeBody), (status = 403, body = Problem)))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<MeBody>> {
    let (member, memberships) = sessions::me(&state.ctx, &caller).await?;
    Ok(Json(MeBody {
        user: member.into(),
        memberships: memberships.into_iter().map(UserBody::from).collect(),
    }))
}

/// A TOTP secret to add to an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaEnrollmentBody {
    /// Base32, for typing in.
    pub secret: String,
    /// `otpauth://totp/…`, for scanning.
    pub otpauth_url: String,
}

/// Start MFA enrollment: answers a TOTP secret. MFA is on once a code from it is confirmed.
#[utoipa::path(post, path = "/api/v1/users/me/mfa", tag = "sessions",
    responses((status = 201, body = MfaEnrollmentBody), (status = 409, body = Problem)))]
async fn enroll_mfa(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let enrollment = sessions::enroll(&state.ctx, &caller).await?;
    let body = MfaEnrollmentBody {
        secret: enrollment.secret,
        otpauth_url: enrollment.otpauth_url,
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .extensions_mut()
        .insert(SecretFields(&["secret", "otpauthUrl"]));
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MfaCodeRequest {
    /// The authenticator app's current code.
    #[serde(default)]
    #[schema(example = "123456")]
    pub code: Option<String>,
    /// A recovery code (to turn MFA off without the app).
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// Recovery codes, each good for one login without the app. Shown once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesBody {
    pub mfa_enabled: bool,
    pub recovery_codes: Vec<String>,
}

/// Confirm MFA enrollment with the app's current code; MFA is on from now on.
#[utoipa::path(post, path = "/api/v1/users/me/mfa/confirm", tag = "sessions",
    request_body = MfaCodeRequest,
    responses((status = 200, body = RecoveryCodesBody), (status = 422, body = Problem)))]
async fn confirm_mfa(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<MfaCodeRequest>,
) -> ApiResult<Response> {
    let code = request
        .code
        .ok_or_else(|| ApiError::field("code", "required", "is required"))?;
    let codes = sessions::confirm(&state.ctx, &caller, &code).await?;
    let body = RecoveryCodesBody {
        mfa_enabled: true,
        recovery_codes: codes,
    };
    let mut response = Json(body).into_response();
    response
        .extensions_mut()
        .insert(SecretFields(&["recoveryCodes"]));
    Ok(response)
}

/// Turn MFA off, proven with a current code or a recovery code.
#[utoipa::path(post, path = "/api/v1/users/me/mfa/disable", tag = "sessions",
    request_body = MfaCodeRequest,
    responses((status = 204, description = "MFA is off"), (status = 422, body = Problem)))]
async fn disable_mfa(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<MfaCodeRequest>,
) -> ApiResult<StatusCode> {
    sessions::disable(
        &state.ctx,
        &caller,
        request.code.as_deref(),
        request.recovery_code.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PasswordResetRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
}

/// Mail a password-reset link (single use, valid for one hour). Answers 202 whether or not
/// the address has an account.
#[utoipa::path(post, path = "/api/v1/password-reset", tag = "sessions", security(()),
    request_body = PasswordResetRequest,
    responses((status = 202, description = "If the address has an account, a link is on its way")))]
async fn request_password_reset(
    State(state): State<AppState>,
    Json(request): Json<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    sessions::request_reset(&state.ctx, &request.email).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfirmPasswordResetRequest {
    /// The token from the emailed link.
    pub token: String,
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
}

/// Set a new password with the emailed token. Every session of the account ends, and a lock
/// after failed logins is lifted. A used or expired link is a 410.
#[utoipa::path(post, path = "/api/v1/password-reset/confirm", tag = "sessions", security(()),
    request_body = ConfirmPasswordResetRequest,
    responses((status = 204, description = "The password is changed"),
        (status = 404, body = Problem), (status = 410, body = Problem)))]
async fn reset_password(
    State(state): State<AppState>,
    Json(request): Json<ConfirmPasswordResetRequest>,
) -> ApiResult<StatusCode> {
    sessions::reset(&state.ctx, &request.token, &request.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A named thing an invitation leads to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedBody {
    pub id: String,
    pub name: Option<String>,
}

/// Who sent an invitation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviterBody {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// An invitation as its link shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationViewBody {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
    /// The tenant it leads into, if a tenant.
    pub tenant: Option<NamedBody>,
    /// The agency it leads into, or the tenant's agency.
    pub agency: Option<NamedBody>,
    /// `null` when a key sent it.
    pub invited_by: Option<InviterBody>,
    /// Whether the address has an account already: it then accepts with its own password.
    pub account_exists: bool,
}

/// Show an invitation: where it leads, who sent it and in which role. Public: the token is
/// the credential. An accepted or expired one is a 410.
#[utoipa::path(get, path = "/api/v1/invitations/{token}", tag = "sessions", security(()),
    params(("token" = String, Path, description = "The token from the emailed link")),
    responses((status = 200, body = InvitationViewBody), (status = 404, body = Problem),
        (status = 410, body = Problem)))]
async fn show_invitation(
    State(state): State<AppState>,
    Token(token): Token,
) -> ApiResult<Json<InvitationViewBody>> {
    let shown = users::show(&state.ctx, &token).await?;
    let invitation = shown.invitation;
    let names = shown.names;
    let tenant = invitation.tenant_id().map(|id| NamedBody {
        id: id.to_string(),
        name: names.tenant.clone(),
    });
    let agency_id = match invitation.scope {
        crate::domain::access::Scope::Agency(id) => Some(id),
        _ => invitation.agency_of_tenant,
    };
    let agency = agency_id.map(|id| NamedBody {
        id: id.to_string(),
        name: names.agency.clone(),
    });
    let invited_by = invitation.invited_by.map(|_| InviterBody {
        name: names.inviter_name.clone(),
        email: names.inviter_email.clone(),
    });
    Ok(Json(InvitationViewBody {
        id: invitation.id,
        email: invitation.email,
        role: invitation.role,
        expires_at: invitation.expires_at,
        tenant,
        agency,
        invited_by,
        account_exists: shown.account_exists,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcceptInvitationRequest {
    /// A new password (10 to 256 characters), or the account's own when it has one.
    #[schema(max_length = 256)]
    pub password: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
}

/// Accept an invitation: the membership becomes active. A token works once; an expired one
/// is a 410.
#[utoipa::path(post, path = "/api/v1/invitations/{token}/accept", tag = "sessions", security(()),
    params(("token" = String, Path, description = "The token from the emailed link")),
    request_body = AcceptInvitationRequest,
    responses((status = 200, body = UserBody), (status = 401, body = Problem),
        (status = 410, body = Problem)))]
async fn accept_invitation(
    State(state): State<AppState>,
    Token(token): Token,
    Json(request): Json<AcceptInvitationRequest>,
) -> ApiResult<Json<UserBody>> {
    let request = AcceptRequest {
        password: request.password,
        first_name: request.first_name,
        last_name: request.last_name,
    };
    let member = users::accept(&state.ctx, &token, request).await?;
    Ok(Json(member.into()))
}

//! White-label, in Voisnap's shapes: `/api/v1/agency/white-label/branding` (an agency's, or
//! the platform's default), `/api/v1/tenants/{tenantId}/branding` (a tenant's own and what it
//! shows), `/api/v1/agency/white-label/domain` (the custom domain and its verification), and
//! the public `/api/v1/white-label/lookup` a console asks before anyone signs in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::branding::{Branding, BrandingUpdate, Colors};
use crate::domain::custom_domain::{CustomDomain, DomainStatus, VerificationMethod};
use crate::domain::ids::AgencyId;
use crate::domain::policy::act;
use crate::domain::values::HostName;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{created, Json, Query};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::branding::{self, TenantBranding};
use crate::service::custom_domains;
use crate::service::tenants::TenantRef;
use crate::service::Error;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_agency_branding, put_agency_branding))
        .routes(routes!(get_tenant_branding, put_tenant_branding))
        .routes(routes!(get_domain, register_domain, remove_domain))
        .routes(routes!(verify_domain))
}

/// Routes answered without a key.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(lookup))
}

/// A brand's colors, each a hex color: `#rgb`, `#rrggbb` or `#rrggbbaa`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = BrandingColors)]
pub struct ColorsBody {
    #[schema(pattern = "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]
    pub primary: Option<String>,
    #[schema(pattern = "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]
    pub primary_foreground: Option<String>,
    #[schema(pattern = "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]
    pub secondary: Option<String>,
    #[schema(pattern = "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]
    pub accent: Option<String>,
    #[schema(pattern = "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]
    pub background: Option<String>,
    #[schema(pattern = "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]
    pub foreground: Option<String>,
}

/// A branding record. In a `PUT` it replaces the record whole: a field left out or `null` is
/// unset, and shows the record beneath (a tenant's agency's, an agency's the platform's). In
/// an answer every field is present, `null` when unset. URLs are absolute `https` URLs.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = Branding)]
pub struct BrandingBody {
    #[schema(min_length = 1, max_length = 255)]
    pub company_name: Option<String>,
    /// The company's site (Trieve's `COMPANY_URL`).
    #[schema(pattern = "^https://", max_length = 2048)]
    pub company_url: Option<String>,
    #[schema(pattern = "^https://", max_length = 2048)]
    pub logo_url: Option<String>,
    /// The small square mark.
    #[schema(pattern = "^https://", max_length = 2048)]
    pub logomark_url: Option<String>,
    #[schema(pattern = "^https://", max_length = 2048)]
    pub favicon_url: Option<String>,
    /// A CSS font family, such as `Inter`, or a comma-separated stack.
    #[schema(min_length = 1, max_length = 100)]
    pub font_family: Option<String>,
    /// The host of the demos (Trieve's `DEMO_DOMAIN`), a lower-case host name.
    #[schema(max_length = 253)]
    pub demo_domain: Option<String>,
    #[schema(pattern = "^https://", max_length = 2048)]
    pub calendar_link: Option<String>,
    #[schema(pattern = "^https://", max_length = 2048)]
    pub slack_link: Option<String>,
    #[schema(pattern = "^https://", max_length = 2048)]
    pub linkedin_link: Option<String>,
    /// The support address.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// The support phone: digits, spaces, `+ - . ( )`.
    #[schema(max_length = 50)]
    pub phone: Option<String>,
    pub colors: ColorsBody,
}

impl From<Branding> for BrandingBody {
    fn from(branding: Branding) -> Self {
        let Colors {
            primary,
            primary_foreground,
            secondary,
            accent,
            background,
            foreground,
        } = branding.colors;
        BrandingBody {
            company_name: branding.company_name,
            company_url: branding.company_url,
            logo_url: branding.logo_url,
            logomark_url: branding.logomark_url,
            favicon_url: branding.favicon_url,
            font_family: branding.font_family,
            demo_domain: branding.demo_domain,
            calendar_link: branding.calendar_link,
            slack_link: branding.slack_link,
            linkedin_link: branding.linkedin_link,
            email: branding.email,
            phone: branding.phone,
            colors: ColorsBody {
                primary,
                primary_foreground,
                secondary,
                accent,
                background,
                foreground,
            },
        }
    }
}

impl BrandingBody {
    /// The record this body replaces the stored one with, every field checked.
    fn into_update(self) -> ApiResult<BrandingUpdate> {
        let ColorsBody {
            primary,
            primary_foreground,
            secondary,
            accent,
            background,
            foreground,
        } = self.colors;
        let branding = Branding {
            company_name: self.company_name,
            company_url: self.company_url,
            logo_url: self.logo_url,
            logomark_url: self.logomark_url,
            favicon_url: self.favicon_url,
            font_family: self.font_family,
            demo_domain: self.demo_domain,
            calendar_link: self.calendar_link,
            slack_link: self.slack_link,
            linkedin_link: self.linkedin_link,
            email: self.email,
            phone: self.phone,
            colors: Colors {
                primary,
                primary_foreground,
                secondary,
                accent,
                background,
                foreground,
            },
        };
        Ok(BrandingUpdate::replace(branding)?)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct WhiteLabelParams {
    /// Platform callers only: the agency (without it, branding is the platform's default, and
    /// a domain request is refused). An agency's callers get their own.
    pub agency_id: Option<AgencyId>,
}

/// The branding of the caller's agency, or the platform's default.
#[utoipa::path(get, path = "/api/v1/agency/white-label/branding", tag = "white-label",
    params(WhiteLabelParams),
    responses((status = 200, body = BrandingBody), (status = 403, body = Problem)))]
async fn get_agency_branding(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<WhiteLabelParams>,
) -> ApiResult<Json<BrandingBody>> {
    let record = branding::agency(&state.ctx, &caller, params.agency_id).await?;
    Ok(Json(record.branding.into()))
}

/// Replace the branding of the caller's agency, or the platform's default (platform keys
/// without `agencyId`). Fields left out are unset. Answers the record.
#[utoipa::path(put, path = "/api/v1/agency/white-label/branding", tag = "white-label",
    params(WhiteLabelParams), request_body = BrandingBody,
    responses((status = 200, body = BrandingBody), (status = 403, body = Problem)))]
async fn put_agency_branding(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<WhiteLabelParams>,
    Json(request): Json<BrandingBody>,
) -> ApiResult<Json<BrandingBody>> {
    let update = request.into_update()?;
    let record = branding::set_agency(&state.ctx, &caller, params.agency_id, update).await?;
    Ok(Json(record.branding.into()))
}

/// A tenant's own branding and what it shows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TenantBranding)]
pub struct TenantBrandingBody {
    /// The tenant's own record, as its last `PUT` set it.
    #[serde(rename = "override")]
    pub own: BrandingBody,
    /// What the tenant shows: each field of its own record, else its agency's, else the
    /// platform's default (`null` where none sets it).
    pub effective: BrandingBody,
}

impl From<TenantBranding> for TenantBrandingBody {
    fn from(branding: TenantBranding) -> Self {
        TenantBrandingBody {
            own: branding.own.into(),
            effective: branding.shown.into(),
        }
    }
}

/// A tenant's own branding (`override`) and what it shows (`effective`).
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/branding", tag = "white-label",
    params(("tenantId" = crate::domain::ids::TenantId, Path)),
    responses((status = 200, body = TenantBrandingBody)))]
async fn get_tenant_branding(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadBranding>,
) -> ApiResult<Json<TenantBrandingBody>> {
    Ok(Json(branding::tenant(&state.ctx, &tenant).await?.into()))
}

/// Replace a tenant's own branding, laid over its agency's. Fields left out are unset.
#[utoipa::path(put, path = "/api/v1/tenants/{tenantId}/branding", tag = "white-label",
    params(("tenantId" = crate::domain::ids::TenantId, Path)), request_body = BrandingBody,
    responses((status = 200, body = TenantBrandingBody), (status = 403, body = Problem)))]
async fn put_tenant_branding(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ManageTenantBranding>,
    Json(request): Json<BrandingBody>,
) -> ApiResult<Json<TenantBrandingBody>> {
    let update = request.into_update()?;
    Ok(Json(
        branding::set_tenant(&state.ctx, tenant, update)
            .await?
            .into(),
    ))
}

/// Whether the domain's certificate may be issued: `active` once the domain is verified.
/// tenantry terminates no TLS itself; the proxy in front of it issues the certificate.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SslStatus {
    Pending,
    Active,
}

/// An agency's custom domain.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomDomain)]
pub struct DomainBody {
    pub agency_id: AgencyId,
    pub domain: String,
    /// `pending_verification` until its CNAME points at `cnameTarget`, then `active` (what
    /// the issue calls verified).
    pub status: DomainStatus,
    /// The name the domain's CNAME record must point at.
    pub cname_target: String,
    /// `vsnp-verify-…`; shown for reference, the CNAME is what verifies.
    pub verification_token: String,
    pub ssl_status: SslStatus,
    /// Always `null`: certificates are the TLS proxy's.
    pub ssl_expires_at: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
    /// The last lookup of its CNAME, and why it did not verify.
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_check_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DomainBody {
    fn of(domain: CustomDomain, state: &AppState) -> DomainBody {
        let ssl_status = match domain.status {
            DomainStatus::Active => SslStatus::Active,
            DomainStatus::PendingVerification => SslStatus::Pending,
        };
        DomainBody {
            agency_id: domain.agency_id,
            domain: domain.domain.into_string(),
            status: domain.status,
            cname_target: state.ctx.domains.cname_target.to_string(),
            verification_token: domain.verification_token,
            ssl_status,
            ssl_expires_at: None,
            verified_at: domain.verified_at,
            last_checked_at: domain.last_checked_at,
            last_check_error: domain.last_check_error,
            created_at: domain.created_at,
            updated_at: domain.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterDomainRequest {
    /// A lower-case host name, such as `app.yourdomain.com`.
    #[schema(max_length = 253)]
    pub domain: String,
    /// Only `cname`.
    pub verification_method: VerificationMethod,
}

/// Register the agency's custom domain (it replaces one it had). Create a CNAME record from
/// it to `cnameTarget`, then verify.
#[utoipa::path(post, path = "/api/v1/agency/white-label/domain", tag = "white-label",
    params(WhiteLabelParams), request_body = RegisterDomainRequest,
    responses((status = 201, body = DomainBody), (status = 403, body = Problem),
        (status = 409, body = Problem)))]
async fn register_domain(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<WhiteLabelParams>,
    Json(request): Json<RegisterDomainRequest>,
) -> ApiResult<Response> {
    let domain = HostName::parse(&request.domain)
        .map_err(|problem| Error::field("domain", problem.code, problem.message))?;
    let VerificationMethod::Cname = request.verification_method;
    let registered =
        custom_domains::register(&state.ctx, &caller, params.agency_id, domain).await?;
    Ok(created(
        registered.updated_at,
        DomainBody::of(registered, &state),
    ))
}

/// The agency's custom domain.
#[utoipa::path(get, path = "/api/v1/agency/white-label/domain", tag = "white-label",
    params(WhiteLabelParams),
    responses((status = 200, body = DomainBody), (status = 403, body = Problem)))]
async fn get_domain(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<WhiteLabelParams>,
) -> ApiResult<Json<DomainBody>> {
    let domain = custom_domains::get(&state.ctx, &caller, params.agency_id).await?;
    Ok(Json(DomainBody::of(domain, &state)))
}

/// Remove the agency's custom domain: consoles on it no longer find the agency, and any
/// agency may register it.
#[utoipa::path(delete, path = "/api/v1/agency/white-label/domain", tag = "white-label",
    params(WhiteLabelParams),
    responses((status = 204, description = "Removed"), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
async fn remove_domain(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<WhiteLabelParams>,
) -> ApiResult<StatusCode> {
    custom_domains::remove(&state.ctx, &caller, params.agency_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Look up the domain's CNAME now: `active` when it points at `cnameTarget`, else still
/// pending with `lastCheckError` saying why.
#[utoipa::path(post, path = "/api/v1/agency/white-label/domain/verify", tag = "white-label",
    params(WhiteLabelParams),
    responses((status = 200, body = DomainBody), (status = 403, body = Problem)))]
async fn verify_domain(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<WhiteLabelParams>,
) -> ApiResult<Json<DomainBody>> {
    let domain = custom_domains::verify(&state.ctx, &caller, params.agency_id).await?;
    Ok(Json(DomainBody::of(domain, &state)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupParams {
    /// The `Host` a console was served on: its port, case and final dot do not matter.
    #[param(max_length = 300)]
    pub host: String,
}

/// The agency whose verified custom domain a console is served on, and what it shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WhiteLabelLookup)]
pub struct LookupBody {
    pub agency_id: AgencyId,
    /// The agency's branding over the platform's default.
    pub branding: BrandingBody,
}

/// Find the agency and branding of a verified custom domain, without a key: a console asks
/// before anyone signs in. A domain not verified, or no one's, is a 404.
#[utoipa::path(get, path = "/api/v1/white-label/lookup", tag = "white-label", security(()),
    params(LookupParams),
    responses((status = 200, body = LookupBody), (status = 404, body = Problem)))]
async fn lookup(
    State(state): State<AppState>,
    Query(params): Query<LookupParams>,
) -> ApiResult<Json<LookupBody>> {
    let (agency_id, branding) = branding::for_host(&state.ctx, &params.host)
        .await?
        .ok_or(Error::NotFound("custom domain"))?;
    Ok(Json(LookupBody {
        agency_id,
        branding: branding.into(),
    }))
}

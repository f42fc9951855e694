//! `/api/organization`: Trieve's organization endpoints over tenants. Each route maps Trieve's
//! shapes onto the use cases v1 calls; Trieve's `AdminOnly` and `OwnerOnly` become the policy
//! actions the extractors authorize (docs/TRIEVE.md lists them).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::{OrganizationHeader, OrganizationPath};
use super::request::{
    HeaderOrganization, OptionalOrganization, PathOrganization, Refusal, TrieveJson,
};
use super::shapes::{
    self, Organization, OrganizationUsageCount, OrganizationWithSubAndPlan, SlimUser,
    SubscriptionView,
};
use crate::domain::access::Caller;
use crate::domain::branding::BrandingUpdate;
use crate::domain::ids::{TenantId, TypedId};
use crate::domain::policy::{self, act};
use crate::domain::subscription::SubscriptionStatus;
use crate::domain::tenant::{
    BillingAlerts, NewTenant, Settings, Tenant, TenantProfile, TenantUpdate,
};
use crate::domain::user::{Member, MemberStatus};
use crate::domain::values::PlanCode;
use crate::http::extract::Json;
use crate::http::AppState;
use crate::service::tenants::TenantRef;
use crate::service::users::Place;
use crate::service::{branding, lifecycle, tenants, usage, users, Context, Error, Lookup};
use crate::store::users::MemberFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_organization, update_organization))
        .routes(routes!(get_organization, delete_organization))
        .routes(routes!(get_organization_usage))
        .routes(routes!(get_organization_users))
}

/// Trieve's answer to deleting an organization whose subscription still bills.
const ACTIVE_SUBSCRIPTION: &str = "Cannot delete organization with active subscription";

/// The tenant's subscription, as Trieve's shapes need it; read with the tenant.
fn tenant_subscription(tenant: &TenantProfile) -> Option<SubscriptionView> {
    tenant
        .subscription
        .as_ref()
        .map(|subscription| SubscriptionView {
            id: subscription.id.uuid(),
            organization_id: tenant.id.uuid(),
            plan_id: subscription.plan_id.uuid(),
            external_billing_id: subscription.external_billing_id.clone(),
            active: matches!(
                subscription.status,
                SubscriptionStatus::Active
                    | SubscriptionStatus::Trialing
                    | SubscriptionStatus::PastDue
            ) && !subscription.cancel_at_period_end,
            current_period_end: subscription.current_period_end,
            created_at: subscription.created_at,
            updated_at: subscription.updated_at,
        })
}

/// Tenant `id`'s profile, as the caller sees it.
async fn profile(ctx: &Context, caller: &Caller, id: TenantId) -> Result<TenantProfile, Refusal> {
    Ok(TenantProfile::lookup(ctx, caller, id)
        .await?
        .ok_or(Error::NotFound("organization"))?)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateOrganizationReqPayload {
    /// The organization's name.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateOrganizationReqPayload {
    /// A new name; absent or `null` keeps the name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// White-label settings under Trieve's keys; absent or `null` keeps them.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub partner_configuration: Option<Map<String, Value>>,
}

/// A tenant of the caller's agency (or a direct one, for the platform) on the `free` plan.
fn new_tenant(name: String) -> NewTenant {
    NewTenant {
        name,
        slug: None,
        plan: PlanCode::free(),
        agency_id: None,
        billing_mode: Default::default(),
        owner: None,
        limits: Default::default(),
        billing_alerts: BillingAlerts::default(),
        usage_alerts: Default::default(),
        settings: Settings::default(),
        recording_stated: false,
        metadata: Default::default(),
    }
}

/// Create Organization.
///
/// A tenant of the caller's agency (a direct tenant for a platform key) on the `free` plan.
/// Tenant keys cannot create organizations (403).
#[utoipa::path(post, path = "/api/organization", tag = "Organization",
    request_body = CreateOrganizationReqPayload,
    responses((status = 200, description = "The created organization", body = Organization)))]
async fn create_organization(
    State(state): State<AppState>,
    caller: Caller,
    _: OptionalOrganization,
    TrieveJson(body): TrieveJson<CreateOrganizationReqPayload>,
) -> Result<Json<Organization>, Refusal> {
    let tenant = tenants::create(&state.ctx, &caller, new_tenant(body.name)).await?;
    let tenant = profile(&state.ctx, &caller, tenant.id).await?;
    Ok(Json(shapes::organization(&tenant)))
}

/// Update Organization.
///
/// The organization is the one `TR-Organization` names. `partner_configuration` must be an
/// object.
#[utoipa::path(put, path = "/api/organization", tag = "Organization",
    params(OrganizationHeader),
    request_body = UpdateOrganizationReqPayload,
    responses((status = 200, description = "The updated organization", body = Organization)))]
async fn update_organization(
    State(state): State<AppState>,
    HeaderOrganization(tenant): HeaderOrganization<Tenant, act::UpdateTenant>,
    TrieveJson(body): TrieveJson<UpdateOrganizationReqPayload>,
) -> Result<Json<Organization>, Refusal> {
    let caller = *tenant.caller();
    let id = tenant.get().id;
    if let Some(configuration) = body.partner_configuration {
        // The same record as v1's tenant branding, under Trieve's keys.
        let update = BrandingUpdate::from_partner_configuration(&Value::Object(configuration))
            .map_err(Error::Invalid)?;
        let target = TenantRef {
            id,
            agency_id: tenant.get().agency_id,
        };
        let authorized =
            policy::authorize::<_, act::ManageTenantBranding>(&caller, target, &target.target())
                .map_err(Error::refused("organization"))?;
        branding::set_tenant(&state.ctx, authorized, update).await?;
    }
    if let Some(name) = body.name {
        let update = TenantUpdate {
            name: Some(name),
            ..TenantUpdate::default()
        };
        tenants::update(&state.ctx, tenant, None, update).await?;
    }
    let tenant = profile(&state.ctx, &caller, id).await?;
    Ok(Json(shapes::organization(&tenant)))
}

/// Get Organization.
///
/// The organization with its plan and its subscription (`null` when it has none or its
/// period has ended). `TR-Organization` must name the same organization.
#[utoipa::path(get, path = "/api/organization/{organization_id}", tag = "Organization",
    params(OrganizationHeader, OrganizationPath),
    responses((status = 200, description = "The organization, its plan and its subscription",
            body = OrganizationWithSubAndPlan)))]
async fn get_organization(
    PathOrganization(tenant): PathOrganization<TenantProfile, act::ReadTenant>,
) -> Result<Json<OrganizationWithSubAndPlan>, Refusal> {
    // The plan, the subscription and the branding were read with the tenant: no second query.
    let tenant = tenant.into_inner();
    Ok(Json(OrganizationWithSubAndPlan {
        organization: shapes::organization(&tenant),
        plan: Some(shapes::plan(&tenant.plan)),
        subscription: shapes::subscription(tenant_subscription(&tenant).as_ref(), Utc::now()),
    }))
}

/// Delete Organization.
///
/// A soft delete: the organization is gone from this API at once and purged after the grace
/// period (it can be restored through v1 until then). A 400 while its subscription bills.
#[utoipa::path(delete, path = "/api/organization/{organization_id}", tag = "Organization",
    params(OrganizationHeader, OrganizationPath),
    responses((status = 204, description = "Deleted")))]
async fn delete_organization(
    State(state): State<AppState>,
    PathOrganization(tenant): PathOrganization<TenantProfile, act::DeleteTenant>,
) -> Result<Response, Refusal> {
    let subscription = tenant_subscription(tenant.get());
    if shapes::subscription_blocks_delete(subscription.as_ref(), Utc::now()) {
        return Err(Refusal::bad_request(
            "active_subscription",
            ACTIVE_SUBSCRIPTION,
        ));
    }
    lifecycle::delete(&state.ctx, tenant.caller(), tenant.get().id, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Get Usage By Org Id.
///
/// This billing period's usage under the plan's names.
#[utoipa::path(get, path = "/api/organization/usage/{organization_id}", tag = "Organization",
    params(OrganizationHeader, OrganizationPath),
    responses((status = 200, description = "The organization's usage",
            body = OrganizationUsageCount)))]
async fn get_organization_usage(
    State(state): State<AppState>,
    PathOrganization(tenant): PathOrganization<TenantRef, act::ReadLimits>,
) -> Result<Json<OrganizationUsageCount>, Refusal> {
    let caller = *tenant.caller();
    let id = tenant.get().id;
    let report = usage::limits(&state.ctx, tenant).await?;
    let members = active_member_count(&state.ctx, &caller, id).await?;
    Ok(Json(shapes::usage(id.uuid(), &report, members)))
}

/// Get Organization Users.
///
/// The organization's active members, each with its membership here.
#[utoipa::path(get, path = "/api/organization/users/{organization_id}", tag = "Organization",
    params(OrganizationHeader, OrganizationPath),
    responses((status = 200, description = "The organization's members", body = Vec<SlimUser>)))]
async fn get_organization_users(
    State(state): State<AppState>,
    PathOrganization(tenant): PathOrganization<TenantProfile, act::ReadUsers>,
) -> Result<Json<Vec<SlimUser>>, Refusal> {
    let organization = shapes::organization(tenant.get());
    let members = active_members(&state.ctx, tenant.caller(), tenant.get().id).await?;
    let users = members
        .iter()
        .map(|member| shapes::slim_user(member, &organization))
        .collect();
    Ok(Json(users))
}

/// How many members one page of the users list reads.
const MEMBER_PAGE: i64 = 100;

/// The members Trieve shows: active ones (not those invited, nor those disabled).
fn active() -> MemberFilter {
    MemberFilter {
        status: Some(MemberStatus::Active),
        ..MemberFilter::default()
    }
}

async fn active_member_count(ctx: &Context, caller: &Caller, id: TenantId) -> Result<i64, Refusal> {
    Ok(users::list(ctx, caller, Place::Tenant(id), &active(), 1, 1)
        .await?
        .total)
}

/// Every active member of the tenant, a page at a time.
async fn active_members(
    ctx: &Context,
    caller: &Caller,
    id: TenantId,
) -> Result<Vec<Member>, Refusal> {
    let mut members = Vec::new();
    for page in 1.. {
        let listed =
            users::list(ctx, caller, Place::Tenant(id), &active(), page, MEMBER_PAGE).await?;
        let last = listed.members.len() < MEMBER_PAGE as usize;
        members.extend(listed.members);
        if last || members.len() as i64 >= listed.total {
            break;
        }
    }
    Ok(members)
}

//! Trieve's wire shapes, and the pure functions that map tenantry's objects onto them. Each
//! takes everything it maps as an argument, so a shape never costs a query of its own.
//!
//! The published client (`trieve-py-client` 0.12.12) reads integers and booleans strictly
//! (`StrictInt`, `StrictBool`): counts are JSON integers, `deleted` is `0` or `1`, `visible`
//! is `true`. Timestamps are Trieve's `NaiveDateTime` ([`TrieveTime`]).

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::TypedId;
use crate::domain::limits::{LimitKey, Limits};
use crate::domain::metering::LimitsReport;
use crate::domain::plan::Plan;
use crate::domain::policy::Role;
use crate::domain::tenant::{TenantProfile, TenantStatus};
use crate::domain::user::Member;

/// A time as Trieve writes a `NaiveDateTime`: UTC without a zone, `YYYY-MM-DDTHH:MM:SS`, with
/// a fraction of 3, 6 or 9 digits only when it is not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrieveTime(pub DateTime<Utc>);

impl Serialize for TrieveTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f"))
    }
}

impl utoipa::PartialSchema for TrieveTime {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "UTC without a zone; a fraction of 3, 6 or 9 digits only when not zero.",
            ))
            .pattern(Some(
                r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?$",
            ))
            .examples([serde_json::json!("2021-01-01T00:00:00")])
            .into()
    }
}

impl ToSchema for TrieveTime {}

/// What a count field says when the plan sets no limit: the largest `i32`, since Trieve's
/// counts are 32-bit and its client accepts nothing but integers.
pub const UNLIMITED: i32 = i32::MAX;

/// The tag of a flat plan or subscription, the only kind the client parses.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flat {
    Flat,
}

/// An organization: a tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub created_at: TrieveTime,
    pub updated_at: TrieveTime,
    /// Always `true`.
    pub registerable: bool,
    /// `1` once the organization is deleted, `0` before.
    #[schema(minimum = 0, maximum = 1)]
    pub deleted: i32,
    /// White-label settings under Trieve's nine keys, each filled with its default when unset.
    #[schema(value_type = Object)]
    pub partner_configuration: Map<String, Value>,
}

/// The organization `tenant` is, with its white-label settings under Trieve's nine keys as
/// `partner_configuration`.
pub fn organization(tenant: &TenantProfile) -> Organization {
    Organization {
        id: tenant.id.uuid(),
        name: tenant.name.clone(),
        created_at: TrieveTime(tenant.created_at),
        updated_at: TrieveTime(tenant.updated_at),
        registerable: true,
        deleted: i32::from(tenant.status == TenantStatus::Deleted),
        partner_configuration: tenant.branding.partner_configuration(),
    }
}

/// A flat plan, Trieve's `StripePlan` with its `type` tag.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StripePlan {
    #[serde(rename = "type")]
    pub kind: Flat,
    pub id: Uuid,
    /// The plan's external billing id, or `""`.
    pub stripe_id: String,
    pub name: String,
    /// `maxMinutesPerMonth`.
    pub chunk_count: i32,
    /// No entitlement bounds members: always unlimited.
    pub user_count: i32,
    /// `maxAgents`.
    pub dataset_count: i32,
    /// `monthlyCallLimit`.
    pub message_count: i32,
    /// `amountCents`.
    pub amount: i64,
    /// `maxFilesGb`, in megabytes.
    pub file_storage: i64,
    /// `monthlyCallLimit`.
    pub messages_per_month: i32,
    /// Always `true`.
    pub visible: bool,
    pub created_at: TrieveTime,
    pub updated_at: TrieveTime,
}

/// A limit of `limits` as a Trieve count: [`UNLIMITED`] when it is not set.
fn count(limits: &Limits, key: LimitKey) -> i32 {
    limits.get(key).map_or(UNLIMITED, fit)
}

/// A count within Trieve's `i32`.
fn fit(value: i64) -> i32 {
    i32::try_from(value.max(0)).unwrap_or(UNLIMITED)
}

/// A plan under Trieve's names; its counts are the plan's entitlements (docs/TRIEVE.md).
pub fn plan(plan: &Plan) -> StripePlan {
    let entitlements = &plan.fields.entitlements;
    let calls = count(entitlements, LimitKey::MonthlyCallLimit);
    StripePlan {
        kind: Flat::Flat,
        id: plan.id.uuid(),
        stripe_id: plan.fields.external_billing_id.clone().unwrap_or_default(),
        name: plan.fields.name.clone(),
        chunk_count: count(entitlements, LimitKey::MaxMinutesPerMonth),
        user_count: UNLIMITED,
        dataset_count: count(entitlements, LimitKey::MaxAgents),
        message_count: calls,
        amount: plan.fields.amount_cents,
        // Stored in megabytes already.
        file_storage: i64::from(count(entitlements, LimitKey::MaxFilesGb)),
        messages_per_month: calls,
        visible: true,
        created_at: TrieveTime(plan.created_at),
        updated_at: TrieveTime(plan.updated_at),
    }
}

/// What Trieve's subscription shape needs of a tenant's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub plan_id: Uuid,
    pub external_billing_id: Option<String>,
    /// Whether it still bills: active, trialing or past due, and not cancelled at the end of
    /// its period.
    pub active: bool,
    pub current_period_end: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A flat subscription, Trieve's `StripeSubscription` with its `type` tag.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StripeSubscription {
    #[serde(rename = "type")]
    pub kind: Flat,
    pub id: Uuid,
    /// The subscription's external billing id, or `""`.
    pub stripe_id: String,
    pub plan_id: Uuid,
    pub organization_id: Uuid,
    pub created_at: TrieveTime,
    pub updated_at: TrieveTime,
    pub current_period_end: Option<TrieveTime>,
}

/// The subscription as Trieve shows it: none when there is none or its period has ended.
pub fn subscription(
    subscription: Option<&SubscriptionView>,
    now: DateTime<Utc>,
) -> Option<StripeSubscription> {
    let subscription = subscription.filter(|s| s.current_period_end > now)?;
    Some(StripeSubscription {
        kind: Flat::Flat,
        id: subscription.id,
        stripe_id: subscription.external_billing_id.clone().unwrap_or_default(),
        plan_id: subscription.plan_id,
        organization_id: subscription.organization_id,
        created_at: TrieveTime(subscription.created_at),
        updated_at: TrieveTime(subscription.updated_at),
        current_period_end: Some(TrieveTime(subscription.current_period_end)),
    })
}

/// Whether an organization with this subscription may not be deleted: it still bills.
pub fn subscription_blocks_delete(
    subscription: Option<&SubscriptionView>,
    now: DateTime<Utc>,
) -> bool {
    subscription.is_some_and(|s| s.active && s.current_period_end > now)
}

/// An organization with its plan and subscription, as `GET /api/organization/{id}` answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationWithSubAndPlan {
    pub organization: Organization,
    pub plan: Option<StripePlan>,
    /// `null` when the organization has no subscription, or its period has ended.
    pub subscription: Option<StripeSubscription>,
}

/// An organization's usage this billing period, under the plan's names.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationUsageCount {
    /// The organization's id: there is one usage count per organization.
    pub id: Uuid,
    pub org_id: Uuid,
    /// Agents.
    pub dataset_count: i32,
    /// Active members.
    pub user_count: i32,
    /// Knowledge-base files, in megabytes (a started one counts).
    pub file_storage: i64,
    /// Calls this period.
    pub message_count: i32,
    /// Whole minutes of calls this period.
    pub chunk_count: i32,
}

/// The usage of organization `id` from its limits report, with `members` active members.
pub fn usage(id: Uuid, report: &LimitsReport, members: i64) -> OrganizationUsageCount {
    let used = |key: LimitKey| {
        report
            .limits
            .iter()
            .find(|status| status.key == key)
            .map_or(0, |status| status.used)
    };
    OrganizationUsageCount {
        id,
        org_id: id,
        dataset_count: fit(used(LimitKey::MaxAgents)),
        user_count: fit(members),
        file_storage: used(LimitKey::MaxFilesGb),
        message_count: fit(used(LimitKey::MonthlyCallLimit)),
        chunk_count: fit(used(LimitKey::MaxMinutesPerMonth)),
    }
}

/// A role as Trieve numbers it: `2` runs the organization, `1` works in it, `0` reads it.
pub fn role(role: Role) -> i32 {
    match role {
        Role::Admin | Role::AgencyManager | Role::TenantOwner => 2,
        Role::AgencyTechnicalManager | Role::AgencyAccountManager | Role::TenantUser => 1,
        Role::ReadOnly => 0,
    }
}

/// A member's place in an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOrganization {
    /// The membership's id.
    pub id: Uuid,
    pub user_id: Uuid,
    pub organization_id: Uuid,
    /// `0` read, `1` admin, `2` owner.
    #[schema(minimum = 0, maximum = 2)]
    pub role: i32,
    pub created_at: TrieveTime,
    pub updated_at: TrieveTime,
    /// Always `null`: a membership has no scopes of its own.
    pub scopes: Option<Vec<String>>,
}

/// A member of an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlimUser {
    pub id: Uuid,
    /// First and last name, or `null` when neither is known.
    pub name: Option<String>,
    pub email: String,
    pub created_at: TrieveTime,
    /// Its membership in this organization.
    pub user_orgs: Vec<UserOrganization>,
    /// This organization.
    pub orgs: Vec<Organization>,
}

/// `member` of `organization`, showing only that organization (never others it may be in).
pub fn slim_user(member: &Member, organization: &Organization) -> SlimUser {
    let name = [member.first_name.as_deref(), member.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let joined = TrieveTime(member.created_at);
    SlimUser {
        id: member.user_id.uuid(),
        name: Some(name).filter(|name| !name.is_empty()),
        email: member.email.clone(),
        created_at: joined,
        user_orgs: vec![UserOrganization {
            id: member.membership_id,
            user_id: member.user_id.uuid(),
            organization_id: organization.id,
            role: role(member.role),
            created_at: joined,
            updated_at: joined,
            scopes: None,
        }],
        orgs: vec![organization.clone()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn written(time: DateTime<Utc>) -> String {
        serde_json::to_value(TrieveTime(time))
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn times_have_no_zone_and_a_fraction_only_when_it_is_not_zero() {
        let second = Utc.with_ymd_and_hms(2024, 5, 1, 12, 34, 56).unwrap();
        assert_eq!(written(second), "2024-05-01T12:34:56");
        let milli = second + chrono::Duration::milliseconds(120);
        assert_eq!(written(milli), "2024-05-01T12:34:56.120");
        let micro = second + chrono::Duration::microseconds(123_456);
        assert_eq!(written(micro), "2024-05-01T12:34:56.123456");
        let nano = second + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(written(nano), "2024-05-01T12:34:56.123456789");
    }

    #[test]
    fn counts_fit_trieves_integers() {
        assert_eq!(fit(-1), 0);
        assert_eq!(fit(1_000), 1_000);
        assert_eq!(fit(i64::MAX), UNLIMITED);
        let limits = Limits::default().with(LimitKey::MaxAgents, 10);
        assert_eq!(count(&limits, LimitKey::MaxAgents), 10);
        assert_eq!(count(&limits, LimitKey::MonthlyCallLimit), UNLIMITED);
    }

    #[test]
    fn a_subscription_whose_period_ended_is_not_shown_and_blocks_nothing() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        let view = SubscriptionView {
            id: Uuid::nil(),
            organization_id: Uuid::nil(),
            plan_id: Uuid::nil(),
            external_billing_id: Some("sub_123".to_owned()),
            active: true,
            current_period_end: now + chrono::Duration::days(3),
            created_at: now,
            updated_at: now,
        };
        let shown = subscription(Some(&view), now).expect("a live subscription");
        assert_eq!(shown.stripe_id, "sub_123");
        assert!(subscription_blocks_delete(Some(&view), now));
        let later = now + chrono::Duration::days(4);
        assert!(subscription(Some(&view), later).is_none());
        assert!(!subscription_blocks_delete(Some(&view), later));
        let cancelled = SubscriptionView {
            active: false,
            ..view
        };
        assert!(!subscription_blocks_delete(Some(&cancelled), now));
        assert!(subscription(None, now).is_none());
    }

    #[test]
    fn roles_number_as_trieve_does() {
        assert_eq!(role(Role::TenantOwner), 2);
        assert_eq!(role(Role::TenantUser), 1);
        assert_eq!(role(Role::ReadOnly), 0);
    }
}

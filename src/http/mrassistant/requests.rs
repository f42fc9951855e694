//! MrAssistant's request models, mapped onto the domain's `NewTenant` and `TenantUpdate`. Only
//! the documented ranges that are narrower than tenantry's are checked here; every other rule
//! is the domain's.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::domain::limits::{LimitChanges, LimitKey};
use crate::domain::tenant::{
    BillingAlerts, BlockedService, Metadata, MetadataUpdate, NewTenant, RecordingFormat, Settings,
    SettingsUpdate, TenantQuery, TenantSort, TenantUpdate,
};
use crate::domain::validation::{FieldError, Violations};
use crate::domain::values::PlanCode;
use crate::http::patch::Patch;
use crate::service::lifecycle::BlockRequest;

/// Tenant creation and update model. Every field is optional on update; `name` and
/// `billing_plan` are required on creation. Absent fields keep their value (or take the
/// default), `null` clears a nullable one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    pub name: Patch<String>,
    /// A plan code, such as `free`, `starter`, `business` or `enterprise`.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub billing_plan: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>, default = false)]
    pub sip_enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>, default = true)]
    pub recording_enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>, default = true)]
    pub analytics_enabled: Patch<bool>,
    /// Overrides the plan's limit.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000, default = 10)]
    pub max_concurrent_calls: Patch<i64>,
    /// Overrides the plan's limit.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, default = 1000)]
    pub monthly_call_limit: Patch<i64>,
    /// Replaces the metadata whole.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta_data: Patch<Metadata>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sip_domain: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sip_username: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>, default = false)]
    pub hipaa_enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>, default = false)]
    pub pci_enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>, default = "mp4")]
    pub recording_format: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, default = 90)]
    pub retention_days: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<bool>, default = true)]
    pub data_encryption_enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, default = 20)]
    pub webhook_timeout_seconds: Patch<i64>,
}

/// The parts of a tenant input, parsed; what a create and an update share.
struct Parsed {
    plan: Option<PlanCode>,
    limits: LimitChanges,
    settings: SettingsUpdate,
    metadata: Option<Metadata>,
}

/// `billing_plan`: 1 to 100 characters, and a plan code.
fn plan_code(billing_plan: Patch<String>, violations: &mut Violations) -> Option<PlanCode> {
    billing_plan
        .non_null("billing_plan", violations)
        .and_then(|code| {
            violations.length("billing_plan", &code, 1, 100);
            violations.parsed("billing_plan", PlanCode::parse(&code))
        })
}

/// `max_concurrent_calls` (1 to 1000) and `monthly_call_limit` (at least 0) as limit changes.
fn call_limits(
    max_concurrent_calls: Patch<i64>,
    monthly_call_limit: Patch<i64>,
    violations: &mut Violations,
) -> LimitChanges {
    let mut limits = Vec::new();
    if let Some(calls) = max_concurrent_calls.non_null("max_concurrent_calls", violations) {
        violations.range("max_concurrent_calls", calls, 1, 1000);
        limits.push((LimitKey::MaxConcurrentCalls, Some(calls)));
    }
    if let Some(calls) = monthly_call_limit.non_null("monthly_call_limit", violations) {
        let (_, max) = LimitKey::MonthlyCallLimit.range();
        violations.range("monthly_call_limit", calls, 0, max);
        limits.push((LimitKey::MonthlyCallLimit, Some(calls)));
    }
    LimitChanges(limits)
}

/// `recording_format`, one of the formats tenantry records in.
fn recording_format(
    recording_format: Patch<String>,
    violations: &mut Violations,
) -> Option<RecordingFormat> {
    recording_format
        .non_null("recording_format", violations)
        .and_then(|format| match format.parse::<RecordingFormat>() {
            Ok(format) => Some(format),
            Err(_) => {
                let known = <RecordingFormat as strum::VariantNames>::VARIANTS.join(", ");
                violations.add(
                    "recording_format",
                    "invalid_value",
                    format!("must be one of {known}"),
                );
                None
            }
        })
}

impl TenantInput {
    fn parse(self, violations: &mut Violations) -> (Option<String>, Parsed) {
        let name = self.name.non_null("name", violations);
        let plan = plan_code(self.billing_plan, violations);
        let limits = call_limits(
            self.max_concurrent_calls,
            self.monthly_call_limit,
            violations,
        );
        let recording_format = recording_format(self.recording_format, violations);
        let settings = SettingsUpdate {
            sip_enabled: self.sip_enabled.non_null("sip_enabled", violations),
            sip_domain: self.sip_domain.nullable(),
            sip_username: self.sip_username.nullable(),
            recording_enabled: self
                .recording_enabled
                .non_null("recording_enabled", violations),
            recording_format,
            retention_days: self.retention_days.non_null("retention_days", violations),
            analytics_enabled: self
                .analytics_enabled
                .non_null("analytics_enabled", violations),
            hipaa_enabled: self.hipaa_enabled.non_null("hipaa_enabled", violations),
            pci_enabled: self.pci_enabled.non_null("pci_enabled", violations),
            data_encryption_enabled: self
                .data_encryption_enabled
                .non_null("data_encryption_enabled", violations),
            webhook_url: self.webhook_url.nullable(),
            webhook_timeout_seconds: self
                .webhook_timeout_seconds
                .non_null("webhook_timeout_seconds", violations),
        };
        let metadata = match self.meta_data {
            Patch::Absent => None,
            Patch::Null => Some(Metadata::new()),
            Patch::Value(metadata) => Some(metadata),
        };
        let parsed = Parsed {
            plan,
            limits,
            settings,
            metadata,
        };
        (name, parsed)
    }

    /// A new tenant under the caller's agency.
    pub fn into_new_tenant(self) -> Result<NewTenant, Vec<FieldError>> {
        let mut violations = Violations::default();
        let missing = [
            ("name", self.name.is_absent()),
            ("billing_plan", self.billing_plan.is_absent()),
        ];
        for (field, absent) in missing {
            if absent {
                violations.add(field, "required", "Field required");
            }
        }
        let (name, parsed) = self.parse(&mut violations);
        let recording_stated = parsed.settings.recording_enabled.is_some();
        let new = NewTenant {
            name: name.unwrap_or_default(),
            slug: None,
            plan: parsed.plan.unwrap_or_else(PlanCode::free),
            agency_id: None,
            billing_mode: Default::default(),
            owner: None,
            limits: parsed.limits.apply_to(Default::default()),
            billing_alerts: BillingAlerts::default(),
            usage_alerts: Default::default(),
            settings: parsed.settings.apply_to(Settings::default()),
            recording_stated,
            metadata: parsed.metadata.unwrap_or_default(),
        };
        violations.finish(|| new)
    }

    /// A partial change.
    pub fn into_update(self) -> Result<TenantUpdate, Vec<FieldError>> {
        let mut violations = Violations::default();
        let (name, parsed) = self.parse(&mut violations);
        let update = TenantUpdate {
            name,
            plan: parsed.plan,
            limits: (!parsed.limits.0.is_empty()).then_some(parsed.limits),
            settings: Some(parsed.settings),
            metadata: parsed.metadata.map(MetadataUpdate::Replace),
            ..Default::default()
        };
        violations.finish(|| update)
    }
}

/// Request to block or unblock a tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockInput {
    /// `true` blocks, `false` lifts the whole block.
    pub blocked: bool,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// The services to refuse: `calls`, `agents`, `sip`, `recordings`, `analytics`; all five
    /// when absent.
    #[schema(value_type = Option<Vec<String>>)]
    pub block_services: Option<Vec<String>>,
}

impl BlockInput {
    pub fn into_request(self) -> Result<BlockRequest, Vec<FieldError>> {
        let mut violations = Violations::default();
        let services = self.block_services.map(|names| {
            names
                .iter()
                .enumerate()
                .filter_map(|(i, name)| match name.parse::<BlockedService>() {
                    Ok(service) => Some(service),
                    Err(_) => {
                        let known = <BlockedService as strum::VariantNames>::VARIANTS.join(", ");
                        violations.add(
                            format!("block_services[{i}]"),
                            "invalid_value",
                            format!("must be one of {known}"),
                        );
                        None
                    }
                })
                .collect()
        });
        let request = BlockRequest {
            blocked: self.blocked,
            reason: self.reason,
            services,
        };
        violations.finish(|| request)
    }
}

/// Request to update tenant quota: each value becomes the tenant's own limit; `null` or absent
/// keeps the current one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaUpdate {
    #[schema(minimum = 1, maximum = 1000)]
    pub max_agents: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub max_squads: Option<i64>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub max_calls_per_month: Option<i64>,
    #[schema(minimum = 1, maximum = 1000)]
    pub max_concurrent_calls: Option<i64>,
    /// Whole minutes.
    #[schema(minimum = 0)]
    pub max_minutes_per_month: Option<f64>,
    /// Stored and reported for the data plane, which runs campaigns, to enforce.
    #[schema(minimum = 0, maximum = 1000)]
    pub max_campaigns: Option<i64>,
    #[schema(minimum = 0, maximum = 1000)]
    pub max_recordings_gb: Option<f64>,
    #[schema(minimum = 0, maximum = 100)]
    pub max_files_gb: Option<f64>,
    #[schema(minimum = 1, maximum = 500)]
    pub max_file_size_mb: Option<i64>,
}

/// MrAssistant's quota fields: each one's limit key and its documented range, in wire units
/// (`None`: no upper bound beyond the limit's own).
pub const QUOTA_FIELDS: &[(&str, LimitKey, f64, Option<f64>)] = &[
    ("max_agents", LimitKey::MaxAgents, 1.0, Some(1000.0)),
    ("max_squads", LimitKey::MaxSquads, 1.0, Some(100.0)),
    (
        "max_calls_per_month",
        LimitKey::MonthlyCallLimit,
        0.0,
        Some(1_000_000.0),
    ),
    (
        "max_concurrent_calls",
        LimitKey::MaxConcurrentCalls,
        1.0,
        Some(1000.0),
    ),
    (
        "max_minutes_per_month",
        LimitKey::MaxMinutesPerMonth,
        0.0,
        None,
    ),
    ("max_campaigns", LimitKey::MaxCampaigns, 0.0, Some(1000.0)),
    (
        "max_recordings_gb",
        LimitKey::MaxRecordingsGb,
        0.0,
        Some(1000.0),
    ),
    ("max_files_gb", LimitKey::MaxFilesGb, 0.0, Some(100.0)),
    (
        "max_file_size_mb",
        LimitKey::MaxFileSizeMb,
        1.0,
        Some(500.0),
    ),
];

impl QuotaUpdate {
    fn values(&self) -> [Option<f64>; 9] {
        let int = |value: Option<i64>| value.map(|v| v as f64);
        [
            int(self.max_agents),
            int(self.max_squads),
            int(self.max_calls_per_month),
            int(self.max_concurrent_calls),
            self.max_minutes_per_month,
            int(self.max_campaigns),
            self.max_recordings_gb,
            self.max_files_gb,
            int(self.max_file_size_mb),
        ]
    }

    /// The tenant's limit overrides this request sets.
    pub fn into_update(self) -> Result<TenantUpdate, Vec<FieldError>> {
        let mut violations = Violations::default();
        let mut changes = Vec::new();
        for (&(field, key, min, max), value) in QUOTA_FIELDS.iter().zip(self.values()) {
            let Some(value) = value else { continue };
            let too_high = max.is_some_and(|max| value > max);
            if value < min || too_high {
                let bound = match max {
                    Some(max) => format!("must be between {min} and {max}"),
                    None => format!("must be at least {min}"),
                };
                violations.add(field, "out_of_range", bound);
                continue;
            }
            match key.from_wire(value) {
                Ok(stored) => changes.push((key, Some(stored))),
                Err(message) => violations.add(field, "invalid_value", message),
            }
        }
        let update = TenantUpdate {
            limits: Some(LimitChanges(changes)),
            ..Default::default()
        };
        violations.finish(|| update)
    }
}

/// Paging of MrAssistant's lists: `limit` and `offset`, newest tenants first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<i64>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<i64>,
    /// `active`, `blocked`, `suspended` or `inactive`.
    pub status_filter: Option<String>,
    /// `business`, `developer` or `admin`; only businesses have tenants.
    pub tenant_type: Option<String>,
}

/// The largest offset accepted: deeper pages belong to a cursor (v1).
pub const MAX_OFFSET: i64 = 1_000_000;

impl ListParams {
    /// The tenant query, or `None` when the filters can match no tenant.
    pub fn into_query(self) -> Result<Option<TenantQuery>, Vec<FieldError>> {
        let mut violations = Violations::default();
        let limit = self.limit.unwrap_or(100);
        let offset = self.offset.unwrap_or(0);
        violations.range("query.limit", limit, 1, 1000);
        violations.range("query.offset", offset, 0, MAX_OFFSET);
        let status = match self.status_filter.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(filter) => match super::shapes::stored_status(filter) {
                Some(status) => Some(status),
                None => {
                    violations.add(
                        "query.status_filter",
                        "invalid_value",
                        "must be one of active, blocked, suspended, inactive",
                    );
                    None
                }
            },
        };
        let businesses = match self.tenant_type.as_deref().filter(|t| !t.is_empty()) {
            None | Some("business") => true,
            Some("developer" | "admin") => false,
            Some(_) => {
                violations.add(
                    "query.tenant_type",
                    "invalid_value",
                    "must be one of business, developer, admin",
                );
                false
            }
        };
        violations.finish(|| {
            businesses.then_some(TenantQuery {
                status,
                plan: None,
                agency_id: None,
                search: None,
                sort: TenantSort::CreatedAt,
                descending: true,
                after: None,
                limit,
                offset,
            })
        })
    }
}

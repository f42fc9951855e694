//! The audit trail: `/api/v1/tenants/{tenantId}/audit-log` (and `/verify`) and
//! `/api/v1/audit-log` across the caller's reach.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::access::Caller;
use crate::domain::audit::{ActorKind, Entry};
use crate::domain::ids::{AgencyId, AuditId, TenantId};
use crate::domain::policy::act;
use crate::domain::time::BoundedTime;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};
use crate::http::pagination::{decode_cursor, page_limit, Page};
use crate::http::path::InPath;
use crate::http::AppState;
use crate::service::audit::{self, AuditQuery, Verification};
use crate::service::tenants::TenantRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tenant_audit_log))
        .routes(routes!(verify_audit_log))
        .routes(routes!(audit_log))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorBody {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    /// The key's or user's id; `null` for the master key and the system.
    pub id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// One entry of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEntry)]
pub struct AuditEntryBody {
    pub id: AuditId,
    /// The entry's place in its tenant's chain, from 1.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: ActorBody,
    pub tenant_id: Option<TenantId>,
    /// The agency that owned the tenant when the change was made.
    pub agency_id: Option<AgencyId>,
    /// `tenant.updated`, `tenant.deactivated`, `agent.created`, …
    pub action: String,
    pub target: TargetBody,
    /// `{"field": {"before": …, "after": …}}`; secrets read `********`.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    /// The `x-request-id` of the request that made the change.
    pub request_id: Option<String>,
    /// The previous entry's hash, and this one's (hex SHA-256).
    pub prev_hash: String,
    pub hash: String,
}

impl From<Entry> for AuditEntryBody {
    fn from(entry: Entry) -> Self {
        AuditEntryBody {
            id: entry.id,
            seq: entry.seq,
            at: entry.at,
            actor: ActorBody {
                kind: entry.actor.kind,
                id: entry.actor.id,
            },
            tenant_id: entry.tenant_id,
            agency_id: entry.agency_id,
            action: entry.action,
            target: TargetBody {
                kind: entry.target.kind,
                id: entry.target.id,
            },
            changes: entry.changes,
            request_id: entry.request_id,
            prev_hash: entry.prev_hash,
            hash: entry.hash,
        }
    }
}

/// Filters of an audit-log list. Pages run newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditLogParams {
    /// Only this action, e.g. `tenant.updated`.
    #[param(max_length = 100)]
    pub action: Option<String>,
    /// Only this actor: a key or user id, or `master` or `system`.
    #[param(max_length = 100)]
    pub actor: Option<String>,
    /// At or after (RFC 3339).
    pub since: Option<BoundedTime>,
    /// Before (RFC 3339).
    pub until: Option<BoundedTime>,
    /// `/api/v1/audit-log` only: one tenant's entries.
    pub tenant_id: Option<TenantId>,
    /// `/api/v1/audit-log` only, platform callers: one agency's entries.
    pub agency_id: Option<AgencyId>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

impl AuditLogParams {
    fn split(self) -> ApiResult<(AuditQuery, Option<AuditId>, i64)> {
        let limit = page_limit(self.limit)?;
        let before = self.cursor.as_deref().map(decode_cursor::<AuditId>);
        let query = AuditQuery {
            action: self.action,
            actor: self.actor,
            since: self.since.map(BoundedTime::get),
            until: self.until.map(BoundedTime::get),
            agency_id: self.agency_id,
            tenant_id: self.tenant_id,
        };
        Ok((query, before.transpose()?, limit))
    }
}

fn page(entries: Vec<Entry>, limit: i64) -> Json<Page<AuditEntryBody>> {
    let rows = entries.into_iter().map(AuditEntryBody::from).collect();
    Json(Page::from_rows(rows, limit, |entry| entry.id))
}

/// A tenant's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/audit-log", tag = "audit",
    params(("tenantId" = TenantId, Path), AuditLogParams),
    responses((status = 200, body = Page<AuditEntryBody>)))]
async fn tenant_audit_log(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadAuditLog>,
    Query(params): Query<AuditLogParams>,
) -> ApiResult<Json<Page<AuditEntryBody>>> {
    let (query, before, limit) = params.split()?;
    let entries = audit::tenant_log(&state.ctx, tenant, query, before, limit + 1).await?;
    Ok(page(entries, limit))
}

/// The audit trail across the caller's reach: every tenant of an agency (while it owned
/// them) and the agency's own changes; everything for the platform.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit",
    params(AuditLogParams),
    responses((status = 200, body = Page<AuditEntryBody>)))]
async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AuditLogParams>,
) -> ApiResult<Json<Page<AuditEntryBody>>> {
    let (query, before, limit) = params.split()?;
    let entries = audit::log(&state.ctx, &caller, query, before, limit + 1).await?;
    Ok(page(entries, limit))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokenLinkBody {
    /// Where the chain breaks.
    pub seq: i64,
    /// The entry found there; `null` when it is missing.
    pub entry_id: Option<AuditId>,
    /// `hash_mismatch` (changed), `previous_hash_mismatch` (removed or reordered before it)
    /// or `missing`.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditVerification)]
pub struct VerificationBody {
    /// Whether every link holds.
    pub valid: bool,
    /// Entries checked before the first broken link (all of them when valid).
    pub checked_entries: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub first_broken_link: Option<BrokenLinkBody>,
}

impl From<Verification> for VerificationBody {
    fn from(verification: Verification) -> Self {
        VerificationBody {
            valid: verification.broken.is_none(),
            checked_entries: verification.checked,
            head_seq: verification.head_seq,
            head_hash: verification.head_hash,
            first_broken_link: verification.broken.map(|link| BrokenLinkBody {
                seq: link.seq,
                entry_id: link.entry_id,
                reason: <&str>::from(link.reason).to_owned(),
            }),
        }
    }
}

/// Recompute a tenant's hash chain and report the first broken link, if any.
#[utoipa::path(get, path = "/api/v1/tenants/{tenantId}/audit-log/verify", tag = "audit",
    params(("tenantId" = TenantId, Path)),
    responses((status = 200, body = VerificationBody)))]
async fn verify_audit_log(
    State(state): State<AppState>,
    InPath(tenant): InPath<TenantRef, act::ReadAuditLog>,
) -> ApiResult<Json<VerificationBody>> {
    Ok(Json(audit::verify(&state.ctx, tenant).await?.into()))
}

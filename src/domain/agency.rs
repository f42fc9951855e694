//! Agencies: resellers that own client tenants.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ids::AgencyId;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agency {
    pub id: AgencyId,
    pub name: String,
    /// Added to tenants' cost to give the revenue the agency bills them, in percent.
    pub markup_percent: i64,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const MARKUP_PERCENT_MAX: i64 = 1000;

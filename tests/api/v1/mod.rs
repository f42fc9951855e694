//! Stories of the canonical API, `/api/v1`.

mod agencies;
mod agency_analytics;
mod agency_series_races;
mod agents;
mod analytics;
mod api_keys;
mod bounds;
mod call_ends;
mod call_leases;
mod calls;
mod compliance;
mod conventions;
mod date_ranges;
mod file_limits;
mod files;
mod limits;
mod monthly_limit_races;
mod openapi;
mod plans;
pub mod races;
mod recordings;
mod tenant_lists;
mod tenant_scoping;
mod tenant_validation;
pub mod tenants;
mod upload_memory;
mod usage_events;

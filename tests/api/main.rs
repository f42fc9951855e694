//! The HTTP API as its clients see it. Every story runs against a real server on a real
//! socket, with a database of its own, on SQLite and on PostgreSQL (see `support`).

mod support;

mod agencies;
mod agency_analytics;
mod agents;
mod analytics;
mod api_keys;
mod bounds;
mod call_ends;
mod call_leases;
mod calls;
mod cli;
mod connections;
mod conventions;
mod date_ranges;
mod head_limits;
mod limits;
mod metrics;
mod monthly_limit_races;
mod openapi;
mod plans;
mod processes;
mod races;
mod tenant_lists;
mod tenant_scoping;
mod tenant_validation;
mod tenants;
mod usage_events;

//! The domain: types and rules of tenantry, free of HTTP and SQL.

pub mod access;
pub mod agency;
pub mod agent;
pub mod alerts;
pub mod analytics;
pub mod api_key;
pub mod audit;
pub mod conflict;
pub mod delivery;
pub mod email;
pub mod event;
pub mod ids;
pub mod limits;
pub mod metering;
pub mod plan;
pub mod policy;
pub mod rate_limit;
pub mod resource;
pub mod resources;
pub mod tenant;
pub mod time;
pub mod transfer;
pub mod user;
pub mod validation;
pub mod values;
pub mod webhook;

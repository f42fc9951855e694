//! What every dialect shares: the binary and its processes, connection handling, request
//! limits and metrics.

mod cli;
mod connections;
mod head_limits;
mod metrics;
mod migrations;
mod processes;
mod query_plans;
mod secret_rotation;

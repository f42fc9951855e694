//! What every dialect shares: the binary and its processes, connection handling, request
//! limits, metrics, the mail outbox and the webhook destination guard.

mod cli;
mod connections;
mod destinations;
mod email;
mod email_processes;
mod head_limits;
mod metrics;
mod migrations;
mod processes;
mod query_plans;
mod rate_limits;
mod secret_rotation;

//! tenantry: a tenant control plane for voice-AI agent platforms.
//!
//! `domain` holds the types and rules, `store` persists them on SQLite or PostgreSQL, `http`
//! serves them, and `server` wires the pieces together for `main`.

pub mod cli;
pub mod domain;
pub mod http;
pub mod server;
pub mod store;
pub mod workers;

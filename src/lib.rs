//! tenantry: a tenant control plane for voice-AI agent platforms.
//!
//! `domain` holds the types and rules, `service` the use cases, `store` persists them on SQLite
//! or PostgreSQL, `blobs` keeps uploaded files and call recordings in an object store, `http`
//! serves them in each wire dialect, and `server` wires the pieces together for `main`.
//! `secrets` seals secrets stored at rest under a rotating keyring; `limiter` keeps rate-limit
//! buckets in memory or in Redis; `tarball` writes and reads the tar.gz of a tenant's archive;
//! `outbound` guards where webhooks may be sent.

pub mod blobs;
pub mod cli;
pub mod domain;
pub mod http;
pub mod limiter;
pub mod outbound;
pub mod secrets;
pub mod server;
pub mod service;
pub mod store;
pub mod tarball;
pub mod workers;

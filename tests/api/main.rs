//! tenantry as its clients see it. Every story runs against a real server on a real socket,
//! with a database of its own, on SQLite and on PostgreSQL (see `support`). The folders follow
//! `src/http`: one per wire dialect, and `server` for what every dialect shares (connections,
//! request limits, metrics, the binary and its processes).

mod support;

mod mrassistant;
mod server;
mod trieve;
mod v1;

//! A tenant's archive: everything it owns as a tar.gz, for offboarding, migration and
//! backups. Each kind of row is NDJSON in parts of bounded size (`calls/part-0001.ndjson`, …),
//! stored bytes are entries of their own (`objects/files/fil_…`), and `manifest.json`, last,
//! counts and checksums every other entry. Secrets are left out. `docs/LIFECYCLE.md` has the
//! layout and the import rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::ids::TenantId;

mod export;
mod import;

pub use export::export;
pub use import::{import, DEFAULT_IMPORT_MAX_BYTES};

/// What the manifest says the archive is.
pub const FORMAT: &str = "tenantry.tenant-archive";
/// The archive layout's version; an import refuses any other.
pub const VERSION: u32 = 1;
/// The manifest's name in the archive.
pub const MANIFEST: &str = "manifest.json";
/// The folder of stored bytes.
const OBJECTS: &str = "objects/";
/// A part is closed once it holds this many bytes (or more, by at most one row).
const PART_BYTES: usize = 4 << 20;
/// An NDJSON part an import accepts: a full part and a row of the largest size.
const MAX_PART_BYTES: u64 = 16 << 20;

/// The last entry of an archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub tenant_id: TenantId,
    pub exported_at: DateTime<Utc>,
    /// Every other entry, in archive order.
    pub files: Vec<FileEntry>,
}

/// One entry of the archive as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileEntry {
    pub path: String,
    /// The kind of rows (`calls`), or the kind of stored bytes (`files`, `recordings`).
    pub kind: String,
    /// Rows in an NDJSON part; absent for stored bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the entry's bytes.
    pub sha256: String,
}

impl FileEntry {
    fn part(kind: &str, number: usize, rows: u64, bytes: &[u8]) -> FileEntry {
        FileEntry {
            path: part_path(kind, number),
            kind: kind.to_owned(),
            rows: Some(rows),
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }
}

fn part_path(kind: &str, number: usize) -> String {
    format!("{kind}/part-{number:04}.ndjson")
}

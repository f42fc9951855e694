//! Resources whose content is stored bytes: knowledge-base files and call recordings. Their
//! documents describe the bytes; the bytes live in object storage under [`object_key`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::{CallId, FileId, RecordingId, TenantId};
use crate::domain::policy::act;
use crate::domain::resource::{ResourceKind, ResourceSpec};
use crate::domain::tenant::RecordingFormat;
use crate::domain::validation::Violations;

/// Where a resource's bytes are kept: one object per resource, under its tenant.
pub fn object_key(tenant_id: TenantId, kind: ResourceKind, id: impl std::fmt::Display) -> String {
    format!("tenants/{tenant_id}/{}/{id}", kind.info().path)
}

/// The key of the bytes of a tenant's resource, if its kind keeps bytes.
pub fn bytes_key(tenant_id: TenantId, kind: ResourceKind, id: uuid::Uuid) -> Option<String> {
    kind.info()
        .bytes_limit
        .map(|_| object_key(tenant_id, kind, kind.display_id(id)))
}

/// What is known of stored bytes once they are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StoredBytes {
    pub content_type: String,
    pub size_bytes: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = FileFields)]
pub struct KnowledgeFile {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    #[serde(flatten)]
    pub bytes: StoredBytes,
}

/// Checks a content type's form (`type/subtype`, parameters allowed).
pub fn check_content_type(field: &str, content_type: &str, violations: &mut Violations) {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let valid = essence
        .split_once('/')
        .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty() && !sub.contains('/'))
        && content_type.len() <= 255
        && content_type
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ');
    if !valid {
        violations.add(
            field,
            "invalid_content_type",
            "must be a media type such as text/plain",
        );
    }
}

impl ResourceSpec for KnowledgeFile {
    const KIND: ResourceKind = ResourceKind::File;
    type Id = FileId;
    type Read = act::ReadFiles;
    type Manage = act::ManageFiles;
    const PATCHABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(&self, violations: &mut Violations) {
        violations.length("name", &self.name, 1, 255);
        check_content_type("contentType", &self.bytes.content_type, violations);
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn category(&self) -> Option<String> {
        Some(self.bytes.content_type.clone())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = RecordingFields)]
pub struct Recording {
    pub call_id: CallId,
    #[serde(flatten)]
    pub bytes: StoredBytes,
}

impl ResourceSpec for Recording {
    const KIND: ResourceKind = ResourceKind::Recording;
    type Id = RecordingId;
    type Read = act::ReadRecordings;
    type Manage = act::StoreRecordings;
    const PATCHABLE: Option<&'static [&'static str]> = Some(&[]);

    fn check(&self, _: &mut Violations) {}

    fn name(&self) -> String {
        self.call_id.to_string()
    }

    fn unique_key(&self) -> Option<String> {
        Some(self.call_id.to_string())
    }
}

/// The content types a recording in `format` may have.
pub fn recording_content_types(format: RecordingFormat) -> &'static [&'static str] {
    match format {
        RecordingFormat::Mp4 => &["audio/mp4", "video/mp4", "audio/x-m4a", "audio/m4a"],
        RecordingFormat::Mp3 => &["audio/mpeg", "audio/mp3"],
        RecordingFormat::Wav => &["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"],
        RecordingFormat::Ogg => &["audio/ogg", "audio/opus"],
        RecordingFormat::Webm => &["audio/webm", "video/webm"],
    }
}

//! The registry of resource kinds: the objects a tenant owns beside its agents and calls, and
//! that the voice data plane reads its configuration from.
//!
//! A kind is declared once, in [`ResourceKind::info`], with its storage name, its path, the
//! actions that read and change it, the limits that bound it, the tenant setting it needs and
//! the service whose block refuses it.
//! Its fields are one [`ResourceSpec`] type. Everything else iterates the registry: the routes
//! and their OpenAPI operations, storage (one `resources` table keyed by kind), the limits
//! report, the permission table, and the tenant cascade, export, audit trail and webhook
//! events (`<name>.created`, `<name>.updated`, `<name>.deleted`).

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::ids::{AgentId, TypedId};
use super::limits::LimitKey;
use super::policy::{Action, ActionMarker};
use super::tenant::BlockedService;
use super::validation::Violations;

/// Every kind of resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::EnumIter)]
pub enum ResourceKind {
    PhoneNumber,
    SipTrunk,
    Squad,
    Workflow,
    Integration,
    File,
    Recording,
}

/// A count limit and the code of its refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountLimit {
    pub key: LimitKey,
    pub code: &'static str,
}

/// A tenant setting a kind needs: while any of the kind exists, the setting cannot be
/// switched off, and none can be created while it is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequiredSetting {
    /// The column of `tenants` that holds it.
    pub column: &'static str,
    /// Its wire name.
    pub field: &'static str,
}

/// The service whose block refuses a kind: creating and changing one, and reading too when
/// `reads`. Deleting stays open, so a blocked tenant can still give things up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedBy {
    pub service: BlockedService,
    pub reads: bool,
}

/// What the registry knows of one kind.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// Storage and event name (`phone_number`).
    pub name: &'static str,
    /// Path segment under a tenant (`phone-numbers`).
    pub path: &'static str,
    /// What one is called in messages (`phone number`).
    pub noun: &'static str,
    /// The prefix of its typed ids (`pn`).
    pub id_prefix: &'static str,
    pub read: Action,
    pub manage: Action,
    /// How many a tenant may have.
    pub count_limit: Option<CountLimit>,
    /// How many stored bytes all of them may hold together.
    pub bytes_limit: Option<LimitKey>,
    /// The field whose value is unique across the platform.
    pub unique_field: Option<&'static str>,
    /// The field a list may be filtered by, besides `agentId`.
    pub category_field: Option<&'static str>,
    pub requires: Option<RequiredSetting>,
    pub blocked_by: Option<BlockedBy>,
}

impl ResourceKind {
    pub fn all() -> impl Iterator<Item = ResourceKind> {
        <ResourceKind as strum::IntoEnumIterator>::iter()
    }

    pub fn info(self) -> KindInfo {
        let base = KindInfo {
            name: "",
            path: "",
            noun: "",
            id_prefix: "",
            read: Action::ReadAgents,
            manage: Action::ManageAgents,
            count_limit: None,
            bytes_limit: None,
            unique_field: None,
            category_field: None,
            requires: None,
            blocked_by: None,
        };
        match self {
            ResourceKind::PhoneNumber => KindInfo {
                name: "phone_number",
                path: "phone-numbers",
                noun: "phone number",
                id_prefix: "pn",
                read: Action::ReadTelephony,
                manage: Action::ManageTelephony,
                count_limit: Some(CountLimit {
                    key: LimitKey::MaxPhoneNumbers,
                    code: "phone_number_limit_reached",
                }),
                unique_field: Some("number"),
                category_field: Some("direction"),
                blocked_by: Some(BlockedBy {
                    service: BlockedService::Sip,
                    reads: false,
                }),
                ..base
            },
            ResourceKind::SipTrunk => KindInfo {
                name: "sip_trunk",
                path: "sip-trunks",
                noun: "SIP trunk",
                id_prefix: "sip",
                read: Action::ReadTelephony,
                manage: Action::ManageTelephony,
                category_field: Some("transport"),
                requires: Some(RequiredSetting {
                    column: "sip_enabled",
                    field: "settings.sipEnabled",
                }),
                blocked_by: Some(BlockedBy {
                    service: BlockedService::Sip,
                    reads: false,
                }),
                ..base
            },
            ResourceKind::Squad => KindInfo {
                name: "squad",
                path: "squads",
                noun: "squad",
                id_prefix: "sqd",
                count_limit: Some(CountLimit {
                    key: LimitKey::MaxSquads,
                    code: "squad_limit_reached",
                }),
                ..base
            },
            ResourceKind::Workflow => KindInfo {
                name: "workflow",
                path: "workflows",
                noun: "workflow",
                id_prefix: "wf",
                category_field: Some("status"),
                ..base
            },
            ResourceKind::Integration => KindInfo {
                name: "integration",
                path: "integrations",
                noun: "integration",
                id_prefix: "int",
                read: Action::ReadIntegrations,
                manage: Action::ManageIntegrations,
                category_field: Some("kind"),
                ..base
            },
            ResourceKind::File => KindInfo {
                name: "file",
                path: "files",
                noun: "file",
                id_prefix: "fil",
                read: Action::ReadFiles,
                manage: Action::ManageFiles,
                bytes_limit: Some(LimitKey::MaxFilesGb),
                category_field: Some("contentType"),
                ..base
            },
            ResourceKind::Recording => KindInfo {
                name: "recording",
                path: "recordings",
                noun: "recording",
                id_prefix: "rec",
                read: Action::ReadRecordings,
                manage: Action::StoreRecordings,
                bytes_limit: Some(LimitKey::MaxRecordingsGb),
                unique_field: Some("callId"),
                blocked_by: Some(BlockedBy {
                    service: BlockedService::Recordings,
                    reads: true,
                }),
                ..base
            },
        }
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn from_name(name: &str) -> Option<ResourceKind> {
        ResourceKind::all().find(|kind| kind.name() == name)
    }

    /// A resource's id in its typed text form.
    pub fn display_id(self, id: uuid::Uuid) -> String {
        format!(
            "{}_{}",
            self.info().id_prefix,
            super::ids::encode_suffix(id)
        )
    }

    /// The webhook event of a change to one (`phone_number.created`).
    pub fn event(self, change: Change) -> String {
        format!("{}.{}", self.name(), change.as_str())
    }
}

/// What happened to a resource, for events and the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
        }
    }
}

/// A resource as every reader sees it: its document with secrets masked.
#[derive(Debug, Clone)]
pub struct Resource {
    pub tenant_id: super::ids::TenantId,
    pub id: uuid::Uuid,
    pub kind: ResourceKind,
    pub document: serde_json::Value,
    /// 1 at creation, one more on each change.
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The text written in place of a stored secret.
pub const MASK: &str = "********";

/// The fields of one kind. They are the kind's document: what a client sends, what is stored
/// (less its secrets, which are sealed apart) and what is read back (secrets masked). Unlike
/// other domain types they carry serde, because the document is their one form.
pub trait ResourceSpec: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const KIND: ResourceKind;
    type Id: TypedId + Serialize + Send + Sync + std::fmt::Display + 'static;
    type Read: ActionMarker + Send + Sync + 'static;
    type Manage: ActionMarker + Send + Sync + 'static;
    /// Fields a client may change after creation; `None` for all of them.
    const PATCHABLE: Option<&'static [&'static str]> = None;

    /// Checks each field on its own, naming each bad one.
    fn check(&self, violations: &mut Violations);

    /// What lists show it as and sort nothing by: a name or a label.
    fn name(&self) -> String;

    /// The value of the kind's `unique_field`.
    fn unique_key(&self) -> Option<String> {
        None
    }

    /// The value of the kind's `category_field`.
    fn category(&self) -> Option<String> {
        None
    }

    /// Whether `value` is one the kind's `category_field` can hold, so that a list filter
    /// on another is refused rather than answered with nothing.
    fn is_category(value: &str) -> bool {
        !value.is_empty() && value.len() <= 255
    }

    /// The agents it names; each must be an agent of the same tenant.
    fn agents(&self) -> Vec<AgentId> {
        Vec::new()
    }

    /// The field that names its `index`th agent, for refusals.
    fn agent_field(&self, index: usize) -> String {
        format!("agentIds[{index}]")
    }

    /// JSON pointers to its write-only values, which are sealed at rest and masked on read.
    fn secret_paths(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Whether `value` is a variant of the enum `T` in its wire form.
pub fn is_variant<T: DeserializeOwned>(value: &str) -> bool {
    serde_json::from_value::<T>(serde_json::Value::String(value.to_owned())).is_ok()
}

/// A JSON pointer's parent object and last key.
pub fn split_pointer(pointer: &str) -> (&str, &str) {
    pointer.rsplit_once('/').unwrap_or(("", pointer))
}

/// Removes the value at `pointer`, returning it.
pub fn take_at(document: &mut serde_json::Value, pointer: &str) -> Option<serde_json::Value> {
    let (parent, key) = split_pointer(pointer);
    document.pointer_mut(parent)?.as_object_mut()?.remove(key)
}

/// Sets the value at `pointer`, if its parent object exists.
pub fn put_at(document: &mut serde_json::Value, pointer: &str, value: serde_json::Value) {
    let (parent, key) = split_pointer(pointer);
    if let Some(object) = document
        .pointer_mut(parent)
        .and_then(|parent| parent.as_object_mut())
    {
        object.insert(key.to_owned(), value);
    }
}

/// RFC 7386 merge patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(Default::default());
    }
    let object = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge_patch(
                object.entry(key.clone()).or_insert(serde_json::Value::Null),
                value,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_has_its_own_name_and_path() {
        let mut names = std::collections::HashSet::new();
        for kind in ResourceKind::all() {
            let info = kind.info();
            assert!(names.insert(info.name), "{kind:?}");
            assert!(names.insert(info.path), "{kind:?}");
            assert_eq!(ResourceKind::from_name(info.name), Some(kind));
        }
        assert_eq!(
            ResourceKind::PhoneNumber.event(Change::Created),
            "phone_number.created"
        );
    }

    #[test]
    fn merge_patch_merges_objects_and_removes_nulls() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge_patch(
            &mut doc,
            &json!({"a": null, "b": {"c": 5, "d": null}, "e": [2]}),
        );
        assert_eq!(doc, json!({"b": {"c": 5}, "e": [2]}));
    }

    #[test]
    fn pointers_take_and_put_nested_values() {
        let mut doc = json!({"config": {"apiKey": "s", "url": "u"}, "password": "p"});
        assert_eq!(take_at(&mut doc, "/config/apiKey"), Some(json!("s")));
        assert_eq!(take_at(&mut doc, "/password"), Some(json!("p")));
        assert_eq!(take_at(&mut doc, "/missing/x"), None);
        put_at(&mut doc, "/config/apiKey", json!(MASK));
        assert_eq!(doc, json!({"config": {"apiKey": MASK, "url": "u"}}));
    }
}

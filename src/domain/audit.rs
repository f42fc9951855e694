//! The audit trail: who changed what, when, through which request. Entries are append-only
//! and chained per tenant (or per agency, or the platform, for changes outside any tenant):
//! each entry's hash covers the previous entry's hash, so a changed or missing entry breaks
//! the chain at the first place it was touched.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use strum::{EnumString, IntoStaticStr, VariantNames};
use uuid::Uuid;

use super::access::{Principal, Scope};
use super::ids::{AgencyId, AuditId, TenantId};

/// What a secret reads as in the trail, as on every read.
pub const SECRET_MASK: &str = "********";

/// The hash the first entry of a chain follows.
pub const GENESIS: &str = "";

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum ActorKind {
    /// An API key.
    Key,
    /// A person's session, or a person acting through a link (an invitation, a reset).
    User,
    /// The server's `--master-key`.
    Master,
    /// The server itself: a job such as retention or the purge.
    System,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    /// The key's or user's id; `None` for the master key and the system.
    pub id: Option<String>,
}

impl Actor {
    pub const SYSTEM: Actor = Actor {
        kind: ActorKind::System,
        id: None,
    };

    pub fn of(principal: Principal) -> Actor {
        match principal {
            Principal::MasterKey => Actor {
                kind: ActorKind::Master,
                id: None,
            },
            Principal::ApiKey(id) => Actor {
                kind: ActorKind::Key,
                id: Some(id.to_string()),
            },
            Principal::User(id) => Actor {
                kind: ActorKind::User,
                id: Some(id.to_string()),
            },
        }
    }
}

/// The object a change was made to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `tenant`, `agent`, `api_key`, a resource kind…
    pub kind: String,
    pub id: String,
}

impl Target {
    pub fn new(kind: impl Into<String>, id: impl ToString) -> Target {
        Target {
            kind: kind.into(),
            id: id.to_string(),
        }
    }
}

/// An object's fields as the trail records them: wire names, flattened with dots, secrets
/// masked.
pub type Fields = Map<String, Value>;

/// Who holds an object: its tenant, else its agency, else the platform (both `None`).
pub type Holder = (Option<TenantId>, Option<AgencyId>);

/// Implemented by everything whose changes the trail records.
pub trait Audited {
    /// The object as the trail names it.
    fn audit_target(&self) -> Target;
    /// Whose chain its changes go to.
    fn audit_holder(&self) -> Holder;
    /// Its fields by wire name, flattened with dots, secrets as [`SECRET_MASK`].
    fn audit_fields(&self) -> Fields;
}

/// `{"field": {"before": …, "after": …}}` for each field that differs. A created object has
/// no `before` (`null`), a removed one no `after`.
pub fn changes(before: Option<&Fields>, after: Option<&Fields>) -> Value {
    let empty = Fields::new();
    let (old, new) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    let mut changed = Map::new();
    for field in old.keys().chain(new.keys()) {
        let (was, is) = (old.get(field), new.get(field));
        if was != is && !changed.contains_key(field) {
            changed.insert(
                field.clone(),
                json!({ "before": was.cloned().unwrap_or(Value::Null),
                        "after": is.cloned().unwrap_or(Value::Null) }),
            );
        }
    }
    Value::Object(changed)
}

/// Inserts `value` under `prefix.field`, flattening objects, so that a diff names the leaf
/// that changed rather than a whole settings block.
pub fn flatten_into(fields: &mut Fields, prefix: &str, value: Value) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (field, value) in map {
                flatten_into(fields, &format!("{prefix}.{field}"), value);
            }
        }
        value => {
            fields.insert(prefix.to_owned(), value);
        }
    }
}

/// The chain an entry belongs to: its tenant's, else its agency's, else the platform's.
pub fn chain_of(tenant: Option<TenantId>, agency: Option<AgencyId>) -> Uuid {
    tenant
        .map(|id| id.0)
        .or(agency.map(|id| id.0))
        .unwrap_or(Uuid::nil())
}

/// Who holds objects at `scope`, as [`chain_of`] and the store take it.
pub fn holder_of(scope: Scope) -> Holder {
    match scope {
        Scope::Platform => (None, None),
        Scope::Agency(agency) => (None, Some(agency)),
        Scope::Tenant(tenant) => (Some(tenant), None),
    }
}

/// One entry, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: AuditId,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub tenant_id: Option<TenantId>,
    pub agency_id: Option<AgencyId>,
    pub actor: Actor,
    pub action: String,
    pub target: Target,
    pub changes: Value,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    /// The hash this entry must carry: SHA-256 over the previous hash and every other field,
    /// as one canonical JSON array (object keys sorted), in hex.
    pub fn link_hash(&self) -> String {
        let canonical = json!([
            self.prev_hash,
            self.seq,
            self.id.0,
            self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.tenant_id.map(|id| id.0),
            self.agency_id.map(|id| id.0),
            <&str>::from(self.actor.kind),
            self.actor.id,
            self.action,
            self.target.kind,
            self.target.id,
            self.changes,
            self.request_id,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// Where a chain first fails to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The sequence number where the chain breaks.
    pub seq: i64,
    /// The entry found there, if any (`None` when it is missing).
    pub entry_id: Option<AuditId>,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum BreakReason {
    /// An entry's fields no longer give its hash: it was changed.
    HashMismatch,
    /// An entry does not follow the one before it: one was removed or reordered.
    PreviousHashMismatch,
    /// Entries are missing between two others, or at the end of the chain.
    Missing,
}

/// Walks a chain's entries in order, one at a time, remembering where it is.
#[derive(Debug, Default)]
pub struct ChainCheck {
    next_seq: i64,
    prev_hash: String,
    pub checked: i64,
    pub broken: Option<BrokenLink>,
}

impl ChainCheck {
    pub fn new() -> ChainCheck {
        ChainCheck {
            next_seq: 1,
            prev_hash: GENESIS.to_owned(),
            ..ChainCheck::default()
        }
    }

    /// Checks the next entry; `false` once the chain is broken.
    pub fn check(&mut self, entry: &Entry) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let reason = if entry.seq != self.next_seq {
            Some(BreakReason::Missing)
        } else if entry.prev_hash != self.prev_hash {
            Some(BreakReason::PreviousHashMismatch)
        } else if entry.link_hash() != entry.hash {
            Some(BreakReason::HashMismatch)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.broken = Some(BrokenLink {
                seq: self.next_seq,
                entry_id: (reason != BreakReason::Missing).then_some(entry.id),
                reason,
            });
            return false;
        }
        self.checked += 1;
        self.next_seq += 1;
        self.prev_hash = entry.hash.clone();
        true
    }

    /// Ends the walk against the chain's head: entries cut off the end are missing too.
    pub fn finish(&mut self, head_seq: i64, head_hash: &str) {
        if self.broken.is_none() && (head_seq != self.next_seq - 1 || head_hash != self.prev_hash) {
            self.broken = Some(BrokenLink {
                seq: self.next_seq,
                entry_id: None,
                reason: BreakReason::Missing,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, prev_hash: &str) -> Entry {
        let mut entry = Entry {
            id: AuditId::generate(),
            seq,
            at: Utc::now(),
            tenant_id: Some(TenantId::generate()),
            agency_id: None,
            actor: Actor::SYSTEM,
            action: "tenant.updated".into(),
            target: Target::new("tenant", "ten_x"),
            changes: json!({"name": {"before": "a", "after": "b"}}),
            request_id: Some("req".into()),
            prev_hash: prev_hash.into(),
            hash: String::new(),
        };
        entry.hash = entry.link_hash();
        entry
    }

    fn chain(len: i64) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for seq in 1..=len {
            let prev = entries
                .last()
                .map_or(GENESIS.to_owned(), |e| e.hash.clone());
            entries.push(entry(seq, &prev));
        }
        entries
    }

    fn verify(entries: &[Entry], head: &Entry) -> ChainCheck {
        let mut check = ChainCheck::new();
        for entry in entries {
            check.check(entry);
        }
        check.finish(head.seq, &head.hash);
        check
    }

    #[test]
    fn an_intact_chain_verifies() {
        let entries = chain(4);
        let check = verify(&entries, &entries[3]);
        assert_eq!(check.broken, None);
        assert_eq!(check.checked, 4);
    }

    #[test]
    fn a_changed_entry_breaks_the_chain_where_it_was_changed() {
        let mut entries = chain(4);
        entries[2].changes = json!({"name": {"before": "a", "after": "c"}});
        let head = entries[3].clone();
        let broken = verify(&entries, &head).broken.unwrap();
        assert_eq!((broken.seq, broken.reason), (3, BreakReason::HashMismatch));
        assert_eq!(broken.entry_id, Some(entries[2].id));
    }

    #[test]
    fn a_removed_entry_is_missing_in_the_middle_or_at_the_end() {
        let mut entries = chain(4);
        let head = entries[3].clone();
        entries.remove(1);
        let broken = verify(&entries, &head).broken.unwrap();
        assert_eq!((broken.seq, broken.reason), (2, BreakReason::Missing));
        entries = chain(4);
        entries.pop();
        let broken = verify(&entries, &head).broken.unwrap();
        assert_eq!((broken.seq, broken.reason), (4, BreakReason::Missing));
    }

    #[test]
    fn a_diff_names_each_changed_leaf_only() {
        let mut before = Fields::new();
        flatten_into(&mut before, "settings", json!({"a": 1, "b": {"c": 2}}));
        let mut after = before.clone();
        after.insert("settings.b.c".into(), json!(3));
        after.insert("name".into(), json!("n"));
        assert_eq!(
            changes(Some(&before), Some(&after)),
            json!({"settings.b.c": {"before": 2, "after": 3},
                   "name": {"before": null, "after": "n"}})
        );
        assert_eq!(changes(Some(&before), Some(&before)), json!({}));
    }
}

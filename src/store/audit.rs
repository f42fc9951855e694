//! The audit trail's storage. [`record`] appends an entry in the caller's transaction, so the
//! entry exists exactly when the change does. The actor and request come from [`acting`]: the
//! HTTP layer scopes each authenticated request's handling in it, so the use cases and
//! repositories below need not carry them; writes outside a request are the system's.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{query, Query, Reader, StoreResult, Tx};
use crate::domain::audit::{chain_of, changes, Actor, ActorKind, Audited, Entry, Target, GENESIS};
use crate::domain::event::Event;
use crate::domain::ids::{AgencyId, AuditId, TenantId};

/// Who is making this task's changes, and in which request.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: Actor,
    pub request_id: Option<String>,
}

tokio::task_local! {
    static ACTING: Acting;
}

/// Runs `work` with its changes recorded as made by `acting`.
pub async fn acting<F: Future>(acting: Acting, work: F) -> F::Output {
    ACTING.scope(acting, work).await
}

/// The actor and request of this task's changes: the system's outside any request.
fn current() -> Acting {
    ACTING.try_with(Acting::clone).unwrap_or(Acting {
        actor: Actor::SYSTEM,
        request_id: None,
    })
}

/// What one change was: the rest of its entry comes from the chain and the task.
#[derive(Debug, Clone)]
pub struct Change {
    pub tenant_id: Option<TenantId>,
    pub agency_id: Option<AgencyId>,
    pub action: String,
    pub target: Target,
    pub changes: Value,
    /// Who made it, when not the task's actor (a person acting through a link).
    pub actor: Option<Actor>,
    /// Agencies besides the holder's whose endpoints hear of it (both sides of a transfer).
    pub also_told: Vec<AgencyId>,
}

impl Change {
    /// A change of an object from `before` to `after` (`None` for a created or removed one).
    pub fn of<T: Audited>(
        action: impl Into<String>,
        before: Option<&T>,
        after: Option<&T>,
    ) -> Change {
        let object = after
            .or(before)
            .expect("an object before or after the change");
        let (tenant_id, agency_id) = object.audit_holder();
        let (before, after) = (before.map(T::audit_fields), after.map(T::audit_fields));
        Change {
            tenant_id,
            agency_id,
            action: action.into(),
            target: object.audit_target(),
            changes: changes(before.as_ref(), after.as_ref()),
            actor: None,
            also_told: Vec::new(),
        }
    }

    /// A change described field by field, made by the task's actor.
    pub fn new(
        (tenant_id, agency_id): (Option<TenantId>, Option<AgencyId>),
        action: impl Into<String>,
        target: Target,
        changes: Value,
    ) -> Change {
        Change {
            tenant_id,
            agency_id,
            action: action.into(),
            target,
            changes,
            actor: None,
            also_told: Vec::new(),
        }
    }

    /// The same change, made by `actor` (`None`: the task's actor).
    pub fn by(self, actor: Option<Actor>) -> Change {
        Change { actor, ..self }
    }

    /// The same change, told to the endpoints of `agencies` too.
    pub fn telling(mut self, agencies: impl IntoIterator<Item = AgencyId>) -> Change {
        self.also_told.extend(agencies);
        self
    }
}

/// Records the change of an object from `before` to `after`; see [`record`].
pub async fn record_change<T: Audited>(
    tx: &mut Tx,
    action: impl Into<String>,
    before: Option<&T>,
    after: Option<&T>,
) -> StoreResult<()> {
    record(tx, Change::of(action, before, after)).await
}

/// Appends `change` to its chain in `tx`. A tenant's entry carries the agency that owns the
/// tenant now. Call it after the change's other writes: the
/// chain's head row is the last lock the transaction takes, so appends never deadlock.
pub async fn record(tx: &mut Tx, change: Change) -> StoreResult<()> {
    let agency_id = match change.tenant_id {
        Some(tenant) => {
            let owner: Option<(Option<AgencyId>,)> = tx
                .fetch_optional(query("SELECT agency_id FROM tenants WHERE id = $1").bind(tenant))
                .await?;
            owner.and_then(|(agency,)| agency)
        }
        None => change.agency_id,
    };
    let chain = chain_of(change.tenant_id, agency_id);
    tx.execute(
        query("INSERT INTO audit_chains (chain_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (chain_id) DO NOTHING")
            .bind(chain)
            .bind(GENESIS),
    )
    .await?;
    let lock = tx.backend().lock_clause("audit_chains");
    let (seq, prev_hash): (i64, String) = tx
        .fetch_one(
            query(format!(
                "SELECT seq, hash FROM audit_chains WHERE chain_id = $1{lock}"
            ))
            .bind(chain),
        )
        .await?;
    let acting = current();
    let mut entry = Entry {
        id: AuditId::generate(),
        seq: seq + 1,
        at: super::now(),
        tenant_id: change.tenant_id,
        agency_id,
        actor: change.actor.unwrap_or(acting.actor),
        action: change.action,
        target: change.target,
        changes: change.changes,
        request_id: acting.request_id,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.link_hash();
    insert(tx, chain, &entry).await?;
    // A change the outside world hears of is an event too, in the same transaction.
    if let Some(event) = Event::of_change(&entry) {
        super::events::emit_telling(tx, &event, &change.also_told).await?;
    }
    tx.execute(
        query("UPDATE audit_chains SET seq = $2, hash = $3 WHERE chain_id = $1")
            .bind(chain)
            .bind(entry.seq)
            .bind(&entry.hash),
    )
    .await?;
    Ok(())
}

async fn insert(tx: &mut Tx, chain: Uuid, entry: &Entry) -> StoreResult<()> {
    tx.execute(
        query(
            "INSERT INTO audit_log (id, chain_id, seq, at, tenant_id, agency_id, actor_type, \
             actor_id, action, target_type, target_id, changes, request_id, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(entry.id)
        .bind(chain)
        .bind(entry.seq)
        .bind(entry.at)
        .bind(entry.tenant_id)
        .bind(entry.agency_id)
        .bind(<&str>::from(entry.actor.kind))
        .bind(entry.actor.id.as_deref())
        .bind(entry.action.as_str())
        .bind(entry.target.kind.as_str())
        .bind(entry.target.id.as_str())
        .bind(entry.changes.clone())
        .bind(entry.request_id.as_deref())
        .bind(entry.prev_hash.as_str())
        .bind(entry.hash.as_str()),
    )
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, seq, at, tenant_id, agency_id, actor_type, actor_id, action, \
                       target_type, target_id, changes, request_id, prev_hash, hash";

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: AuditId,
    seq: i64,
    at: DateTime<Utc>,
    tenant_id: Option<TenantId>,
    agency_id: Option<AgencyId>,
    actor_type: String,
    actor_id: Option<String>,
    action: String,
    target_type: String,
    target_id: String,
    changes: Json<Value>,
    request_id: Option<String>,
    prev_hash: String,
    hash: String,
}

impl TryFrom<EntryRow> for Entry {
    type Error = super::StoreError;

    fn try_from(row: EntryRow) -> StoreResult<Entry> {
        let kind: ActorKind = super::from_text(&row.actor_type)?;
        Ok(Entry {
            id: row.id,
            seq: row.seq,
            at: row.at,
            tenant_id: row.tenant_id,
            agency_id: row.agency_id,
            actor: Actor {
                kind,
                id: row.actor_id,
            },
            action: row.action,
            target: Target {
                kind: row.target_type,
                id: row.target_id,
            },
            changes: row.changes.0,
            request_id: row.request_id,
            prev_hash: row.prev_hash,
            hash: row.hash,
        })
    }
}

/// Which entries a list returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant_id: Option<TenantId>,
    pub agency_id: Option<AgencyId>,
    pub action: Option<String>,
    /// An actor's id (`key_…`, `usr_…`) or kind (`master`, `system`).
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Up to `limit` entries, newest first, after the cursor `before` (an entry id).
pub async fn list(
    reader: Reader<'_>,
    filter: &AuditFilter,
    before: Option<AuditId>,
    limit: i64,
) -> StoreResult<Vec<Entry>> {
    let rows: Vec<EntryRow> = reader.fetch_all(list_query(filter, before, limit)).await?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// The statement of [`list`]: the tenant's or agency's index, walked backwards by id, with
/// the other filters checked on the way.
pub fn list_query(filter: &AuditFilter, before: Option<AuditId>, limit: i64) -> Query<'static> {
    let mut statement = query(format!("SELECT {COLUMNS} FROM audit_log WHERE TRUE"));
    if let Some(tenant) = filter.tenant_id {
        statement.push_sql(" AND tenant_id = ?", [tenant.into()]);
    }
    if let Some(agency) = filter.agency_id {
        statement.push_sql(" AND agency_id = ?", [agency.into()]);
    }
    if let Some(action) = &filter.action {
        statement.push_sql(" AND action = ?", [action.clone().into()]);
    }
    if let Some(actor) = &filter.actor {
        let sql = " AND (actor_id = ? OR (actor_id IS NULL AND actor_type = ?))";
        statement.push_sql(sql, [actor.clone().into(), actor.clone().into()]);
    }
    if let Some(since) = filter.since {
        statement.push_sql(" AND at >= ?", [since.into()]);
    }
    if let Some(until) = filter.until {
        statement.push_sql(" AND at < ?", [until.into()]);
    }
    if let Some(before) = before {
        statement.push_sql(" AND id < ?", [before.into()]);
    }
    statement.push_sql(" ORDER BY id DESC LIMIT ?", [limit.into()]);
    statement
}

/// A chain's head: its last sequence number and hash (0 and the genesis hash when empty).
pub async fn head(reader: Reader<'_>, chain: Uuid) -> StoreResult<(i64, String)> {
    let head: Option<(i64, String)> = reader
        .fetch_optional(query("SELECT seq, hash FROM audit_chains WHERE chain_id = $1").bind(chain))
        .await?;
    Ok(head.unwrap_or((0, GENESIS.to_owned())))
}

/// Up to `limit` entries of a chain in order, after sequence number `after` and up to
/// `up_to`.
pub async fn chain_page(
    reader: Reader<'_>,
    chain: Uuid,
    after: i64,
    up_to: i64,
    limit: i64,
) -> StoreResult<Vec<Entry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log WHERE chain_id = $1 AND seq > $2 AND seq <= $3 \
         ORDER BY seq LIMIT {limit}"
    );
    let rows: Vec<EntryRow> = reader
        .fetch_all(query(sql).bind(chain).bind(after).bind(up_to))
        .await?;
    rows.into_iter().map(Entry::try_from).collect()
}

//! Transfers. A request is made under the tenant's row lock, so a tenant has one pending
//! transfer at most (the partial unique index `transfers_one_pending` holds it too). An answer
//! locks the transfer's row; an accept then takes the tenant's counters and row, in
//! admission's order, and moves the tenant in the same transaction.

use chrono::{DateTime, Utc};

use super::audit::{record, Change};
use super::{from_text, now, query, Db, Query, StoreError, StoreResult, Tx};
use crate::domain::access::TenantScope;
use crate::domain::conflict::Conflict;
use crate::domain::ids::{AgencyId, TenantId, TransferId};
use crate::domain::transfer::{
    Decision, Transfer, TransferDirection, TransferState, TRANSFER_LIFETIME,
};

const COLUMNS: &str = "id, tenant_id, source_agency_id, target_agency_id, note, state, \
                       created_at, expires_at, decided_at";

#[derive(sqlx::FromRow)]
struct TransferRow {
    id: TransferId,
    tenant_id: TenantId,
    source_agency_id: Option<AgencyId>,
    target_agency_id: Option<AgencyId>,
    note: Option<String>,
    state: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

impl TryFrom<TransferRow> for Transfer {
    type Error = StoreError;

    fn try_from(row: TransferRow) -> StoreResult<Transfer> {
        Ok(Transfer {
            id: row.id,
            tenant_id: row.tenant_id,
            source_agency_id: row.source_agency_id,
            target_agency_id: row.target_agency_id,
            note: row.note,
            stored_state: from_text(&row.state)?,
            created_at: row.created_at,
            expires_at: row.expires_at,
            decided_at: row.decided_at,
        })
    }
}

/// Requests the move of a tenant `scope` reaches to `target`. A pending request of the tenant
/// is a conflict; one past its expiry is marked expired first.
pub async fn request(
    tx: &mut Tx,
    scope: TenantScope,
    tenant_id: TenantId,
    target: Option<AgencyId>,
    note: Option<&str>,
) -> StoreResult<Transfer> {
    let tenant = super::tenants::locked(tx, scope, tenant_id).await?;
    let at = now();
    expire_one(tx, at, Some(tenant_id)).await?;
    let id = TransferId::generate();
    let sql = format!(
        "INSERT INTO transfers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, NULL) \
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    );
    let row: Option<TransferRow> = tx
        .fetch_optional(
            query(sql)
                .bind(id)
                .bind(tenant_id)
                .bind(tenant.agency_id)
                .bind(target)
                .bind(note)
                .bind(at)
                .bind(at + TRANSFER_LIFETIME),
        )
        .await?;
    let transfer = Transfer::try_from(row.ok_or(StoreError::Conflict(Conflict::TransferPending))?)?;
    record(tx, told("transfer.requested", None, &transfer)).await?;
    Ok(transfer)
}

/// Marks one pending transfer past its expiry (of `tenant`, if given) as expired, recorded
/// as the system's change; replicas pass over each other's. Answers it, if there was one.
pub async fn expire_one(
    tx: &mut Tx,
    at: DateTime<Utc>,
    tenant: Option<TenantId>,
) -> StoreResult<Option<Transfer>> {
    let mut statement = query(format!(
        "SELECT {COLUMNS} FROM transfers WHERE state = 'pending' AND expires_at <= $1"
    ))
    .bind(at);
    if let Some(tenant) = tenant {
        statement.push_sql(" AND tenant_id = ?", [tenant.into()]);
    }
    statement.push_sql(" ORDER BY expires_at LIMIT 1", []);
    statement.push_sql(tx.backend().skip_locked_clause(), []);
    let Some(row) = tx.fetch_optional::<TransferRow>(statement).await? else {
        return Ok(None);
    };
    let current = Transfer::try_from(row)?;
    tx.execute(
        query("UPDATE transfers SET state = 'expired', decided_at = expires_at WHERE id = $1")
            .bind(current.id),
    )
    .await?;
    let expired = Transfer {
        stored_state: TransferState::Expired,
        decided_at: Some(current.expires_at),
        ..current.clone()
    };
    record(tx, told("transfer.expired", Some(&current), &expired)).await?;
    Ok(Some(expired))
}

pub async fn find(db: &Db, id: TransferId) -> StoreResult<Option<Transfer>> {
    let sql = format!("SELECT {COLUMNS} FROM transfers WHERE id = $1");
    let row: Option<TransferRow> = db.reader().fetch_optional(query(sql).bind(id)).await?;
    row.map(Transfer::try_from).transpose()
}

/// Which transfers a list returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransferFilter {
    /// The agency whose transfers these are (`None`: the platform's, to or from
    /// self-managed); `all` lists every transfer instead.
    pub agency: Option<AgencyId>,
    pub all: bool,
    pub direction: Option<TransferDirection>,
    pub state: Option<TransferState>,
}

/// The statement of one page, newest first, before the cursor `before`.
pub fn list_query(
    filter: TransferFilter,
    before: Option<TransferId>,
    at: DateTime<Utc>,
    limit: i64,
) -> Query<'static> {
    let mut statement = query(format!("SELECT {COLUMNS} FROM transfers WHERE TRUE"));
    if !filter.all {
        let side = |column: &str| match filter.agency {
            Some(_) => format!("{column} = ?"),
            None => format!("{column} IS NULL"),
        };
        let agency = filter.agency.map(Into::into);
        let sql = match filter.direction {
            Some(TransferDirection::Incoming) => side("target_agency_id"),
            Some(TransferDirection::Outgoing) => side("source_agency_id"),
            None => format!(
                "({} OR {})",
                side("target_agency_id"),
                side("source_agency_id")
            ),
        };
        let count = sql.matches('?').count();
        statement.push_sql(
            &format!(" AND {sql}"),
            agency.into_iter().cycle().take(count),
        );
    }
    match filter.state {
        Some(TransferState::Pending) => {
            statement.push_sql(" AND state = 'pending' AND expires_at > ?", [at.into()])
        }
        Some(TransferState::Expired) => statement.push_sql(
            " AND (state = 'expired' OR (state = 'pending' AND expires_at <= ?))",
            [at.into()],
        ),
        Some(state) => statement.push_sql(" AND state = ?", [<&str>::from(state).into()]),
        None => {}
    }
    if let Some(before) = before {
        statement.push_sql(" AND id < ?", [before.into()]);
    }
    statement.push_sql(" ORDER BY id DESC LIMIT ?", [limit.into()]);
    statement
}

pub async fn list(
    db: &Db,
    filter: TransferFilter,
    before: Option<TransferId>,
    limit: i64,
) -> StoreResult<Vec<Transfer>> {
    let rows: Vec<TransferRow> = db
        .reader()
        .fetch_all(list_query(filter, before, now(), limit))
        .await?;
    rows.into_iter().map(Transfer::try_from).collect()
}

/// Answers a pending transfer. An accept moves the tenant in the same transaction.
pub async fn decide(tx: &mut Tx, id: TransferId, decision: Decision) -> StoreResult<Transfer> {
    let lock = tx.backend().lock_clause("transfers");
    let sql = format!("SELECT {COLUMNS} FROM transfers WHERE id = $1{lock}");
    let row: Option<TransferRow> = tx.fetch_optional(query(sql).bind(id)).await?;
    let current = Transfer::try_from(row.ok_or(StoreError::NotFound)?)?;
    let at = now();
    if current.state(at) != TransferState::Pending {
        return Err(StoreError::Conflict(Conflict::TransferNotPending));
    }
    if decision == Decision::Accept {
        super::tenants::move_to(tx, current.tenant_id, current.target_agency_id).await?;
    }
    let state = decision.state();
    tx.execute(
        query("UPDATE transfers SET state = $2, decided_at = $3 WHERE id = $1")
            .bind(id)
            .bind(<&str>::from(state))
            .bind(at),
    )
    .await?;
    let decided = Transfer {
        stored_state: state,
        decided_at: Some(at),
        ..current.clone()
    };
    let action = format!("transfer.{}", <&str>::from(state));
    record(tx, told(action, Some(&current), &decided)).await?;
    Ok(decided)
}

/// A transfer's change, told to both agencies' endpoints: the one the tenant leaves and the one
/// it joins, whichever has it at the moment.
fn told(action: impl Into<String>, before: Option<&Transfer>, after: &Transfer) -> Change {
    let sides = [after.source_agency_id, after.target_agency_id];
    Change::of(action, before, Some(after)).telling(sides.into_iter().flatten())
}

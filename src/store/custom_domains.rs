//! Custom domains: one row per agency, the domain unique across agencies (a second agency's
//! claim is a [`Conflict::DomainTaken`](crate::domain::conflict::Conflict::DomainTaken),
//! unless the first left it unverified for [`PENDING_CLAIM_HOLDS`]).

use chrono::{DateTime, Utc};

use super::audit::{record, record_change, Change};
use super::{next_version, now, query, Db, StoreError, StoreResult, Tx};
use crate::domain::custom_domain::{mint_verification_token, CustomDomain, PENDING_CLAIM_HOLDS};
use crate::domain::ids::AgencyId;
use crate::domain::values::HostName;

const COLUMNS: &str = "agency_id, domain, status, verification_token, verified_at, \
                       last_checked_at, last_check_error, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct DomainRow {
    agency_id: AgencyId,
    domain: String,
    status: String,
    verification_token: String,
    verified_at: Option<DateTime<Utc>>,
    last_checked_at: Option<DateTime<Utc>>,
    last_check_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DomainRow> for CustomDomain {
    type Error = StoreError;

    fn try_from(row: DomainRow) -> StoreResult<CustomDomain> {
        let corrupt = |what: &str, value: &str| {
            StoreError::Corrupt(anyhow::anyhow!("stored {what} {value:?} does not parse"))
        };
        Ok(CustomDomain {
            agency_id: row.agency_id,
            domain: HostName::parse(&row.domain).map_err(|_| corrupt("domain", &row.domain))?,
            status: row
                .status
                .parse()
                .map_err(|_| corrupt("domain status", &row.status))?,
            verification_token: row.verification_token,
            verified_at: row.verified_at,
            last_checked_at: row.last_checked_at,
            last_check_error: row.last_check_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The agency's custom domain, locked for the rest of the transaction.
async fn locked(tx: &mut Tx, agency: AgencyId) -> StoreResult<Option<CustomDomain>> {
    let lock = tx.backend().lock_clause("custom_domains");
    let sql = format!("SELECT {COLUMNS} FROM custom_domains WHERE agency_id = $1{lock}");
    let row: Option<DomainRow> = tx.fetch_optional(query(sql).bind(agency)).await?;
    row.map(CustomDomain::try_from).transpose()
}

pub async fn find(db: &Db, agency: AgencyId) -> StoreResult<Option<CustomDomain>> {
    let sql = format!("SELECT {COLUMNS} FROM custom_domains WHERE agency_id = $1");
    let row: Option<DomainRow> = db.reader().fetch_optional(query(sql).bind(agency)).await?;
    row.map(CustomDomain::try_from).transpose()
}

/// Registers `domain` for `agency`, pending, with a fresh token; it replaces the agency's
/// other domain, and takes over another agency's lapsed claim on it. The domain it has
/// already is answered as it stands.
pub async fn register(db: &Db, agency: AgencyId, domain: &HostName) -> StoreResult<CustomDomain> {
    let mut tx = db.begin().await?;
    let current = locked(&mut tx, agency).await?;
    if let Some(current) = current.as_ref().filter(|c| &c.domain == domain) {
        return Ok(current.clone());
    }
    let at = match &current {
        Some(current) => next_version(current.updated_at),
        None => now(),
    };
    let lapsed = release_lapsed(&mut tx, agency, domain, at).await?;
    let sql = format!(
        "INSERT INTO custom_domains (agency_id, domain, status, verification_token, \
         next_check_at, created_at, updated_at) \
         VALUES ($1, $2, 'pending_verification', $3, $4, $4, $4) \
         ON CONFLICT (agency_id) DO UPDATE SET domain = excluded.domain, \
         status = excluded.status, verification_token = excluded.verification_token, \
         verified_at = NULL, last_checked_at = NULL, last_check_error = NULL, \
         next_check_at = excluded.next_check_at, created_at = excluded.created_at, \
         updated_at = excluded.updated_at \
         RETURNING {COLUMNS}"
    );
    let row: DomainRow = tx
        .fetch_one(
            query(sql)
                .bind(agency)
                .bind(domain.as_str())
                .bind(mint_verification_token())
                .bind(at),
        )
        .await?;
    let registered = CustomDomain::try_from(row)?;
    let mut changes = vec![(
        agency,
        Change::of(
            "custom_domain.registered",
            current.as_ref(),
            Some(&registered),
        ),
    )];
    if let Some(lapsed) = &lapsed {
        let released = Change::of("custom_domain.released", Some(lapsed), None);
        changes.push((lapsed.agency_id, released));
    }
    // Chains in one order, so that two agencies taking each other's lapsed claims at once
    // cannot deadlock on their chains' heads.
    changes.sort_by_key(|(agency, _)| *agency);
    for (_, change) in changes {
        record(&mut tx, change).await?;
    }
    tx.commit().await?;
    Ok(registered)
}

/// Removes another agency's claim on `domain` left unverified since before
/// [`PENDING_CLAIM_HOLDS`] ago, so that `agency` can take the domain; answers the claim
/// removed. A claim still holding the domain stays, and the insert that follows meets it.
async fn release_lapsed(
    tx: &mut Tx,
    agency: AgencyId,
    domain: &HostName,
    at: DateTime<Utc>,
) -> StoreResult<Option<CustomDomain>> {
    let sql = format!(
        "DELETE FROM custom_domains WHERE domain = $1 AND agency_id <> $2 \
         AND status = 'pending_verification' AND created_at <= $3 RETURNING {COLUMNS}"
    );
    let statement = query(sql)
        .bind(domain.as_str())
        .bind(agency)
        .bind(at - PENDING_CLAIM_HOLDS);
    let row: Option<DomainRow> = tx.fetch_optional(statement).await?;
    row.map(CustomDomain::try_from).transpose()
}

/// Removes the agency's custom domain; answers it, or `None` when the agency had none.
pub async fn remove(db: &Db, agency: AgencyId) -> StoreResult<Option<CustomDomain>> {
    let mut tx = db.begin().await?;
    let sql = format!("DELETE FROM custom_domains WHERE agency_id = $1 RETURNING {COLUMNS}");
    let row: Option<DomainRow> = tx.fetch_optional(query(sql).bind(agency)).await?;
    let Some(removed) = row.map(CustomDomain::try_from).transpose()? else {
        return Ok(None);
    };
    record_change(&mut tx, "custom_domain.removed", Some(&removed), None).await?;
    tx.commit().await?;
    Ok(Some(removed))
}

/// Records a lookup of the CNAME of `checked` (as it was read): verified (`Ok`), or why not,
/// to be looked up again from `next_check` on. Answers the domain as it now stands, or `None`
/// when the agency has another domain since. An active domain stays as it is.
pub async fn record_check(
    db: &Db,
    checked: &CustomDomain,
    verdict: Result<(), String>,
    next_check: DateTime<Utc>,
) -> StoreResult<Option<CustomDomain>> {
    let mut tx = db.begin().await?;
    let Some(current) = locked(&mut tx, checked.agency_id)
        .await?
        .filter(|current| current.domain == checked.domain)
    else {
        return Ok(None);
    };
    let pending = current.status == crate::domain::custom_domain::DomainStatus::PendingVerification;
    if !pending {
        return Ok(Some(current));
    }
    let at = now();
    let statement = match &verdict {
        Ok(()) => query(format!(
            "UPDATE custom_domains SET status = 'active', verified_at = $2, \
             last_checked_at = $2, last_check_error = NULL, updated_at = $3 \
             WHERE agency_id = $1 RETURNING {COLUMNS}"
        ))
        .bind(checked.agency_id)
        .bind(at)
        .bind(next_version(current.updated_at)),
        Err(why) => query(format!(
            "UPDATE custom_domains SET last_checked_at = $2, last_check_error = $3, \
             next_check_at = $4 WHERE agency_id = $1 RETURNING {COLUMNS}"
        ))
        .bind(checked.agency_id)
        .bind(at)
        .bind(why.as_str())
        .bind(next_check),
    };
    let row: DomainRow = tx.fetch_one(statement).await?;
    let now_stands = CustomDomain::try_from(row)?;
    if verdict.is_ok() {
        let action = "custom_domain.verified";
        record_change(&mut tx, action, Some(&current), Some(&now_stands)).await?;
    }
    tx.commit().await?;
    Ok(Some(now_stands))
}

/// Claims up to `limit` pending domains due for a lookup at `at` (passing over those another
/// server holds), moving their next lookup to `next_check`, and answers them.
pub async fn claim_due(
    db: &Db,
    at: DateTime<Utc>,
    next_check: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<CustomDomain>> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "UPDATE custom_domains SET next_check_at = $2 WHERE agency_id IN (SELECT agency_id \
         FROM custom_domains WHERE status = 'pending_verification' AND next_check_at <= $1 \
         ORDER BY next_check_at LIMIT $3{}) RETURNING {COLUMNS}",
        tx.backend().skip_locked_clause()
    );
    let rows: Vec<DomainRow> = tx
        .fetch_all(query(sql).bind(at).bind(next_check).bind(limit))
        .await?;
    tx.commit().await?;
    rows.into_iter().map(CustomDomain::try_from).collect()
}

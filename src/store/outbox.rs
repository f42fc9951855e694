//! The email outbox. A mail is enqueued in the transaction of the change it tells of, so it
//! exists exactly when the change does. Workers on any number of replicas claim due mail: a
//! claim leases a row to one worker (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single
//! writer on SQLite) and moves its next attempt to the lease's end, so a worker that dies
//! mid-send leaves the mail due again once the lease runs out. Only the lease's holder records
//! the outcome.

use chrono::{DateTime, Duration, Utc};

use super::{query, Db, StoreResult, Tx};
use crate::domain::email::{Mail, DEFAULT_BRAND};
use crate::domain::ids::{EmailId, TenantId};

/// What is pending: neither sent nor given up.
const PENDING: &str = "sent_at IS NULL AND failed_at IS NULL";

/// Writes `mail` in the caller's transaction: it is sent only if that transaction commits.
/// `tenant` is the tenant the mail is about, if any. Wake the worker after the commit
/// (`Context::mail_sent_soon`) so that it goes out at once.
pub async fn enqueue(tx: &mut Tx, mail: &Mail, tenant: Option<TenantId>) -> StoreResult<EmailId> {
    let id = EmailId::generate();
    let at = super::now();
    tx.execute(
        query(
            "INSERT INTO email_outbox (id, tenant_id, recipient, subject, text_body, html_body, \
             created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id)
        .bind(tenant)
        .bind(&mail.to)
        .bind(&mail.subject)
        .bind(&mail.text)
        .bind(&mail.html)
        .bind(at),
    )
    .await?;
    Ok(id)
}

/// A mail leased to one worker until `lease_until`.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: EmailId,
    pub tenant_id: Option<TenantId>,
    pub mail: Mail,
    /// Claims so far, this one included.
    pub attempts: i64,
    /// The claim's token: [`mark_sent`] and [`mark_failed`] name it.
    pub lease_until: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: EmailId,
    tenant_id: Option<TenantId>,
    recipient: String,
    subject: String,
    text_body: String,
    html_body: String,
    attempts: i64,
}

/// Leases up to `batch` mails due at `at` to the caller until `at + lease`, oldest due first.
/// A mail is leased to one caller at a time, however many replicas ask at once.
pub async fn claim(
    db: &Db,
    at: DateTime<Utc>,
    batch: i64,
    lease: Duration,
) -> StoreResult<Vec<Claimed>> {
    let lease_until = at + lease;
    let mut tx = db.begin().await?;
    let sql = format!(
        "UPDATE email_outbox SET attempts = attempts + 1, lease_until = $2, next_attempt_at = $2 \
         WHERE id IN (SELECT id FROM email_outbox WHERE {PENDING} AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at LIMIT $3{}) \
         RETURNING id, tenant_id, recipient, subject, text_body, html_body, attempts",
        tx.backend().skip_locked_clause()
    );
    let rows: Vec<ClaimedRow> = tx
        .fetch_all(query(sql).bind(at).bind(lease_until).bind(batch))
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|row| Claimed {
            id: row.id,
            tenant_id: row.tenant_id,
            mail: Mail {
                to: row.recipient,
                subject: row.subject,
                text: row.text_body,
                html: row.html_body,
            },
            attempts: row.attempts,
            lease_until,
        })
        .collect())
}

/// Records that the claimed mail was accepted by the SMTP server. `false` when the claim had
/// lapsed and another worker holds the mail now.
pub async fn mark_sent(db: &Db, claimed: &Claimed, at: DateTime<Utc>) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let changed = tx
        .execute(
            query(
                "UPDATE email_outbox SET sent_at = $3, lease_until = NULL, last_error = NULL \
                 WHERE id = $1 AND lease_until = $2 AND sent_at IS NULL",
            )
            .bind(claimed.id)
            .bind(claimed.lease_until)
            .bind(at),
        )
        .await?;
    tx.commit().await?;
    Ok(changed == 1)
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Try again from then on.
    At(DateTime<Utc>),
    /// Stop trying; the mail stays in the outbox, failed at this time.
    GiveUp(DateTime<Utc>),
}

/// Records a failed attempt of the claimed mail and what follows it. `false` when the claim
/// had lapsed and another worker holds the mail now.
pub async fn mark_failed(
    db: &Db,
    claimed: &Claimed,
    error: &str,
    next: NextAttempt,
) -> StoreResult<bool> {
    let (next_attempt_at, failed_at) = match next {
        NextAttempt::At(at) => (at, None),
        NextAttempt::GiveUp(at) => (at, Some(at)),
    };
    let mut tx = db.begin().await?;
    let changed = tx
        .execute(
            query(
                "UPDATE email_outbox SET lease_until = NULL, last_error = $3, \
                 next_attempt_at = $4, failed_at = $5 \
                 WHERE id = $1 AND lease_until = $2 AND sent_at IS NULL",
            )
            .bind(claimed.id)
            .bind(claimed.lease_until)
            .bind(error)
            .bind(next_attempt_at)
            .bind(failed_at),
        )
        .await?;
    tx.commit().await?;
    Ok(changed == 1)
}

/// A pending mail as a server without SMTP logs it: never its body, which may hold secrets.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unlogged {
    pub id: EmailId,
    pub recipient: String,
    pub subject: String,
}

/// Marks up to `batch` pending mails that no server has logged yet as logged at `at`, and
/// returns them to be logged: each is logged once, by one replica. They stay pending.
pub async fn take_unlogged(db: &Db, at: DateTime<Utc>, batch: i64) -> StoreResult<Vec<Unlogged>> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "UPDATE email_outbox SET logged_at = $1 \
         WHERE id IN (SELECT id FROM email_outbox WHERE logged_at IS NULL AND {PENDING} \
         ORDER BY created_at LIMIT $2{}) \
         RETURNING id, recipient, subject",
        tx.backend().skip_locked_clause()
    );
    let rows = tx.fetch_all(query(sql).bind(at).bind(batch)).await?;
    tx.commit().await?;
    Ok(rows)
}

/// When the earliest pending mail is due, if any mail is pending.
pub async fn next_due(db: &Db) -> StoreResult<Option<DateTime<Utc>>> {
    let due: Option<(DateTime<Utc>,)> = db
        .reader()
        .fetch_optional(query(format!(
            "SELECT next_attempt_at FROM email_outbox WHERE {PENDING} \
             ORDER BY next_attempt_at LIMIT 1"
        )))
        .await?;
    Ok(due.map(|(at,)| at))
}

/// Deletes mail sent or given up before `before`; returns how many.
pub async fn purge(db: &Db, before: DateTime<Utc>) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let purged = tx
        .execute(
            query("DELETE FROM email_outbox WHERE sent_at < $1 OR failed_at < $1").bind(before),
        )
        .await?;
    tx.commit().await?;
    Ok(purged)
}

/// One mail's delivery record, for operators and tests.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: EmailId,
    pub tenant_id: Option<TenantId>,
    pub recipient: String,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub logged_at: Option<DateTime<Utc>>,
}

const DELIVERY_COLUMNS: &str = "id, tenant_id, recipient, subject, created_at, attempts, \
     next_attempt_at, sent_at, failed_at, last_error, logged_at";

/// One mail's delivery record.
pub async fn get(db: &Db, id: EmailId) -> StoreResult<Delivery> {
    db.reader()
        .fetch_one(
            query(format!(
                "SELECT {DELIVERY_COLUMNS} FROM email_outbox WHERE id = $1"
            ))
            .bind(id),
        )
        .await
}

/// The delivery records of the mail about `tenant`, oldest first.
pub async fn list_for_tenant(db: &Db, tenant: TenantId) -> StoreResult<Vec<Delivery>> {
    db.reader()
        .fetch_all(
            query(format!(
                "SELECT {DELIVERY_COLUMNS} FROM email_outbox WHERE tenant_id = $1 \
                 ORDER BY created_at, id"
            ))
            .bind(tenant),
        )
        .await
}

/// How many mails are pending: neither sent nor given up.
pub async fn count_pending(db: &Db) -> StoreResult<i64> {
    let (count,): (i64,) = db
        .reader()
        .fetch_one(query(format!(
            "SELECT COUNT(*) FROM email_outbox WHERE {PENDING}"
        )))
        .await?;
    Ok(count)
}

/// The brand of mail about `tenant`: its agency's name, or the default brand for a tenant of
/// no agency. Read in the transaction that enqueues the mail.
pub async fn brand_of(tx: &mut Tx, tenant: TenantId) -> StoreResult<String> {
    let (name,): (Option<String>,) = tx
        .fetch_one(
            query(
                "SELECT a.name FROM tenants t LEFT JOIN agencies a ON a.id = t.agency_id \
                 WHERE t.id = $1",
            )
            .bind(tenant),
        )
        .await?;
    Ok(name.unwrap_or_else(|| DEFAULT_BRAND.to_owned()))
}

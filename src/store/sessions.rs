//! Logging in: credentials, sessions, failed attempts, password resets and MFA state. Tokens
//! and recovery codes are stored as SHA-256 hashes; TOTP secrets are stored sealed.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::audit::Change;
use super::users::{members, MemberRow, MEMBER_SELECT};
use super::{now, query, Db, StoreError, StoreResult, Tx};
use crate::domain::access::Principal;
use crate::domain::audit::{Actor, Target, SECRET_MASK};
use crate::domain::conflict::Conflict;
use crate::domain::ids::UserId;
use crate::domain::user::Member;

/// What a login checks, found by the address's key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub user_id: UserId,
    pub email: String,
    pub password_hash: Option<String>,
    /// Sealed.
    pub mfa_secret: Option<String>,
    pub mfa_pending_secret: Option<String>,
    pub mfa_last_step: Option<i64>,
}

const CREDENTIALS: &str = "SELECT id AS user_id, email, password_hash, mfa_secret, \
     mfa_pending_secret, mfa_last_step FROM users";

pub async fn credentials_by_email(db: &Db, email_key: &str) -> StoreResult<Option<Credentials>> {
    db.reader()
        .fetch_optional(query(format!("{CREDENTIALS} WHERE email_key = $1")).bind(email_key))
        .await
}

pub async fn credentials(db: &Db, user: UserId) -> StoreResult<Credentials> {
    db.reader()
        .fetch_one(query(format!("{CREDENTIALS} WHERE id = $1")).bind(user))
        .await
}

/// Every membership of a user, widest reach first (platform, agencies, tenants), then oldest.
pub async fn memberships(db: &Db, user: UserId) -> StoreResult<Vec<Member>> {
    let rows: Vec<MemberRow> = db
        .reader()
        .fetch_all(
            query(format!(
                "{MEMBER_SELECT} WHERE m.user_id = $1 ORDER BY \
                 CASE WHEN m.tenant_id IS NOT NULL THEN 2 WHEN m.agency_id IS NOT NULL THEN 1 \
                 ELSE 0 END, m.created_at"
            ))
            .bind(user),
        )
        .await?;
    members(rows)
}

/// Opens a session through an active membership and records the login.
pub async fn create(
    db: &Db,
    member: &Member,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let at = now();
    tx.execute(
        query(
            "INSERT INTO sessions (id, token_hash, user_id, membership_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7())
        .bind(token_hash)
        .bind(member.user_id)
        .bind(member.membership_id)
        .bind(at)
        .bind(expires_at),
    )
    .await?;
    tx.execute(
        query("UPDATE users SET last_login_at = $2 WHERE id = $1")
            .bind(member.user_id)
            .bind(at),
    )
    .await?;
    tx.commit().await
}

/// The member a session token acts as, and whether its tenant is inactive: `None` when the
/// token is unknown or expired, its membership is not active, or its tenant is deleted.
pub async fn authenticate(db: &Db, token_hash: &str) -> StoreResult<Option<(Member, bool)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        member: MemberRow,
        tenant_inactive: bool,
    }
    let row: Option<Row> = db
        .reader()
        .fetch_optional(
            query(format!(
                "SELECT q.*, COALESCE(t.status = 'inactive', FALSE) AS tenant_inactive \
                 FROM sessions s JOIN ({MEMBER_SELECT} \
                 WHERE m.status = 'active' AND (m.tenant_id IS NULL OR t.status <> 'deleted')) q \
                 ON q.membership_id = s.membership_id LEFT JOIN tenants t ON t.id = q.tenant_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2"
            ))
            .bind(token_hash)
            .bind(now()),
        )
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let inactive = row.tenant_inactive;
            Ok(members(vec![row.member])?
                .pop()
                .map(|member| (member, inactive)))
        }
    }
}

/// Ends the session a token opened.
pub async fn end(db: &Db, token_hash: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    tx.execute(query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash))
        .await?;
    tx.commit().await
}

/// Records a failed login for each subject, and a lock on `lock_subject` when the first
/// subject has `failures_that_lock` failures since `since`.
pub async fn record_failure(
    db: &Db,
    subjects: &[&str],
    lock_subject: &str,
    since: DateTime<Utc>,
    failures_that_lock: i64,
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let at = now();
    for subject in subjects {
        tx.execute(
            query("INSERT INTO login_failures (subject, failed_at) VALUES ($1, $2)")
                .bind(*subject)
                .bind(at),
        )
        .await?;
    }
    let (failures,): (i64,) = tx
        .fetch_one(
            query("SELECT COUNT(*) FROM login_failures WHERE subject = $1 AND failed_at > $2")
                .bind(subjects[0])
                .bind(since),
        )
        .await?;
    if failures >= failures_that_lock {
        tx.execute(
            query("INSERT INTO login_failures (subject, failed_at) VALUES ($1, $2)")
                .bind(lock_subject)
                .bind(at),
        )
        .await?;
    }
    tx.commit().await
}

/// How many failures `subject` has since `since`, and the latest.
pub async fn failures(
    db: &Db,
    subject: &str,
    since: DateTime<Utc>,
) -> StoreResult<(i64, Option<DateTime<Utc>>)> {
    db.reader()
        .fetch_one(
            query(
                "SELECT COUNT(*), MAX(failed_at) FROM login_failures \
                 WHERE subject = $1 AND failed_at > $2",
            )
            .bind(subject)
            .bind(since),
        )
        .await
}

/// Forgets the failures (and any lock) of these subjects: after a successful login or a
/// password reset.
pub async fn clear_failures(db: &Db, subjects: &[&str]) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    for subject in subjects {
        tx.execute(query("DELETE FROM login_failures WHERE subject = $1").bind(*subject))
            .await?;
    }
    tx.commit().await
}

/// Deletes what no longer works or counts at `at`: expired sessions, reset links that
/// expired, and failed logins older than `failures_before`. Answers how many rows went.
pub async fn purge(db: &Db, at: DateTime<Utc>, failures_before: DateTime<Utc>) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let mut purged = 0;
    for (sql, instant) in [
        ("DELETE FROM sessions WHERE expires_at <= $1", at),
        ("DELETE FROM password_resets WHERE expires_at <= $1", at),
        (
            "DELETE FROM login_failures WHERE failed_at < $1",
            failures_before,
        ),
    ] {
        purged += tx.execute(query(sql).bind(instant)).await?;
    }
    tx.commit().await?;
    Ok(purged)
}

/// Stores a password-reset token for a user, in the caller's transaction.
pub async fn create_reset(
    tx: &mut super::Tx,
    user: UserId,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    tx.execute(
        query(
            "INSERT INTO password_resets (id, user_id, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(user)
        .bind(token_hash)
        .bind(expires_at)
        .bind(now()),
    )
    .await?;
    Ok(())
}

/// Uses a reset token once: sets the password and ends every session of its user.
pub async fn reset_password(
    db: &Db,
    token_hash: &str,
    password_hash: &str,
) -> Result<UserId, ResetRefusal> {
    let mut tx = db.begin().await?;
    let lock = tx.backend().lock_clause("password_resets");
    #[derive(sqlx::FromRow)]
    struct Reset {
        id: Uuid,
        user_id: UserId,
        expires_at: DateTime<Utc>,
        used_at: Option<DateTime<Utc>>,
    }
    let found: Option<Reset> = tx
        .fetch_optional(
            query(format!(
                "SELECT id, user_id, expires_at, used_at FROM password_resets \
                 WHERE token_hash = $1{lock}"
            ))
            .bind(token_hash),
        )
        .await?;
    let reset = found.ok_or(ResetRefusal::Unknown)?;
    let (id, user) = (reset.id, reset.user_id);
    let at = now();
    if reset.used_at.is_some() || reset.expires_at <= at {
        return Err(ResetRefusal::Spent);
    }
    tx.execute(
        query("UPDATE password_resets SET used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at),
    )
    .await?;
    tx.execute(
        query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user)
            .bind(password_hash),
    )
    .await?;
    tx.execute(query("DELETE FROM sessions WHERE user_id = $1").bind(user))
        .await?;
    let by = Some(Actor::of(Principal::User(user)));
    record_security(&mut tx, user, "user.password_reset", "password", None, by).await?;
    tx.commit().await?;
    Ok(user)
}

/// Why a reset token did not work.
#[derive(Debug, thiserror::Error)]
pub enum ResetRefusal {
    #[error("unknown reset token")]
    Unknown,
    #[error("the reset link was used or has expired")]
    Spent,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores a TOTP secret awaiting its first code.
pub async fn set_pending_mfa(db: &Db, user: UserId, sealed: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    tx.execute(
        query("UPDATE users SET mfa_pending_secret = $2 WHERE id = $1")
            .bind(user)
            .bind(sealed),
    )
    .await?;
    tx.commit().await
}

/// Turns MFA on with the pending secret, which `step` was a code of, and stores the hashes of
/// new recovery codes in place of any old ones.
pub async fn enable_mfa(
    db: &Db,
    user: UserId,
    pending: &str,
    step: i64,
    recovery_hashes: &[String],
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let enabled = tx
        .execute(
            query(
                "UPDATE users SET mfa_secret = mfa_pending_secret, mfa_pending_secret = NULL, \
                 mfa_last_step = $3 WHERE id = $1 AND mfa_pending_secret = $2",
            )
            .bind(user)
            .bind(pending)
            .bind(step),
        )
        .await?;
    if enabled == 0 {
        return Err(StoreError::Conflict(Conflict::Other));
    }
    tx.execute(query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user))
        .await?;
    for hash in recovery_hashes {
        tx.execute(
            query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user)
                .bind(hash),
        )
        .await?;
    }
    let on = Some((json!(false), json!(true)));
    record_security(&mut tx, user, "user.mfa_enabled", "mfaEnabled", on, None).await?;
    tx.commit().await
}

/// Records a change to a person's own credentials in the platform's trail (a person is no
/// tenant's), with `by` as the actor when the task's is not the person (a link's holder).
async fn record_security(
    tx: &mut Tx,
    user: UserId,
    action: &str,
    field: &str,
    values: Option<(Value, Value)>,
    by: Option<Actor>,
) -> StoreResult<()> {
    let (before, after) = values.unwrap_or((json!(SECRET_MASK), json!(SECRET_MASK)));
    let change = Change::new(
        (None, None),
        action,
        Target::new("user", user),
        json!({ field: { "before": before, "after": after } }),
    )
    .by(by);
    super::audit::record(tx, change).await
}

/// Turns MFA off and forgets the recovery codes.
pub async fn disable_mfa(db: &Db, user: UserId) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    tx.execute(
        query(
            "UPDATE users SET mfa_secret = NULL, mfa_pending_secret = NULL, mfa_last_step = NULL \
             WHERE id = $1",
        )
        .bind(user),
    )
    .await?;
    tx.execute(query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user))
        .await?;
    let off = Some((json!(true), json!(false)));
    record_security(&mut tx, user, "user.mfa_disabled", "mfaEnabled", off, None).await?;
    tx.commit().await
}

/// Claims a TOTP step: true once per step, so a code seen by an eavesdropper is already used.
pub async fn claim_step(db: &Db, user: UserId, step: i64) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let claimed = tx
        .execute(
            query(
                "UPDATE users SET mfa_last_step = $2 WHERE id = $1 \
                 AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
            )
            .bind(user)
            .bind(step),
        )
        .await?;
    tx.commit().await?;
    Ok(claimed == 1)
}

/// Uses a recovery code: true once per code.
pub async fn use_recovery_code(db: &Db, user: UserId, code_hash: &str) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let used = tx
        .execute(
            query(
                "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 \
                 AND used_at IS NULL",
            )
            .bind(user)
            .bind(code_hash)
            .bind(now()),
        )
        .await?;
    tx.commit().await?;
    Ok(used == 1)
}

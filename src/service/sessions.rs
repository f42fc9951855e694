//! Sessions for people: logging in with a password and, when enrolled, a TOTP or recovery
//! code; lockout after repeated failures; logout; MFA enrollment; password reset. A session
//! acts through one of its user's memberships, judged by the same policy as keys.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::{Context, Error, Result};
use crate::domain::access::{Caller, Principal, Scope};
use crate::domain::api_key::hash_secret;
use crate::domain::ids::{AgencyId, TenantId, UserId};
use crate::domain::user::{
    mint_token, otp, password, Member, MemberStatus, ADDRESS_FAILURES, LOCKOUT_FAILURES,
    LOCKOUT_WINDOW, RESET_LIFETIME, RESET_MARK, SESSION_LIFETIME, SESSION_MARK,
};
use crate::domain::validation::Violations;
use crate::domain::values::EmailAddress;
use crate::store::{self, sessions::Credentials};

use super::letters;

/// Runs CPU-heavy work (password hashing) off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::Internal(error.into()))
}

const WRONG_CREDENTIALS: Error = Error::Unauthenticated {
    code: "invalid_credentials",
    detail: "the email or the password is wrong",
};

fn email_subject(email_key: &str) -> String {
    format!("email:{email_key}")
}

fn lock_subject(email_key: &str) -> String {
    format!("lock:{email_key}")
}

fn address_subject(address: Option<IpAddr>) -> String {
    match address {
        Some(address) => format!("address:{address}"),
        None => "address:unknown".to_owned(),
    }
}

/// Refuses while the address is locked or the client has failed too often, whether or not
/// the address has an account, so the answer tells nothing about which addresses exist.
async fn refuse_if_locked(ctx: &Context, email_key: &str, client: Option<IpAddr>) -> Result<()> {
    let since = Utc::now() - LOCKOUT_WINDOW;
    let retry_after = |latest: Option<DateTime<Utc>>| {
        let until = latest.unwrap_or_else(Utc::now) + LOCKOUT_WINDOW;
        (until - Utc::now()).num_seconds().max(1) as u64
    };
    let (locks, locked_at) =
        store::sessions::failures(&ctx.db, &lock_subject(email_key), since).await?;
    if locks > 0 {
        return Err(Error::LoginLocked {
            retry_after: retry_after(locked_at),
        });
    }
    let (failures, latest) =
        store::sessions::failures(&ctx.db, &address_subject(client), since).await?;
    if failures >= ADDRESS_FAILURES {
        return Err(Error::LoginLocked {
            retry_after: retry_after(latest),
        });
    }
    Ok(())
}

async fn record_failure(ctx: &Context, email_key: &str, client: Option<IpAddr>) -> Result<()> {
    let email = email_subject(email_key);
    let address = address_subject(client);
    store::sessions::record_failure(
        &ctx.db,
        &[&email, &address],
        &lock_subject(email_key),
        Utc::now() - LOCKOUT_WINDOW,
        LOCKOUT_FAILURES,
    )
    .await?;
    Ok(())
}

/// Checks a password against an account, counting a wrong one towards the lock.
pub(super) async fn prove_password(
    ctx: &Context,
    credentials: &Credentials,
    offered: &str,
    client: Option<IpAddr>,
) -> Result<()> {
    let email_key = credentials.email.to_lowercase();
    refuse_if_locked(ctx, &email_key, client).await?;
    let stored = credentials.password_hash.clone();
    let offered = offered.to_owned();
    if blocking(move || password::verify(&offered, stored.as_deref())).await? {
        Ok(())
    } else {
        record_failure(ctx, &email_key, client).await?;
        Err(WRONG_CREDENTIALS)
    }
}

/// What a login sends.
#[derive(Debug, Default)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The current TOTP code, for accounts with MFA.
    pub code: Option<String>,
    /// A recovery code, instead of `code`.
    pub recovery_code: Option<String>,
    /// Which membership to act through; by default the widest.
    pub tenant_id: Option<TenantId>,
    pub agency_id: Option<AgencyId>,
}

/// An open session.
#[derive(Debug)]
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// The membership it acts through.
    pub member: Member,
    /// Every membership the user could log in through instead.
    pub memberships: Vec<Member>,
}

/// Logs a person in. Every wrong answer is the same 401 whether or not the address has an
/// account; five failures lock the address for 15 minutes.
#[instrument(skip_all)]
pub async fn login(
    ctx: &Context,
    request: LoginRequest,
    client: Option<IpAddr>,
) -> Result<Session> {
    let mut violations = Violations::default();
    let email = violations.parsed("email", EmailAddress::parse(request.email.trim()));
    violations.length("password", &request.password, 1, password::MAX_LENGTH);
    let email = violations.finish(|| email.expect("valid when there are no violations"))?;
    let email_key = email.normalized();
    refuse_if_locked(ctx, &email_key, client).await?;
    let credentials = store::sessions::credentials_by_email(&ctx.db, &email_key).await?;
    let stored = credentials.as_ref().and_then(|c| c.password_hash.clone());
    let offered = request.password.clone();
    let matches = blocking(move || password::verify(&offered, stored.as_deref())).await?;
    let Some(credentials) = credentials.filter(|_| matches) else {
        record_failure(ctx, &email_key, client).await?;
        return Err(WRONG_CREDENTIALS);
    };
    if credentials.mfa_secret.is_some() {
        second_factor(ctx, &credentials, &request, client).await?;
    }
    let memberships: Vec<Member> = store::sessions::memberships(&ctx.db, credentials.user_id)
        .await?
        .into_iter()
        .filter(|member| member.status == MemberStatus::Active)
        .collect();
    let member = choose(&memberships, request.tenant_id, request.agency_id)?.clone();
    let token = mint_token(SESSION_MARK);
    let expires_at = Utc::now() + SESSION_LIFETIME;
    store::sessions::create(&ctx.db, &member, &hash_secret(&token), expires_at).await?;
    store::sessions::clear_failures(&ctx.db, &[&email_subject(&email_key)]).await?;
    Ok(Session {
        token,
        expires_at,
        member,
        memberships,
    })
}

/// The membership a login asks for, or the widest one.
fn choose(
    memberships: &[Member],
    tenant: Option<TenantId>,
    agency: Option<AgencyId>,
) -> Result<&Member> {
    let wanted = match (tenant, agency) {
        (Some(tenant), _) => Some(("tenantId", Scope::Tenant(tenant))),
        (None, Some(agency)) => Some(("agencyId", Scope::Agency(agency))),
        (None, None) => None,
    };
    match wanted {
        None => memberships.first().ok_or(Error::Forbidden(
            "this account has no active membership to log in through",
        )),
        Some((field, scope)) => memberships
            .iter()
            .find(|member| member.scope == scope)
            .ok_or_else(|| Error::field(field, "not_a_member", "the account is no member here")),
    }
}

fn mfa_error(code: &'static str, detail: &'static str) -> Error {
    Error::Unauthenticated { code, detail }
}

/// Checks the TOTP or recovery code of an account with MFA; a wrong one counts as a failure.
async fn second_factor(
    ctx: &Context,
    credentials: &Credentials,
    request: &LoginRequest,
    client: Option<IpAddr>,
) -> Result<()> {
    let proof = proves_second_factor(
        ctx,
        credentials,
        request.code.as_deref(),
        request.recovery_code.as_deref(),
    )
    .await?;
    let Some(proven) = proof else {
        return Err(mfa_error(
            "mfa_required",
            "this account uses two-factor authentication: send `code` or `recoveryCode`",
        ));
    };
    if proven {
        return Ok(());
    }
    record_failure(ctx, &credentials.email.to_lowercase(), client).await?;
    Err(mfa_error(
        "invalid_mfa_code",
        "the two-factor code is wrong or was used already",
    ))
}

/// Whether a TOTP code (once per time step) or a recovery code (once) proves the account's
/// second factor; `None` when neither was sent.
async fn proves_second_factor(
    ctx: &Context,
    credentials: &Credentials,
    code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<Option<bool>> {
    let user = credentials.user_id;
    Ok(Some(match (code, recovery_code) {
        (Some(code), _) => {
            let secret = open_secret(ctx, user, credentials.mfa_secret.as_deref())?;
            match otp::accepted_step(&secret, code, unix_now(), credentials.mfa_last_step) {
                Some(step) => store::sessions::claim_step(&ctx.db, user, step).await?,
                None => false,
            }
        }
        (None, Some(code)) => {
            let hash = hash_secret(&otp::normalize_recovery_code(code));
            store::sessions::use_recovery_code(&ctx.db, user, &hash).await?
        }
        (None, None) => return Ok(None),
    }))
}

fn unix_now() -> u64 {
    Utc::now().timestamp().max(0) as u64
}

/// What a person's TOTP secret is sealed to, so a ciphertext cannot move to another person.
pub(crate) fn mfa_context(user: UserId) -> String {
    format!("user:{user}:mfa")
}

fn open_secret(ctx: &Context, user: UserId, sealed: Option<&str>) -> Result<Vec<u8>> {
    let sealed = sealed.ok_or(Error::Conflict {
        code: "mfa_not_enrolled",
        detail: "start an enrollment first".to_owned(),
        field: None,
    })?;
    let opened = ctx
        .keyring()
        .open_str(sealed, mfa_context(user).as_bytes())
        .map_err(|error| Error::Internal(error.into()))?;
    totp_rs::Secret::Encoded(opened.expose().to_owned())
        .to_bytes()
        .map_err(|error| Error::Internal(anyhow::anyhow!("stored TOTP secret: {error:?}")))
}

/// The caller a session token stands for; `None` when the session is unknown, expired, or
/// its membership or tenant is no longer active.
pub async fn authenticate(ctx: &Context, token: &str) -> Result<Option<Caller>> {
    let member = match store::sessions::authenticate(&ctx.db, &hash_secret(token)).await? {
        // An inactive tenant's people are refused on every route until it is reactivated.
        Some((_, true)) => return Err(Error::TenantInactive),
        found => found.map(|(member, _)| member),
    };
    Ok(member.map(|member| Caller {
        principal: Principal::User(member.user_id),
        role: member.role,
        scope: member.scope,
        scopes: None,
    }))
}

/// Ends the session a token opened.
pub async fn logout(ctx: &Context, token: &str) -> Result<()> {
    Ok(store::sessions::end(&ctx.db, &hash_secret(token)).await?)
}

fn person(caller: &Caller) -> Result<UserId> {
    caller.user().ok_or(Error::Forbidden(
        "this needs a person's session, not an API key",
    ))
}

/// The person behind a session, as the member it acts as, with every membership.
pub async fn me(ctx: &Context, caller: &Caller) -> Result<(Member, Vec<Member>)> {
    let user = person(caller)?;
    let memberships = store::sessions::memberships(&ctx.db, user).await?;
    let member = memberships
        .iter()
        .find(|member| member.scope == caller.scope)
        .cloned()
        .ok_or(Error::NotFound("user"))?;
    Ok((member, memberships))
}

/// A TOTP secret to confirm with a first code.
#[derive(Debug)]
pub struct Enrollment {
    pub secret: String,
    pub otpauth_url: String,
}

/// Starts (or restarts) MFA enrollment for the person behind a session.
#[instrument(skip_all)]
pub async fn enroll(ctx: &Context, caller: &Caller) -> Result<Enrollment> {
    let user = person(caller)?;
    let credentials = store::sessions::credentials(&ctx.db, user).await?;
    if credentials.mfa_secret.is_some() {
        return Err(Error::Conflict {
            code: "mfa_enabled",
            detail: "two-factor authentication is on already; turn it off first".to_owned(),
            field: None,
        });
    }
    let secret = otp::new_secret();
    let encoded = otp::base32(&secret);
    let sealed = ctx
        .keyring()
        .seal_str(&encoded, mfa_context(user).as_bytes());
    store::sessions::set_pending_mfa(&ctx.db, user, &sealed).await?;
    Ok(Enrollment {
        otpauth_url: otp::otpauth_url(&secret, "tenantry", &credentials.email),
        secret: encoded,
    })
}

/// Turns MFA on with the first code from the app; answers the recovery codes, shown once.
#[instrument(skip_all)]
pub async fn confirm(ctx: &Context, caller: &Caller, code: &str) -> Result<Vec<String>> {
    let user = person(caller)?;
    let credentials = store::sessions::credentials(&ctx.db, user).await?;
    let pending = credentials.mfa_pending_secret.as_deref();
    let secret = open_secret(ctx, user, pending)?;
    let step = otp::accepted_step(&secret, code, unix_now(), None)
        .ok_or_else(|| Error::field("code", "invalid_mfa_code", "is not the app's current code"))?;
    let codes = otp::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|code| hash_secret(&otp::normalize_recovery_code(code)))
        .collect();
    store::sessions::enable_mfa(&ctx.db, user, pending.unwrap_or_default(), step, &hashes).await?;
    Ok(codes)
}

/// Turns MFA off, with a current code or a recovery code as proof.
#[instrument(skip_all)]
pub async fn disable(
    ctx: &Context,
    caller: &Caller,
    code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<()> {
    let user = person(caller)?;
    let credentials = store::sessions::credentials(&ctx.db, user).await?;
    let proof = proves_second_factor(ctx, &credentials, code, recovery_code).await?;
    let Some(proven) = proof else {
        return Err(Error::field(
            "code",
            "required",
            "send `code` or `recoveryCode`",
        ));
    };
    if !proven {
        return Err(Error::field(
            "code",
            "invalid_mfa_code",
            "is wrong or was used already",
        ));
    }
    Ok(store::sessions::disable_mfa(&ctx.db, user).await?)
}

/// Mails a single-use reset link to an account's address. Answers the same whether or not
/// the address has an account.
#[instrument(skip_all)]
pub async fn request_reset(ctx: &Context, email: &str) -> Result<()> {
    let mut violations = Violations::default();
    let email = violations.parsed("email", EmailAddress::parse(email.trim()));
    let email = violations.finish(|| email.expect("valid when there are no violations"))?;
    let Some(credentials) =
        store::sessions::credentials_by_email(&ctx.db, &email.normalized()).await?
    else {
        return Ok(());
    };
    // An invited person sets a password by accepting; a reset is for accounts.
    if credentials.password_hash.is_none() {
        return Ok(());
    }
    let token = mint_token(RESET_MARK);
    let expires_at = Utc::now() + RESET_LIFETIME;
    let mut tx = ctx.db.begin().await?;
    store::sessions::create_reset(
        &mut tx,
        credentials.user_id,
        &hash_secret(&token),
        expires_at,
    )
    .await?;
    letters::password_reset(ctx, &mut tx, &credentials.email, &token, expires_at).await?;
    tx.commit().await?;
    ctx.mail_sent_soon();
    Ok(())
}

/// Sets a new password with a reset token, once, within the hour; ends every session and
/// lifts a lock.
#[instrument(skip_all)]
pub async fn reset(ctx: &Context, token: &str, new_password: &str) -> Result<()> {
    let mut violations = Violations::default();
    password::check(&mut violations, "password", new_password);
    violations.finish(|| ())?;
    let offered = new_password.to_owned();
    let hashed = blocking(move || password::hash(&offered)).await?;
    let user = store::sessions::reset_password(&ctx.db, &hash_secret(token), &hashed)
        .await
        .map_err(|refusal| match refusal {
            store::sessions::ResetRefusal::Unknown => Error::NotFound("password reset"),
            store::sessions::ResetRefusal::Spent => Error::Gone {
                code: "reset_link_expired",
                detail: "this reset link was used or has expired; ask for a new one",
            },
            store::sessions::ResetRefusal::Store(error) => error.into(),
        })?;
    let credentials = store::sessions::credentials(&ctx.db, user).await?;
    let email_key = credentials.email.to_lowercase();
    store::sessions::clear_failures(
        &ctx.db,
        &[&email_subject(&email_key), &lock_subject(&email_key)],
    )
    .await?;
    Ok(())
}

//! The people repository: users, their memberships and the invitations that make them. Every
//! statement is scoped by a membership's reach (the tenant's or agency's id, nil for the
//! platform), so a caller can only ever name members of a scope it reaches.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::{record_change, Change};
use super::{now, query, Backend, Db, Query, StoreError, StoreResult, Tx};
use crate::domain::access::{Principal, Scope};
use crate::domain::audit::{Actor, Target as AuditTarget};
use crate::domain::conflict::Conflict;
use crate::domain::ids::{AgencyId, InvitationId, TenantId, UserId};
use crate::domain::policy::Role;
use crate::domain::user::{
    reach_of, Invitation, InvitationState, Member, MemberStatus, INVITATION_LIFETIME,
};
use crate::domain::values::EmailAddress;

pub(super) const MEMBER_SELECT: &str = "SELECT u.id AS user_id, m.id AS membership_id, u.email, \
     u.first_name, u.last_name, m.role, m.status, m.agency_id, m.tenant_id, \
     t.agency_id AS tenant_agency_id, u.mfa_secret IS NOT NULL AS mfa_enabled, \
     u.last_login_at, m.created_at, m.invited_by \
     FROM memberships m JOIN users u ON u.id = m.user_id LEFT JOIN tenants t ON t.id = m.tenant_id";

#[derive(sqlx::FromRow)]
pub(super) struct MemberRow {
    user_id: UserId,
    membership_id: Uuid,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    role: String,
    status: String,
    agency_id: Option<AgencyId>,
    tenant_id: Option<TenantId>,
    tenant_agency_id: Option<AgencyId>,
    mfa_enabled: bool,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    invited_by: Option<UserId>,
}

fn scope_of(agency_id: Option<AgencyId>, tenant_id: Option<TenantId>) -> Scope {
    match (agency_id, tenant_id) {
        (_, Some(tenant)) => Scope::Tenant(tenant),
        (Some(agency), None) => Scope::Agency(agency),
        (None, None) => Scope::Platform,
    }
}

fn scope_columns(scope: Scope) -> (Uuid, Option<AgencyId>, Option<TenantId>) {
    match scope {
        Scope::Platform => (reach_of(scope), None, None),
        Scope::Agency(id) => (reach_of(scope), Some(id), None),
        Scope::Tenant(id) => (reach_of(scope), None, Some(id)),
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(anyhow::anyhow!("membership: unknown {what} {value:?}"))
}

fn role(name: &str) -> StoreResult<Role> {
    Role::from_name(name).ok_or_else(|| corrupt("role", name))
}

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;

    fn try_from(row: MemberRow) -> StoreResult<Member> {
        Ok(Member {
            user_id: row.user_id,
            membership_id: row.membership_id,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            role: role(&row.role)?,
            status: row
                .status
                .parse()
                .map_err(|_| corrupt("status", &row.status))?,
            scope: scope_of(row.agency_id, row.tenant_id),
            agency_of_tenant: row.tenant_agency_id,
            mfa_enabled: row.mfa_enabled,
            last_login_at: row.last_login_at,
            created_at: row.created_at,
            invited_by: row.invited_by,
        })
    }
}

pub(super) fn members(rows: Vec<MemberRow>) -> StoreResult<Vec<Member>> {
    rows.into_iter().map(Member::try_from).collect()
}

/// The member `user` of `scope`, if it has a membership there.
pub async fn find_member(db: &Db, scope: Scope, user: UserId) -> StoreResult<Option<Member>> {
    let statement = query(format!(
        "{MEMBER_SELECT} WHERE m.reach = $1 AND m.user_id = $2"
    ))
    .bind(reach_of(scope))
    .bind(user);
    let row: Option<MemberRow> = db.reader().fetch_optional(statement).await?;
    row.map(Member::try_from).transpose()
}

/// Which members a list shows.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub role: Option<Role>,
    pub status: Option<MemberStatus>,
    /// Part of the email or name, in any case.
    pub search: Option<String>,
}

fn filtered(select: &str, scope: Scope, filter: &MemberFilter) -> Query<'static> {
    let mut statement = query(select.to_owned());
    statement.push_sql(" WHERE m.reach = ?", [reach_of(scope).into()]);
    if let Some(role) = filter.role {
        statement.push_sql(" AND m.role = ?", [role.name().into()]);
    }
    if let Some(status) = filter.status {
        statement.push_sql(" AND m.status = ?", [<&'static str>::from(status).into()]);
    }
    if let Some(search) = &filter.search {
        let escaped = search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        statement.push_sql(
            " AND (u.email_key LIKE ? ESCAPE '\\' OR lower(u.first_name) LIKE ? ESCAPE '\\' \
             OR lower(u.last_name) LIKE ? ESCAPE '\\')",
            [
                pattern.clone().into(),
                pattern.clone().into(),
                pattern.into(),
            ],
        );
    }
    statement
}

/// The statement of one numbered page of `scope`'s members, newest first.
pub fn list_query(scope: Scope, filter: &MemberFilter, page: i64, size: i64) -> Query<'static> {
    let mut statement = filtered(MEMBER_SELECT, scope, filter);
    statement.push_sql(
        " ORDER BY m.created_at DESC, m.id DESC LIMIT ? OFFSET ?",
        [size.into(), ((page - 1) * size).into()],
    );
    statement
}

/// One page of `scope`'s members and how many match in all.
pub async fn list_members(
    db: &Db,
    scope: Scope,
    filter: &MemberFilter,
    page: i64,
    size: i64,
) -> StoreResult<(Vec<Member>, i64)> {
    let reader = db.reader();
    let rows: Vec<MemberRow> = reader
        .fetch_all(list_query(scope, filter, page, size))
        .await?;
    let count = filtered(
        "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id",
        scope,
        filter,
    );
    let (total,): (i64,) = reader.fetch_one(count).await?;
    Ok((members(rows)?, total))
}

/// A new invitation, as the service decided it.
pub struct NewInvitation<'a> {
    pub scope: Scope,
    pub email: &'a EmailAddress,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub token_hash: &'a str,
}

/// Invites an address into a scope, in the caller's transaction: makes the user if the
/// address is new, an `invited` membership, and the invitation. An address that is a member
/// already, or has an invitation still pending, is a conflict; an expired invitation is
/// replaced.
pub async fn invite(tx: &mut Tx, new: &NewInvitation<'_>) -> StoreResult<Invitation> {
    let at = now();
    let user_id = user_for(tx, new, at).await?;
    let membership_id = invited_membership(tx, new, user_id, at).await?;
    let (reach, agency_id, tenant_id) = scope_columns(new.scope);
    let id = InvitationId::generate();
    tx.execute(
        query(
            "INSERT INTO invitations (id, membership_id, reach, agency_id, tenant_id, email, role, \
             token_hash, invited_by, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(membership_id)
        .bind(reach)
        .bind(agency_id)
        .bind(tenant_id)
        .bind(new.email.as_str())
        .bind(new.role.name())
        .bind(new.token_hash)
        .bind(new.invited_by)
        .bind(at + INVITATION_LIFETIME)
        .bind(at),
    )
    .await?;
    let invitation = find_invitation_in(tx, InvitationKey::Id(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    record_change(tx, "user.invited", None, Some(&invitation)).await?;
    Ok(invitation)
}

/// The user of the invited address, made if the address is new. A concurrent invite of the
/// same address makes it once; the other then finds it.
async fn user_for(tx: &mut Tx, new: &NewInvitation<'_>, at: DateTime<Utc>) -> StoreResult<UserId> {
    let display_name = match (new.first_name, new.last_name) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) => new.email.as_str().to_owned(),
    };
    tx.execute(
        query(
            "INSERT INTO users (id, email, email_key, name, first_name, last_name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(UserId::generate())
        .bind(new.email.as_str())
        .bind(new.email.normalized())
        .bind(display_name)
        .bind(new.first_name)
        .bind(new.last_name)
        .bind(at),
    )
    .await?;
    let (user_id,): (UserId,) = tx
        .fetch_one(query("SELECT id FROM users WHERE email_key = $1").bind(new.email.normalized()))
        .await?;
    Ok(user_id)
}

/// Re-invites through a membership still `invited`: refused while its invitation is pending;
/// once that expired, the membership takes the new role and the old invitation goes.
async fn reinvite(
    tx: &mut Tx,
    membership: Uuid,
    new: &NewInvitation<'_>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let (pending,): (i64,) = tx
        .fetch_one(
            query(
                "SELECT COUNT(*) FROM invitations WHERE membership_id = $1 \
                 AND accepted_at IS NULL AND expires_at > $2",
            )
            .bind(membership)
            .bind(at),
        )
        .await?;
    if pending > 0 {
        return Err(StoreError::Conflict(Conflict::InvitationPending));
    }
    tx.execute(query("DELETE FROM invitations WHERE membership_id = $1").bind(membership))
        .await?;
    tx.execute(
        query("UPDATE memberships SET role = $2, invited_by = $3, updated_at = $4 WHERE id = $1")
            .bind(membership)
            .bind(new.role.name())
            .bind(new.invited_by)
            .bind(at),
    )
    .await?;
    Ok(())
}

/// The `invited` membership the new invitation belongs to: a new one, or the one whose
/// invitation expired (it takes the new role, and its old invitation goes).
async fn invited_membership(
    tx: &mut Tx,
    new: &NewInvitation<'_>,
    user_id: UserId,
    at: DateTime<Utc>,
) -> StoreResult<Uuid> {
    let (reach, agency_id, tenant_id) = scope_columns(new.scope);
    let lock = tx.backend().lock_clause("memberships");
    let existing: Option<(Uuid, String)> = tx
        .fetch_optional(
            query(format!(
                "SELECT id, status FROM memberships WHERE reach = $1 AND user_id = $2{lock}"
            ))
            .bind(reach)
            .bind(user_id),
        )
        .await?;
    match existing {
        Some((_, status)) if status != "invited" => {
            Err(StoreError::Conflict(Conflict::AlreadyMember))
        }
        Some((id, _)) => reinvite(tx, id, new, at).await.map(|()| id),
        None => {
            let id = Uuid::now_v7();
            let inserted = tx
                .execute(
                    query(
                        "INSERT INTO memberships (id, user_id, reach, agency_id, tenant_id, role, \
                         status, invited_by, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'invited', $7, $8, $8) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(user_id)
                    .bind(reach)
                    .bind(agency_id)
                    .bind(tenant_id)
                    .bind(new.role.name())
                    .bind(new.invited_by)
                    .bind(at),
                )
                .await?;
            // Another request invited the same address into the same scope first.
            if inserted == 0 {
                return Err(StoreError::Conflict(Conflict::InvitationPending));
            }
            Ok(id)
        }
    }
}

const INVITATION_SELECT: &str = "SELECT i.id, i.membership_id, m.user_id, i.agency_id, \
     i.tenant_id, t.agency_id AS tenant_agency_id, i.email, i.role, i.invited_by, i.expires_at, \
     i.created_at, i.accepted_at \
     FROM invitations i JOIN memberships m ON m.id = i.membership_id \
     LEFT JOIN tenants t ON t.id = i.tenant_id";

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: InvitationId,
    membership_id: Uuid,
    user_id: UserId,
    agency_id: Option<AgencyId>,
    tenant_id: Option<TenantId>,
    tenant_agency_id: Option<AgencyId>,
    email: String,
    role: String,
    invited_by: Option<UserId>,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = StoreError;

    fn try_from(row: InvitationRow) -> StoreResult<Invitation> {
        Ok(Invitation {
            id: row.id,
            membership_id: row.membership_id,
            user_id: row.user_id,
            scope: scope_of(row.agency_id, row.tenant_id),
            agency_of_tenant: row.tenant_agency_id,
            email: row.email,
            role: role(&row.role)?,
            invited_by: row.invited_by,
            expires_at: row.expires_at,
            created_at: row.created_at,
            accepted_at: row.accepted_at,
        })
    }
}

/// How an invitation is named: by its id (its inviters) or its token (its invitee).
#[derive(Debug, Clone, Copy)]
pub enum InvitationKey<'a> {
    Id(InvitationId),
    TokenHash(&'a str),
}

impl<'a> InvitationKey<'a> {
    fn select(self, lock: &str) -> Query<'a> {
        match self {
            InvitationKey::Id(id) => {
                query(format!("{INVITATION_SELECT} WHERE i.id = $1{lock}")).bind(id)
            }
            InvitationKey::TokenHash(hash) => {
                query(format!("{INVITATION_SELECT} WHERE i.token_hash = $1{lock}")).bind(hash)
            }
        }
    }
}

pub async fn find_invitation(db: &Db, key: InvitationKey<'_>) -> StoreResult<Option<Invitation>> {
    let row: Option<InvitationRow> = db.reader().fetch_optional(key.select("")).await?;
    row.map(Invitation::try_from).transpose()
}

/// The invitation, locked for the rest of the transaction.
async fn find_invitation_in(
    tx: &mut Tx,
    key: InvitationKey<'_>,
) -> StoreResult<Option<Invitation>> {
    let lock = tx.backend().lock_clause("i");
    let row: Option<InvitationRow> = tx.fetch_optional(key.select(&lock)).await?;
    row.map(Invitation::try_from).transpose()
}

/// The statement of one page of the invitations held in `scope`, in id order after `after`.
pub fn invitations_query(scope: Scope, after: Option<InvitationId>, limit: i64) -> Query<'static> {
    let mut statement = query(INVITATION_SELECT);
    statement.push_sql(" WHERE i.reach = ?", [reach_of(scope).into()]);
    if let Some(after) = after {
        statement.push_sql(" AND i.id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY i.id LIMIT ?", [limit.into()]);
    statement
}

pub async fn list_invitations(
    db: &Db,
    scope: Scope,
    after: Option<InvitationId>,
    limit: i64,
) -> StoreResult<Vec<Invitation>> {
    let rows: Vec<InvitationRow> = db
        .reader()
        .fetch_all(invitations_query(scope, after, limit))
        .await?;
    rows.into_iter().map(Invitation::try_from).collect()
}

/// Gives an unaccepted invitation a new token and a new lifetime; the old token stops working.
pub async fn renew_invitation(
    tx: &mut Tx,
    id: InvitationId,
    token_hash: &str,
) -> StoreResult<Invitation> {
    let expires_at = now() + INVITATION_LIFETIME;
    let invitation = find_invitation_in(tx, InvitationKey::Id(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    if invitation.state(now()) == InvitationState::Accepted {
        return Err(StoreError::Conflict(Conflict::InvitationAccepted));
    }
    tx.execute(
        query("UPDATE invitations SET token_hash = $2, expires_at = $3 WHERE id = $1")
            .bind(id)
            .bind(token_hash)
            .bind(expires_at),
    )
    .await?;
    let renewed = Invitation {
        expires_at,
        ..invitation.clone()
    };
    record_change(tx, "invitation.resent", Some(&invitation), Some(&renewed)).await?;
    Ok(renewed)
}

/// Revokes an unaccepted invitation: its membership (still `invited`) goes with it, and so
/// does a user that was only ever invited.
pub async fn revoke_invitation(db: &Db, id: InvitationId) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let invitation = find_invitation_in(&mut tx, InvitationKey::Id(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    if invitation.state(now()) == InvitationState::Accepted {
        return Err(StoreError::Conflict(Conflict::InvitationAccepted));
    }
    tx.execute(
        query("DELETE FROM memberships WHERE id = $1 AND status = 'invited'")
            .bind(invitation.membership_id),
    )
    .await?;
    forget_if_unused(&mut tx, invitation.user_id).await?;
    record_change(&mut tx, "invitation.revoked", Some(&invitation), None).await?;
    tx.commit().await
}

/// Deletes a user that has no membership left and never set a password.
async fn forget_if_unused(tx: &mut Tx, user: UserId) -> StoreResult<()> {
    tx.execute(
        query(
            "DELETE FROM users WHERE id = $1 AND password_hash IS NULL \
             AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)",
        )
        .bind(user),
    )
    .await?;
    Ok(())
}

/// What accepting an invitation sets on the user.
pub struct Acceptance<'a> {
    /// The new password's hash, for a user without one; `None` keeps the existing password
    /// (which the service has checked).
    pub password_hash: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
}

/// Accepts a pending invitation once: the membership becomes active, and a tenant's first
/// owner becomes the tenant's owner. Answers the invitation as it was before.
pub async fn accept_invitation(
    db: &Db,
    token_hash: &str,
    acceptance: &Acceptance<'_>,
) -> StoreResult<Invitation> {
    let mut tx = db.begin().await?;
    let at = now();
    let invitation = find_invitation_in(&mut tx, InvitationKey::TokenHash(token_hash))
        .await?
        .ok_or(StoreError::NotFound)?;
    match invitation.state(at) {
        InvitationState::Pending => {}
        InvitationState::Accepted => {
            return Err(StoreError::Conflict(Conflict::InvitationAccepted))
        }
        InvitationState::Expired => return Err(StoreError::Conflict(Conflict::InvitationExpired)),
    }
    if let Some(hash) = acceptance.password_hash {
        first_password(&mut tx, invitation.user_id, hash).await?;
    }
    let (first, last) = (acceptance.first_name, acceptance.last_name);
    rename(&mut tx, invitation.user_id, first, last).await?;
    tx.execute(
        query("UPDATE memberships SET status = 'active', updated_at = $2 WHERE id = $1")
            .bind(invitation.membership_id)
            .bind(at),
    )
    .await?;
    tx.execute(
        query("UPDATE invitations SET accepted_at = $2 WHERE id = $1")
            .bind(invitation.id)
            .bind(at),
    )
    .await?;
    if let (Some(tenant), Role::TenantOwner) = (invitation.tenant_id(), invitation.role) {
        tx.execute(
            query("UPDATE tenants SET owner_user_id = $2 WHERE id = $1 AND owner_user_id IS NULL")
                .bind(tenant)
                .bind(invitation.user_id),
        )
        .await?;
    }
    let accepted = Invitation {
        accepted_at: Some(at),
        ..invitation.clone()
    };
    let mut change = Change::of("user.joined", Some(&invitation), Some(&accepted));
    change.target = AuditTarget::new("user", invitation.user_id);
    change.actor = Some(Actor::of(Principal::User(invitation.user_id)));
    super::audit::record(&mut tx, change).await?;
    tx.commit().await?;
    Ok(invitation)
}

/// Sets the first password of a user who has none; one set meanwhile (by a concurrent
/// acceptance) is not overwritten: that is a conflict.
async fn first_password(tx: &mut Tx, user: UserId, hash: &str) -> StoreResult<()> {
    let set = tx
        .execute(
            query("UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash IS NULL")
                .bind(user)
                .bind(hash),
        )
        .await?;
    if set == 0 {
        return Err(StoreError::Conflict(Conflict::InvitationAccepted));
    }
    Ok(())
}

/// Changes the names given; `None` keeps one.
async fn rename(
    tx: &mut Tx,
    user: UserId,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> StoreResult<()> {
    tx.execute(
        query(
            "UPDATE users SET first_name = COALESCE($2, first_name), \
             last_name = COALESCE($3, last_name) WHERE id = $1",
        )
        .bind(user)
        .bind(first_name)
        .bind(last_name),
    )
    .await?;
    Ok(())
}

/// A change to a member.
#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<Role>,
    pub status: Option<MemberStatus>,
}

/// Whether `member`, changed as `change` says (or removed, for `None`), stops being one of
/// its tenant's active owners.
fn loses_an_owner(member: &Member, change: Option<&MemberChange>) -> bool {
    let is_owner = member.role == Role::TenantOwner && member.status == MemberStatus::Active;
    let stays_owner = change.is_some_and(|change| {
        change.role.unwrap_or(member.role) == Role::TenantOwner
            && change.status.unwrap_or(member.status) == MemberStatus::Active
    });
    is_owner && !stays_owner
}

/// Refuses to leave a tenant without an active owner. The caller holds the tenant's lock
/// ([`member_in`]), so two requests cannot each remove one of the last two.
async fn keep_an_owner(
    tx: &mut Tx,
    member: &Member,
    change: Option<&MemberChange>,
) -> StoreResult<()> {
    if !matches!(member.scope, Scope::Tenant(_)) || !loses_an_owner(member, change) {
        return Ok(());
    }
    let owners: Vec<(Uuid,)> = tx
        .fetch_all(
            query(
                "SELECT id FROM memberships WHERE reach = $1 AND role = $2 \
                 AND status = 'active'",
            )
            .bind(reach_of(member.scope))
            .bind(Role::TenantOwner.name()),
        )
        .await?;
    if owners.iter().all(|(id,)| *id == member.membership_id) {
        return Err(StoreError::Conflict(Conflict::LastOwner));
    }
    Ok(())
}

/// The member, read again inside the transaction (it may have changed since the request
/// looked it up). Changes to a tenant's members take the tenant's row lock first: one lock
/// orders them all, where locking the owners' rows one by one could deadlock.
async fn member_in(tx: &mut Tx, scope: Scope, user: UserId) -> StoreResult<Member> {
    if let Scope::Tenant(tenant) = scope {
        // NO KEY: calls and other rows that reference the tenant are not held up.
        let sql = match tx.backend() {
            Backend::Postgres => "SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
            Backend::Sqlite => "SELECT id FROM tenants WHERE id = $1",
        };
        let _: Option<(TenantId,)> = tx.fetch_optional(query(sql).bind(tenant)).await?;
    }
    let lock = tx.backend().lock_clause("m");
    let row: Option<MemberRow> = tx
        .fetch_optional(
            query(format!(
                "{MEMBER_SELECT} WHERE m.reach = $1 AND m.user_id = $2{lock}"
            ))
            .bind(reach_of(scope))
            .bind(user),
        )
        .await?;
    row.map(Member::try_from)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// Changes a member's names, role or status. Disabling ends its sessions in this scope.
pub async fn update_member(
    db: &Db,
    scope: Scope,
    user: UserId,
    change: &MemberChange,
) -> StoreResult<Member> {
    let mut tx = db.begin().await?;
    let member = member_in(&mut tx, scope, user).await?;
    if change.status.is_some() && member.status == MemberStatus::Invited {
        return Err(StoreError::Conflict(Conflict::InvitationPending));
    }
    keep_an_owner(&mut tx, &member, Some(change)).await?;
    tx.execute(
        query(
            "UPDATE memberships SET role = COALESCE($2, role), status = COALESCE($3, status), \
             updated_at = $4 WHERE id = $1",
        )
        .bind(member.membership_id)
        .bind(change.role.map(Role::name))
        .bind(change.status.map(<&'static str>::from))
        .bind(now()),
    )
    .await?;
    let (first, last) = (change.first_name.as_deref(), change.last_name.as_deref());
    rename(&mut tx, user, first, last).await?;
    if change.status == Some(MemberStatus::Disabled) {
        tx.execute(
            query("DELETE FROM sessions WHERE membership_id = $1").bind(member.membership_id),
        )
        .await?;
    }
    let changed = member_in(&mut tx, scope, user).await?;
    record_change(&mut tx, "user.updated", Some(&member), Some(&changed)).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Removes a member from a scope, with its invitations and sessions there.
pub async fn remove_member(db: &Db, scope: Scope, user: UserId) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let member = member_in(&mut tx, scope, user).await?;
    keep_an_owner(&mut tx, &member, None).await?;
    tx.execute(query("DELETE FROM memberships WHERE id = $1").bind(member.membership_id))
        .await?;
    if let Scope::Tenant(tenant) = scope {
        tx.execute(
            query("UPDATE tenants SET owner_user_id = NULL WHERE id = $1 AND owner_user_id = $2")
                .bind(tenant)
                .bind(user),
        )
        .await?;
    }
    forget_if_unused(&mut tx, user).await?;
    record_change(&mut tx, "user.removed", Some(&member), None).await?;
    tx.commit().await
}

/// The names an invitation shows its invitee: the tenant, the agency (the tenant's, for a
/// tenant invitation) and the inviter.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct InvitationNames {
    pub tenant: Option<String>,
    pub agency: Option<String>,
    pub inviter_name: Option<String>,
    pub inviter_email: Option<String>,
}

fn names_query(invitation: &Invitation) -> Query<'static> {
    let (tenant, agency) = match invitation.scope {
        Scope::Platform => (None, None),
        Scope::Agency(id) => (None, Some(id)),
        Scope::Tenant(id) => (Some(id), invitation.agency_of_tenant),
    };
    query(
        "SELECT (SELECT name FROM tenants WHERE id = $1) AS tenant, \
         (SELECT name FROM agencies WHERE id = COALESCE($2, \
            (SELECT agency_id FROM tenants WHERE id = $1))) AS agency, \
         (SELECT name FROM users WHERE id = $3) AS inviter_name, \
         (SELECT email FROM users WHERE id = $3) AS inviter_email",
    )
    .bind(tenant)
    .bind(agency)
    .bind(invitation.invited_by)
}

pub async fn invitation_names(db: &Db, invitation: &Invitation) -> StoreResult<InvitationNames> {
    db.reader().fetch_one(names_query(invitation)).await
}

/// The same, inside a transaction that may have made the tenant.
pub async fn invitation_names_in(
    tx: &mut Tx,
    invitation: &Invitation,
) -> StoreResult<InvitationNames> {
    tx.fetch_one(names_query(invitation)).await
}

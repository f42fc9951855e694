//! Members and invitations: who belongs to the platform, an agency or a tenant, in which
//! role. Every use case names the scope it works in, and the policy judges the caller against
//! that scope before anything is read or written.

use chrono::Utc;
use tracing::instrument;

use super::tenants::TenantRef;
use super::{Context, Error, Lookup, Result};
use crate::domain::access::{Caller, Scope};
use crate::domain::agency::Agency;
use crate::domain::api_key::{hash_secret, KeyScope};
use crate::domain::conflict::Conflict;
use crate::domain::ids::{AgencyId, InvitationId, TenantId, UserId};
use crate::domain::policy::{self, Action, Role, Target};
use crate::domain::user::{
    manage_action, mint_token, password, target_of, Invitation, InvitationState, Member,
    MemberStatus, INVITATION_MARK,
};
use crate::domain::validation::Violations;
use crate::domain::values::EmailAddress;
use crate::store::users::{
    Acceptance, InvitationKey, InvitationNames, MemberChange, MemberFilter, NewInvitation,
};
use crate::store::{self, StoreError, Tx};

use super::letters;

/// Where a request manages members: the caller's own scope, or an agency or tenant it names.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    Own,
    Agency(AgencyId),
    Tenant(TenantId),
}

/// The scope a request works in and its owner for the policy, or a 404 for a tenant out of
/// reach.
async fn resolve(ctx: &Context, caller: &Caller, place: Place) -> Result<(Scope, Target)> {
    match place {
        Place::Own => {
            let scope = caller.scope;
            Ok((scope, target_of(scope, None)))
        }
        Place::Agency(id) => {
            let target = Target::Agency(id);
            let found =
                caller.scope.reaches(&target) && Agency::lookup(ctx, caller, id).await?.is_some();
            if !found {
                return Err(Error::NotFound("agency"));
            }
            Ok((Scope::Agency(id), target))
        }
        Place::Tenant(id) => {
            let tenant = TenantRef::lookup(ctx, caller, id)
                .await?
                .filter(|tenant| caller.scope.reaches(&tenant.target()))
                .ok_or(Error::NotFound("tenant"))?;
            Ok((Scope::Tenant(id), tenant.target()))
        }
    }
}

fn judge(caller: &Caller, action: Action, target: &Target) -> Result<()> {
    policy::decide(caller, action, target).map_err(Error::refused("user"))
}

/// A role may be handed on by a caller whose role can do everything it can, or by one
/// from above the role's level that may manage its members (an agency staffs its clients'
/// tenants, as creating a tenant with an owner does).
fn may_hand_on(caller: &Caller, role: Role) -> Result<()> {
    let from_above = level_rank(caller.role.level()) < level_rank(role.level());
    if from_above || role.within(caller.role) {
        Ok(())
    } else {
        Err(Error::ForbiddenField {
            field: "role",
            detail: "a member may not be given a role that can do more than the caller's",
        })
    }
}

fn level_rank(level: KeyScope) -> u8 {
    match level {
        KeyScope::Platform => 0,
        KeyScope::Agency => 1,
        KeyScope::Tenant => 2,
    }
}

fn level_of(scope: Scope, role: Role, violations: &mut Violations) {
    let level = match scope {
        Scope::Platform => "platform",
        Scope::Agency(_) => "agency",
        Scope::Tenant(_) => "tenant",
    };
    let level_of_role: &str = role.level().into();
    if level_of_role != level {
        violations.add(
            "role",
            "role_of_another_level",
            format!("is not a role of a {level} member"),
        );
    }
}

fn check_name(violations: &mut Violations, field: &str, name: Option<&str>) {
    if let Some(name) = name {
        violations.length(field, name, 1, 100);
    }
}

/// Who to invite, as a request names them.
#[derive(Debug, Clone)]
pub struct InviteRequest {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Role,
}

impl InviteRequest {
    fn checked(&self, scope: Scope) -> Result<EmailAddress> {
        let mut violations = Violations::default();
        let email = violations.parsed("email", EmailAddress::parse(self.email.trim()));
        check_name(&mut violations, "firstName", self.first_name.as_deref());
        check_name(&mut violations, "lastName", self.last_name.as_deref());
        level_of(scope, self.role, &mut violations);
        violations
            .finish(|| email.expect("a valid email when there are no violations"))
            .map_err(Error::from)
    }
}

/// An invitation just made or renewed, with the token its link carries (never stored).
#[derive(Debug)]
pub struct Issued {
    pub invitation: Invitation,
    pub token: String,
}

/// Invites someone into the caller's scope or a tenant it reaches, in a role no stronger
/// than the caller's, and mails them the link.
#[instrument(skip_all)]
pub async fn invite(
    ctx: &Context,
    caller: &Caller,
    place: Place,
    request: InviteRequest,
) -> Result<Issued> {
    let (scope, target) = resolve(ctx, caller, place).await?;
    judge(caller, manage_action(scope), &target)?;
    let email = request.checked(scope)?;
    may_hand_on(caller, request.role)?;
    let mut tx = ctx.db.begin().await?;
    let issued = invite_in(ctx, &mut tx, scope, &email, &request, caller.user()).await?;
    tx.commit().await?;
    ctx.mail_sent_soon();
    Ok(issued)
}

/// Invites in the caller's transaction (creating a tenant invites its owner with it).
pub async fn invite_in(
    ctx: &Context,
    tx: &mut Tx,
    scope: Scope,
    email: &EmailAddress,
    request: &InviteRequest,
    invited_by: Option<UserId>,
) -> Result<Issued> {
    let token = mint_token(INVITATION_MARK);
    let token_hash = hash_secret(&token);
    let new = NewInvitation {
        scope,
        email,
        first_name: request.first_name.as_deref(),
        last_name: request.last_name.as_deref(),
        role: request.role,
        invited_by,
        token_hash: &token_hash,
    };
    let invitation = store::users::invite(tx, &new).await?;
    let names = store::users::invitation_names_in(tx, &invitation).await?;
    letters::invitation(ctx, tx, &invitation, &names, &token).await?;
    Ok(Issued { invitation, token })
}

impl Lookup for Invitation {
    const NAME: &'static str = "invitation";
    type Id = InvitationId;

    async fn lookup(ctx: &Context, caller: &Caller, id: InvitationId) -> Result<Option<Self>> {
        let found = store::users::find_invitation(&ctx.db, InvitationKey::Id(id)).await?;
        Ok(found.filter(|invitation| caller.scope.reaches(&invitation.target())))
    }

    fn target(&self) -> Target {
        Invitation::target(self)
    }
}

/// The invitations held in the caller's scope or a tenant it reaches.
#[instrument(skip_all)]
pub async fn invitations(
    ctx: &Context,
    caller: &Caller,
    place: Place,
    after: Option<InvitationId>,
    limit: i64,
) -> Result<Vec<Invitation>> {
    let (scope, target) = resolve(ctx, caller, place).await?;
    judge(caller, Action::ReadUsers, &target)?;
    Ok(store::users::list_invitations(&ctx.db, scope, after, limit).await?)
}

/// Mails a new link for an invitation that was not accepted; the old link dies.
#[instrument(skip_all, fields(invitation_id = %invitation.id))]
pub async fn resend(ctx: &Context, caller: &Caller, invitation: Invitation) -> Result<Issued> {
    judge(
        caller,
        manage_action(invitation.scope),
        &invitation.target(),
    )?;
    may_hand_on(caller, invitation.role)?;
    let token = mint_token(INVITATION_MARK);
    let mut tx = ctx.db.begin().await?;
    let renewed =
        store::users::renew_invitation(&mut tx, invitation.id, &hash_secret(&token)).await?;
    let names = store::users::invitation_names_in(&mut tx, &renewed).await?;
    letters::invitation(ctx, &mut tx, &renewed, &names, &token).await?;
    tx.commit().await?;
    ctx.mail_sent_soon();
    Ok(Issued {
        invitation: renewed,
        token,
    })
}

/// Withdraws an invitation that was not accepted.
#[instrument(skip_all, fields(invitation_id = %invitation.id))]
pub async fn revoke(ctx: &Context, caller: &Caller, invitation: Invitation) -> Result<()> {
    judge(
        caller,
        manage_action(invitation.scope),
        &invitation.target(),
    )?;
    may_hand_on(caller, invitation.role)?;
    Ok(store::users::revoke_invitation(&ctx.db, invitation.id).await?)
}

/// An invitation as its link shows it to anyone holding the token.
#[derive(Debug)]
pub struct Shown {
    pub invitation: Invitation,
    pub names: InvitationNames,
    /// Whether the address has an account already (it then joins with its password).
    pub account_exists: bool,
}

/// The 410 of a link that works no more: accepted already, or expired.
fn spent(expired: bool) -> Error {
    if expired {
        Error::Gone {
            code: "invitation_expired",
            detail: "this invitation has expired; ask for a new one",
        }
    } else {
        Error::Gone {
            code: "invitation_used",
            detail: "this invitation was accepted already",
        }
    }
}

async fn by_token(ctx: &Context, token: &str) -> Result<Invitation> {
    let hash = hash_secret(token);
    let invitation = store::users::find_invitation(&ctx.db, InvitationKey::TokenHash(&hash))
        .await?
        .ok_or(Error::NotFound("invitation"))?;
    match invitation.state(Utc::now()) {
        InvitationState::Pending => Ok(invitation),
        InvitationState::Accepted => Err(spent(false)),
        InvitationState::Expired => Err(spent(true)),
    }
}

/// What a pending invitation's token shows: where it leads, who sent it, in which role.
#[instrument(skip_all)]
pub async fn show(ctx: &Context, token: &str) -> Result<Shown> {
    let invitation = by_token(ctx, token).await?;
    let names = store::users::invitation_names(&ctx.db, &invitation).await?;
    let credentials = store::sessions::credentials(&ctx.db, invitation.user_id).await?;
    Ok(Shown {
        invitation,
        names,
        account_exists: credentials.password_hash.is_some(),
    })
}

/// What the invitee sends to accept.
#[derive(Debug)]
pub struct AcceptRequest {
    pub password: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Accepts an invitation: a new person sets their password, an existing account proves
/// its own. The membership becomes active.
#[instrument(skip_all)]
pub async fn accept(ctx: &Context, token: &str, request: AcceptRequest) -> Result<Member> {
    let invitation = by_token(ctx, token).await?;
    let mut violations = Violations::default();
    password::check(&mut violations, "password", &request.password);
    check_name(&mut violations, "firstName", request.first_name.as_deref());
    check_name(&mut violations, "lastName", request.last_name.as_deref());
    violations.finish(|| ())?;
    let credentials = store::sessions::credentials(&ctx.db, invitation.user_id).await?;
    let new_hash = match credentials.password_hash {
        Some(_) => {
            super::sessions::prove_password(ctx, &credentials, &request.password, None).await?;
            None
        }
        None => {
            let password = request.password.clone();
            Some(super::sessions::blocking(move || password::hash(&password)).await?)
        }
    };
    let acceptance = Acceptance {
        password_hash: new_hash.as_deref(),
        first_name: request.first_name.as_deref(),
        last_name: request.last_name.as_deref(),
    };
    let hash = hash_secret(token);
    let accepted = store::users::accept_invitation(&ctx.db, &hash, &acceptance)
        .await
        .map_err(|error| match error {
            StoreError::Conflict(Conflict::InvitationExpired) => spent(true),
            StoreError::Conflict(Conflict::InvitationAccepted) => spent(false),
            StoreError::NotFound => Error::NotFound("invitation"),
            other => other.into(),
        })?;
    store::users::find_member(&ctx.db, accepted.scope, accepted.user_id)
        .await?
        .ok_or(Error::NotFound("user"))
}

/// A page of members by number, as Voisnap lists them.
#[derive(Debug)]
pub struct Numbered {
    pub members: Vec<Member>,
    pub total: i64,
}

/// The members of the caller's scope or of a tenant it reaches.
#[instrument(skip_all)]
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    place: Place,
    filter: &MemberFilter,
    page: i64,
    page_size: i64,
) -> Result<Numbered> {
    let (scope, target) = resolve(ctx, caller, place).await?;
    judge(caller, Action::ReadUsers, &target)?;
    let (members, total) =
        store::users::list_members(&ctx.db, scope, filter, page, page_size).await?;
    Ok(Numbered { members, total })
}

async fn member(ctx: &Context, scope: Scope, user: UserId) -> Result<Member> {
    store::users::find_member(&ctx.db, scope, user)
        .await?
        .ok_or(Error::NotFound("user"))
}

/// One member of the caller's scope or of a tenant it reaches.
#[instrument(skip_all, fields(user_id = %user))]
pub async fn get(ctx: &Context, caller: &Caller, place: Place, user: UserId) -> Result<Member> {
    let (scope, target) = resolve(ctx, caller, place).await?;
    judge(caller, Action::ReadUsers, &target)?;
    member(ctx, scope, user).await
}

/// Changes a member's names, role or status. The caller must be able to do everything both
/// the old and the new role can; the last active owner of a tenant stays one.
#[instrument(skip_all, fields(user_id = %user))]
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    place: Place,
    user: UserId,
    change: MemberChange,
) -> Result<Member> {
    let (scope, target) = resolve(ctx, caller, place).await?;
    let current = member(ctx, scope, user).await?;
    judge(caller, manage_action(scope), &target)?;
    let mut violations = Violations::default();
    check_name(&mut violations, "firstName", change.first_name.as_deref());
    check_name(&mut violations, "lastName", change.last_name.as_deref());
    if let Some(role) = change.role {
        level_of(scope, role, &mut violations);
    }
    if change.status == Some(MemberStatus::Invited) {
        violations.add(
            "status",
            "invalid_value",
            "may be set to active or disabled",
        );
    }
    violations.finish(|| ())?;
    may_hand_on(caller, current.role)?;
    if let Some(role) = change.role {
        may_hand_on(caller, role)?;
    }
    Ok(store::users::update_member(&ctx.db, scope, user, &change).await?)
}

/// Removes a member from the caller's scope or a tenant it reaches.
#[instrument(skip_all, fields(user_id = %user))]
pub async fn remove(ctx: &Context, caller: &Caller, place: Place, user: UserId) -> Result<()> {
    let (scope, target) = resolve(ctx, caller, place).await?;
    let current = member(ctx, scope, user).await?;
    judge(caller, manage_action(scope), &target)?;
    may_hand_on(caller, current.role)?;
    Ok(store::users::remove_member(&ctx.db, scope, user).await?)
}

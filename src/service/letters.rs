//! The letters people receive about their access: invitations and password resets. Each is
//! enqueued in the transaction of the change it is about, branded with the agency's name.

use chrono::{DateTime, Utc};

use super::{Context, Error, Result};
use crate::domain::email::{Letter, Mail, DEFAULT_BRAND};
use crate::domain::tenant::Tenant;
use crate::domain::user::Invitation;
use crate::store::users::InvitationNames;
use crate::store::{outbox, Tx};

const UNEXPECTED: &str =
    "You received this because someone entered your address. If you did not expect it, ignore it.";

fn until(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn made(mail: std::result::Result<Mail, crate::domain::email::InvalidRecipient>) -> Result<Mail> {
    mail.map_err(|error| Error::field("email", "invalid_email", error.to_string()))
}

/// The invitation's accept link: `<public URL>/invitations/<token>`, the page of the portal
/// that shows it (`GET /api/v1/invitations/{token}`) and accepts it.
pub async fn invitation(
    ctx: &Context,
    tx: &mut Tx,
    invitation: &Invitation,
    names: &InvitationNames,
    token: &str,
) -> Result<()> {
    let brand = names.agency.as_deref().unwrap_or(DEFAULT_BRAND);
    let place = names
        .tenant
        .as_deref()
        .or(names.agency.as_deref())
        .unwrap_or(DEFAULT_BRAND);
    let inviter = names.inviter_name.as_deref().unwrap_or(brand);
    let link = ctx.email.link(&format!("/invitations/{token}"));
    let paragraphs = [
        format!(
            "{inviter} invited you to join {place} as {}.",
            invitation.role.name()
        ),
        format!(
            "The link works once, until {}. If you have an account already, accept with its \
             password.",
            until(invitation.expires_at)
        ),
    ];
    let subject = format!("You are invited to {place}");
    let letter = Letter {
        brand,
        subject: &subject,
        greeting: "Hello,",
        paragraphs: &paragraphs,
        action: Some(("Accept the invitation", &link)),
        footer: UNEXPECTED,
    };
    let mail = made(Mail::branded(&invitation.email, &letter))?;
    outbox::enqueue(tx, &mail, invitation.tenant_id()).await?;
    Ok(())
}

/// The reset link: `<public URL>/reset-password?token=<token>`, for the portal's page that
/// sends it to `POST /api/v1/password-reset/confirm`.
pub async fn password_reset(
    ctx: &Context,
    tx: &mut Tx,
    to: &str,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let link = ctx.email.link(&format!("/reset-password?token={token}"));
    let paragraphs = [
        "Someone asked to reset the password of your account.".to_owned(),
        format!(
            "The link works once, until {}. Your password stays as it is unless you use it.",
            until(expires_at)
        ),
    ];
    let letter = Letter {
        brand: DEFAULT_BRAND,
        subject: "Reset your password",
        greeting: "Hello,",
        paragraphs: &paragraphs,
        action: Some(("Choose a new password", &link)),
        footer: UNEXPECTED,
    };
    let mail = made(Mail::branded(to, &letter))?;
    outbox::enqueue(tx, &mail, None).await?;
    Ok(())
}

/// Tells a tenant's owner that the tenant was deactivated, and why.
pub async fn tenant_deactivated(tx: &mut Tx, tenant: &Tenant) -> Result<()> {
    let Some(owner) = &tenant.owner else {
        return Ok(());
    };
    let brand = outbox::brand_of(tx, tenant.id).await?;
    let reason = tenant
        .deactivation
        .as_ref()
        .and_then(|d| d.reason.as_deref())
        .unwrap_or("none given");
    let paragraphs = [
        format!("{} has been deactivated by {brand}.", tenant.name),
        format!("Reason: {reason}."),
        format!(
            "Its data is kept. New calls are refused until {brand} reactivates it; ask them \
             if you think this is a mistake."
        ),
    ];
    let subject = format!("{} has been deactivated", tenant.name);
    let greeting = format!("Hello {},", owner.name);
    let letter = Letter {
        brand: &brand,
        subject: &subject,
        greeting: &greeting,
        paragraphs: &paragraphs,
        action: None,
        footer: "You received this because you own this account.",
    };
    let mail = made(Mail::branded(&owner.email, &letter))?;
    outbox::enqueue(tx, &mail, Some(tenant.id)).await?;
    Ok(())
}

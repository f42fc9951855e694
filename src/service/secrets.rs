//! Re-sealing stored secrets under the keyring's current key, the second half of a key
//! rotation (`tenantry keys rotate-secret`). Servers keep running: each row is re-sealed by a
//! conditional write, so a change a server makes meanwhile wins, sealed under whatever key it
//! had loaded (which follows the key file).

use tracing::warn;

use super::resources::seal_context;
use super::sessions::mfa_context;
use crate::domain::ids::UserId;
use crate::domain::webhook;
use crate::secrets::{Keyring, SecretError};
use crate::store::sealed::{SealedColumns, SealedRow};
use crate::store::{self, Db, StoreResult};

/// Rows read per page.
const PAGE: i64 = 200;

/// What a pass over every stored secret found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Resources holding secrets.
    pub resources: u64,
    /// Other rows holding sealed values (people's TOTP secrets, webhook signing secrets).
    pub rows: u64,
    /// Secrets re-sealed under the current key.
    pub resealed: u64,
    /// Secrets that were under it already.
    pub current: u64,
    /// Secrets no key of the keyring opens (lost keys, or tampering).
    pub unreadable: u64,
    /// Resources a server changed during the pass; they hold its newer values.
    pub changed_meanwhile: u64,
}

/// Passes of [`reseal_all`] until one sees no row changed by a server meanwhile (at most
/// five): a server may have sealed a value just before it read the new key file.
pub async fn reseal_until_settled(db: &Db, keyring: &Keyring) -> StoreResult<ResealReport> {
    let mut report = reseal_all(db, keyring).await?;
    for _ in 1..5 {
        if report.changed_meanwhile == 0 {
            break;
        }
        report = reseal_all(db, keyring).await?;
    }
    Ok(report)
}

/// Re-seals every secret not under `keyring`'s current key, and opens every one on the way:
/// resources' secrets, then every other sealed column.
pub async fn reseal_all(db: &Db, keyring: &Keyring) -> StoreResult<ResealReport> {
    let mut report = ResealReport::default();
    reseal_resources(db, keyring, &mut report).await?;
    reseal_columns(db, keyring, &mut report).await?;
    Ok(report)
}

/// One sealed value re-sealed under the current key, when it is not under it already;
/// counted in `report` either way. `Err` when no key opens it.
fn reseal_one(
    keyring: &Keyring,
    ciphertext: &str,
    context: &[u8],
    report: &mut ResealReport,
) -> Result<Option<String>, SecretError> {
    match keyring.open(ciphertext, context) {
        Ok(_) if keyring.is_current(ciphertext) => {
            report.current += 1;
            Ok(None)
        }
        Ok(plaintext) => Ok(Some(keyring.seal(&plaintext, context))),
        Err(error) => {
            report.unreadable += 1;
            Err(error)
        }
    }
}

async fn reseal_resources(
    db: &Db,
    keyring: &Keyring,
    report: &mut ResealReport,
) -> StoreResult<()> {
    let mut after = None;
    loop {
        let page = store::resources::sealed_page(db, after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some((last.tenant_id, last.id));
        for row in page {
            report.resources += 1;
            let mut next = row.sealed.clone();
            let mut resealed = 0;
            for (pointer, ciphertext) in &row.sealed {
                let context = seal_context(row.tenant_id, row.id, pointer);
                match reseal_one(keyring, ciphertext, &context, report) {
                    Ok(Some(sealed)) => {
                        next.insert(pointer.clone(), sealed);
                        resealed += 1;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        let id = row.kind.display_id(row.id);
                        warn!(tenant_id = %row.tenant_id, id, pointer, %error, "a stored secret cannot be opened");
                    }
                }
            }
            if resealed == 0 {
                continue;
            }
            if store::resources::reseal(db, row.tenant_id, row.id, &row.sealed, &next).await? {
                report.resealed += resealed;
            } else {
                report.changed_meanwhile += 1;
            }
        }
    }
}

/// Every sealed column outside resources.
const SEALED: [SealedColumns; 2] = [
    SealedColumns {
        table: "users",
        columns: ["mfa_secret", "mfa_pending_secret"],
        context: |id| mfa_context(UserId(id)),
    },
    SealedColumns {
        table: "webhook_endpoints",
        columns: ["secret", "previous_secret"],
        context: webhook::seal_context,
    },
];

async fn reseal_columns(db: &Db, keyring: &Keyring, report: &mut ResealReport) -> StoreResult<()> {
    for sealed in &SEALED {
        let mut after = None;
        loop {
            let page = store::sealed::page(db, sealed, after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id);
            for row in page {
                report.rows += 1;
                reseal_row(db, keyring, sealed, &row, report).await?;
            }
        }
    }
    Ok(())
}

async fn reseal_row(
    db: &Db,
    keyring: &Keyring,
    sealed: &SealedColumns,
    row: &SealedRow,
    report: &mut ResealReport,
) -> StoreResult<()> {
    let context = (sealed.context)(row.id);
    for (column, value) in sealed.columns.into_iter().zip(row.values()) {
        let Some(ciphertext) = value else { continue };
        let next = match reseal_one(keyring, ciphertext, context.as_bytes(), report) {
            Ok(Some(next)) => next,
            Ok(None) => continue,
            Err(error) => {
                let table = sealed.table;
                warn!(table, id = %row.id, column, %error, "a stored secret cannot be opened");
                continue;
            }
        };
        if store::sealed::replace(db, sealed, column, row.id, ciphertext, &next).await? {
            report.resealed += 1;
        } else {
            report.changed_meanwhile += 1;
        }
    }
    Ok(())
}

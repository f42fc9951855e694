//! Re-sealing stored secrets under the keyring's current key, the second half of a key
//! rotation (`tenantry keys rotate-secret`). Servers keep running: each row is re-sealed by a
//! conditional write, so a change a server makes meanwhile wins, sealed under whatever key it
//! had loaded (which follows the key file).

use tracing::warn;

use super::resources::seal_context;
use crate::secrets::Keyring;
use crate::store::{self, Db, StoreResult};

/// Rows read per page.
const PAGE: i64 = 200;

/// What a pass over every stored secret found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Resources holding secrets.
    pub resources: u64,
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

/// Re-seals every secret not under `keyring`'s current key, and opens every one on the way.
pub async fn reseal_all(db: &Db, keyring: &Keyring) -> StoreResult<ResealReport> {
    let mut report = ResealReport::default();
    let mut after = None;
    loop {
        let page = store::resources::sealed_page(db, after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(report);
        };
        after = Some((last.tenant_id, last.id));
        for row in page {
            report.resources += 1;
            let mut next = row.sealed.clone();
            let mut resealed = 0;
            for (pointer, ciphertext) in &row.sealed {
                let context = seal_context(row.tenant_id, row.id, pointer);
                match keyring.open(ciphertext, &context) {
                    Ok(_) if keyring.is_current(ciphertext) => report.current += 1,
                    Ok(plaintext) => {
                        next.insert(pointer.clone(), keyring.seal(&plaintext, &context));
                        resealed += 1;
                    }
                    Err(error) => {
                        report.unreadable += 1;
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

//! Background work: expiring calls whose data plane vanished, and purging old idempotency
//! records. Every job is safe to run on all replicas at once.

use std::time::Duration;

use crate::store::{calls, idempotency, now, Db};

/// How many expired calls one pass handles before looking again.
const REAP_BATCH: i64 = 500;

/// Ends calls whose lease ran out, so a crashed data plane cannot hold a slot for ever.
pub async fn reap_expired_calls(db: Db, lease: chrono::Duration) {
    // Look a few times per lease, so a slot is free soon after its lease ends.
    let every = (lease / 4).to_std().unwrap_or(Duration::from_secs(1));
    let mut tick =
        tokio::time::interval(every.clamp(Duration::from_secs(1), Duration::from_secs(15)));
    loop {
        tick.tick().await;
        loop {
            match calls::expire(&db, now(), REAP_BATCH).await {
                Ok(expired) => {
                    if expired > 0 {
                        metrics::counter!("tenantry_calls_expired_total").increment(expired);
                        tracing::info!(expired, "expired calls whose lease ran out");
                    }
                    if expired < REAP_BATCH as u64 {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = ?error, "call reaper failed");
                    break;
                }
            }
        }
    }
}

/// Deletes idempotency records past their retention.
pub async fn purge_idempotency_records(db: Db) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        match idempotency::purge(&db, now() - idempotency::RETENTION).await {
            Ok(purged) if purged > 0 => {
                tracing::info!(purged, "purged expired idempotency records")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = ?error, "idempotency purge failed"),
        }
    }
}

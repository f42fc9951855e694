//! The retention job's pass: every tenant's call details, raw usage events and recordings
//! older than its `retentionDays` are deleted, the recordings' bytes too. Rollups stay.

use chrono::{DateTime, Duration, Utc};

use super::{blobs, Context, Result};
use crate::store::retention;

/// Tenants read per page, and calls deleted per look.
const BATCH: i64 = 500;

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub calls: u64,
    pub recordings: u64,
    pub events: u64,
}

/// One pass at `at`, safe on several replicas at once: each row is deleted by whichever gets
/// to it first.
pub async fn sweep(ctx: &Context, at: DateTime<Utc>) -> Result<Swept> {
    let mut swept = Swept::default();
    let mut after = None;
    loop {
        let page = retention::tenants(&ctx.db, after, BATCH).await?;
        for (tenant, days) in &page {
            let cutoff = at - Duration::days(*days);
            loop {
                let calls = retention::expired_calls(&ctx.db, *tenant, cutoff, BATCH).await?;
                for call in &calls {
                    if retention::forget_call(&ctx.db, *tenant, *call).await? {
                        swept.recordings += 1;
                    }
                    swept.calls += 1;
                }
                if (calls.len() as i64) < BATCH {
                    break;
                }
            }
            swept.events += retention::forget_events(&ctx.db, *tenant, cutoff).await?;
        }
        match page.last() {
            Some((last, _)) if page.len() as i64 == BATCH => after = Some(*last),
            _ => break,
        }
    }
    // The recordings' bytes, queued with their rows.
    blobs::forget_queued(ctx).await;
    Ok(swept)
}

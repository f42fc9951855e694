//! Resources whose content is bytes: knowledge-base files and call recordings. The bytes
//! stream to object storage under a fresh key before the row that describes them is written,
//! within the limits, in one transaction; bytes whose row was refused are removed.

use std::ops::Range;

use bytes::Bytes;
use futures_util::Stream;
use tracing::instrument;
use uuid::Uuid;

use super::lifecycle::refuse_if;
use super::resources::{bytes_refusal, create_stored, find, readable, refuse_blocked_read};
use super::tenants::{self, TenantRef};
use super::{not_found, Context, Error, LimitRefusal, Result};
use crate::blobs::{BlobRead, PutError};
use crate::domain::ids::{CallId, FileId, TenantId};
use crate::domain::limits::{EffectiveLimits, LimitKey};
use crate::domain::policy::{act, Authorized};
use crate::domain::resource::{Resource, ResourceKind, ResourceSpec};
use crate::domain::resources::stored::{
    bytes_key, check_content_type, object_key, recording_content_types, KnowledgeFile, Recording,
    StoredBytes,
};
use crate::domain::tenant::BlockedService;
use crate::domain::validation::Violations;
use crate::store::resources::{self as stored, OnUnique, Stored};
use crate::store::StoreError;

const MEGABYTE: u64 = 1_000_000;

/// Bytes a client is sending: their media type, the length it declared, and the body.
pub struct Upload<B> {
    pub content_type: String,
    pub declared_size: Option<u64>,
    pub body: B,
}

/// How many bytes an upload may hold, and which limit says so.
struct Allowance {
    max_bytes: u64,
    item_limit: Option<(LimitKey, i64)>,
    total_limit: Option<(LimitKey, i64, i64)>,
}

impl Allowance {
    /// What the limits allow now, counting the `freed` bytes of a resource the upload
    /// replaces as gone; the total is checked again when the row is written.
    async fn of(
        ctx: &Context,
        tenant_id: TenantId,
        kind: ResourceKind,
        limits: &EffectiveLimits,
        freed: i64,
    ) -> Result<Allowance> {
        let item_limit = (kind == ResourceKind::File)
            .then(|| limits.get(LimitKey::MaxFileSizeMb))
            .flatten()
            .map(|megabytes| (LimitKey::MaxFileSizeMb, megabytes));
        let total_limit = match kind
            .info()
            .bytes_limit
            .and_then(|key| Some((key, limits.get(key)?)))
        {
            Some((key, megabytes)) => {
                let held = stored::measure(&ctx.db, tenant_id).await?;
                let used = held.get(&kind).map_or(0, |(_, bytes)| *bytes);
                let used = used.saturating_sub(freed).max(0);
                Some((key, megabytes, used))
            }
            None => None,
        };
        let by_item = item_limit.map_or(u64::MAX, |(_, mb)| mb.max(0) as u64 * MEGABYTE);
        let by_total = total_limit.map_or(u64::MAX, |(_, mb, used)| {
            (mb.max(0) as u64 * MEGABYTE).saturating_sub(used.max(0) as u64)
        });
        Ok(Allowance {
            max_bytes: by_item.min(by_total),
            item_limit,
            total_limit,
        })
    }

    /// The refusal of `size` bytes (or of a body that passed the allowance).
    fn refusal(&self, size: Option<u64>) -> Error {
        if let Some((key, megabytes)) = self.item_limit {
            let over_item = size.is_none_or(|size| size > megabytes.max(0) as u64 * MEGABYTE);
            if over_item && megabytes.max(0) as u64 * MEGABYTE <= self.max_bytes {
                return Error::QuotaReached(LimitRefusal {
                    code: "file_too_large",
                    limit: key.field(),
                    limit_value: megabytes,
                    current: size.map_or(megabytes + 1, |size| size.div_ceil(MEGABYTE) as i64),
                });
            }
        }
        match self.total_limit {
            Some((key, megabytes, used)) => bytes_refusal(key, megabytes, used),
            None => Error::Internal(anyhow::anyhow!("an upload passed no limit")),
        }
    }
}

/// Streams an upload to `key` within `allowance`, refusing a declared size over it before
/// anything is stored.
async fn put<B, E>(
    ctx: &Context,
    key: &str,
    upload: Upload<B>,
    allowance: &Allowance,
) -> Result<StoredBytes>
where
    B: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    if upload
        .declared_size
        .is_some_and(|size| size > allowance.max_bytes)
    {
        return Err(allowance.refusal(upload.declared_size));
    }
    match ctx
        .blobs
        .put_stream(key, upload.body, allowance.max_bytes)
        .await
    {
        Ok(blob) => Ok(StoredBytes {
            content_type: upload.content_type,
            size_bytes: blob.size,
            sha256: blob.sha256,
        }),
        Err(PutError::TooLarge { .. }) => Err(allowance.refusal(None)),
        Err(PutError::Body(error)) => Err(Error::field(
            "body",
            "incomplete_body",
            format!("the body could not be read: {error}"),
        )),
        Err(PutError::Store(error)) => Err(Error::Internal(error.into())),
    }
}

/// Streams an upload to a fresh key within the kind's limits, then writes the row that
/// describes it (`spec_of` the stored bytes), or removes the bytes when the row is refused.
/// `on_unique` says whether it replaces a row of the same unique value, whose `freed` bytes
/// then make room for it.
async fn store_bytes<S, B, E>(
    ctx: &Context,
    tenant_id: TenantId,
    limits: &EffectiveLimits,
    upload: Upload<B>,
    spec_of: impl FnOnce(StoredBytes) -> S,
    on_unique: OnUnique,
    freed: i64,
) -> Result<Resource>
where
    S: ResourceSpec,
    B: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let allowance = Allowance::of(ctx, tenant_id, S::KIND, limits, freed).await?;
    let id = Uuid::now_v7();
    let key = object_key(tenant_id, S::KIND, S::KIND.display_id(id));
    let bytes = put(ctx, &key, upload, &allowance).await?;
    let size = i64::try_from(bytes.size_bytes).unwrap_or(i64::MAX);
    let spec = spec_of(bytes);
    match create_stored(ctx, tenant_id, id, &spec, size, on_unique).await {
        Ok((created, replaced)) => {
            if let Some(replaced) = replaced {
                forget(ctx, &replaced).await;
            }
            Ok(created)
        }
        Err(error) => {
            remove(ctx, &key).await;
            Err(error)
        }
    }
}

/// Stores a knowledge-base file.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn upload_file<B, E>(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ManageFiles>,
    name: String,
    upload: Upload<B>,
) -> Result<Resource>
where
    B: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut violations = Violations::default();
    violations.length("name", &name, 1, 255);
    check_content_type("contentType", &upload.content_type, &mut violations);
    violations.finish(|| ())?;
    let tenant_id = tenant.get().id;
    let limits = tenants::load(ctx, &tenant).await?.effective_limits;
    let spec_of = |bytes| KnowledgeFile { name, bytes };
    store_bytes(
        ctx,
        tenant_id,
        &limits,
        upload,
        spec_of,
        OnUnique::Conflict,
        0,
    )
    .await
}

/// Stores a call's recording, replacing the one it had.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn store_recording<B, E>(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::StoreRecordings>,
    call_id: CallId,
    upload: Upload<B>,
) -> Result<Resource>
where
    B: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let tenant_id = tenant.get().id;
    let loaded = tenants::load(ctx, &tenant).await?;
    // Before any byte is stored; the row's write checks again under the tenant's lock.
    let service = BlockedService::Recordings;
    refuse_if(loaded.blocks(service), service)?;
    crate::store::calls::find(&ctx.db, tenant_id, call_id)
        .await
        .map_err(not_found("call"))?;
    let settings = &loaded.settings;
    if !settings.recording_enabled {
        return Err(Error::Forbidden(
            "settings.recordingEnabled is false: this tenant stores no recordings",
        ));
    }
    let essence = upload.content_type.split(';').next().unwrap_or("").trim();
    let accepted = recording_content_types(settings.recording_format);
    if !accepted.iter().any(|t| t.eq_ignore_ascii_case(essence)) {
        return Err(Error::field(
            "Content-Type",
            "unsupported_media_type",
            format!(
                "settings.recordingFormat is {}: send one of {}",
                <&str>::from(settings.recording_format),
                accepted.join(", ")
            ),
        ));
    }
    // The recording this one replaces is removed as it is stored, so its bytes make room.
    let key = call_id.to_string();
    let freed =
        match stored::find_by_unique_key(&ctx.db, tenant_id, ResourceKind::Recording, &key).await {
            Ok(replaced) => replaced.size_bytes,
            Err(StoreError::NotFound) => 0,
            Err(error) => return Err(error.into()),
        };
    let limits = &loaded.effective_limits;
    let spec_of = |bytes| Recording { call_id, bytes };
    store_bytes(
        ctx,
        tenant_id,
        limits,
        upload,
        spec_of,
        OnUnique::Replace,
        freed,
    )
    .await
}

/// A call's recording, to play: refused while the tenant's block refuses recordings.
pub async fn recording(
    ctx: &Context,
    tenant: &Authorized<TenantRef, act::ReadRecordings>,
    call_id: CallId,
) -> Result<Resource> {
    let tenant_id = tenant.get().id;
    refuse_blocked_read(ctx, tenant_id, ResourceKind::Recording).await?;
    find_recording(ctx, tenant_id, call_id).await
}

async fn find_recording(ctx: &Context, tenant_id: TenantId, call_id: CallId) -> Result<Resource> {
    let key = call_id.to_string();
    stored::find_by_unique_key(&ctx.db, tenant_id, ResourceKind::Recording, &key)
        .await
        .map(readable)
        .map_err(not_found("recording"))
}

/// A knowledge-base file.
pub async fn file(
    ctx: &Context,
    tenant: &Authorized<TenantRef, act::ReadFiles>,
    id: FileId,
) -> Result<Resource> {
    find::<KnowledgeFile>(ctx, tenant.get().id, id)
        .await
        .map(readable)
}

/// Deletes a call's recording.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub async fn delete_recording(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::StoreRecordings>,
    call_id: CallId,
) -> Result<()> {
    let found = find_recording(ctx, tenant.get().id, call_id).await?;
    let removed = stored::delete(&ctx.db, found.tenant_id, found.kind, found.id)
        .await
        .map_err(not_found("recording"))?;
    forget(ctx, &removed).await;
    Ok(())
}

/// The stored bytes of a resource, or the `range` of them.
pub async fn read(
    ctx: &Context,
    resource: &Resource,
    range: Option<Range<u64>>,
) -> Result<BlobRead> {
    let id = resource.kind.display_id(resource.id);
    let key = object_key(resource.tenant_id, resource.kind, id);
    ctx.blobs
        .get(&key, range)
        .await
        .map_err(|error| Error::Internal(error.into()))
}

/// Removes the bytes of a deleted resource, if it had any. A failure leaves bytes that no
/// row names, which is logged: nothing a client can see.
pub async fn forget(ctx: &Context, removed: &Stored) {
    if let Some(key) = bytes_key(removed.tenant_id, removed.kind, removed.id) {
        remove(ctx, &key).await;
    }
}

async fn remove(ctx: &Context, key: &str) {
    if let Err(error) = ctx.blobs.delete(key).await {
        tracing::warn!(key, %error, "stored bytes could not be removed");
    }
}

/// Keys claimed per look at the deletion queue.
const DELETION_BATCH: i64 = 100;
/// How long a claim on queued keys holds: a worker that dies leaves them due again then.
const DELETION_LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// Deletes the bytes the deletion queue names (see `store::blob_deletions`), on any replica:
/// each key is claimed by one worker at a time, and forgotten once its bytes are gone. A key
/// whose bytes could not be deleted stays queued until its claim lapses. Answers how many
/// went.
pub async fn delete_queued(ctx: &Context) -> Result<u64> {
    use crate::store::blob_deletions;
    let mut deleted = 0;
    loop {
        let at = crate::store::now();
        let keys = blob_deletions::claim(&ctx.db, at, DELETION_BATCH, DELETION_LEASE).await?;
        for key in &keys {
            match ctx.blobs.delete(key).await {
                Ok(()) => {
                    blob_deletions::done(&ctx.db, key).await?;
                    deleted += 1;
                }
                Err(error) => tracing::warn!(key, %error, "queued bytes could not be deleted"),
            }
        }
        if (keys.len() as i64) < DELETION_BATCH {
            return Ok(deleted);
        }
    }
}

/// Deletes the queued bytes now, after the commit that queued them; what fails stays queued
/// for the blob worker.
pub async fn forget_queued(ctx: &Context) {
    if let Err(error) = delete_queued(ctx).await {
        tracing::warn!(error = ?error, "queued bytes are left for the blob worker");
    }
}

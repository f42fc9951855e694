//! Use cases of every resource kind, written once over [`ResourceSpec`]: create (within the
//! kind's limits), list, get, change by merge patch, delete. Secrets in a document are sealed
//! before it is stored and masked whenever it is read.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::instrument;
use uuid::Uuid;

use super::lifecycle::{refuse_blocked, refuse_if};
use super::tenants::TenantRef;
use super::Lookup;
use super::{Context, Error, LimitRefusal, Result};
use crate::domain::access::Caller;
use crate::domain::ids::{AgentId, TenantId, TypedId};
use crate::domain::limits::LimitKey;
use crate::domain::policy::Authorized;
use crate::domain::policy::{self, act};
use crate::domain::resource::{
    merge_patch, put_at, take_at, Resource, ResourceKind, ResourceSpec, MASK,
};
use crate::domain::resources::phone_number::is_e164;
use crate::domain::validation::{FieldError, Violations};
use crate::store::resources::{self as stored, Filters, Held, OnUnique, Sealed, Stored, Write};

/// Megabytes, as byte limits are stored.
const MEGABYTE: i64 = 1_000_000;

fn checked<S: ResourceSpec>(spec: S) -> Result<S> {
    let mut violations = Violations::default();
    spec.check(&mut violations);
    Ok(violations.finish(|| spec)?)
}

/// Every agent a spec names must be an agent of the tenant.
async fn check_agents<S: ResourceSpec>(ctx: &Context, tenant_id: TenantId, spec: &S) -> Result<()> {
    let named: Vec<AgentId> = spec.agents();
    if named.is_empty() {
        return Ok(());
    }
    let known = crate::store::agents::known(&ctx.db, tenant_id, &named).await?;
    let unknown: Vec<FieldError> = named
        .iter()
        .enumerate()
        .filter(|(_, id)| !known.contains(id))
        .map(|(i, _)| FieldError {
            field: spec.agent_field(i),
            code: "unknown_agent".to_owned(),
            message: "is not an agent of this tenant".to_owned(),
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(unknown))
    }
}

/// The context a secret is sealed to, so that a ciphertext cannot be moved to another row or
/// field.
pub fn seal_context(tenant_id: TenantId, id: Uuid, pointer: &str) -> Vec<u8> {
    format!("{tenant_id}/{id}{pointer}").into_bytes()
}

/// What to store for `spec`: its document without secrets, and the secrets sealed. A secret
/// sent back as the mask keeps the value stored before.
fn to_write<S: ResourceSpec>(
    ctx: &Context,
    tenant_id: TenantId,
    id: Uuid,
    spec: &S,
    size_bytes: i64,
    before: &Sealed,
) -> Result<Write> {
    let mut document = serde_json::to_value(spec).map_err(|e| Error::Internal(e.into()))?;
    let secret_paths = spec.secret_paths();
    // A key that was secret and no longer is (an integration changed kind) still reads as
    // the mask; drop it rather than store the mask as its value.
    for pointer in before
        .keys()
        .filter(|pointer| !secret_paths.contains(pointer))
    {
        if document.pointer(pointer) == Some(&Value::String(MASK.to_owned())) {
            take_at(&mut document, pointer);
        }
    }
    let mut sealed = Sealed::new();
    for pointer in secret_paths {
        match take_at(&mut document, &pointer) {
            Some(Value::String(text)) if text == MASK => {
                if let Some(kept) = before.get(&pointer) {
                    sealed.insert(pointer, kept.clone());
                }
            }
            Some(Value::String(text)) => {
                let context = seal_context(tenant_id, id, &pointer);
                let ciphertext = ctx.keyring().seal(text.as_bytes(), &context);
                sealed.insert(pointer, ciphertext);
            }
            _ => {}
        }
    }
    Ok(Write {
        id,
        name: spec.name(),
        unique_key: spec.unique_key(),
        category: spec.category(),
        size_bytes,
        agents: spec.agents(),
        document,
        sealed,
    })
}

/// A stored resource as every reader sees it: secrets masked.
pub fn readable(stored: Stored) -> Resource {
    let mut document = stored.document;
    for pointer in stored.sealed.keys() {
        put_at(&mut document, pointer, Value::String(MASK.to_owned()));
    }
    Resource {
        tenant_id: stored.tenant_id,
        id: stored.id,
        kind: stored.kind,
        document,
        version: stored.version,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    }
}

/// Refuses a create that the tenant's block, the kind's limits or its required setting do not
/// allow, as they stand under the tenant's lock.
pub fn admission(kind: ResourceKind, adding_bytes: i64) -> impl FnOnce(Held) -> Result<()> {
    let info = kind.info();
    move |held| {
        if let Some(rule) = info.blocked_by {
            refuse_if(held.blocked.contains(&rule.service), rule.service)?;
        }
        if let (false, Some(setting)) = (held.setting_on, info.requires) {
            return Err(Error::Conflict {
                code: "setting_required",
                detail: format!("{} must be on to add a {}", setting.field, info.noun),
                field: Some(setting.field),
            });
        }
        let count_limit = info
            .count_limit
            .and_then(|limit| Some((limit, held.limits.get(limit.key)?)));
        if let Some((limit, value)) = count_limit.filter(|(_, value)| held.count >= *value) {
            return Err(Error::QuotaReached(LimitRefusal {
                code: limit.code,
                limit: limit.key.field(),
                limit_value: value,
                current: held.count,
            }));
        }
        let bytes_limit = info
            .bytes_limit
            .and_then(|key| Some((key, held.limits.get(key)?)));
        if let Some((key, megabytes)) = bytes_limit {
            if held.size_bytes + adding_bytes > megabytes.saturating_mul(MEGABYTE) {
                return Err(bytes_refusal(key, megabytes, held.size_bytes));
            }
        }
        Ok(())
    }
}

/// The refusal of bytes over a stored-bytes limit; `current` in megabytes, rounded up.
pub fn bytes_refusal(key: LimitKey, megabytes: i64, current_bytes: i64) -> Error {
    Error::QuotaReached(LimitRefusal {
        code: "storage_limit_reached",
        limit: key.field(),
        limit_value: megabytes,
        current: (current_bytes + MEGABYTE - 1) / MEGABYTE,
    })
}

/// Refuses reads of `kind` while the tenant's block covers them. (Changes check the block in
/// their write.)
pub async fn refuse_blocked_read(
    ctx: &Context,
    tenant_id: TenantId,
    kind: ResourceKind,
) -> Result<()> {
    match kind.info().blocked_by {
        Some(rule) if rule.reads => refuse_blocked(ctx, tenant_id, rule.service).await,
        _ => Ok(()),
    }
}

/// A unique value taken by another resource becomes the kind's own conflict.
fn name_conflicts(kind: ResourceKind) -> impl Fn(Error) -> Error {
    move |error| match error {
        Error::Conflict {
            code: "unique_value_taken",
            ..
        } => {
            let info = kind.info();
            Error::Conflict {
                code: "unique_value_taken",
                detail: format!(
                    "another {} has this {}",
                    info.noun,
                    info.unique_field.unwrap_or("value")
                ),
                field: info.unique_field,
            }
        }
        Error::NotFound(_) => Error::NotFound(kind.info().noun),
        other => other,
    }
}

/// Creates a resource from a client's spec.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id, kind = S::KIND.name()))]
pub async fn create<S: ResourceSpec>(
    ctx: &Context,
    tenant: Authorized<TenantRef, S::Manage>,
    spec: S,
) -> Result<Resource> {
    let spec = checked(spec)?;
    let tenant_id = tenant.get().id;
    check_agents(ctx, tenant_id, &spec).await?;
    let write = to_write(ctx, tenant_id, Uuid::now_v7(), &spec, 0, &Sealed::new())?;
    let admit = admission(S::KIND, 0);
    let (created, _) = stored::create(
        &ctx.db,
        tenant_id,
        S::KIND,
        &write,
        OnUnique::Conflict,
        admit,
    )
    .await
    .map_err(name_conflicts(S::KIND))?;
    Ok(readable(created))
}

/// Creates a resource whose bytes are already stored under its id, within its limits. Called
/// by the byte stores ([`super::blobs`]).
pub async fn create_stored<S: ResourceSpec>(
    ctx: &Context,
    tenant_id: TenantId,
    id: Uuid,
    spec: &S,
    size_bytes: i64,
    on_unique: OnUnique,
) -> Result<(Resource, Option<Stored>)> {
    let write = to_write(ctx, tenant_id, id, spec, size_bytes, &Sealed::new())?;
    let admit = admission(S::KIND, size_bytes);
    let (created, replaced) = stored::create(&ctx.db, tenant_id, S::KIND, &write, on_unique, admit)
        .await
        .map_err(name_conflicts(S::KIND))?;
    Ok((readable(created), replaced))
}

#[instrument(skip_all, fields(tenant_id = %tenant.get().id, kind = S::KIND.name()))]
pub async fn list<S: ResourceSpec>(
    ctx: &Context,
    tenant: Authorized<TenantRef, S::Read>,
    filters: &Filters,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Resource>> {
    refuse_blocked_read(ctx, tenant.get().id, S::KIND).await?;
    let rows = stored::list(&ctx.db, tenant.get().id, S::KIND, filters, after, limit).await?;
    Ok(rows.into_iter().map(readable).collect())
}

/// A resource as stored, for the use cases of one kind (its secrets still sealed).
pub async fn find<S: ResourceSpec>(
    ctx: &Context,
    tenant_id: TenantId,
    id: S::Id,
) -> Result<Stored> {
    stored::find(&ctx.db, tenant_id, S::KIND, id.uuid())
        .await
        .map_err(|error| name_conflicts(S::KIND)(error.into()))
}

#[instrument(skip_all, fields(tenant_id = %tenant.get().id, kind = S::KIND.name()))]
pub async fn get<S: ResourceSpec>(
    ctx: &Context,
    tenant: Authorized<TenantRef, S::Read>,
    id: S::Id,
) -> Result<Resource> {
    refuse_blocked_read(ctx, tenant.get().id, S::KIND).await?;
    Ok(readable(find::<S>(ctx, tenant.get().id, id).await?))
}

/// The spec a merge patch makes of a stored resource (secrets as the mask).
fn patched<S: ResourceSpec>(current: &Stored, patch: &Value) -> Result<S> {
    let Value::Object(fields) = patch else {
        return Err(Error::field(
            "body",
            "invalid_type",
            "must be a JSON object",
        ));
    };
    if let Some(patchable) = S::PATCHABLE {
        let fixed: Vec<FieldError> = fields
            .keys()
            .filter(|key| !patchable.contains(&key.as_str()))
            .map(|key| FieldError {
                field: key.clone(),
                code: "read_only".to_owned(),
                message: "cannot be changed".to_owned(),
            })
            .collect();
        if !fixed.is_empty() {
            return Err(Error::Invalid(fixed));
        }
    }
    let mut document = readable(current.clone()).document;
    // A null removes a field; on a required one that is refused naming it (serde would name
    // only the object that lacks it). The stored document is whole, so a field is required
    // exactly when that document without it no longer reads.
    let required: Vec<FieldError> = fields
        .iter()
        .filter(|(key, value)| {
            let mut without = document.clone();
            value.is_null()
                && without
                    .as_object_mut()
                    .and_then(|object| object.remove(key.as_str()))
                    .is_some()
                && serde_json::from_value::<S>(without).is_err()
        })
        .map(|(key, _)| FieldError {
            field: key.clone(),
            code: "required".to_owned(),
            message: "is required and cannot be removed".to_owned(),
        })
        .collect();
    if !required.is_empty() {
        return Err(Error::Invalid(required));
    }
    merge_patch(&mut document, patch);
    let spec: S = serde_path_to_error::deserialize(&document).map_err(|error| {
        let path = error.path().to_string();
        Error::Invalid(vec![FieldError::from_serde(
            &path,
            &error.into_inner().to_string(),
        )])
    })?;
    checked(spec)
}

/// Changes a resource by an RFC 7386 merge patch of its fields; `expected` is an `If-Match`
/// version. Its version number goes up by one.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id, kind = S::KIND.name()))]
pub async fn update<S: ResourceSpec>(
    ctx: &Context,
    tenant: Authorized<TenantRef, S::Manage>,
    id: S::Id,
    expected: Option<DateTime<Utc>>,
    patch: Value,
) -> Result<Resource> {
    let tenant_id = tenant.get().id;
    // Agents are checked against the patch laid over what is stored now; the foreign key
    // holds the line if one is deleted meanwhile.
    let current = find::<S>(ctx, tenant_id, id).await?;
    check_agents(ctx, tenant_id, &patched::<S>(&current, &patch)?).await?;
    let changed = stored::update(
        &ctx.db,
        tenant_id,
        S::KIND,
        id.uuid(),
        expected,
        |current, blocked| {
            // In the write, under the tenant's row lock: ordered against a block.
            if let Some(rule) = S::KIND.info().blocked_by {
                refuse_if(blocked.contains(&rule.service), rule.service)?;
            }
            let spec = patched::<S>(current, &patch)?;
            to_write(
                ctx,
                tenant_id,
                current.id,
                &spec,
                current.size_bytes,
                &current.sealed,
            )
        },
    )
    .await
    .map_err(name_conflicts(S::KIND))?;
    Ok(readable(changed))
}

/// Deletes a resource and any bytes it stored.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id, kind = S::KIND.name()))]
pub async fn delete<S: ResourceSpec>(
    ctx: &Context,
    tenant: Authorized<TenantRef, S::Manage>,
    id: S::Id,
) -> Result<()> {
    let removed = stored::delete(&ctx.db, tenant.get().id, S::KIND, id.uuid())
        .await
        .map_err(|error| name_conflicts(S::KIND)(error.into()))?;
    super::blobs::forget(ctx, &removed).await;
    Ok(())
}

/// The phone number a call to `number` reaches, with its tenant and agent, wherever it is
/// held: how the voice data plane routes an inbound call. A number the caller's scope does
/// not reach is not found, like any other object.
#[instrument(skip_all)]
pub async fn route_number(ctx: &Context, caller: &Caller, number: &str) -> Result<Resource> {
    if !is_e164(number) {
        return Err(Error::field(
            "number",
            "invalid_phone_number",
            "must be an E.164 number: + and 7 to 15 digits, the first not 0",
        ));
    }
    let kind = ResourceKind::PhoneNumber;
    let hidden = || Error::NotFound(kind.info().noun);
    let stored = stored::find_anywhere(&ctx.db, kind, number)
        .await?
        .ok_or_else(hidden)?;
    let tenant = TenantRef::lookup(ctx, caller, stored.tenant_id)
        .await?
        .ok_or_else(hidden)?;
    let target = tenant.target();
    policy::authorize::<_, act::ReadTelephony>(caller, tenant, &target)
        .map_err(Error::refused(kind.info().noun))?;
    Ok(readable(stored))
}

/// The refusal of a change that would leave resources without what they need.
pub fn in_use(what: &str, field: Option<&'static str>, by: &[stored::Named]) -> Error {
    let names: Vec<String> = by
        .iter()
        .map(|named| {
            let id = named.kind.display_id(named.id);
            format!("{} {} ({id})", named.kind.info().noun, named.name)
        })
        .collect();
    Error::Conflict {
        code: "in_use",
        detail: format!("{what} is in use by {}", names.join(", ")),
        field,
    }
}

//! Reading an archive back into a new tenant under the caller's agency: every row in one
//! transaction, stored bytes put beside it, and nothing kept unless every entry matches the
//! manifest. Ids are kept, so an export and its import compare.

use std::io;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, BufReader};
use tokio_util::io::StreamReader;
use tracing::instrument;

use super::{FileEntry, Manifest, FORMAT, MANIFEST, MAX_PART_BYTES, OBJECTS, VERSION};
use crate::domain::access::{Caller, Scope};
use crate::domain::conflict::Conflict;
use crate::domain::ids::{AgencyId, PlanId, TenantId};
use crate::domain::policy::{self, Action};
use crate::domain::resource::ResourceKind;
use crate::domain::resources::stored::object_key;
use crate::domain::tenant::Tenant;
use crate::domain::values::EmailAddress;
use crate::service::{Context, Error, Result};
use crate::store::archive::{self, Person, Table};
use crate::store::{Arg, Tx};
use crate::tarball::{Capped, TarReader};

/// The largest archive an import reads, compressed: 16 GiB.
pub const DEFAULT_IMPORT_MAX_BYTES: u64 = 16 << 30;

/// A bad archive: a 422 naming the entry at fault.
fn bad(path: &str, message: impl Into<String>) -> Error {
    Error::field(path, "invalid_archive", message)
}

/// Recreates the archived tenant under the caller's agency (a platform caller names `agency`,
/// or none for a direct tenant).
#[instrument(skip_all)]
pub async fn import<B, E>(
    ctx: &Context,
    caller: &Caller,
    agency: Option<AgencyId>,
    body: B,
) -> Result<Tenant>
where
    B: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    policy::require(caller, Action::ImportTenant).map_err(Error::refused("tenant"))?;
    let agency = owner_agency(ctx, caller, agency).await?;
    let body = StreamReader::new(body.map(|chunk| chunk.map_err(io::Error::other)));
    let mut tar = TarReader::new(BufReader::new(Capped::new(body, DEFAULT_IMPORT_MAX_BYTES)));
    let mut import = Import {
        ctx,
        agency,
        at: crate::store::now(),
        tenant: None,
        plan: None,
        seen: Vec::new(),
        objects: Vec::new(),
    };
    let tx = ctx.db.begin().await?;
    match import.run(tx, &mut tar).await {
        Ok(id) => crate::store::tenants::find(&ctx.db, caller.tenant_scope(), id)
            .await
            .map_err(Error::from),
        Err(error) => {
            for key in &import.objects {
                if let Err(error) = ctx.blobs.delete(key).await {
                    tracing::warn!(key, %error, "bytes of a refused import could not be removed");
                }
            }
            Err(error)
        }
    }
}

/// The agency the tenant will belong to.
async fn owner_agency(
    ctx: &Context,
    caller: &Caller,
    named: Option<AgencyId>,
) -> Result<Option<AgencyId>> {
    match caller.scope {
        Scope::Agency(own) if named.is_none_or(|named| named == own) => Ok(Some(own)),
        Scope::Platform => {
            match named {
                Some(id) if !crate::store::agencies::exists(&ctx.db, id).await? => Err(
                    Error::field("agencyId", "unknown_agency", "no agency has this id"),
                ),
                named => Ok(named),
            }
        }
        Scope::Agency(_) => Err(Error::NotFound("agency")),
        Scope::Tenant(_) => Err(Error::Forbidden("a tenant cannot import tenants")),
    }
}

struct Import<'c> {
    ctx: &'c Context,
    agency: Option<AgencyId>,
    at: chrono::DateTime<chrono::Utc>,
    /// Known once the tenant's own row, the first entry, is read.
    tenant: Option<TenantId>,
    /// The tenant's plan in this server's catalog, known with the tenant.
    plan: Option<PlanId>,
    /// Every entry read, as the manifest should describe it.
    seen: Vec<FileEntry>,
    /// Keys of the bytes stored so far, removed if the import fails.
    objects: Vec<String>,
}

impl Import<'_> {
    async fn run<R: AsyncBufRead + Unpin>(
        &mut self,
        mut tx: Tx,
        tar: &mut TarReader<R>,
    ) -> Result<TenantId> {
        loop {
            let head = tar.next().await.map_err(read_error("archive"))?;
            let Some(head) = head else {
                return Err(bad(MANIFEST, "the archive has no manifest"));
            };
            if head.path == MANIFEST {
                let bytes = tar
                    .read_all(MAX_PART_BYTES)
                    .await
                    .map_err(read_error(MANIFEST))?;
                let tenant = self.check_manifest(&bytes)?;
                archive::settle_counters(&mut tx, tenant, self.agency).await?;
                let endpoint = crate::service::webhooks::tenant_endpoint_seed(self.ctx);
                crate::store::tenants::record_imported(&mut tx, tenant, &endpoint).await?;
                tx.commit().await?;
                return Ok(tenant);
            }
            if let Some(object) = head.path.strip_prefix(OBJECTS) {
                self.store_object(&head.path, object, tar).await?;
                continue;
            }
            let bytes = tar
                .read_all(MAX_PART_BYTES)
                .await
                .map_err(read_error(&head.path))?;
            self.read_part(&mut tx, &head.path, &bytes).await?;
        }
    }

    /// Reads one NDJSON part into the transaction.
    async fn read_part(&mut self, tx: &mut Tx, path: &str, bytes: &[u8]) -> Result<()> {
        let kind = path.split_once('/').map_or("", |(kind, _)| kind);
        let table = archive::table(kind).ok_or_else(|| bad(path, "is not a kind of row"))?;
        let mut rows = Vec::new();
        for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let row: Map<String, Value> = serde_json::from_slice(line)
                .map_err(|error| bad(path, format!("line {}: {error}", n + 1)))?;
            rows.push(row);
        }
        let count = rows.len() as u64;
        if table.kind == "tenant" {
            self.insert_tenant(tx, path, table, rows).await?;
        } else {
            let tenant = self
                .tenant
                .ok_or_else(|| bad(path, "comes before the tenant's own row"))?;
            self.insert_rows(tx, path, table, tenant, rows)
                .await
                .map_err(|error| refused_rows(path, error))?;
        }
        let mut entry = FileEntry::part(kind, 0, count, bytes);
        entry.path = path.to_owned();
        self.seen.push(entry);
        Ok(())
    }

    /// The tenant's own row: its id and slug must be free, its plan in this server's catalog.
    async fn insert_tenant(
        &mut self,
        tx: &mut Tx,
        path: &str,
        table: &Table,
        rows: Vec<Map<String, Value>>,
    ) -> Result<()> {
        let [row] = <[_; 1]>::try_from(rows).map_err(|_| bad(path, "must hold one row"))?;
        if self.tenant.is_some() {
            return Err(bad(path, "the archive holds two tenants"));
        }
        let mut args = table
            .args(&row)
            .map_err(|field| bad(path, format!("bad {field}")))?;
        let text = |name: &str| row.get(name).and_then(Value::as_str).unwrap_or_default();
        let id: TenantId = text("id").parse().map_err(|_| bad(path, "bad id"))?;
        if let Some(field) = archive::taken(tx, id, text("slug")).await? {
            let value = if field == "id" {
                id.to_string()
            } else {
                text("slug").to_owned()
            };
            return Err(Error::Conflict {
                code: "already_exists",
                detail: format!("a tenant with the {field} {value} exists on this server"),
                field: Some(field),
            });
        }
        let plan = archive::plan_id(tx, text("plan")).await?.ok_or_else(|| {
            bad(
                path,
                format!("plan {:?} is not in this catalog", text("plan")),
            )
        })?;
        let plan_at = table.position("plan").expect("the tenant's plan");
        args.remove(plan_at);
        args.extend([plan.into(), self.agency.into()]);
        let mut names: Vec<&str> = table.names().filter(|name| *name != "plan").collect();
        names.extend(["plan_id", "agency_id"]);
        archive::insert(tx, table.table, &names, vec![args]).await?;
        self.tenant = Some(id);
        self.plan = Some(plan);
        Ok(())
    }

    /// Rows of any other kind, under the tenant and its new agency.
    async fn insert_rows(
        &self,
        tx: &mut Tx,
        path: &str,
        table: &Table,
        tenant: TenantId,
        rows: Vec<Map<String, Value>>,
    ) -> Result<()> {
        let mut names: Vec<&str> = table.names().collect();
        let extra = self.extra_columns(table.kind);
        names.extend(extra.iter().map(|(name, _)| *name));
        if table.kind == "usage_monthly" && self.agency.is_none() {
            // A direct tenant keeps no agency series.
            return Ok(());
        }
        let mut batch = Vec::with_capacity(rows.len());
        for (n, mut row) in rows.into_iter().enumerate() {
            let line = n + 1;
            self.adjust(table.kind, &mut row);
            if table.kind == "members" {
                self.insert_member(tx, path, table, tenant, &row).await?;
                continue;
            }
            let mut args = table
                .args(&row)
                .map_err(|field| bad(path, format!("line {line}: bad {field}")))?;
            args.extend(extra.iter().map(|(_, value)| value.clone()));
            args.push(tenant.into());
            if let Some(secret) = self.unusable_secret(table.kind) {
                args.push(secret);
            }
            batch.push(args);
        }
        names.push("tenant_id");
        if let Some(column) = secret_column(table.kind) {
            names.push(column);
        }
        if !batch.is_empty() {
            archive::insert(tx, table.table, &names, batch).await?;
        }
        Ok(())
    }

    /// Columns a kind gets from the import rather than from the archive.
    fn extra_columns(&self, kind: &str) -> Vec<(&'static str, Arg<'static>)> {
        match kind {
            "counters" | "usage_monthly" => vec![("agency_id", self.agency.into())],
            "invitations" => vec![("reach", self.tenant.into())],
            "api_keys" => vec![("reach_agency_id", self.agency.into())],
            "audit_log" => vec![("chain_id", self.tenant.into())],
            "subscription" => vec![("plan_id", self.plan.into())],
            _ => vec![],
        }
    }

    /// What an import changes in a row: keys come revoked (their secrets stay behind), and a
    /// direct tenant's counters hold no agency series.
    fn adjust(&self, kind: &str, row: &mut Map<String, Value>) {
        let at = Value::String(self.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        match kind {
            "api_keys" if row.get("revoked_at").is_none_or(Value::is_null) => {
                row.insert("revoked_at".into(), at);
            }
            "counters" if self.agency.is_none() => {
                for field in ["first_usage_month", "last_usage_month"] {
                    row.insert(field.into(), Value::Null);
                }
                for field in ["conversations_total", "cost_cents_total"] {
                    row.insert(field.into(), Value::from(0));
                }
            }
            _ => {}
        }
    }

    /// A fresh random hash where the archive leaves a secret out: no one holds its secret.
    fn unusable_secret(&self, kind: &str) -> Option<Arg<'static>> {
        secret_column(kind).map(|_| {
            let random: [u8; 32] = rand::random();
            Arg::from(format!("imported:{}", hex::encode(random)))
        })
    }

    /// One membership, with its person found by address or made.
    async fn insert_member(
        &self,
        tx: &mut Tx,
        path: &str,
        table: &Table,
        tenant: TenantId,
        row: &Map<String, Value>,
    ) -> Result<()> {
        let args = table
            .args(row)
            .map_err(|field| bad(path, format!("bad {field}")))?;
        let text = |name: &str| row.get(name).and_then(Value::as_str);
        let email = EmailAddress::parse(text("email").unwrap_or_default())
            .map_err(|_| bad(path, "bad email"))?;
        let user_created = row.get("user_created_at").and_then(Value::as_str);
        let person = Person {
            id: text("user_id")
                .unwrap_or_default()
                .parse()
                .map_err(|_| bad(path, "bad user_id"))?,
            email: email.as_str(),
            email_key: email.normalized(),
            name: text("name").unwrap_or_default(),
            first_name: text("first_name"),
            last_name: text("last_name"),
            created_at: user_created
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .map_or(self.at, |at| at.with_timezone(&chrono::Utc)),
        };
        let user = archive::user_for(tx, &person).await?;
        let pick = |name: &str| args[table.position(name).expect("a member column")].clone();
        let names = [
            "id",
            "user_id",
            "role",
            "status",
            "created_at",
            "updated_at",
            "reach",
            "tenant_id",
        ];
        let values = vec![
            pick("id"),
            user.into(),
            pick("role"),
            pick("status"),
            pick("created_at"),
            pick("updated_at"),
            tenant.into(),
            tenant.into(),
        ];
        archive::insert(tx, "memberships", &names, vec![values]).await?;
        Ok(())
    }

    /// Streams one entry of stored bytes to the object store, under the tenant.
    async fn store_object<R: AsyncBufRead + Unpin>(
        &mut self,
        path: &str,
        object: &str,
        tar: &mut TarReader<R>,
    ) -> Result<()> {
        let tenant = self
            .tenant
            .ok_or_else(|| bad(path, "comes before the tenant's own row"))?;
        let (folder, id) = object.split_once('/').unwrap_or_default();
        let kind = ResourceKind::all()
            .find(|kind| kind.info().path == folder && kind.info().bytes_limit.is_some())
            .ok_or_else(|| bad(path, "is not a kind of stored bytes"))?;
        let id = id
            .strip_prefix(kind.info().id_prefix)
            .and_then(|rest| rest.strip_prefix('_'))
            .and_then(crate::domain::ids::decode_suffix)
            .ok_or_else(|| bad(path, "does not name a resource"))?;
        let display = kind.display_id(id);
        let key = object_key(tenant, kind, &display);
        let chunks = futures_util::stream::unfold(tar, |tar| async move {
            let mut buf = vec![0; 64 << 10];
            match tar.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), tar))
                }
                Err(error) => Some((Err(error), tar)),
            }
        });
        self.objects.push(key.clone());
        let stored = self
            .ctx
            .blobs
            .put_stream(&key, Box::pin(chunks), u64::MAX)
            .await
            .map_err(|error| match error {
                crate::blobs::PutError::Body(error) => read_error(path)(error),
                other => Error::Internal(anyhow::anyhow!("storing {path}: {other}")),
            })?;
        self.seen.push(FileEntry {
            path: path.to_owned(),
            kind: folder.to_owned(),
            rows: None,
            bytes: stored.size,
            sha256: stored.sha256,
        });
        Ok(())
    }

    /// Checks every entry read against the manifest; the tenant it names.
    fn check_manifest(&self, bytes: &[u8]) -> Result<TenantId> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|error| bad(MANIFEST, format!("is not a manifest: {error}")))?;
        if manifest.format != FORMAT || manifest.version != VERSION {
            return Err(bad(
                MANIFEST,
                format!("this server reads {FORMAT} version {VERSION}"),
            ));
        }
        if self.tenant != Some(manifest.tenant_id) {
            return Err(bad(MANIFEST, "names another tenant than the archive holds"));
        }
        for listed in &manifest.files {
            match self.seen.iter().find(|seen| seen.path == listed.path) {
                None => {
                    return Err(bad(
                        &listed.path,
                        "is in the manifest but not in the archive",
                    ))
                }
                Some(seen) if seen != listed => {
                    return Err(bad(
                        &listed.path,
                        "does not match its count or checksum in the manifest",
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = self
            .seen
            .iter()
            .find(|seen| !manifest.files.iter().any(|l| l.path == seen.path))
        {
            return Err(bad(&extra.path, "is not in the manifest"));
        }
        Ok(manifest.tenant_id)
    }
}

/// The column of a kind whose secret the archive leaves out.
fn secret_column(kind: &str) -> Option<&'static str> {
    match kind {
        "api_keys" => Some("secret_hash"),
        "invitations" => Some("token_hash"),
        _ => None,
    }
}

/// Rows the database refused: one naming what is not in the archive is a bad archive, one
/// whose unique value this server holds already a conflict.
fn refused_rows(path: &str, error: Error) -> Error {
    match error {
        Error::Conflict { code, .. } if code == Conflict::ReferenceGone.code() => {
            bad(path, "refers to a row the archive does not hold")
        }
        Error::Conflict { .. } => Error::Conflict {
            code: "already_exists",
            detail: format!("a row of {path} exists on this server already"),
            field: None,
        },
        other => other,
    }
}

/// A failure to read the archive: over the size limit, or not a tar.gz.
fn read_error(path: &str) -> impl Fn(io::Error) -> Error + '_ {
    move |error| match error.kind() {
        io::ErrorKind::FileTooLarge => Error::field(
            "body",
            "archive_too_large",
            format!("an archive may hold at most {DEFAULT_IMPORT_MAX_BYTES} bytes"),
        ),
        _ => bad(path, format!("cannot be read: {error}")),
    }
}

//! Writing a tenant's archive as a stream: rows are read a page at a time from the read pool
//! and written in parts of bounded size, stored bytes are copied chunk by chunk, so memory stays
//! flat whatever the tenant holds.

use std::io;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::DuplexStream;
use tokio_util::io::ReaderStream;
use tracing::instrument;

use super::{FileEntry, Manifest, FORMAT, MANIFEST, OBJECTS, PART_BYTES, VERSION};
use crate::domain::ids::TenantId;
use crate::domain::policy::{act, Authorized};
use crate::domain::resources::stored::object_key;
use crate::service::tenants::TenantRef;
use crate::service::Context;
use crate::store::archive::{self, Table};
use crate::tarball::TarWriter;

/// Rows read per page.
const PAGE: i64 = 1000;
/// Bytes buffered between the archive's writer and the response.
const PIPE_BYTES: usize = 64 << 10;

/// The tenant's archive, as the bytes of a tar.gz. A failure half-way ends the stream with an
/// error, so a client never mistakes a cut archive for a whole one.
#[instrument(skip_all, fields(tenant_id = %tenant.get().id))]
pub fn export(
    ctx: &Context,
    tenant: Authorized<TenantRef, act::ExportTenant>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let (done, outcome) = tokio::sync::oneshot::channel();
    let ctx = ctx.clone();
    let tenant_id = tenant.get().id;
    tokio::spawn(async move {
        let written = write_archive(&ctx, tenant_id, writer).await;
        if let Err(error) = &written {
            tracing::warn!(%tenant_id, error = ?error, "export failed");
        }
        let _ = done.send(written.is_ok());
    });
    let end = futures_util::stream::once(async move {
        match outcome.await {
            Ok(true) => None,
            _ => Some(Err(io::Error::other("the export failed"))),
        }
    })
    .filter_map(std::future::ready);
    ReaderStream::new(reader).chain(end)
}

async fn write_archive(
    ctx: &Context,
    tenant_id: TenantId,
    out: DuplexStream,
) -> anyhow::Result<()> {
    let exported_at = crate::store::now();
    let mut tar = TarWriter::new(out, exported_at.timestamp().max(0) as u64);
    let mut files = Vec::new();
    for table in archive::TABLES.iter() {
        write_table(ctx, tenant_id, table, &mut tar, &mut files).await?;
    }
    write_objects(ctx, tenant_id, &mut tar, &mut files).await?;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        version: VERSION,
        tenant_id,
        exported_at,
        files,
    };
    tar.entry(MANIFEST, &serde_json::to_vec_pretty(&manifest)?)
        .await?;
    tar.finish().await?;
    Ok(())
}

/// Writes the tenant's rows of one kind as parts of about [`PART_BYTES`].
async fn write_table(
    ctx: &Context,
    tenant_id: TenantId,
    table: &Table,
    tar: &mut TarWriter<DuplexStream>,
    files: &mut Vec<FileEntry>,
) -> anyhow::Result<()> {
    let mut part = Vec::with_capacity(PART_BYTES + (PART_BYTES >> 2));
    let mut rows = 0;
    let mut after: Option<Vec<Value>> = None;
    loop {
        let page = archive::page(&ctx.db, table, tenant_id, after.as_deref(), PAGE).await?;
        for row in &page {
            let object: Map<String, Value> = table
                .names()
                .map(str::to_owned)
                .zip(row.iter().cloned())
                .collect();
            serde_json::to_writer(&mut part, &object)?;
            part.push(b'\n');
            rows += 1;
            if part.len() >= PART_BYTES {
                write_part(table.kind, &mut part, &mut rows, tar, files).await?;
            }
        }
        // A kind without a key has one row, read whole.
        if (page.len() as i64) < PAGE {
            break;
        }
        after = page.into_iter().last();
    }
    if rows > 0 {
        write_part(table.kind, &mut part, &mut rows, tar, files).await?;
    }
    Ok(())
}

async fn write_part(
    kind: &str,
    part: &mut Vec<u8>,
    rows: &mut u64,
    tar: &mut TarWriter<DuplexStream>,
    files: &mut Vec<FileEntry>,
) -> io::Result<()> {
    let number = files.iter().filter(|file| file.kind == kind).count() + 1;
    let entry = FileEntry::part(kind, number, *rows, part);
    tar.entry(&entry.path, part).await?;
    files.push(entry);
    part.clear();
    *rows = 0;
    Ok(())
}

/// Writes the bytes of every file and recording, each as an entry of its own.
async fn write_objects(
    ctx: &Context,
    tenant_id: TenantId,
    tar: &mut TarWriter<DuplexStream>,
    files: &mut Vec<FileEntry>,
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let page = archive::stored_objects(&ctx.db, tenant_id, after, PAGE).await?;
        for (id, kind) in &page {
            let display = kind.display_id(*id);
            let read = ctx
                .blobs
                .get(&object_key(tenant_id, *kind, &display), None)
                .await?;
            let path = format!("{OBJECTS}{}/{display}", kind.info().path);
            tar.begin(&path, read.size).await?;
            let mut hasher = Sha256::new();
            let mut copied = 0;
            let mut body = read.body;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                copied += chunk.len() as u64;
                anyhow::ensure!(copied <= read.size, "{path} grew while it was read");
                tar.write(&chunk).await?;
            }
            anyhow::ensure!(copied == read.size, "{path} shrank while it was read");
            tar.end(read.size).await?;
            files.push(FileEntry {
                path,
                kind: kind.info().path.to_owned(),
                rows: None,
                bytes: read.size,
                sha256: hex::encode(hasher.finalize()),
            });
        }
        match page.last() {
            Some((last, _)) if page.len() as i64 == PAGE => after = Some(*last),
            _ => return Ok(()),
        }
    }
}

//! `tenantry-bench export-memory`: one tenant's `GET …/export` at several sizes, each on a fresh
//! release server and database, streamed to a sink while the server's peak resident memory
//! (`VmHWM`) is read before and after. The baseline is the same run's smallest size: flat memory
//! means the same growth at every size.
//!
//! Call `n` (0-based) of the tenant is ended: it started `(n·7919 mod 90 days)` seconds before
//! the seed time on channel `n mod 3`, was inbound when `n` is even, lasted `30 + n mod 600` s,
//! cost `1 + n mod 97` cents and had a sentiment of `(n mod 2001 − 1000)/1000` (none when
//! `n mod 10 = 0`), like the seeded usage events.

use std::fmt::Write;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use hyper::StatusCode;
use tenantry::domain::ids::TenantId;
use tenantry::service::archive::{Manifest, MANIFEST};
use tenantry::tarball::TarReader;
use tokio::io::{AsyncWriteExt, DuplexStream};

use crate::load::Client;
use crate::report::thousands;
use crate::scale::Backend;
use crate::seed::{self, SeedConnection, SPREAD_SECONDS};
use crate::servers::Database;
use crate::{resolve_binary, Setup, MASTER_KEY};

#[derive(Debug, Clone, clap::Args)]
pub struct ExportMemoryArgs {
    #[command(flatten)]
    setup: Setup,
    /// Calls of the exported tenant (separate sizes with commas); each size gets a fresh server
    /// and database, and the smallest is the baseline.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    calls: Vec<i64>,
}

/// Calls inserted per statement.
const CHUNK: i64 = 500_000;
/// Archive bytes in flight between receiving and reading it.
const PIPE_BYTES: usize = 256 << 10;

/// Runs the export at every size on the chosen databases and prints one table.
pub async fn run(mut args: ExportMemoryArgs) -> anyhow::Result<()> {
    args.calls.sort_unstable();
    args.calls.dedup();
    ensure!(
        args.calls.first().is_some_and(|calls| *calls > 0),
        "--calls must name positive sizes"
    );
    let binary = resolve_binary(&args.setup.tenantry_bin)?;
    let started = Instant::now();
    let mut exports = Vec::new();
    for kind in args.setup.db.kinds() {
        for &calls in &args.calls {
            let database = Database::fresh(kind, &args.setup.postgres_url).await?;
            let outcome = export_once(&binary, &database, calls).await;
            if let Err(error) = database.drop_schema().await {
                eprintln!("could not drop the benchmark schema: {error:#}");
            }
            exports.push(outcome.with_context(|| format!("export of {calls} calls on {kind}"))?);
        }
    }
    let report = report(&exports, started.elapsed().as_secs_f64());
    println!("\n{report}");
    if let Some(path) = &args.setup.output {
        std::fs::write(path, &report)?;
    }
    Ok(())
}

/// A process's memory, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Memory {
    /// `VmHWM`: the peak resident set so far.
    peak_kib: u64,
    /// `VmRSS`: the resident set now.
    resident_kib: u64,
}

fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(':')?.trim();
            value.strip_suffix("kB")?.trim().parse().ok()
        })
    };
    Some(Memory {
        peak_kib: field("VmHWM")?,
        resident_kib: field("VmRSS")?,
    })
}

fn memory_of(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_status(&status).context("no VmHWM or VmRSS in /proc/<pid>/status")
}

/// One export, as measured.
#[derive(Debug, Clone)]
struct Export {
    kind: &'static str,
    calls: i64,
    archive_bytes: u64,
    call_parts: usize,
    seconds: f64,
    before: Memory,
    after: Memory,
}

impl Export {
    fn growth_kib(&self) -> u64 {
        self.after.peak_kib.saturating_sub(self.before.peak_kib)
    }
}

async fn export_once(
    binary: &std::path::Path,
    database: &Database,
    calls: i64,
) -> anyhow::Result<Export> {
    let kind = database.kind();
    let url = database.url();
    let mut server = database.serve(binary, MASTER_KEY)?;
    println!(
        "[{kind}] {calls} calls: tenantry on {} (pid {}); logs in {}",
        server.addr,
        server.pid(),
        database.log_dir().display()
    );
    let mut admin = Client::new(server.addr, Some(Arc::from(MASTER_KEY)));
    let (_, mut agency) = seed::create_agency(&mut admin, "Export agency").await?;
    let tenant = seed::create_tenants(&mut agency, &mut admin, "export", 1)
        .await?
        .remove(0);

    let seeding = Instant::now();
    let mut conn = SeedConnection::open(&url).await?;
    let backend = Backend::of(&conn);
    let tenant_id = TenantId::from_str(&tenant)?;
    let base = seed::seed_base();
    let mut from = 0;
    while from < calls {
        let to = (from + CHUNK).min(calls) - 1;
        conn.run(&[calls_sql(backend, tenant_id, base, from, to)])
            .await?;
        from = to + 1;
        println!(
            "[{kind}] {from} calls seeded after {:.0} s",
            seeding.elapsed().as_secs_f64()
        );
    }
    conn.analyze(&["calls"]).await?;
    drop(conn);

    server.check_alive()?;
    let before = memory_of(server.pid())?;
    let began = Instant::now();
    let (archive_bytes, manifest) = stream_export(&mut admin, &tenant).await?;
    let seconds = began.elapsed().as_secs_f64();
    server.check_alive()?;
    let after = memory_of(server.pid())?;

    // A fast wrong answer must not pass: the manifest counts every call.
    ensure!(
        manifest.tenant_id == tenant_id,
        "the archive is of another tenant"
    );
    let parts: Vec<_> = manifest
        .files
        .iter()
        .filter(|file| file.kind == "calls")
        .collect();
    let rows: u64 = parts.iter().filter_map(|file| file.rows).sum();
    ensure!(
        rows == calls as u64,
        "the archive holds {rows} calls, not {calls}"
    );
    let export = Export {
        kind,
        calls,
        archive_bytes,
        call_parts: parts.len(),
        seconds,
        before,
        after,
    };
    println!(
        "[{kind}] {calls} calls: {} bytes in {seconds:.1} s; peak RSS {} → {} KiB (RSS {} KiB idle)",
        archive_bytes, before.peak_kib, after.peak_kib, before.resident_kib
    );
    Ok(export)
}

/// Ended calls `from..=to` of `tenant`, by the module's formula.
fn calls_sql(
    backend: Backend,
    tenant: TenantId,
    base: DateTime<Utc>,
    from: i64,
    to: i64,
) -> String {
    let back = format!("((n * 7919) % {SPREAD_SECONDS})");
    let (started, ended, month, metadata) = match backend {
        Backend::Sqlite => (
            format!(
                "strftime('%Y-%m-%dT%H:%M:%S+00:00', '{}', '-' || {back} || ' seconds')",
                base.format("%Y-%m-%d %H:%M:%S")
            ),
            "strftime('%Y-%m-%dT%H:%M:%S+00:00', c.started, '+' || c.seconds || ' seconds')",
            "date(c.started, 'start of month')",
            "'{\"source\":\"bench\"}'",
        ),
        Backend::Postgres => (
            format!(
                "TIMESTAMPTZ '{}' - {back} * interval '1 second'",
                base.to_rfc3339()
            ),
            "c.started + c.seconds * interval '1 second'",
            "date_trunc('month', c.started AT TIME ZONE 'UTC')::date",
            "'{\"source\":\"bench\"}'::jsonb",
        ),
    };
    format!(
        "{} {} INSERT INTO calls (tenant_id, id, agent_id, channel, direction, external_id, \
         metadata, status, period_start, started_at, lease_expires_at, ended_at, \
         duration_seconds, cost_cents, sentiment_micros, ended_reason, recording_url, \
         end_fingerprint) \
         SELECT {}, {}, NULL, \
         CASE c.n % 3 WHEN 0 THEN 'phone' WHEN 1 THEN 'webrtc' ELSE 'webchat' END, \
         CASE c.n % 2 WHEN 0 THEN 'inbound' ELSE 'outbound' END, 'bench-' || c.n, {metadata}, \
         'completed', {month}, c.started, {ended}, {ended}, c.seconds, 1 + c.n % 97, \
         CASE WHEN c.n % 10 = 0 THEN NULL ELSE (c.n % 2001 - 1000) * 1000 END, 'hangup', \
         NULL, NULL \
         FROM (SELECT n, {started} AS started, 30 + n % 600 AS seconds FROM s) c",
        backend.with(),
        backend.series("s", "n", from, to),
        backend.uuid(tenant.0),
        backend.tagged_id("ca115eed", "c.n"),
    )
}

/// Streams the tenant's export: counts its bytes and reads them as a tar.gz as they arrive (one
/// block at a time), keeping only the manifest.
async fn stream_export(client: &mut Client, tenant: &str) -> anyhow::Result<(u64, Manifest)> {
    let response = client
        .get_streaming(&format!("/api/v1/tenants/{tenant}/export"))
        .await?;
    ensure!(
        response.status() == StatusCode::OK,
        "the export answered {}",
        response.status()
    );
    let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let receive = async move {
        let mut body = response.into_body();
        let mut bytes = 0u64;
        let mut reading = true;
        while let Some(frame) = body.frame().await {
            let frame = frame.context("the export's stream broke off")?;
            if let Ok(data) = frame.into_data() {
                bytes += data.len() as u64;
                // Once the reader has seen the archive's end, the rest is only counted.
                reading = reading && writer.write_all(&data).await.is_ok();
            }
        }
        drop(writer);
        anyhow::Ok(bytes)
    };
    let (bytes, manifest) = tokio::try_join!(receive, read_manifest(reader))?;
    Ok((bytes, manifest))
}

async fn read_manifest(reader: DuplexStream) -> anyhow::Result<Manifest> {
    let mut tar = TarReader::new(tokio::io::BufReader::new(reader));
    let mut manifest = None;
    while let Some(entry) = tar.next().await? {
        if entry.path == MANIFEST {
            manifest = Some(serde_json::from_slice(&tar.read_all(16 << 20).await?)?);
        }
    }
    manifest.context("the archive has no manifest")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `value / baseline`, or a dash when the baseline is zero.
fn ratio(value: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("{:.2}", value / baseline)
    } else {
        "–".to_owned()
    }
}

fn report(exports: &[Export], seconds: f64) -> String {
    let mut out = String::from(
        "# tenantry-bench export-memory\n\nOne tenant's `GET /api/v1/tenants/{id}/export` on a \
         fresh release `tenantry serve` and database per size, streamed to a sink. Peak RSS is \
         the server's `VmHWM`, RSS its `VmRSS` (`/proc/<pid>/status`), read just before the \
         export and after its last byte; growth is the peak's rise. Baselines from the same \
         run: the growth at the smallest size on the same database, and the server's RSS \
         before the export.\n\n",
    );
    out.push_str(
        "| database | calls | archive bytes | call parts | time | RSS before | peak before | \
         peak after | growth | growth ÷ smallest's | peak after ÷ RSS before |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for export in exports {
        let smallest = exports
            .iter()
            .filter(|other| other.kind == export.kind)
            .min_by_key(|other| other.calls)
            .unwrap_or(export);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} s | {} | {} | {} | {} | {} | {} |",
            export.kind,
            thousands(export.calls as f64),
            thousands(export.archive_bytes as f64),
            export.call_parts,
            export.seconds,
            mib(export.before.resident_kib),
            mib(export.before.peak_kib),
            mib(export.after.peak_kib),
            mib(export.growth_kib()),
            ratio(export.growth_kib() as f64, smallest.growth_kib() as f64),
            ratio(
                export.after.peak_kib as f64,
                export.before.resident_kib as f64
            ),
        );
    }
    let _ = writeln!(out, "\nTotal time: {seconds:.0} s.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\ttenantry\nVmPeak:\t  912340 kB\nVmSize:\t  845000 kB\n\
                          VmHWM:\t   63796 kB\nVmRSS:\t   41234 kB\nRssAnon:\t   30000 kB\n";

    #[test]
    fn status_gives_peak_and_resident_memory() {
        assert_eq!(
            parse_status(STATUS),
            Some(Memory {
                peak_kib: 63796,
                resident_kib: 41234
            })
        );
        // VmPeak and RssAnon share a prefix with the fields read, and must not be taken.
        assert_eq!(parse_status("VmPeak:\t 1 kB\nRssAnon:\t 2 kB\n"), None);
        assert_eq!(parse_status("VmHWM:\t 12 kB\n"), None);
    }

    fn export(kind: &'static str, calls: i64, before: u64, after: u64) -> Export {
        Export {
            kind,
            calls,
            archive_bytes: 2_000_000,
            call_parts: 1,
            seconds: 1.0,
            before: Memory {
                peak_kib: before,
                resident_kib: 20 * 1024,
            },
            after: Memory {
                peak_kib: after,
                resident_kib: 30 * 1024,
            },
        }
    }

    #[test]
    fn growth_is_compared_with_the_smallest_size_of_the_same_database() {
        let report = report(
            &[
                export("sqlite", 100_000, 30 * 1024, 40 * 1024),
                export("sqlite", 1_000_000, 30 * 1024, 45 * 1024),
                export("postgres", 100_000, 30 * 1024, 30 * 1024),
                export("postgres", 1_000_000, 30 * 1024, 35 * 1024),
            ],
            1.0,
        );
        let rows: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("| sqlite"))
            .collect();
        assert!(
            rows[0].contains("| 10.0 MiB | 1.00 | 2.00 |"),
            "{}",
            rows[0]
        );
        assert!(rows[1].contains("| 1,000,000 |"), "{}", rows[1]);
        assert!(
            rows[1].contains("| 15.0 MiB | 1.50 | 2.25 |"),
            "{}",
            rows[1]
        );
        // No growth at the smallest size leaves nothing to divide by.
        let postgres: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("| postgres"))
            .collect();
        assert!(postgres[1].contains("| 5.0 MiB | – |"), "{}", postgres[1]);
    }
}

//! `tenantry-bench`: tenantry's hot paths against a bare axum + sqlx baseline on the same
//! database, driven by the same load generator. See `docs/BENCHMARKS.md`.

mod baseline;
mod export_memory;
mod load;
mod report;
mod scale;
mod scenarios;
mod seed;
mod servers;
mod webhooks;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use load::{drive, Client, Measurement, Operation};
use report::{Results, Target};
use scenarios::{AdmitAndEnd, Analytics, Dialect, GetTenant, Ingest, Rotation, Scenario};
use servers::{Database, Server};
use tenantry::domain::ids::{AgencyId, TenantId};

#[derive(Debug, Parser)]
#[command(
    name = "tenantry-bench",
    about = "Benchmarks tenantry against a bare axum + sqlx baseline on SQLite and PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Agency reports and tenant lists at a million tenants (see `docs/BENCHMARKS.md`).
    Scale(scale::ScaleArgs),
    /// The server's peak memory while it streams a tenant's export, at several sizes.
    ExportMemory(export_memory::ExportMemoryArgs),
    /// Serve the baseline (started by the benchmark itself).
    #[command(hide = true)]
    Baseline {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        #[arg(long, value_enum, default_value = "anonymous")]
        sqlite_placeholders: baseline::Placeholders,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DbChoice {
    Sqlite,
    Postgres,
    Both,
}

impl DbChoice {
    fn kinds(self) -> &'static [&'static str] {
        match self {
            DbChoice::Sqlite => &["sqlite"],
            DbChoice::Postgres => &["postgres"],
            DbChoice::Both => &["sqlite", "postgres"],
        }
    }
}

/// The tenantry binary: the one named, or `tenantry` beside this program.
fn resolve_binary(named: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let binary = match named {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("program directory")?
            .join("tenantry"),
    };
    anyhow::ensure!(
        binary.exists(),
        "no tenantry binary at {}: build it with `cargo build --release --workspace`",
        binary.display()
    );
    Ok(binary)
}

#[derive(Debug, Clone, clap::Args)]
struct BenchArgs {
    #[command(flatten)]
    setup: Setup,
    /// Measurements of each scenario on each server; the report gives their median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Length of one measurement, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Unmeasured load before each measurement, in seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Scenarios to run (repeat or separate with commas); all by default.
    #[arg(long, value_enum, value_delimiter = ',')]
    scenario: Vec<Scenario>,
    /// Concurrent connections for the GET, admission and analytics scenarios.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Concurrent connections for ingestion (each carries a 1,000-event batch).
    #[arg(long, default_value_t = 4)]
    ingest_connections: usize,
    /// Tenants the GET, admission and ingestion load is spread over, all of one agency; each
    /// request takes the next one in turn.
    #[arg(long, default_value_t = 8)]
    tenants: usize,
    /// Events of the small analytics tenant, sent through tenantry's ingestion API.
    #[arg(long, default_value_t = 10_000)]
    small_events: i64,
    /// Events of the large analytics tenant, seeded in SQL.
    #[arg(long, default_value_t = 10_000_000)]
    big_events: i64,
    /// Bind parameters of the baseline's multi-row event insert on SQLite: `anonymous` (`?`,
    /// a raw batched insert) or `numbered` (`$1, $2, …`, tenantry's text). PostgreSQL always
    /// gets `$N`.
    #[arg(long, value_enum, default_value = "anonymous")]
    baseline_sqlite_placeholders: baseline::Placeholders,
    /// Pending deliveries one run of the webhook scenarios delivers.
    #[arg(long, default_value_t = 20_000)]
    webhooks: usize,
    /// Requests the raw client of the webhook baseline keeps in flight: the server's cap of
    /// attempts in flight to one endpoint (`WEBHOOKS_PER_ENDPOINT` in `src/workers.rs`).
    #[arg(long, default_value_t = 32)]
    webhook_concurrency: usize,
    /// What the endpoint of the hooked scenarios takes: `every` type, the opt-in `call.ended`
    /// too (one webhook per call, delivered on the same machine), or the `default` of an
    /// endpoint that names none (every type but the opt-in ones).
    #[arg(long, value_enum, default_value = "every")]
    hooked_events: HookedEvents,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum HookedEvents {
    Every,
    Default,
}

/// Where a benchmark runs and what it writes; shared by every kind of run.
#[derive(Debug, Clone, clap::Args)]
struct Setup {
    /// Which databases to run on.
    #[arg(long, value_enum, default_value = "both")]
    db: DbChoice,
    /// The PostgreSQL database; each run works in a fresh schema of it and drops it after.
    #[arg(
        long,
        env = "TENANTRY_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// The tenantry binary; by default `tenantry` beside this program (target/release).
    #[arg(long)]
    tenantry_bin: Option<PathBuf>,
    /// Also write the report (markdown) to this file.
    #[arg(long)]
    output: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Some(Command::Baseline {
            database_url,
            listen,
            sqlite_placeholders,
        }) => runtime.block_on(baseline::serve(&database_url, &listen, sqlite_placeholders)),
        Some(Command::Scale(args)) => runtime.block_on(scale::run(args)),
        Some(Command::ExportMemory(args)) => runtime.block_on(export_memory::run(args)),
        None => runtime.block_on(bench(cli.bench)),
    }
}

const MASTER_KEY: &str = "tenantry-bench-master-key-0123456789abcdef";

async fn bench(mut args: BenchArgs) -> anyhow::Result<()> {
    if args.scenario.is_empty() {
        args.scenario = Scenario::ALL.to_vec();
    }
    args.scenario
        .sort_by_key(|s| Scenario::ALL.iter().position(|a| a == s));
    args.scenario.dedup();
    anyhow::ensure!(
        args.runs > 0 && args.tenants > 0,
        "--runs and --tenants must be positive"
    );
    let binary = resolve_binary(&args.setup.tenantry_bin)?;
    let started = Instant::now();
    let mut report = report::header(&args_summary(&args, &binary));
    println!("{report}");
    for kind in args.setup.db.kinds() {
        let database = Database::fresh(kind, &args.setup.postgres_url).await?;
        let outcome = bench_database(&args, &binary, &database).await;
        if let Err(error) = database.drop_schema().await {
            eprintln!("could not drop the benchmark schema: {error:#}");
        }
        let results = outcome.with_context(|| format!("benchmark on {kind}"))?;
        let table = results.table(&args.scenario);
        println!("\n{table}");
        report.push_str(&table);
    }
    let footer = format!("\nTotal time: {:.0} s.\n", started.elapsed().as_secs_f64());
    println!("{footer}");
    report.push_str(&footer);
    if let Some(path) = &args.setup.output {
        std::fs::write(path, &report)?;
    }
    Ok(())
}

fn args_summary(args: &BenchArgs, binary: &std::path::Path) -> String {
    format!(
        "{} run(s) of {} s (after {} s warm-up) per scenario and server; {} connections \
         ({} for ingestion); load spread over {} tenants; analytics tenants of {} and {} events; \
         baseline SQLite placeholders {:?}; {} deliveries per webhook run, raw client \
         concurrency {}; tenantry binary {}",
        args.runs,
        args.seconds,
        args.warmup,
        args.connections,
        args.ingest_connections,
        args.tenants,
        args.small_events,
        args.big_events,
        args.baseline_sqlite_placeholders,
        args.webhooks,
        args.webhook_concurrency,
        binary.display()
    )
}

/// What a run needs to know about the data set up for it.
struct Fixture {
    url: String,
    hot: Vec<String>,
    small: String,
    big: String,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    /// A client with the hot tenants' agency's key.
    agency: Client,
    /// That agency's endpoint taking every event type; disabled but while a hooked scenario
    /// measures tenantry.
    hooked: Option<webhooks::Hook>,
    outbox: Option<Outbox>,
}

/// What the webhook scenarios deliver, and to whom: an agency of its own with one tenant.
struct Outbox {
    plan: webhooks::Plan,
    answering: webhooks::Hook,
    /// Takes no deliveries but in `webhooks-hung` runs, and never answers.
    hanging: webhooks::Hook,
}

async fn bench_database(
    args: &BenchArgs,
    binary: &std::path::Path,
    database: &Database,
) -> anyhow::Result<Results> {
    let kind = database.kind();
    let url = database.url();
    let logs = database.log_dir();
    println!("[{kind}] database {url}; server logs in {}", logs.display());
    // tenantry migrates the fresh database; the baseline only connects to it.
    let mut tenantry = database.serve(binary, MASTER_KEY)?;
    let mut baseline = servers::baseline(
        &url,
        args.baseline_sqlite_placeholders,
        &logs.join("baseline.log"),
    )?;
    println!(
        "[{kind}] tenantry on {}, baseline on {}",
        tenantry.addr, baseline.addr
    );
    let fixture = set_up(args, kind, &url, &tenantry).await?;
    let mut results = Results::new(kind);
    let total = args.runs;
    for run in 0..total {
        for &scenario in &args.scenario {
            // Alternate which server goes first, so that drift on a noisy machine is shared.
            let order = if run % 2 == 0 {
                [Target::Tenantry, Target::Baseline]
            } else {
                [Target::Baseline, Target::Tenantry]
            };
            for target in order {
                let server = match target {
                    Target::Tenantry => &mut tenantry,
                    Target::Baseline => &mut baseline,
                };
                server.check_alive()?;
                let measurement = measure(args, scenario, &fixture, server, target).await;
                println!(
                    "[{kind}] run {}/{total} {:<24} {:<8} {:>10.0} {:<8} p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}",
                    run + 1,
                    scenario.label(),
                    target.name(),
                    measurement.throughput(),
                    scenario.unit(),
                    measurement.latency_ms(0.5),
                    measurement.latency_ms(0.99),
                    measurement.errors,
                    measurement
                        .first_error
                        .as_deref()
                        .map(|e| format!(" (first: {e})"))
                        .unwrap_or_default(),
                );
                results.add(scenario, target, measurement);
            }
        }
    }
    Ok(results)
}

/// Tenants through tenantry's API; the 10k tenant's events through its ingestion API; the
/// 10M tenant's events and rollups in SQL.
async fn set_up(
    args: &BenchArgs,
    kind: &str,
    url: &str,
    tenantry: &Server,
) -> anyhow::Result<Fixture> {
    let began = Instant::now();
    let mut admin = Client::new(tenantry.addr, Some(Arc::from(MASTER_KEY)));
    // The hot tenants are one agency's, so their usage also feeds its monthly series.
    let (_, mut agency) = seed::create_agency(&mut admin, "Bench agency").await?;
    let hot = seed::create_tenants(&mut agency, &mut admin, "hot", args.tenants).await?;
    let mut platform = admin.with_key(MASTER_KEY);
    let small = seed::create_tenants(&mut platform, &mut admin, "small", 1)
        .await?
        .remove(0);
    let big = seed::create_tenants(&mut platform, &mut admin, "big", 1)
        .await?
        .remove(0);
    let base = seed::seed_base();
    seed::seed_via_api(&mut admin, &small, args.small_events, base).await?;
    let mut conn = seed::SeedConnection::open(url).await?;
    let rows = conn.check_rollups(&small).await?;
    println!(
        "[{kind}] {} tenants created; {} events ingested through the API; the seed's rollup SQL \
         reproduces ingestion's {rows} daily rollups",
        args.tenants + 2,
        args.small_events
    );
    let hooked = if args.scenario.iter().any(|s| s.unhooked().is_some()) {
        let receiver = webhooks::Receiver::start(false).await?;
        let events = match args.hooked_events {
            HookedEvents::Every => webhooks::every_event_type(),
            HookedEvents::Default => Vec::new(),
        };
        let hook = webhooks::register(&mut agency, receiver, &events).await?;
        webhooks::set_enabled(&mut agency, &hook, false).await?;
        Some(hook)
    } else {
        None
    };
    let outbox = if args
        .scenario
        .iter()
        .any(|s| matches!(s, Scenario::Webhooks | Scenario::WebhooksHung))
    {
        let (agency_id, mut owner) = seed::create_agency(&mut admin, "Bench webhooks").await?;
        let tenant = seed::create_tenants(&mut owner, &mut admin, "webhooks", 1)
            .await?
            .remove(0);
        // Registered after the tenant, so that only seeded deliveries go to them.
        let answering = webhooks::Receiver::start(false).await?;
        let answering = webhooks::register(&mut owner, answering, &["tenant.updated"]).await?;
        let hanging = webhooks::Receiver::start(true).await?;
        let hanging = webhooks::register(&mut owner, hanging, &["tenant.updated"]).await?;
        Some(Outbox {
            plan: webhooks::Plan {
                tenant: TenantId::from_str(&tenant)?.0,
                agency: AgencyId::from_str(&agency_id)?.0,
                count: args.webhooks,
            },
            answering,
            hanging,
        })
    } else {
        None
    };
    if args.scenario.contains(&Scenario::Analytics10m) {
        let seeding = Instant::now();
        conn.seed_events(&big, args.big_events, base, |done, elapsed| {
            println!(
                "[{kind}] seeding the large tenant: {done} events in {:.0} s",
                elapsed.as_secs_f64()
            );
        })
        .await?;
        println!(
            "[{kind}] seeded {} events with their rollups in {:.0} s",
            args.big_events,
            seeding.elapsed().as_secs_f64()
        );
    }
    drop(conn);
    let to = chrono::Utc::now().date_naive();
    let from = to - chrono::Days::new(29);
    println!(
        "[{kind}] set-up took {:.0} s",
        began.elapsed().as_secs_f64()
    );
    Ok(Fixture {
        url: url.to_owned(),
        hot,
        small,
        big,
        from,
        to,
        agency,
        hooked,
        outbox,
    })
}

async fn measure(
    args: &BenchArgs,
    scenario: Scenario,
    fixture: &Fixture,
    server: &Server,
    target: Target,
) -> Measurement {
    let hooked = match (&fixture.hooked, target) {
        (Some(hook), Target::Tenantry) if scenario.unhooked().is_some() => Some(hook),
        _ => None,
    };
    if let Some(hook) = hooked {
        let mut agency = fixture.agency.with_key(fixture.agency.key());
        if let Err(error) = webhooks::set_enabled(&mut agency, hook, true).await {
            return failed(error);
        }
        hook.receiver.reset();
    }
    let measurement = measure_scenario(args, scenario, fixture, server, target).await;
    if let Some(hook) = hooked {
        let seen = hook.receiver.seen();
        println!(
            "    the hooked endpoint received {} deliveries ({} distinct, {} badly signed) \
             while tenantry was measured",
            seen.requests, seen.distinct, seen.bad
        );
        let mut agency = fixture.agency.with_key(fixture.agency.key());
        if let Err(error) = webhooks::set_enabled(&mut agency, hook, false).await {
            return failed(error);
        }
    }
    measurement
}

/// A measurement that could not be made.
fn failed(error: anyhow::Error) -> Measurement {
    Measurement {
        errors: 1,
        first_error: Some(format!("{error:#}")),
        ..Measurement::default()
    }
}

async fn measure_scenario(
    args: &BenchArgs,
    scenario: Scenario,
    fixture: &Fixture,
    server: &Server,
    target: Target,
) -> Measurement {
    match scenario {
        Scenario::Get | Scenario::GetMrassistant | Scenario::GetTrieve => {
            // The baseline serves v1's path only: the dialects are compared with it, and
            // with tenantry's own v1 GET.
            let dialect = match (scenario, target) {
                (_, Target::Baseline) | (Scenario::Get, _) => Dialect::V1,
                (Scenario::GetMrassistant, _) => Dialect::MrAssistant,
                _ => Dialect::Trieve,
            };
            let op = GetTenant::new(&fixture.hot, dialect);
            run(args, server, op, args.connections).await
        }
        Scenario::Admission | Scenario::AdmissionHooked => {
            let op = AdmitAndEnd {
                tenants: Rotation::new(fixture.hot.clone()),
            };
            run(args, server, op, args.connections).await
        }
        Scenario::Ingest | Scenario::IngestHooked => {
            let op = Ingest::new(fixture.hot.clone(), 1000);
            run(args, server, op, args.ingest_connections).await
        }
        Scenario::Analytics10k => {
            let op = Analytics::new(&fixture.small, fixture.from, fixture.to);
            run(args, server, op, args.connections).await
        }
        Scenario::Analytics10m => {
            let op = Analytics::new(&fixture.big, fixture.from, fixture.to);
            run(args, server, op, args.connections).await
        }
        Scenario::Webhooks | Scenario::WebhooksHung => {
            let outbox = fixture.outbox.as_ref().expect("set up for webhooks");
            let result = match target {
                Target::Tenantry => {
                    let hanging = (scenario == Scenario::WebhooksHung).then_some(&outbox.hanging);
                    match seed::SeedConnection::open(&fixture.url).await {
                        Ok(mut conn) => {
                            webhooks::outbox_run(
                                &mut conn,
                                &outbox.plan,
                                &outbox.answering,
                                hanging,
                            )
                            .await
                        }
                        Err(error) => Err(error),
                    }
                }
                Target::Baseline => {
                    webhooks::raw_run(&outbox.plan, &outbox.answering, args.webhook_concurrency)
                        .await
                }
            };
            result.unwrap_or_else(failed)
        }
    }
}

/// Warms up, then measures, `operation` against `server`.
async fn run<O: Operation>(
    args: &BenchArgs,
    server: &Server,
    operation: O,
    connections: usize,
) -> Measurement {
    let operation = Arc::new(operation);
    let auth = Some(Arc::from(MASTER_KEY));
    if args.warmup > 0.0 {
        drive(
            server.addr,
            auth.clone(),
            operation.clone(),
            connections,
            Duration::from_secs_f64(args.warmup),
        )
        .await;
    }
    drive(
        server.addr,
        auth,
        operation,
        connections,
        Duration::from_secs_f64(args.seconds),
    )
    .await
}

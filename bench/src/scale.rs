//! `tenantry-bench scale`: a platform of a million tenants, an agency of ten thousand with a
//! year of usage on every day and channel, and a small agency, seeded in SQL the way tenantry
//! would have left them; then the median latency of each agency report and tenant list at those
//! sizes, next to its goal. Every answer is checked (totals against the seed's formula, list
//! lengths), so a fast wrong answer fails the run.
//!
//! Tenants are copies of a template tenant made through the API, so every column has a value
//! the API wrote. Seeded tenant `n` of an agency has a fixed id, name and slug; the usage
//! tenant `n` had, on day `k` of the range (0 = first) and channel `c`,
//! `1 + (n + 3k + c) mod 5` conversations costing `20 + n mod 30` cents each.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context};
use chrono::{Days, NaiveDate, Utc};
use hyper::StatusCode;
use serde_json::{json, Value};
use tenantry::domain::ids::{AgencyId, TenantId};

use crate::load::Client;
use crate::seed::{self, SeedConnection};
use crate::servers::Database;
use crate::{resolve_binary, Setup, MASTER_KEY};

#[derive(Debug, Clone, clap::Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    setup: Setup,
    /// Tenants of the agency without usage: the bulk of the platform.
    #[arg(long, default_value_t = 1_000_000)]
    idle_tenants: i64,
    /// Tenants of the agency with usage on every day and channel.
    #[arg(long, default_value_t = 10_000)]
    usage_tenants: i64,
    /// Days of usage, ending today.
    #[arg(long, default_value_t = 366)]
    days: i64,
    /// Leave the seeded databases in place (and print where), to read query plans at scale.
    #[arg(long)]
    keep: bool,
    /// Requests per figure, one after another; the report gives their median.
    #[arg(long, default_value_t = 20)]
    samples: usize,
}

/// Tenants of the small agency.
const SMALL_AGENCY_TENANTS: usize = 10;
/// Inactive tenants of the idle agency, the last ones in name order.
const INACTIVE: i64 = 10;
/// Every this many idle tenants, one is on the starter plan.
const STARTER_EVERY: i64 = 1000;
/// Tenants inserted per statement.
const CHUNK: i64 = 100_000;
/// Usage tenants whose rollups are inserted per statement.
const USAGE_CHUNK: i64 = 200;

/// Runs the scale benchmark on the chosen databases and prints one table of medians.
pub async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    ensure!(
        args.samples > 0 && args.days >= 30 && args.days <= 366 && args.usage_tenants > 0,
        "--samples must be positive, --days between 30 and 366, --usage-tenants positive"
    );
    let binary = resolve_binary(&args.setup.tenantry_bin)?;
    let started = Instant::now();
    let mut figures: BTreeMap<usize, Figure> = BTreeMap::new();
    let mut notes = Vec::new();
    for kind in args.setup.db.kinds() {
        let database = Database::fresh(kind, &args.setup.postgres_url).await?;
        let outcome = run_on(&args, &binary, &database, &mut figures, &mut notes).await;
        if args.keep {
            println!("[{kind}] kept the database: {}", database.keep());
        } else if let Err(error) = database.drop_schema().await {
            eprintln!("could not drop the benchmark schema: {error:#}");
        }
        outcome.with_context(|| format!("scale benchmark on {kind}"))?;
    }
    let report = report(&args, &figures, &notes, started.elapsed().as_secs_f64());
    println!("\n{report}");
    if let Some(path) = &args.setup.output {
        std::fs::write(path, &report)?;
    }
    Ok(())
}

/// One line of the report: what was measured, its goal, and its median on each database.
#[derive(Debug, Default)]
struct Figure {
    label: String,
    goal_ms: Option<f64>,
    p50_ms: BTreeMap<&'static str, f64>,
}

async fn run_on(
    args: &ScaleArgs,
    binary: &std::path::Path,
    database: &Database,
    figures: &mut BTreeMap<usize, Figure>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let kind = database.kind();
    let url = database.url();
    let mut server = database.serve(binary, MASTER_KEY)?;
    println!(
        "[{kind}] tenantry on {}; logs in {}",
        server.addr,
        database.log_dir().display()
    );
    let mut admin = Client::new(server.addr, Some(Arc::from(MASTER_KEY)));

    let seeding = Instant::now();
    let (idle, mut idle_key) = seed::create_agency(&mut admin, "Idle agency").await?;
    let (usage, _) = seed::create_agency(&mut admin, "Usage agency").await?;
    let (_, mut small_key) = seed::create_agency(&mut admin, "Small agency").await?;
    let idle_template = seed::create_tenants(&mut idle_key, &mut admin, "idle", 1).await?;
    let rare = create_named(&mut idle_key, "Zephyr Quantum Dental").await?;
    let mut usage_key = admin.with_key(MASTER_KEY);
    let usage_template = create_in(&mut usage_key, &usage, "Usage template").await?;
    seed::create_tenants(&mut small_key, &mut admin, "small", SMALL_AGENCY_TENANTS).await?;

    let mut conn = SeedConnection::open(&url).await?;
    let backend = Backend::of(&conn);
    let columns = conn.tenant_columns().await?;
    let today = Utc::now().date_naive();
    let first_day = today - Days::new(args.days as u64 - 1);
    let idle_copy = Copy {
        template: TenantId::from_str(&idle_template[0])?,
        agency: AgencyId::from_str(&idle)?,
        tag: "a1d1e000",
        name: "Tenant",
        count: args.idle_tenants,
        inactive: INACTIVE,
    };
    let usage_copy = Copy {
        template: usage_template,
        agency: AgencyId::from_str(&usage)?,
        tag: "a05a6e00",
        name: "Usage client",
        count: args.usage_tenants,
        inactive: 0,
    };
    for copy in [&idle_copy, &usage_copy] {
        let mut from = 1;
        while from <= copy.count {
            let to = (from + CHUNK - 1).min(copy.count);
            conn.run(&[
                copy.tenants_sql(backend, &columns, from, to),
                copy.counters_sql(backend, from, to),
            ])
            .await?;
            from = to + 1;
            println!(
                "[{kind}] {} tenants of {} seeded after {:.0} s",
                to,
                copy.name,
                seeding.elapsed().as_secs_f64()
            );
        }
    }
    let mut from = 1;
    while from <= usage_copy.count {
        let to = (from + USAGE_CHUNK - 1).min(usage_copy.count);
        conn.run(&[usage_copy.daily_sql(backend, first_day, args.days, from, to)])
            .await?;
        from = to + 1;
        if (to / USAGE_CHUNK) % 10 == 0 || to == usage_copy.count {
            println!(
                "[{kind}] daily rollups of {to} usage tenants seeded after {:.0} s",
                seeding.elapsed().as_secs_f64()
            );
        }
    }
    conn.run(&[
        period_sql(backend),
        monthly_sql(backend, usage_copy.agency),
        series_sql(usage_copy.agency, backend),
    ])
    .await?;
    conn.analyze(&[
        "tenants",
        "tenant_counters",
        "agency_counters",
        "tenant_usage",
        "usage_daily",
        "usage_monthly",
    ])
    .await?;
    let seeded = seeding.elapsed().as_secs_f64();
    notes.push(format!(
        "{kind}: seeded {} tenants and {} daily rollups in {seeded:.0} s",
        args.idle_tenants + args.usage_tenants + SMALL_AGENCY_TENANTS as i64 + 3,
        args.usage_tenants * args.days * 3
    ));
    println!("[{kind}] seeded in {seeded:.0} s");

    let probes = probes(args, &idle, &usage, first_day, today, &rare);
    for (index, probe) in probes.iter().enumerate() {
        let mut client = match probe.caller {
            Caller::Platform => admin.with_key(MASTER_KEY),
            Caller::SmallAgency => small_key.with_key(small_key.key()),
        };
        server.check_alive()?;
        let p50 = measure(&mut client, probe, args.samples)
            .await
            .with_context(|| probe.label.clone())?;
        println!(
            "[{kind}] {:<70} p50 {p50:>9.2} ms{}",
            probe.label,
            probe
                .goal_ms
                .map(|g| format!("  (goal ≤ {g} ms)"))
                .unwrap_or_default()
        );
        let figure = figures.entry(index).or_default();
        figure.label.clone_from(&probe.label);
        figure.goal_ms = probe.goal_ms;
        figure.p50_ms.insert(kind, p50);
    }
    drop(conn);
    Ok(())
}

/// Creates a tenant of the agency whose key `creator` holds, with this name; returns its id.
async fn create_named(creator: &mut Client, name: &str) -> anyhow::Result<String> {
    let created = creator
        .post("/api/v1/tenants", json!({ "name": name }).to_string())
        .await?
        .expect(StatusCode::CREATED)?
        .json()?;
    Ok(created["id"]
        .as_str()
        .context("tenant without id")?
        .to_owned())
}

/// Creates a tenant of `agency` with the platform's key; returns its id.
async fn create_in(admin: &mut Client, agency: &str, name: &str) -> anyhow::Result<TenantId> {
    let created = admin
        .post(
            "/api/v1/tenants",
            json!({ "name": name, "agencyId": agency }).to_string(),
        )
        .await?
        .expect(StatusCode::CREATED)?
        .json()?;
    Ok(TenantId::from_str(
        created["id"].as_str().context("tenant without id")?,
    )?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn of(conn: &SeedConnection) -> Backend {
        match conn {
            SeedConnection::Sqlite(_) => Backend::Sqlite,
            SeedConnection::Postgres(_) => Backend::Postgres,
        }
    }

    /// What opens a statement that uses [`Backend::series`].
    pub(crate) fn with(self) -> &'static str {
        match self {
            Backend::Sqlite => "WITH RECURSIVE",
            Backend::Postgres => "WITH",
        }
    }

    /// The integers `from..=to` as `s(n)`, to follow `WITH RECURSIVE` (SQLite) or `FROM`.
    pub(crate) fn series(self, name: &str, column: &str, from: i64, to: i64) -> String {
        match self {
            Backend::Sqlite => format!(
                "{name}({column}) AS (SELECT {from} UNION ALL SELECT {column} + 1 FROM {name} \
                 WHERE {column} < {to})"
            ),
            Backend::Postgres => {
                format!(
                    "{name}({column}) AS (SELECT generate_series({from}::bigint, {to}::bigint))"
                )
            }
        }
    }

    /// The UUID `<tag>-0000-7000-8000-<n in 12 hex digits>` (a SQL expression of `n`).
    pub(crate) fn tagged_id(self, tag: &str, n: &str) -> String {
        match self {
            Backend::Sqlite => format!("unhex('{tag}000070008000' || printf('%012x', {n}))"),
            Backend::Postgres => {
                format!("('{tag}-0000-7000-8000-' || lpad(to_hex({n}), 12, '0'))::uuid")
            }
        }
    }

    pub(crate) fn uuid(self, id: uuid::Uuid) -> String {
        match self {
            Backend::Sqlite => format!("X'{}'", id.simple()),
            Backend::Postgres => format!("'{id}'::uuid"),
        }
    }

    fn date(self, day: NaiveDate) -> String {
        match self {
            Backend::Sqlite => format!("'{day}'"),
            Backend::Postgres => format!("DATE '{day}'"),
        }
    }

    /// `n` zero-padded to `width` digits.
    fn padded(self, n: &str, width: usize) -> String {
        match self {
            Backend::Sqlite => format!("printf('%0{width}d', {n})"),
            Backend::Postgres => format!("lpad({n}::text, {width}, '0')"),
        }
    }

    /// `day`'s first of the month, and its day of the month.
    fn month_and_day(self, day: &str) -> (String, String) {
        match self {
            Backend::Sqlite => (
                format!("date({day}, 'start of month')"),
                format!("CAST(strftime('%d', {day}) AS INTEGER)"),
            ),
            Backend::Postgres => (
                format!("date_trunc('month', {day})::date"),
                format!("EXTRACT(DAY FROM {day})"),
            ),
        }
    }
}

/// Copies of a template tenant in its agency.
struct Copy {
    template: TenantId,
    agency: AgencyId,
    /// The first 8 hex digits of every copy's id.
    tag: &'static str,
    name: &'static str,
    count: i64,
    /// How many of the last copies in name order are inactive.
    inactive: i64,
}

impl Copy {
    /// The id of copy `n` (a SQL expression of `n`).
    fn id(&self, backend: Backend, n: &str) -> String {
        backend.tagged_id(self.tag, n)
    }

    fn tenants_sql(&self, backend: Backend, columns: &[String], from: i64, to: i64) -> String {
        let padded = backend.padded("s.n", 7);
        let concat = |a: &str, b: &str| format!("{a} || {b}");
        let created = match backend {
            Backend::Sqlite => {
                "strftime('%Y-%m-%dT%H:%M:%f+00:00', t.created_at, '-' || s.n || ' seconds')"
                    .to_owned()
            }
            Backend::Postgres => "t.created_at - s.n * interval '1 second'".to_owned(),
        };
        let exprs: Vec<String> = columns
            .iter()
            .map(|column| match column.as_str() {
                "id" => self.id(backend, "s.n"),
                "name" => concat(&format!("'{} '", self.name), &padded),
                "slug" => concat(&format!("'{}-'", self.tag), &padded),
                "status" => format!(
                    "CASE WHEN s.n > {} THEN 'inactive' ELSE 'active' END",
                    self.count - self.inactive
                ),
                "plan_id" => format!(
                    "CASE WHEN s.n % {STARTER_EVERY} = 7 THEN \
                     (SELECT id FROM plans WHERE code = 'starter') ELSE t.plan_id END"
                ),
                "created_at" | "updated_at" => created.clone(),
                other => format!("t.{other}"),
            })
            .collect();
        let with = backend.with();
        format!(
            "{with} {} INSERT INTO tenants ({}) SELECT {} FROM tenants t CROSS JOIN s \
             WHERE t.id = {}",
            backend.series("s", "n", from, to),
            columns.join(", "),
            exprs.join(", "),
            backend.uuid(self.template.0)
        )
    }

    fn counters_sql(&self, backend: Backend, from: i64, to: i64) -> String {
        let with = backend.with();
        format!(
            "{with} {} INSERT INTO tenant_counters (tenant_id, agency_id) SELECT {}, {} FROM s",
            backend.series("s", "n", from, to),
            self.id(backend, "s.n"),
            backend.uuid(self.agency.0)
        )
    }

    /// Daily rollups of copies `from..=to`: every day and channel, by the module's formula.
    fn daily_sql(
        &self,
        backend: Backend,
        first: NaiveDate,
        days: i64,
        from: i64,
        to: i64,
    ) -> String {
        let day = match backend {
            Backend::Sqlite => format!("date({}, '+' || d.k || ' days')", backend.date(first)),
            Backend::Postgres => format!("{} + d.k::int", backend.date(first)),
        };
        let with = backend.with();
        format!(
            "{with} {}, {}, {} INSERT INTO usage_daily (tenant_id, day, channel, conversations, \
             seconds, cost_cents, sentiment_micros_sum, sentiment_count) \
             SELECT {}, {day}, CASE c.ch WHEN 0 THEN 'phone' WHEN 1 THEN 'webrtc' ELSE 'webchat' END, \
             1 + (s.n + 3 * d.k + c.ch) % 5, 90 * (1 + (s.n + 3 * d.k + c.ch) % 5), \
             (20 + s.n % 30) * (1 + (s.n + 3 * d.k + c.ch) % 5), 0, 0 \
             FROM s CROSS JOIN d CROSS JOIN c ORDER BY s.n, d.k, c.ch",
            backend.series("s", "n", from, to),
            backend.series("d", "k", 0, days - 1),
            backend.series("c", "ch", 0, 2),
            self.id(backend, "s.n"),
        )
    }
}

/// The period counters ingestion would have kept, from the daily rollups.
fn period_sql(backend: Backend) -> String {
    let (month, _) = backend.month_and_day("day");
    format!(
        "INSERT INTO tenant_usage (tenant_id, period_start, calls, seconds, cost_cents) \
         SELECT tenant_id, {month}, SUM(conversations), SUM(seconds), SUM(cost_cents) \
         FROM usage_daily GROUP BY tenant_id, {month}"
    )
}

/// The agency's monthly series from the daily rollups (usage on every day, so no month of a
/// series lacks its row).
fn monthly_sql(backend: Backend, agency: AgencyId) -> String {
    let (month, day_of_month) = backend.month_and_day("day");
    let mut sums = String::new();
    let mut names = Vec::new();
    for (prefix, column) in [
        ("conversations", "conversations"),
        ("cost_cents", "cost_cents"),
    ] {
        for d in 1..=31 {
            let _ = write!(
                sums,
                ", SUM(CASE WHEN {day_of_month} <= {d} THEN {column} ELSE 0 END) AS {prefix}_d{d:02}"
            );
            names.push(format!("{prefix}_d{d:02}"));
        }
    }
    let columns = names.join(", ");
    format!(
        "INSERT INTO usage_monthly (tenant_id, agency_id, month, conversations_before, \
         cost_cents_before, {columns}) \
         SELECT tenant_id, {agency}, month, \
         COALESCE(SUM(conversations) OVER earlier, 0), COALESCE(SUM(cost_cents) OVER earlier, 0), \
         {columns} FROM (SELECT tenant_id, {month} AS month, SUM(conversations) AS conversations, \
         SUM(cost_cents) AS cost_cents{sums} FROM usage_daily GROUP BY tenant_id, {month}) m \
         WINDOW earlier AS (PARTITION BY tenant_id ORDER BY month \
         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)",
        agency = backend.uuid(agency.0)
    )
}

/// Each usage tenant's series on its counters row.
fn series_sql(agency: AgencyId, backend: Backend) -> String {
    format!(
        "UPDATE tenant_counters SET \
         first_usage_month = (SELECT MIN(m.month) FROM usage_monthly m \
         WHERE m.tenant_id = tenant_counters.tenant_id), \
         last_usage_month = (SELECT MAX(m.month) FROM usage_monthly m \
         WHERE m.tenant_id = tenant_counters.tenant_id), \
         conversations_total = COALESCE((SELECT SUM(m.conversations_d31) FROM usage_monthly m \
         WHERE m.tenant_id = tenant_counters.tenant_id), 0), \
         cost_cents_total = COALESCE((SELECT SUM(m.cost_cents_d31) FROM usage_monthly m \
         WHERE m.tenant_id = tenant_counters.tenant_id), 0) \
         WHERE agency_id = {}",
        backend.uuid(agency.0)
    )
}

/// Who asks.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Platform,
    SmallAgency,
}

/// What an answer must hold.
type Check = Box<dyn Fn(&Value) -> anyhow::Result<()> + Send + Sync>;

/// One figure: a request repeated `samples` times, and what its answer must hold.
struct Probe {
    label: String,
    goal_ms: Option<f64>,
    caller: Caller,
    method: Method,
    check: Check,
}

enum Method {
    Get(String),
    /// `POST …/calls` then `POST …/calls/{id}/end` of this tenant.
    AdmitAndEnd(String),
}

/// The expected totals of the usage agency from `from` to `to`, by the seed's formula.
fn usage_totals(args: &ScaleArgs, first: NaiveDate, from: NaiveDate, to: NaiveDate) -> (i64, i64) {
    let (mut conversations, mut cents) = (0_i64, 0_i64);
    for n in 1..=args.usage_tenants {
        for day in from.iter_days().take_while(|d| *d <= to) {
            let k = (day - first).num_days();
            if k < 0 || k >= args.days {
                continue;
            }
            for ch in 0..3 {
                let count = 1 + (n + 3 * k + ch) % 5;
                conversations += count;
                cents += count * (20 + n % 30);
            }
        }
    }
    (conversations, cents)
}

fn probes(
    args: &ScaleArgs,
    idle: &str,
    usage: &str,
    first: NaiveDate,
    today: NaiveDate,
    rare: &str,
) -> Vec<Probe> {
    let mut probes = Vec::new();
    for (days, goal) in [(30_u64, 100.0), (args.days as u64, 300.0)] {
        let from = today - Days::new(days - 1);
        let expected = usage_totals(args, first, from, today);
        let tenants = args.usage_tenants + 1;
        probes.push(Probe {
            label: format!(
                "agency analytics, {} tenants × {} days × 3 channels, {days}-day range",
                args.usage_tenants, args.days
            ),
            goal_ms: Some(goal),
            caller: Caller::Platform,
            method: Method::Get(format!(
                "/api/v1/agency/analytics?agencyId={usage}&dateFrom={from}&dateTo={today}"
            )),
            check: Box::new(move |body| {
                let got = (
                    body["totalConversations"].as_i64().unwrap_or(-1),
                    body["totalCostCents"].as_i64().unwrap_or(-1),
                );
                ensure!(got == expected, "totals {got:?}, expected {expected:?}");
                ensure!(body["totalTenants"] == tenants, "tenant count in {body}");
                ensure!(body["topTenants"].as_array().map(Vec::len) == Some(10));
                Ok(())
            }),
        });
    }
    let idle_total = args.idle_tenants + 2;
    probes.push(Probe {
        label: format!(
            "agency analytics, an agency of {} tenants with no usage",
            args.idle_tenants
        ),
        goal_ms: Some(100.0),
        caller: Caller::Platform,
        method: Method::Get(format!("/api/v1/agency/analytics?agencyId={idle}")),
        check: Box::new(move |body| {
            ensure!(body["totalTenants"] == idle_total, "tenant count in {body}");
            ensure!(body["totalConversations"] == 0, "usage in {body}");
            Ok(())
        }),
    });
    let page = |count: usize| {
        move |body: &Value| -> anyhow::Result<()> {
            let got = body["data"].as_array().map(Vec::len);
            ensure!(got == Some(count), "{got:?} tenants, expected {count}");
            Ok(())
        }
    };
    let platform_size = args.idle_tenants + args.usage_tenants;
    probes.push(list(
        format!("tenant list, first page of a platform of {platform_size}"),
        None,
        Caller::Platform,
        "",
        Box::new(page(20)),
    ));
    probes.push(list(
        format!(
            "tenant list, an agency of {SMALL_AGENCY_TENANTS} on a platform of {platform_size}"
        ),
        Some(5.0),
        Caller::SmallAgency,
        "",
        Box::new(page(SMALL_AGENCY_TENANTS)),
    ));
    let rare = rare.to_owned();
    probes.push(list(
        format!("tenant list, `q=` matching one tenant of {platform_size}"),
        Some(50.0),
        Caller::Platform,
        "?q=zephyr",
        Box::new(move |body| {
            ensure!(
                body["data"][0]["id"] == rare.as_str(),
                "not the match: {body}"
            );
            page(1)(body)
        }),
    ));
    probes.push(list(
        format!(
            "tenant list, `q=` matching the {} tenants of the idle agency",
            args.idle_tenants
        ),
        Some(50.0),
        Caller::Platform,
        "?q=tenant&sortBy=name&limit=50",
        Box::new(page(args.idle_tenants.min(50) as usize)),
    ));
    probes.push(list(
        "tenant list, `sortBy=name&status=inactive` (matches last in name order)".to_owned(),
        Some(50.0),
        Caller::Platform,
        "?sortBy=name&status=inactive",
        Box::new(page(INACTIVE as usize)),
    ));
    let starters = |count: i64| {
        if count < 7 {
            0
        } else {
            (count - 7) / STARTER_EVERY + 1
        }
    };
    let on_starter = starters(args.idle_tenants) + starters(args.usage_tenants);
    probes.push(list(
        format!("tenant list, `plan=starter&sortBy=name` (one tenant in {STARTER_EVERY})"),
        Some(50.0),
        Caller::Platform,
        "?plan=starter&sortBy=name",
        Box::new(page(on_starter.min(20) as usize)),
    ));
    probes.push(list(
        "tenant list, `status=inactive&sortBy=createdAt&order=asc`".to_owned(),
        Some(50.0),
        Caller::Platform,
        "?status=inactive&sortBy=createdAt&order=asc",
        Box::new(page(INACTIVE as usize)),
    ));
    let tenant = format!(
        "ten_{}",
        tenantry::domain::ids::encode_suffix(
            uuid::Uuid::parse_str("a05a6e00-0000-7000-8000-000000000001").expect("an id")
        )
    );
    probes.push(Probe {
        label: "admission + end, a usage tenant, on the whole platform".to_owned(),
        goal_ms: None,
        caller: Caller::Platform,
        method: Method::AdmitAndEnd(tenant),
        check: Box::new(|_| Ok(())),
    });
    probes
}

/// A tenant list request and the check of its answer.
fn list(label: String, goal_ms: Option<f64>, caller: Caller, query: &str, check: Check) -> Probe {
    Probe {
        label,
        goal_ms,
        caller,
        method: Method::Get(format!("/api/v1/tenants{query}")),
        check,
    }
}

async fn measure(client: &mut Client, probe: &Probe, samples: usize) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(samples);
    // Two unmeasured requests first: connection set-up and a cold cache are not the figure.
    for sample in 0..samples + 2 {
        let began = Instant::now();
        match &probe.method {
            Method::Get(path) => {
                let answer = client.get(path).await?.expect(StatusCode::OK)?.json()?;
                (probe.check)(&answer)?;
            }
            Method::AdmitAndEnd(tenant) => {
                let started = client
                    .post(
                        &format!("/api/v1/tenants/{tenant}/calls"),
                        r#"{"channel":"phone"}"#,
                    )
                    .await?
                    .expect(StatusCode::CREATED)?
                    .json()?;
                let call = started["id"].as_str().context("call without id")?;
                client
                    .post(
                        &format!("/api/v1/tenants/{tenant}/calls/{call}/end"),
                        r#"{"durationSeconds":60,"costCents":1}"#,
                    )
                    .await?
                    .expect(StatusCode::OK)?;
            }
        }
        if sample >= 2 {
            times.push(began.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn report(
    args: &ScaleArgs,
    figures: &BTreeMap<usize, Figure>,
    notes: &[String],
    seconds: f64,
) -> String {
    let mut out = format!(
        "# tenantry-bench scale\n\n{} idle tenants in one agency, {} tenants with usage on all \
         {} days × 3 channels in another, {} in a third; p50 of {} requests in a row per figure.\n\n",
        args.idle_tenants, args.usage_tenants, args.days, SMALL_AGENCY_TENANTS, args.samples
    );
    let kinds = args.setup.db.kinds();
    let _ = write!(out, "| what (p50) |");
    for kind in kinds {
        let _ = write!(out, " {kind} |");
    }
    let _ = writeln!(out, " goal |");
    let _ = writeln!(out, "|---|{}---|", "---:|".repeat(kinds.len()));
    for figure in figures.values() {
        let _ = write!(out, "| {} |", figure.label);
        for kind in kinds {
            match figure.p50_ms.get(kind) {
                Some(ms) => {
                    let met = figure.goal_ms.is_none_or(|goal| *ms <= goal);
                    let _ = write!(out, " {ms:.1} ms{} |", if met { "" } else { " (over)" });
                }
                None => out.push_str(" – |"),
            }
        }
        let goal = figure
            .goal_ms
            .map_or("–".to_owned(), |goal| format!("≤ {goal} ms"));
        let _ = writeln!(out, " {goal} |");
    }
    out.push('\n');
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    let _ = writeln!(out, "\nTotal time: {seconds:.0} s.");
    out
}

impl SeedConnection {
    /// The columns of `tenants` a row is inserted with (generated ones aside), in order.
    async fn tenant_columns(&mut self) -> anyhow::Result<Vec<String>> {
        let names: Vec<(String,)> = match self {
            SeedConnection::Sqlite(conn) => {
                sqlx::query_as("SELECT name FROM pragma_table_info('tenants') ORDER BY cid")
                    .fetch_all(&mut *conn)
                    .await?
            }
            SeedConnection::Postgres(conn) => {
                sqlx::query_as(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = 'tenants' \
                     AND is_generated = 'NEVER' ORDER BY ordinal_position",
                )
                .fetch_all(&mut *conn)
                .await?
            }
        };
        if names.is_empty() {
            bail!("no tenants table");
        }
        Ok(names.into_iter().map(|(name,)| name).collect())
    }

    /// Runs statements in one transaction.
    pub(crate) async fn run(&mut self, statements: &[String]) -> anyhow::Result<()> {
        use sqlx::Connection;
        match self {
            SeedConnection::Sqlite(conn) => {
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                for sql in statements {
                    sqlx::query(sql)
                        .execute(&mut *tx)
                        .await
                        .context(sql.clone())?;
                }
                tx.commit().await?;
            }
            SeedConnection::Postgres(conn) => {
                let mut tx = conn.begin().await?;
                for sql in statements {
                    sqlx::query(sql)
                        .execute(&mut *tx)
                        .await
                        .context(sql.clone())?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// What autovacuum and `ANALYZE` would have done to the seeded `tables` by the time such
    /// data is read (PostgreSQL's autovacuum may be off); on SQLite, `ANALYZE` of everything
    /// and the WAL folded into the database.
    pub(crate) async fn analyze(&mut self, tables: &[&str]) -> anyhow::Result<()> {
        use sqlx::Executor;
        match self {
            SeedConnection::Sqlite(conn) => {
                conn.execute("ANALYZE").await?;
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
            }
            SeedConnection::Postgres(conn) => {
                for table in tables {
                    conn.execute(format!("VACUUM ANALYZE {table}").as_str())
                        .await?;
                }
            }
        }
        Ok(())
    }
}

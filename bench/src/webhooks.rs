//! Webhook delivery: the outbox's throughput to a receiver on loopback, against a bare
//! reqwest client feeding the same receiver the same signed bodies at the same concurrency.
//!
//! Pending deliveries are seeded in SQL, due in 2100, so that the server's worker cannot
//! start on them while they are written; one `UPDATE` then makes them all due at once. The
//! receiver times the run from the first request it gets to the last, and checks each
//! signature and that every delivery came exactly once.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use sqlx::{Connection, Executor, Postgres, QueryBuilder, Sqlite};
use tenantry::domain::delivery::signature;
use tenantry::domain::event::{Event, EventType};
use tenantry::domain::ids::{AgencyId, TenantId};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::load::{Client, Measurement};
use crate::seed::SeedConnection;

/// What a receiver has seen since its last reset.
#[derive(Default)]
struct Tally {
    requests: u64,
    ids: HashSet<String>,
    /// Requests whose signature did not verify, or that had no id.
    bad: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

struct Shared {
    tally: Mutex<Tally>,
    /// `whsec_…`; signatures are checked when set.
    secret: Mutex<Option<String>>,
    hang: bool,
}

/// A webhook receiver on loopback: answers 200 at once, or never (`hang`).
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// A receiver's count at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub requests: u64,
    pub distinct: usize,
    pub bad: u64,
    /// From the first request received to the last.
    pub span: Duration,
}

impl Receiver {
    pub async fn start(hang: bool) -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            tally: Mutex::default(),
            secret: Mutex::default(),
            hang,
        });
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver { addr, shared, task })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    pub fn set_secret(&self, secret: &str) {
        *self.shared.secret.lock().expect("secret") = Some(secret.to_owned());
    }

    pub fn reset(&self) {
        *self.shared.tally.lock().expect("tally") = Tally::default();
    }

    pub fn seen(&self) -> Seen {
        let tally = self.shared.tally.lock().expect("tally");
        Seen {
            requests: tally.requests,
            distinct: tally.ids.len(),
            bad: tally.bad,
            span: match (tally.first, tally.last) {
                (Some(first), Some(last)) => last - first,
                _ => Duration::ZERO,
            },
        }
    }

    /// Waits until `count` distinct ids came, or nothing new came for `quiet`.
    async fn wait_for(&self, count: usize, quiet: Duration) -> Seen {
        let mut last_change = Instant::now();
        let mut previous = 0;
        loop {
            let seen = self.seen();
            if seen.distinct >= count {
                // A duplicate would come right after; give it a moment to show.
                tokio::time::sleep(Duration::from_millis(300)).await;
                return self.seen();
            }
            if seen.requests != previous {
                previous = seen.requests;
                last_change = Instant::now();
            } else if last_change.elapsed() > quiet {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let id = header("webhook-id");
    let verified = match (id, header("webhook-timestamp"), header("webhook-signature")) {
        (Some(id), Some(timestamp), Some(signed)) => {
            match shared.secret.lock().expect("secret").as_deref() {
                Some(secret) => timestamp
                    .parse()
                    .is_ok_and(|ts| signature(&[secret], id, ts, &body) == signed),
                None => true,
            }
        }
        _ => false,
    };
    {
        let now = Instant::now();
        let mut tally = shared.tally.lock().expect("tally");
        tally.requests += 1;
        tally.first.get_or_insert(now);
        tally.last = Some(now);
        if !verified {
            tally.bad += 1;
        }
        if let Some(id) = id {
            tally.ids.insert(id.to_owned());
        }
    }
    if shared.hang {
        std::future::pending::<()>().await;
    }
    StatusCode::OK
}

/// An endpoint registered through the API, and its receiver.
pub struct Hook {
    pub id: Uuid,
    pub path: String,
    /// `whsec_…`, as the registration answered it.
    pub secret: String,
    pub receiver: Receiver,
}

/// Registers an endpoint of the agency whose key `agency` holds, to `receiver`, for `events`
/// (all but the opt-in types when empty). Returns the endpoint's id.
pub async fn register(
    agency: &mut Client,
    receiver: Receiver,
    events: &[&str],
) -> anyhow::Result<Hook> {
    let created = agency
        .post(
            "/api/v1/agency/webhook-endpoints",
            json!({ "url": receiver.url("hook"), "events": events }).to_string(),
        )
        .await?
        .expect(hyper::StatusCode::CREATED)
        .context("registering a webhook endpoint")?
        .json()?;
    let id = created["id"].as_str().context("endpoint without id")?;
    let secret = created["secret"]
        .as_str()
        .context("endpoint without secret")?;
    receiver.set_secret(secret);
    Ok(Hook {
        id: tenantry::domain::ids::WebhookEndpointId::from_str(id)?.0,
        path: format!("/api/v1/agency/webhook-endpoints/{id}"),
        secret: secret.to_owned(),
        receiver,
    })
}

/// Turns an endpoint on or off through the API.
/// Retried: on PostgreSQL, disabling an endpoint with deliveries pending can deadlock with
/// the delivery worker (answered as a 500), and a left-enabled endpoint would skew later runs.
pub async fn set_enabled(agency: &mut Client, hook: &Hook, enabled: bool) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        let answer = agency
            .patch(&hook.path, json!({ "enabled": enabled }).to_string())
            .await?
            .expect(hyper::StatusCode::OK)
            .context("enabling or disabling a webhook endpoint");
        tries += 1;
        match answer {
            Ok(_) => return Ok(()),
            Err(error) if tries >= 5 => return Err(error),
            Err(error) => eprintln!("retrying: {error:#}"),
        }
    }
}

/// Every event type, the opt-in ones included.
pub fn every_event_type() -> Vec<&'static str> {
    EventType::ALL.iter().map(|kind| kind.name()).collect()
}

/// Seeded deliveries wait here until [`release`] makes them due.
fn parked() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap()
}

/// Rows per multi-row insert (deliveries have 10 columns: 5,000 parameters).
const CHUNK: usize = 500;

/// What the webhooks scenario delivers: events of one tenant of one agency.
pub struct Plan {
    pub tenant: Uuid,
    pub agency: Uuid,
    pub count: usize,
}

/// `count` `tenant.updated` events of the plan's tenant, each with a parked delivery to each
/// of `endpoints`, written in chunks; returns the events.
pub async fn seed(
    conn: &mut SeedConnection,
    plan: &Plan,
    endpoints: &[Uuid],
) -> anyhow::Result<Vec<Event>> {
    let at = tenantry::store::now();
    let tenant = TenantId(plan.tenant);
    let events: Vec<Event> = (0..plan.count)
        .map(|n| {
            let data = json!({
                "tenantId": tenant.to_string(),
                "agencyId": AgencyId(plan.agency).to_string(),
                "object": { "type": "tenant", "id": tenant.to_string() },
                "changes": { "name": { "before": "Bench webhooks", "after": format!("Bench webhooks {n}") } },
                "actor": { "type": "system" },
            });
            Event::new(
                EventType::TenantUpdated,
                Some(tenant),
                Some(AgencyId(plan.agency)),
                at,
                data,
            )
        })
        .collect();
    for chunk in events.chunks(CHUNK) {
        match conn {
            SeedConnection::Sqlite(conn) => {
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                insert_events::<Sqlite>(chunk)
                    .build()
                    .execute(&mut *tx)
                    .await?;
                for &endpoint in endpoints {
                    insert_deliveries::<Sqlite>(chunk, endpoint, plan.agency, at)
                        .build()
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
            SeedConnection::Postgres(conn) => {
                let mut tx = conn.begin().await?;
                insert_events::<Postgres>(chunk)
                    .build()
                    .execute(&mut *tx)
                    .await?;
                for &endpoint in endpoints {
                    insert_deliveries::<Postgres>(chunk, endpoint, plan.agency, at)
                        .build()
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
    }
    // The claim's plan should see the table as it is, as after any bulk load.
    match conn {
        SeedConnection::Sqlite(conn) => {
            conn.execute("ANALYZE webhook_deliveries").await?;
        }
        SeedConnection::Postgres(conn) => {
            conn.execute("ANALYZE webhook_deliveries").await?;
            conn.execute("ANALYZE events").await?;
        }
    }
    Ok(events)
}

fn insert_events<'a, DB>(chunk: &'a [Event]) -> QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    sqlx::types::Json<&'a serde_json::Value>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut insert = QueryBuilder::new(
        "INSERT INTO events (id, type, tenant_id, agency_id, occurred_at, payload) ",
    );
    insert.push_values(chunk, |mut row, event| {
        row.push_bind(event.id.0)
            .push_bind(event.kind.name())
            .push_bind(event.tenant_id.expect("a tenant's event").0)
            .push_bind(event.agency_id.expect("an agency's tenant").0)
            .push_bind(event.occurred_at)
            .push_bind(sqlx::types::Json(&event.payload));
    });
    insert
}

fn insert_deliveries<'a, DB>(
    chunk: &'a [Event],
    endpoint: Uuid,
    reach: Uuid,
    at: DateTime<Utc>,
) -> QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut insert = QueryBuilder::new(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, reach, tenant_id, \
         event_type, timeout_seconds, next_attempt_at, created_at, attempts) ",
    );
    insert.push_values(chunk, |mut row, event| {
        row.push_bind(Uuid::now_v7())
            .push_bind(event.id.0)
            .push_bind(endpoint)
            .push_bind(reach)
            .push_bind(event.tenant_id.expect("a tenant's event").0)
            .push_bind(event.kind.name())
            // The default webhookTimeoutSeconds.
            .push_bind(20_i64)
            .push_bind(parked())
            .push_bind(at)
            .push_bind(0_i64);
    });
    insert
}

/// Makes every parked delivery due now, in one statement.
pub async fn release(conn: &mut SeedConnection) -> anyhow::Result<u64> {
    let at = tenantry::store::now();
    let released = match conn {
        SeedConnection::Sqlite(conn) => sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = ?1 WHERE next_attempt_at = ?2",
        )
        .bind(at)
        .bind(parked())
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        SeedConnection::Postgres(conn) => sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE next_attempt_at = $2",
        )
        .bind(at)
        .bind(parked())
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    };
    Ok(released)
}

/// Deliveries to `endpoint` recorded as delivered.
async fn delivered(conn: &mut SeedConnection, endpoint: Uuid) -> anyhow::Result<i64> {
    const SQL: &str = "SELECT COUNT(*) FROM webhook_deliveries \
                       WHERE endpoint_id = $1 AND delivered_at IS NOT NULL";
    let (count,): (i64,) = match conn {
        SeedConnection::Sqlite(conn) => {
            sqlx::query_as(SQL)
                .bind(endpoint)
                .fetch_one(&mut *conn)
                .await?
        }
        SeedConnection::Postgres(conn) => {
            sqlx::query_as(SQL)
                .bind(endpoint)
                .fetch_one(&mut *conn)
                .await?
        }
    };
    Ok(count)
}

/// Gives up what is still pending to `endpoint`, so that it ties up nothing in later runs.
pub async fn abandon(conn: &mut SeedConnection, endpoint: Uuid) -> anyhow::Result<()> {
    const SQL: &str = "UPDATE webhook_deliveries SET failed_at = $2 WHERE endpoint_id = $1 \
                       AND delivered_at IS NULL AND failed_at IS NULL";
    let at = tenantry::store::now();
    match conn {
        SeedConnection::Sqlite(conn) => {
            sqlx::query(SQL)
                .bind(endpoint)
                .bind(at)
                .execute(&mut *conn)
                .await?;
        }
        SeedConnection::Postgres(conn) => {
            sqlx::query(SQL)
                .bind(endpoint)
                .bind(at)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// How long a run may go without a new request before it is given up.
const QUIET: Duration = Duration::from_secs(30);

/// One outbox run: seed the plan's deliveries to `answering` (and to `hanging`, if given),
/// release them, and time the answering receiver from its first request to its last. Every
/// delivery must arrive once, signed, and be recorded as delivered; each that did not is an
/// error.
pub async fn outbox_run(
    conn: &mut SeedConnection,
    plan: &Plan,
    answering: &Hook,
    hanging: Option<&Hook>,
) -> anyhow::Result<Measurement> {
    let mut endpoints = vec![answering.id];
    endpoints.extend(hanging.map(|hook| hook.id));
    let before = delivered(conn, answering.id).await?;
    seed(conn, plan, &endpoints).await?;
    answering.receiver.reset();
    if let Some(hook) = hanging {
        hook.receiver.reset();
    }
    let released = release(conn).await?;
    anyhow::ensure!(
        released == (plan.count * endpoints.len()) as u64,
        "released {released} deliveries, seeded {}",
        plan.count * endpoints.len()
    );
    let seen = answering.receiver.wait_for(plan.count, QUIET).await;
    // Outcomes are recorded in batches after the answers: wait for the last batch.
    let mut recorded = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        recorded = delivered(conn, answering.id).await? - before;
        if recorded >= plan.count as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(hook) = hanging {
        abandon(conn, hook.id).await?;
    }
    Ok(measurement(plan.count, seen, Some(recorded)))
}

/// What a run saw, as a measurement: deliveries per second from the first to the last; each
/// delivery missing, repeated, unsigned or unrecorded is an error.
fn measurement(expected: usize, seen: Seen, recorded: Option<i64>) -> Measurement {
    let missing = expected.saturating_sub(seen.distinct) as u64;
    let repeated = seen.requests - seen.distinct as u64;
    let unrecorded = recorded.map_or(0, |r| (expected as i64 - r).max(0) as u64);
    let errors = missing + repeated + seen.bad + unrecorded;
    let first_error = (errors > 0).then(|| {
        format!(
            "{missing} missing, {repeated} repeated, {} badly signed, {unrecorded} not recorded",
            seen.bad
        )
    });
    Measurement {
        units: seen.distinct as u64,
        operations: seen.requests,
        errors,
        first_error,
        elapsed: seen.span,
        latencies_us: Vec::new(),
    }
}

/// The baseline: a bare reqwest client POSTs the same bodies, signed the same way, to the
/// same receiver, `concurrency` at a time.
pub async fn raw_run(plan: &Plan, hook: &Hook, concurrency: usize) -> anyhow::Result<Measurement> {
    let events: Vec<(String, Vec<u8>)> = (0..plan.count)
        .map(|n| {
            let event = Event::new(
                EventType::TenantUpdated,
                Some(TenantId(plan.tenant)),
                Some(AgencyId(plan.agency)),
                tenantry::store::now(),
                json!({ "tenantId": TenantId(plan.tenant).to_string(), "n": n }),
            );
            let body = serde_json::to_vec(&event.payload).expect("JSON");
            (event.id.to_string(), body)
        })
        .collect();
    let events = Arc::new(events);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()?;
    let url = hook.receiver.url("hook");
    let secret: Arc<str> = Arc::from(hook.secret.as_str());
    hook.receiver.reset();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (events, client, url, secret, next) = (
            events.clone(),
            client.clone(),
            url.clone(),
            secret.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((id, body)) = events.get(i) else {
                    return;
                };
                let timestamp = Utc::now().timestamp();
                let sent = client
                    .post(&url)
                    .timeout(Duration::from_secs(20))
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header(
                        "webhook-signature",
                        signature(&[&secret], id, timestamp, body),
                    )
                    .body(body.clone())
                    .send()
                    .await;
                // A failure shows as a missing id at the receiver.
                if let Ok(response) = sent {
                    let _ = response.bytes().await;
                }
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let seen = hook.receiver.wait_for(plan.count, QUIET).await;
    Ok(measurement(plan.count, seen, None))
}

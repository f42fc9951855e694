//! Test data: tenants made through tenantry's API, and usage events made either through the
//! ingestion API or, for the 10-million-event tenant, directly in SQL together with the
//! rollups ingestion would have written.
//!
//! Event `n` of a seeded tenant is fully determined by `n` and the seed time `base`:
//! it happened `(n * 7919) mod 90 days` seconds before `base`, on channel `n mod 3`
//! (phone, webrtc, webchat), lasted `30 + n mod 600` seconds, cost `1 + n mod 97` cents and
//! had a sentiment of `(n mod 2001 - 1000) / 1000`, none when `n mod 10 = 0`. The SQL seed
//! and the API seed produce the same events, so the two tenants differ only in volume.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use tenantry::domain::ids::TenantId;

use crate::load::Client;

/// Seeded events spread over this many days before the seed time.
pub const SPREAD_DAYS: i64 = 90;
pub const SPREAD_SECONDS: i64 = SPREAD_DAYS * 86_400;
const CHANNELS: [&str; 3] = ["phone", "webrtc", "webchat"];

/// Limits generous enough that no benchmark request is refused.
pub const GENEROUS_LIMITS: &str = r#"{"usageLimits": {"maxConcurrentCalls": 1000,
    "monthlyCallLimit": 1000000000, "maxMinutesPerMonth": 1000000000}}"#;

/// Creates an agency and a key of its own; returns the agency's id and a client holding that key.
pub async fn create_agency(admin: &mut Client, name: &str) -> anyhow::Result<(String, Client)> {
    let created = admin
        .post("/api/v1/agencies", json!({ "name": name }).to_string())
        .await?
        .expect(hyper::StatusCode::CREATED)
        .context("creating an agency")?
        .json()?;
    let id = created["id"]
        .as_str()
        .context("agency without id")?
        .to_owned();
    let key = admin
        .post(
            "/api/v1/api-keys",
            json!({ "name": format!("{name} key"), "agencyId": id }).to_string(),
        )
        .await?
        .expect(hyper::StatusCode::CREATED)
        .context("minting the agency's key")?
        .json()?;
    let key = key["key"].as_str().context("key without secret")?;
    Ok((id, admin.with_key(key)))
}

/// Creates `count` enterprise tenants with an owner and generous limits, with `creator`'s key
/// (an agency's tenants when it is an agency's); returns their ids. `admin` raises the limits.
pub async fn create_tenants(
    creator: &mut Client,
    admin: &mut Client,
    label: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let body = json!({
            "name": format!("Bench {label} {i}"),
            "plan": "enterprise",
            "owner": {"email": format!("owner-{label}-{i}@bench.example"), "name": "Bench Owner"},
            "metadata": {"purpose": "benchmark"},
        });
        let created = creator
            .post("/api/v1/tenants", body.to_string())
            .await?
            .expect(hyper::StatusCode::CREATED)
            .context("creating a tenant")?
            .json()?;
        let id = created["id"]
            .as_str()
            .context("tenant without id")?
            .to_owned();
        admin
            .patch(&format!("/api/v1/tenants/{id}"), GENEROUS_LIMITS)
            .await?
            .expect(hyper::StatusCode::OK)
            .context("raising the tenant's limits")?;
        ids.push(id);
    }
    Ok(ids)
}

/// The seed time: now, in whole seconds.
pub fn seed_base() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Event `n` of a seeded tenant, as the JSON the ingestion API takes.
fn seed_event_json(n: i64, base: DateTime<Utc>, out: &mut String) {
    use std::fmt::Write;
    let occurred = base - chrono::Duration::seconds((n * 7919) % SPREAD_SECONDS);
    let _ = write!(
        out,
        r#"{{"id":"seed-{n:09}","occurredAt":"{}","channel":"{}","durationSeconds":{},"costCents":{}"#,
        occurred.format("%Y-%m-%dT%H:%M:%SZ"),
        CHANNELS[(n % 3) as usize],
        30 + n % 600,
        1 + n % 97,
    );
    if n % 10 != 0 {
        let _ = write!(
            out,
            r#","sentimentScore":{}"#,
            ((n % 2001) - 1000) as f64 / 1000.0
        );
    }
    out.push('}');
}

/// Seeds events `0..count` of a tenant through the ingestion API, 1,000 per batch.
pub async fn seed_via_api(
    client: &mut Client,
    tenant: &str,
    count: i64,
    base: DateTime<Utc>,
) -> anyhow::Result<()> {
    let path = format!("/api/v1/tenants/{tenant}/usage-events");
    let mut start = 0;
    while start < count {
        let end = (start + 1000).min(count);
        let mut body = String::from(r#"{"events":["#);
        for n in start..end {
            if n > start {
                body.push(',');
            }
            seed_event_json(n, base, &mut body);
        }
        body.push_str("]}");
        let answer = client
            .post(&path, body)
            .await?
            .expect(hyper::StatusCode::OK)?
            .json()?;
        if answer["accepted"].as_i64() != Some(end - start) {
            bail!("seeding through the API: {answer}");
        }
        start = end;
    }
    Ok(())
}

/// A connection of the bench's own to the run's database.
pub enum SeedConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl SeedConnection {
    pub async fn open(url: &str) -> anyhow::Result<SeedConnection> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(120));
            Ok(SeedConnection::Sqlite(
                SqliteConnection::connect_with(&options).await?,
            ))
        } else {
            Ok(SeedConnection::Postgres(PgConnection::connect(url).await?))
        }
    }

    /// Inserts events `0..count` of `tenant` in chunks, then its daily rollups and period
    /// counters computed from them by GROUP BY, as ingestion would have left them.
    pub async fn seed_events(
        &mut self,
        tenant: &str,
        count: i64,
        base: DateTime<Utc>,
        progress: impl Fn(i64, Duration),
    ) -> anyhow::Result<()> {
        let tenant = TenantId::from_str(tenant)?.0;
        let started = Instant::now();
        const CHUNK: i64 = 1_000_000;
        let mut from = 0;
        while from < count {
            let to = (from + CHUNK).min(count) - 1;
            match self {
                SeedConnection::Sqlite(conn) => {
                    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                    sqlx::query(SQLITE_EVENTS)
                        .bind(tenant)
                        .bind(base.format("%Y-%m-%d %H:%M:%S").to_string())
                        .bind(from)
                        .bind(to)
                        .bind(base)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                SeedConnection::Postgres(conn) => {
                    sqlx::query(POSTGRES_EVENTS)
                        .bind(tenant)
                        .bind(base)
                        .bind(from)
                        .bind(to)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            from = to + 1;
            progress(from, started.elapsed());
        }
        match self {
            SeedConnection::Sqlite(conn) => {
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::query(&format!("{INSERT_DAILY} {SQLITE_ROLLUP}"))
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(PERIOD_FROM_DAILY_SQLITE)
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                // Fold the WAL into the database now rather than during a measurement.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
            }
            SeedConnection::Postgres(conn) => {
                let mut tx = conn.begin().await?;
                sqlx::query(&format!("{INSERT_DAILY} {POSTGRES_ROLLUP}"))
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(PERIOD_FROM_DAILY_POSTGRES)
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                // What autovacuum would do soon anyway; done now so it cannot run mid-measurement.
                conn.execute("VACUUM ANALYZE usage_events").await?;
                conn.execute("ANALYZE usage_daily").await?;
                conn.execute("ANALYZE tenant_usage").await?;
            }
        }
        Ok(())
    }

    /// Checks that the rollup SQL of the seed reproduces, from a tenant's stored events, the
    /// daily rollups that tenantry's ingestion wrote for it.
    pub async fn check_rollups(&mut self, tenant: &str) -> anyhow::Result<usize> {
        let tenant = TenantId::from_str(tenant)?.0;
        type Row = (String, String, i64, i64, i64, i64, i64);
        let (computed, stored): (Vec<Row>, Vec<Row>) = match self {
            SeedConnection::Sqlite(conn) => (
                sqlx::query_as(&format!(
                    "{ROLLUP_COLUMNS} FROM ({SQLITE_ROLLUP}) r ORDER BY 1, 2"
                ))
                .bind(tenant)
                .fetch_all(&mut *conn)
                .await?,
                sqlx::query_as(&format!(
                    "{ROLLUP_COLUMNS} FROM usage_daily WHERE tenant_id = ?1 ORDER BY 1, 2"
                ))
                .bind(tenant)
                .fetch_all(&mut *conn)
                .await?,
            ),
            SeedConnection::Postgres(conn) => (
                sqlx::query_as(&format!(
                    "{ROLLUP_COLUMNS_PG} FROM ({POSTGRES_ROLLUP}) r ORDER BY 1, 2"
                ))
                .bind(tenant)
                .fetch_all(&mut *conn)
                .await?,
                sqlx::query_as(&format!(
                    "{ROLLUP_COLUMNS_PG} FROM usage_daily WHERE tenant_id = $1 ORDER BY 1, 2"
                ))
                .bind(tenant)
                .fetch_all(&mut *conn)
                .await?,
            ),
        };
        if computed.is_empty() || computed != stored {
            bail!(
                "the seed's rollup SQL does not reproduce what ingestion stored \
                 ({} rows computed, {} stored)",
                computed.len(),
                stored.len()
            );
        }
        Ok(computed.len())
    }
}

/// Events `?3..=?4` of tenant `?1`; `?2` is the seed time as SQLite date text, `?5` as bound
/// by sqlx (received_at). Timestamps are written as sqlx writes them (RFC 3339, UTC offset).
const SQLITE_EVENTS: &str =
    "WITH RECURSIVE s(n) AS (SELECT ?3 UNION ALL SELECT n + 1 FROM s WHERE n < ?4) \
     INSERT INTO usage_events (tenant_id, id, occurred_at, channel, duration_seconds, cost_cents, \
     sentiment_micros, agent_id, received_at) \
     SELECT ?1, 'seed-' || printf('%09d', n), \
     strftime('%Y-%m-%dT%H:%M:%S+00:00', ?2, '-' || ((n * 7919) % 7776000) || ' seconds'), \
     CASE n % 3 WHEN 0 THEN 'phone' WHEN 1 THEN 'webrtc' ELSE 'webchat' END, \
     30 + n % 600, 1 + n % 97, \
     CASE WHEN n % 10 = 0 THEN NULL ELSE ((n % 2001) - 1000) * 1000 END, NULL, ?5 FROM s";

const POSTGRES_EVENTS: &str = "INSERT INTO usage_events (tenant_id, id, occurred_at, channel, \
     duration_seconds, cost_cents, sentiment_micros, agent_id, received_at) \
     SELECT $1, 'seed-' || lpad(n::text, 9, '0'), \
     $2::timestamptz - ((n * 7919) % 7776000) * interval '1 second', \
     (ARRAY['phone', 'webrtc', 'webchat'])[n % 3 + 1], \
     30 + n % 600, 1 + n % 97, \
     CASE WHEN n % 10 = 0 THEN NULL ELSE ((n % 2001) - 1000) * 1000 END, NULL, $2 \
     FROM generate_series($3::bigint, $4::bigint) AS n";

/// One tenant's daily rollups computed from its events (the UTC day of `occurred_at`).
const SQLITE_ROLLUP: &str = "SELECT tenant_id, substr(occurred_at, 1, 10) AS day, channel, \
     COUNT(*) AS conversations, SUM(duration_seconds) AS seconds, SUM(cost_cents) AS cost_cents, \
     COALESCE(SUM(sentiment_micros), 0) AS sentiment_micros_sum, \
     COUNT(sentiment_micros) AS sentiment_count \
     FROM usage_events WHERE tenant_id = ?1 GROUP BY 1, 2, 3";

const POSTGRES_ROLLUP: &str = "SELECT tenant_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, \
     channel, COUNT(*) AS conversations, SUM(duration_seconds)::bigint AS seconds, \
     SUM(cost_cents)::bigint AS cost_cents, \
     COALESCE(SUM(sentiment_micros), 0)::bigint AS sentiment_micros_sum, \
     COUNT(sentiment_micros) AS sentiment_count \
     FROM usage_events WHERE tenant_id = $1 GROUP BY 1, 2, 3";

/// Period counters (calendar months) from the daily rollups just written.
const PERIOD_FROM_DAILY_SQLITE: &str = "INSERT INTO tenant_usage (tenant_id, period_start, calls, \
     seconds, cost_cents) SELECT tenant_id, substr(day, 1, 7) || '-01', SUM(conversations), \
     SUM(seconds), SUM(cost_cents) FROM usage_daily WHERE tenant_id = ?1 GROUP BY 1, 2 \
     ON CONFLICT (tenant_id, period_start) DO UPDATE SET \
     calls = tenant_usage.calls + excluded.calls, seconds = tenant_usage.seconds + excluded.seconds, \
     cost_cents = tenant_usage.cost_cents + excluded.cost_cents";

const PERIOD_FROM_DAILY_POSTGRES: &str = "INSERT INTO tenant_usage (tenant_id, period_start, calls, \
     seconds, cost_cents) SELECT tenant_id, date_trunc('month', day)::date, SUM(conversations), \
     SUM(seconds), SUM(cost_cents) FROM usage_daily WHERE tenant_id = $1 GROUP BY 1, 2 \
     ON CONFLICT (tenant_id, period_start) DO UPDATE SET \
     calls = tenant_usage.calls + excluded.calls, seconds = tenant_usage.seconds + excluded.seconds, \
     cost_cents = tenant_usage.cost_cents + excluded.cost_cents";

const INSERT_DAILY: &str = "INSERT INTO usage_daily (tenant_id, day, channel, conversations, \
     seconds, cost_cents, sentiment_micros_sum, sentiment_count)";

const ROLLUP_COLUMNS: &str = "SELECT day, channel, conversations, seconds, cost_cents, \
     sentiment_micros_sum, sentiment_count";

const ROLLUP_COLUMNS_PG: &str = "SELECT day::text, channel, conversations, seconds, cost_cents, \
     sentiment_micros_sum, sentiment_count";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_seed_events_follow_the_documented_formula() {
        let base = DateTime::parse_from_rfc3339("2025-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut out = String::new();
        seed_event_json(7, base, &mut out);
        let event: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(event["id"], "seed-000000007");
        assert_eq!(event["channel"], "webrtc");
        assert_eq!(event["durationSeconds"], 37);
        assert_eq!(event["costCents"], 8);
        assert_eq!(event["sentimentScore"], -0.993);
        let seconds_back = 7 * 7919;
        let expected = base - chrono::Duration::seconds(seconds_back);
        assert_eq!(
            event["occurredAt"],
            expected.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        );
        out.clear();
        seed_event_json(10, base, &mut out);
        assert!(!out.contains("sentimentScore"));
    }
}

//! Bounds on usage: one call costs at most $1,000,000 and lasts at most a week; every stored
//! counter has a ceiling that no write may pass (such a write is refused whole); and sums over
//! many rows or tenants are exact at any size, so one tenant's counters never break a read.

use chrono::{Datelike, NaiveDate, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::both;
use crate::support::{event, Answer};

/// The most one call may cost, in cents (one million dollars).
const MAX_CALL_CENTS: i64 = 100_000_000;
/// The longest call, in seconds (a week).
const MAX_CALL_SECONDS: i64 = 7 * 24 * 3600;
/// The ceiling of every stored usage counter.
const MAX_COUNTER: i64 = 9_000_000_000_000_000_000;

fn this_month() -> NaiveDate {
    Utc::now()
        .date_naive()
        .with_day(1)
        .expect("the first of the month")
}

/// A refusal by a counter's ceiling that names `field` (or no field).
#[track_caller]
fn assert_overflow(answer: &Answer, field: Option<&str>) {
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "usage_counter_overflow");
    let expected: Vec<String> = field.into_iter().map(str::to_owned).collect();
    assert_eq!(answer.fields(), expected, "{}", answer.text);
}

both!(
    one_call_costs_at_most_a_million_dollars_and_lasts_at_most_a_week,
    |app| async move {
        let tenant = app.tenant().plan("enterprise").create().await;
        let now = Utc::now();

        tenant
            .post_events(&[event("dear", now, "phone", 60, MAX_CALL_CENTS + 1, None)])
            .await
            .assert_invalid("events[0].costCents");
        tenant
            .post_events(&[
                event("ok", now, "phone", 60, 1, None),
                event("long", now, "phone", MAX_CALL_SECONDS + 1, 1, None),
            ])
            .await
            .assert_invalid("events[1].durationSeconds");
        let most = event(
            "most",
            now,
            "webrtc",
            MAX_CALL_SECONDS,
            MAX_CALL_CENTS,
            None,
        );
        assert_eq!(tenant.ingest(&[most]).await, (1, 0));

        let call = tenant.admit("phone").await;
        let id = call["id"].as_str().unwrap();
        tenant
            .end_call(
                id,
                &json!({ "durationSeconds": 60, "costCents": MAX_CALL_CENTS + 1 }),
            )
            .await
            .assert_invalid("costCents");
        tenant
            .end_call(
                id,
                &json!({ "durationSeconds": MAX_CALL_SECONDS + 1, "costCents": 1 }),
            )
            .await
            .assert_invalid("durationSeconds");
        tenant
            .end(&call, MAX_CALL_SECONDS, MAX_CALL_CENTS, None)
            .await;

        let usage = tenant.usage_this_month().await;
        assert_eq!(usage["totalCostCents"], 2 * MAX_CALL_CENTS, "{usage}");
        assert_eq!(usage["totalSeconds"], 2 * MAX_CALL_SECONDS, "{usage}");
        let spec = tenantry::http::openapi();
        let spec = serde_json::to_value(&spec).unwrap();
        for schema in ["UsageEventInput", "EndCallRequest"] {
            let cost = &spec["components"]["schemas"][schema]["properties"]["costCents"];
            assert_eq!(cost["maximum"], MAX_CALL_CENTS, "{schema}: {cost}");
        }
    }
);

both!(
    a_write_past_a_counter_ceiling_is_refused_and_changes_nothing,
    |app| async move {
        // Enterprise has no call, minute or spend limit: only the ceilings stop these writes.
        let tenant = app.tenant().plan("enterprise").create().await;
        let now = Utc::now();
        let today = now.date_naive();

        // The month's cost is one most-expensive call short of the ceiling.
        app.set_period_usage(
            &tenant.id,
            this_month(),
            10,
            600,
            MAX_COUNTER - MAX_CALL_CENTS + 1,
        )
        .await;
        let before = tenant.snapshot(today, today).await;
        let over = [
            event("fine", now, "phone", 60, 1, None),
            event("over", now, "phone", 60, MAX_CALL_CENTS, None),
        ];
        assert_overflow(&tenant.post_events(&over).await, Some("events"));
        assert_eq!(tenant.snapshot(today, today).await, before);
        assert_eq!(app.stored_event_count(&tenant.id).await, 0);
        // What still fits is taken, up to the ceiling exactly.
        let fits = event("fits", now, "phone", 60, MAX_CALL_CENTS - 1, None);
        assert_eq!(tenant.ingest(&[fits]).await, (1, 0));
        let usage = tenant.usage_this_month().await;
        assert_eq!(usage["totalCostCents"], MAX_COUNTER, "{usage}");
        assert_eq!(usage["conversations"], 11, "{usage}");

        // Ending a call is refused the same way; the call stays active and can end within bounds.
        let call = tenant.admit("webchat").await;
        let id = call["id"].as_str().unwrap();
        let before = tenant.snapshot(today, today).await;
        let refused = tenant
            .end_call(id, &json!({ "durationSeconds": 60, "costCents": 1 }))
            .await;
        assert_overflow(&refused, Some("costCents"));
        assert_eq!(tenant.snapshot(today, today).await, before);
        let stored = tenant
            .client
            .get(&tenant.path(&format!("/calls/{id}")))
            .await;
        assert_eq!(stored.body["status"], "active", "{}", stored.text);
        tenant.end(&call, 60, 0, None).await;

        // A day's rollup has the same ceiling, per channel.
        app.set_daily_usage(&tenant.id, today, "webrtc", MAX_COUNTER, 0, 0)
            .await;
        let before = tenant.snapshot(today, today).await;
        let busy = event("busy", now, "webrtc", 0, 0, None);
        assert_overflow(&tenant.post_events(&[busy]).await, Some("events"));
        assert_eq!(tenant.snapshot(today, today).await, before);
        assert_eq!(app.stored_event_count(&tenant.id).await, 1);

        // A month whose call count is at the ceiling admits no call, and holds no slot.
        app.set_period_usage(&tenant.id, this_month(), MAX_COUNTER, 0, 0)
            .await;
        let start = tenant.start_call(&json!({ "channel": "phone" })).await;
        assert_overflow(&start, None);
        assert_eq!(tenant.limits().await["activeCalls"], 0);
    }
);

/// Totals as tenant analytics report them, read at full width.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TenantTotals {
    conversations: i128,
    total_seconds: i128,
    total_cost_cents: i128,
    channel_breakdown: Breakdown,
    daily: Vec<DayTotals>,
}

#[derive(Debug, Deserialize)]
struct Breakdown {
    phone: i128,
    webrtc: i128,
    webchat: i128,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DayTotals {
    conversations: i128,
    seconds: i128,
    cost_cents: i128,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgencyTotals {
    total_conversations: i128,
    total_cost_cents: i128,
    top_tenants: Vec<TopTenant>,
}

#[derive(Debug, Deserialize)]
struct TopTenant {
    name: String,
    conversations: i128,
}

both!(
    near_the_ceilings_every_read_answers_exactly,
    |app| async move {
        let agency = app.agency().create().await;
        let big = app.tenant().name("Big").of(&agency).create().await;
        let bigger = app.tenant().name("Bigger").of(&agency).create().await;
        let small = app.tenant().name("Small").of(&agency).create().await;
        let now = Utc::now();
        let today = now.date_naive();
        assert_eq!(
            small
                .ingest(&[event("s", now, "webchat", 60, 125, None)])
                .await,
            (1, 0)
        );
        // Two such rows add up past i64::MAX; so do two such tenants.
        let half = i64::MAX / 2 + 1000;
        for tenant in [&big, &bigger] {
            app.set_period_usage(
                &tenant.id,
                this_month(),
                MAX_COUNTER,
                MAX_COUNTER,
                MAX_COUNTER,
            )
            .await;
            for channel in ["phone", "webrtc"] {
                app.set_daily_usage(&tenant.id, today, channel, half, half, half)
                    .await;
            }
        }
        let wide = i128::from(half);

        let usage = big.usage_this_month().await;
        assert_eq!(usage["conversations"], MAX_COUNTER, "{usage}");
        assert_eq!(usage["totalSeconds"], MAX_COUNTER, "{usage}");
        assert_eq!(usage["totalCostCents"], MAX_COUNTER, "{usage}");
        let limits = big.limits().await;
        assert_eq!(limits["limits"]["monthlyCallLimit"]["used"], MAX_COUNTER);

        let analytics = big
            .client
            .get(&big.path(&format!("/analytics?dateFrom={today}&dateTo={today}")))
            .await;
        analytics.assert_status(StatusCode::OK);
        let totals: TenantTotals = serde_json::from_str(&analytics.text).expect("totals");
        assert_eq!(totals.conversations, 2 * wide, "{}", analytics.text);
        assert_eq!(totals.total_seconds, 2 * wide);
        assert_eq!(totals.total_cost_cents, 2 * wide);
        assert_eq!(
            (
                totals.channel_breakdown.phone,
                totals.channel_breakdown.webrtc,
                totals.channel_breakdown.webchat
            ),
            (wide, wide, 0)
        );
        let day = &totals.daily[0];
        assert_eq!(
            (day.conversations, day.seconds, day.cost_cents),
            (2 * wide, 2 * wide, 2 * wide)
        );

        // An agency's report reads each tenant's series, whose totals share the ceiling: two
        // tenants at it add up past i64::MAX.
        for tenant in [&big, &bigger] {
            app.set_series_usage(&tenant.id, today, MAX_COUNTER, MAX_COUNTER)
                .await;
        }
        let full = i128::from(MAX_COUNTER);
        let path = format!("/api/v1/agency/analytics?dateFrom={today}&dateTo={today}");
        for caller in [agency.client.clone(), app.platform()] {
            let path = if caller.key() == agency.client.key() {
                path.clone()
            } else {
                format!("{path}&agencyId={}", agency.id)
            };
            let answer = caller.get(&path).await;
            answer.assert_status(StatusCode::OK);
            let totals: AgencyTotals = serde_json::from_str(&answer.text).expect("totals");
            assert_eq!(totals.total_conversations, 2 * full + 1, "{}", answer.text);
            assert_eq!(totals.total_cost_cents, 2 * full + 125);
            let top: Vec<_> = totals
                .top_tenants
                .iter()
                .map(|t| (t.name.as_str(), t.conversations))
                .collect();
            let (first, second) = if big.id < bigger.id {
                ("Big", "Bigger")
            } else {
                ("Bigger", "Big")
            };
            assert_eq!(top, [(first, full), (second, full), ("Small", 1)]);
        }
        // The agency's list shows every tenant, the ones at the ceiling and their sibling.
        let listed = agency.client.get("/api/v1/tenants").await;
        listed.assert_status(StatusCode::OK);
        let names: Vec<&str> = listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "{}", listed.text);
        for name in ["Big", "Bigger", "Small"] {
            assert!(names.contains(&name), "{}", listed.text);
        }
        app.platform()
            .get("/api/v1/tenants")
            .await
            .assert_status(StatusCode::OK);
        let sibling = small.usage_this_month().await;
        assert_eq!(sibling["totalCostCents"], 125, "{sibling}");
    }
);

both!(
    a_tenants_series_in_its_agency_has_the_counters_ceiling,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().plan("enterprise").of(&agency).create().await;
        let now = Utc::now();
        let today = now.date_naive();
        app.set_series_usage(&tenant.id, today, MAX_COUNTER - 1, 10)
            .await;
        let before = tenant.snapshot(today, today).await;
        let path = format!("/api/v1/agency/analytics?dateFrom={today}&dateTo={today}");
        let report = agency.client.get(&path).await;
        assert_eq!(report.body["totalConversations"], MAX_COUNTER - 1);

        // Two more conversations would pass it; the batch is refused whole.
        let two = [
            event("a", now, "phone", 60, 1, None),
            event("b", now, "phone", 60, 1, None),
        ];
        assert_overflow(&tenant.post_events(&two).await, Some("events"));
        assert_eq!(tenant.snapshot(today, today).await, before);
        assert_eq!(agency.client.get(&path).await.body, report.body);

        // One more fits exactly.
        assert_eq!(tenant.ingest(&two[..1]).await, (1, 0));
        let full = agency.client.get(&path).await;
        assert_eq!(
            full.body["totalConversations"], MAX_COUNTER,
            "{}",
            full.text
        );
        assert_eq!(full.body["totalCostCents"], 11);
    }
);

/// Before the ceilings, an overflowing SQLite counter became a REAL that no read could decode.
/// The migration that adds the ceilings keeps such a counter at the ceiling, and the ceiling
/// holds from then on.
#[tokio::test]
async fn sqlite_counters_that_overflowed_before_the_ceilings_are_kept_at_them() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    use tenantry::domain::ids::TenantId;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let options: SqliteConnectOptions = url.parse().expect("a SQLite URL");
    let pool = SqlitePool::connect_with(options.create_if_missing(true).foreign_keys(true))
        .await
        .expect("open the database");
    let mut before = sqlx::migrate!("migrations/sqlite");
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 4)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before
        .run(&pool)
        .await
        .expect("the migrations before the ceilings");

    let tenant = TenantId::generate();
    for (sql, bind_tenant) in [
        (
            "INSERT INTO tenants (id, name, slug, status, plan_id, billing_mode, billing_alerts, \
             settings, metadata, created_at, updated_at) SELECT $1, 'Old', 'old', 'active', id, \
             'platform_billed', '{}', '{}', '{}', '2026-11-01T00:00:00+00:00', \
             '2026-11-01T00:00:00+00:00' FROM plans WHERE code = 'free'",
            true,
        ),
        ("INSERT INTO tenant_counters (tenant_id) VALUES ($1)", true),
        (
            "INSERT INTO tenant_usage (tenant_id, period_start, calls, seconds, cost_cents) \
             VALUES ($1, '2026-11-01', 3, 180, 9223372036854775807)",
            true,
        ),
        (
            "INSERT INTO usage_daily (tenant_id, day, channel, conversations, seconds, cost_cents, \
             sentiment_micros_sum, sentiment_count) VALUES ($1, '2026-11-15', 'phone', \
             9223372036854775807, 180, 7, -9223372036854775807, 3)",
            true,
        ),
        // The overflow this migration repairs: SQLite stores these sums as REALs.
        (
            "UPDATE tenant_usage SET cost_cents = cost_cents + 100",
            false,
        ),
        (
            "UPDATE usage_daily SET conversations = conversations + 1, \
             sentiment_micros_sum = sentiment_micros_sum - 1000000",
            false,
        ),
    ] {
        let query = sqlx::query(sql);
        let query = if bind_tenant { query.bind(tenant) } else { query };
        query.execute(&pool).await.expect(sql);
    }
    let (kind,): (String,) = sqlx::query_as("SELECT typeof(cost_cents) FROM tenant_usage")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kind, "real");
    pool.close().await;

    let db = tenantry::server::open_database(&url)
        .await
        .expect("migrate to the ceilings");
    let at = "2026-11-15T12:00:00Z".parse().unwrap();
    let usage = tenantry::store::usage::live(&db, tenant, at)
        .await
        .expect("the period reads");
    assert_eq!(
        (
            usage.usage.calls,
            usage.usage.seconds,
            usage.usage.cost_cents
        ),
        (3, 180, MAX_COUNTER)
    );
    let day = NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
    let rows = tenantry::store::usage::daily(&db, tenant, day, day)
        .await
        .expect("the day reads");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].conversations, rows[0].seconds, rows[0].cost_cents),
        (MAX_COUNTER, 180, 7)
    );
    assert_eq!(
        (rows[0].sentiment_micros_sum, rows[0].sentiment_count),
        (-MAX_COUNTER, 3)
    );
    let tenantry::store::Db::Sqlite(sqlite) = &db else {
        unreachable!("a SQLite URL opens SQLite")
    };
    let refused = sqlx::query("UPDATE tenant_usage SET cost_cents = cost_cents + 1")
        .execute(&sqlite.write)
        .await
        .expect_err("the ceiling holds");
    assert!(
        matches!(&refused, sqlx::Error::Database(e) if e.is_check_violation()),
        "{refused}"
    );
    db.close().await;
}

//! Existing data migrates forward: a database made by an older release, with rows in the old
//! shape, reads back the same through the API once the server has applied the newer
//! migrations. Each story builds the old schema from the migration files of that release.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::support::TestApp;

/// The last migration before limits became rows and settings columns.
const BEFORE_LIMIT_ROWS: i64 = 5;

/// Applies this backend's migrations up to `version` to the database at `url`.
async fn migrate_up_to(url: &str, version: i64) {
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let old = tempfile::tempdir().expect("a directory for the old migrations");
    for entry in std::fs::read_dir(&source).expect("the migrations") {
        let path = entry.expect("a migration").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let number: i64 = name[..4].parse().expect("a numbered migration");
        if number <= version {
            std::fs::copy(&path, old.path().join(&name)).expect("copy a migration");
        }
    }
    let migrator = Migrator::new(old.path()).await.expect("the old migrations");
    if backend == "sqlite" {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("a SQLite URL")
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .expect("SQLite");
        migrator.run(&pool).await.expect("the old schema");
        seed_old_rows(Old::Sqlite(&pool)).await;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("PostgreSQL");
        migrator.run(&pool).await.expect("the old schema");
        seed_old_rows(Old::Postgres(&pool)).await;
        pool.close().await;
    }
}

enum Old<'a> {
    Sqlite(&'a sqlx::SqlitePool),
    Postgres(&'a sqlx::PgPool),
}

const PLAN: Uuid = Uuid::from_u128(0x0193_5000_0000_7000_8000_0000_0000_0aaa);
const TENANT: Uuid = Uuid::from_u128(0x0193_5000_0000_7000_8000_0000_0000_0bbb);
const AGENCY: Uuid = Uuid::from_u128(0x0193_5000_0000_7000_8000_0000_0000_0ccc);
const CLIENT: Uuid = Uuid::from_u128(0x0193_5000_0000_7000_8000_0000_0000_0ddd);

/// Daily rollups of the agency's client before monthly series existed: two days in January,
/// none in February or March, one in April (day, channel, conversations, cost).
const CLIENT_DAYS: [(&str, &str, i64, i64); 3] = [
    ("2025-01-15", "phone", 3, 300),
    ("2025-01-31", "webrtc", 2, 50),
    ("2025-04-01", "phone", 1, 7),
];

/// A plan and a tenant as release 0005 stored them: limits in columns, settings and billing
/// alerts as JSON documents; and an agency whose client has daily rollups but no series.
async fn seed_old_rows(db: Old<'_>) {
    let now = Utc::now();
    let settings = json!({
        "sipEnabled": true, "sipDomain": "sip.legacy.example", "sipUsername": null,
        "recordingEnabled": false, "recordingFormat": "wav", "retentionDays": 30,
        "analyticsEnabled": true, "hipaaEnabled": true, "pciEnabled": false,
        "dataEncryptionEnabled": true, "webhookUrl": "https://hooks.legacy.example/x",
        "webhookTimeoutSeconds": 15
    });
    let alerts = json!({
        "alertThresholds": [25, 75], "alertEmails": ["ops@legacy.example"],
        "actionAt100": "block_new_calls"
    });
    let plan = "INSERT INTO plans (id, code, name, amount_cents, monthly_spend_limit_cents, \
                max_agents, max_phone_numbers, max_concurrent_calls, monthly_call_limit, \
                max_minutes_per_month, created_at, updated_at) \
                VALUES ($1, 'legacy', 'Legacy', 100, NULL, 7, NULL, 3, 99, NULL, $2, $2)";
    let tenant = "INSERT INTO tenants (id, agency_id, name, slug, status, plan_id, billing_mode, \
                  monthly_spend_limit_cents, max_agents, billing_alerts, settings, metadata, \
                  owner_email, owner_name, created_at, updated_at) \
                  VALUES ($1, NULL, 'Legacy Corp', 'legacy-corp', 'active', $2, \
                  'platform_billed', 12345, 9, $3, $4, $5, 'owner@legacy.example', 'Lee Gacy', \
                  $6, $6)";
    let counters = "INSERT INTO tenant_counters (tenant_id) VALUES ($1)";
    let agency = "INSERT INTO agencies (id, name, markup_percent, metadata, created_at, \
                  updated_at) VALUES ($1, 'Legacy Agency', 0, $2, $3, $3)";
    let client = "INSERT INTO tenants (id, agency_id, name, slug, status, plan_id, billing_mode, \
                  billing_alerts, settings, metadata, created_at, updated_at) \
                  VALUES ($1, $2, 'Legacy Client', 'legacy-client', 'active', $3, \
                  'platform_billed', $4, $5, $6, $7, $7)";
    let daily = "INSERT INTO usage_daily (tenant_id, day, channel, conversations, seconds, \
                 cost_cents, sentiment_micros_sum, sentiment_count) \
                 VALUES ($1, $2, $3, $4, 60, $5, 0, 0)";
    let metadata = json!({ "crm": "legacy-7" });
    macro_rules! run {
        ($pool:expr) => {{
            sqlx::query(plan)
                .bind(PLAN)
                .bind(now)
                .execute($pool)
                .await
                .expect("an old plan");
            sqlx::query(tenant)
                .bind(TENANT)
                .bind(PLAN)
                .bind(sqlx::types::Json(&alerts))
                .bind(sqlx::types::Json(&settings))
                .bind(sqlx::types::Json(&metadata))
                .bind(now)
                .execute($pool)
                .await
                .expect("an old tenant");
            sqlx::query(counters)
                .bind(TENANT)
                .execute($pool)
                .await
                .expect("its counters");
            sqlx::query(agency)
                .bind(AGENCY)
                .bind(sqlx::types::Json(json!({})))
                .bind(now)
                .execute($pool)
                .await
                .expect("an old agency");
            sqlx::query(client)
                .bind(CLIENT)
                .bind(AGENCY)
                .bind(PLAN)
                .bind(sqlx::types::Json(&alerts))
                .bind(sqlx::types::Json(&settings))
                .bind(sqlx::types::Json(json!({})))
                .bind(now)
                .execute($pool)
                .await
                .expect("its client");
            sqlx::query(counters)
                .bind(CLIENT)
                .execute($pool)
                .await
                .expect("the client's counters");
            for (day, channel, conversations, cost) in CLIENT_DAYS {
                let day: chrono::NaiveDate = day.parse().unwrap();
                sqlx::query(daily)
                    .bind(CLIENT)
                    .bind(day)
                    .bind(channel)
                    .bind(conversations)
                    .bind(cost)
                    .execute($pool)
                    .await
                    .expect("a daily rollup");
            }
        }};
    }
    match db {
        Old::Sqlite(pool) => run!(pool),
        Old::Postgres(pool) => run!(pool),
    }
}

/// What the old rows must read as after the migration.
async fn reads_back_as_before(app: TestApp) {
    let platform = app.platform();
    let id = format!("ten_{}", tenantry::domain::ids::encode_suffix(TENANT));
    let tenant = platform.get(&format!("/api/v1/tenants/{id}")).await;
    tenant.assert_status(StatusCode::OK);
    let body = &tenant.body;
    assert_eq!(body["plan"], "legacy");
    assert_eq!(
        body["usageLimits"],
        json!({ "monthlySpendLimitCents": 12345, "maxAgents": 9 })
    );
    let effective = body["effectiveLimits"].as_object().unwrap();
    assert_eq!(effective["maxAgents"], 9, "{body}");
    assert_eq!(effective["maxConcurrentCalls"], 3);
    assert_eq!(effective["monthlyCallLimit"], 99);
    assert_eq!(effective["monthlySpendLimitCents"], 12345);
    for unlimited in [
        "maxPhoneNumbers",
        "maxMinutesPerMonth",
        "maxSquads",
        "maxFilesGb",
    ] {
        assert_eq!(effective[unlimited], Value::Null, "{unlimited}");
    }
    assert_eq!(
        body["settings"],
        json!({
            "sipEnabled": true, "sipDomain": "sip.legacy.example", "sipUsername": null,
            "recordingEnabled": false, "recordingFormat": "wav", "retentionDays": 30,
            "analyticsEnabled": true, "hipaaEnabled": true, "pciEnabled": false,
            "dataEncryptionEnabled": true, "webhookUrl": "https://hooks.legacy.example/x",
            "webhookTimeoutSeconds": 15
        })
    );
    assert_eq!(
        body["billingAlerts"],
        json!({ "alertThresholds": [25, 75], "alertEmails": ["ops@legacy.example"],
                "actionAt100": "block_new_calls", "thresholdActions": {} })
    );
    assert_eq!(body["metadata"], json!({ "crm": "legacy-7" }));

    let plan = platform.get("/api/v1/plans/legacy").await;
    plan.assert_status(StatusCode::OK);
    assert_eq!(
        plan.body["entitlements"],
        json!({ "maxAgents": 7, "maxConcurrentCalls": 3, "monthlyCallLimit": 99 })
    );
    let free = platform.get("/api/v1/plans/free").await;
    assert_eq!(
        free.body["entitlements"],
        json!({ "maxAgents": 10, "maxPhoneNumbers": 1, "maxConcurrentCalls": 10,
                "monthlyCallLimit": 1000, "maxMinutesPerMonth": 5000,
                "apiStandardPerMinute": 60, "apiWritePerMinute": 20 })
    );

    // The migrated limits are the ones admission enforces: the plan's concurrency of 3.
    let path = format!("/api/v1/tenants/{id}/calls");
    for _ in 0..3 {
        platform
            .post(&path, &json!({ "channel": "phone" }))
            .await
            .assert_status(StatusCode::CREATED);
    }
    platform
        .post(&path, &json!({ "channel": "phone" }))
        .await
        .assert_limit(
            StatusCode::TOO_MANY_REQUESTS,
            "concurrency_limit_exceeded",
            "maxConcurrentCalls",
            3,
            3,
        );
    agency_usage_reads_back(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn limit_columns_and_setting_documents_migrate_forward_on_sqlite() {
    let app =
        TestApp::sqlite_prepared(|url| async move { migrate_up_to(&url, BEFORE_LIMIT_ROWS).await })
            .await;
    reads_back_as_before(app).await;
}

#[tokio::test]
async fn limit_columns_and_setting_documents_migrate_forward_on_postgres() {
    let Some(app) =
        TestApp::postgres_prepared(
            |url| async move { migrate_up_to(&url, BEFORE_LIMIT_ROWS).await },
        )
        .await
    else {
        return;
    };
    reads_back_as_before(app).await;
}

/// The agency's report over rollups counted before the monthly series, for ranges inside,
/// across and between the months with usage; and usage counted after the migration joins them.
async fn agency_usage_reads_back(app: &TestApp) {
    let platform = app.platform();
    let agency = format!("agn_{}", tenantry::domain::ids::encode_suffix(AGENCY));
    let client = format!("ten_{}", tenantry::domain::ids::encode_suffix(CLIENT));
    let report = |from: String, to: String| {
        let path =
            format!("/api/v1/agency/analytics?agencyId={agency}&dateFrom={from}&dateTo={to}");
        let platform = platform.clone();
        async move {
            let answer = platform.get(&path).await;
            answer.assert_status(StatusCode::OK);
            answer.body
        }
    };
    for (from, to, conversations, cents) in [
        ("2025-01-01", "2025-01-31", 5, 350),
        ("2025-01-16", "2025-04-01", 3, 57),
        ("2025-02-01", "2025-03-31", 0, 0),
        ("2025-04-01", "2025-04-01", 1, 7),
        ("2024-12-01", "2025-12-01", 6, 357),
        ("2024-01-01", "2024-12-31", 0, 0),
    ] {
        let body = report(from.into(), to.into()).await;
        assert_eq!(
            body["totalConversations"], conversations,
            "{from}..{to}: {body}"
        );
        assert_eq!(body["totalCostCents"], cents, "{from}..{to}: {body}");
        assert_eq!(body["totalTenants"], 1);
        let top = body["topTenants"].as_array().unwrap();
        assert_eq!(top.len(), usize::from(conversations > 0), "{body}");
    }
    let now = Utc::now();
    let events = json!({ "events": [crate::support::event("new", now, "phone", 60, 1000, None)] });
    platform
        .post(&format!("/api/v1/tenants/{client}/usage-events"), &events)
        .await
        .assert_status(StatusCode::OK);
    let today = now.date_naive().to_string();
    let body = report(today.clone(), today).await;
    assert_eq!(body["totalConversations"], 1, "{body}");
    assert_eq!(body["totalCostCents"], 1000, "{body}");
    let january = report("2025-01-01".into(), "2025-01-31".into()).await;
    assert_eq!(january["totalConversations"], 5, "{january}");
}

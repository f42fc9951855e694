//! Retention: a tenant's call details, raw usage events and recordings older than its
//! `retentionDays` are deleted by the job's pass, with the recordings' bytes; newer ones and
//! the daily rollups stay, and so does every other tenant's data.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::support::{Client, TenantFixture, TestApp};

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = app
        .db()
        .store()
        .reader()
        .fetch_one(tenantry::store::query(sql.to_owned()))
        .await
        .unwrap();
    n
}

/// A call that ended, with a recording.
async fn recorded_call(tenant: &TenantFixture) -> String {
    let call = tenant.admit("phone").await;
    tenant.end(&call, 60, 10, None).await;
    let id = call["id"].as_str().unwrap().to_owned();
    let client: &Client = &tenant.client;
    client
        .send(
            client
                .request(
                    reqwest::Method::PUT,
                    &tenant.path(&format!("/calls/{id}/recording")),
                )
                .header("content-type", "audio/mp4")
                .body("audio bytes"),
        )
        .await
        .assert_status(StatusCode::CREATED);
    id
}

both!(
    old_call_details_and_recordings_go_and_rollups_stay,
    |app| async move {
        let tenant = app
            .tenant()
            .name("Short memory")
            .field("settings", json!({ "retentionDays": 30 }))
            .create()
            .await;
        let keeper = app.tenant().name("Long memory").create().await;
        let old = recorded_call(&tenant).await;
        let recent = recorded_call(&tenant).await;
        let kept_elsewhere = recorded_call(&keeper).await;
        // The first call started 40 days ago (the API only ever records the present).
        let forty_days_ago = (Utc::now() - Duration::days(40)).to_rfc3339();
        app.db()
            .run_sql(&format!(
                "UPDATE calls SET started_at = '{forty_days_ago}' WHERE status = 'completed' \
             AND started_at = (SELECT MIN(started_at) FROM calls)"
            ))
            .await;
        // And two reported events, one of which happened 40 days ago.
        let hour_ago = (Utc::now() - Duration::hours(1)).to_rfc3339();
        let events: Vec<_> = ["old-event", "new-event"]
            .iter()
            .map(|id| {
                json!({ "id": id, "occurredAt": hour_ago, "channel": "phone",
                    "durationSeconds": 10, "costCents": 1 })
            })
            .collect();
        tenant
            .client
            .post(&tenant.path("/usage-events"), &json!({ "events": events }))
            .await
            .assert_status(StatusCode::OK);
        app.db()
            .run_sql(&format!(
                "UPDATE usage_events SET occurred_at = '{forty_days_ago}' WHERE id = 'old-event'"
            ))
            .await;
        let daily_before = count(&app, "SELECT COUNT(*) FROM usage_daily").await;

        let swept = tenantry::service::retention::sweep(app.context(), Utc::now())
            .await
            .unwrap();
        assert_eq!((swept.calls, swept.recordings, swept.events), (1, 1, 1));
        assert_eq!(count(&app, "SELECT COUNT(*) FROM usage_events").await, 1);
        let call_path = |id: &str| tenant.path(&format!("/calls/{id}"));
        tenant
            .client
            .get(&call_path(&old))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        tenant
            .client
            .get(&call_path(&recent))
            .await
            .assert_status(StatusCode::OK);
        tenant
            .client
            .get(&tenant.path(&format!("/calls/{old}/recording")))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        tenant
            .client
            .get(&tenant.path(&format!("/calls/{recent}/recording")))
            .await
            .assert_status(StatusCode::OK);
        keeper
            .client
            .get(&keeper.path(&format!("/calls/{kept_elsewhere}/recording")))
            .await
            .assert_status(StatusCode::OK);
        // The rollups keep what the calls added up to; only two recordings' bytes remain.
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM usage_daily").await,
            daily_before
        );
        let stored = walkdir(app.data_dir().join("objects"));
        assert_eq!(stored, 2, "the old recording's bytes are gone");

        // A second pass finds nothing more.
        let again = tenantry::service::retention::sweep(app.context(), Utc::now())
            .await
            .unwrap();
        assert_eq!(again, Default::default());
    }
);

/// How many files lie under `dir`.
fn walkdir(dir: std::path::PathBuf) -> usize {
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walkdir(path)
            } else {
                1
            }
        })
        .sum()
}

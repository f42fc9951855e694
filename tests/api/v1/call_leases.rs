//! Leases: heartbeats keep a call's slot; a call whose data plane went quiet expires, gives
//! its slot back, and still takes the usage of a late end. The reaper's pass runs here at a
//! chosen instant, so nothing waits for a lease to run out.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::support::{time, Settings};

both!(
    a_heartbeat_extends_the_lease,
    Settings::call_lease_seconds(30),
    |app| async move {
        let tenant = app.tenant().create().await;
        let call = tenant.admit("phone").await;
        let id = call["id"].as_str().unwrap();
        let first_lease = time(&call["leaseExpiresAt"]);
        let lease_length = app.settings().call_lease;
        assert_eq!(lease_length, Duration::seconds(30));
        assert_eq!(first_lease - time(&call["startedAt"]), lease_length);

        let beat = tenant.heartbeat(id).await;
        beat.assert_status(StatusCode::OK);
        assert_eq!(beat.body["id"], id);
        assert_eq!(beat.body["status"], "active");
        let lease = time(&beat.body["leaseExpiresAt"]);
        assert!(lease > first_lease, "{lease} is not after {first_lease}");
        assert!(lease <= Utc::now() + lease_length);
        let read = tenant
            .client
            .get(&tenant.path(&format!("/calls/{id}")))
            .await;
        assert_eq!(read.body["leaseExpiresAt"], beat.body["leaseExpiresAt"]);

        // The reaper takes only calls whose lease ended before its clock.
        let db = app.db();
        assert_eq!(db.expire_calls(first_lease, 100).await.unwrap(), 0);
        assert_eq!(db.expire_calls(lease, 100).await.unwrap(), 0);
        assert_eq!(tenant.limits().await["activeCalls"], 1);
        assert_eq!(
            db.expire_calls(lease + Duration::seconds(1), 100)
                .await
                .unwrap(),
            1
        );
        let read = tenant
            .client
            .get(&tenant.path(&format!("/calls/{id}")))
            .await;
        assert_eq!(read.body["status"], "expired", "{}", read.text);
    }
);

both!(
    an_expired_call_frees_its_slot_and_a_late_end_still_counts,
    Settings::call_lease_seconds(30),
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxConcurrentCalls": 1 }))
            .create()
            .await;
        let quiet = tenant.admit("phone").await;
        let quiet_id = quiet["id"].as_str().unwrap();
        let today = time(&quiet["startedAt"]).date_naive();
        tenant
            .start_call(&json!({ "channel": "webrtc" }))
            .await
            .assert_limit(
                StatusCode::TOO_MANY_REQUESTS,
                "concurrency_limit_exceeded",
                "maxConcurrentCalls",
                1,
                1,
            );

        let db = app.db();
        assert_eq!(db.expire_calls(Utc::now(), 100).await.unwrap(), 0);
        let after_the_lease = Utc::now() + Duration::seconds(31);
        assert_eq!(db.expire_calls(after_the_lease, 100).await.unwrap(), 1);
        assert_eq!(db.expire_calls(after_the_lease, 100).await.unwrap(), 0);

        let expired = tenant
            .client
            .get(&tenant.path(&format!("/calls/{quiet_id}")))
            .await;
        expired.assert_status(StatusCode::OK);
        assert_eq!(expired.body["status"], "expired");
        assert_eq!(expired.body["endedAt"], quiet["leaseExpiresAt"]);
        assert_eq!(tenant.limits().await["activeCalls"], 0);
        tenant
            .heartbeat(quiet_id)
            .await
            .assert_problem(StatusCode::CONFLICT, "call_not_active");

        // The slot is free again.
        let next = tenant.admit("webrtc").await;
        assert_eq!(tenant.limits().await["activeCalls"], 1);
        let analytics = tenant.analytics_between(today, today).await;
        assert_eq!(analytics["conversations"], 1, "{analytics}");
        assert_eq!(analytics["channelBreakdown"]["phone"], 1);
        assert_eq!(analytics["totalSeconds"], 0);

        // The data plane comes back and reports the call: its usage counts, once.
        let ended = tenant.end(&quiet, 90, 250, Some(0.5)).await;
        assert_eq!(ended["durationSeconds"], 90);
        assert_eq!(ended["costCents"], 250);
        let replay = tenant
            .end_call(
                quiet_id,
                &json!({ "durationSeconds": 90, "costCents": 250, "sentimentScore": 0.5 }),
            )
            .await;
        replay.assert_status(StatusCode::OK);
        assert_eq!(replay.body, ended);
        let analytics = tenant.analytics_between(today, today).await;
        assert_eq!(analytics["conversations"], 1, "{analytics}");
        assert_eq!(analytics["channelBreakdown"]["phone"], 1);
        assert_eq!(analytics["totalSeconds"], 90);
        assert_eq!(analytics["totalCostCents"], 250);
        assert_eq!(analytics["avgSentimentScore"], 0.5);
        assert_eq!(
            tenant.limits().await["activeCalls"],
            1,
            "the late end frees nothing twice"
        );

        tenant.end(&next, 30, 50, None).await;
        let analytics = tenant.analytics_between(today, today).await;
        assert_eq!(analytics["conversations"], 2);
        assert_eq!(analytics["totalSeconds"], 120);
        assert_eq!(analytics["totalCostCents"], 300);
        assert_eq!(
            analytics["channelBreakdown"],
            json!({ "phone": 1, "webrtc": 1, "webchat": 0 })
        );
        let usage = tenant.usage_this_month().await;
        assert_eq!(usage["conversations"], 2, "{usage}");
        assert_eq!(usage["totalSeconds"], 120);
        assert_eq!(usage["totalCostCents"], 300);
        assert_eq!(tenant.limits().await["activeCalls"], 0);
    }
);

both!(only_an_active_call_takes_a_heartbeat, |app| async move {
    let tenant = app.tenant().name("Own").create().await;
    let other = app.tenant().name("Other").create().await;
    let call = tenant.admit("webchat").await;
    let id = call["id"].as_str().unwrap();
    tenant.end(&call, 12, 3, None).await;

    tenant
        .heartbeat(id)
        .await
        .assert_problem(StatusCode::CONFLICT, "call_not_active");
    other
        .heartbeat(id)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let unknown = tenantry::domain::ids::CallId::generate().to_string();
    tenant
        .heartbeat(&unknown)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    tenant.heartbeat("call_nope").await.assert_invalid("callId");

    let read = tenant
        .client
        .get(&tenant.path(&format!("/calls/{id}")))
        .await;
    assert_eq!(read.body["status"], "completed");
    assert_eq!(read.body["leaseExpiresAt"], call["leaseExpiresAt"]);
});

//! Races on one server: simultaneous starts never admit a call over the limit, overlapping
//! batches sent at once count each id once, and reapers racing each other and late ends
//! count each call once.

use std::sync::Arc;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::both;
use crate::support::{event, simultaneous_starts, time, Answer, TenantFixture};

/// Exactly `limit` of `answers` were admitted; every other one was refused for concurrency.
#[track_caller]
pub fn assert_exactly_admitted(answers: &[Answer], limit: i64) {
    let mut admitted = 0;
    for answer in answers {
        if answer.status == StatusCode::CREATED {
            admitted += 1;
        } else {
            answer.assert_limit(
                StatusCode::TOO_MANY_REQUESTS,
                "concurrency_limit_exceeded",
                "maxConcurrentCalls",
                limit,
                limit,
            );
        }
    }
    assert_eq!(admitted, limit, "admitted");
}

/// The counters agree that `limit` calls are active.
pub async fn assert_active_calls(tenant: &TenantFixture, limit: i64) {
    let limits = tenant.limits().await;
    assert_eq!(limits["activeCalls"], limit, "{limits}");
    assert_eq!(limits["limits"]["maxConcurrentCalls"]["used"], limit);
    assert_eq!(limits["limits"]["maxConcurrentCalls"]["exceeded"], true);
    assert_eq!(limits["limits"]["monthlyCallLimit"]["used"], limit);
    let active = tenant
        .client
        .walk(&tenant.path("/calls?status=active"))
        .await;
    assert_eq!(active.len() as i64, limit);
    assert_eq!(
        tenant.client.walk(&tenant.path("/calls")).await.len() as i64,
        limit
    );
}

both!(
    a_hundred_and_fifty_simultaneous_starts_admit_exactly_ten,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxConcurrentCalls": 10 }))
            .create()
            .await;
        let answers = simultaneous_starts(
            std::slice::from_ref(&tenant.client),
            &tenant.path("/calls"),
            150,
        )
        .await;
        assert_exactly_admitted(&answers, 10);
        assert_active_calls(&tenant, 10).await;
    }
);

/// The seconds and cents of pool event `i`, varied so that sums show double counting.
fn pool_event(i: usize, now: chrono::DateTime<Utc>) -> Value {
    let i = i as i64;
    event(
        &format!("pool-{i:04}"),
        now,
        "phone",
        1 + i % 7,
        3 + i % 11,
        None,
    )
}

both!(
    overlapping_batches_sent_at_once_count_each_id_once,
    |app| async move {
        let tenant = app.tenant().create().await;
        let now = Utc::now();
        let today = now.date_naive();
        // Eight senders of 500 ids each from a pool of 1,000: sender k starts at id 125k and
        // wraps, so every id goes out four times. Half the senders go backwards.
        let senders = 8;
        let barrier = Arc::new(Barrier::new(senders));
        let tasks: Vec<_> = (0..senders)
            .map(|k| {
                let client = tenant.client.clone();
                let path = tenant.path("/usage-events");
                let barrier = barrier.clone();
                let mut ids: Vec<usize> = (0..500).map(|j| (k * 125 + j) % 1000).collect();
                if k % 2 == 1 {
                    ids.reverse();
                }
                tokio::spawn(async move {
                    barrier.wait().await;
                    let (mut accepted, mut duplicates) = (0, 0);
                    for chunk in ids.chunks(100) {
                        let events: Vec<Value> =
                            chunk.iter().map(|&i| pool_event(i, now)).collect();
                        let answer = client.post(&path, &json!({ "events": events })).await;
                        answer.assert_status(StatusCode::OK);
                        accepted += answer.body["accepted"].as_i64().unwrap();
                        duplicates += answer.body["duplicates"].as_i64().unwrap();
                    }
                    (accepted, duplicates)
                })
            })
            .collect();
        let (mut accepted, mut duplicates) = (0, 0);
        for task in tasks {
            let (a, d) = task.await.expect("the sender runs");
            accepted += a;
            duplicates += d;
        }
        assert_eq!(accepted, 1000);
        assert_eq!(duplicates, 3000);

        let seconds: i64 = (0..1000).map(|i| 1 + i % 7).sum();
        let cents: i64 = (0..1000).map(|i| 3 + i % 11).sum();
        let analytics = tenant.analytics_between(today, today).await;
        assert_eq!(analytics["conversations"], 1000, "{analytics}");
        assert_eq!(analytics["totalSeconds"], seconds);
        assert_eq!(analytics["totalCostCents"], cents);
        let usage = tenant.usage_this_month().await;
        assert_eq!(usage["conversations"], 1000, "{usage}");
        assert_eq!(usage["totalSeconds"], seconds);
        assert_eq!(usage["totalCostCents"], cents);
        assert_eq!(app.stored_event_count(&tenant.id).await, 1000);
    }
);

both!(
    reapers_on_every_replica_racing_late_ends_count_each_call_once,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxConcurrentCalls": 40 }))
            .create()
            .await;
        let mut calls = Vec::new();
        for i in 0..30 {
            calls.push(tenant.admit(["phone", "webrtc", "webchat"][i % 3]).await);
        }
        let today = time(&calls[0]["startedAt"]).date_naive();
        let after_the_lease = Utc::now() + app.settings().call_lease + Duration::seconds(1);

        // Four replicas' reapers and the data plane's ends of every call, all at once: each call
        // ends either before its expiry or after it, and must count once either way.
        let barrier = Arc::new(Barrier::new(4 + calls.len()));
        let reapers: Vec<_> = (0..4)
            .map(|_| {
                let db = app.db().clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    db.expire_calls(after_the_lease, 100)
                        .await
                        .expect("the reaper runs")
                })
            })
            .collect();
        let ends: Vec<_> = calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let client = tenant.client.clone();
                let path = tenant.path(&format!("/calls/{}/end", call["id"].as_str().unwrap()));
                let barrier = barrier.clone();
                let outcome = json!({ "durationSeconds": i + 1, "costCents": 2 * i + 1 });
                tokio::spawn(async move {
                    barrier.wait().await;
                    client.post(&path, &outcome).await
                })
            })
            .collect();
        let mut expired = 0;
        for reaper in reapers {
            expired += reaper.await.expect("the reaper task runs");
        }
        assert!(expired <= 30, "{expired} expiries of 30 calls");
        for end in ends {
            let answer = end.await.expect("the end task runs");
            answer.assert_status(StatusCode::OK);
            assert_eq!(answer.body["status"], "completed", "{}", answer.text);
        }
        assert_eq!(
            app.db().expire_calls(after_the_lease, 100).await.unwrap(),
            0
        );

        let seconds: i64 = (1..=30).sum();
        let cents: i64 = (0..30).map(|i| 2 * i + 1).sum();
        let analytics = tenant.analytics_between(today, today).await;
        assert_eq!(analytics["conversations"], 30, "{analytics}");
        assert_eq!(
            analytics["channelBreakdown"],
            json!({ "phone": 10, "webrtc": 10, "webchat": 10 })
        );
        assert_eq!(analytics["totalSeconds"], seconds);
        assert_eq!(analytics["totalCostCents"], cents);
        let usage = tenant.usage_this_month().await;
        assert_eq!(usage["conversations"], 30, "{usage}");
        assert_eq!(usage["totalSeconds"], seconds);
        assert_eq!(usage["totalCostCents"], cents);
        assert_eq!(tenant.limits().await["activeCalls"], 0);
    }
);

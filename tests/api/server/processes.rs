//! The real binary under stress: several `tenantry serve` replicas on one PostgreSQL never
//! admit a call over the limit, and a server killed with `kill -9` in the middle of ingestion
//! has kept every event it acknowledged, and a server told to stop as soon as it listens stops
//! cleanly.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::process::{Replicas, Served};
use crate::support::{event, simultaneous_starts, Client, TestApp};
use crate::v1::races::{assert_active_calls, assert_exactly_admitted};

#[tokio::test]
async fn three_servers_on_one_postgres_admit_exactly_ten() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let tenant = app
        .tenant()
        .limits(json!({ "maxConcurrentCalls": 10 }))
        .create()
        .await;
    let replicas = Replicas::start(&app).await;
    let key = tenant.client.key();
    let clients: Vec<Client> = replicas.servers.iter().map(|s| s.client(key)).collect();

    let answers = simultaneous_starts(&clients, &tenant.path("/calls"), 150).await;
    assert_exactly_admitted(&answers, 10);
    assert_active_calls(&tenant, 10).await;
    replicas.kill().await;
    app.finish().await;
}

/// How many batches each sender may send; the server dies long before.
const BATCHES_PER_SENDER: usize = 200;
/// Acknowledged batches after which the server is killed.
const KILL_AFTER: usize = 25;
const SENDERS: usize = 6;
const BATCH: usize = 100;

/// Sends batches to `url` until the server stops answering; every batch answered with a 2xx
/// goes to `acknowledged`.
async fn send_until_gone(
    sender: usize,
    url: String,
    key: String,
    now: chrono::DateTime<Utc>,
    acknowledged: tokio::sync::mpsc::UnboundedSender<Vec<Value>>,
) {
    let http = reqwest::Client::new();
    for batch in 0..BATCHES_PER_SENDER {
        let events: Vec<Value> = (0..BATCH)
            .map(|i| {
                event(
                    &format!("s{sender}-b{batch:03}-{i:03}"),
                    now,
                    "webrtc",
                    10,
                    2,
                    None,
                )
            })
            .collect();
        let sent = http
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({ "events": events }))
            .send()
            .await;
        match sent {
            Ok(answer) => {
                assert!(answer.status().is_success(), "{}", answer.status());
                let _ = acknowledged.send(events);
            }
            // The server is gone.
            Err(_) => return,
        }
    }
}

both!(
    events_acknowledged_before_a_kill_9_survive_it,
    |app| async move {
        let tenant = app.tenant().create().await;
        let server = Served::start(&app).await;
        let now = Utc::now();
        let today = now.date_naive();
        let (acks, mut acknowledged_batches) = tokio::sync::mpsc::unbounded_channel();
        let senders: Vec<_> = (0..SENDERS)
            .map(|sender| {
                let url = format!("{}{}", server.base_url, tenant.path("/usage-events"));
                let key = tenant.client.key().to_owned();
                tokio::spawn(send_until_gone(sender, url, key, now, acks.clone()))
            })
            .collect();
        drop(acks);

        let mut acknowledged: Vec<Value> = Vec::new();
        let mut batches = 0;
        let mut running = Some(server);
        while let Some(events) = acknowledged_batches.recv().await {
            acknowledged.extend(events);
            batches += 1;
            if batches == KILL_AFTER {
                running.take().expect("still running").kill().await;
            }
        }
        for sender in senders {
            sender.await.expect("the sender runs");
        }
        assert!(running.is_none(), "the server was killed mid-way");
        assert!(
            batches < SENDERS * BATCHES_PER_SENDER,
            "the kill came mid-way"
        );

        let restarted = Served::start(&app).await;
        let client = restarted.client(tenant.client.key());
        let path = tenant.path("/usage-events");
        for chunk in acknowledged.chunks(1000) {
            let again = client.post(&path, &json!({ "events": chunk })).await;
            again.assert_status(StatusCode::OK);
            assert_eq!(
                (
                    again.body["accepted"].as_i64(),
                    again.body["duplicates"].as_i64()
                ),
                (Some(0), Some(chunk.len() as i64)),
                "every acknowledged event is still there"
            );
        }
        let stored = app.stored_event_count(&tenant.id).await;
        assert!(
            stored >= acknowledged.len() as i64,
            "{stored} < {}",
            acknowledged.len()
        );
        // The counters moved with the events, in the same transactions.
        let analytics = client
            .get(&tenant.path(&format!("/analytics?dateFrom={today}&dateTo={today}")))
            .await;
        analytics.assert_status(StatusCode::OK);
        assert_eq!(
            analytics.body["conversations"], stored,
            "{}",
            analytics.text
        );
        assert_eq!(analytics.body["totalSeconds"], stored * 10);
        assert_eq!(analytics.body["totalCostCents"], stored * 2);
        let tenant_object = client.get(&tenant.path("")).await;
        assert_eq!(
            tenant_object.body["usageCurrentMonth"]["conversations"],
            stored
        );
        restarted.kill().await;
    }
);

// The operator's SIGTERM may come at any moment after the server says it listens, before it
// has served anything: it must still stop gracefully (`stop` asserts a clean exit), not die
// of the signal's default action.
both!(
    a_sigterm_right_after_listening_stops_the_server_gracefully,
    |app| async move {
        for _ in 0..5 {
            let served = Served::start(&app).await;
            served.stop().await;
        }
    }
);

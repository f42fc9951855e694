//! An agency's monthly series stay exact under races: many tenants of one agency ingesting
//! batches across several months (late ones too) and ending calls at once, on one server of
//! either database and across three servers on one PostgreSQL. Afterwards the agency's report
//! over any range equals the sum of what was sent.

use std::sync::Arc;

use chrono::{Days, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Barrier;

use crate::both;
use crate::support::process::Replicas;
use crate::support::{event, AgencyFixture, Client, TestApp};

/// Tenants of the agency, all busy at once.
const TENANTS: usize = 3;
/// Racers per tenant.
const RACERS: usize = 24;
/// Events in each racer's batch.
const BATCH: u64 = 5;

/// What racer `racer` of a tenant sends: the day (days before today) and cost of each event.
fn batch_of(racer: usize) -> Vec<(u64, i64)> {
    (0..BATCH)
        .map(|k| {
            let back = (racer as u64 * 7 + k * 13) % 80;
            (back, racer as i64 * 10 + k as i64)
        })
        .collect()
}

/// Every third racer ends a call instead, costing this much, on today's date.
const CALL_CENTS: i64 = 333;

async fn race(app: &TestApp, servers: &[&str], round: usize) {
    let agency: AgencyFixture = app.agency().name(&format!("Busy {round}")).create().await;
    let mut tenants = Vec::new();
    for n in 0..TENANTS {
        tenants.push(
            app.tenant()
                .name(&format!("Busy client {n}"))
                .plan("enterprise")
                .of(&agency)
                .create()
                .await,
        );
    }
    let now = Utc::now();
    let today = now.date_naive();
    let start = Arc::new(Barrier::new(TENANTS * RACERS));
    let mut racers = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        for racer in 0..RACERS {
            let client: Client =
                app.client_of(servers[(t + racer) % servers.len()], tenant.client.key());
            let path = tenant.path("");
            let start = start.clone();
            racers.push(tokio::spawn(async move {
                start.wait().await;
                if racer % 3 == 0 {
                    let started = client
                        .post(&format!("{path}/calls"), &json!({ "channel": "webrtc" }))
                        .await;
                    started.assert_status(StatusCode::CREATED);
                    client
                        .post(
                            &format!("{path}/calls/{}/end", started.id()),
                            &json!({ "durationSeconds": 60, "costCents": CALL_CENTS }),
                        )
                        .await
                        .assert_status(StatusCode::OK);
                } else {
                    let events: Vec<_> = batch_of(racer)
                        .into_iter()
                        .enumerate()
                        .map(|(k, (back, cents))| {
                            let at = (now - chrono::Duration::days(back as i64)).min(Utc::now());
                            event(&format!("r{racer}-{k}"), at, "phone", 30, cents, None)
                        })
                        .collect();
                    let answer = client
                        .post(
                            &format!("{path}/usage-events"),
                            &json!({ "events": events }),
                        )
                        .await;
                    answer.assert_status(StatusCode::OK);
                    assert_eq!(answer.body["accepted"], BATCH, "{}", answer.text);
                }
            }));
        }
    }
    for racer in racers {
        racer.await.expect("the racer runs");
    }

    // What each tenant was sent, by day; the same for every tenant.
    let mut sent: Vec<(NaiveDate, i64)> = Vec::new();
    for racer in 0..RACERS {
        if racer % 3 == 0 {
            sent.push((today, CALL_CENTS));
        } else {
            for (back, cents) in batch_of(racer) {
                let at = (now - chrono::Duration::days(back as i64)).min(Utc::now());
                sent.push((at.date_naive(), cents));
            }
        }
    }
    for (from, to) in [
        (today - Days::new(90), today),
        (today - Days::new(40), today - Days::new(20)),
        (today, today),
        (today - Days::new(79), today - Days::new(79)),
    ] {
        let in_range: Vec<_> = sent
            .iter()
            .filter(|(d, _)| *d >= from && *d <= to)
            .collect();
        let conversations = in_range.len() as i64;
        let cents: i64 = in_range.iter().map(|(_, c)| c).sum();
        let got = agency.analytics_between(from, to).await;
        assert_eq!(
            got["totalConversations"],
            conversations * TENANTS as i64,
            "{from}..{to}: {got}"
        );
        assert_eq!(got["totalCostCents"], cents * TENANTS as i64);
        for top in got["topTenants"].as_array().unwrap() {
            assert_eq!(top["conversations"], conversations, "{got}");
        }
    }
}

both!(
    an_agencys_series_stay_exact_under_a_race,
    |app| async move {
        let url = app.base_url().to_owned();
        race(&app, &[&url], 0).await;
    }
);

#[tokio::test]
async fn an_agencys_series_stay_exact_across_three_servers_on_one_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls = replicas.urls();
    for round in 0..2 {
        race(&app, &urls, round).await;
    }
    replicas.kill().await;
    app.finish().await;
}

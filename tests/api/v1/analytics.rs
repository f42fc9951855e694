//! Tenant analytics in the seed 003 shape: one tenant over a range of days, exact to the cent
//! and the second, every channel and every day present.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::{event, time, TenantFixture, TestApp};

/// One completed conversation of the known mix: day (days before today), channel, seconds,
/// cents and sentiment.
type Conversation = (i64, &'static str, i64, i64, Option<f64>);

/// Reported as events, on the days before today.
const REPORTED: [Conversation; 5] = [
    (4, "phone", 61, 123, Some(0.5)),
    (4, "webrtc", 59, 77, Some(-0.25)),
    (2, "phone", 3600, 9999, None),
    (2, "webchat", 1, 1, Some(1.0)),
    (1, "phone", 120, 250, Some(0.8)),
];

/// Ended through the API, today.
const ENDED: [Conversation; 2] = [
    (0, "phone", 95, 333, Some(0.1)),
    (0, "webrtc", 30, 45, None),
];

/// Builds the mix: the reported events, the ended calls, one call that expired unreported
/// (a webchat conversation of no length), one call still active (not a conversation yet),
/// and three agents of which one is inactive. Returns today.
async fn known_mix(app: &TestApp, tenant: &TenantFixture) -> NaiveDate {
    let expired = tenant.admit("webchat").await;
    let today = time(&expired["startedAt"]).date_naive();
    let after_the_lease = Utc::now() + app.settings().call_lease + Duration::seconds(1);
    assert_eq!(app.db().expire_calls(after_the_lease, 10).await.unwrap(), 1);

    let noon = today.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let events: Vec<Value> = REPORTED
        .iter()
        .enumerate()
        .map(|(i, (days_ago, channel, seconds, cents, sentiment))| {
            let at = noon - Duration::days(*days_ago);
            event(
                &format!("mix-{i}"),
                at,
                channel,
                *seconds,
                *cents,
                *sentiment,
            )
        })
        .collect();
    assert_eq!(tenant.ingest(&events).await, (5, 0));
    for (_, channel, seconds, cents, sentiment) in ENDED {
        let call = tenant.admit(channel).await;
        tenant.end(&call, seconds, cents, sentiment).await;
    }
    tenant.admit("phone").await;
    for (name, status) in [("Ava", "active"), ("Bo", "active"), ("Cy", "inactive")] {
        tenant
            .client
            .post(
                &tenant.path("/agents"),
                &json!({ "name": name, "status": status }),
            )
            .await
            .assert_status(StatusCode::CREATED);
    }
    today
}

fn day(date: NaiveDate, conversations: i64, seconds: i64, minutes: f64, cents: i64) -> Value {
    json!({
        "date": date.to_string(),
        "conversations": conversations,
        "seconds": seconds,
        "minutes": minutes,
        "costCents": cents,
        "costUsd": cents as f64 / 100.0,
    })
}

both!(
    tenant_analytics_add_up_to_the_cent_and_the_second,
    |app| async move {
        let tenant = app.tenant().create().await;
        let today = known_mix(&app, &tenant).await;
        let from = today - Duration::days(5);
        let analytics = tenant.analytics_between(from, today).await;

        assert_eq!(analytics["tenantId"], tenant.id.as_str());
        assert_eq!(
            analytics["period"],
            json!({ "from": from.to_string(), "to": today.to_string() })
        );
        assert_eq!(analytics["conversations"], 8, "{analytics}");
        assert_eq!(analytics["totalSeconds"], 3966);
        assert_eq!(analytics["totalMinutes"], 66.1);
        assert_eq!(analytics["totalCostCents"], 10828);
        assert_eq!(analytics["totalCostUsd"], 108.28);
        assert_eq!(
            analytics["channelBreakdown"],
            json!({ "phone": 4, "webrtc": 2, "webchat": 2 })
        );
        // (0.5 - 0.25 + 1.0 + 0.8 + 0.1) / 5
        assert_eq!(analytics["avgSentimentScore"], 0.43);
        assert_eq!(analytics["agentCount"], 3);
        assert_eq!(analytics["activeAgents"], 2);
        let d = |n: i64| today - Duration::days(n);
        assert_eq!(
            analytics["daily"],
            json!([
                day(d(5), 0, 0, 0.0, 0),
                day(d(4), 2, 120, 2.0, 200),
                day(d(3), 0, 0, 0.0, 0),
                day(d(2), 2, 3601, 60.02, 10000),
                day(d(1), 1, 120, 2.0, 250),
                day(d(0), 3, 125, 2.08, 378),
            ])
        );

        let yesterday = tenant.analytics_between(d(1), d(1)).await;
        assert_eq!(yesterday["conversations"], 1);
        assert_eq!(yesterday["avgSentimentScore"], 0.8);
        assert_eq!(
            yesterday["channelBreakdown"],
            json!({ "phone": 1, "webrtc": 0, "webchat": 0 })
        );
        let empty = tenant.analytics_between(d(3), d(3)).await;
        assert_eq!(empty["conversations"], 0);
        assert_eq!(empty["totalMinutes"], 0.0);
        assert_eq!(empty["totalCostUsd"], 0.0);
        assert_eq!(empty["avgSentimentScore"], json!(null));
        assert_eq!(
            empty["channelBreakdown"],
            json!({ "phone": 0, "webrtc": 0, "webchat": 0 })
        );
    }
);

both!(
    tenant_analytics_default_to_the_current_month,
    |app| async move {
        let tenant = app.tenant().create().await;
        let today = known_mix(&app, &tenant).await;
        let first = today.with_day(1).unwrap();
        let last = (first + chrono::Months::new(1)) - Duration::days(1);

        let month = tenant.analytics("").await;
        assert_eq!(
            month["period"],
            json!({ "from": first.to_string(), "to": last.to_string() })
        );
        let daily = month["daily"].as_array().unwrap();
        assert_eq!(daily.len() as u32, last.day());
        assert_eq!(daily[0]["date"], first.to_string());
        // Only the part of the mix that falls in this month.
        let this_month: Vec<&Conversation> = REPORTED
            .iter()
            .chain(ENDED.iter())
            .filter(|(days_ago, ..)| today - Duration::days(*days_ago) >= first)
            .collect();
        let seconds: i64 = this_month.iter().map(|c| c.2).sum();
        let cents: i64 = this_month.iter().map(|c| c.3).sum();
        assert_eq!(month["conversations"], this_month.len() as i64 + 1);
        assert_eq!(month["totalSeconds"], seconds);
        assert_eq!(month["totalCostCents"], cents);
        let by_days: i64 = daily.iter().map(|d| d["seconds"].as_i64().unwrap()).sum();
        assert_eq!(by_days, seconds);
    }
);

both!(analytics_ranges_are_checked, |app| async move {
    let tenant = app.tenant().create().await;
    let today = Utc::now().date_naive();
    let tenant = &tenant;
    let get = move |query: String| async move {
        tenant
            .client
            .get(&tenant.path(&format!("/analytics{query}")))
            .await
    };

    get(format!(
        "?dateFrom={}&dateTo={}",
        today,
        today - Duration::days(1)
    ))
    .await
    .assert_invalid("dateFrom");
    get(format!(
        "?dateFrom={}&dateTo={}",
        today - Duration::days(366),
        today
    ))
    .await
    .assert_invalid("dateTo");
    get("?dateFrom=2025-13-01".to_owned())
        .await
        .assert_invalid("dateFrom");
    get("?dateTo=tomorrow".to_owned())
        .await
        .assert_invalid("dateTo");

    let widest = get(format!(
        "?dateFrom={}&dateTo={}",
        today - Duration::days(365),
        today
    ))
    .await;
    widest.assert_status(StatusCode::OK);
    assert_eq!(widest.body["daily"].as_array().unwrap().len(), 366);
    let one_day = tenant.analytics_between(today, today).await;
    assert_eq!(one_day["daily"].as_array().unwrap().len(), 1);
});

both!(
    an_agency_reads_the_analytics_of_its_own_tenants_only,
    |app| async move {
        let mine = app.agency().name("Mine").create().await;
        let theirs = app.agency().name("Theirs").create().await;
        let own = app.tenant().name("My client").of(&mine).create().await;
        let foreign = app.tenant().name("Their client").of(&theirs).create().await;
        own.admit("phone").await;

        let read = mine.client.get(&own.path("/analytics")).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body["tenantId"], own.id.as_str());
        assert_eq!(read.body, own.analytics("").await);
        // Hidden before the query is read.
        for query in ["", "?dateFrom=2025-02-01&dateTo=2025-01-31"] {
            mine.client
                .get(&foreign.path(&format!("/analytics{query}")))
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
    }
);

//! Usage events: batches of completed calls, each id counted once per tenant, a batch taken
//! whole or not at all, and late events counted on their own day and in their own month.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::event;

both!(
    a_batch_answers_what_it_accepted_and_what_it_had_already,
    |app| async move {
        let tenant = app.tenant().create().await;
        let now = Utc::now();
        let today = now.date_naive();
        let numbered = |n: i64| event(&format!("ev-{n}"), now, "phone", 60 + n, 10 * n, None);

        let first: Vec<Value> = (1..=5).map(numbered).chain([numbered(1)]).collect();
        assert_eq!(tenant.ingest(&first).await, (5, 1));
        let second: Vec<Value> = [4, 5, 6, 7, 6].into_iter().map(numbered).collect();
        assert_eq!(tenant.ingest(&second).await, (2, 3));
        assert_eq!(tenant.ingest(&[]).await, (0, 0));
        assert_eq!(tenant.ingest(&first).await, (0, 6));

        let analytics = tenant.analytics_between(today, today).await;
        assert_eq!(analytics["conversations"], 7, "{analytics}");
        assert_eq!(analytics["totalSeconds"], 61 + 62 + 63 + 64 + 65 + 66 + 67);
        assert_eq!(analytics["totalCostCents"], 280);
        assert_eq!(analytics["channelBreakdown"]["phone"], 7);
        let usage = tenant.usage_this_month().await;
        assert_eq!(usage["conversations"], 7, "{usage}");
        assert_eq!(usage["totalSeconds"], 448);
        assert_eq!(usage["totalCostCents"], 280);
        assert_eq!(app.stored_event_count(&tenant.id).await, 7);
    }
);

both!(ids_are_counted_per_tenant, |app| async move {
    let one = app.tenant().name("One").create().await;
    let two = app.tenant().name("Two").create().await;
    let shared = [event("same-id", Utc::now(), "webchat", 5, 5, None)];
    assert_eq!(one.ingest(&shared).await, (1, 0));
    assert_eq!(two.ingest(&shared).await, (1, 0));
    assert_eq!(one.ingest(&shared).await, (0, 1));
});

both!(one_bad_event_refuses_the_whole_batch, |app| async move {
    let tenant = app.tenant().name("Own").create().await;
    let other = app.tenant().name("Other").create().await;
    let foreign = other
        .client
        .post(&other.path("/agents"), &json!({ "name": "Bo" }))
        .await;
    foreign.assert_status(StatusCode::CREATED);
    let now = Utc::now();
    let today = now.date_naive();
    let batch: Vec<Value> = ["phone", "webrtc", "webchat", "phone", "webrtc"]
        .iter()
        .enumerate()
        .map(|(i, channel)| event(&format!("b-{i}"), now, channel, 30, 7, Some(0.1)))
        .collect();
    let before = tenant.snapshot(today, today).await;

    let spoiled = |index: usize, field: &str, value: Option<Value>| {
        let mut events = batch.clone();
        let object = events[index].as_object_mut().unwrap();
        match value {
            Some(value) => object.insert(field.to_owned(), value),
            None => object.remove(field),
        };
        events
    };
    let in_ten_minutes = (now + Duration::minutes(10)).to_rfc3339();
    let cases = [
        (
            "events[3].costCents",
            spoiled(3, "costCents", Some(json!(-1))),
        ),
        ("events[3].costCents", spoiled(3, "costCents", None)),
        (
            "events[1].occurredAt",
            spoiled(1, "occurredAt", Some(json!(in_ten_minutes))),
        ),
        (
            "events[0].occurredAt",
            spoiled(0, "occurredAt", Some(json!("yesterday"))),
        ),
        (
            "events[2].channel",
            spoiled(2, "channel", Some(json!("fax"))),
        ),
        (
            "events[0].durationSeconds",
            spoiled(0, "durationSeconds", Some(json!(-5))),
        ),
        (
            "events[4].sentimentScore",
            spoiled(4, "sentimentScore", Some(json!(1.5))),
        ),
        ("events[2].id", spoiled(2, "id", Some(json!("")))),
        ("events[2].id", spoiled(2, "id", None)),
        (
            "events[1].agentId",
            spoiled(1, "agentId", Some(json!(foreign.id()))),
        ),
        ("events[4].minutes", spoiled(4, "minutes", Some(json!(1)))),
    ];
    for (field, events) in &cases {
        tenant.post_events(events).await.assert_invalid(field);
    }
    let mut two_bad = spoiled(0, "costCents", Some(json!(-1)));
    two_bad[4]["durationSeconds"] = json!(-1);
    let answer = tenant.post_events(&two_bad).await;
    answer.assert_invalid("events[0].costCents");
    answer.assert_invalid("events[4].durationSeconds");

    assert_eq!(tenant.snapshot(today, today).await, before);
    assert_eq!(app.stored_event_count(&tenant.id).await, 0);
    // None of the good events of those batches was kept; an agent of the tenant's own is fine.
    let own = tenant
        .client
        .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
        .await;
    own.assert_status(StatusCode::CREATED);
    let mut good = batch.clone();
    good[1]["agentId"] = json!(own.id());
    assert_eq!(tenant.ingest(&good).await, (5, 0));
});

both!(a_batch_holds_at_most_a_thousand_events, |app| async move {
    let tenant = app.tenant().create().await;
    let now = Utc::now();
    let today = now.date_naive();
    let events: Vec<Value> = (0..1001)
        .map(|i| event(&format!("big-{i:04}"), now, "webchat", 1, 1, None))
        .collect();
    let before = tenant.snapshot(today, today).await;

    tenant.post_events(&events).await.assert_invalid("events");
    assert_eq!(tenant.snapshot(today, today).await, before);
    assert_eq!(app.stored_event_count(&tenant.id).await, 0);

    assert_eq!(tenant.ingest(&events[..1000]).await, (1000, 0));
    let analytics = tenant.analytics_between(today, today).await;
    assert_eq!(analytics["conversations"], 1000);
    assert_eq!(analytics["totalSeconds"], 1000);
    assert_eq!(analytics["totalCostCents"], 1000);
});

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1 exists")
}

both!(
    late_events_count_on_their_own_day_and_in_their_own_month,
    |app| async move {
        let tenant = app.tenant().create().await;
        let now = Utc::now();
        let today = now.date_naive();
        // Forty days back is never in the current month.
        let late = now - Duration::days(40);
        let late_day = late.date_naive();
        let events = [
            event("today", now, "phone", 100, 50, None),
            event("late", late, "webrtc", 200, 70, Some(0.2)),
        ];
        assert_eq!(tenant.ingest(&events).await, (2, 0));

        let on_its_day = tenant.analytics_between(late_day, late_day).await;
        assert_eq!(on_its_day["conversations"], 1, "{on_its_day}");
        assert_eq!(on_its_day["totalSeconds"], 200);
        assert_eq!(on_its_day["totalCostCents"], 70);
        assert_eq!(on_its_day["avgSentimentScore"], 0.2);
        assert_eq!(
            on_its_day["channelBreakdown"],
            json!({ "phone": 0, "webrtc": 1, "webchat": 0 })
        );
        let late_month = tenant
            .analytics_between(
                first_of_month(late_day),
                first_of_month(today) - Duration::days(1),
            )
            .await;
        assert_eq!(late_month["conversations"], 1, "{late_month}");
        assert_eq!(late_month["totalSeconds"], 200);

        let this_month = tenant.analytics("").await;
        assert_eq!(
            this_month["period"]["from"],
            first_of_month(today).to_string()
        );
        assert_eq!(this_month["conversations"], 1, "{this_month}");
        assert_eq!(this_month["totalSeconds"], 100);
        assert_eq!(this_month["totalCostCents"], 50);
        let usage = tenant.usage_this_month().await;
        assert_eq!(
            usage,
            json!({ "conversations": 1, "totalMinutes": 1.67, "totalSeconds": 100, "totalCostCents": 50 })
        );
        let limits = tenant.limits().await;
        assert_eq!(limits["limits"]["monthlyCallLimit"]["used"], 1, "{limits}");
        assert_eq!(limits["limits"]["maxMinutesPerMonth"]["used"], 1);
        assert_eq!(limits["limits"]["monthlySpendLimitCents"]["used"], 50);

        // A clock a little ahead of ours is tolerated.
        let ahead = [event(
            "ahead",
            now + Duration::minutes(4),
            "phone",
            1,
            1,
            None,
        )];
        assert_eq!(tenant.ingest(&ahead).await, (1, 0));
        assert_eq!(app.stored_event_count(&tenant.id).await, 3);
    }
);

//! Times and dates: the API accepts years 2000 to 9999 (UTC) wherever a client sends one —
//! query parameters, bodies and cursors — and answers 422 naming the field for any other.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::{Answer, TenantFixture};

/// A 422 naming `field` as out of the accepted range.
#[track_caller]
fn assert_out_of_range(answer: &Answer, field: &str) {
    answer.assert_invalid(field);
    assert_eq!(
        answer.field_code(field).as_deref(),
        Some("out_of_range"),
        "{}",
        answer.text
    );
}

fn forge(cursor: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap())
}

fn decode(cursor: &Value) -> Value {
    let text = cursor.as_str().expect("a cursor");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).expect("base64")).expect("JSON")
}

async fn event_at(tenant: &TenantFixture, id: &str, occurred_at: &str) -> Answer {
    let event = json!({
        "id": id, "occurredAt": occurred_at, "channel": "phone",
        "durationSeconds": 60, "costCents": 1,
    });
    tenant.post_events(&[event]).await
}

both!(call_lists_take_times_from_2000_to_9999, |app| async move {
    let tenant = app.tenant().create().await;
    let calls = tenant.path("/calls");
    for (query, field) in [
        ("from=-200000-01-01T00:00:00Z", "from"),
        ("to=-200000-01-01T00:00:00Z", "to"),
        ("from=1999-12-31T23:59:59.999999Z", "from"),
        // 01:00 at +02:00 is still 1999 in UTC.
        ("from=2000-01-01T01:00:00%2B02:00", "from"),
    ] {
        let answer = tenant.client.get(&format!("{calls}?{query}")).await;
        assert_out_of_range(&answer, field);
    }
    tenant
        .client
        .get(&format!("{calls}?to=%2B10000-01-01T00:00:00Z"))
        .await
        .assert_invalid("to");
    tenant.admit("phone").await;
    tenant.admit("webrtc").await;
    for query in [
        "from=2000-01-01T00:00:00Z",
        "to=9999-12-31T23:59:59.999999Z",
        "from=2000-01-01T00:00:00Z&to=9999-12-31T23:59:59.999999Z",
    ] {
        let answer = tenant.client.get(&format!("{calls}?{query}")).await;
        answer.assert_status(StatusCode::OK);
        assert_eq!(answer.body["data"].as_array().unwrap().len(), 2, "{query}");
    }

    // Cursors carry a time too: a forged one outside the range is refused, one inside works.
    let page = tenant.client.get(&format!("{calls}?limit=1")).await;
    page.assert_status(StatusCode::OK);
    let mut cursor = decode(&page.body["nextCursor"]);
    assert!(cursor["started_at"].is_string(), "{cursor}");
    for (time, status) in [
        ("-200000-01-01T00:00:00Z", StatusCode::UNPROCESSABLE_ENTITY),
        ("1999-12-31T23:59:59Z", StatusCode::UNPROCESSABLE_ENTITY),
        ("9999-12-31T23:59:59Z", StatusCode::OK),
    ] {
        cursor["started_at"] = json!(time);
        let answer = tenant
            .client
            .get(&format!("{calls}?cursor={}", forge(&cursor)))
            .await;
        answer.assert_status(status);
        if status == StatusCode::OK {
            assert_eq!(answer.body["data"].as_array().unwrap().len(), 2);
        } else {
            answer.assert_invalid("cursor");
        }
    }
});

both!(
    tenant_list_cursors_carry_times_from_2000_to_9999,
    |app| async move {
        let agency = app.agency().create().await;
        app.tenant().name("One").of(&agency).create().await;
        app.tenant().name("Two").of(&agency).create().await;
        let page = agency.client.get("/api/v1/tenants?limit=1").await;
        page.assert_status(StatusCode::OK);
        let mut cursor = decode(&page.body["nextCursor"]);
        assert!(cursor["value"]["time"].is_string(), "{cursor}");
        for (time, status) in [
            ("-200000-01-01T00:00:00Z", StatusCode::UNPROCESSABLE_ENTITY),
            ("+10000-01-01T00:00:00Z", StatusCode::UNPROCESSABLE_ENTITY),
            ("2000-01-01T00:00:00Z", StatusCode::OK),
        ] {
            cursor["value"]["time"] = json!(time);
            let answer = agency
                .client
                .get(&format!(
                    "/api/v1/tenants?limit=1&cursor={}",
                    forge(&cursor)
                ))
                .await;
            answer.assert_status(status);
            if status != StatusCode::OK {
                answer.assert_invalid("cursor");
            }
        }
    }
);

both!(analytics_take_dates_from_2000_to_9999, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    for path in [
        tenant.path("/analytics"),
        "/api/v1/agency/analytics".to_owned(),
    ] {
        for (query, field) in [
            ("dateFrom=-5000-01-01&dateTo=-5000-01-31", "dateFrom"),
            ("dateFrom=-5000-01-01", "dateFrom"),
            ("dateTo=-5000-01-31", "dateTo"),
            ("dateFrom=1999-12-31&dateTo=2000-01-01", "dateFrom"),
            ("dateFrom=9999-12-31&dateTo=%2B10000-01-01", "dateTo"),
        ] {
            let answer = agency.client.get(&format!("{path}?{query}")).await;
            assert_out_of_range(&answer, field);
        }
        // Not a YYYY-MM-DD date at all.
        agency
            .client
            .get(&format!("{path}?dateFrom=9999-12-31&dateTo=10000-01-01"))
            .await
            .assert_invalid("dateTo");
        for (from, to) in [("2000-01-01", "2000-01-31"), ("9999-12-01", "9999-12-31")] {
            let answer = agency
                .client
                .get(&format!("{path}?dateFrom={from}&dateTo={to}"))
                .await;
            answer.assert_status(StatusCode::OK);
            assert_eq!(answer.body["period"], json!({ "from": from, "to": to }));
        }
    }
});

both!(usage_events_occur_from_2000_on, |app| async move {
    let tenant = app.tenant().create().await;
    for (i, at) in [
        "-5000-01-01T00:00:00Z",
        "1999-12-31T23:59:59.999999Z",
        "+10000-01-01T00:00:00Z",
    ]
    .into_iter()
    .enumerate()
    {
        let answer = event_at(&tenant, &format!("e-{i}"), at).await;
        answer.assert_invalid("events[0].occurredAt");
    }
    assert_out_of_range(
        &event_at(&tenant, "old", "1999-12-31T23:59:59Z").await,
        "events[0].occurredAt",
    );
    // Year 9999 is in the range, but later than 5 minutes from now.
    let far = event_at(&tenant, "far", "9999-12-31T23:59:59Z").await;
    assert_eq!(
        far.field_code("events[0].occurredAt").as_deref(),
        Some("in_future"),
        "{}",
        far.text
    );
    assert_eq!(app.stored_event_count(&tenant.id).await, 0);

    let answer = event_at(&tenant, "y2k", "2000-01-01T00:00:00Z").await;
    answer.assert_status(StatusCode::OK);
    assert_eq!(answer.body["accepted"], 1);
    let analytics = tenant
        .analytics("?dateFrom=2000-01-01&dateTo=2000-01-01")
        .await;
    assert_eq!(analytics["conversations"], 1, "{analytics}");
    let recent = event_at(&tenant, "now", &Utc::now().to_rfc3339()).await;
    recent.assert_status(StatusCode::OK);
});

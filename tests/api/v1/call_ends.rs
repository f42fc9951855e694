//! Ending calls (idempotent, checked whole) and reading them back: the list with its filters
//! and pages, and one call.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::{time, TenantFixture};

fn ids(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .map(|c| c["id"].as_str().expect("an id").to_owned())
        .collect()
}

both!(
    ending_again_with_the_same_outcome_replays_the_answer,
    |app| async move {
        let tenant = app.tenant().create().await;
        let call = tenant.admit("phone").await;
        let id = call["id"].as_str().unwrap();
        let today = time(&call["startedAt"]).date_naive();
        let outcome = json!({
            "durationSeconds": 125,
            "costCents": 342,
            "sentimentScore": 0.75,
            "endedReason": "customer_hangup",
            "recordingUrl": "https://recordings.example.com/c/1.mp4",
        });

        let ended = tenant.end_call(id, &outcome).await;
        ended.assert_status(StatusCode::OK);
        let body = &ended.body;
        assert_eq!(body["id"], id);
        assert_eq!(body["status"], "completed");
        assert_eq!(body["durationSeconds"], 125);
        assert_eq!(body["costCents"], 342);
        assert_eq!(body["sentimentScore"], 0.75);
        assert_eq!(body["endedReason"], "customer_hangup");
        assert_eq!(
            body["recordingUrl"],
            "https://recordings.example.com/c/1.mp4"
        );
        assert_eq!(body["startedAt"], call["startedAt"]);
        assert!(time(&body["endedAt"]) >= time(&call["startedAt"]));

        let again = tenant.end_call(id, &outcome).await;
        again.assert_status(StatusCode::OK);
        assert_eq!(&again.body, body);

        let mut other = outcome.clone();
        other["durationSeconds"] = json!(126);
        tenant
            .end_call(id, &other)
            .await
            .assert_problem(StatusCode::CONFLICT, "call_already_ended");
        tenant
            .end_call(id, &json!({ "durationSeconds": 125, "costCents": 342 }))
            .await
            .assert_problem(StatusCode::CONFLICT, "call_already_ended");

        let read = tenant
            .client
            .get(&tenant.path(&format!("/calls/{id}")))
            .await;
        assert_eq!(&read.body, body);
        let analytics = tenant.analytics_between(today, today).await;
        assert_eq!(analytics["conversations"], 1, "{analytics}");
        assert_eq!(analytics["totalSeconds"], 125);
        assert_eq!(analytics["totalCostCents"], 342);
        let usage = tenant.usage_this_month().await;
        assert_eq!(
            usage,
            json!({ "conversations": 1, "totalMinutes": 2.08, "totalSeconds": 125, "totalCostCents": 342 })
        );
        assert_eq!(tenant.limits().await["activeCalls"], 0);
    }
);

both!(
    a_bad_outcome_names_its_field_and_ends_nothing,
    |app| async move {
        let tenant = app.tenant().create().await;
        let call = tenant.admit("webrtc").await;
        let id = call["id"].as_str().unwrap();
        let today = time(&call["startedAt"]).date_naive();
        let before = tenant.snapshot(today, today).await;

        let good = json!({ "durationSeconds": 60, "costCents": 10 });
        let with = |field: &str, value: Value| {
            let mut outcome = good.clone();
            outcome[field] = value;
            outcome
        };
        let without = |field: &str| {
            let mut outcome = good.clone();
            outcome.as_object_mut().unwrap().remove(field);
            outcome
        };
        let cases = [
            ("durationSeconds", with("durationSeconds", json!(-1))),
            ("durationSeconds", with("durationSeconds", json!(604_801))),
            ("durationSeconds", with("durationSeconds", json!("sixty"))),
            ("durationSeconds", without("durationSeconds")),
            ("costCents", with("costCents", json!(-1))),
            ("costCents", without("costCents")),
            ("sentimentScore", with("sentimentScore", json!(1.5))),
            ("sentimentScore", with("sentimentScore", json!(-1.01))),
            ("endedReason", with("endedReason", json!(""))),
            ("recordingUrl", with("recordingUrl", json!("not a url"))),
            ("minutes", with("minutes", json!(1))),
        ];
        for (field, outcome) in &cases {
            tenant.end_call(id, outcome).await.assert_invalid(field);
        }

        assert_eq!(tenant.snapshot(today, today).await, before);
        let read = tenant
            .client
            .get(&tenant.path(&format!("/calls/{id}")))
            .await;
        assert_eq!(read.body, call, "the call is untouched");
        // The edges of the ranges are fine.
        let ended = tenant.end(&call, 0, 0, Some(-1.0)).await;
        assert_eq!(ended["sentimentScore"], -1.0);
        let unknown = tenantry::domain::ids::CallId::generate().to_string();
        tenant
            .end_call(&unknown, &good)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
);

/// Five calls, oldest first: c1 phone with an agent (ended), c2 webrtc, c3 phone (ended),
/// c4 webchat, c5 phone.
async fn five_calls(tenant: &TenantFixture, agent_id: &str) -> Vec<Value> {
    let mut calls = Vec::new();
    let first = tenant
        .start_call(&json!({ "channel": "phone", "agentId": agent_id }))
        .await;
    first.assert_status(StatusCode::CREATED);
    calls.push(first.body);
    for channel in ["webrtc", "phone", "webchat", "phone"] {
        calls.push(tenant.admit(channel).await);
    }
    calls[0] = tenant.end(&calls[0], 10, 1, None).await;
    calls[2] = tenant.end(&calls[2], 20, 2, None).await;
    calls
}

both!(
    calls_list_newest_first_with_filters_and_pages,
    |app| async move {
        let tenant = app.tenant().create().await;
        let agent = tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await;
        agent.assert_status(StatusCode::CREATED);
        let calls = five_calls(&tenant, &agent.id()).await;
        let id = |n: usize| calls[n - 1]["id"].as_str().unwrap().to_owned();
        let started = |n: usize| calls[n - 1]["startedAt"].as_str().unwrap().to_owned();
        let tenant = &tenant;
        let list = move |query: String| async move {
            ids(&tenant
                .client
                .walk(&tenant.path(&format!("/calls{query}")))
                .await)
        };

        assert_eq!(
            list(String::new()).await,
            [id(5), id(4), id(3), id(2), id(1)]
        );
        let first_page = tenant.client.get(&tenant.path("/calls?limit=2")).await;
        first_page.assert_status(StatusCode::OK);
        assert_eq!(
            ids(first_page.body["data"].as_array().unwrap()),
            [id(5), id(4)]
        );
        assert!(first_page.body["nextCursor"].is_string());
        assert_eq!(
            list("?limit=2".into()).await,
            [id(5), id(4), id(3), id(2), id(1)]
        );
        assert_eq!(list("?status=completed".into()).await, [id(3), id(1)]);
        assert_eq!(
            list("?status=active&limit=1".into()).await,
            [id(5), id(4), id(2)]
        );
        assert!(list("?status=expired".into()).await.is_empty());
        assert_eq!(list("?channel=phone".into()).await, [id(5), id(3), id(1)]);
        assert_eq!(list("?channel=phone&status=active".into()).await, [id(5)]);
        assert_eq!(list(format!("?agentId={}", agent.id())).await, [id(1)]);
        assert_eq!(
            list(format!("?from={}", started(3))).await,
            [id(5), id(4), id(3)]
        );
        assert_eq!(list(format!("?to={}", started(3))).await, [id(2), id(1)]);
        assert_eq!(
            list(format!("?from={}&to={}", started(2), started(4))).await,
            [id(3), id(2)]
        );

        let read = tenant
            .client
            .get(&tenant.path(&format!("/calls/{}", id(3))))
            .await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body, calls[2]);

        for (query, field) in [
            ("status=over", "status"),
            ("channel=fax", "channel"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("from=yesterday", "from"),
            ("agentId=agt_nope", "agentId"),
        ] {
            tenant
                .client
                .get(&tenant.path(&format!("/calls?{query}")))
                .await
                .assert_invalid(field);
        }
    }
);

//! Transfers, as agencies use them (seed 003): one agency offers a client to another, which
//! accepts it; the tenant moves with everything it owns, the source loses sight of it, and
//! each agency's analytics keep the usage of the days it had the tenant.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::process::Replicas;
use crate::support::races::all_at_once;
use crate::support::{event, AgencyFixture, Client, TenantFixture, TestApp};

async fn offer(from: &AgencyFixture, tenant: &TenantFixture, to: Value) -> String {
    let answer = from
        .client
        .post(&tenant.path("/transfer"), &json!({ "targetAgencyId": to }))
        .await;
    answer.assert_status(StatusCode::CREATED);
    answer.id()
}

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|t| t["id"].as_str().unwrap()).collect()
}

/// The agency's analytics for one day: its tenants and conversations that day.
async fn analytics_on(agency: &AgencyFixture, day: chrono::NaiveDate) -> (i64, Vec<String>) {
    let path = format!("/api/v1/agency/analytics?dateFrom={day}&dateTo={day}");
    let answer = agency.client.get(&path).await;
    answer.assert_status(StatusCode::OK);
    let tenants = answer.body["topTenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    (answer.body["totalConversations"].as_i64().unwrap(), tenants)
}

both!(
    an_agency_hands_a_client_to_another_that_accepts,
    |app| async move {
        let source = app.agency().name("Northwind").create().await;
        let target = app.agency().name("Southwind").create().await;
        let tenant = app.tenant().name("Acme").of(&source).create().await;
        let agent = tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await
            .id();
        tenant
            .client
            .post(
                &tenant.path("/phone-numbers"),
                &json!({ "number": "+14155550123", "agentId": agent }),
            )
            .await
            .assert_status(StatusCode::CREATED);
        let earlier = Utc::now() - Duration::days(40);
        let before_move: Vec<Value> = (0..3)
            .map(|i| event(&format!("old-{i}"), earlier, "phone", 60, 125, None))
            .collect();
        assert_eq!(tenant.ingest(&before_move).await, (3, 0));

        let requested = source
            .client
            .post(
                &tenant.path("/transfer"),
                &json!({ "targetAgencyId": target.id, "note": "They moved offices" }),
            )
            .await;
        requested.assert_status(StatusCode::CREATED);
        let transfer = requested.id();
        assert!(transfer.starts_with("trf_"));
        let body = &requested.body;
        assert_eq!(body["state"], "pending");
        assert_eq!(body["tenantId"], tenant.id.as_str());
        assert_eq!(body["sourceAgencyId"], source.id.as_str());
        assert_eq!(body["targetAgencyId"], target.id.as_str());
        assert_eq!(body["note"], "They moved offices");
        let at = |field: &str| {
            chrono::DateTime::parse_from_rfc3339(body[field].as_str().unwrap()).unwrap()
        };
        assert_eq!(at("expiresAt") - at("createdAt"), Duration::days(7));
        source
            .client
            .post(
                &tenant.path("/transfer"),
                &json!({ "targetAgencyId": target.id }),
            )
            .await
            .assert_problem(StatusCode::CONFLICT, "transfer_pending");

        // Each side sees it from its own direction.
        let list = |agency: &AgencyFixture, query: &str| {
            let client = agency.client.clone();
            let path = format!("/api/v1/transfers{query}");
            async move { client.walk(&path).await }
        };
        assert_eq!(
            ids(&list(&source, "?direction=outgoing").await),
            [transfer.as_str()]
        );
        assert!(list(&source, "?direction=incoming").await.is_empty());
        assert_eq!(
            ids(&list(&target, "?direction=incoming").await),
            [transfer.as_str()]
        );
        assert!(list(&target, "?direction=outgoing").await.is_empty());
        assert_eq!(
            ids(&list(&target, "?state=pending").await),
            [transfer.as_str()]
        );
        assert!(list(&target, "?state=accepted").await.is_empty());

        // The source cannot answer, the target cannot cancel.
        let path = |action: &str| format!("/api/v1/transfers/{transfer}/{action}");
        source
            .client
            .post(&path("accept"), &json!({}))
            .await
            .assert_status(StatusCode::FORBIDDEN);
        target
            .client
            .post(&path("cancel"), &json!({}))
            .await
            .assert_status(StatusCode::FORBIDDEN);

        let accepted = target.client.post(&path("accept"), &json!({})).await;
        accepted.assert_status(StatusCode::OK);
        assert_eq!(accepted.body["state"], "accepted");
        assert!(accepted.body["decidedAt"].is_string());
        target
            .client
            .post(&path("accept"), &json!({}))
            .await
            .assert_problem(StatusCode::CONFLICT, "transfer_not_pending");

        // The tenant is the target's now, with its agents and numbers; the source lost it.
        source
            .client
            .get(&tenant.path(""))
            .await
            .assert_status(StatusCode::NOT_FOUND);
        let moved = target.client.get(&tenant.path("")).await;
        moved.assert_status(StatusCode::OK);
        assert_eq!(moved.body["agencyId"], target.id.as_str());
        assert_eq!(moved.body["tenantType"], "agency_client");
        let agents = target.client.walk(&tenant.path("/agents")).await;
        assert_eq!(ids(&agents), [agent.as_str()]);
        let numbers = target.client.walk(&tenant.path("/phone-numbers")).await;
        assert_eq!(numbers.len(), 1);
        assert_eq!(numbers[0]["agentId"], agent.as_str());
        tenant
            .client
            .get(&tenant.path(""))
            .await
            .assert_status(StatusCode::OK);

        // Usage stays with the agency of its day.
        let today = Utc::now();
        let after_move: Vec<Value> = (0..2)
            .map(|i| event(&format!("new-{i}"), today, "phone", 60, 125, None))
            .collect();
        assert_eq!(tenant.ingest(&after_move).await, (2, 0));
        let (old_day, new_day) = (earlier.date_naive(), today.date_naive());
        assert_eq!(
            analytics_on(&source, old_day).await,
            (3, vec![tenant.id.clone()])
        );
        assert_eq!(analytics_on(&source, new_day).await, (0, vec![]));
        assert_eq!(analytics_on(&target, old_day).await, (0, vec![]));
        assert_eq!(
            analytics_on(&target, new_day).await,
            (2, vec![tenant.id.clone()])
        );

        let trail: Vec<String> = target
            .client
            .walk(&tenant.path("/audit-log"))
            .await
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            trail[..3],
            [
                "transfer.accepted",
                "tenant.transferred",
                "transfer.requested"
            ]
        );
    }
);

both!(
    rejection_cancellation_and_expiry_end_a_pending_transfer,
    |app| async move {
        let source = app.agency().create().await;
        let target = app.agency().create().await;
        let tenant = app.tenant().of(&source).create().await;
        let to = json!(target.id);
        let decide = |client: &Client, id: &str, action: &str| {
            let client = client.clone();
            let path = format!("/api/v1/transfers/{id}/{action}");
            async move { client.post(&path, &json!({})).await }
        };

        let first = offer(&source, &tenant, to.clone()).await;
        let rejected = decide(&target.client, &first, "reject").await;
        assert_eq!(rejected.body["state"], "rejected", "{}", rejected.text);
        let second = offer(&source, &tenant, to.clone()).await;
        let cancelled = decide(&source.client, &second, "cancel").await;
        assert_eq!(cancelled.body["state"], "cancelled", "{}", cancelled.text);
        let third = offer(&source, &tenant, to.clone()).await;
        app.db()
            .run_sql("UPDATE transfers SET expires_at = created_at WHERE state = 'pending'")
            .await;
        let expired = target
            .client
            .get(&format!("/api/v1/transfers/{third}"))
            .await;
        assert_eq!(expired.body["state"], "expired");
        // The job marks it, once, as the system's change, and tells of it.
        let now = Utc::now();
        let ctx = app.context();
        assert_eq!(
            tenantry::service::transfers::expire_due(ctx, now)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            tenantry::service::transfers::expire_due(ctx, now)
                .await
                .unwrap(),
            0
        );
        let trail = source.client.walk(&tenant.path("/audit-log")).await;
        let entry = trail
            .iter()
            .find(|e| e["action"] == "transfer.expired")
            .unwrap();
        assert_eq!(entry["actor"], json!({ "type": "system", "id": null }));
        assert_eq!(entry["changes"]["state"]["after"], "expired");
        let events = crate::v1::events::events_of(&app, &tenant).await;
        assert_eq!(events.last().unwrap().kind.name(), "transfer.expired");
        decide(&target.client, &third, "accept")
            .await
            .assert_problem(StatusCode::CONFLICT, "transfer_not_pending");
        let listed = target.client.walk("/api/v1/transfers?state=expired").await;
        assert_eq!(ids(&listed), [third.as_str()]);
        assert!(target
            .client
            .walk("/api/v1/transfers?state=pending")
            .await
            .is_empty());
        // The tenant never moved, and an expired offer blocks no new one.
        let here = source.client.get(&tenant.path("")).await;
        assert_eq!(here.body["agencyId"], source.id.as_str());
        let fourth = offer(&source, &tenant, to).await;
        let all = source.client.walk("/api/v1/transfers").await;
        assert_eq!(ids(&all), [&fourth, &third, &second, &first]);
    }
);

both!(deleting_a_tenant_cancels_its_offer, |app| async move {
    let source = app.agency().create().await;
    let target = app.agency().create().await;
    let tenant = app.tenant().of(&source).create().await;
    let id = offer(&source, &tenant, json!(target.id)).await;
    source
        .client
        .delete(&tenant.path(""))
        .await
        .assert_status(StatusCode::OK);
    let read = target.client.get(&format!("/api/v1/transfers/{id}")).await;
    assert_eq!(read.body["state"], "cancelled", "{}", read.text);
    target
        .client
        .post(&format!("/api/v1/transfers/{id}/accept"), &json!({}))
        .await
        .assert_problem(StatusCode::CONFLICT, "transfer_not_pending");
});

both!(
    going_self_managed_is_accepted_by_the_platform,
    |app| async move {
        let source = app.agency().create().await;
        let tenant = app.tenant().of(&source).create().await;
        let id = offer(&source, &tenant, Value::Null).await;
        let path = format!("/api/v1/transfers/{id}/accept");
        source
            .client
            .post(&path, &json!({}))
            .await
            .assert_status(StatusCode::FORBIDDEN);
        let platform = app.platform();
        let incoming = platform.walk("/api/v1/transfers?direction=incoming").await;
        assert_eq!(ids(&incoming), [id.as_str()]);
        platform
            .post(&path, &json!({}))
            .await
            .assert_status(StatusCode::OK);
        let moved = platform.get(&tenant.path("")).await;
        assert_eq!(moved.body["agencyId"], Value::Null);
        assert_eq!(moved.body["tenantType"], "direct");
        // A self-managed tenant cannot be offered to self-management again.
        platform
            .post(
                &tenant.path("/transfer"),
                &json!({ "targetAgencyId": null }),
            )
            .await
            .assert_invalid("targetAgencyId");
        source
            .client
            .get(&tenant.path(""))
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
);

both!(a_bad_or_foreign_request_changes_nothing, |app| async move {
    let source = app.agency().create().await;
    let other = app.agency().create().await;
    let tenant = app.tenant().of(&source).create().await;
    let path = tenant.path("/transfer");
    let post = |body: Value| {
        let client = source.client.clone();
        let path = path.clone();
        async move { client.post(&path, &body).await }
    };
    post(json!({ "targetAgencyId": source.id }))
        .await
        .assert_invalid("targetAgencyId");
    let nowhere = "agn_01h455vb4pex5vsknk084sn02q";
    post(json!({ "targetAgencyId": nowhere }))
        .await
        .assert_invalid("targetAgencyId");
    post(json!({ "targetAgencyId": "nope" }))
        .await
        .assert_invalid("targetAgencyId");
    post(json!({ "targetAgencyId": other.id, "note": "x".repeat(1001) }))
        .await
        .assert_invalid("note");
    post(json!({ "targetAgencyId": other.id, "extra": 1 }))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    tenant
        .client
        .post(&path, &json!({ "targetAgencyId": other.id }))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    other
        .client
        .post(&path, &json!({ "targetAgencyId": other.id }))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    assert!(source.client.walk("/api/v1/transfers").await.is_empty());

    let id = offer(&source, &tenant, json!(other.id)).await;
    let stranger = app.agency().create().await;
    stranger
        .client
        .get(&format!("/api/v1/transfers/{id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    stranger
        .client
        .post(&format!("/api/v1/transfers/{id}/accept"), &json!({}))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    tenant
        .client
        .get("/api/v1/transfers")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    source
        .client
        .get("/api/v1/transfers?direction=sideways")
        .await
        .assert_invalid("direction");
});

/// Offers raced against each other make one transfer; an accept raced against a cancel
/// settles it one way, and the tenant is where the winner put it.
async fn transfer_race(app: &TestApp, urls: &[String], round: usize) {
    let source = app.agency().create().await;
    let target = app.agency().create().await;
    let tenant = app.tenant().of(&source).create().await;
    let clients_of = |agency: &AgencyFixture| -> Vec<Client> {
        urls.iter()
            .map(|url| app.client_of(url, agency.client.key()))
            .collect()
    };
    let offers = (0..8)
        .map(|_| {
            let body = json!({ "targetAgencyId": target.id });
            (Method::POST, tenant.path("/transfer"), body)
        })
        .collect();
    let answers = all_at_once(&clients_of(&source), offers).await;
    let made: Vec<&str> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .map(|a| a.body["id"].as_str().unwrap())
        .collect();
    assert_eq!(made.len(), 1, "round {round}");
    for answer in answers.iter().filter(|a| a.status != StatusCode::CREATED) {
        answer.assert_problem(StatusCode::CONFLICT, "transfer_pending");
    }
    let id = made[0].to_owned();
    let mut clients = clients_of(&target);
    clients.extend(clients_of(&source));
    let half = clients.len() / 2;
    let decisions = (0..clients.len())
        .map(|i| {
            let action = if i < half { "accept" } else { "cancel" };
            let path = format!("/api/v1/transfers/{id}/{action}");
            (Method::POST, path, json!({}))
        })
        .collect();
    let answers = all_at_once(&clients, decisions).await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .map(|a| &a.body)
        .collect();
    assert_eq!(won.len(), 1, "round {round}");
    let owner = if won[0]["state"] == "accepted" {
        &target
    } else {
        &source
    };
    let found = owner.client.get(&tenant.path("")).await;
    assert_eq!(found.body["agencyId"], owner.id.as_str(), "round {round}");
}

both!(transfer_races_hold_on_one_server, |app| async move {
    let urls = vec![app.base_url().to_owned()];
    for round in 0..3 {
        transfer_race(&app, &urls, round).await;
    }
});

#[tokio::test]
async fn transfer_races_hold_across_three_servers() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls: Vec<String> = replicas.urls().into_iter().map(str::to_owned).collect();
    for round in 0..3 {
        transfer_race(&app, &urls, round).await;
    }
    replicas.kill().await;
    app.finish().await;
}

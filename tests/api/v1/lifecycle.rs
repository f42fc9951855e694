//! Deactivating and reactivating a tenant, as its agency does: the tenant's own keys and people
//! are refused, new calls are refused while calls in progress end, agents are switched off and
//! exactly those come back, and the owner is told.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::support::people::person;
use crate::support::process::Replicas;
use crate::support::races::all_at_once;
use crate::support::{Client, TenantFixture, TestApp};

async fn agent_statuses(
    client: &crate::support::Client,
    tenant: &TenantFixture,
) -> Vec<(String, String)> {
    let mut agents: Vec<(String, String)> = client
        .walk(&tenant.path("/agents"))
        .await
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    agents.sort();
    agents
}

both!(
    an_agency_deactivates_and_reactivates_a_client,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().name("Northwind").create().await;
        let tenant = app
            .tenant()
            .name("Acme")
            .of(&agency)
            .field(
                "owner",
                json!({ "email": "owner@acme.example", "firstName": "Jo" }),
            )
            .create()
            .await;
        mailbox.invitation("owner@acme.example").await;
        for (name, status) in [("Ava", "active"), ("Bob", "active"), ("Cy", "inactive")] {
            tenant
                .client
                .post(
                    &tenant.path("/agents"),
                    &json!({ "name": name, "status": status }),
                )
                .await
                .assert_status(StatusCode::CREATED);
        }
        let person = person(
            &app,
            &mailbox,
            &agency.client,
            &tenant.path("/users/invite"),
            "pat@acme.example",
            "TenantUser",
        )
        .await;
        let in_progress = tenant.admit("phone").await;

        let deactivated = agency
            .client
            .post(
                &tenant.path("/deactivate"),
                &json!({ "reason": "Non-payment", "notifyOwner": true }),
            )
            .await;
        deactivated.assert_status(StatusCode::OK);
        assert_eq!(deactivated.body["status"], "inactive");
        assert_eq!(deactivated.body["deactivationReason"], "Non-payment");
        assert!(deactivated.body["deactivatedAt"].is_string());

        // The owner is told, under the agency's brand.
        let notice = mailbox.next_to("owner@acme.example").await;
        let text = notice.parts().text;
        assert!(
            text.contains("Northwind") && text.contains("Non-payment"),
            "{text}"
        );

        // The tenant's own key and people are refused everywhere; its agency still reads it.
        for answer in [
            tenant.client.get(&tenant.path("")).await,
            tenant.client.get(&tenant.path("/agents")).await,
            tenant
                .client
                .post(&tenant.path("/calls"), &json!({ "channel": "phone" }))
                .await,
            person.get("/api/v1/users/me").await,
        ] {
            answer.assert_problem(StatusCode::FORBIDDEN, "tenant_inactive");
        }
        agency
            .client
            .get(&tenant.path(""))
            .await
            .assert_status(StatusCode::OK);
        assert_eq!(
            agent_statuses(&agency.client, &tenant).await,
            [
                ("Ava".to_owned(), "inactive".to_owned()),
                ("Bob".to_owned(), "inactive".to_owned()),
                ("Cy".to_owned(), "inactive".to_owned())
            ]
        );
        // New calls are refused, the call in progress may end.
        tenant
            .start_call_as(&agency.client, &json!({ "channel": "phone" }))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "tenant_inactive");
        let call_id = in_progress["id"].as_str().unwrap();
        agency
            .client
            .post(
                &tenant.path(&format!("/calls/{call_id}/end")),
                &json!({ "durationSeconds": 30, "costCents": 5 }),
            )
            .await
            .assert_status(StatusCode::OK);
        // Deactivating twice is a conflict.
        agency
            .client
            .post(&tenant.path("/deactivate"), &json!({}))
            .await
            .assert_problem(StatusCode::CONFLICT, "tenant_not_active");

        let reactivated = agency
            .client
            .post(&tenant.path("/reactivate"), &json!({}))
            .await;
        reactivated.assert_status(StatusCode::OK);
        assert_eq!(reactivated.body["status"], "active");
        assert!(reactivated.body["deactivatedAt"].is_null());
        // Exactly the agents it switched off come back.
        assert_eq!(
            agent_statuses(&agency.client, &tenant).await,
            [
                ("Ava".to_owned(), "active".to_owned()),
                ("Bob".to_owned(), "active".to_owned()),
                ("Cy".to_owned(), "inactive".to_owned())
            ]
        );
        tenant
            .client
            .get(&tenant.path(""))
            .await
            .assert_status(StatusCode::OK);
        person
            .get("/api/v1/users/me")
            .await
            .assert_status(StatusCode::OK);
        tenant.admit("phone").await;
        agency
            .client
            .post(&tenant.path("/reactivate"), &json!({}))
            .await
            .assert_problem(StatusCode::CONFLICT, "tenant_not_inactive");
    }
);

both!(
    only_the_agency_or_the_platform_may_deactivate,
    |app| async move {
        let agency = app.agency().create().await;
        let other = app.agency().name("Other").create().await;
        let tenant = app.tenant().of(&agency).create().await;
        tenant
            .client
            .post(&tenant.path("/deactivate"), &json!({}))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        other
            .client
            .post(&tenant.path("/deactivate"), &json!({}))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        agency
            .client
            .post(&tenant.path("/deactivate"), &json!({ "reason": "" }))
            .await
            .assert_invalid("reason");
        agency
            .client
            .post(
                &tenant.path("/deactivate"),
                &json!({ "reason": "x".repeat(501) }),
            )
            .await
            .assert_invalid("reason");
        agency
            .client
            .post(
                &tenant.path("/deactivate"),
                &json!({ "notifyOwner": "yes" }),
            )
            .await
            .assert_invalid("notifyOwner");
        // Nothing changed on the way.
        let read = agency.client.get(&tenant.path("")).await;
        assert_eq!(read.body["status"], "active");
        // The platform may, and a tenant without an owner is deactivated without a notice.
        app.platform()
            .post(&tenant.path("/deactivate"), &json!({ "notifyOwner": true }))
            .await
            .assert_status(StatusCode::OK);
        app.platform()
            .post(&tenant.path("/reactivate"), &json!({}))
            .await
            .assert_status(StatusCode::OK);
    }
);

const RACERS: usize = 12;

/// Deactivations and reactivations raced: each request wins or is a 409, the tenant ends in a
/// state its agents agree with, and no agent that was off before is ever switched on.
async fn lifecycle_race(app: &TestApp, urls: &[String], round: usize) {
    let agency = app.agency().create().await;
    let clients: Vec<Client> = urls
        .iter()
        .map(|url| app.client_of(url, agency.client.key()))
        .collect();
    let tenant = app
        .tenant()
        .name(&format!("Raced {round}"))
        .of(&agency)
        .create()
        .await;
    for (name, status) in [("on", "active"), ("off", "inactive")] {
        tenant
            .client
            .post(
                &tenant.path("/agents"),
                &json!({ "name": name, "status": status }),
            )
            .await
            .assert_status(StatusCode::CREATED);
    }
    // All deactivations at once: exactly one wins.
    let requests = (0..RACERS)
        .map(|_| {
            (
                reqwest::Method::POST,
                tenant.path("/deactivate"),
                json!({ "reason": "race" }),
            )
        })
        .collect();
    let answers = all_at_once(&clients, requests).await;
    let won = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    let lost = answers
        .iter()
        .filter(|a| a.body["code"] == "tenant_not_active")
        .count();
    assert_eq!((won, lost), (1, RACERS - 1), "round {round}");
    // Then deactivations and reactivations mixed.
    let requests = (0..RACERS)
        .map(|i| {
            let action = if i % 2 == 0 {
                "/reactivate"
            } else {
                "/deactivate"
            };
            (reqwest::Method::POST, tenant.path(action), json!({}))
        })
        .collect();
    let answers = all_at_once(&clients, requests).await;
    assert!(answers
        .iter()
        .all(|a| a.status == StatusCode::OK || a.status == StatusCode::CONFLICT));
    let read = agency.client.get(&tenant.path("")).await;
    let status = read.body["status"].as_str().unwrap().to_owned();
    assert_eq!(
        read.body["deactivatedAt"].is_null(),
        status == "active",
        "round {round}"
    );
    let on = if status == "active" {
        "active"
    } else {
        "inactive"
    };
    assert_eq!(
        agent_statuses(&agency.client, &tenant).await,
        [
            ("off".to_owned(), "inactive".to_owned()),
            ("on".to_owned(), on.to_owned())
        ],
        "round {round}"
    );
}

both!(deactivation_races_hold_on_one_server, |app| async move {
    let urls = vec![app.base_url().to_owned()];
    for round in 0..3 {
        lifecycle_race(&app, &urls, round).await;
    }
});

#[tokio::test]
async fn deactivation_races_hold_across_three_servers_on_one_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls: Vec<String> = replicas.urls().into_iter().map(str::to_owned).collect();
    for round in 0..3 {
        lifecycle_race(&app, &urls, round).await;
    }
    replicas.kill().await;
    app.finish().await;
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = app
        .db()
        .store()
        .reader()
        .fetch_one(tenantry::store::query(sql.to_owned()))
        .await
        .unwrap();
    n
}

both!(
    a_deleted_tenant_is_hidden_refused_and_restorable,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let tenant = app.tenant().name("Gone").of(&agency).create().await;
        let pat = person(
            &app,
            &mailbox,
            &agency.client,
            &tenant.path("/users/invite"),
            "pat@gone.example",
            "TenantUser",
        )
        .await;
        let call = tenant.admit("phone").await;

        // A call in progress refuses the delete, and nothing changes.
        agency
            .client
            .delete(&tenant.path(""))
            .await
            .assert_problem(StatusCode::CONFLICT, "tenant_has_active_calls");
        let read = agency.client.get(&tenant.path("")).await;
        assert_eq!(read.body["status"], "active");
        tenant
            .client
            .get(&tenant.path(&format!("/calls/{}", call["id"].as_str().unwrap())))
            .await
            .assert_status(StatusCode::OK);
        tenant
            .client
            .delete(&tenant.path("?force=true"))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");

        // Forced, it ends the call as terminated.
        let deleted = agency.client.delete(&tenant.path("?force=true")).await;
        deleted.assert_status(StatusCode::OK);
        assert_eq!(deleted.body["status"], "deleted");
        let at = crate::support::time(&deleted.body["deletedAt"]);
        let purge = crate::support::time(&deleted.body["purgeAfter"]);
        assert_eq!((purge - at).num_days(), 30);
        assert_eq!(
            scalar(
                &app,
                "SELECT COUNT(*) FROM calls WHERE status = 'terminated'"
            )
            .await,
            1
        );
        assert_eq!(
            scalar(
                &app,
                "SELECT CAST(SUM(active_calls) AS BIGINT) FROM tenant_counters"
            )
            .await,
            0
        );

        // Its keys and people get 401; it leaves lists unless asked for; its agency restores it.
        tenant
            .client
            .get(&tenant.path(""))
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
        pat.get("/api/v1/users/me")
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
        assert!(agency.client.tenant_ids().await.is_empty());
        let listed = agency.client.get("/api/v1/tenants?status=deleted").await;
        assert_eq!(listed.body["data"][0]["id"], tenant.id.as_str());
        agency
            .client
            .get(&tenant.path(""))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        let other = app.agency().name("Other").create().await;
        other
            .client
            .post(&tenant.path("/restore"), &json!({}))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");

        let restored = agency
            .client
            .post(&tenant.path("/restore"), &json!({}))
            .await;
        restored.assert_status(StatusCode::OK);
        assert_eq!(restored.body["status"], "inactive");
        assert!(restored.body["deletedAt"].is_null() && restored.body["purgeAfter"].is_null());
        tenant
            .client
            .get(&tenant.path(""))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "tenant_inactive");
        agency
            .client
            .post(&tenant.path("/restore"), &json!({}))
            .await
            .assert_problem(StatusCode::CONFLICT, "tenant_not_deleted");
        agency
            .client
            .post(&tenant.path("/reactivate"), &json!({}))
            .await
            .assert_status(StatusCode::OK);
        tenant
            .client
            .get(&tenant.path(""))
            .await
            .assert_status(StatusCode::OK);
        pat.get("/api/v1/users/me")
            .await
            .assert_status(StatusCode::OK);

        // Past its grace period it cannot come back.
        agency
            .client
            .delete(&tenant.path(""))
            .await
            .assert_status(StatusCode::OK);
        app.db()
        .run_sql("UPDATE tenants SET purge_after = '2020-01-01T00:00:00+00:00' WHERE status = 'deleted'")
        .await;
        agency
            .client
            .post(&tenant.path("/restore"), &json!({}))
            .await
            .assert_problem(StatusCode::CONFLICT, "grace_period_over");
    }
);

both!(no_call_outlives_a_forced_delete, |app| async move {
    for round in 0..3 {
        let agency = app.agency().create().await;
        let tenant = app
            .tenant()
            .name(&format!("Busy {round}"))
            .of(&agency)
            .create()
            .await;
        let mut requests: Vec<_> = (0..RACERS)
            .map(|_| {
                (
                    reqwest::Method::POST,
                    tenant.path("/calls"),
                    json!({ "channel": "phone" }),
                )
            })
            .collect();
        requests.insert(
            RACERS / 2,
            (
                reqwest::Method::DELETE,
                tenant.path("?force=true"),
                json!({}),
            ),
        );
        let answers = all_at_once(std::slice::from_ref(&agency.client), requests).await;
        assert_eq!(
            answers[RACERS / 2].status,
            StatusCode::OK,
            "{}",
            answers[RACERS / 2].text
        );
        let counted = format!(
            "SELECT active_calls FROM tenant_counters \
             WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'Busy {round}')"
        );
        assert_eq!(scalar(&app, &counted).await, 0, "round {round}");
        let active = "SELECT COUNT(*) FROM calls c JOIN tenants t ON t.id = c.tenant_id \
             WHERE c.status = 'active' AND t.status = 'deleted'";
        assert_eq!(scalar(&app, active).await, 0, "round {round}");
    }
});

//! The audit trail: every change leaves one entry, in the change's transaction, with who made
//! it, through which request, and the fields before and after (secrets masked); entries are
//! listed by filters and cursor, and each tenant's hash chain verifies, or names where it was
//! tampered with.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::process::Replicas;
use crate::support::races::all_at_once;
use crate::support::{Client, TenantFixture, TestApp};

async fn entries(client: &Client, path: &str) -> Vec<Value> {
    client.walk(path).await
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect()
}

async fn verification(client: &Client, tenant: &TenantFixture) -> Value {
    let answer = client.get(&tenant.path("/audit-log/verify")).await;
    answer.assert_status(StatusCode::OK);
    answer.body.clone()
}

both!(
    each_change_is_recorded_with_its_actor_request_and_fields,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().name("Acme").of(&agency).create().await;
        let patch = agency
            .client
            .request(Method::PATCH, &tenant.path(""))
            .header("x-request-id", "req-audit-1")
            .json(&json!({ "name": "Acme Two", "settings": { "retentionDays": 30 } }));
        agency
            .client
            .send(patch)
            .await
            .assert_status(StatusCode::OK);
        let agent = tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await;
        agent.assert_status(StatusCode::CREATED);
        let minted = agency
            .client
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "ops", "tenantId": tenant.id }),
            )
            .await;
        minted.assert_status(StatusCode::CREATED);
        agency
            .client
            .post(&tenant.path("/deactivate"), &json!({ "reason": "Unpaid" }))
            .await
            .assert_status(StatusCode::OK);

        let log = entries(&agency.client, &tenant.path("/audit-log")).await;
        assert_eq!(
            actions(&log),
            [
                "tenant.deactivated",
                "api_key.created",
                "agent.created",
                "tenant.updated",
                // The tenant key its fixture mints.
                "api_key.created",
                "tenant.created"
            ]
        );
        for entry in &log {
            assert_eq!(entry["tenantId"], tenant.id.as_str());
            assert_eq!(entry["agencyId"], agency.id.as_str());
            assert!(entry["id"].as_str().unwrap().starts_with("aud_"));
        }
        let updated = &log[3];
        assert_eq!(updated["actor"]["type"], "key");
        assert!(updated["actor"]["id"].as_str().unwrap().starts_with("key_"));
        assert_eq!(updated["requestId"], "req-audit-1");
        assert_eq!(
            updated["target"],
            json!({ "type": "tenant", "id": tenant.id })
        );
        assert_eq!(
            updated["changes"],
            json!({
                "name": { "before": "Acme", "after": "Acme Two" },
                "settings.retentionDays": { "before": 90, "after": 30 }
            })
        );
        // Each request has an id of its own when the client sends none.
        let request_ids: std::collections::HashSet<&str> = log
            .iter()
            .map(|entry| entry["requestId"].as_str().unwrap())
            .collect();
        assert_eq!(request_ids.len(), log.len());
        assert_eq!(log[2]["actor"]["type"], "key");
        assert_ne!(
            log[2]["actor"]["id"], updated["actor"]["id"],
            "the tenant's own key"
        );
        assert_eq!(log[2]["target"]["id"], agent.body["id"]);
        assert_eq!(
            log[2]["changes"]["name"],
            json!({ "before": null, "after": "Ava" })
        );
        // A key's entry holds no secret.
        let secret = minted.body["key"].as_str().unwrap();
        assert!(!log[1].to_string().contains(secret));
        assert_eq!(log[1]["changes"]["role"]["after"], "TenantOwner");
        assert_eq!(
            log[0]["changes"]["status"],
            json!({ "before": "active", "after": "inactive" })
        );
        assert_eq!(
            verification(&agency.client, &tenant).await["valid"],
            json!(true)
        );
    }
);

both!(a_refused_change_leaves_no_entry, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    let events = crate::v1::events::events_of(&app, &tenant).await;
    agency
        .client
        .patch(
            &tenant.path(""),
            &json!({ "settings": { "retentionDays": 0 } }),
        )
        .await
        .assert_invalid("settings.retentionDays");
    agency
        .client
        .post(&tenant.path("/reactivate"), &json!({}))
        .await
        .assert_problem(StatusCode::CONFLICT, "tenant_not_inactive");
    tenant
        .client
        .post(&tenant.path("/deactivate"), &json!({}))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let log = entries(&agency.client, &tenant.path("/audit-log")).await;
    assert_eq!(actions(&log), ["api_key.created", "tenant.created"]);
    assert_eq!(crate::v1::events::events_of(&app, &tenant).await, events);
});

both!(secrets_read_as_the_mask, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    let created = tenant
        .client
        .post(
            &tenant.path("/integrations"),
            &json!({
                "kind": "crm",
                "name": "CRM",
                "config": { "provider": "hubspot", "apiKey": "plain-secret-value-1" }
            }),
        )
        .await;
    created.assert_status(StatusCode::CREATED);
    let log = entries(
        &agency.client,
        &tenant.path("/audit-log?action=integration.created"),
    )
    .await;
    assert_eq!(log.len(), 1);
    let text = log[0].to_string();
    assert!(!text.contains("plain-secret-value-1"), "{text}");
    assert_eq!(log[0]["changes"]["config.apiKey"]["after"], "********");
    assert_eq!(log[0]["changes"]["config.provider"]["after"], "hubspot");
    assert_eq!(log[0]["changes"]["name"]["after"], "CRM");
});

both!(
    lists_filter_by_action_actor_and_time_and_page_by_cursor,
    |app| async move {
        let agency = app.agency().create().await;
        let other = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let neighbour = app.tenant().of(&other).create().await;
        for n in 0..5 {
            agency
                .client
                .patch(&tenant.path(""), &json!({ "name": format!("Name {n}") }))
                .await
                .assert_status(StatusCode::OK);
        }
        tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await
            .assert_status(StatusCode::CREATED);
        let all = entries(&agency.client, &tenant.path("/audit-log")).await;
        assert_eq!(all.len(), 8);

        // Pages of two walk every entry once, newest first.
        let mut walked = Vec::new();
        let mut path = tenant.path("/audit-log?limit=2");
        loop {
            let page = agency.client.get(&path).await;
            page.assert_status(StatusCode::OK);
            walked.extend(page.body["data"].as_array().unwrap().iter().cloned());
            match page.body["nextCursor"].as_str() {
                Some(cursor) => path = tenant.path(&format!("/audit-log?limit=2&cursor={cursor}")),
                None => break,
            }
        }
        assert_eq!(walked, all);

        let updates = entries(
            &agency.client,
            &tenant.path("/audit-log?action=tenant.updated"),
        )
        .await;
        assert_eq!(updates.len(), 5);
        let by_tenant_key = all[0]["actor"]["id"].as_str().unwrap();
        let mine = entries(
            &agency.client,
            &tenant.path(&format!("/audit-log?actor={by_tenant_key}")),
        )
        .await;
        assert_eq!(actions(&mine), ["agent.created"]);
        // The fixture's tenant key is minted with the master key, which has no id.
        let master = entries(&agency.client, &tenant.path("/audit-log?actor=master")).await;
        assert_eq!(actions(&master), ["api_key.created"]);
        assert_eq!(master[0]["actor"], json!({ "type": "master", "id": null }));
        let middle = all[3]["at"].as_str().unwrap();
        let since = entries(
            &agency.client,
            &tenant.path(&format!("/audit-log?since={}", urlencode(middle))),
        )
        .await;
        assert!(since.iter().all(|e| e["at"].as_str().unwrap() >= middle));
        assert!(since.len() >= 4 && since.len() < 8, "{}", since.len());
        let until = entries(
            &agency.client,
            &tenant.path(&format!("/audit-log?until={}", urlencode(middle))),
        )
        .await;
        assert_eq!(since.len() + until.len(), 8);

        // Across the reach: an agency sees its own tenants only; the platform sees all.
        let agency_wide = entries(&agency.client, "/api/v1/audit-log").await;
        assert!(agency_wide
            .iter()
            .all(|e| e["agencyId"] == agency.id.as_str()));
        assert!(agency_wide
            .iter()
            .any(|e| e["tenantId"] == tenant.id.as_str()));
        assert!(!agency_wide
            .iter()
            .any(|e| e["tenantId"] == neighbour.id.as_str()));
        let platform = app.platform();
        let everything = entries(&platform, "/api/v1/audit-log").await;
        assert!(everything
            .iter()
            .any(|e| e["tenantId"] == neighbour.id.as_str()));
        let theirs = entries(
            &platform,
            &format!("/api/v1/audit-log?agencyId={}", other.id),
        )
        .await;
        assert!(theirs.iter().all(|e| e["agencyId"] == other.id.as_str()));
        let created = theirs
            .iter()
            .find(|e| e["action"] == "agency.created")
            .unwrap();
        assert_eq!(
            created["target"],
            json!({ "type": "agency", "id": other.id })
        );
        assert_eq!(created["tenantId"], Value::Null);
        assert!(!theirs.is_empty());
        let own = entries(&tenant.client, "/api/v1/audit-log").await;
        assert_eq!(own.len(), 8);
        assert!(own.iter().all(|e| e["tenantId"] == tenant.id.as_str()));
        // Another agency's tenant is out of reach.
        agency
            .client
            .get(&neighbour.path("/audit-log"))
            .await
            .assert_status(StatusCode::NOT_FOUND);
        agency
            .client
            .get("/api/v1/audit-log?since=yesterday")
            .await
            .assert_invalid("since");
    }
);

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

/// The chain of the entry whose changes mention `text`.
fn chain_of_change(text: &str) -> String {
    format!("SELECT chain_id FROM audit_log WHERE CAST(changes AS TEXT) LIKE '%{text}%'")
}

/// Runs SQL that may fail, answering whether it did.
async fn try_sql(app: &TestApp, sql: &str) -> bool {
    let db = app.db();
    let mut tx = db.store().begin().await.unwrap();
    let done = tx.execute(tenantry::store::query(sql.to_owned())).await;
    if done.is_ok() {
        tx.commit().await.unwrap();
    }
    done.is_ok()
}

both!(
    verify_names_the_first_changed_or_missing_entry,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        for n in 0..4 {
            agency
                .client
                .patch(&tenant.path(""), &json!({ "name": format!("Name {n}") }))
                .await
                .assert_status(StatusCode::OK);
        }
        let intact = verification(&agency.client, &tenant).await;
        assert_eq!(intact["valid"], true);
        assert_eq!(intact["checkedEntries"], 6);
        assert_eq!(intact["headSeq"], 6);
        assert_eq!(intact["firstBrokenLink"], Value::Null);

        // Entries cannot be changed in place.
        let change = "UPDATE audit_log SET action = 'tenant.viewed' WHERE seq = 3";
        assert!(!try_sql(&app, change).await, "the trigger refuses updates");

        // Past the guard (the owner of the database could drop it), the change is found.
        let drop = match app.db().backend() {
            tenantry::store::Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
            tenantry::store::Backend::Postgres => "DROP TRIGGER audit_log_no_update ON audit_log",
        };
        app.db().run_sql(drop).await;
        let changed = format!(
            "UPDATE audit_log SET changes = '{{}}' WHERE seq = 3 AND chain_id IN ({})",
            chain_of_change("Name 0")
        );
        app.db().run_sql(&changed).await;
        let broken = verification(&agency.client, &tenant).await;
        assert_eq!(broken["valid"], false);
        assert_eq!(broken["checkedEntries"], 2);
        assert_eq!(broken["firstBrokenLink"]["seq"], 3);
        assert_eq!(broken["firstBrokenLink"]["reason"], "hash_mismatch");
        assert!(broken["firstBrokenLink"]["entryId"]
            .as_str()
            .unwrap()
            .starts_with("aud_"));

        // A removed entry is missing where it was.
        let tenant = app.tenant().of(&agency).create().await;
        for n in 0..3 {
            agency
                .client
                .patch(&tenant.path(""), &json!({ "name": format!("Other {n}") }))
                .await
                .assert_status(StatusCode::OK);
        }
        let removed = format!(
            "DELETE FROM audit_log WHERE seq = 2 AND chain_id IN ({})",
            chain_of_change("Other 0")
        );
        app.db().run_sql(&removed).await;
        let broken = verification(&agency.client, &tenant).await;
        assert_eq!(broken["firstBrokenLink"]["seq"], 2);
        assert_eq!(broken["firstBrokenLink"]["reason"], "missing");
        assert_eq!(broken["firstBrokenLink"]["entryId"], Value::Null);
    }
);

async fn update_race(app: &TestApp, urls: &[String], round: usize) {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    let clients: Vec<Client> = urls
        .iter()
        .map(|url| app.client_of(url, agency.client.key()))
        .collect();
    let requests = (0..12)
        .map(|n| {
            let body = json!({ "name": format!("Round {round} name {n}") });
            (Method::PATCH, tenant.path(""), body)
        })
        .collect();
    for answer in all_at_once(&clients, requests).await {
        answer.assert_status(StatusCode::OK);
    }
    let verified = verification(&agency.client, &tenant).await;
    assert_eq!(verified["valid"], true, "round {round}: {verified}");
    assert_eq!(verified["checkedEntries"], 14, "round {round}");
    let log = entries(&agency.client, &tenant.path("/audit-log")).await;
    let mut seqs: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=14).collect::<Vec<_>>(), "round {round}");
}

both!(
    concurrent_changes_chain_in_order_on_one_server,
    |app| async move {
        let urls = vec![app.base_url().to_owned()];
        for round in 0..3 {
            update_race(&app, &urls, round).await;
        }
    }
);

#[tokio::test]
async fn concurrent_changes_chain_in_order_across_three_servers() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls: Vec<String> = replicas.urls().into_iter().map(str::to_owned).collect();
    for round in 0..3 {
        update_race(&app, &urls, round).await;
    }
    replicas.kill().await;
    app.finish().await;
}

both!(
    people_joining_and_resetting_their_password_are_recorded_as_themselves,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        crate::support::people::person(
            &app,
            &mailbox,
            &agency.client,
            &tenant.path("/users/invite"),
            "pat@example.com",
            "TenantUser",
        )
        .await;
        let log = entries(&agency.client, &tenant.path("/audit-log")).await;
        let joined = log.iter().find(|e| e["action"] == "user.joined").unwrap();
        let invited = log.iter().find(|e| e["action"] == "user.invited").unwrap();
        assert_eq!(joined["actor"]["type"], "user");
        assert_eq!(joined["target"]["id"], joined["actor"]["id"]);
        assert_eq!(invited["actor"]["type"], "key");
        assert_eq!(invited["changes"]["email"]["after"], "pat@example.com");
        crate::support::people::reset_password(
            &app,
            &mailbox,
            "pat@example.com",
            "a brand new password",
        )
        .await;
        let platform = entries(
            &app.platform(),
            "/api/v1/audit-log?action=user.password_reset",
        )
        .await;
        assert_eq!(platform.len(), 1);
        assert_eq!(platform[0]["actor"], joined["actor"]);
        assert_eq!(platform[0]["tenantId"], Value::Null);
        assert_eq!(
            platform[0]["changes"],
            json!({ "password": { "before": "********", "after": "********" } })
        );
        assert!(!platform[0].to_string().contains("a brand new password"));
    }
);

//! Agents: a tenant's voice agents, kept within `maxAgents` even when created all at once.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;

both!(
    an_agent_is_created_read_changed_and_deleted,
    |app| async move {
        let tenant = app.tenant().name("Own").create().await;
        let other = app.tenant().name("Other").create().await;
        let created = tenant
            .client
            .post(
                &tenant.path("/agents"),
                &json!({ "name": "Ava", "metadata": { "voice": "alloy" } }),
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        let id = created.id();
        assert!(id.starts_with("agt_"), "{id}");
        assert_eq!(created.body["tenantId"], tenant.id.as_str());
        assert_eq!(created.body["name"], "Ava");
        assert_eq!(created.body["status"], "active");
        assert_eq!(created.body["metadata"], json!({ "voice": "alloy" }));
        let path = tenant.path(&format!("/agents/{id}"));

        let read = tenant.client.get(&path).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body, created.body);
        let listed = tenant.client.walk(&tenant.path("/agents")).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0], created.body);

        let changed = tenant
            .client
            .patch(&path, &json!({ "name": "Ava 2", "status": "inactive" }))
            .await;
        changed.assert_status(StatusCode::OK);
        assert_eq!(changed.body["name"], "Ava 2");
        assert_eq!(changed.body["status"], "inactive");
        assert_eq!(changed.body["metadata"], json!({ "voice": "alloy" }));
        let analytics = tenant.analytics("").await;
        assert_eq!(analytics["agentCount"], 1);
        assert_eq!(analytics["activeAgents"], 0);

        for (body, field) in [
            (json!({ "name": "" }), "name"),
            (json!({ "status": "retired" }), "status"),
            (json!({ "name": null }), "name"),
        ] {
            tenant
                .client
                .patch(&path, &body)
                .await
                .assert_invalid(field);
        }
        tenant
            .client
            .post(&tenant.path("/agents"), &json!({}))
            .await
            .assert_invalid("name");
        // Another tenant's key, or another tenant's path, finds nothing.
        other
            .client
            .get(&path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        other
            .client
            .get(&other.path(&format!("/agents/{id}")))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        other
            .client
            .delete(&other.path(&format!("/agents/{id}")))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");

        tenant
            .client
            .delete(&path)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        tenant
            .client
            .get(&path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        tenant
            .client
            .delete(&path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        assert!(tenant.client.walk(&tenant.path("/agents")).await.is_empty());
    }
);

both!(max_agents_refuses_the_agent_over_it, |app| async move {
    let tenant = app
        .tenant()
        .limits(json!({ "maxAgents": 2 }))
        .create()
        .await;
    let tenant = &tenant;
    let create = move |name: &'static str| async move {
        tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": name }))
            .await
    };
    let first = create("Ava").await;
    first.assert_status(StatusCode::CREATED);
    create("Bo").await.assert_status(StatusCode::CREATED);
    create("Cy").await.assert_limit(
        StatusCode::FORBIDDEN,
        "agent_limit_reached",
        "maxAgents",
        2,
        2,
    );
    assert_eq!(tenant.limits().await["limits"]["maxAgents"]["used"], 2);

    tenant
        .client
        .delete(&tenant.path(&format!("/agents/{}", first.id())))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    create("Cy").await.assert_status(StatusCode::CREATED);
    assert_eq!(tenant.client.walk(&tenant.path("/agents")).await.len(), 2);
});

both!(
    agents_created_all_at_once_stay_within_max_agents,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxAgents": 5 }))
            .create()
            .await;
        let attempts: Vec<_> = (0..40)
            .map(|i| {
                let client = tenant.client.clone();
                let path = tenant.path("/agents");
                tokio::spawn(async move {
                    client
                        .post(&path, &json!({ "name": format!("Agent {i}") }))
                        .await
                })
            })
            .collect();
        let mut created = 0;
        for attempt in attempts {
            let answer = attempt.await.expect("the task runs");
            if answer.status == StatusCode::CREATED {
                created += 1;
            } else {
                answer.assert_limit(
                    StatusCode::FORBIDDEN,
                    "agent_limit_reached",
                    "maxAgents",
                    5,
                    5,
                );
            }
        }
        assert_eq!(created, 5);
        assert_eq!(tenant.client.walk(&tenant.path("/agents")).await.len(), 5);
    }
);

both!(
    agents_of_another_agencys_tenant_are_not_found,
    |app| async move {
        let mine = app.agency().name("Mine").create().await;
        let theirs = app.agency().name("Theirs").create().await;
        let tenant = app.tenant().name("Their client").of(&theirs).create().await;
        let neighbour = app.tenant().name("My client").of(&mine).create().await;
        let created = tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await;
        created.assert_status(StatusCode::CREATED);
        let path = tenant.path(&format!("/agents/{}", created.id()));

        for caller in [&mine.client, &neighbour.client] {
            caller
                .get(&tenant.path("/agents"))
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
            // Hidden before the body is read: no hint that the tenant exists.
            for body in [json!({ "name": "Mine now" }), json!({ "name": "" })] {
                caller
                    .post(&tenant.path("/agents"), &body)
                    .await
                    .assert_problem(StatusCode::NOT_FOUND, "not_found");
                caller
                    .patch(&path, &body)
                    .await
                    .assert_problem(StatusCode::NOT_FOUND, "not_found");
            }
            caller
                .get(&path)
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
            caller
                .delete(&path)
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }

        // The owner's agency and the platform see it, unchanged.
        for caller in [&theirs.client, &app.platform()] {
            let listed = caller.walk(&tenant.path("/agents")).await;
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0], created.body);
        }
    }
);

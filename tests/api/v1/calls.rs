//! Admission: a call starts only for an active tenant under every limit, and each refusal
//! names the limit, its value and the usage against it.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry::domain::ids::AgentId;

use crate::both;
use crate::support::{event, time, TenantFixture};

/// What a refusal must leave as it was: no active call, no call counted this month.
async fn assert_nothing_admitted(tenant: &TenantFixture) {
    let limits = tenant.limits().await;
    assert_eq!(limits["activeCalls"], 0, "{limits}");
    assert_eq!(limits["limits"]["monthlyCallLimit"]["used"], 0, "{limits}");
    assert_eq!(tenant.usage_this_month().await["conversations"], 0);
}

both!(
    an_admitted_call_is_active_and_holds_a_lease,
    |app| async move {
        let tenant = app.tenant().create().await;
        let started = tenant
            .start_call(&json!({
                "channel": "webrtc",
                "direction": "outbound",
                "externalId": "sip-7731",
                "metadata": { "campaign": "spring" },
            }))
            .await;
        started.assert_status(StatusCode::CREATED);
        let call = &started.body;
        let id = started.id();
        assert!(id.starts_with("call_"), "{id}");
        assert_eq!(call["status"], "active");
        assert_eq!(call["tenantId"], tenant.id.as_str());
        assert_eq!(call["channel"], "webrtc");
        assert_eq!(call["direction"], "outbound");
        assert_eq!(call["externalId"], "sip-7731");
        assert_eq!(call["metadata"], json!({ "campaign": "spring" }));
        assert_eq!(call["agentId"], json!(null));
        assert_eq!(call["endedAt"], json!(null));
        assert_eq!(call["durationSeconds"], json!(null));
        let lease = time(&call["leaseExpiresAt"]) - time(&call["startedAt"]);
        assert_eq!(lease, chrono::Duration::seconds(120), "the default lease");

        let read = tenant
            .client
            .get(&tenant.path(&format!("/calls/{id}")))
            .await;
        read.assert_status(StatusCode::OK);
        assert_eq!(&read.body, call);
        assert_eq!(tenant.limits().await["activeCalls"], 1);
        assert_eq!(tenant.usage_this_month().await["conversations"], 1);
    }
);

both!(an_inactive_tenant_starts_no_call, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    app.set_tenant_status(&tenant.id, "inactive").await;

    for caller in [&agency.client, &app.platform()] {
        tenant
            .start_call_as(caller, &json!({ "channel": "phone" }))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "tenant_inactive");
    }
    // The tenant's own key is refused with the tenant.
    tenant
        .start_call(&json!({ "channel": "phone" }))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "tenant_inactive");

    let limits = agency.client.get(&tenant.path("/limits")).await;
    limits.assert_status(StatusCode::OK);
    assert_eq!(limits.body["activeCalls"], 0, "{}", limits.text);
    assert_eq!(limits.body["limits"]["monthlyCallLimit"]["used"], 0);
});

both!(
    the_concurrency_limit_refuses_the_call_over_it,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxConcurrentCalls": 2 }))
            .create()
            .await;
        let first = tenant.admit("phone").await;
        tenant.admit("webchat").await;

        for channel in ["phone", "webrtc", "webchat"] {
            tenant
                .start_call(&json!({ "channel": channel }))
                .await
                .assert_limit(
                    StatusCode::TOO_MANY_REQUESTS,
                    "concurrency_limit_exceeded",
                    "maxConcurrentCalls",
                    2,
                    2,
                );
        }
        assert_eq!(tenant.limits().await["activeCalls"], 2);
        assert_eq!(tenant.usage_this_month().await["conversations"], 2);

        tenant.end(&first, 30, 10, None).await;
        tenant.admit("webrtc").await;
        assert_eq!(tenant.limits().await["activeCalls"], 2);
    }
);

both!(
    the_monthly_call_limit_counts_calls_and_reported_events,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "monthlyCallLimit": 3 }))
            .create()
            .await;
        let first = tenant.admit("phone").await;
        tenant.end(&first, 10, 5, None).await;
        tenant.admit("phone").await;
        let now = Utc::now();
        assert_eq!(
            tenant
                .ingest(&[event("ev-1", now, "webchat", 5, 1, None)])
                .await,
            (1, 0)
        );

        tenant
            .start_call(&json!({ "channel": "phone" }))
            .await
            .assert_limit(
                StatusCode::TOO_MANY_REQUESTS,
                "monthly_call_limit_exceeded",
                "monthlyCallLimit",
                3,
                3,
            );
        let limits = tenant.limits().await;
        assert_eq!(limits["limits"]["monthlyCallLimit"]["used"], 3, "{limits}");
        assert_eq!(limits["limits"]["monthlyCallLimit"]["exceeded"], true);
        assert_eq!(limits["activeCalls"], 1);
    }
);

both!(
    the_minute_limit_refuses_once_the_seconds_reach_it,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxMinutesPerMonth": 2 }))
            .create()
            .await;
        let first = tenant.admit("phone").await;
        tenant.end(&first, 60, 100, None).await;
        let second = tenant.admit("phone").await;
        tenant.end(&second, 59, 100, None).await;

        // 119 seconds: part of the second minute is still free.
        let third = tenant.admit("webrtc").await;
        tenant.end(&third, 1, 1, None).await;

        tenant
            .start_call(&json!({ "channel": "phone" }))
            .await
            .assert_limit(
                StatusCode::TOO_MANY_REQUESTS,
                "monthly_minute_limit_exceeded",
                "maxMinutesPerMonth",
                2,
                2,
            );
        let usage = tenant.usage_this_month().await;
        assert_eq!(usage["totalSeconds"], 120, "{usage}");
        assert_eq!(usage["conversations"], 3, "{usage}");
        assert_eq!(tenant.limits().await["activeCalls"], 0);
    }
);

both!(
    spend_blocks_new_calls_only_when_the_tenant_asked,
    |app| async move {
        let blocking = app
            .tenant()
            .name("Blocking")
            .limits(json!({ "monthlySpendLimitCents": 1000 }))
            .action_at_100("block_new_calls")
            .create()
            .await;
        let notifying = app
            .tenant()
            .name("Notifying")
            .limits(json!({ "monthlySpendLimitCents": 1000 }))
            .action_at_100("notify_only")
            .create()
            .await;

        for tenant in [&blocking, &notifying] {
            let call = tenant.admit("phone").await;
            tenant.end(&call, 300, 999, None).await;
            // One cent under the limit still admits.
            let call = tenant.admit("phone").await;
            tenant.end(&call, 1, 1, None).await;
        }

        blocking
            .start_call(&json!({ "channel": "webchat" }))
            .await
            .assert_limit(
                StatusCode::TOO_MANY_REQUESTS,
                "spend_limit_exceeded",
                "monthlySpendLimitCents",
                1000,
                1000,
            );
        assert_eq!(blocking.limits().await["activeCalls"], 0);

        notifying.admit("webchat").await;
        let limits = notifying.limits().await;
        assert_eq!(limits["limits"]["monthlySpendLimitCents"]["used"], 1000);
        assert_eq!(limits["limits"]["monthlySpendLimitCents"]["exceeded"], true);
        assert_eq!(limits["activeCalls"], 1);
    }
);

both!(
    a_call_names_only_an_agent_of_its_own_tenant,
    |app| async move {
        let tenant = app.tenant().name("Own").create().await;
        let other = app.tenant().name("Other").create().await;
        let own_agent = tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await;
        own_agent.assert_status(StatusCode::CREATED);
        let foreign_agent = other
            .client
            .post(&other.path("/agents"), &json!({ "name": "Bo" }))
            .await;
        foreign_agent.assert_status(StatusCode::CREATED);

        let unknown = AgentId::generate().to_string();
        for agent_id in [unknown.as_str(), &foreign_agent.id()] {
            tenant
                .start_call(&json!({ "channel": "phone", "agentId": agent_id }))
                .await
                .assert_invalid("agentId");
        }
        tenant
            .start_call(&json!({ "channel": "phone", "agentId": "agt_nope" }))
            .await
            .assert_invalid("agentId");
        tenant
            .start_call(&json!({ "channel": "fax" }))
            .await
            .assert_invalid("channel");
        tenant
            .start_call(&json!({ "channel": "phone", "direction": "sideways" }))
            .await
            .assert_invalid("direction");
        tenant
            .start_call(&json!({ "channel": "phone", "externalId": "" }))
            .await
            .assert_invalid("externalId");
        tenant
            .start_call(&json!({}))
            .await
            .assert_invalid("channel");
        assert_nothing_admitted(&tenant).await;

        let started = tenant
            .start_call(&json!({ "channel": "phone", "agentId": own_agent.id() }))
            .await;
        started.assert_status(StatusCode::CREATED);
        assert_eq!(started.body["agentId"], own_agent.id().as_str());
    }
);

both!(
    calls_of_another_agencys_tenant_are_not_found,
    |app| async move {
        let mine = app.agency().name("Mine").create().await;
        let theirs = app.agency().name("Theirs").create().await;
        let tenant = app.tenant().name("Their client").of(&theirs).create().await;
        let neighbour = app.tenant().name("My client").of(&mine).create().await;
        let call = tenant.admit("phone").await;
        let call_id = call["id"].as_str().unwrap();

        for caller in [&mine.client, &neighbour.client] {
            tenant
                .start_call_as(caller, &json!({ "channel": "phone" }))
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
            for path in [
                tenant.path("/calls"),
                tenant.path(&format!("/calls/{call_id}")),
                tenant.path("/limits"),
                tenant.path("/analytics"),
            ] {
                caller
                    .get(&path)
                    .await
                    .assert_problem(StatusCode::NOT_FOUND, "not_found");
            }
            caller
                .post(
                    &tenant.path(&format!("/calls/{call_id}/end")),
                    &json!({ "durationSeconds": 1, "costCents": 1 }),
                )
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
            caller
                .post(
                    &tenant.path("/usage-events"),
                    &json!({ "events": [event("x", Utc::now(), "phone", 1, 1, None)] }),
                )
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        // A call id is looked up within the tenant of the path.
        neighbour
            .client
            .get(&neighbour.path(&format!("/calls/{call_id}")))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");

        let limits = tenant.limits().await;
        assert_eq!(limits["activeCalls"], 1);
        assert_eq!(limits["limits"]["monthlyCallLimit"]["used"], 1);
        assert_eq!(app.stored_event_count(&tenant.id).await, 0);
    }
);

both!(
    a_retried_start_with_the_same_idempotency_key_admits_once,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxConcurrentCalls": 1 }))
            .create()
            .await;
        let start = || {
            tenant
                .client
                .request(Method::POST, &tenant.path("/calls"))
                .header("Idempotency-Key", "dp-call-42")
                .json(&json!({ "channel": "phone", "externalId": "42" }))
        };
        let first = tenant.client.send(start()).await;
        first.assert_status(StatusCode::CREATED);
        let retried = tenant.client.send(start()).await;
        retried.assert_status(StatusCode::CREATED);
        assert_eq!(retried.body, first.body);
        assert_eq!(retried.header("idempotent-replayed"), Some("true"));

        let limits = tenant.limits().await;
        assert_eq!(limits["activeCalls"], 1, "{limits}");
        assert_eq!(limits["limits"]["monthlyCallLimit"]["used"], 1);
        assert_eq!(tenant.client.walk(&tenant.path("/calls")).await.len(), 1);
    }
);

both!(
    only_the_tenants_callers_keep_its_calls_alive,
    |app| async move {
        let mine = app.agency().name("Mine").create().await;
        let theirs = app.agency().name("Theirs").create().await;
        let tenant = app.tenant().name("Their client").of(&theirs).create().await;
        let neighbour = app.tenant().name("My client").of(&mine).create().await;
        let call = tenant.admit("phone").await;
        let beat = tenant.path(&format!(
            "/calls/{}/heartbeat",
            call["id"].as_str().unwrap()
        ));

        for caller in [&mine.client, &neighbour.client] {
            caller
                .post(&beat, &json!({}))
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        let read = tenant
            .client
            .get(&tenant.path(&format!("/calls/{}", call["id"].as_str().unwrap())))
            .await;
        assert_eq!(read.body["leaseExpiresAt"], call["leaseExpiresAt"]);

        for caller in [&theirs.client, &app.platform()] {
            caller
                .post(&beat, &json!({}))
                .await
                .assert_status(StatusCode::OK);
        }
    }
);

both!(
    a_deleted_tenants_calls_are_not_found_even_for_the_platform,
    |app| async move {
        let tenant = app.tenant().create().await;
        let call = tenant.admit("webrtc").await;
        let call_path = tenant.path(&format!("/calls/{}", call["id"].as_str().unwrap()));
        app.set_tenant_status(&tenant.id, "deleted").await;

        let platform = app.platform();
        platform
            .post(&tenant.path("/calls"), &json!({ "channel": "phone" }))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        for path in [
            tenant.path("/calls"),
            call_path.clone(),
            tenant.path("/agents"),
            tenant.path("/limits"),
            tenant.path("/analytics"),
        ] {
            platform
                .get(&path)
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        platform
            .post(
                &format!("{call_path}/end"),
                &json!({ "durationSeconds": 1, "costCents": 1 }),
            )
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
);

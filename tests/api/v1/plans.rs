//! Plans: the default catalog, readable by every key and changed only by the platform.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;

both!(every_key_reads_the_default_catalog, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    for client in [app.platform(), agency.client.clone(), tenant.client.clone()] {
        let plans = client.get("/api/v1/plans").await;
        plans.assert_status(StatusCode::OK);
        let codes: Vec<_> = plans.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap())
            .collect();
        for code in ["free", "starter", "business", "enterprise"] {
            assert!(codes.contains(&code), "{code} in {codes:?}");
        }
        for plan in plans.body["data"].as_array().unwrap() {
            assert!(plan["id"].as_str().unwrap().starts_with("pln_"), "{plan}");
            assert!(
                plan["name"].is_string() && plan["amountCents"].is_i64(),
                "{plan}"
            );
            assert!(plan["entitlements"].is_object(), "{plan}");
            assert!(plan.get("externalBillingId").is_some(), "{plan}");
        }
    }
    let free = app.platform().get("/api/v1/plans/free").await;
    free.assert_status(StatusCode::OK);
    assert!(free.header("etag").is_some());
    let entitlements = &free.body["entitlements"];
    assert_eq!(entitlements["maxAgents"], 10);
    assert_eq!(entitlements["monthlyCallLimit"], 1000);
    assert_eq!(entitlements["maxConcurrentCalls"], 10);
    assert_eq!(entitlements["maxMinutesPerMonth"], 5000);

    let by_id = app
        .platform()
        .get(&format!("/api/v1/plans/{}", free.id()))
        .await;
    assert_eq!(by_id.body, free.body);
    let plan_id: tenantry::domain::ids::PlanId = free.id().parse().unwrap();
    let by_uuid = app
        .platform()
        .get(&format!("/api/v1/plans/{}", plan_id.0))
        .await;
    assert_eq!(by_uuid.body, free.body);
    app.platform()
        .get("/api/v1/plans/platinum")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
});

both!(
    the_platform_adds_plans_that_tenants_can_use,
    |app| async move {
        let platform = app.platform();
        let created = platform
            .post(
                "/api/v1/plans",
                &json!({ "code": "gold", "name": "Gold", "amountCents": 5000,
                     "entitlements": { "maxAgents": 5, "maxConcurrentCalls": 3 },
                     "externalBillingId": "price_123" }),
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        assert_eq!(created.body["code"], "gold");
        assert_eq!(created.body["amountCents"], 5000);
        assert_eq!(
            created.body["entitlements"],
            json!({ "maxAgents": 5, "maxConcurrentCalls": 3 })
        );
        assert_eq!(created.body["externalBillingId"], "price_123");

        let tenant = app
            .tenant()
            .plan("gold")
            .field("usageLimits", json!({ "maxAgents": 7 }))
            .create()
            .await;
        assert_eq!(tenant.body["plan"], "gold");
        assert_eq!(tenant.body["effectiveLimits"]["maxAgents"], 7);
        assert_eq!(tenant.body["effectiveLimits"]["maxConcurrentCalls"], 3);
        assert_eq!(
            tenant.body["effectiveLimits"]["monthlyCallLimit"],
            Value::Null
        );

        let again = platform
            .post(
                "/api/v1/plans",
                &json!({ "code": "gold", "name": "Gold 2", "amountCents": 1 }),
            )
            .await;
        again.assert_problem(StatusCode::CONFLICT, "code_taken");
        assert_eq!(again.fields(), ["code"]);
    }
);

both!(plan_changes_flow_into_effective_limits, |app| async move {
    let tenant = app.tenant().create().await;
    assert_eq!(tenant.body["effectiveLimits"]["maxAgents"], 10);
    let platform = app.platform();
    let changed = platform
        .patch(
            "/api/v1/plans/free",
            &json!({ "entitlements": { "maxAgents": 12, "maxPhoneNumbers": null },
                     "externalBillingId": "price_free" }),
        )
        .await;
    changed.assert_status(StatusCode::OK);
    assert_eq!(changed.body["entitlements"]["maxAgents"], 12);
    assert!(changed.body["entitlements"]
        .get("maxPhoneNumbers")
        .is_none());
    assert_eq!(changed.body["entitlements"]["monthlyCallLimit"], 1000);
    assert_eq!(changed.body["externalBillingId"], "price_free");

    let read = platform
        .get(&format!("/api/v1/tenants/{}", tenant.id))
        .await;
    assert_eq!(read.body["effectiveLimits"]["maxAgents"], 12);
    assert_eq!(read.body["effectiveLimits"]["maxPhoneNumbers"], Value::Null);

    let cleared = platform
        .send(
            platform
                .request(reqwest::Method::PATCH, "/api/v1/plans/free")
                .header("if-match", changed.header("etag").unwrap())
                .json(&json!({ "externalBillingId": null })),
        )
        .await;
    cleared.assert_status(StatusCode::OK);
    assert_eq!(cleared.body["externalBillingId"], Value::Null);
    let stale = platform
        .send(
            platform
                .request(reqwest::Method::PATCH, "/api/v1/plans/free")
                .header("if-match", changed.header("etag").unwrap())
                .json(&json!({ "name": "Lost" })),
        )
        .await;
    stale.assert_problem(StatusCode::PRECONDITION_FAILED, "precondition_failed");
});

both!(only_the_platform_changes_plans, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    for client in [&agency.client, &tenant.client] {
        client
            .post(
                "/api/v1/plans",
                &json!({ "code": "mine", "name": "Mine", "amountCents": 0 }),
            )
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        client
            .patch("/api/v1/plans/free", &json!({ "amountCents": 0 }))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    let free = app.platform().get("/api/v1/plans/free").await;
    assert_eq!(free.body["amountCents"], 0);
    app.platform()
        .get("/api/v1/plans/mine")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
});

both!(bad_plans_are_refused, |app| async move {
    let platform = app.platform();
    let before = platform.get("/api/v1/plans").await.body;
    for (body, field) in [
        (
            json!({ "code": "Bad Code", "name": "X", "amountCents": 0 }),
            "code",
        ),
        (json!({ "code": "", "name": "X", "amountCents": 0 }), "code"),
        (json!({ "code": "x", "name": "", "amountCents": 0 }), "name"),
        (
            json!({ "code": "x", "name": "X", "amountCents": -1 }),
            "amountCents",
        ),
        (
            json!({ "code": "x", "name": "X", "amountCents": 0,
                 "entitlements": { "maxConcurrentCalls": 0 } }),
            "entitlements.maxConcurrentCalls",
        ),
        (
            json!({ "code": "x", "name": "X", "amountCents": 0,
                 "entitlements": { "maxMinions": 1 } }),
            "entitlements.maxMinions",
        ),
        (json!({ "code": "x", "name": "X" }), "amountCents"),
    ] {
        platform
            .post("/api/v1/plans", &body)
            .await
            .assert_invalid(field);
    }
    platform
        .patch("/api/v1/plans/free", &json!({ "code": "starter" }))
        .await
        .assert_problem(StatusCode::CONFLICT, "code_taken");
    platform
        .patch("/api/v1/plans/free", &json!({ "name": null }))
        .await
        .assert_invalid("name");
    assert_eq!(platform.get("/api/v1/plans").await.body, before);
});

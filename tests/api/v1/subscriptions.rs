//! Subscriptions: a tenant's subscription is put whole and read back; setting it moves the
//! tenant to its plan at once; bad fields are named and change nothing; a tenant key reads its
//! own in Voisnap's shape; and while it is not canceled its current period is the billing
//! period that usage counts in and monthly limits hold to.

use chrono::{DateTime, Datelike, Duration, SubsecRound, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::process::Replicas;
use crate::support::races::all_at_once;
use crate::support::{event, time, Answer, Client, Settings, TenantFixture, TestApp};

/// Now, in whole seconds (both databases keep them exactly).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A subscription on `plan` whose current period holds now.
fn subscription(plan: &str) -> Value {
    json!({
        "planCode": plan,
        "status": "active",
        "currentPeriodStart": (now() - Duration::days(3)).to_rfc3339(),
        "currentPeriodEnd": (now() + Duration::days(27)).to_rfc3339(),
        "externalBillingId": "sub_1PqStripe",
    })
}

fn sub_path(tenant: &TenantFixture) -> String {
    tenant.path("/subscription")
}

both!(
    a_subscription_is_put_whole_and_read_back,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).plan("starter").create().await;
        let path = sub_path(&tenant);
        tenant
            .client
            .get(&path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "subscription_not_found");

        let body = subscription("business");
        let created = tenant.put_subscription(&agency.client, &body, None).await;
        created.assert_status(StatusCode::CREATED);
        let first = created.body.clone();
        assert!(first["id"].as_str().unwrap().starts_with("sub_"), "{first}");
        assert_eq!(first["tenantId"], tenant.id);
        assert_eq!(first["planCode"], "business");
        assert_eq!(first["status"], "active");
        assert_eq!(first["billingInterval"], "monthly");
        assert_eq!(first["cancelAtPeriodEnd"], false);
        assert_eq!(first["externalBillingId"], "sub_1PqStripe");
        assert_eq!(
            time(&first["currentPeriodStart"]),
            time(&body["currentPeriodStart"])
        );
        assert_eq!(
            time(&first["currentPeriodEnd"]),
            time(&body["currentPeriodEnd"])
        );
        let tag = created.header("etag").expect("an ETag").to_owned();

        let read = tenant.client.get(&path).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body, first);
        assert_eq!(read.header("etag"), Some(tag.as_str()));

        // A replacement keeps the id and creation; what it leaves out takes its default.
        let replacement = json!({
            "planCode": "business",
            "status": "past_due",
            "billingInterval": "yearly",
            "currentPeriodStart": body["currentPeriodStart"],
            "currentPeriodEnd": (now() + Duration::days(362)).to_rfc3339(),
            "cancelAtPeriodEnd": true,
        });
        let replaced = tenant
            .put_subscription(&agency.client, &replacement, Some(&tag))
            .await;
        replaced.assert_status(StatusCode::OK);
        assert_eq!(replaced.body["id"], first["id"]);
        assert_eq!(replaced.body["createdAt"], first["createdAt"]);
        assert_eq!(replaced.body["status"], "past_due");
        assert_eq!(replaced.body["billingInterval"], "yearly");
        assert_eq!(replaced.body["cancelAtPeriodEnd"], true);
        assert_eq!(replaced.body["externalBillingId"], Value::Null);
        assert!(time(&replaced.body["updatedAt"]) > time(&first["updatedAt"]));
        // The version it replaced is gone.
        tenant
            .put_subscription(&agency.client, &body, Some(&tag))
            .await
            .assert_problem(StatusCode::PRECONDITION_FAILED, "precondition_failed");
        assert_eq!(agency.client.get(&path).await.body, replaced.body);

        // Both changes are in the trail, and the plan's change of the tenant too.
        for action in [
            "subscription.created",
            "subscription.updated",
            "tenant.updated",
        ] {
            let log = agency
                .client
                .walk(&tenant.path(&format!("/audit-log?action={action}")))
                .await;
            assert!(!log.is_empty(), "no {action} in the trail");
        }
        let created_entry = &agency
            .client
            .walk(&tenant.path("/audit-log?action=subscription.created"))
            .await[0];
        assert_eq!(created_entry["changes"]["planCode"]["after"], "business");
    }
);

both!(
    a_subscription_moves_its_tenant_to_its_plan_at_once,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app
            .tenant()
            .of(&agency)
            .plan("starter")
            .limits(json!({ "maxAgents": 7 }))
            .create()
            .await;
        let entitlements = |code: &str| {
            let platform = app.platform();
            let path = format!("/api/v1/plans/{code}");
            async move { platform.get(&path).await.body["entitlements"].clone() }
        };
        let (starter, business) = (
            entitlements("starter").await,
            entitlements("business").await,
        );
        let before = tenant.client.get(&tenant.path("")).await.body;
        let concurrency = before["effectiveLimits"]["maxConcurrentCalls"]
            .as_i64()
            .unwrap();
        assert_eq!(concurrency, starter["maxConcurrentCalls"]);
        assert!(business["maxConcurrentCalls"].as_i64().unwrap() > concurrency);
        for _ in 0..concurrency {
            tenant.admit("phone").await;
        }
        tenant
            .start_call(&json!({ "channel": "phone" }))
            .await
            .assert_problem(StatusCode::TOO_MANY_REQUESTS, "concurrency_limit_exceeded");
        tenant
            .put_subscription(&agency.client, &subscription("business"), None)
            .await
            .assert_status(StatusCode::CREATED);
        let after = tenant.client.get(&tenant.path("")).await.body;
        assert_eq!(after["plan"], "business");
        // The new plan's grants, at once; the tenant's own override still wins.
        for (key, granted) in business.as_object().unwrap() {
            if key != "maxAgents" {
                assert_eq!(&after["effectiveLimits"][key], granted, "{key}");
            }
        }
        assert_eq!(after["effectiveLimits"]["maxAgents"], 7);
        // A call is admitted under the new plan's concurrency straight away.
        tenant.admit("phone").await;

        // Moving the tenant to another plan moves its subscription with it.
        agency
            .client
            .patch(&tenant.path(""), &json!({ "plan": "enterprise" }))
            .await
            .assert_status(StatusCode::OK);
        let followed = agency.client.get(&sub_path(&tenant)).await;
        assert_eq!(followed.body["planCode"], "enterprise");
    }
);

both!(bad_fields_are_named_and_change_nothing, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).plan("starter").create().await;
    let path = sub_path(&tenant);
    let with = |field: &str, value: Value| {
        let mut body = subscription("business");
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = subscription("business");
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let start = subscription("business")["currentPeriodStart"].clone();
    let cases = [
        (with("currentPeriodEnd", start.clone()), "currentPeriodEnd"),
        (
            with(
                "currentPeriodEnd",
                json!((now() - Duration::days(4)).to_rfc3339()),
            ),
            "currentPeriodEnd",
        ),
        (with("externalBillingId", json!("")), "externalBillingId"),
        (
            with("externalBillingId", json!("x".repeat(256))),
            "externalBillingId",
        ),
        (with("status", json!("paused")), "status"),
        (with("billingInterval", json!("weekly")), "billingInterval"),
        (with("planCode", json!("Not A Code!")), "planCode"),
        (with("planCode", json!("platinum")), "planCode"),
        (
            with("currentPeriodStart", json!("yesterday")),
            "currentPeriodStart",
        ),
        (
            with("currentPeriodStart", json!("1999-12-31T00:00:00Z")),
            "currentPeriodStart",
        ),
        (with("cancelAtPeriodEnd", json!("yes")), "cancelAtPeriodEnd"),
        (with("trialEnd", json!("soon")), "trialEnd"),
        (without("currentPeriodEnd"), "currentPeriodEnd"),
        (without("planCode"), "planCode"),
    ];
    let tenant_before = agency.client.get(&tenant.path("")).await.body;
    for (body, field) in &cases {
        tenant
            .put_subscription(&agency.client, body, None)
            .await
            .assert_invalid(field);
        agency
            .client
            .get(&path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "subscription_not_found");
    }
    let unknown = tenant
        .put_subscription(&agency.client, &with("planCode", json!("platinum")), None)
        .await;
    assert_eq!(
        unknown.field_code("planCode").as_deref(),
        Some("unknown_plan")
    );
    // A body with several faults names each.
    let mut both_wrong = with("planCode", json!("platinum"));
    both_wrong["currentPeriodEnd"] = start;
    let answer = tenant
        .put_subscription(&agency.client, &both_wrong, None)
        .await;
    answer
        .assert_invalid("planCode")
        .assert_invalid("currentPeriodEnd");

    // Nothing changed: not the tenant, and not an existing subscription either.
    assert_eq!(
        agency.client.get(&tenant.path("")).await.body,
        tenant_before
    );
    let created = tenant
        .put_subscription(&agency.client, &subscription("business"), None)
        .await;
    created.assert_status(StatusCode::CREATED);
    for (body, field) in &cases {
        tenant
            .put_subscription(&agency.client, body, None)
            .await
            .assert_invalid(field);
    }
    assert_eq!(agency.client.get(&path).await.body, created.body);
    assert_eq!(
        agency.client.get(&tenant.path("")).await.body["plan"],
        "business"
    );
});

/// The field names of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

both!(
    a_tenant_key_reads_its_own_in_voisnap_shape,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app
            .tenant()
            .of(&agency)
            .plan("starter")
            .limits(json!({ "maxConcurrentCalls": 3 }))
            .field(
                "settings",
                json!({ "hipaaEnabled": true, "webhookUrl": "https://hooks.example.com/t" }),
            )
            .create()
            .await;
        let billing = "/api/v1/billing/subscription";
        tenant
            .client
            .get(billing)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "subscription_not_found");
        let put_body = subscription("business");
        let created = tenant
            .put_subscription(&agency.client, &put_body, None)
            .await;
        created.assert_status(StatusCode::CREATED);

        let answer = tenant.client.get(billing).await;
        answer.assert_status(StatusCode::OK);
        let body = &answer.body;
        assert_eq!(
            keys(body),
            [
                "baseAmountUsd",
                "billingInterval",
                "cancelAtPeriodEnd",
                "createdAt",
                "currency",
                "currentPeriodEnd",
                "currentPeriodStart",
                "features",
                "id",
                "includedConversations",
                "nextBillingDate",
                "plan",
                "rateLimits",
                "status"
            ]
        );
        assert_eq!(body["id"], created.body["id"]);
        assert_eq!(body["plan"], "business");
        assert_eq!(body["status"], "active");
        assert_eq!(body["billingInterval"], "monthly");
        assert_eq!(body["currency"], "USD");
        let plan = app.platform().get("/api/v1/plans/business").await.body;
        let dollars = plan["amountCents"].as_i64().unwrap() as f64 / 100.0;
        assert_eq!(body["baseAmountUsd"], dollars);
        assert_eq!(
            body["includedConversations"],
            plan["entitlements"]["monthlyCallLimit"]
        );
        assert!(body["includedConversations"].is_i64());
        assert_eq!(
            time(&body["nextBillingDate"]),
            time(&put_body["currentPeriodEnd"])
        );
        assert_eq!(
            time(&body["currentPeriodStart"]),
            time(&put_body["currentPeriodStart"])
        );
        assert_eq!(body["createdAt"], created.body["createdAt"]);
        assert_eq!(body["cancelAtPeriodEnd"], false);
        // Without rate limits on this server only the concurrency limit bounds anything.
        assert_eq!(
            body["rateLimits"],
            json!({
                "apiRequestsPerMinute": null,
                "voiceHubConnectionsPerMinute": null,
                "maxConcurrentCalls": 3
            })
        );
        assert_eq!(
            body["features"],
            json!({
                "whiteLabel": true,
                "agencyMode": false,
                "hipaaCompliance": true,
                "ssoSaml": false,
                "dedicatedSupport": false
            })
        );

        // A subscription that ends with its period bills no more.
        let mut ending = put_body.clone();
        ending["cancelAtPeriodEnd"] = json!(true);
        tenant
            .put_subscription(&agency.client, &ending, None)
            .await
            .assert_status(StatusCode::OK);
        assert_eq!(
            tenant.client.get(billing).await.body["nextBillingDate"],
            Value::Null
        );
        let mut canceled = put_body;
        canceled["status"] = json!("canceled");
        tenant
            .put_subscription(&agency.client, &canceled, None)
            .await
            .assert_status(StatusCode::OK);
        let read = tenant.client.get(billing).await;
        assert_eq!(read.body["status"], "canceled");
        assert_eq!(read.body["nextBillingDate"], Value::Null);

        // Only a tenant key has a subscription of its own.
        for other in [&agency.client, &app.platform()] {
            let refused = other.get(billing).await;
            refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");
            assert!(
                refused.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("tenant key"),
                "{}",
                refused.text
            );
        }
    }
);

both!(
    the_rate_limits_read_are_those_the_key_spends,
    Settings::rate_limited(),
    |app| async move {
        let tenant = app.tenant().plan("starter").create().await;
        tenant
            .put_subscription(&app.platform(), &subscription("starter"), None)
            .await
            .assert_status(StatusCode::CREATED);
        // The plan's budget where it sets one, the server's default otherwise.
        let plan = app.platform().get("/api/v1/plans/starter").await.body;
        let budget =
            |key: &str, default: i64| plan["entitlements"][key].as_i64().unwrap_or(default);
        let read = tenant.client.get("/api/v1/billing/subscription").await;
        read.assert_status(StatusCode::OK);
        assert_eq!(
            read.body["rateLimits"]["apiRequestsPerMinute"],
            budget("apiStandardPerMinute", 120)
        );
        assert_eq!(
            read.body["rateLimits"]["voiceHubConnectionsPerMinute"],
            budget("dataPlanePerMinute", 3_000_000)
        );
        app.platform()
            .patch(
                &tenant.path(""),
                &json!({ "usageLimits": { "apiStandardPerMinute": 90 } }),
            )
            .await
            .assert_status(StatusCode::OK);
        let read = tenant.client.get("/api/v1/billing/subscription").await;
        assert_eq!(read.body["rateLimits"]["apiRequestsPerMinute"], 90);
        assert_eq!(read.body["features"]["whiteLabel"], false);
    }
);

/// A start of a current period that is not the first of this month, so that the period's
/// counters and the calendar month's are two.
fn mid_month_start() -> DateTime<Utc> {
    let mut start = now() - Duration::days(1);
    if start.day() == 1 {
        start -= Duration::days(1);
    }
    start
}

both!(usage_counts_in_the_subscription_period, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app
        .tenant()
        .of(&agency)
        .plan("starter")
        .limits(json!({ "monthlyCallLimit": 2 }))
        .create()
        .await;
    let calendar = now().date_naive().with_day(1).unwrap();
    let start = mid_month_start();
    let end = now() + Duration::days(20);
    assert_ne!(start.date_naive(), calendar);

    // The calendar month's counter is full: without a subscription, a call is refused.
    app.set_period_usage(&tenant.id, calendar, 2, 0, 0).await;
    tenant
        .start_call(&json!({ "channel": "phone" }))
        .await
        .assert_limit(
            StatusCode::TOO_MANY_REQUESTS,
            "monthly_call_limit_exceeded",
            "monthlyCallLimit",
            2,
            2,
        );

    // With a period that started mid-month, its own counter is what counts: empty.
    let body = json!({
        "planCode": "starter",
        "status": "trialing",
        "currentPeriodStart": start.to_rfc3339(),
        "currentPeriodEnd": end.to_rfc3339(),
    });
    tenant
        .put_subscription(&agency.client, &body, None)
        .await
        .assert_status(StatusCode::CREATED);
    let limits = tenant.limits().await;
    assert_eq!(limits["period"]["start"], start.date_naive().to_string());
    assert_eq!(limits["limits"]["monthlyCallLimit"]["used"], 0);
    let call = tenant.admit("phone").await;
    tenant.end(&call, 90, 15, None).await;
    // An event inside the period counts in it; one from before the period does not.
    let before = start - Duration::hours(1);
    tenant
        .ingest(&[
            event("in-period", now(), "webchat", 30, 5, None),
            event("before-period", before, "phone", 60, 7, None),
        ])
        .await;
    let usage = tenant.usage_this_month().await;
    assert_eq!(usage["conversations"], 2, "{usage}");
    assert_eq!(usage["totalSeconds"], 120, "{usage}");
    assert_eq!(usage["totalCostCents"], 20, "{usage}");
    let before_period = before.date_naive().with_day(1).unwrap();
    let calendar_calls = if before_period == calendar { 3 } else { 2 };
    assert_eq!(
        period_calls(&app, &tenant, calendar).await,
        calendar_calls,
        "the calendar month's counter"
    );

    // The period's counter is now full, the calendar month's emptied: a call is refused.
    app.set_period_usage(&tenant.id, calendar, 0, 0, 0).await;
    tenant
        .start_call(&json!({ "channel": "phone" }))
        .await
        .assert_limit(
            StatusCode::TOO_MANY_REQUESTS,
            "monthly_call_limit_exceeded",
            "monthlyCallLimit",
            2,
            2,
        );

    // Canceled, the subscription no longer sets the period: the calendar month counts again.
    let mut canceled = body;
    canceled["status"] = json!("canceled");
    tenant
        .put_subscription(&agency.client, &canceled, None)
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        tenant.limits().await["period"]["start"],
        calendar.to_string()
    );
    tenant.admit("phone").await;
    assert_eq!(tenant.usage_this_month().await["conversations"], 1);
});

/// The calls counted in the tenant's period that starts on `day`.
async fn period_calls(app: &TestApp, tenant: &TenantFixture, day: chrono::NaiveDate) -> i64 {
    let id: tenantry::domain::ids::TenantId = tenant.id.parse().unwrap();
    let row: Option<(i64,)> = app
        .db()
        .store()
        .reader()
        .fetch_optional(
            tenantry::store::query(
                "SELECT calls FROM tenant_usage WHERE tenant_id = $1 AND period_start = $2",
            )
            .bind(id)
            .bind(day),
        )
        .await
        .unwrap();
    row.map_or(0, |(calls,)| calls)
}

both!(who_reads_and_who_sets_a_subscription, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).plan("starter").create().await;
    let path = sub_path(&tenant);
    let key = |request: Value| {
        let app = app.clone();
        async move { app.client(&app.mint_key(&request).await) }
    };
    let reader = key(json!({ "name": "r", "tenantId": tenant.id, "role": "ReadOnly" })).await;
    let user = key(json!({ "name": "u", "tenantId": tenant.id, "role": "TenantUser" })).await;
    let technical =
        key(json!({ "name": "t", "agencyId": agency.id, "role": "AgencyTechnicalManager" })).await;
    let accounts =
        key(json!({ "name": "a", "agencyId": agency.id, "role": "AgencyAccountManager" })).await;
    let stranger = app.agency().name("Other").create().await;

    // The tenant's agency and its account managers set it.
    tenant
        .put_subscription(&accounts, &subscription("business"), None)
        .await
        .assert_status(StatusCode::CREATED);
    tenant
        .put_subscription(&agency.client, &subscription("starter"), None)
        .await
        .assert_status(StatusCode::OK);
    // Everyone who reads the tenant reads it, and only they.
    for client in [&tenant.client, &reader, &user, &technical, &accounts] {
        client.get(&path).await.assert_status(StatusCode::OK);
    }
    for client in [&tenant.client, &reader, &user] {
        client
            .get("/api/v1/billing/subscription")
            .await
            .assert_status(StatusCode::OK);
    }
    stranger
        .client
        .get(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    // Nobody else sets it, and a refusal changes nothing.
    for client in [&tenant.client, &reader, &user, &technical] {
        tenant
            .put_subscription(client, &subscription("enterprise"), None)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    tenant
        .put_subscription(&stranger.client, &subscription("enterprise"), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(agency.client.get(&path).await.body["planCode"], "starter");
    // A key scoped without `billing:read` reads no subscription.
    let scoped = key(json!({
        "name": "s", "tenantId": tenant.id, "scopes": ["agents:read", "tenants:read"]
    }))
    .await;
    scoped
        .get(&path)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
});

const RACERS: usize = 12;

/// Subscriptions put at once: the first makes it and the rest replace it, so one is created;
/// puts naming one version replace it once; and the tenant's plan is the subscription's.
async fn races(app: &TestApp, urls: &[String]) {
    let agency = app.agency().create().await;
    let clients: Vec<Client> = urls
        .iter()
        .map(|url| app.client_of(url, agency.client.key()))
        .collect();
    let tenant = app.tenant().of(&agency).plan("free").create().await;
    let path = sub_path(&tenant);
    let plans = ["starter", "business", "enterprise"];
    let requests = (0..RACERS)
        .map(|i| (Method::PUT, path.clone(), subscription(plans[i % 3])))
        .collect();
    let answers = all_at_once(&clients, requests).await;
    let status = |answers: &[Answer], status| answers.iter().filter(|a| a.status == status).count();
    assert_eq!(status(&answers, StatusCode::CREATED), 1);
    assert_eq!(status(&answers, StatusCode::OK), RACERS - 1);
    let ids: std::collections::HashSet<&Value> = answers.iter().map(|a| &a.body["id"]).collect();
    assert_eq!(ids.len(), 1, "one subscription");
    let read = agency.client.get(&path).await;
    let tenant_plan = agency.client.get(&tenant.path("")).await.body["plan"].clone();
    assert_eq!(read.body["planCode"], tenant_plan);

    let tag = read.header("etag").unwrap().to_owned();
    let tagged: Vec<_> = (0..RACERS)
        .map(|i| (Method::PUT, path.clone(), subscription(plans[i % 3])))
        .collect();
    let barrier_clients: Vec<Client> = clients.clone();
    let answers = {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = tagged
            .into_iter()
            .enumerate()
            .map(|(i, (method, path, body))| {
                let client = barrier_clients[i % barrier_clients.len()].clone();
                let barrier = barrier.clone();
                let tag = tag.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let request = client
                        .request(method, &path)
                        .json(&body)
                        .header("if-match", tag);
                    client.send(request).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    };
    assert_eq!(status(&answers, StatusCode::OK), 1);
    assert_eq!(
        status(&answers, StatusCode::PRECONDITION_FAILED),
        RACERS - 1
    );
    let read = agency.client.get(&path).await;
    let tenant_plan = agency.client.get(&tenant.path("")).await.body["plan"].clone();
    assert_eq!(read.body["planCode"], tenant_plan);
}

both!(subscription_races_hold_on_one_server, |app| async move {
    let urls = vec![app.base_url().to_owned()];
    races(&app, &urls).await;
});

#[tokio::test]
async fn subscription_races_hold_across_three_servers_on_one_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls: Vec<String> = replicas.urls().into_iter().map(str::to_owned).collect();
    races(&app, &urls).await;
    replicas.kill().await;
    app.finish().await;
}

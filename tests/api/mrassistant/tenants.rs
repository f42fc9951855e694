//! MrAssistant's tenant, admin and quota routes, replayed as its documentation shows them
//! (seeds 000–002 and the reference pages), on both databases.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_fastapi_error, assert_shape, uuid_of};
use crate::both;
use crate::support::{Answer, TenantFixture, TestApp};

/// Seed 000's example answer: the fields, their types and defaults.
const SEED_TENANT: &str = r#"{
  "name": "<string>",
  "billing_plan": "<string>",
  "id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
  "status": "<string>",
  "monthly_usage_cents": 123,
  "created_at": "2023-11-07T05:31:56Z",
  "updated_at": "2023-11-07T05:31:56Z",
  "sip_enabled": false,
  "recording_enabled": true,
  "analytics_enabled": true,
  "max_concurrent_calls": 10,
  "monthly_call_limit": 1000,
  "meta_data": {},
  "sip_domain": "<string>",
  "sip_username": "<string>",
  "hipaa_enabled": false,
  "pci_enabled": false,
  "recording_format": "mp4",
  "retention_days": 90,
  "data_encryption_enabled": true,
  "webhook_url": "<string>",
  "webhook_timeout_seconds": 20
}"#;

/// Seed 001's example answer.
const SEED_DETAILS: &str = r#"{
  "tenant_id": "<string>",
  "tenant_name": "<string>",
  "tenant_type": "<string>",
  "billing_plan": "<string>",
  "status": "<string>",
  "total_agents": 123,
  "total_calls": 123,
  "total_minutes": 123,
  "calls_this_month": 123,
  "minutes_this_month": 123,
  "active_sessions": 123,
  "quota": {
    "max_agents": 10,
    "max_calls_per_month": 1000,
    "max_concurrent_calls": 10,
    "max_minutes_per_month": 5000
  },
  "quota_exceeded": true,
  "calls_remaining": 123,
  "minutes_remaining": 123,
  "agents_remaining": 123,
  "monthly_usage_cents": 123,
  "last_billing_date": "2023-11-07T05:31:56Z",
  "created_at": "2023-11-07T05:31:56Z",
  "last_activity": "2023-11-07T05:31:56Z"
}"#;

/// The quota page's example request, byte for byte.
const QUOTA_EXAMPLE: &str = r#"{"max_agents":500,"max_squads":50,"max_calls_per_month":500000,"max_concurrent_calls":500,"max_minutes_per_month":1,"max_campaigns":500,"max_recordings_gb":500,"max_files_gb":50,"max_file_size_mb":250}"#;

fn seed(text: &str) -> Value {
    serde_json::from_str(text).expect("a seed example")
}

async fn create(app: &TestApp, body: Value) -> Answer {
    app.platform().post("/tenants", &body).await
}

/// A tenant made through v1, and its MrAssistant path.
async fn v1_tenant(app: &TestApp) -> (TenantFixture, String) {
    let tenant = app.tenant().create().await;
    let path = format!("/tenants/{}", uuid_of(&tenant.id));
    (tenant, path)
}

both!(
    a_created_tenant_reads_as_seed_000_with_its_defaults,
    |app| async move {
        let created = create(&app, json!({ "name": "Acme", "billing_plan": "free" })).await;
        created.assert_status(StatusCode::OK);
        assert_shape(
            &created.body,
            &seed(SEED_TENANT),
            &["sip_domain", "sip_username", "webhook_url"],
        );
        let defaults = seed(SEED_TENANT);
        for field in [
            "sip_enabled",
            "recording_enabled",
            "analytics_enabled",
            "max_concurrent_calls",
            "monthly_call_limit",
            "hipaa_enabled",
            "pci_enabled",
            "recording_format",
            "retention_days",
            "data_encryption_enabled",
            "webhook_timeout_seconds",
            "meta_data",
        ] {
            assert_eq!(created.body[field], defaults[field], "default of {field}");
        }
        assert_eq!(created.body["status"], "active");
        assert_eq!(created.body["monthly_usage_cents"], 0);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let read = app.platform().get(&format!("/tenants/{id}")).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body, created.body);
        // The same tenant, through v1's use cases.
        let v1 = app.platform().get(&format!("/api/v1/tenants/{id}")).await;
        v1.assert_status(StatusCode::OK);
        assert_eq!(v1.body["name"], "Acme");
        assert_eq!(v1.body["plan"], "free");
    }
);

both!(
    an_update_changes_only_what_it_names_and_limits_become_overrides,
    |app| async move {
        let created = create(
            &app,
            json!({ "name": "Acme", "billing_plan": "business", "sip_enabled": true,
                "sip_domain": "sip.acme.test", "meta_data": { "crm": "42" } }),
        )
        .await;
        created.assert_status(StatusCode::OK);
        let path = format!("/tenants/{}", created.body["id"].as_str().unwrap());
        let updated = app
        .platform()
        .put(
            &path,
            &json!({ "max_concurrent_calls": 3, "monthly_call_limit": 0, "webhook_timeout_seconds": 5,
                     "sip_domain": null }),
        )
        .await;
        updated.assert_status(StatusCode::OK);
        assert_eq!(updated.body["max_concurrent_calls"], 3);
        assert_eq!(updated.body["monthly_call_limit"], 0);
        assert_eq!(updated.body["webhook_timeout_seconds"], 5);
        assert_eq!(updated.body["sip_domain"], Value::Null);
        assert_eq!(updated.body["sip_enabled"], true);
        assert_eq!(updated.body["name"], "Acme");
        assert_eq!(updated.body["meta_data"], json!({ "crm": "42" }));
        let v1 = app.platform().get(&format!("/api/v1{path}")).await;
        assert_eq!(v1.body["usageLimits"]["maxConcurrentCalls"], 3);
        assert_eq!(v1.body["usageLimits"]["monthlyCallLimit"], 0);
        // A limit of zero calls is enforced by admission, like any other.
        let tenant_id = v1.body["id"].as_str().unwrap();
        let refused = app
            .platform()
            .post(
                &format!("/api/v1/tenants/{tenant_id}/calls"),
                &json!({ "channel": "phone" }),
            )
            .await;
        refused.assert_status(StatusCode::TOO_MANY_REQUESTS);
    }
);

both!(
    lists_page_by_limit_and_offset_and_filter_by_status,
    |app| async move {
        for name in ["One", "Two", "Three"] {
            create(&app, json!({ "name": name, "billing_plan": "free" }))
                .await
                .assert_status(StatusCode::OK);
        }
        let all = app.platform().get("/tenants").await;
        all.assert_status(StatusCode::OK);
        let names: Vec<&str> = all
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Three", "Two", "One"], "newest first");
        let page = app.platform().get("/tenants?limit=1&offset=1").await;
        assert_eq!(page.body.as_array().unwrap().len(), 1);
        assert_eq!(page.body[0]["name"], "Two");
        let second = all.body[1]["id"].as_str().unwrap();
        app.platform()
            .post(&format!("/api/v1/tenants/{second}/deactivate"), &json!({}))
            .await
            .assert_status(StatusCode::OK);
        let suspended = app.platform().get("/tenants?status_filter=suspended").await;
        assert_eq!(suspended.body.as_array().unwrap().len(), 1);
        assert_eq!(suspended.body[0]["status"], "suspended");
        let active = app
            .platform()
            .get("/admin/tenants?status_filter=active")
            .await;
        assert_eq!(active.body.as_array().unwrap().len(), 2);
        let developers = app
            .platform()
            .get("/admin/tenants?tenant_type=developer")
            .await;
        assert_eq!(developers.body, json!([]));
        let bad = app
            .platform()
            .get("/tenants?limit=0&status_filter=gone")
            .await;
        assert_fastapi_error(&bad, StatusCode::UNPROCESSABLE_ENTITY);
        let locations: Vec<Value> = bad.body["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["loc"].clone())
            .collect();
        assert_eq!(
            locations,
            [json!(["query", "limit"]), json!(["query", "status_filter"])]
        );
    }
);

both!(
    admin_details_read_as_seed_001_from_the_counters,
    |app| async move {
        let (tenant, path) = v1_tenant(&app).await;
        let call = tenant.admit("phone").await;
        tenant.end(&call, 90, 250, Some(0.5)).await;
        tenant.admit("webrtc").await;
        let details = app.platform().get(&format!("/admin{path}")).await;
        details.assert_status(StatusCode::OK);
        assert_shape(&details.body, &seed(SEED_DETAILS), &["last_billing_date"]);
        let body = &details.body;
        assert_eq!(body["tenant_id"], uuid_of(&tenant.id));
        assert_eq!(body["tenant_type"], "business");
        assert_eq!(body["billing_plan"], "free");
        assert_eq!(body["total_calls"], 2);
        assert_eq!(body["calls_this_month"], 2);
        assert_eq!(body["total_minutes"], 1.5);
        assert_eq!(body["active_sessions"], 1);
        assert_eq!(body["monthly_usage_cents"], 250);
        // The free plan's entitlements are seed 001's example quota.
        assert_eq!(body["quota"], seed(SEED_DETAILS)["quota"]);
        assert_eq!(body["calls_remaining"], 998);
        assert_eq!(body["minutes_remaining"], 4998.5);
        assert_eq!(body["agents_remaining"], 10);
        assert_eq!(body["quota_exceeded"], false);
        assert!(body["last_activity"].is_string(), "{body}");
        let list = app.platform().get("/admin/tenants").await;
        list.assert_status(StatusCode::OK);
        let row = &list.body[0];
        let mut keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        keys.sort();
        let mut documented = [
            "id",
            "name",
            "tenant_type",
            "billing_plan",
            "status",
            "total_agents",
            "total_calls",
            "calls_this_month",
            "quota_exceeded",
            "created_at",
        ];
        documented.sort();
        assert_eq!(keys, documented);
        assert_eq!(row["total_calls"], 2);
    }
);

both!(
    the_documented_quota_update_becomes_enforced_overrides,
    |app| async move {
        let (tenant, path) = v1_tenant(&app).await;
        let updated = app
            .platform()
            .raw(
                Method::PUT,
                &format!("/admin{path}/quota"),
                "application/json",
                QUOTA_EXAMPLE,
            )
            .await;
        updated.assert_status(StatusCode::OK);
        assert_eq!(updated.body["quota"]["max_agents"], 500);
        assert_eq!(updated.body["quota"]["max_files_gb"], 50.0);
        let v1 = app
            .platform()
            .get(&format!("/api/v1/tenants/{}", tenant.id))
            .await;
        assert_eq!(
            v1.body["usageLimits"],
            json!({ "maxAgents": 500, "maxSquads": 50, "monthlyCallLimit": 500000,
                "maxConcurrentCalls": 500, "maxMinutesPerMonth": 1, "maxCampaigns": 500,
                "maxRecordingsGb": 500.0, "maxFilesGb": 50.0, "maxFileSizeMb": 250 })
        );
        // One concurrent call: the second is refused by admission.
        app.platform()
            .put(
                &format!("/admin{path}/quota"),
                &json!({ "max_concurrent_calls": 1, "max_agents": null }),
            )
            .await
            .assert_status(StatusCode::OK);
        tenant.admit("phone").await;
        tenant
            .start_call(&json!({ "channel": "phone" }))
            .await
            .assert_problem(StatusCode::TOO_MANY_REQUESTS, "concurrency_limit_exceeded");
        let quota = app.platform().get(&format!("/analytics{path}/quota")).await;
        quota.assert_status(StatusCode::OK);
        assert_eq!(quota.body["max_concurrent_calls"], 1);
        assert_eq!(quota.body["current_active_calls"], 1);
        assert_eq!(quota.body["concurrent_calls_remaining"], 0);
        assert_eq!(quota.body["concurrent_usage_percentage"], 100.0);
        assert_eq!(quota.body["monthly_call_limit"], 500000);
        assert_eq!(quota.body["calls_used_this_month"], 1);
        assert_eq!(quota.body["calls_remaining"], 499999);
        assert_eq!(quota.body["calls_usage_percentage"], 0.0);
        assert_eq!(quota.body["status"], "active");
        assert_eq!(quota.body["quota_exceeded"], false);
        assert_eq!(quota.body["total_minutes_used"], 0.0);
    }
);

both!(
    quota_values_out_of_the_documented_ranges_are_fastapi_422s_and_change_nothing,
    |app| async move {
        let (tenant, path) = v1_tenant(&app).await;
        let before = app
            .platform()
            .get(&format!("/api/v1/tenants/{}", tenant.id))
            .await;
        for (body, field, kind) in [
            (json!({ "max_agents": 5000 }), "max_agents", "out_of_range"),
            (json!({ "max_squads": 0 }), "max_squads", "out_of_range"),
            (
                json!({ "max_calls_per_month": 1_000_001 }),
                "max_calls_per_month",
                "out_of_range",
            ),
            (
                json!({ "max_minutes_per_month": -1 }),
                "max_minutes_per_month",
                "out_of_range",
            ),
            (
                json!({ "max_files_gb": 100.5 }),
                "max_files_gb",
                "out_of_range",
            ),
            (
                json!({ "max_file_size_mb": 501 }),
                "max_file_size_mb",
                "out_of_range",
            ),
            (
                json!({ "max_agents": "many" }),
                "max_agents",
                "invalid_value",
            ),
            (json!({ "max_tokens": 5 }), "max_tokens", "extra_forbidden"),
        ] {
            let refused = app
                .platform()
                .put(&format!("/admin{path}/quota"), &body)
                .await;
            assert_fastapi_error(&refused, StatusCode::UNPROCESSABLE_ENTITY);
            let item = &refused.body["detail"][0];
            assert_eq!(item["loc"], json!(["body", field]), "{}", refused.text);
            assert_eq!(item["type"], kind, "{}", refused.text);
            assert!(item["msg"].is_string());
        }
        let after = app
            .platform()
            .get(&format!("/api/v1/tenants/{}", tenant.id))
            .await;
        assert_eq!(before.body, after.body);
    }
);

both!(stats_are_read_from_the_rollups, |app| async move {
    let (tenant, path) = v1_tenant(&app).await;
    let first = tenant.admit("phone").await;
    tenant.end(&first, 60, 100, Some(0.5)).await;
    let second = tenant.admit("phone").await;
    tenant.end(&second, 120, 50, Some(-0.25)).await;
    tenant.admit("webchat").await;
    let stats = app.platform().get(&format!("{path}/stats")).await;
    stats.assert_status(StatusCode::OK);
    let body = &stats.body;
    assert_eq!(body["tenant_id"], uuid_of(&tenant.id));
    assert_eq!(body["total_agents"], 0);
    assert_eq!(
        body["total_calls_today"], 2,
        "completed calls of today's rollup: {body}"
    );
    assert_eq!(
        body["total_calls_month"], 3,
        "admitted calls of the period: {body}"
    );
    assert_eq!(body["avg_call_duration"], 90.0);
    assert_eq!(body["avg_sentiment_score"], 0.125);
    assert_eq!(body["active_sessions"], 1);
    assert_eq!(body["monthly_usage_cents"], 150);
    assert!(body["last_call_at"].is_string());
});

both!(
    a_delete_is_permanent_and_refused_while_calls_are_live,
    |app| async move {
        let (tenant, path) = v1_tenant(&app).await;
        let call = tenant.admit("phone").await;
        let refused = app.platform().delete(&path).await;
        assert_fastapi_error(&refused, StatusCode::CONFLICT);
        tenant.end(&call, 30, 10, None).await;
        app.platform()
            .delete(&path)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        let gone = app.platform().get(&path).await;
        assert_fastapi_error(&gone, StatusCode::NOT_FOUND);
        let v1 = app
            .platform()
            .get(&format!("/api/v1/tenants/{}?status=deleted", tenant.id))
            .await;
        v1.assert_status(StatusCode::NOT_FOUND);
    }
);

both!(
    create_and_update_failures_name_mrassistant_fields,
    |app| async move {
        let missing = create(&app, json!({ "sip_enabled": true })).await;
        assert_fastapi_error(&missing, StatusCode::UNPROCESSABLE_ENTITY);
        let items = missing.body["detail"].as_array().unwrap();
        assert_eq!(items[0]["loc"], json!(["body", "name"]));
        assert_eq!(items[0]["type"], "missing");
        assert_eq!(items[1]["loc"], json!(["body", "billing_plan"]));
        for (body, field) in [
            (json!({ "name": "", "billing_plan": "free" }), "name"),
            (
                json!({ "name": "A", "billing_plan": "gold" }),
                "billing_plan",
            ),
            (
                json!({ "name": "A", "billing_plan": "free", "max_concurrent_calls": 1001 }),
                "max_concurrent_calls",
            ),
            (
                json!({ "name": "A", "billing_plan": "free", "monthly_call_limit": -1 }),
                "monthly_call_limit",
            ),
            (
                json!({ "name": "A", "billing_plan": "free", "retention_days": 0 }),
                "retention_days",
            ),
            (
                json!({ "name": "A", "billing_plan": "free", "recording_format": "flac" }),
                "recording_format",
            ),
            (
                json!({ "name": "A", "billing_plan": "free", "webhook_url": "ftp://x" }),
                "webhook_url",
            ),
        ] {
            let refused = create(&app, body).await;
            assert_fastapi_error(&refused, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(
                refused.body["detail"][0]["loc"],
                json!(["body", field]),
                "{}",
                refused.text
            );
        }
        assert_eq!(
            app.platform().get("/tenants").await.body,
            json!([]),
            "nothing was created"
        );
        let malformed = app
            .platform()
            .raw(Method::POST, "/tenants", "application/json", "{\"name\":")
            .await;
        assert_fastapi_error(&malformed, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(malformed.body["detail"][0]["type"], "json_invalid");
        let bad_id = app.platform().get("/tenants/not-a-uuid").await;
        assert_fastapi_error(&bad_id, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            bad_id.body["detail"][0]["loc"],
            json!(["path", "tenant_id"])
        );
    }
);

both!(
    callers_see_only_their_tenants_and_tenant_keys_cannot_change_terms,
    |app| async move {
        let agency = app.agency().create().await;
        let other = app.agency().name("Other").create().await;
        let created = agency
            .client
            .post(
                "/tenants",
                &json!({ "name": "Mine", "billing_plan": "free" }),
            )
            .await;
        created.assert_status(StatusCode::OK);
        let path = format!("/tenants/{}", created.body["id"].as_str().unwrap());
        let hidden = other.client.get(&path).await;
        assert_fastapi_error(&hidden, StatusCode::NOT_FOUND);
        assert_eq!(other.client.get("/admin/tenants").await.body, json!([]));
        let v1 = agency.client.get(&format!("/api/v1{path}")).await;
        assert_eq!(v1.body["agencyId"], agency.id);
        let anonymous = app.anonymous().get(&path).await;
        assert_fastapi_error(&anonymous, StatusCode::UNAUTHORIZED);
        let (tenant, tenant_path) = v1_tenant(&app).await;
        let refused = tenant
            .client
            .put(
                &format!("/admin{tenant_path}/quota"),
                &json!({ "max_agents": 900 }),
            )
            .await;
        assert_fastapi_error(&refused, StatusCode::FORBIDDEN);
    }
);

both!(
    the_documented_block_refuses_its_services_and_reads_blocked,
    |app| async move {
        let (tenant, path) = v1_tenant(&app).await;
        let blocked = app
        .platform()
        .raw(
            Method::POST,
            &format!("/admin{path}/block"),
            "application/json",
            r#"{"blocked":true,"reason":"Payment overdue","block_services":["calls","agents"]}"#,
        )
        .await;
        blocked.assert_status(StatusCode::OK);
        assert_eq!(blocked.body["status"], "blocked");
        tenant
            .start_call(&json!({ "channel": "phone" }))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "service_blocked");
        // Analytics were not blocked.
        app.platform()
            .get(&format!("{path}/stats"))
            .await
            .assert_status(StatusCode::OK);
        let listed = app
            .platform()
            .get("/admin/tenants?status_filter=blocked")
            .await;
        assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.text);
        assert_eq!(listed.body[0]["status"], "blocked");
        let bad = app
            .platform()
            .post(
                &format!("/admin{path}/block"),
                &json!({ "blocked": true, "block_services": ["calls", "fax"] }),
            )
            .await;
        assert_fastapi_error(&bad, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            bad.body["detail"][0]["loc"],
            json!(["body", "block_services", 1])
        );
        let lifted = app
            .platform()
            .post(&format!("/admin{path}/block"), &json!({ "blocked": false }))
            .await;
        lifted.assert_status(StatusCode::OK);
        assert_eq!(lifted.body["status"], "active");
        tenant.admit("phone").await;
        let by_tenant = tenant
            .client
            .post(&format!("/admin{path}/block"), &json!({ "blocked": true }))
            .await;
        assert_fastapi_error(&by_tenant, StatusCode::FORBIDDEN);
    }
);

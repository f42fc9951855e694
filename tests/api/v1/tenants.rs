//! Tenants: the seed 003 requests, partial updates, versions and ids.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::TestApp;

/// The create request of seed 003, byte for byte.
const SEED_CREATE: &str = r#"{
"name": "Acme Corp",
"slug": "acme-corp",
"plan": "business",
"billingMode": "platform_billed",
"owner": {
"email": "admin@acme.com",
"firstName": "Jane",
"lastName": "Smith"
},
"usageLimits": {
"monthlySpendLimitCents": 500000,
"maxAgents": 20,
"maxPhoneNumbers": 10,
"maxConcurrentCalls": 20
},
"billingAlerts": {
"alertThresholds": [50, 80, 100],
"alertEmails": ["billing@youragency.com", "admin@acme.com"],
"actionAt100": "notify_only"
}
}"#;

/// The update request of seed 003, byte for byte.
const SEED_PATCH: &str = r#"{
"usageLimits": {
"monthlySpendLimitCents": 1000000,
"maxAgents": 50
}
}"#;

/// Every limit key, as the API names it.
pub const LIMIT_KEYS: [&str; 16] = [
    "monthlySpendLimitCents",
    "maxAgents",
    "maxPhoneNumbers",
    "maxConcurrentCalls",
    "monthlyCallLimit",
    "maxMinutesPerMonth",
    "maxSquads",
    "maxFileSizeMb",
    "maxFilesGb",
    "maxRecordingsGb",
    "maxCampaigns",
    "apiStandardPerMinute",
    "apiReadHeavyPerMinute",
    "apiWritePerMinute",
    "analyticsExportPerHour",
    "dataPlanePerMinute",
];

/// The effective limits a tenant must report: its overrides over its plan's entitlements.
async fn expected_effective_limits(app: &TestApp, tenant: &Value) -> Value {
    let plan_code = tenant["plan"].as_str().expect("a plan code");
    let plan = app
        .platform()
        .get(&format!("/api/v1/plans/{plan_code}"))
        .await;
    plan.assert_status(StatusCode::OK);
    let mut limits = serde_json::Map::new();
    for key in LIMIT_KEYS {
        let value = match &tenant["usageLimits"][key] {
            Value::Null => plan.body["entitlements"][key].clone(),
            own => own.clone(),
        };
        limits.insert(key.to_owned(), value);
    }
    Value::Object(limits)
}

fn seed_000_settings() -> Value {
    json!({
        "sipEnabled": false,
        "sipDomain": null,
        "sipUsername": null,
        "recordingEnabled": true,
        "recordingFormat": "mp4",
        "retentionDays": 90,
        "analyticsEnabled": true,
        "hipaaEnabled": false,
        "pciEnabled": false,
        "dataEncryptionEnabled": true,
        "webhookUrl": null,
        "webhookTimeoutSeconds": 20
    })
}

#[track_caller]
fn assert_utc_time(value: &Value) {
    let text = value.as_str().expect("a timestamp");
    assert!(text.ends_with('Z'), "{text} is not UTC");
    chrono::DateTime::parse_from_rfc3339(text).expect("an RFC 3339 timestamp");
}

fn path_of(id: &str) -> String {
    format!("/api/v1/tenants/{id}")
}

both!(
    seed_003_create_answers_the_seed_tenant_object,
    |app| async move {
        let agency = app.agency().name("Voisnap Agency").create().await;
        let created = agency
            .client
            .raw(
                Method::POST,
                "/api/v1/tenants",
                "application/json",
                SEED_CREATE,
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        let tenant = &created.body;
        let id = created.id();
        assert!(id.starts_with("ten_") && id.len() == 30, "{id}");
        assert_eq!(tenant["name"], "Acme Corp");
        assert_eq!(tenant["slug"], "acme-corp");
        assert_eq!(tenant["status"], "active");
        assert_eq!(tenant["plan"], "business");
        assert_eq!(tenant["agencyId"], agency.id.as_str());
        assert_eq!(tenant["billingMode"], "platform_billed");
        assert_eq!(tenant["tenantType"], "agency_client");
        assert_eq!(
            tenant["usageLimits"],
            json!({
                "monthlySpendLimitCents": 500000,
                "maxAgents": 20,
                "maxPhoneNumbers": 10,
                "maxConcurrentCalls": 20
            })
        );
        assert_eq!(
            tenant["usageCurrentMonth"],
            json!({ "conversations": 0, "totalMinutes": 0.0, "totalSeconds": 0, "totalCostCents": 0 })
        );
        assert_utc_time(&tenant["createdAt"]);
        assert_utc_time(&tenant["updatedAt"]);
        // The owner is shown as supplied; no user is linked until they accept an invitation.
        assert_eq!(
            tenant["owner"],
            json!({ "id": null, "email": "admin@acme.com", "name": "Jane Smith",
                    "firstName": "Jane", "lastName": "Smith" })
        );
        assert_eq!(
            tenant["effectiveLimits"],
            expected_effective_limits(&app, tenant).await
        );
        assert_eq!(
            tenant["billingAlerts"],
            json!({
                "alertThresholds": [50, 80, 100],
                "alertEmails": ["billing@youragency.com", "admin@acme.com"],
                "actionAt100": "notify_only",
                "thresholdActions": {}
            })
        );
        assert_eq!(
            tenant["usageAlerts"],
            json!({ "monthlyCallLimit": null, "maxMinutesPerMonth": null })
        );
        assert_eq!(tenant["settings"], seed_000_settings());
        assert_eq!(tenant["metadata"], json!({}));
        assert_eq!(
            created.header("location"),
            Some(path_of(&id).as_str()),
            "Location names the new tenant"
        );
        let etag = created.header("etag").expect("an ETag").to_owned();

        let read = agency.client.get(&path_of(&id)).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body, created.body);
        assert_eq!(read.header("etag"), Some(etag.as_str()));
    }
);

both!(
    seed_003_patch_changes_two_limits_and_keeps_the_others,
    |app| async move {
        let agency = app.agency().create().await;
        let created = agency
            .client
            .raw(
                Method::POST,
                "/api/v1/tenants",
                "application/json",
                SEED_CREATE,
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        let path = path_of(&created.id());

        let patched = agency
            .client
            .raw(Method::PATCH, &path, "application/json", SEED_PATCH)
            .await;
        patched.assert_status(StatusCode::OK);
        assert_eq!(
            patched.body["usageLimits"],
            json!({
                "monthlySpendLimitCents": 1000000,
                "maxAgents": 50,
                "maxPhoneNumbers": 10,
                "maxConcurrentCalls": 20
            })
        );
        assert_eq!(
            patched.body["effectiveLimits"],
            expected_effective_limits(&app, &patched.body).await
        );
        for unchanged in [
            "name",
            "slug",
            "plan",
            "billingAlerts",
            "settings",
            "owner",
            "createdAt",
        ] {
            assert_eq!(
                patched.body[unchanged], created.body[unchanged],
                "{unchanged}"
            );
        }
        assert_ne!(patched.header("etag"), created.header("etag"));
        assert!(patched.body["updatedAt"].as_str() > created.body["updatedAt"].as_str());
        assert_eq!(agency.client.get(&path).await.body, patched.body);
    }
);

both!(
    patch_merges_nested_objects_and_null_clears,
    |app| async move {
        let tenant = app
            .tenant()
            .field(
                "usageLimits",
                json!({ "maxAgents": 20, "maxPhoneNumbers": 5 }),
            )
            .field(
                "settings",
                json!({ "sipEnabled": true, "sipDomain": "sip.acme.com",
                    "webhookUrl": "https://hooks.acme.com/tenantry" }),
            )
            .field("metadata", json!({ "a": 1, "b": 2 }))
            .create()
            .await;
        let platform = app.platform();
        let path = path_of(&tenant.id);

        let patched = platform
            .patch(&path, &json!({ "settings": { "recordingFormat": "wav" } }))
            .await;
        patched.assert_status(StatusCode::OK);
        let mut settings = tenant.body["settings"].clone();
        settings["recordingFormat"] = json!("wav");
        assert_eq!(patched.body["settings"], settings);

        let patched = platform
            .patch(&path, &json!({ "settings": { "sipDomain": null } }))
            .await;
        patched.assert_status(StatusCode::OK);
        settings["sipDomain"] = Value::Null;
        assert_eq!(patched.body["settings"], settings);
        assert_eq!(patched.body["settings"]["sipEnabled"], true);

        let patched = platform
            .patch(&path, &json!({ "usageLimits": { "maxAgents": null } }))
            .await;
        patched.assert_status(StatusCode::OK);
        assert_eq!(patched.body["usageLimits"], json!({ "maxPhoneNumbers": 5 }));
        assert_eq!(
            patched.body["effectiveLimits"],
            expected_effective_limits(&app, &patched.body).await
        );

        let patched = platform
            .patch(&path, &json!({ "metadata": { "a": null, "c": 3 } }))
            .await;
        patched.assert_status(StatusCode::OK);
        assert_eq!(patched.body["metadata"], json!({ "b": 2, "c": 3 }));

        let patched = platform
            .patch(&path, &json!({ "name": "Renamed", "plan": "starter" }))
            .await;
        patched.assert_status(StatusCode::OK);
        assert_eq!(patched.body["name"], "Renamed");
        assert_eq!(patched.body["plan"], "starter");
        assert_eq!(patched.body["slug"], tenant.body["slug"]);
        assert_eq!(patched.body["metadata"], json!({ "b": 2, "c": 3 }));
    }
);

both!(null_on_a_non_nullable_field_is_refused, |app| async move {
    let tenant = app.tenant().create().await;
    let platform = app.platform();
    let path = path_of(&tenant.id);
    let before = platform.get(&path).await;
    for (body, field) in [
        (json!({ "name": null }), "name"),
        (json!({ "slug": null }), "slug"),
        (json!({ "plan": null }), "plan"),
        (json!({ "usageLimits": null }), "usageLimits"),
        (
            json!({ "settings": { "recordingEnabled": null } }),
            "settings.recordingEnabled",
        ),
        (
            json!({ "billingAlerts": { "actionAt100": null } }),
            "billingAlerts.actionAt100",
        ),
        (json!({ "billingMode": null }), "billingMode"),
        (
            json!({ "settings": { "recordingFormat": null } }),
            "settings.recordingFormat",
        ),
    ] {
        platform.patch(&path, &body).await.assert_invalid(field);
    }
    let after = platform.get(&path).await;
    assert_eq!(after.body, before.body);
    assert_eq!(after.header("etag"), before.header("etag"));
});

both!(if_match_guards_against_lost_updates, |app| async move {
    let tenant = app.tenant().create().await;
    let platform = app.platform();
    let path = path_of(&tenant.id);
    let read = platform.get(&path).await;
    let first = read.header("etag").expect("an ETag").to_owned();

    let changed = platform
        .send(
            platform
                .request(Method::PATCH, &path)
                .header("if-match", &first)
                .json(&json!({ "name": "First" })),
        )
        .await;
    changed.assert_status(StatusCode::OK);
    let second = changed.header("etag").expect("a new ETag").to_owned();
    assert_ne!(first, second);

    let stale = platform
        .send(
            platform
                .request(Method::PATCH, &path)
                .header("if-match", &first)
                .json(&json!({ "name": "Lost" })),
        )
        .await;
    stale.assert_problem(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    let now = platform.get(&path).await;
    assert_eq!(now.body["name"], "First");
    assert_eq!(now.header("etag"), Some(second.as_str()));

    let any = platform
        .send(
            platform
                .request(Method::PATCH, &path)
                .header("if-match", "*")
                .json(&json!({ "name": "Any" })),
        )
        .await;
    any.assert_status(StatusCode::OK);
});

both!(patch_to_a_taken_slug_is_a_conflict, |app| async move {
    app.tenant().name("One").slug("one").create().await;
    let two = app.tenant().name("Two").slug("two").create().await;
    let answer = app
        .platform()
        .patch(&path_of(&two.id), &json!({ "slug": "one" }))
        .await;
    answer.assert_problem(StatusCode::CONFLICT, "slug_taken");
    assert_eq!(answer.fields(), ["slug"]);
    assert_eq!(
        app.platform().get(&path_of(&two.id)).await.body["slug"],
        "two"
    );
});

both!(tenants_answer_to_their_uuid_too, |app| async move {
    let tenant = app.tenant().create().await;
    let id: tenantry::domain::ids::TenantId = tenant.id.parse().unwrap();
    let by_uuid = app
        .platform()
        .get(&format!("/api/v1/tenants/{}", id.0))
        .await;
    by_uuid.assert_status(StatusCode::OK);
    assert_eq!(by_uuid.body["id"], tenant.id.as_str());
    app.platform()
        .get("/api/v1/tenants/ten_nonsense")
        .await
        .assert_invalid("tenantId");
    let unknown = tenantry::domain::ids::TenantId::generate();
    app.platform()
        .get(&path_of(&unknown.to_string()))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
});

//! Bad tenant input: each refusal names its field, and none of them changes anything.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::{Client, TestApp};

/// A create request that is valid but for what `bad` sets.
fn create_with(bad: Value) -> Value {
    let mut body = json!({
        "name": "Valid",
        "slug": "valid",
        "plan": "business",
        "owner": { "email": "owner@valid.example", "firstName": "Val" },
        "usageLimits": { "maxConcurrentCalls": 5 },
        "settings": { "webhookUrl": "https://hooks.valid.example/x" }
    });
    merge(&mut body, bad);
    body
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch,
    }
}

/// Posts `body` and checks that the list of tenants did not change.
async fn refused(app: &TestApp, client: &Client, body: &Value) -> crate::support::Answer {
    let before = app.platform().tenant_ids().await;
    let answer = client.post("/api/v1/tenants", body).await;
    assert!(
        answer.status.is_client_error(),
        "{body} was accepted: {}",
        answer.text
    );
    assert_eq!(
        app.platform().tenant_ids().await,
        before,
        "{body} changed the tenants"
    );
    answer
}

both!(
    out_of_range_and_malformed_values_name_their_field,
    |app| async move {
        let agency = app.agency().create().await;
        let cases = [
            (json!({ "name": "" }), "name"),
            (json!({ "name": "n".repeat(256) }), "name"),
            (
                json!({ "usageLimits": { "maxConcurrentCalls": 0 } }),
                "usageLimits.maxConcurrentCalls",
            ),
            (
                json!({ "usageLimits": { "maxConcurrentCalls": 1001 } }),
                "usageLimits.maxConcurrentCalls",
            ),
            (
                json!({ "usageLimits": { "monthlyCallLimit": -1 } }),
                "usageLimits.monthlyCallLimit",
            ),
            (
                json!({ "usageLimits": { "monthlySpendLimitCents": -5 } }),
                "usageLimits.monthlySpendLimitCents",
            ),
            (json!({ "slug": "Acme Corp" }), "slug"),
            (json!({ "slug": "-acme" }), "slug"),
            (json!({ "slug": "acme-" }), "slug"),
            (json!({ "slug": "a".repeat(64) }), "slug"),
            (json!({ "slug": "" }), "slug"),
            (json!({ "plan": "platinum" }), "plan"),
            (json!({ "billingMode": "customer_billed" }), "billingMode"),
            (
                json!({ "billingAlerts": { "actionAt100": "explode" } }),
                "billingAlerts.actionAt100",
            ),
            (
                json!({ "billingAlerts": { "alertThresholds": [0] } }),
                "billingAlerts.alertThresholds[0]",
            ),
            (
                json!({ "billingAlerts": { "alertEmails": ["ok@x.example", "nope"] } }),
                "billingAlerts.alertEmails[1]",
            ),
            (
                json!({ "settings": { "recordingFormat": "flac" } }),
                "settings.recordingFormat",
            ),
            (
                json!({ "settings": { "retentionDays": 0 } }),
                "settings.retentionDays",
            ),
            (
                json!({ "settings": { "webhookTimeoutSeconds": 301 } }),
                "settings.webhookTimeoutSeconds",
            ),
            (
                json!({ "settings": { "webhookUrl": "ftp://hooks.example.com" } }),
                "settings.webhookUrl",
            ),
            (
                json!({ "settings": { "webhookUrl": "not a url" } }),
                "settings.webhookUrl",
            ),
            (
                json!({ "owner": { "email": "not-an-email" } }),
                "owner.email",
            ),
            (json!({ "owner": { "email": "a@" } }), "owner.email"),
        ];
        for (bad, field) in cases {
            let body = create_with(bad);
            refused(&app, &agency.client, &body)
                .await
                .assert_invalid(field);
        }
        let unknown_plan = refused(
            &app,
            &agency.client,
            &create_with(json!({ "plan": "platinum" })),
        )
        .await;
        assert_eq!(
            unknown_plan.field_code("plan").as_deref(),
            Some("unknown_plan")
        );
    }
);

both!(
    unknown_fields_and_wrong_types_name_their_field,
    |app| async move {
        let platform = app.platform();
        let cases = [
            (json!({ "colour": "red" }), "colour"),
            (json!({ "settings": { "volume": 11 } }), "settings.volume"),
            (
                json!({ "usageLimits": { "maxLlamas": 3 } }),
                "usageLimits.maxLlamas",
            ),
            (json!({ "name": 42 }), "name"),
            (
                json!({ "usageLimits": { "maxAgents": "ten" } }),
                "usageLimits.maxAgents",
            ),
            (
                json!({ "usageLimits": { "maxAgents": 2.5 } }),
                "usageLimits.maxAgents",
            ),
            (
                json!({ "settings": { "sipEnabled": "yes" } }),
                "settings.sipEnabled",
            ),
            (
                json!({ "billingAlerts": { "alertThresholds": "50" } }),
                "billingAlerts.alertThresholds",
            ),
            (json!({ "metadata": [1, 2] }), "metadata"),
            (json!({ "agencyId": "agn_bogus" }), "agencyId"),
            (json!({ "billingMode": 5 }), "billingMode"),
            (
                json!({ "settings": { "recordingFormat": true } }),
                "settings.recordingFormat",
            ),
        ];
        for (bad, field) in cases {
            refused(&app, &platform, &create_with(bad))
                .await
                .assert_invalid(field);
        }
        let missing = refused(&app, &platform, &json!({ "slug": "no-name" })).await;
        missing.assert_invalid("name");
        assert_eq!(missing.field_code("name").as_deref(), Some("required"));
        for not_object in [json!(["Listed", "listed"]), json!("Named"), json!(null)] {
            refused(&app, &platform, &not_object)
                .await
                .assert_invalid("body");
        }
    }
);

both!(boundary_values_are_accepted, |app| async move {
    let platform = app.platform();
    for (n, body) in [
        json!({ "name": "n".repeat(255), "slug": "s".repeat(63) }),
        json!({ "name": "x", "slug": "0" }),
        json!({ "name": "Low", "usageLimits": { "maxConcurrentCalls": 1, "monthlyCallLimit": 0 } }),
        json!({ "name": "High", "usageLimits": { "maxConcurrentCalls": 1000 } }),
        json!({ "name": "Hook", "settings": { "webhookUrl": "http://localhost:8080/hook?x=1" } }),
    ]
    .into_iter()
    .enumerate()
    {
        let answer = platform.post("/api/v1/tenants", &body).await;
        answer.assert_status(StatusCode::CREATED);
        assert_eq!(answer.body["name"], body["name"], "case {n}");
    }
    assert_eq!(platform.tenant_ids().await.len(), 5);
});

both!(
    malformed_bodies_are_refused_before_anything_runs,
    |app| async move {
        let platform = app.platform();
        let before = platform.tenant_ids().await;

        let broken = platform
            .raw(
                Method::POST,
                "/api/v1/tenants",
                "application/json",
                r#"{"name": "#,
            )
            .await;
        broken.assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
        let trailing = platform
            .raw(
                Method::POST,
                "/api/v1/tenants",
                "application/json",
                r#"{"name": "x"} {}"#,
            )
            .await;
        trailing.assert_problem(StatusCode::BAD_REQUEST, "malformed_json");

        let text = platform
            .raw(
                Method::POST,
                "/api/v1/tenants",
                "text/plain",
                r#"{"name": "Plain"}"#,
            )
            .await;
        text.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        let none = platform
            .send(
                platform
                    .request(Method::POST, "/api/v1/tenants")
                    .body(r#"{"name": "Bare"}"#),
            )
            .await;
        none.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

        let huge = json!({ "name": "Huge", "metadata": { "blob": "x".repeat(1024 * 1024) } });
        platform
            .post("/api/v1/tenants", &huge)
            .await
            .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

        let path = "/api/v1/tenants";
        let tenant = app.tenant().create().await;
        let tenant_path = format!("{path}/{}", tenant.id);
        let read = platform.get(&tenant_path).await;
        platform
            .raw(Method::PATCH, &tenant_path, "application/json", "{")
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
        platform
            .patch(&tenant_path, &json!(["Renamed"]))
            .await
            .assert_invalid("body");
        platform
            .patch(&tenant_path, &huge)
            .await
            .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        assert_eq!(platform.get(&tenant_path).await.body, read.body);

        let mut after = platform.tenant_ids().await;
        after.retain(|id| *id != tenant.id);
        assert_eq!(after, before);
    }
);

both!(
    a_taken_slug_is_a_conflict_and_changes_nothing,
    |app| async move {
        let agency = app.agency().create().await;
        app.tenant().name("Acme").slug("acme").create().await;
        let taken = refused(
            &app,
            &agency.client,
            &json!({ "name": "Other Acme", "slug": "acme",
                 "owner": { "email": "new-owner@acme.example" } }),
        )
        .await;
        taken.assert_problem(StatusCode::CONFLICT, "slug_taken");
        assert_eq!(taken.fields(), ["slug"]);

        // Without a slug, one is derived from the name and made unique.
        let derived = agency
            .client
            .post("/api/v1/tenants", &json!({ "name": "Acme" }))
            .await;
        derived.assert_status(StatusCode::CREATED);
        let slug = derived.body["slug"].as_str().unwrap();
        assert!(slug.starts_with("acme-"), "{slug}");
    }
);

both!(every_bad_field_is_reported_at_once, |app| async move {
    let answer = refused(
        &app,
        &app.platform(),
        &json!({ "name": "", "slug": "Bad Slug",
                 "usageLimits": { "maxConcurrentCalls": 0 },
                 "settings": { "retentionDays": 0 } }),
    )
    .await;
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut fields = answer.fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "name",
            "settings.retentionDays",
            "slug",
            "usageLimits.maxConcurrentCalls"
        ]
    );
});

both!(
    bodies_are_read_as_their_schema_describes_them,
    |app| async move {
        let platform = app.platform();
        // An array where an object belongs is refused, however deep.
        for (bad, field) in [
            (json!({ "settings": [true] }), "settings"),
            (json!({ "usageLimits": [5] }), "usageLimits"),
            (json!({ "owner": ["owner@valid.example"] }), "owner"),
        ] {
            refused(&app, &platform, &create_with(bad))
                .await
                .assert_invalid(field);
        }
        // JSON Schema counts 20.0 as an integer; 20.5 is not one.
        refused(
            &app,
            &platform,
            &create_with(json!({ "usageLimits": { "maxAgents": 20.5 } })),
        )
        .await
        .assert_invalid("usageLimits.maxAgents");
        let created = platform
            .post(
                "/api/v1/tenants",
                &create_with(json!({ "usageLimits": { "maxAgents": 20.0 } })),
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        assert_eq!(created.body["usageLimits"]["maxAgents"], 20);
    }
);

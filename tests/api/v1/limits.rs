//! `GET …/limits`: every limit with its value, where the value comes from, the usage this
//! period, what remains, and whether it is used up.

use chrono::{Datelike, Months, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::event;

/// A plan's entitlements, read from the API.
async fn entitlements(app: &crate::support::TestApp, plan: &str) -> Value {
    let plan = app.platform().get(&format!("/api/v1/plans/{plan}")).await;
    plan.assert_status(StatusCode::OK);
    plan.body["entitlements"].clone()
}

/// What the report must say of one limit with this value and usage.
fn explained(value: &Value, source: &str, used: i64) -> Value {
    match value.as_i64() {
        Some(limit) => json!({
            "value": limit,
            "source": source,
            "used": used,
            "remaining": (limit - used).max(0),
            "exceeded": used >= limit,
        }),
        None => json!({
            "value": null,
            "source": source,
            "used": used,
            "remaining": null,
            "exceeded": false,
        }),
    }
}

both!(
    limits_explain_value_source_usage_and_what_remains,
    |app| async move {
        let plan = entitlements(&app, "starter").await;
        let tenant = app
            .tenant()
            .plan("starter")
            .limits(json!({ "maxConcurrentCalls": 3, "monthlySpendLimitCents": 10000 }))
            .create()
            .await;
        for name in ["Ava", "Bo"] {
            tenant
                .client
                .post(&tenant.path("/agents"), &json!({ "name": name }))
                .await
                .assert_status(StatusCode::CREATED);
        }
        let ended = tenant.admit("phone").await;
        tenant.end(&ended, 150, 300, None).await;
        tenant.admit("webrtc").await;
        assert_eq!(
            tenant
                .ingest(&[event("ev", Utc::now(), "webchat", 30, 200, None)])
                .await,
            (1, 0)
        );

        let report = tenant.limits().await;
        let today = Utc::now().date_naive();
        let start = today.with_day(1).unwrap();
        assert_eq!(report["tenantId"], tenant.id.as_str());
        assert_eq!(
            report["period"],
            json!({ "start": start.to_string(), "end": (start + Months::new(1)).to_string() })
        );
        assert_eq!(report["activeCalls"], 1);
        let limits = &report["limits"];
        assert_eq!(
            limits["maxConcurrentCalls"],
            json!({ "value": 3, "source": "tenant", "used": 1, "remaining": 2, "exceeded": false })
        );
        assert_eq!(
            limits["monthlySpendLimitCents"],
            json!({ "value": 10000, "source": "tenant", "used": 500, "remaining": 9500, "exceeded": false })
        );
        assert_eq!(
            limits["maxAgents"],
            explained(&plan["maxAgents"], "plan", 2)
        );
        assert_eq!(
            limits["maxPhoneNumbers"],
            explained(&plan["maxPhoneNumbers"], "plan", 0)
        );
        // Two admitted calls and one reported event; 180 seconds are three minutes.
        assert_eq!(
            limits["monthlyCallLimit"],
            explained(&plan["monthlyCallLimit"], "plan", 3)
        );
        assert_eq!(
            limits["maxMinutesPerMonth"],
            explained(&plan["maxMinutesPerMonth"], "plan", 3)
        );
        assert_eq!(
            limits.as_object().unwrap().len(),
            crate::v1::tenants::LIMIT_KEYS.len(),
            "{report}"
        );

        tenant.admit("phone").await;
        tenant.admit("webchat").await;
        let report = tenant.limits().await;
        assert_eq!(report["activeCalls"], 3);
        assert_eq!(
            report["limits"]["maxConcurrentCalls"],
            json!({ "value": 3, "source": "tenant", "used": 3, "remaining": 0, "exceeded": true })
        );
    }
);

both!(limits_a_plan_leaves_open_are_unlimited, |app| async move {
    let plan = entitlements(&app, "enterprise").await;
    let tenant = app.tenant().plan("enterprise").create().await;
    let call = tenant.admit("phone").await;
    tenant.end(&call, 61, 12, None).await;

    let report = tenant.limits().await;
    let limits = &report["limits"];
    for (key, used) in [
        ("monthlySpendLimitCents", 12),
        ("maxAgents", 0),
        ("maxPhoneNumbers", 0),
        ("maxConcurrentCalls", 0),
        ("monthlyCallLimit", 1),
        ("maxMinutesPerMonth", 1),
    ] {
        assert_eq!(limits[key], explained(&plan[key], "plan", used), "{key}");
    }
    assert_eq!(limits["monthlySpendLimitCents"]["value"], json!(null));
});

both!(
    a_tenant_override_of_a_plan_limit_says_so,
    |app| async move {
        let tenant = app
            .tenant()
            .plan("free")
            .limits(json!({ "maxAgents": 1 }))
            .create()
            .await;
        let before = tenant.limits().await;
        assert_eq!(before["limits"]["maxAgents"]["source"], "tenant");
        assert_eq!(before["limits"]["maxConcurrentCalls"]["source"], "plan");

        let patched = app
            .platform()
            .patch(
                &tenant.path(""),
                &json!({ "usageLimits": { "maxAgents": null, "maxConcurrentCalls": 4 } }),
            )
            .await;
        patched.assert_status(StatusCode::OK);
        let plan = entitlements(&app, "free").await;
        let after = tenant.limits().await;
        assert_eq!(
            after["limits"]["maxAgents"],
            explained(&plan["maxAgents"], "plan", 0)
        );
        assert_eq!(
            after["limits"]["maxConcurrentCalls"],
            explained(&json!(4), "tenant", 0)
        );
    }
);

both!(
    every_declared_limit_key_is_stored_merged_and_explained,
    |app| async move {
        let platform = app.platform();
        // A plan that grants two of the newer keys, one of them in gigabytes.
        let plan = platform
            .post(
                "/api/v1/plans",
                &json!({ "code": "studio", "name": "Studio", "amountCents": 9900,
                         "entitlements": { "maxSquads": 5, "maxFilesGb": 2.5,
                                           "maxConcurrentCalls": 4 } }),
            )
            .await;
        plan.assert_status(StatusCode::CREATED);
        assert_eq!(
            plan.body["entitlements"],
            json!({ "maxConcurrentCalls": 4, "maxSquads": 5, "maxFilesGb": 2.5 })
        );
        let tenant = app
            .tenant()
            .plan("studio")
            .limits(json!({ "maxFilesGb": 0.75, "maxCampaigns": 12, "maxFileSizeMb": 250 }))
            .create()
            .await;
        let effective = &tenant.body["effectiveLimits"];
        assert_eq!(effective["maxSquads"], 5, "{effective}");
        assert_eq!(effective["maxFilesGb"], 0.75);
        assert_eq!(effective["maxCampaigns"], 12);
        assert_eq!(effective["maxFileSizeMb"], 250);
        assert_eq!(effective["maxRecordingsGb"], Value::Null);
        assert_eq!(effective["maxConcurrentCalls"], 4);

        let report = tenant.limits().await;
        let limits = &report["limits"];
        assert_eq!(limits["maxSquads"]["source"], "plan", "{report}");
        assert_eq!(limits["maxSquads"]["used"], 0);
        assert_eq!(limits["maxCampaigns"]["source"], "tenant");
        // A gigabyte limit is explained in gigabytes.
        assert_eq!(limits["maxFilesGb"]["value"], 0.75);
        assert_eq!(limits["maxFilesGb"]["remaining"], 0.75);

        // Each key keeps its own range, and clears like the others.
        for (bad, field) in [
            (json!({ "maxSquads": 0 }), "usageLimits.maxSquads"),
            (json!({ "maxSquads": 101 }), "usageLimits.maxSquads"),
            (json!({ "maxFileSizeMb": 501 }), "usageLimits.maxFileSizeMb"),
            (json!({ "maxFilesGb": 100.5 }), "usageLimits.maxFilesGb"),
            (
                json!({ "maxRecordingsGb": -1 }),
                "usageLimits.maxRecordingsGb",
            ),
            (json!({ "maxCampaigns": 1001 }), "usageLimits.maxCampaigns"),
            (json!({ "maxCampaigns": 1.5 }), "usageLimits.maxCampaigns"),
        ] {
            platform
                .patch(&tenant.path(""), &json!({ "usageLimits": bad }))
                .await
                .assert_invalid(field);
        }
        let cleared = platform
            .patch(
                &tenant.path(""),
                &json!({ "usageLimits": { "maxFilesGb": null, "maxCampaigns": null } }),
            )
            .await;
        cleared.assert_status(StatusCode::OK);
        assert_eq!(cleared.body["usageLimits"], json!({ "maxFileSizeMb": 250 }));
        assert_eq!(cleared.body["effectiveLimits"]["maxFilesGb"], 2.5);
    }
);

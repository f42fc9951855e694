//! Billing and usage alerts: each threshold of a monthly limit fires once per period, however
//! the usage arrives (call ends, batches, concurrent batches on one or two servers), with mail
//! to every alert address and a `usage.threshold_reached` event. Bad settings are refused.
//! What thresholds do is in `alert_actions.rs`, which uses the helpers here.

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantry::domain::event::Event;
use tenantry::domain::ids::TenantId;
use tenantry::domain::metering::Period;

use crate::both;
use crate::support::process::{replicas_turn, Served};
use crate::support::races::all_at_once;
use crate::support::{event, AgencyFixture, Client, TenantFixture, TestApp};
use crate::v1::events::events_of;

pub(super) const ALERT_EMAILS: [&str; 2] = ["billing@agency.example", "admin@acme.example"];

/// A tenant of `agency` with a spend limit of `limit` cents and these billing alerts, mailed to
/// [`ALERT_EMAILS`].
pub(super) async fn spending_tenant(
    app: &TestApp,
    agency: &AgencyFixture,
    limit: i64,
    alerts: Value,
) -> TenantFixture {
    let mut billing = json!({ "alertEmails": ALERT_EMAILS });
    for (name, value) in alerts.as_object().unwrap() {
        billing[name] = value.clone();
    }
    app.tenant()
        .of(agency)
        .limits(json!({ "monthlySpendLimitCents": limit }))
        .field("billingAlerts", billing)
        .create()
        .await
}

/// Reports one completed call costing `cents`, now.
pub(super) async fn spend(tenant: &TenantFixture, id: &str, cents: i64) {
    let (accepted, _) = tenant
        .ingest(&[event(id, Utc::now(), "phone", 60, cents, None)])
        .await;
    assert_eq!(accepted, 1);
}

/// The `usage.threshold_reached` events of a tenant, oldest first.
pub(super) async fn alerts_of(app: &TestApp, tenant: &TenantFixture) -> Vec<Event> {
    events_of(app, tenant)
        .await
        .into_iter()
        .filter(|e| e.kind.name() == "usage.threshold_reached")
        .collect()
}

/// (metric, threshold) of each alert.
pub(super) fn fired(alerts: &[Event]) -> Vec<(String, i64)> {
    alerts
        .iter()
        .map(|e| {
            let data = &e.payload["data"];
            (
                data["metric"].as_str().unwrap().to_owned(),
                data["threshold"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// (recipient, subject) of the mail about a tenant, oldest first.
async fn mail_of(app: &TestApp, tenant: &TenantFixture) -> Vec<(String, String)> {
    let id: TenantId = tenant.id.parse().unwrap();
    tenantry::store::outbox::list_for_tenant(app.db().store(), id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.recipient, d.subject))
        .collect()
}

pub(super) fn spend_alert(threshold: i64) -> (String, i64) {
    ("monthlySpendLimitCents".to_owned(), threshold)
}

/// The first instant of the next billing period.
pub(super) fn next_period() -> DateTime<Utc> {
    Period::containing(Utc::now())
        .end
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

both!(
    each_threshold_fires_once_with_mail_to_every_address,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = spending_tenant(&app, &agency, 1000, json!({})).await;
        spend(&tenant, "a", 400).await;
        assert!(alerts_of(&app, &tenant).await.is_empty());
        spend(&tenant, "b", 100).await;
        spend(&tenant, "c", 100).await;
        assert_eq!(fired(&alerts_of(&app, &tenant).await), [spend_alert(50)]);
        // A call's end adds spend too.
        let call = tenant.admit("phone").await;
        tenant.end(&call, 30, 250, None).await;
        spend(&tenant, "d", 150).await;
        spend(&tenant, "e", 100).await;

        let alerts = alerts_of(&app, &tenant).await;
        assert_eq!(
            fired(&alerts),
            [spend_alert(50), spend_alert(80), spend_alert(100)]
        );
        let period = Period::containing(Utc::now());
        assert_eq!(
            alerts[0].payload["data"],
            json!({
                "tenantId": tenant.id,
                "agencyId": agency.id,
                "metric": "monthlySpendLimitCents",
                "threshold": 50,
                "usage": 500,
                "limit": 1000,
                "period": { "start": period.start.to_string(), "end": period.end.to_string() },
                "action": "notify_only",
                "reachedAt": alerts[0].payload["timestamp"],
            })
        );
        assert_eq!(alerts[1].payload["data"]["usage"], 850);
        assert_eq!(alerts[2].payload["data"]["usage"], 1000);
        assert_eq!(alerts[0].agency_id.unwrap().to_string(), agency.id);

        let mail = mail_of(&app, &tenant).await;
        assert_eq!(mail.len(), 6, "{mail:?}");
        for (i, threshold) in [50, 80, 100].into_iter().enumerate() {
            for (j, to) in ALERT_EMAILS.into_iter().enumerate() {
                let (recipient, subject) = &mail[i * 2 + j];
                assert_eq!(recipient, to);
                assert!(subject.contains(&format!("{threshold}%")), "{subject}");
            }
        }
        // notify_only: calls go on past the limit.
        tenant.admit("phone").await;
    }
);

both!(
    one_batch_over_several_thresholds_fires_each_once,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = spending_tenant(&app, &agency, 1000, json!({})).await;
        let now = Utc::now();
        let batch: Vec<Value> = (0..3)
            .map(|i| {
                event(
                    &format!("jump-{i}"),
                    now,
                    "webrtc",
                    60,
                    [500, 300, 150][i],
                    None,
                )
            })
            .collect();
        tenant.ingest(&batch).await;
        let alerts = alerts_of(&app, &tenant).await;
        assert_eq!(fired(&alerts), [spend_alert(50), spend_alert(80)]);
        for alert in &alerts {
            assert_eq!(alert.payload["data"]["usage"], 950);
        }
        // The same batch again is all duplicates; more spend below 100% fires nothing.
        tenant.ingest(&batch).await;
        spend(&tenant, "more", 40).await;
        assert_eq!(alerts_of(&app, &tenant).await.len(), 2);
        assert_eq!(mail_of(&app, &tenant).await.len(), 4);
    }
);

/// Reports `RACERS` calls of 25 cents at once, spread over `servers`, on a limit of exactly
/// their sum: each of 50, 80 and 100% is crossed by one of them, and fires once.
async fn race_over_thresholds(app: &TestApp, servers: &[&str]) {
    const RACERS: usize = 40;
    let agency = app.agency().create().await;
    let tenant = spending_tenant(app, &agency, RACERS as i64 * 25, json!({})).await;
    let clients: Vec<Client> = servers
        .iter()
        .map(|url| app.client_of(url, tenant.client.key()))
        .collect();
    let now = Utc::now();
    let requests = (0..RACERS)
        .map(|i| {
            let body =
                json!({ "events": [event(&format!("race-{i}"), now, "phone", 60, 25, None)] });
            (Method::POST, tenant.path("/usage-events"), body)
        })
        .collect();
    for answer in all_at_once(&clients, requests).await {
        answer.assert_status(StatusCode::OK);
    }
    assert_eq!(
        tenant.usage_this_month().await["totalCostCents"],
        RACERS as i64 * 25
    );
    let mut alerts = fired(&alerts_of(app, &tenant).await);
    alerts.sort_by_key(|(_, threshold)| *threshold);
    assert_eq!(alerts, [spend_alert(50), spend_alert(80), spend_alert(100)]);
    assert_eq!(mail_of(app, &tenant).await.len(), 6);
}

both!(
    concurrent_batches_fire_each_threshold_once,
    |app| async move {
        let url = app.base_url().to_owned();
        race_over_thresholds(&app, &[&url]).await;
    }
);

#[tokio::test]
async fn concurrent_batches_on_two_servers_fire_each_threshold_once() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let turn = replicas_turn().await;
    let other = Served::start(&app).await;
    let urls = [app.base_url().to_owned(), other.base_url.clone()];
    for _ in 0..3 {
        race_over_thresholds(&app, &[&urls[0], &urls[1]]).await;
    }
    other.kill().await;
    drop(turn);
    app.finish().await;
}

/// The audit entries of `action` on a tenant, newest first.
pub(super) async fn trail(
    agency: &AgencyFixture,
    tenant: &TenantFixture,
    action: &str,
) -> Vec<Value> {
    agency
        .client
        .walk(&tenant.path("/audit-log"))
        .await
        .into_iter()
        .filter(|e| e["action"] == action)
        .collect()
}

both!(usage_alerts_watch_the_call_limit, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app
        .tenant()
        .of(&agency)
        .limits(json!({ "monthlyCallLimit": 10 }))
        .field(
            "billingAlerts",
            json!({ "alertEmails": ["ops@acme.example"] }),
        )
        .field(
            "usageAlerts",
            json!({ "monthlyCallLimit": {
                "alertThresholds": [50, 80],
                "thresholdActions": { "80": "block_new_calls" },
            } }),
        )
        .create()
        .await;
    assert_eq!(
        tenant.body["usageAlerts"],
        json!({
            "monthlyCallLimit": {
                "alertThresholds": [50, 80],
                "thresholdActions": { "80": "block_new_calls" },
            },
            "maxMinutesPerMonth": null,
        })
    );
    // Admitted calls count: the fifth crosses 50%, the eighth 80%, which then blocks.
    for _ in 0..5 {
        let call = tenant.admit("phone").await;
        tenant.end(&call, 10, 0, None).await;
    }
    let alerts = alerts_of(&app, &tenant).await;
    assert_eq!(fired(&alerts), [("monthlyCallLimit".to_owned(), 50)]);
    assert_eq!(alerts[0].payload["data"]["usage"], 5);
    assert_eq!(alerts[0].payload["data"]["limit"], 10);
    let events: Vec<Value> = (0..3)
        .map(|i| event(&format!("c{i}"), Utc::now(), "phone", 10, 0, None))
        .collect();
    tenant.ingest(&events).await;
    let alerts = alerts_of(&app, &tenant).await;
    assert_eq!(
        fired(&alerts),
        [
            ("monthlyCallLimit".to_owned(), 50),
            ("monthlyCallLimit".to_owned(), 80)
        ]
    );
    tenant
        .start_call(&json!({ "channel": "phone" }))
        .await
        .assert_limit(
            StatusCode::TOO_MANY_REQUESTS,
            "monthly_call_limit_exceeded",
            "monthlyCallLimit",
            10,
            8,
        );
    let mail = mail_of(&app, &tenant).await;
    assert_eq!(mail.len(), 2, "{mail:?}");
    assert!(mail.iter().all(|(to, _)| to == "ops@acme.example"));

    // A patch removes the rule; the audit trail records the change.
    let patched = agency
        .client
        .patch(
            &tenant.path(""),
            &json!({ "usageAlerts": { "monthlyCallLimit": null } }),
        )
        .await;
    patched.assert_status(StatusCode::OK);
    assert_eq!(patched.body["usageAlerts"]["monthlyCallLimit"], Value::Null);
    let updated = trail(&agency, &tenant, "tenant.updated").await;
    assert!(
        updated[0]["changes"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("usageAlerts.monthlyCallLimit")),
        "{}",
        updated[0]
    );
    tenant.admit("phone").await;

    // Minutes alert on whole seconds: 5 minutes of 10 is half.
    let minutes = app
        .tenant()
        .of(&agency)
        .limits(json!({ "maxMinutesPerMonth": 10 }))
        .field(
            "usageAlerts",
            json!({ "maxMinutesPerMonth": { "alertThresholds": [50] } }),
        )
        .create()
        .await;
    minutes
        .ingest(&[event("m1", Utc::now(), "phone", 299, 0, None)])
        .await;
    assert!(alerts_of(&app, &minutes).await.is_empty());
    minutes
        .ingest(&[event("m2", Utc::now(), "phone", 1, 0, None)])
        .await;
    let alerts = alerts_of(&app, &minutes).await;
    assert_eq!(fired(&alerts), [("maxMinutesPerMonth".to_owned(), 50)]);
    assert_eq!(alerts[0].payload["data"]["usage"], 5);
});

both!(
    bad_alert_settings_are_refused_and_change_nothing,
    |app| async move {
        let agency = app.agency().create().await;
        let bad = [
            (
                json!({ "billingAlerts": { "alertThresholds": [0, 50] } }),
                "billingAlerts.alertThresholds[0]",
            ),
            (
                json!({ "billingAlerts": { "alertThresholds": [50, 101] } }),
                "billingAlerts.alertThresholds[1]",
            ),
            (
                json!({ "billingAlerts": { "thresholdActions": { "90": "explode" } } }),
                "billingAlerts.thresholdActions.90",
            ),
            (
                json!({ "billingAlerts": { "thresholdActions": { "90": "suspend" } } }),
                "billingAlerts.thresholdActions.90",
            ),
            (
                json!({ "billingAlerts": { "thresholdActions": { "ninety": "suspend" } } }),
                "billingAlerts.thresholdActions.ninety",
            ),
            (
                json!({ "billingAlerts": {
                "actionAt100": "notify_only",
                "thresholdActions": { "100": "suspend" },
            } }),
                "billingAlerts.thresholdActions.100",
            ),
            (
                json!({ "usageAlerts": { "maxMinutesPerMonth": {
                "alertThresholds": [50],
                "thresholdActions": { "75": "block_new_calls" },
            } } }),
                "usageAlerts.maxMinutesPerMonth.thresholdActions.75",
            ),
            (
                json!({ "usageAlerts": { "monthlyCallLimit": { "alertThresholds": [120] } } }),
                "usageAlerts.monthlyCallLimit.alertThresholds[0]",
            ),
        ];
        let tenant = app.tenant().of(&agency).create().await;
        let before = agency.client.get(&tenant.path("")).await.body;
        for (body, field) in &bad {
            let mut create = body.clone();
            create["name"] = json!("Refused");
            agency
                .client
                .post("/api/v1/tenants", &create)
                .await
                .assert_invalid(field);
            agency
                .client
                .patch(&tenant.path(""), body)
                .await
                .assert_invalid(field);
        }
        assert_eq!(agency.client.get(&tenant.path("")).await.body, before);
        assert_eq!(agency.client.tenant_ids().await, vec![tenant.id.clone()]);
        // A threshold of 100 keyed in thresholdActions is actionAt100.
        let patched = agency
            .client
            .patch(
                &tenant.path(""),
                &json!({ "billingAlerts": { "thresholdActions": { "100": "suspend" } } }),
            )
            .await;
        patched.assert_status(StatusCode::OK);
        assert_eq!(patched.body["billingAlerts"]["actionAt100"], "suspend");
        assert_eq!(patched.body["billingAlerts"]["thresholdActions"], json!({}));
    }
);

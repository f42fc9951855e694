//! What alert thresholds do: `suspend` deactivates the tenant until the next period (unless a
//! person deactivated it too), `block_new_calls` refuses from its threshold on; and refusals
//! are told as `limit.refused`, once a minute per limit.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tenantry::domain::event::Event;
use tenantry::domain::ids::TenantId;
use tenantry::domain::limits::LimitKey;
use tenantry::domain::metering::{Period, Refusal};

use super::billing_alerts::{
    alerts_of, fired, next_period, spend, spend_alert, spending_tenant, trail,
};
use crate::both;
use crate::v1::events::events_of;

both!(
    suspend_deactivates_until_the_next_period,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = spending_tenant(&app, &agency, 100, json!({ "actionAt100": "suspend" })).await;
        tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await
            .assert_status(StatusCode::CREATED);
        spend(&tenant, "all", 100).await;

        let read = agency.client.get(&tenant.path("")).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body["status"], "inactive");
        assert_eq!(read.body["deactivationReason"], "spend_limit_reached");
        let period = Period::containing(Utc::now());
        assert_eq!(read.body["suspendedUntil"], period.end.to_string());
        let alerts = alerts_of(&app, &tenant).await;
        assert_eq!(
            fired(&alerts),
            [spend_alert(50), spend_alert(80), spend_alert(100)]
        );
        assert_eq!(alerts[1].payload["data"]["action"], "notify_only");
        assert_eq!(alerts[2].payload["data"]["action"], "suspend");
        let deactivated = trail(&agency, &tenant, "tenant.deactivated").await;
        assert_eq!(deactivated.len(), 1);
        assert_eq!(
            deactivated[0]["actor"],
            json!({ "type": "system", "id": null })
        );
        let events = events_of(&app, &tenant).await;
        let told = events
            .iter()
            .find(|e| e.kind.name() == "tenant.deactivated")
            .expect("tenant.deactivated");
        assert_eq!(told.payload["data"]["actor"]["type"], "system");
        let agents = agency.client.get(&tenant.path("/agents")).await;
        assert_eq!(
            agents.body["data"][0]["status"], "inactive",
            "{}",
            agents.text
        );

        // Within the period nothing comes back; from the next one on, the job reactivates it.
        let ctx = app.context();
        let now = Utc::now();
        let pass = |at| tenantry::service::lifecycle::reactivate_suspended(ctx, at);
        assert_eq!(pass(now).await.unwrap(), 0);
        assert_eq!(pass(next_period()).await.unwrap(), 1);
        assert_eq!(pass(next_period()).await.unwrap(), 0);
        let read = agency.client.get(&tenant.path("")).await;
        assert_eq!(read.body["status"], "active");
        assert_eq!(read.body["suspendedUntil"], Value::Null);
        assert_eq!(read.body["deactivationReason"], Value::Null);
        let reactivated = trail(&agency, &tenant, "tenant.reactivated").await;
        assert_eq!(
            reactivated[0]["actor"],
            json!({ "type": "system", "id": null })
        );
        let agents = agency.client.get(&tenant.path("/agents")).await;
        assert_eq!(agents.body["data"][0]["status"], "active");
    }
);

both!(
    a_persons_deactivation_is_not_undone_by_the_next_period,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = spending_tenant(&app, &agency, 100, json!({ "actionAt100": "suspend" })).await;
        spend(&tenant, "all", 120).await;
        let read = agency.client.get(&tenant.path("")).await;
        assert_eq!(read.body["status"], "inactive");
        // The agency deactivates it too, for a reason of its own: theirs stands.
        let deactivated = agency
            .client
            .post(
                &tenant.path("/deactivate"),
                &json!({ "reason": "Non-payment" }),
            )
            .await;
        deactivated.assert_status(StatusCode::OK);
        assert_eq!(deactivated.body["deactivationReason"], "Non-payment");
        assert_eq!(deactivated.body["suspendedUntil"], Value::Null);
        let pass = tenantry::service::lifecycle::reactivate_suspended(app.context(), next_period());
        assert_eq!(pass.await.unwrap(), 0);
        let read = agency.client.get(&tenant.path("")).await;
        assert_eq!(read.body["status"], "inactive");
        assert_eq!(read.body["deactivationReason"], "Non-payment");
        let trail = trail(&agency, &tenant, "tenant.deactivated").await;
        assert_eq!(trail.len(), 2);
        assert_eq!(trail[0]["actor"]["type"], "key");
    }
);

both!(
    block_new_calls_refuses_from_its_threshold,
    |app| async move {
        let agency = app.agency().create().await;
        let at_90 = json!({
            "alertThresholds": [50, 80, 90],
            "thresholdActions": { "90": "block_new_calls" },
        });
        let tenant = spending_tenant(&app, &agency, 1000, at_90).await;
        assert_eq!(
            tenant.body["billingAlerts"]["thresholdActions"],
            json!({ "90": "block_new_calls" })
        );
        spend(&tenant, "a", 899).await;
        tenant.admit("phone").await;
        spend(&tenant, "b", 1).await;
        tenant
            .start_call(&json!({ "channel": "phone" }))
            .await
            .assert_limit(
                StatusCode::TOO_MANY_REQUESTS,
                "spend_limit_exceeded",
                "monthlySpendLimitCents",
                1000,
                900,
            );
        let alerts = alerts_of(&app, &tenant).await;
        assert_eq!(alerts[2].payload["data"]["action"], "block_new_calls");

        // actionAt100 block_new_calls refuses at the limit itself.
        let at_100 = json!({ "actionAt100": "block_new_calls" });
        let other = spending_tenant(&app, &agency, 1000, at_100).await;
        spend(&other, "a", 999).await;
        other.admit("phone").await;
        spend(&other, "b", 1).await;
        other
            .start_call(&json!({ "channel": "phone" }))
            .await
            .assert_problem(StatusCode::TOO_MANY_REQUESTS, "spend_limit_exceeded");
    }
);

both!(
    refusals_are_told_once_a_minute_per_limit,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app
            .tenant()
            .of(&agency)
            .limits(json!({ "maxConcurrentCalls": 1 }))
            .create()
            .await;
        tenant.admit("phone").await;
        for _ in 0..5 {
            tenant
                .start_call(&json!({ "channel": "phone" }))
                .await
                .assert_problem(StatusCode::TOO_MANY_REQUESTS, "concurrency_limit_exceeded");
        }
        let refused: Vec<Event> = events_of(&app, &tenant)
            .await
            .into_iter()
            .filter(|e| e.kind.name() == "limit.refused")
            .collect();
        assert_eq!(refused.len(), 1);
        assert_eq!(
            refused[0].payload["data"],
            json!({
                "tenantId": tenant.id,
                "agencyId": agency.id,
                "limitKey": "maxConcurrentCalls",
                "code": "concurrency_limit_exceeded",
                "limit": 1,
                "current": 1,
            })
        );
        // A minute later the next refusal is told again, once.
        let refusal = Refusal::Limit {
            key: LimitKey::MaxConcurrentCalls,
            code: "concurrency_limit_exceeded",
            limit: 1,
            current: 1,
        };
        let id: TenantId = tenant.id.parse().unwrap();
        let later = Utc::now() + Duration::seconds(61);
        let db = app.db();
        let note = |at| tenantry::store::alerts::note_refusal(db.store(), id, &refusal, at);
        assert!(!note(Utc::now()).await.unwrap());
        assert!(note(later).await.unwrap());
        assert!(!note(later + Duration::seconds(30)).await.unwrap());
        let told = events_of(&app, &tenant)
            .await
            .into_iter()
            .filter(|e| e.kind.name() == "limit.refused")
            .count();
        assert_eq!(told, 2);
    }
);

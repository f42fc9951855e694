//! Bounds on usage: one call costs at most $1,000,000 and lasts at most a week.

use chrono::Utc;
use serde_json::json;

use crate::both;
use crate::support::event;

/// The most one call may cost, in cents (one million dollars).
const MAX_CALL_CENTS: i64 = 100_000_000;
/// The longest call, in seconds (a week).
const MAX_CALL_SECONDS: i64 = 7 * 24 * 3600;
both!(
    one_call_costs_at_most_a_million_dollars_and_lasts_at_most_a_week,
    |app| async move {
        let tenant = app.tenant().plan("enterprise").create().await;
        let now = Utc::now();

        tenant
            .post_events(&[event("dear", now, "phone", 60, MAX_CALL_CENTS + 1, None)])
            .await
            .assert_invalid("events[0].costCents");
        tenant
            .post_events(&[
                event("ok", now, "phone", 60, 1, None),
                event("long", now, "phone", MAX_CALL_SECONDS + 1, 1, None),
            ])
            .await
            .assert_invalid("events[1].durationSeconds");
        let most = event(
            "most",
            now,
            "webrtc",
            MAX_CALL_SECONDS,
            MAX_CALL_CENTS,
            None,
        );
        assert_eq!(tenant.ingest(&[most]).await, (1, 0));

        let call = tenant.admit("phone").await;
        let id = call["id"].as_str().unwrap();
        tenant
            .end_call(
                id,
                &json!({ "durationSeconds": 60, "costCents": MAX_CALL_CENTS + 1 }),
            )
            .await
            .assert_invalid("costCents");
        tenant
            .end_call(
                id,
                &json!({ "durationSeconds": MAX_CALL_SECONDS + 1, "costCents": 1 }),
            )
            .await
            .assert_invalid("durationSeconds");
        tenant
            .end(&call, MAX_CALL_SECONDS, MAX_CALL_CENTS, None)
            .await;

        let usage = tenant.usage_this_month().await;
        assert_eq!(usage["totalCostCents"], 2 * MAX_CALL_CENTS, "{usage}");
        assert_eq!(usage["totalSeconds"], 2 * MAX_CALL_SECONDS, "{usage}");
        let spec = tenantry::http::openapi();
        let spec = serde_json::to_value(&spec).unwrap();
        for schema in ["UsageEventInput", "EndCallRequest"] {
            let cost = &spec["components"]["schemas"][schema]["properties"]["costCents"];
            assert_eq!(cost["maximum"], MAX_CALL_CENTS, "{schema}: {cost}");
        }
    }
);

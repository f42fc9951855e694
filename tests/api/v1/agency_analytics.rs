//! Agency analytics in the seed 003 shape: an agency's tenants counted and ranked by
//! conversations, with revenue at the agency's markup; only agency and platform keys ask.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::event;

/// Every conversation of these stories costs $1.25.
const CENTS_EACH: i64 = 125;

fn usd(cents: i64) -> Value {
    json!(cents as f64 / 100.0)
}

both!(
    agency_analytics_rank_tenants_and_add_the_markup,
    |app| async move {
        let agency = app.agency().name("Voisnap Agency").create().await;
        let elsewhere = app.agency().name("Elsewhere").create().await;
        let now = Utc::now();
        let today = now.date_naive();
        let conversations = |count: i64| -> Vec<Value> {
            (0..count)
                .map(|i| event(&format!("e-{i}"), now, "phone", 60, CENTS_EACH, None))
                .collect()
        };
        // Client n has n conversations.
        let mut clients = Vec::new();
        for n in 1..=12 {
            let client = app
                .tenant()
                .name(&format!("Client {n:02}"))
                .of(&agency)
                .create()
                .await;
            assert_eq!(client.ingest(&conversations(n)).await, (n, 0));
            clients.push(client);
        }
        let dormant = app.tenant().name("Dormant").of(&agency).create().await;
        app.set_tenant_status(&dormant.id, "inactive").await;
        let foreign = app.tenant().name("Foreign").of(&elsewhere).create().await;
        assert_eq!(foreign.ingest(&conversations(50)).await, (50, 0));

        let path = format!("/api/v1/agency/analytics?dateFrom={today}&dateTo={today}");
        let expected = |markup_cents: i64| {
            let top: Vec<Value> = (3..=12)
                .rev()
                .map(|n: i64| {
                    json!({
                        "id": clients[n as usize - 1].id,
                        "name": format!("Client {n:02}"),
                        "conversations": n,
                        "revenue": usd(n * markup_cents),
                        "costUsd": usd(n * CENTS_EACH),
                    })
                })
                .collect();
            json!({
                "agencyId": agency.id,
                "period": { "from": today.to_string(), "to": today.to_string() },
                "totalTenants": 13,
                "activeTenants": 12,
                "totalConversations": 78,
                "totalCostUsd": usd(78 * CENTS_EACH),
                "totalCostCents": 78 * CENTS_EACH,
                "topTenants": top,
            })
        };

        let answer = agency.client.get(&path).await;
        answer.assert_status(StatusCode::OK);
        assert_eq!(answer.body, expected(CENTS_EACH), "{}", answer.text);
        let by_platform = app
            .platform()
            .get(&format!("{path}&agencyId={}", agency.id))
            .await;
        assert_eq!(by_platform.body, answer.body);
        let this_month = agency.client.get("/api/v1/agency/analytics").await;
        assert_eq!(this_month.body["totalConversations"], 78);

        // A 20% markup: $1.25 becomes $1.50 per conversation.
        app.platform()
            .patch(
                &format!("/api/v1/agencies/{}", agency.id),
                &json!({ "markupPercent": 20 }),
            )
            .await
            .assert_status(StatusCode::OK);
        let marked_up = agency.client.get(&path).await;
        marked_up.assert_status(StatusCode::OK);
        assert_eq!(marked_up.body, expected(150), "{}", marked_up.text);
    }
);

both!(
    agency_analytics_are_for_agency_and_platform_keys,
    |app| async move {
        let agency = app.agency().name("Mine").create().await;
        let other = app.agency().name("Theirs").create().await;
        let tenant = app.tenant().of(&agency).create().await;

        app.platform()
            .get("/api/v1/agency/analytics")
            .await
            .assert_invalid("agencyId");
        tenant
            .client
            .get("/api/v1/agency/analytics")
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        agency
            .client
            .get(&format!("/api/v1/agency/analytics?agencyId={}", other.id))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        let unknown = tenantry::domain::ids::AgencyId::generate().to_string();
        app.platform()
            .get(&format!("/api/v1/agency/analytics?agencyId={unknown}"))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        agency
            .client
            .get("/api/v1/agency/analytics?dateFrom=2025-02-01&dateTo=2025-01-31")
            .await
            .assert_invalid("dateFrom");

        let quiet = agency.client.get("/api/v1/agency/analytics").await;
        quiet.assert_status(StatusCode::OK);
        assert_eq!(quiet.body["agencyId"], agency.id.as_str());
        assert_eq!(quiet.body["totalTenants"], 1);
        assert_eq!(quiet.body["activeTenants"], 1);
        assert_eq!(quiet.body["totalConversations"], 0);
        assert_eq!(quiet.body["totalCostUsd"], 0.0);
        assert_eq!(quiet.body["topTenants"], json!([]));
    }
);

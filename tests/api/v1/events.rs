//! The event outbox: each change the outside world hears of writes its event in the change's
//! own transaction, next to its audit entry; a refused or rolled-back change leaves none.

use reqwest::StatusCode;
use serde_json::json;
use tenantry::domain::audit::Target;
use tenantry::domain::event::{Event, EventType};
use tenantry::domain::ids::TenantId;
use tenantry::store::audit::{record, Change};

use crate::both;
use crate::support::{TenantFixture, TestApp};

pub async fn events_of(app: &TestApp, tenant: &TenantFixture) -> Vec<Event> {
    let id: TenantId = tenant.id.parse().unwrap();
    let db = app.db();
    tenantry::store::events::of_tenant(db.store().reader(), id, None, 1000)
        .await
        .unwrap()
}

both!(
    each_change_emits_its_event_beside_its_audit_entry,
    |app| async move {
        let source = app.agency().create().await;
        let target = app.agency().create().await;
        let tenant = app.tenant().of(&source).create().await;
        source
            .client
            .patch(&tenant.path(""), &json!({ "name": "Renamed" }))
            .await
            .assert_status(StatusCode::OK);
        for action in ["deactivate", "reactivate"] {
            source
                .client
                .post(&tenant.path(&format!("/{action}")), &json!({}))
                .await
                .assert_status(StatusCode::OK);
        }
        source
            .client
            .post(
                &tenant.path("/users/invite"),
                &json!({ "email": "pat@example.com", "role": "TenantUser" }),
            )
            .await
            .assert_status(StatusCode::CREATED);
        tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await
            .assert_status(StatusCode::CREATED);
        source.hand_over(&tenant, &target).await;

        let events = events_of(&app, &tenant).await;
        let types: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(
            types,
            [
                "tenant.created",
                "tenant.updated",
                "tenant.deactivated",
                "tenant.reactivated",
                "user.invited",
                "transfer.requested",
                "tenant.transferred",
                "transfer.accepted"
            ]
        );
        // One event for each audit entry whose action is an event type, and no other.
        let trail = target.client.walk(&tenant.path("/audit-log")).await;
        let mut told: Vec<&str> = trail
            .iter()
            .filter(|e| EventType::from_name(e["action"].as_str().unwrap()).is_some())
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        told.reverse();
        let audit_ids: Vec<&str> = events
            .iter()
            .map(|e| e.payload["data"]["auditId"].as_str().unwrap())
            .collect();
        assert_eq!(audit_ids, told);

        let updated = &events[1];
        assert_eq!(updated.payload["type"], "tenant.updated");
        assert!(updated.payload["timestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z'));
        let data = &updated.payload["data"];
        assert_eq!(data["tenantId"], tenant.id.as_str());
        assert_eq!(data["agencyId"], source.id.as_str());
        assert_eq!(data["object"], json!({ "type": "tenant", "id": tenant.id }));
        assert_eq!(
            data["changes"],
            json!({ "name": { "before": "Tenant", "after": "Renamed" } })
        );
        assert_eq!(data["actor"]["type"], "key");
        // After the move, the tenant's events name the agency that has it.
        assert_eq!(events[7].agency_id.unwrap().to_string(), target.id);
        assert_eq!(events[5].agency_id.unwrap().to_string(), source.id);
    }
);

both!(a_rolled_back_change_leaves_no_event, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    let before = events_of(&app, &tenant).await;
    // Refused requests are `audit::a_refused_change_leaves_no_entry`'s. A change recorded
    // in a transaction that then rolls back leaves neither its entry nor its event.
    let db = app.db();
    let mut tx = db.store().begin().await.unwrap();
    let change = Change::new(
        (Some(tenant.id.parse().unwrap()), None),
        "tenant.updated",
        Target::new("tenant", &tenant.id),
        json!({ "name": { "before": "Tenant", "after": "Never" } }),
    );
    record(&mut tx, change).await.unwrap();
    drop(tx);
    assert_eq!(events_of(&app, &tenant).await, before);
    let trail = agency.client.walk(&tenant.path("/audit-log")).await;
    assert!(trail
        .iter()
        .all(|e| e["changes"]["name"]["after"] != "Never"));
});

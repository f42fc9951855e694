//! Webhook endpoints: an agency registers where its events go, gets a `whsec_` secret once,
//! reads the endpoint back without it, changes, rotates and removes it; outsiders see nothing.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::both;

const PATH: &str = "/api/v1/agency/webhook-endpoints";

both!(
    an_agency_registers_reads_changes_rotates_and_removes_an_endpoint,
    |app| async move {
        let agency = app.agency().create().await;
        let created = agency
            .client
            .post(
                PATH,
                &json!({
                    "url": "https://hooks.example.com/in",
                    "events": ["tenant.created", "transfer.accepted"],
                    "description": "CRM sync"
                }),
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        let id = created.id();
        assert!(id.starts_with("whe_"));
        let secret = created.body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert_eq!(created.body["agencyId"], agency.id.as_str());
        assert_eq!(
            created.body["events"],
            json!(["tenant.created", "transfer.accepted"])
        );
        assert_eq!(created.body["enabled"], true);
        // Sealed at rest, and never shown again.
        assert!(!app.database_contains(&secret).await);
        let one = format!("{PATH}/{id}");
        let read = agency.client.get(&one).await;
        read.assert_status(StatusCode::OK);
        assert!(read.body.get("secret").is_none(), "{}", read.text);
        let listed = agency.client.walk(PATH).await;
        assert_eq!(listed.len(), 1);
        assert!(listed[0].get("secret").is_none());

        let changed = agency
            .client
            .patch(
                &one,
                &json!({ "events": [], "enabled": false, "description": null }),
            )
            .await;
        changed.assert_status(StatusCode::OK);
        assert_eq!(changed.body["events"], json!([]));
        assert_eq!(changed.body["enabled"], false);
        assert_eq!(changed.body["description"], serde_json::Value::Null);

        let rotated = agency
            .client
            .post(&format!("{one}/rotate-secret"), &json!({}))
            .await;
        rotated.assert_status(StatusCode::OK);
        let new_secret = rotated.body["secret"].as_str().unwrap();
        assert!(new_secret.starts_with("whsec_"));
        assert_ne!(new_secret, secret);
        let until = rotated.body["previousSecretExpiresAt"].as_str().unwrap();
        let until: DateTime<Utc> = until.parse().unwrap();
        let overlap = until - Utc::now();
        assert!(overlap > Duration::hours(23) && overlap <= Duration::hours(24));

        // The trail records each change, with no secret in it.
        let trail = agency.client.walk("/api/v1/audit-log").await;
        let actions: Vec<&str> = trail
            .iter()
            .filter(|e| e["target"]["id"] == id.as_str())
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "webhook_endpoint.secret_rotated",
                "webhook_endpoint.updated",
                "webhook_endpoint.created"
            ]
        );
        let text = serde_json::to_string(&trail).unwrap();
        assert!(!text.contains(&secret) && !text.contains(new_secret));

        agency
            .client
            .delete(&one)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        agency
            .client
            .get(&one)
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
);

both!(bad_input_and_outsiders_change_nothing, |app| async move {
    let agency = app.agency().create().await;
    let other = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    let post = |body: serde_json::Value| {
        let client = agency.client.clone();
        async move { client.post(PATH, &body).await }
    };
    post(json!({ "url": "ftp://example.com" }))
        .await
        .assert_invalid("url");
    post(json!({ "url": "https://example.com", "events": ["tenant.created", "nope"] }))
        .await
        .assert_invalid("events[1]");
    post(json!({ "url": "https://example.com", "description": "x".repeat(501) }))
        .await
        .assert_invalid("description");
    post(json!({ "url": "https://example.com", "agencyId": other.id }))
        .await
        .assert_invalid("agencyId");
    tenant
        .client
        .post(PATH, &json!({ "url": "https://example.com" }))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    assert!(agency.client.walk(PATH).await.is_empty());

    let id = post(json!({ "url": "https://example.com/a" })).await.id();
    let one = format!("{PATH}/{id}");
    other
        .client
        .get(&one)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    other
        .client
        .post(&format!("{one}/rotate-secret"), &json!({}))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    assert!(other.client.walk(PATH).await.is_empty());
    agency
        .client
        .patch(&one, &json!({ "url": null }))
        .await
        .assert_invalid("url");

    // The platform registers endpoints for an agency, and of its own.
    let platform = app.platform();
    let for_other = platform
        .post(
            PATH,
            &json!({ "url": "https://example.com/b", "agencyId": other.id }),
        )
        .await;
    for_other.assert_status(StatusCode::CREATED);
    assert_eq!(other.client.walk(PATH).await.len(), 1);
    platform
        .post(PATH, &json!({ "url": "https://example.com/c" }))
        .await
        .assert_status(StatusCode::CREATED);
    let own = platform.walk(PATH).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["agencyId"], serde_json::Value::Null);
    platform.get(&one).await.assert_status(StatusCode::OK);
});

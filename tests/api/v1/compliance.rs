//! Compliance rules between a tenant's settings: HIPAA needs encryption and an https webhook,
//! and switching PCI on needs a stated recording choice. A breach is a 422 naming both fields,
//! whoever asks, and changes nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::{Answer, Client, TestApp};

const HOOK: &str = "https://hooks.clinic.example/x";

fn path_of(id: &str) -> String {
    format!("/api/v1/tenants/{id}")
}

/// A 422 whose field errors are exactly `fields`, each with `code`.
#[track_caller]
fn assert_breach(answer: &Answer, fields: [&str; 2], code: &str) {
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut named = answer.fields();
    named.sort();
    let mut expected = fields.map(|field| format!("settings.{field}")).to_vec();
    expected.sort();
    assert_eq!(named, expected, "{}", answer.text);
    for field in &expected {
        assert_eq!(
            answer.field_code(field).as_deref(),
            Some(code),
            "{}",
            answer.text
        );
    }
}

/// Creates a tenant with these settings, expecting the breach, and checks that no tenant was
/// created.
async fn refused_create(
    app: &TestApp,
    client: &Client,
    settings: Value,
    fields: [&str; 2],
    code: &str,
) {
    let before = app.platform().tenant_ids().await;
    let body = json!({ "name": "Refused", "settings": settings });
    let answer = client.post("/api/v1/tenants", &body).await;
    assert_breach(&answer, fields, code);
    assert_eq!(
        app.platform().tenant_ids().await,
        before,
        "{body} created one"
    );
}

/// Patches these settings, expecting the breach, and checks that the tenant is as it was.
async fn refused_patch(client: &Client, id: &str, settings: Value, fields: [&str; 2], code: &str) {
    let path = path_of(id);
    let before = client.get(&path).await;
    before.assert_status(StatusCode::OK);
    let answer = client
        .patch(&path, &json!({ "settings": settings.clone() }))
        .await;
    assert_breach(&answer, fields, code);
    assert_eq!(
        client.get(&path).await.body,
        before.body,
        "{settings} changed the tenant"
    );
}

both!(
    hipaa_tenants_are_created_encrypted_with_an_https_webhook,
    |app| async move {
        let agency = app.agency().create().await;
        let webhook = ["hipaaEnabled", "webhookUrl"];
        for settings in [
            json!({ "hipaaEnabled": true }),
            json!({ "hipaaEnabled": true, "webhookUrl": null }),
            json!({ "hipaaEnabled": true, "webhookUrl": "http://hooks.clinic.example/x" }),
        ] {
            refused_create(
                &app,
                &agency.client,
                settings,
                webhook,
                "requires_https_webhook",
            )
            .await;
        }
        refused_create(
            &app,
            &app.platform(),
            json!({ "hipaaEnabled": true, "webhookUrl": HOOK, "dataEncryptionEnabled": false }),
            ["hipaaEnabled", "dataEncryptionEnabled"],
            "requires_encryption",
        )
        .await;

        // Encryption is on by default, so an https webhook is all HIPAA adds.
        let clinic = json!({ "hipaaEnabled": true, "webhookUrl": HOOK });
        let created = agency
            .client
            .post(
                "/api/v1/tenants",
                &json!({ "name": "Clinic", "settings": clinic }),
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        let settings = &created.body["settings"];
        assert_eq!(settings["hipaaEnabled"], true);
        assert_eq!(settings["dataEncryptionEnabled"], true);
        assert_eq!(settings["webhookUrl"], HOOK);
        // Without HIPAA, neither is asked for.
        app.tenant()
            .field(
                "settings",
                json!({ "dataEncryptionEnabled": false, "webhookUrl": "http://hooks.example/x" }),
            )
            .create()
            .await;
        assert_eq!(app.platform().tenant_ids().await.len(), 2);
    }
);

both!(
    a_hipaa_tenants_changes_are_judged_as_a_whole,
    |app| async move {
        let agency = app.agency().create().await;
        let clinic = app
            .tenant()
            .field(
                "settings",
                json!({ "hipaaEnabled": true, "webhookUrl": HOOK }),
            )
            .of(&agency)
            .create()
            .await;
        let webhook = ["hipaaEnabled", "webhookUrl"];
        let encryption = ["hipaaEnabled", "dataEncryptionEnabled"];
        for client in [&agency.client, &app.platform(), &clinic.client] {
            refused_patch(
                client,
                &clinic.id,
                json!({ "webhookUrl": null }),
                webhook,
                "requires_https_webhook",
            )
            .await;
            refused_patch(
                client,
                &clinic.id,
                json!({ "webhookUrl": "http://hooks.clinic.example/x" }),
                webhook,
                "requires_https_webhook",
            )
            .await;
        }
        // Switching encryption off is refused to the agency and the platform too; the tenant may
        // not switch it off at all, which it hears first.
        for client in [&agency.client, &app.platform()] {
            refused_patch(
                client,
                &clinic.id,
                json!({ "dataEncryptionEnabled": false }),
                encryption,
                "requires_encryption",
            )
            .await;
        }
        let path = path_of(&clinic.id);
        let forbidden = clinic
            .client
            .patch(
                &path,
                &json!({ "settings": { "dataEncryptionEnabled": false } }),
            )
            .await;
        forbidden.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(forbidden.fields(), ["settings.dataEncryptionEnabled"]);

        // Another https webhook, or anything else, is fine.
        let moved = clinic
            .client
            .patch(
                &path,
                &json!({ "settings": {
                    "webhookUrl": "https://hooks2.clinic.example/y",
                    "retentionDays": 30
                } }),
            )
            .await;
        moved.assert_status(StatusCode::OK);
        assert_eq!(
            moved.body["settings"]["webhookUrl"],
            "https://hooks2.clinic.example/y"
        );
        // With HIPAA off, the agency may relax the rest in the same request.
        let relaxed = agency
            .client
            .patch(
                &path,
                &json!({ "settings": {
                    "hipaaEnabled": false,
                    "dataEncryptionEnabled": false,
                    "webhookUrl": null
                } }),
            )
            .await;
        relaxed.assert_status(StatusCode::OK);
        assert_eq!(relaxed.body["settings"]["dataEncryptionEnabled"], false);
        assert_eq!(relaxed.body["settings"]["webhookUrl"], Value::Null);
    }
);

both!(switching_hipaa_on_brings_what_it_needs, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app
        .tenant()
        .field(
            "settings",
            json!({ "dataEncryptionEnabled": false, "webhookUrl": "http://hooks.example/x" }),
        )
        .of(&agency)
        .create()
        .await;
    for client in [&tenant.client, &agency.client] {
        refused_patch(
            client,
            &tenant.id,
            json!({ "hipaaEnabled": true, "webhookUrl": HOOK }),
            ["hipaaEnabled", "dataEncryptionEnabled"],
            "requires_encryption",
        )
        .await;
        refused_patch(
            client,
            &tenant.id,
            json!({ "hipaaEnabled": true, "dataEncryptionEnabled": true }),
            ["hipaaEnabled", "webhookUrl"],
            "requires_https_webhook",
        )
        .await;
    }
    // Both at once: four errors, two to each rule, and still nothing changes.
    let path = path_of(&tenant.id);
    let before = tenant.client.get(&path).await;
    let bare = tenant
        .client
        .patch(&path, &json!({ "settings": { "hipaaEnabled": true } }))
        .await;
    bare.assert_invalid("settings.dataEncryptionEnabled")
        .assert_invalid("settings.webhookUrl");
    assert_eq!(bare.fields().len(), 4, "{}", bare.text);
    assert_eq!(tenant.client.get(&path).await.body, before.body);

    let hipaa = tenant
        .client
        .patch(
            &path,
            &json!({ "settings": {
                "hipaaEnabled": true,
                "dataEncryptionEnabled": true,
                "webhookUrl": HOOK
            } }),
        )
        .await;
    hipaa.assert_status(StatusCode::OK);
    assert_eq!(hipaa.body["settings"]["hipaaEnabled"], true);
});

both!(
    pci_tenants_are_created_with_a_recording_choice,
    |app| async move {
        let agency = app.agency().create().await;
        let choice = ["pciEnabled", "recordingEnabled"];
        for client in [&agency.client, &app.platform()] {
            refused_create(
                &app,
                client,
                json!({ "pciEnabled": true }),
                choice,
                "recording_choice_required",
            )
            .await;
        }
        for recording in [true, false] {
            let created = agency
                .client
                .post(
                    "/api/v1/tenants",
                    &json!({
                        "name": format!("Shop {recording}"),
                        "settings": { "pciEnabled": true, "recordingEnabled": recording }
                    }),
                )
                .await;
            created.assert_status(StatusCode::CREATED);
            assert_eq!(created.body["settings"]["pciEnabled"], true);
            assert_eq!(created.body["settings"]["recordingEnabled"], recording);
        }
        // Without PCI, the default is taken silently.
        let plain = app
            .tenant()
            .field("settings", json!({ "pciEnabled": false }))
            .create()
            .await;
        assert_eq!(plain.body["settings"]["recordingEnabled"], true);
    }
);

both!(
    switching_pci_on_needs_a_recording_choice,
    |app| async move {
        let agency = app.agency().create().await;
        // A choice made earlier does not count: the request that switches PCI on says it.
        let shop = app
            .tenant()
            .field("settings", json!({ "recordingEnabled": false }))
            .of(&agency)
            .create()
            .await;
        let choice = ["pciEnabled", "recordingEnabled"];
        for client in [&shop.client, &agency.client, &app.platform()] {
            for settings in [
                json!({ "pciEnabled": true }),
                json!({ "pciEnabled": true, "retentionDays": 30 }),
            ] {
                refused_patch(
                    client,
                    &shop.id,
                    settings,
                    choice,
                    "recording_choice_required",
                )
                .await;
            }
        }

        let path = path_of(&shop.id);
        let switched = shop
            .client
            .patch(
                &path,
                &json!({ "settings": { "pciEnabled": true, "recordingEnabled": true } }),
            )
            .await;
        switched.assert_status(StatusCode::OK);
        assert_eq!(switched.body["settings"]["pciEnabled"], true);
        assert_eq!(switched.body["settings"]["recordingEnabled"], true);

        // Once PCI is on, later changes need not repeat the choice.
        for settings in [
            json!({ "retentionDays": 30 }),
            json!({ "pciEnabled": true }),
            json!({ "recordingEnabled": false }),
        ] {
            shop.client
                .patch(&path, &json!({ "settings": settings }))
                .await
                .assert_status(StatusCode::OK);
        }
        let now = shop.client.get(&path).await;
        assert_eq!(now.body["settings"]["pciEnabled"], true);
        assert_eq!(now.body["settings"]["recordingEnabled"], false);
        assert_eq!(now.body["settings"]["retentionDays"], 30);
    }
);

//! `tenantry keys rotate-secret`: a new key is written into the key file, every stored secret
//! is re-sealed under it while the server runs, each one still opens to what was sent, and the
//! running server seals with the new key from its next secret on.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;
use tenantry::domain::user::otp;
use tenantry::secrets::{KeySource, Keyring};
use tenantry::service::resources::seal_context;
use tenantry::store::resources::{sealed_page, Stored};

use crate::support::people::PASSWORD;

use crate::both;
use crate::support::TestApp;

fn key_file(app: &TestApp) -> std::path::PathBuf {
    app.data_dir().join("secret.key")
}

fn keyring(app: &TestApp) -> Keyring {
    Keyring::load(&KeySource::File(key_file(app))).expect("the key file loads")
}

async fn sealed_rows(app: &TestApp) -> Vec<Stored> {
    sealed_page(app.db().store(), None, 1000)
        .await
        .expect("read the sealed rows")
}

/// Every stored secret, by resource id and pointer, opened with `keyring`.
async fn opened(app: &TestApp, keyring: &Keyring) -> BTreeMap<(String, String), String> {
    let mut secrets = BTreeMap::new();
    for row in sealed_rows(app).await {
        for (pointer, sealed) in &row.sealed {
            let context = seal_context(row.tenant_id, row.id, pointer);
            let plain = keyring
                .open(sealed, &context)
                .unwrap_or_else(|e| panic!("{pointer} of {} does not open: {e}", row.id));
            let id = row.kind.display_id(row.id);
            secrets.insert((id, pointer.clone()), String::from_utf8(plain).unwrap());
        }
    }
    secrets
}

fn key_ids(rows: &[Stored]) -> Vec<String> {
    rows.iter()
        .flat_map(|row| row.sealed.values())
        .map(|sealed| Keyring::key_id(sealed).expect("a key id").to_owned())
        .collect()
}

async fn rotate(app: &TestApp, extra: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args([
            "keys",
            "rotate-secret",
            "--database-url",
            app.database_url(),
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(app.data_dir())
        .arg("--secret-key-file")
        .arg(key_file(app))
        .env_remove("TENANTRY_SECRET_KEY")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("tenantry runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "rotate-secret failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

both!(
    a_rotation_reseals_every_secret_and_the_server_follows_the_new_key,
    |app| async move {
        let tenant = app
            .tenant()
            .field("settings", json!({ "sipEnabled": true }))
            .create()
            .await;
        let mut sent = BTreeMap::new();
        for i in 0..3 {
            let password = format!("trunk-password-{i}");
            let trunk = tenant
                .client
                .post(
                    &tenant.path("/sip-trunks"),
                    &json!({ "name": format!("trunk {i}"), "domain": "sip.example.com", "password": password }),
                )
                .await;
            trunk.assert_status(StatusCode::CREATED);
            sent.insert((trunk.id(), "/password".to_owned()), password);
        }
        let integration = tenant
            .client
            .post(
                &tenant.path("/integrations"),
                &json!({ "kind": "calendar", "name": "Cal", "config": {
                    "provider": "google", "accessToken": "access-1", "refreshToken": "refresh-1" } }),
            )
            .await;
        integration.assert_status(StatusCode::CREATED);
        for (pointer, value) in [
            ("/config/accessToken", "access-1"),
            ("/config/refreshToken", "refresh-1"),
        ] {
            sent.insert((integration.id(), pointer.to_owned()), value.to_owned());
        }
        let before = keyring(&app);
        assert_eq!(opened(&app, &before).await, sent);
        let old_id = before.current.id().to_owned();
        assert!(key_ids(&sealed_rows(&app).await)
            .iter()
            .all(|id| *id == old_id));

        let printed = rotate(&app, &[]).await;
        assert!(printed.contains("5 re-sealed"), "{printed}");

        let after = keyring(&app);
        let new_id = after.current.id().to_owned();
        assert_ne!(new_id, old_id);
        assert!(
            after.older.iter().any(|key| key.id() == old_id),
            "the old key stays readable"
        );
        assert!(key_ids(&sealed_rows(&app).await)
            .iter()
            .all(|id| *id == new_id));
        assert_eq!(
            opened(&app, &after).await,
            sent,
            "every secret opens to what was sent"
        );

        // The running server reads the rewritten key file on its next seal.
        let trunk = tenant
            .client
            .post(
                &tenant.path("/sip-trunks"),
                &json!({ "name": "after", "domain": "sip.example.com", "password": "after-password" }),
            )
            .await;
        trunk.assert_status(StatusCode::CREATED);
        let rows = sealed_rows(&app).await;
        assert!(key_ids(&rows).iter().all(|id| *id == new_id));
        assert_eq!(opened(&app, &after).await.len(), sent.len() + 1);

        // A second pass finds nothing to do, and keeps the key.
        let again = rotate(&app, &["--reseal-only"]).await;
        assert!(again.contains("0 re-sealed"), "{again}");
        assert!(again.contains("6 were already"), "{again}");
        assert_eq!(keyring(&app).current.id(), new_id);
    }
);

both!(
    a_rotation_reseals_second_factors_and_webhook_secrets,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let mut secrets = Vec::new();
        for (email, confirm) in [("mo@example.com", true), ("jo@example.com", false)] {
            let person = crate::support::people::person(
                &app,
                &mailbox,
                &agency.client,
                &tenant.path("/users/invite"),
                email,
                "TenantUser",
            )
            .await;
            let enrolled = person.post("/api/v1/users/me/mfa", &json!({})).await;
            enrolled.assert_status(StatusCode::CREATED);
            let secret = totp_rs::Secret::Encoded(enrolled.body["secret"].as_str().unwrap().into())
                .to_bytes()
                .unwrap();
            if confirm {
                let code = otp::code_at(&secret, chrono::Utc::now().timestamp() as u64);
                person
                    .post("/api/v1/users/me/mfa/confirm", &json!({ "code": code }))
                    .await
                    .assert_status(StatusCode::OK);
            }
            secrets.push(secret);
        }
        let sealed = || async {
            let sql = "SELECT mfa_secret, mfa_pending_secret FROM users";
            let rows: Vec<(Option<String>, Option<String>)> = app
                .db()
                .store()
                .reader()
                .fetch_all(tenantry::store::query(sql))
                .await
                .unwrap();
            rows.into_iter()
                .flat_map(|(first, second)| [first, second])
                .flatten()
                .collect::<Vec<String>>()
        };
        let endpoint = agency
            .client
            .post(
                "/api/v1/agency/webhook-endpoints",
                &json!({ "url": "https://hooks.example.com/in" }),
            )
            .await;
        endpoint.assert_status(StatusCode::CREATED);
        let old_id = keyring(&app).current.id().to_owned();
        assert_eq!(sealed().await.len(), 2);

        let printed = rotate(&app, &[]).await;
        assert!(
            printed.contains("0 resources and 3 other rows hold secrets"),
            "{printed}"
        );
        let new_id = keyring(&app).current.id().to_owned();
        assert_ne!(new_id, old_id);
        for ciphertext in sealed().await {
            assert_eq!(Keyring::key_id(&ciphertext), Some(new_id.as_str()));
        }
        let (hook,): (String,) = app
            .db()
            .store()
            .reader()
            .fetch_one(tenantry::store::query(
                "SELECT secret FROM webhook_endpoints",
            ))
            .await
            .unwrap();
        assert_eq!(Keyring::key_id(&hook), Some(new_id.as_str()));
        let opened = keyring(&app)
            .open_str(&hook, seal_context_of(&endpoint.id()).as_bytes())
            .unwrap();
        assert_eq!(opened.expose(), endpoint.body["secret"].as_str().unwrap());
        // Mo's confirmed factor still opens: a login with its next code works.
        let code = otp::code_at(&secrets[0], chrono::Utc::now().timestamp() as u64 + 30);
        let login = json!({ "email": "mo@example.com", "password": PASSWORD, "code": code });
        app.anonymous()
            .post("/api/v1/sessions", &login)
            .await
            .assert_status(StatusCode::CREATED);
    }
);

fn seal_context_of(endpoint: &str) -> String {
    let id: tenantry::domain::ids::WebhookEndpointId = endpoint.parse().unwrap();
    tenantry::domain::webhook::seal_context(id.0)
}

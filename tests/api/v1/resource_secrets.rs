//! Write-only secrets: a SIP trunk's password and an integration's secret config keys. They are
//! sealed at rest and read back as `********` by every answer (create, its idempotent replay,
//! get, list, patch, refusals that carry one); sending the mask back keeps the stored secret, a
//! new value seals anew, `null` removes it. Neither the database nor a server's debug log ever
//! holds one in plaintext.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::process::Served;
use crate::support::{Answer, Client, StoredResource, TenantFixture, TestApp};

const MASK: &str = "********";

/// A secret no other text contains.
fn secret(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

/// None of `secrets` appears in the answer.
#[track_caller]
fn assert_hidden(answer: &Answer, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !answer.text.contains(secret.as_str()),
            "{secret} was sent back: {}",
            answer.text
        );
    }
}

/// A create sent twice with one `Idempotency-Key`: both answers are the same 201, the second
/// one replayed, and neither shows `secrets`.
async fn create_twice(client: &Client, path: &str, body: &Value, secrets: &[String]) -> Answer {
    let key = uuid::Uuid::new_v4().to_string();
    let send = || {
        client.send(
            client
                .request(Method::POST, path)
                .header("idempotency-key", &key)
                .json(body),
        )
    };
    let created = send().await;
    created.assert_status(StatusCode::CREATED);
    assert_hidden(&created, secrets);
    let replayed = send().await;
    replayed.assert_status(StatusCode::CREATED);
    assert_hidden(&replayed, secrets);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.body, created.body);
    created
}

/// Reads the resource at `path` by get and by list; checks that neither shows `secrets`, and
/// returns what the get shows.
async fn read_back(
    client: &Client,
    tenant: &TenantFixture,
    path: &str,
    secrets: &[String],
) -> Value {
    let read = client.get(path).await;
    read.assert_status(StatusCode::OK);
    assert_hidden(&read, secrets);
    let collection = path.rsplit_once('/').expect("an item path").0;
    let page = client.get(&format!("{collection}?limit=100")).await;
    page.assert_status(StatusCode::OK);
    assert_hidden(&page, secrets);
    let listed = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == read.body["id"])
        .expect("the list shows it")
        .clone();
    assert_eq!(listed, read.body, "{}", tenant.id);
    read.body
}

/// The stored row of `id`; checks that neither column holds `secrets` in plaintext.
async fn stored(app: &TestApp, id: &str, secrets: &[String]) -> StoredResource {
    let row = app.db().resource(id).await.expect("the resource is stored");
    for secret in secrets {
        assert!(
            !row.text().contains(secret.as_str()),
            "{secret} stored as {row:?}"
        );
    }
    row
}

/// The story of one trunk's password, told through `client` (the tenant's key on some
/// server). Returns every secret it sent.
async fn sip_password_story(app: &TestApp, client: &Client, tenant: &TenantFixture) -> Vec<String> {
    let first = secret("sip-first");
    let second = secret("sip-second");
    let refused = secret("sip-refused");
    let all = vec![first.clone(), second.clone(), refused.clone()];
    let collection = tenant.path("/sip-trunks");

    // Refusals that carry a password never show it.
    let bad =
        json!({ "name": "Bad", "domain": "sip.carrier.example", "port": 0, "password": refused });
    let answer = client.post(&collection, &bad).await;
    answer.assert_invalid("port");
    assert_hidden(&answer, &all);

    let body = json!({ "name": "Carrier", "domain": "sip.carrier.example", "username": "acme", "password": first });
    let created = create_twice(client, &collection, &body, &all).await;
    assert_eq!(created.body["password"], MASK);
    let id = created.id();
    let path = format!("{collection}/{id}");
    assert_eq!(
        read_back(client, tenant, &path, &all).await["password"],
        MASK
    );
    let row = stored(app, &id, &all).await;
    assert!(row.document.get("password").is_none(), "{row:?}");
    let sealed = row
        .sealed_at("/password")
        .expect("the password is sealed")
        .to_owned();
    assert_eq!(
        app.open_sealed(&tenant.id, &id, "/password", &sealed),
        first
    );

    // The mask sent back, or no password at all, keeps the sealed password as it was.
    for patch in [
        json!({ "name": "Carrier 2", "password": MASK }),
        json!({ "port": 5070 }),
    ] {
        let changed = client.patch(&path, &patch).await;
        changed.assert_status(StatusCode::OK);
        assert_eq!(changed.body["password"], MASK);
        assert_hidden(&changed, &all);
        assert_eq!(
            stored(app, &id, &all).await.sealed_at("/password"),
            Some(sealed.as_str())
        );
    }

    // A refused patch with a new password shows it nowhere and keeps the old one.
    let answer = client
        .patch(
            &path,
            &json!({ "password": refused, "transport": "pigeon" }),
        )
        .await;
    answer.assert_invalid("transport");
    assert_hidden(&answer, &all);
    let answer = client
        .patch(&path, &json!({ "password": refused, "name": null }))
        .await;
    answer.assert_invalid("name");
    assert_hidden(&answer, &all);
    assert_eq!(
        stored(app, &id, &all).await.sealed_at("/password"),
        Some(sealed.as_str())
    );

    // A new password is sealed anew.
    let changed = client.patch(&path, &json!({ "password": second })).await;
    changed.assert_status(StatusCode::OK);
    assert_eq!(changed.body["password"], MASK);
    assert_hidden(&changed, &all);
    let resealed = stored(app, &id, &all).await;
    let resealed = resealed.sealed_at("/password").expect("sealed").to_owned();
    assert_ne!(resealed, sealed);
    assert_eq!(
        app.open_sealed(&tenant.id, &id, "/password", &resealed),
        second
    );

    // null removes it.
    let removed = client.patch(&path, &json!({ "password": null })).await;
    removed.assert_status(StatusCode::OK);
    assert!(removed.body.get("password").is_none(), "{}", removed.text);
    let read = read_back(client, tenant, &path, &all).await;
    assert!(read.get("password").is_none(), "{read}");
    assert_eq!(read["username"], "acme");
    assert_eq!(stored(app, &id, &all).await.sealed_at("/password"), None);
    all
}

/// Each kind of integration, its required config and its two secret keys.
const INTEGRATIONS: [(&str, &str, &str, [&str; 2]); 3] = [
    ("crm", "provider", "hubspot", ["apiKey", "clientSecret"]),
    (
        "calendar",
        "provider",
        "google",
        ["accessToken", "refreshToken"],
    ),
    (
        "http",
        "url",
        "https://hooks.example/x",
        ["authorization", "signingSecret"],
    ),
];

/// The story of each kind of integration's secret keys, told through `client`. Returns every
/// secret it sent.
async fn integration_secrets_story(
    app: &TestApp,
    client: &Client,
    tenant: &TenantFixture,
) -> Vec<String> {
    let mut everything = Vec::new();
    let collection = tenant.path("/integrations");
    for (kind, required, value, keys) in INTEGRATIONS {
        let [one, two] = keys;
        let first = [
            secret(&format!("{kind}-{one}")),
            secret(&format!("{kind}-{two}")),
        ];
        let new = secret(&format!("{kind}-{one}-new"));
        let refused = secret(&format!("{kind}-{two}-refused"));
        let all = vec![
            first[0].clone(),
            first[1].clone(),
            new.clone(),
            refused.clone(),
        ];
        everything.extend(all.clone());
        let pointer = |key: &str| format!("/config/{key}");

        let body = json!({
            "kind": kind,
            "name": format!("{kind} integration"),
            "config": { required: value, "region": "eu", one: first[0], two: first[1] },
        });
        let created = create_twice(client, &collection, &body, &all).await;
        let id = created.id();
        let path = format!("{collection}/{id}");
        let expected_config = json!({ required: value, "region": "eu", one: MASK, two: MASK });
        assert_eq!(created.body["config"], expected_config, "{kind}");
        assert_eq!(
            read_back(client, tenant, &path, &all).await["config"],
            expected_config
        );
        let row = stored(app, &id, &all).await;
        assert_eq!(
            row.document["config"],
            json!({ required: value, "region": "eu" }),
            "{kind}"
        );
        let sealed: Vec<String> = keys
            .iter()
            .map(|key| row.sealed_at(&pointer(key)).expect("sealed").to_owned())
            .collect();
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(
                app.open_sealed(&tenant.id, &id, &pointer(key), &sealed[i]),
                first[i]
            );
        }

        // The masks sent back keep both.
        let patch = json!({ "name": "Renamed", "config": { one: MASK, two: MASK } });
        let changed = client.patch(&path, &patch).await;
        changed.assert_status(StatusCode::OK);
        assert_eq!(changed.body["config"], expected_config, "{kind}");
        let row = stored(app, &id, &all).await;
        assert_eq!(
            row.sealed_at(&pointer(one)),
            Some(sealed[0].as_str()),
            "{kind}"
        );
        assert_eq!(
            row.sealed_at(&pointer(two)),
            Some(sealed[1].as_str()),
            "{kind}"
        );

        // A refused patch carrying a secret shows it nowhere and changes nothing.
        let bad = json!({ "config": { two: refused, required: null } });
        let answer = client.patch(&path, &bad).await;
        answer.assert_invalid(&format!("config.{required}"));
        assert_hidden(&answer, &all);
        assert_eq!(
            stored(app, &id, &all).await.sealed_at(&pointer(two)),
            Some(sealed[1].as_str())
        );

        // A new value of one seals it anew and leaves the other as it was.
        let changed = client
            .patch(&path, &json!({ "config": { one: new } }))
            .await;
        changed.assert_status(StatusCode::OK);
        assert_eq!(changed.body["config"], expected_config, "{kind}");
        assert_hidden(&changed, &all);
        let row = stored(app, &id, &all).await;
        let resealed = row.sealed_at(&pointer(one)).expect("sealed");
        assert_ne!(resealed, sealed[0], "{kind}");
        assert_eq!(
            app.open_sealed(&tenant.id, &id, &pointer(one), resealed),
            new
        );
        assert_eq!(
            row.sealed_at(&pointer(two)),
            Some(sealed[1].as_str()),
            "{kind}"
        );

        // null removes one: reads no longer show its key.
        let removed = client
            .patch(&path, &json!({ "config": { one: null } }))
            .await;
        removed.assert_status(StatusCode::OK);
        let expected = json!({ required: value, "region": "eu", two: MASK });
        assert_eq!(removed.body["config"], expected, "{kind}");
        assert_eq!(
            read_back(client, tenant, &path, &all).await["config"],
            expected
        );
        let row = stored(app, &id, &all).await;
        assert_eq!(row.sealed_at(&pointer(one)), None, "{kind}");
        assert_eq!(
            row.sealed_at(&pointer(two)),
            Some(sealed[1].as_str()),
            "{kind}"
        );
    }
    everything
}

async fn voice_tenant(app: &TestApp) -> TenantFixture {
    app.tenant()
        .name("Voice")
        .field("settings", json!({ "sipEnabled": true }))
        .create()
        .await
}

/// No secret is anywhere in the database, whatever the table.
async fn assert_not_stored(app: &TestApp, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !app.database_contains(secret).await,
            "{secret} is stored in plaintext"
        );
    }
}

both!(
    a_sip_trunk_password_is_write_only_and_sealed,
    |app| async move {
        let tenant = voice_tenant(&app).await;
        let secrets = sip_password_story(&app, &tenant.client, &tenant).await;

        // A refusal for the setting carries the password too, and does not show it.
        let off = app.tenant().name("No SIP").create().await;
        let password = secret("sip-off");
        let body = json!({ "name": "T", "domain": "sip.carrier.example", "password": password });
        let answer = off.client.post(&off.path("/sip-trunks"), &body).await;
        answer.assert_problem(StatusCode::CONFLICT, "setting_required");
        assert_hidden(&answer, std::slice::from_ref(&password));
        assert_not_stored(&app, &[secrets, vec![password]].concat()).await;
    }
);

both!(
    integration_secret_config_is_write_only_and_sealed,
    |app| async move {
        let tenant = voice_tenant(&app).await;
        let secrets = integration_secrets_story(&app, &tenant.client, &tenant).await;
        assert_not_stored(&app, &secrets).await;
    }
);

both!(
    a_server_logging_at_debug_never_logs_a_secret,
    |app| async move {
        let tenant = voice_tenant(&app).await;
        let served = Served::start_logging(&app, "debug").await;
        let client = served.client(tenant.client.key());
        let mut secrets = sip_password_story(&app, &client, &tenant).await;
        secrets.extend(integration_secrets_story(&app, &client, &tenant).await);
        let log = served.stop().await;

        // The log is the server's, at debug, and saw these requests.
        assert!(log.contains("DEBUG"), "not a debug log:\n{log}");
        assert!(log.contains(&tenant.path("/sip-trunks")), "{log}");
        assert!(log.contains(&tenant.path("/integrations")), "{log}");
        for secret in &secrets {
            assert!(!log.contains(secret.as_str()), "{secret} is in the log");
        }
        assert_not_stored(&app, &secrets).await;
    }
);

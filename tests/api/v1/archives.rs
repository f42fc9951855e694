//! A tenant's archive: exported from one server and imported into another, fresh one (of the
//! same backend, and SQLite → PostgreSQL), the two compare through the API; the archive holds
//! no secret; a tampered archive is refused with nothing written; outsiders see nothing.

use bytes::Bytes;
use chrono::{Duration, SubsecRound, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tenantry::tarball::{TarReader, TarWriter};
use tokio::io::AsyncReadExt;

use crate::both;
use crate::support::blobs::generated;
use crate::support::people::{person, PASSWORD};
use crate::support::{event, AgencyFixture, Answer, Client, TenantFixture, TestApp};

/// What a seeded tenant holds that an archive must not.
struct Seeded {
    agency: AgencyFixture,
    tenant: TenantFixture,
    secrets: Vec<String>,
}

/// A tenant with rows of every kind, owned by an agency.
async fn seed(app: &TestApp) -> Seeded {
    let mailbox = app.mailbox().await;
    let agency = app.agency().name("Northwind").create().await;
    let tenant = app
        .tenant()
        .name("Acme Voice")
        .slug("acme-voice")
        .plan("starter")
        .limits(json!({ "maxAgents": 7 }))
        .field(
            "owner",
            json!({ "email": "owner@acme.example", "firstName": "Jo" }),
        )
        .field("settings", json!({ "sipEnabled": true }))
        .of(&agency)
        .create()
        .await;
    // A subscription whose period keys the usage that follows.
    let start = (Utc::now() - Duration::days(3)).trunc_subsecs(0);
    tenant.subscribe(&agency.client, "starter", start).await;
    let client = &tenant.client;
    let ava = client
        .post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
        .await;
    ava.assert_status(StatusCode::CREATED);
    let ava = ava.id();
    let off = json!({ "name": "Cy", "status": "inactive" });
    client
        .post(&tenant.path("/agents"), &off)
        .await
        .assert_status(StatusCode::CREATED);
    let sip_password = format!("sip-{}", uuid::Uuid::new_v4().simple());
    let trunk =
        json!({ "name": "Carrier", "domain": "sip.carrier.example", "password": sip_password });
    client
        .post(&tenant.path("/sip-trunks"), &trunk)
        .await
        .assert_status(StatusCode::CREATED);
    let number = json!({ "number": "+14155550123", "agentId": ava });
    client
        .post(&tenant.path("/phone-numbers"), &number)
        .await
        .assert_status(StatusCode::CREATED);
    tenant
        .upload("faq.txt", "text/plain", generated(7, 300_000))
        .await;

    let call = tenant.admit("phone").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let outcome = json!({ "durationSeconds": 95, "costCents": 40, "sentimentScore": 0.5 });
    tenant
        .end_call(&call, &outcome)
        .await
        .assert_status(StatusCode::OK);
    let recording = client
        .request(
            reqwest::Method::PUT,
            &tenant.path(&format!("/calls/{call}/recording")),
        )
        .header("content-type", "audio/mp4")
        .body(generated(8, 70_000));
    client
        .send(recording)
        .await
        .assert_status(StatusCode::CREATED);
    tenant.admit("webrtc").await;
    // Whole seconds: PostgreSQL keeps microseconds, SQLite what it is given.
    let yesterday = (Utc::now() - Duration::days(1)).trunc_subsecs(0);
    let events = [event("ev-1", yesterday, "phone", 60, 12, Some(0.2))];
    let reported = tenant.post_events(&events).await;
    assert!(reported.status.is_success(), "{}", reported.text);

    let invite = |email: &str| json!({ "email": email, "role": "TenantUser" });
    person(
        app,
        &mailbox,
        &agency.client,
        &tenant.path("/users/invite"),
        "pat@acme.example",
        "TenantUser",
    )
    .await;
    agency
        .client
        .post(&tenant.path("/users/invite"), &invite("sam@acme.example"))
        .await
        .assert_status(StatusCode::CREATED);
    let key = app
        .mint_key(&json!({ "name": "Spare", "tenantId": tenant.id }))
        .await;
    let branding = json!({ "companyName": "Acme", "colors": { "primary": "#0ea5e9" } });
    client
        .put(&tenant.path("/branding"), &branding)
        .await
        .assert_status(StatusCode::OK);
    let secrets = vec![
        tenant.client.key().to_owned(),
        key,
        sip_password,
        PASSWORD.to_owned(),
    ];
    Seeded {
        agency,
        tenant,
        secrets,
    }
}

async fn export(client: &Client, tenant_id: &str) -> Bytes {
    let download = client
        .download(&format!("/api/v1/tenants/{tenant_id}/export"), &[])
        .await;
    download.assert_status(StatusCode::OK);
    assert_eq!(download.header("content-type"), Some("application/gzip"));
    download.bytes
}

async fn import(client: &Client, query: &str, archive: Bytes) -> Answer {
    let request = client
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/import{query}"),
        )
        .header("content-type", "application/gzip")
        .body(archive);
    client.send(request).await
}

/// Every entry of an archive, in order.
async fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut reader = TarReader::new(archive);
    let mut all = Vec::new();
    while let Some(head) = reader.next().await.expect("a readable archive") {
        all.push((head.path, reader.read_all(u64::MAX).await.unwrap()));
    }
    all
}

async fn pack(entries: &[(String, Vec<u8>)]) -> Bytes {
    let mut out = Vec::new();
    let mut writer = TarWriter::new(&mut out, 0);
    for (path, bytes) in entries {
        writer.entry(path, bytes).await.unwrap();
    }
    writer.finish().await.unwrap();
    out.into()
}

/// What a tenant shows through the API, less what depends on the agency that holds it.
async fn view(client: &Client, tenant_id: &str) -> Value {
    let path = |rest: &str| format!("/api/v1/tenants/{tenant_id}{rest}");
    let mut tenant = client.get(&path("")).await.body;
    for field in ["agencyId", "agency"] {
        tenant.as_object_mut().unwrap().remove(field);
    }
    let today = Utc::now().date_naive();
    let analytics = format!(
        "/analytics?dateFrom={}&dateTo={today}",
        today - Duration::days(7)
    );
    let mut view =
        json!({ "tenant": tenant, "analytics": client.get(&path(&analytics)).await.body });
    view["limits"] = client.get(&path("/limits")).await.body;
    view["branding"] = client.get(&path("/branding")).await.body["override"].clone();
    view["subscription"] = client.get(&path("/subscription")).await.body;
    for people in ["/users", "/invitations"] {
        view[people] = client.get(&path(people)).await.body;
    }
    for list in [
        "/agents",
        "/calls",
        "/files",
        "/recordings",
        "/phone-numbers",
        "/sip-trunks",
    ] {
        view[list] = Value::Array(client.walk(&path(&format!("{list}?limit=100"))).await);
    }
    let mut files = view["/files"].as_array().unwrap().clone();
    files.extend(view["/recordings"].as_array().unwrap().iter().cloned());
    for file in &files {
        let content = if file["callId"].is_string() {
            path(&format!(
                "/calls/{}/recording",
                file["callId"].as_str().unwrap()
            ))
        } else {
            path(&format!("/files/{}/content", file["id"].as_str().unwrap()))
        };
        let bytes = client.download(&content, &[]).await;
        bytes.assert_status(StatusCode::OK);
        view[file["id"].as_str().unwrap()] = json!(crate::support::blobs::sha256(&bytes.bytes));
    }
    view
}

/// Exports the seeded tenant from `app` and imports it into `fresh` under a new agency; the two
/// compare, and so do their archives' manifests.
async fn round_trip(app: &TestApp, fresh: &TestApp) {
    let seeded = seed(app).await;
    let archive = export(&seeded.agency.client, &seeded.tenant.id).await;
    let plain = gunzip(&archive).await;
    for secret in &seeded.secrets {
        assert!(
            !contains(&plain, secret.as_bytes()),
            "the archive holds {secret}"
        );
    }
    let agency = fresh.agency().name("Southwind").create().await;
    let imported = import(&agency.client, "", archive.clone()).await;
    imported.assert_status(StatusCode::CREATED);
    assert_eq!(imported.body["id"], seeded.tenant.id.as_str());
    assert_eq!(imported.body["agencyId"], agency.id.as_str());
    let mut copy = view(&agency.client, &seeded.tenant.id).await;
    let mut original = view(&seeded.agency.client, &seeded.tenant.id).await;
    // The SIP password stayed behind (the original shows it masked), and so did the
    // people's sign-ins; invitations show their tenant's agency.
    assert_eq!(original["/sip-trunks"][0]["password"], "********");
    assert!(copy["/sip-trunks"][0].get("password").is_none(), "{copy}");
    for view in [&mut copy, &mut original] {
        strip(view, &["password", "lastLoginAt", "agencyId"]);
    }
    assert_eq!(copy, original);
    let again = export(&agency.client, &seeded.tenant.id).await;
    // The archive of the copy lists the same entries with the same counts and checksums, but
    // for the keys, which the import revoked.
    let copied = manifest_files(&again).await;
    let exported = manifest_files(&archive).await;
    assert_eq!(
        copied.as_array().unwrap().len(),
        exported.as_array().unwrap().len()
    );
    for (copy, original) in copied
        .as_array()
        .unwrap()
        .iter()
        .zip(exported.as_array().unwrap())
    {
        assert_eq!(copy["path"], original["path"]);
        if copy["kind"] == "audit_log" {
            // The trail goes on: the import is its last entry.
            let rows = original["rows"].as_i64().unwrap();
            assert_eq!(copy["rows"].as_i64().unwrap(), rows + 1);
            continue;
        }
        assert_eq!(copy["rows"], original["rows"]);
        if copy["kind"] != "api_keys" {
            assert_eq!(copy, original);
        }
    }
    // The trail came along, still verifies, and records the import.
    let trail = |client: &crate::support::Client| {
        let path = format!("/api/v1/tenants/{}/audit-log", seeded.tenant.id);
        let client = client.clone();
        async move { client.walk(&path).await }
    };
    let copied_trail = trail(&agency.client).await;
    let original_trail = trail(&seeded.agency.client).await;
    assert_eq!(copied_trail[0]["action"], "tenant.imported");
    assert_eq!(copied_trail[1..], original_trail[..]);
    let verify = format!("/api/v1/tenants/{}/audit-log/verify", seeded.tenant.id);
    let verified = agency.client.get(&verify).await;
    assert_eq!(verified.body["valid"], true, "{}", verified.text);
    assert_eq!(
        verified.body["checkedEntries"].as_u64().unwrap(),
        original_trail.len() as u64 + 1
    );
    // Imported keys come revoked: their secrets stayed behind.
    fresh
        .client(&seeded.secrets[0])
        .get("/api/v1/users/me")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    // The call in progress still holds its slot.
    let limits = agency
        .client
        .get(&format!("/api/v1/tenants/{}/limits", seeded.tenant.id))
        .await;
    assert_eq!(limits.body["activeCalls"], 1, "{}", limits.text);
}

/// Removes the fields `names` wherever they are.
fn strip(value: &mut Value, names: &[&str]) {
    match value {
        Value::Object(fields) => {
            fields.retain(|name, _| !names.contains(&name.as_str()));
            fields.values_mut().for_each(|field| strip(field, names));
        }
        Value::Array(items) => items.iter_mut().for_each(|item| strip(item, names)),
        _ => {}
    }
}

async fn gunzip(archive: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    async_compression::tokio::bufread::GzipDecoder::new(archive)
        .read_to_end(&mut plain)
        .await
        .unwrap();
    plain
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn manifest_files(archive: &[u8]) -> Value {
    let all = entries(archive).await;
    let (path, bytes) = all.last().unwrap();
    assert_eq!(path, "manifest.json");
    serde_json::from_slice::<Value>(bytes).unwrap()["files"].clone()
}

both!(an_archive_imports_into_a_fresh_server, |app| async move {
    let fresh = if app.database_url().starts_with("sqlite") {
        TestApp::sqlite().await
    } else {
        TestApp::postgres()
            .await
            .expect("PostgreSQL, as for the source")
    };
    round_trip(&app, &fresh).await;
    fresh.finish().await;
});

#[tokio::test]
async fn an_archive_moves_from_sqlite_to_postgres() {
    let Some(fresh) = TestApp::postgres().await else {
        return;
    };
    let app = TestApp::sqlite().await;
    round_trip(&app, &fresh).await;
    app.finish().await;
    fresh.finish().await;
}

both!(a_tampered_archive_writes_nothing, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    tenant
        .upload("a.txt", "text/plain", generated(3, 2_000))
        .await;
    for _ in 0..3 {
        tenant.admit("phone").await;
    }
    let archive = export(&agency.client, &tenant.id).await;
    let all = entries(&archive).await;
    let calls = all
        .iter()
        .position(|(path, _)| path.starts_with("calls/"))
        .unwrap();
    let file = all
        .iter()
        .position(|(path, _)| path.starts_with("objects/files/"))
        .unwrap();

    let mut changed_byte = all.clone();
    changed_byte[file].1[10] ^= 1;
    let mut wrong_count = all.clone();
    let manifest = wrong_count.last_mut().unwrap();
    let mut listed: Value = serde_json::from_slice(&manifest.1).unwrap();
    for entry in listed["files"].as_array_mut().unwrap() {
        if entry["kind"] == "calls" {
            entry["rows"] = json!(4);
        }
    }
    manifest.1 = serde_json::to_vec(&listed).unwrap();
    let mut no_manifest = all.clone();
    no_manifest.pop();
    let mut row_changed = all.clone();
    row_changed[calls].1 = String::from_utf8(row_changed[calls].1.clone())
        .unwrap()
        .replacen("phone", "webrtc", 1)
        .into_bytes();

    // Into a fresh server, so that only the tampering can refuse them.
    let other = if app.database_url().starts_with("sqlite") {
        TestApp::sqlite().await
    } else {
        TestApp::postgres().await.unwrap()
    };
    let calls_path = all[calls].0.clone();
    for (tampered, named) in [
        (changed_byte, all[file].0.as_str()),
        (wrong_count, calls_path.as_str()),
        (no_manifest, "manifest.json"),
        (row_changed, calls_path.as_str()),
    ] {
        let answer = import(&other.platform(), "", pack(&tampered).await).await;
        answer.assert_invalid(named);
    }
    let garbage = import(&other.platform(), "", Bytes::from_static(b"not a tar.gz")).await;
    garbage.assert_invalid("archive");
    let truncated = import(&other.platform(), "", archive.slice(..archive.len() / 2)).await;
    assert_eq!(
        truncated.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        truncated.text
    );
    assert!(other.platform().tenant_ids().await.is_empty());
    assert!(other.objects_of(&tenant.id).is_empty());
    import(&other.platform(), "", archive.clone())
        .await
        .assert_status(StatusCode::CREATED);
    // Twice is a conflict naming the id.
    let twice = import(&other.platform(), "", archive).await;
    twice.assert_problem(StatusCode::CONFLICT, "already_exists");
    assert!(twice.text.contains(&tenant.id), "{}", twice.text);
    other.finish().await;
});

both!(
    only_the_tenant_its_agency_and_the_platform_export,
    |app| async move {
        let agency = app.agency().create().await;
        let outsider = app.agency().name("Outsider").create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let path = format!("/api/v1/tenants/{}/export", tenant.id);
        outsider
            .client
            .get(&path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        for client in [&tenant.client, &agency.client, &app.platform()] {
            client
                .download(&path, &[])
                .await
                .assert_status(StatusCode::OK);
        }
        // A tenant's own key cannot import, an agency key only into its own agency.
        let archive = export(&agency.client, &tenant.id).await;
        import(&tenant.client, "", archive.clone())
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        let elsewhere = format!("?agencyId={}", agency.id);
        import(&outsider.client, &elsewhere, archive.clone())
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        import(&app.platform(), "?agencyId=agn_nope", archive)
            .await
            .assert_invalid("agencyId");
    }
);

//! The sweep: every operation of every OpenAPI document that names an object by id is called,
//! with that id of a real object, by callers that must not reach it: every tenant role in a
//! tenant of another agency and in a neighbouring tenant of the same agency, and every agency
//! role in another agency, each with a key and with a person's session. Each gets 404,
//! whatever the method and body, and afterwards not one stored row has changed. A route that
//! takes a path parameter the sweep does not know fails the test, so no new route escapes it.
//! A read-only key and a read-only session of the tenant see every one of those objects and
//! change none of them: each write is a 403. (`Admin` reaches everything by design.)

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::people::{person, Mailbox};
use crate::support::{Client, TestApp};

/// Every operation whose path names an object by id, across the dialects.
fn operations_by_id() -> Vec<(String, Method)> {
    let mut operations = Vec::new();
    for (_, _, document) in tenantry::http::documents() {
        let document = serde_json::to_value(document).expect("the spec is JSON");
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            if !path.contains('{') {
                continue;
            }
            for method in item.as_object().unwrap().keys() {
                if let Ok(method) = method.to_uppercase().parse::<Method>() {
                    operations.push((path.clone(), method));
                }
            }
        }
    }
    operations
}

/// The path with each parameter replaced by the victim's object of that name.
fn concrete(template: &str, ids: &BTreeMap<&str, String>) -> String {
    template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(parameter) => ids
                    .get(parameter)
                    .unwrap_or_else(|| {
                        panic!("{template}: the sweep knows no object for {{{parameter}}}; add one")
                    })
                    .clone(),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// The victim: an agency's tenant owning one object of every kind a path can name.
async fn victim(
    app: &TestApp,
) -> (
    BTreeMap<&'static str, String>,
    crate::support::AgencyFixture,
) {
    let agency = app.agency().name("Victim agency").create().await;
    let tenant = app
        .tenant()
        .name("Victim")
        .field(
            "settings",
            json!({ "sipEnabled": true, "webhookUrl": "https://hooks.example.com/victim-own" }),
        )
        .of(&agency)
        .create()
        .await;
    let client = &tenant.client;
    let post = |path: &str, body: Value| {
        let path = tenant.path(path);
        async move {
            let answer = client.post(&path, &body).await;
            answer.assert_status(StatusCode::CREATED);
            answer.id()
        }
    };
    let agent = post("/agents", json!({ "name": "Ava" })).await;
    let call = tenant.admit("phone").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = post(
        "/phone-numbers",
        json!({ "number": "+14155550199", "agentId": agent }),
    )
    .await;
    let trunk = post(
        "/sip-trunks",
        json!({ "name": "t", "domain": "sip.example.com", "password": "victim-secret" }),
    )
    .await;
    let squad = post("/squads", json!({ "name": "s", "agentIds": [agent] })).await;
    let workflow = post("/workflows", json!({ "name": "w", "definition": {} })).await;
    let integration = post(
        "/integrations",
        json!({ "kind": "http", "name": "i", "config": { "url": "https://x.example.com" } }),
    )
    .await;
    let file = client
        .send(
            client
                .request(Method::POST, &tenant.path("/files?name=kb.txt"))
                .header("content-type", "text/plain")
                .body("knowledge"),
        )
        .await;
    file.assert_status(StatusCode::CREATED);
    let recording = client
        .send(
            client
                .request(
                    Method::PUT,
                    &tenant.path(&format!("/calls/{call}/recording")),
                )
                .header("content-type", "audio/mp4")
                .body("audio"),
        )
        .await;
    recording.assert_status(StatusCode::CREATED);
    let key = app
        .platform()
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "victim key", "tenantId": tenant.id }),
        )
        .await;
    key.assert_status(StatusCode::CREATED);
    let member = agency
        .client
        .post(
            &tenant.path("/users/invite"),
            &json!({ "email": "victim-member@example.com", "role": "TenantUser" }),
        )
        .await;
    member.assert_status(StatusCode::CREATED);
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    tenant.subscribe(&agency.client, "starter", start).await;
    // An offer to an agency of its own, so that no outsider is on either side of it.
    let receiver = app.agency().name("Receiving agency").create().await;
    let transfer = agency
        .client
        .post(
            &tenant.path("/transfer"),
            &json!({ "targetAgencyId": receiver.id }),
        )
        .await;
    transfer.assert_status(StatusCode::CREATED);
    let endpoint = agency
        .client
        .post(
            "/api/v1/agency/webhook-endpoints",
            &json!({ "url": "https://hooks.example.com/victim" }),
        )
        .await;
    endpoint.assert_status(StatusCode::CREATED);
    // A change it hears of, so that it has a delivery.
    agency
        .client
        .patch(&tenant.path(""), &json!({ "name": "Victim, renamed" }))
        .await
        .assert_status(StatusCode::OK);
    let deliveries = agency
        .client
        .get(&format!(
            "/api/v1/webhook-deliveries?endpointId={}",
            endpoint.id()
        ))
        .await;
    let delivery = deliveries.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ids = BTreeMap::from([
        ("webhookEndpointId", endpoint.id()),
        ("webhookDeliveryId", delivery),
        ("transferId", transfer.id()),
        ("userId", member.body["userId"].as_str().unwrap().to_owned()),
        ("invitationId", member.id()),
        ("tenantId", tenant.id.clone()),
        ("tenant_id", tenant.id.clone()),
        ("organization_id", organization(&tenant.id)),
        ("agencyId", agency.id.clone()),
        ("agentId", agent),
        ("callId", call),
        ("phoneNumberId", phone),
        ("sipTrunkId", trunk),
        ("squadId", squad),
        ("workflowId", workflow),
        ("integrationId", integration),
        ("fileId", file.id()),
        ("recordingId", recording.id()),
        ("apiKeyId", key.id()),
    ]);
    (ids, agency)
}

/// The plain UUID of a tenant's id: how Trieve's dialect names an organization.
fn organization(tenant_id: &str) -> String {
    let id: tenantry::domain::ids::TenantId = tenant_id.parse().expect("a tenant id");
    id.0.to_string()
}

/// Catalog objects every caller may read: not another's, so not swept. An invitation's token
/// is its own credential: whoever holds the emailed link may read and accept it.
const SHARED: [&str; 2] = ["planId", "token"];

const TENANT_ROLES: [&str; 3] = ["TenantOwner", "TenantUser", "ReadOnly"];
const AGENCY_ROLES: [&str; 3] = [
    "AgencyManager",
    "AgencyTechnicalManager",
    "AgencyAccountManager",
];

/// A key and a person's session in `role`, for a tenant (`tenantId`) or an agency
/// (`agencyId`), made by `inviter` (who may staff that scope), labelled for failures.
async fn key_and_session(
    app: &TestApp,
    mailbox: &Mailbox,
    inviter: &Client,
    holder: (&str, &str),
    role: &str,
    label: &str,
) -> [(String, Client); 2] {
    let (field, id) = holder;
    let key = app
        .mint_key(&json!({ "name": label, field: id, "role": role }))
        .await;
    let invite_path = match field {
        "tenantId" => format!("/api/v1/tenants/{id}/users/invite"),
        _ => "/api/v1/users/invite".to_owned(),
    };
    let email = format!(
        "{}-{}@example.com",
        label.replace(' ', "-"),
        role.to_lowercase()
    );
    let session = person(app, mailbox, inviter, &invite_path, &email, role).await;
    [
        (format!("{label}, {role} key"), app.client(&key)),
        (format!("{label}, {role} session"), session),
    ]
}

both!(
    no_key_reaches_another_tenants_or_agencys_objects,
    |app| async move {
        let (ids, victim_agency) = victim(&app).await;
        let other_agency = app.agency().name("Other agency").create().await;
        let foreign = app
            .tenant()
            .name("Foreign")
            .of(&other_agency)
            .create()
            .await;
        let neighbour = app
            .tenant()
            .name("Neighbour")
            .of(&victim_agency)
            .create()
            .await;
        // Every role outside the victim's reach, with a key and with a person's session.
        let mailbox = app.mailbox().await;
        let mut outsiders: Vec<(String, Client)> = Vec::new();
        for role in TENANT_ROLES {
            for (tenant, inviter, label) in [
                (&foreign, &other_agency.client, "a tenant of another agency"),
                (&neighbour, &victim_agency.client, "a neighbouring tenant"),
            ] {
                let holder = ("tenantId", tenant.id.as_str());
                outsiders
                    .extend(key_and_session(&app, &mailbox, inviter, holder, role, label).await);
            }
        }
        for role in AGENCY_ROLES {
            let holder = ("agencyId", other_agency.id.as_str());
            let label = "another agency";
            let made = key_and_session(&app, &mailbox, &other_agency.client, holder, role, label);
            outsiders.extend(made.await);
        }
        let before = app.db().every_row().await;

        let mut swept = 0;
        for (template, method) in operations_by_id() {
            if SHARED
                .iter()
                .any(|shared| template.contains(&format!("{{{shared}}}")))
            {
                continue;
            }
            let path = concrete(&template, &ids);
            for (who, client) in &outsiders {
                let answer = client
                    .send(
                        client
                            .request(method.clone(), &path)
                            .header("content-type", "application/json")
                            // Trieve's routes need it; the others ignore it.
                            .header("TR-Organization", &ids["organization_id"])
                            .body("{}"),
                    )
                    .await;
                assert_eq!(
                    answer.status,
                    StatusCode::NOT_FOUND,
                    "{who}: {method} {template}: {}",
                    answer.text
                );
                assert!(!answer.text.contains("victim-secret"));
                swept += 1;
            }
        }
        assert!(swept >= 18 * 40, "only {swept} calls swept");
        assert_eq!(
            app.db().every_row().await,
            before,
            "an outsider's request changed stored data"
        );
    }
);

both!(
    a_read_only_key_or_session_sees_its_tenant_and_changes_nothing,
    |app| async move {
        let (ids, agency) = victim(&app).await;
        let minted = agency
            .client
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "auditor", "tenantId": ids["tenantId"], "role": "ReadOnly" }),
            )
            .await;
        minted.assert_status(StatusCode::CREATED);
        let key = app.client(minted.body["key"].as_str().unwrap());
        let mailbox = app.mailbox().await;
        let invite = format!("/api/v1/tenants/{}/users/invite", ids["tenantId"]);
        let session = person(
            &app,
            &mailbox,
            &agency.client,
            &invite,
            "auditor@example.com",
            "ReadOnly",
        )
        .await;
        let before = app.db().every_row().await;

        let mut writes = 0;
        for (template, method) in operations_by_id() {
            // What a tenant's caller reaches: its tenant's objects, keys, members and invitations.
            let reached = [
                "{tenantId}",
                "{organization_id}",
                "{apiKeyId}",
                "{userId}",
                "{invitationId}",
            ];
            if !reached.iter().any(|id| template.contains(id)) {
                continue;
            }
            let path = concrete(&template, &ids);
            for reader in [&key, &session] {
                let answer = reader
                    .send(
                        reader
                            .request(method.clone(), &path)
                            .header("content-type", "application/json")
                            .header("TR-Organization", &ids["organization_id"])
                            .body("{}"),
                    )
                    .await;
                if template.ends_with("/export") {
                    // The archive holds what it may not read (key metadata): for owners only.
                    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
                } else if method == Method::GET {
                    // It sees everything of its tenant: never a 404, never a 403.
                    assert!(
                        answer.status.is_success(),
                        "read-only: {method} {template}: {} {}",
                        answer.status,
                        answer.text
                    );
                } else {
                    assert_eq!(
                        answer.status,
                        StatusCode::FORBIDDEN,
                        "read-only: {method} {template}: {}",
                        answer.text
                    );
                    writes += 1;
                }
            }
        }
        assert!(writes >= 2 * 25, "only {writes} writes swept");
        assert_eq!(
            app.db().every_row().await,
            before,
            "a read-only key changed stored data"
        );
    }
);

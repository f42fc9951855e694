//! Per-service blocks, as an agency uses them: each blocked service is refused with 403
//! `service_blocked` naming it while the others keep working, the tenant reads `blocked` and
//! lists under that status, blocking is idempotent, bad input changes nothing, only the
//! agency and the platform may block, and a block raced against admissions, agent switch-ons
//! or trunk changes lets none of them through after it answers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::billing_alerts::trail;
use super::events::events_of;
use crate::both;
use crate::support::process::Replicas;
use crate::support::{AgencyFixture, Answer, Client, TenantFixture, TestApp};

const SERVICES: [&str; 5] = ["calls", "agents", "sip", "recordings", "analytics"];

/// An agency's tenant with room for everything the stories do.
async fn roomy_tenant(app: &TestApp, agency: &AgencyFixture) -> TenantFixture {
    app.tenant()
        .of(agency)
        .limits(json!({ "maxConcurrentCalls": 1000, "maxAgents": 100, "maxPhoneNumbers": 100 }))
        .field("settings", json!({ "sipEnabled": true }))
        .create()
        .await
}

async fn block(agency: &AgencyFixture, tenant: &TenantFixture, body: Value) -> Answer {
    agency.client.post(&tenant.path("/block"), &body).await
}

/// A 403 `service_blocked` naming `service`.
#[track_caller]
fn assert_blocked(answer: &Answer, service: &str) {
    answer.assert_problem(StatusCode::FORBIDDEN, "service_blocked");
    assert_eq!(answer.body["service"], service, "{}", answer.text);
    assert!(
        answer.body["detail"].as_str().unwrap().contains(service),
        "{}",
        answer.text
    );
}

/// One request that uses `service`, by the tenant's own key, and the status it gets when the
/// service is not blocked.
async fn use_service(tenant: &TenantFixture, service: &str, n: usize) -> (Answer, StatusCode) {
    let client = &tenant.client;
    match service {
        "calls" => (
            tenant.start_call(&json!({ "channel": "phone" })).await,
            StatusCode::CREATED,
        ),
        "agents" => (
            client
                .post(&tenant.path("/agents"), &json!({ "name": format!("A{n}") }))
                .await,
            StatusCode::CREATED,
        ),
        "sip" => (
            client
                .post(
                    &tenant.path("/sip-trunks"),
                    &json!({ "name": format!("T{n}"), "domain": "sip.carrier.example" }),
                )
                .await,
            StatusCode::CREATED,
        ),
        "recordings" => (
            client.get(&tenant.path("/recordings")).await,
            StatusCode::OK,
        ),
        "analytics" => (client.get(&tenant.path("/analytics")).await, StatusCode::OK),
        other => panic!("no such service {other}"),
    }
}

both!(
    each_blocked_service_is_refused_while_the_others_work,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = roomy_tenant(&app, &agency).await;
        let mut n = 0;
        for blocked in SERVICES {
            let answer = block(
                &agency,
                &tenant,
                json!({ "blocked": true, "blockServices": [blocked], "reason": "test" }),
            )
            .await;
            answer.assert_status(StatusCode::OK);
            assert_eq!(answer.body["block"]["services"], json!([blocked]));
            for service in SERVICES {
                n += 1;
                let (answer, works) = use_service(&tenant, service, n).await;
                if service == blocked {
                    assert_blocked(&answer, service);
                } else {
                    answer.assert_status(works);
                }
            }
            block(&agency, &tenant, json!({ "blocked": false }))
                .await
                .assert_status(StatusCode::OK);
            let (answer, works) = use_service(&tenant, blocked, n).await;
            answer.assert_status(works);
        }
    }
);

both!(
    a_block_of_everything_refuses_each_service_and_lifts_whole,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = roomy_tenant(&app, &agency).await;
        let client = &tenant.client;
        // What exists before the block: an agent that is off, a number, a call in progress
        // and a recording of it.
        let idle = client
            .post(
                &tenant.path("/agents"),
                &json!({ "name": "Idle", "status": "inactive" }),
            )
            .await;
        idle.assert_status(StatusCode::CREATED);
        let idle = tenant.path(&format!("/agents/{}", idle.id()));
        let number = client
            .post(
                &tenant.path("/phone-numbers"),
                &json!({ "number": "+14155550100" }),
            )
            .await;
        number.assert_status(StatusCode::CREATED);
        let number = tenant.path(&format!("/phone-numbers/{}", number.id()));
        let call = tenant.admit("phone").await;
        let call_id = call["id"].as_str().unwrap().to_owned();
        let recording = tenant.path(&format!("/calls/{call_id}/recording"));
        let stored = client
            .send(
                client
                    .request(Method::PUT, &recording)
                    .header("content-type", "audio/mp4")
                    .body(vec![7u8; 1000]),
            )
            .await;
        stored.assert_status(StatusCode::CREATED);
        let before = agency.client.get(&tenant.path("")).await;

        // Without blockServices every service is blocked.
        let blocked = block(
            &agency,
            &tenant,
            json!({ "blocked": true, "reason": "Payment overdue" }),
        )
        .await;
        blocked.assert_status(StatusCode::OK);
        assert_eq!(blocked.body["status"], "blocked");
        assert_eq!(blocked.body["block"]["services"], json!(SERVICES));
        assert_eq!(blocked.body["block"]["reason"], "Payment overdue");
        let blocked_at = blocked.body["block"]["blockedAt"].clone();
        assert!(blocked_at.is_string(), "{}", blocked.text);
        assert_ne!(blocked.body["updatedAt"], before.body["updatedAt"]);
        assert!(blocked.header("etag").is_some());
        for reader in [&agency.client, client] {
            let read = reader.get(&tenant.path("")).await;
            assert_eq!(read.body["status"], "blocked", "{}", read.text);
            assert_eq!(read.body["block"], blocked.body["block"]);
        }

        // Blocking again as it stands changes nothing.
        let again = block(
            &agency,
            &tenant,
            json!({ "blocked": true, "reason": "Payment overdue", "blockServices": SERVICES }),
        )
        .await;
        again.assert_status(StatusCode::OK);
        assert_eq!(again.body["updatedAt"], blocked.body["updatedAt"]);
        assert_eq!(again.body["block"], blocked.body["block"]);

        // Every service is refused, through each of its routes.
        assert_blocked(
            &tenant.start_call(&json!({ "channel": "webrtc" })).await,
            "calls",
        );
        for (answer, service) in [
            (
                client
                    .post(&tenant.path("/agents"), &json!({ "name": "New" }))
                    .await,
                "agents",
            ),
            (
                client.patch(&idle, &json!({ "status": "active" })).await,
                "agents",
            ),
            (
                client
                    .post(
                        &tenant.path("/phone-numbers"),
                        &json!({ "number": "+14155550101" }),
                    )
                    .await,
                "sip",
            ),
            (
                client.patch(&number, &json!({ "label": "Sales" })).await,
                "sip",
            ),
            (
                client
                    .post(
                        &tenant.path("/sip-trunks"),
                        &json!({ "name": "T", "domain": "sip.carrier.example" }),
                    )
                    .await,
                "sip",
            ),
            (client.get(&tenant.path("/recordings")).await, "recordings"),
            (client.get(&recording).await, "recordings"),
            (
                client
                    .send(
                        client
                            .request(Method::PUT, &recording)
                            .header("content-type", "audio/mp4")
                            .body(vec![8u8; 1000]),
                    )
                    .await,
                "recordings",
            ),
            (client.get(&tenant.path("/analytics")).await, "analytics"),
        ] {
            assert_blocked(&answer, service);
        }
        // What is not a blocked service works: reading numbers and agents, renaming an
        // agent, the limits, the call in progress, and giving things up.
        client.get(&number).await.assert_status(StatusCode::OK);
        client
            .patch(&idle, &json!({ "name": "Still idle" }))
            .await
            .assert_status(StatusCode::OK);
        client
            .get(&tenant.path("/limits"))
            .await
            .assert_status(StatusCode::OK);
        client
            .post(
                &tenant.path(&format!("/calls/{call_id}/heartbeat")),
                &json!({}),
            )
            .await
            .assert_status(StatusCode::OK);
        tenant
            .end_call(&call_id, &json!({ "durationSeconds": 30, "costCents": 5 }))
            .await
            .assert_status(StatusCode::OK);
        client
            .delete(&recording)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        client
            .delete(&number)
            .await
            .assert_status(StatusCode::NO_CONTENT);

        // Narrowing the block keeps when it started; calls work again.
        let narrowed = block(
            &agency,
            &tenant,
            json!({ "blocked": true, "blockServices": ["analytics"] }),
        )
        .await;
        narrowed.assert_status(StatusCode::OK);
        assert_eq!(
            narrowed.body["block"],
            json!({ "services": ["analytics"], "reason": null, "blockedAt": blocked_at })
        );
        tenant.admit("webrtc").await;

        // Lifting it lifts all of it, once.
        let lifted = block(
            &agency,
            &tenant,
            json!({ "blocked": false, "reason": "Paid" }),
        )
        .await;
        lifted.assert_status(StatusCode::OK);
        assert_eq!(lifted.body["status"], "active");
        assert_eq!(lifted.body["block"], Value::Null);
        let again = block(&agency, &tenant, json!({ "blocked": false })).await;
        assert_eq!(again.body["updatedAt"], lifted.body["updatedAt"]);
        client
            .get(&tenant.path("/analytics"))
            .await
            .assert_status(StatusCode::OK);
        client
            .patch(&idle, &json!({ "status": "active" }))
            .await
            .assert_status(StatusCode::OK);

        // Each change is in the trail and told, once.
        let first = trail(&agency, &tenant, "tenant.blocked").await;
        assert_eq!(first.len(), 2, "{first:?}");
        let oldest = &first[first.len() - 1];
        assert_eq!(
            oldest["changes"]["block.services"],
            json!({ "before": null, "after": SERVICES })
        );
        assert_eq!(
            oldest["changes"]["block.reason"]["after"],
            "Payment overdue"
        );
        let unblocked = trail(&agency, &tenant, "tenant.unblocked").await;
        assert_eq!(unblocked.len(), 1);
        assert_eq!(
            unblocked[0]["changes"]["block.services"],
            json!({ "before": ["analytics"], "after": null })
        );
        let mut told: Vec<&str> = events_of(&app, &tenant)
            .await
            .iter()
            .map(|event| event.kind.name())
            .filter(|name| name.contains("blocked"))
            .collect();
        told.sort();
        assert_eq!(
            told,
            ["tenant.blocked", "tenant.blocked", "tenant.unblocked"]
        );
    }
);

both!(
    the_status_filter_lists_blocked_tenants_apart,
    |app| async move {
        let agency = app.agency().create().await;
        let blocked = roomy_tenant(&app, &agency).await;
        let open = roomy_tenant(&app, &agency).await;
        let asleep = roomy_tenant(&app, &agency).await;
        block(
            &agency,
            &blocked,
            json!({ "blocked": true, "blockServices": ["sip"] }),
        )
        .await
        .assert_status(StatusCode::OK);
        // A block on an inactive tenant waits: it reads inactive, and blocked once reactivated.
        agency
            .client
            .post(&asleep.path("/deactivate"), &json!({}))
            .await
            .assert_status(StatusCode::OK);
        let held = block(&agency, &asleep, json!({ "blocked": true })).await;
        held.assert_status(StatusCode::OK);
        assert_eq!(held.body["status"], "inactive");
        assert_eq!(held.body["block"]["services"], json!(SERVICES));

        let ids = |status: &'static str| {
            let client = agency.client.clone();
            async move {
                let mut ids: Vec<String> = client
                    .walk(&format!("/api/v1/tenants?status={status}&limit=1"))
                    .await
                    .iter()
                    .map(|t| t["id"].as_str().unwrap().to_owned())
                    .collect();
                ids.sort();
                ids
            }
        };
        let sorted = |mut ids: Vec<&String>| {
            ids.sort();
            ids.into_iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(ids("blocked").await, sorted(vec![&blocked.id]));
        assert_eq!(ids("active").await, sorted(vec![&open.id]));
        assert_eq!(ids("inactive").await, sorted(vec![&asleep.id]));
        let listed = agency.client.walk("/api/v1/tenants").await;
        let blocked_row = listed.iter().find(|t| t["id"] == blocked.id.as_str());
        assert_eq!(blocked_row.unwrap()["status"], "blocked");
        assert_eq!(listed.len(), 3);

        agency
            .client
            .post(&asleep.path("/reactivate"), &json!({}))
            .await
            .assert_status(StatusCode::OK);
        assert_eq!(ids("blocked").await, sorted(vec![&blocked.id, &asleep.id]));
        assert_blocked(
            &asleep.start_call(&json!({ "channel": "phone" })).await,
            "calls",
        );
        block(&agency, &blocked, json!({ "blocked": false }))
            .await
            .assert_status(StatusCode::OK);
        assert_eq!(ids("blocked").await, sorted(vec![&asleep.id]));
        assert_eq!(ids("active").await, sorted(vec![&blocked.id, &open.id]));
        agency
            .client
            .get("/api/v1/tenants?status=suspended")
            .await
            .assert_invalid("status");
    }
);

both!(bad_block_requests_change_nothing, |app| async move {
    let agency = app.agency().create().await;
    let tenant = roomy_tenant(&app, &agency).await;
    let before = agency.client.get(&tenant.path("")).await;
    for (body, field) in [
        (
            json!({ "blocked": true, "blockServices": ["calls", "phones"] }),
            "blockServices[1]",
        ),
        (
            json!({ "blocked": true, "reason": "x".repeat(501) }),
            "reason",
        ),
        (json!({ "blocked": true, "reason": "" }), "reason"),
        (
            json!({ "blocked": true, "blockServices": [] }),
            "blockServices",
        ),
        (json!({ "blockServices": ["calls"] }), "blocked"),
        (json!({ "blocked": "yes" }), "blocked"),
        (
            json!({ "blocked": true, "services": ["calls"] }),
            "services",
        ),
    ] {
        block(&agency, &tenant, body).await.assert_invalid(field);
    }
    let after = agency.client.get(&tenant.path("")).await;
    assert_eq!(after.body, before.body);
    assert_eq!(after.body["block"], Value::Null);
    assert!(trail(&agency, &tenant, "tenant.blocked").await.is_empty());
    tenant.admit("phone").await;
});

both!(only_the_agency_and_the_platform_block, |app| async move {
    let agency = app.agency().create().await;
    let tenant = roomy_tenant(&app, &agency).await;
    let other = app.agency().name("Other").create().await;
    let blocking = json!({ "blocked": true });
    let path = tenant.path("/block");

    tenant
        .client
        .post(&path, &blocking)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    other
        .client
        .post(&path, &blocking)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let technical = app
        .mint_key(
            &json!({ "name": "tech", "agencyId": agency.id, "role": "AgencyTechnicalManager" }),
        )
        .await;
    app.client(&technical)
        .post(&path, &blocking)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let read = agency.client.get(&tenant.path("")).await;
    assert_eq!(read.body["block"], Value::Null);
    assert_eq!(read.body["status"], "active");

    let accounts = app
        .mint_key(
            &json!({ "name": "accounts", "agencyId": agency.id, "role": "AgencyAccountManager" }),
        )
        .await;
    app.client(&accounts)
        .post(
            &path,
            &json!({ "blocked": true, "blockServices": ["calls"] }),
        )
        .await
        .assert_status(StatusCode::OK);
    // The tenant cannot lift it either.
    tenant
        .client
        .post(&path, &json!({ "blocked": false }))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let lifted = app
        .platform()
        .post(&path, &json!({ "blocked": false }))
        .await;
    lifted.assert_status(StatusCode::OK);
    assert_eq!(lifted.body["block"], Value::Null);
});

both!(the_use_case_by_id_holds_the_same_rules, |app| async move {
    use tenantry::domain::access::{Caller, Principal, Scope};
    use tenantry::domain::policy::Role;
    use tenantry::domain::tenant::BlockedService;
    use tenantry::service::lifecycle::{block, BlockRequest};
    use tenantry::service::Error;

    // What a dialect calls: the caller and the tenant's id, no path extractor.
    let agency = app.agency().create().await;
    let tenant = roomy_tenant(&app, &agency).await;
    let other = app.agency().name("Other").create().await;
    let id = tenant.id.parse().unwrap();
    let caller = |role, scope| Caller {
        principal: Principal::MasterKey,
        role,
        scope,
        scopes: None,
    };
    let sip = || BlockRequest {
        blocked: true,
        reason: None,
        services: Some(vec![BlockedService::Sip]),
    };
    let ctx = app.context();
    let own = caller(Role::TenantOwner, Scope::Tenant(id));
    let refused = block(ctx, &own, id, sip()).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let foreign = caller(
        Role::AgencyManager,
        Scope::Agency(other.id.parse().unwrap()),
    );
    let hidden = block(ctx, &foreign, id, sip()).await;
    assert!(
        matches!(hidden, Err(Error::NotFound("tenant"))),
        "{hidden:?}"
    );
    let manager = caller(
        Role::AgencyManager,
        Scope::Agency(agency.id.parse().unwrap()),
    );
    let long = BlockRequest {
        reason: Some("x".repeat(501)),
        ..sip()
    };
    match block(ctx, &manager, id, long).await {
        Err(Error::Invalid(errors)) => assert_eq!(errors[0].field, "reason"),
        other => panic!("expected a bad reason, got {other:?}"),
    }
    let blocked = block(ctx, &manager, id, sip()).await.unwrap();
    let services = blocked.block.expect("a block").services;
    assert_eq!(services, [BlockedService::Sip].into());
    assert_eq!(
        agency.client.get(&tenant.path("")).await.body["status"],
        "blocked"
    );
});

/// What a raced admission got, and when its request was sent.
struct Attempt {
    sent: Instant,
    answer: Answer,
}

/// Admissions sent without pause by many workers while the agency blocks calls: an admission
/// sent after the block answered is refused, every admitted call started before the block,
/// and the tenant's active calls, read as soon as the block answers, are already exactly the
/// calls ever admitted (none committed after it).
async fn block_race(app: &TestApp, urls: &[String], round: usize) {
    const WORKERS: usize = 12;
    const AFTER: usize = 5;
    let agency = app.agency().create().await;
    let clients: Vec<Client> = urls
        .iter()
        .map(|url| app.client_of(url, agency.client.key()))
        .collect();
    let tenant = roomy_tenant(app, &agency).await;
    let calls = tenant.path("/calls");
    let admitted = Arc::new(AtomicUsize::new(0));
    let answered: Arc<Mutex<Option<Instant>>> = Arc::default();
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let (calls, admitted, answered) = (calls.clone(), admitted.clone(), answered.clone());
            tokio::spawn(async move {
                let mut attempts = Vec::new();
                let mut after = 0;
                while after < AFTER {
                    let sent = Instant::now();
                    let answer = client.post(&calls, &json!({ "channel": "phone" })).await;
                    if answer.status == StatusCode::CREATED {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                    if answered.lock().unwrap().is_some_and(|at| sent > at) {
                        after += 1;
                    }
                    attempts.push(Attempt { sent, answer });
                }
                attempts
            })
        })
        .collect();
    while admitted.load(Ordering::SeqCst) < 10 {
        tokio::task::yield_now().await;
    }
    let blocker = &clients[round % clients.len()];
    let blocked = blocker
        .post(
            &tenant.path("/block"),
            &json!({ "blocked": true, "blockServices": ["calls"] }),
        )
        .await;
    *answered.lock().unwrap() = Some(Instant::now());
    blocked.assert_status(StatusCode::OK);
    // Every admission that will ever succeed has committed by now.
    let active_then = tenant.limits().await["activeCalls"].clone();
    let blocked_at: chrono::DateTime<chrono::Utc> = blocked.body["block"]["blockedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let answered = answered.lock().unwrap().unwrap();

    let mut started = Vec::new();
    let mut refused_after = 0;
    for worker in workers {
        for attempt in worker.await.expect("the worker runs") {
            let answer = &attempt.answer;
            if attempt.sent > answered {
                assert_blocked(answer, "calls");
                refused_after += 1;
            } else if answer.status == StatusCode::CREATED {
                started.push(answer.body["startedAt"].as_str().unwrap().to_owned());
            } else {
                assert_blocked(answer, "calls");
            }
        }
    }
    assert_eq!(refused_after, WORKERS * AFTER, "round {round}");
    for at in &started {
        let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
        assert!(
            at <= blocked_at,
            "a call started at {at}, after the block at {blocked_at}"
        );
    }
    assert_eq!(
        active_then,
        started.len(),
        "round {round}: active calls after the block"
    );
    let limits = tenant.limits().await;
    assert_eq!(
        limits["activeCalls"],
        started.len(),
        "round {round}: {limits}"
    );
    let active = agency
        .client
        .walk(&tenant.path("/calls?status=active"))
        .await;
    assert_eq!(active.len(), started.len(), "round {round}");
    assert_blocked(
        &tenant.start_call(&json!({ "channel": "phone" })).await,
        "calls",
    );
}

both!(no_call_is_admitted_once_a_block_answers, |app| async move {
    let urls = vec![app.base_url().to_owned()];
    for round in 0..3 {
        block_race(&app, &urls, round).await;
    }
});

#[tokio::test]
async fn no_call_is_admitted_once_a_block_answers_across_servers_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls: Vec<String> = replicas.urls().into_iter().map(str::to_owned).collect();
    for round in 0..4 {
        block_race(&app, &urls, round).await;
    }
    replicas.kill().await;
    app.finish().await;
}

/// What a raced change is: the objects each worker changes, one request each, and how the
/// changes show in a list of them.
enum Change {
    /// Switching paused agents on, each once.
    SwitchOn,
    /// Renaming SIP trunks, each once.
    Rename,
}

impl Change {
    fn service(&self) -> &'static str {
        match self {
            Change::SwitchOn => "agents",
            Change::Rename => "sip",
        }
    }

    fn list(&self) -> &'static str {
        match self {
            Change::SwitchOn => "/agents",
            Change::Rename => "/sip-trunks",
        }
    }

    /// Makes one object to change; answers its path under the tenant.
    async fn make(&self, tenant: &TenantFixture, n: usize) -> String {
        let (list, body) = match self {
            Change::SwitchOn => (
                "/agents",
                json!({ "name": format!("A{n}"), "status": "inactive" }),
            ),
            Change::Rename => (
                "/sip-trunks",
                json!({ "name": format!("T{n}"), "domain": "sip.carrier.example" }),
            ),
        };
        let made = tenant.client.post(&tenant.path(list), &body).await;
        made.assert_status(StatusCode::CREATED);
        format!("{list}/{}", made.body["id"].as_str().unwrap())
    }

    fn request(&self) -> Value {
        match self {
            Change::SwitchOn => json!({ "status": "active" }),
            Change::Rename => json!({ "name": "renamed" }),
        }
    }

    /// How many objects the change has reached, as a list shows them.
    fn reached(&self, objects: &[Value]) -> usize {
        let (field, value) = match self {
            Change::SwitchOn => ("status", "active"),
            Change::Rename => ("name", "renamed"),
        };
        objects
            .iter()
            .filter(|object| object[field] == value)
            .count()
    }
}

/// Changes to what a tenant has, sent without pause by many workers while the agency blocks
/// the service they belong to: every change sent after the block answered is refused, and
/// what the list shows as soon as the block answers is what it shows at the end (no change
/// committed after the block).
async fn change_race(app: &TestApp, urls: &[String], round: usize, change: Change) {
    const WORKERS: usize = 8;
    const EACH: usize = 12;
    const AFTER: usize = 3;
    let agency = app.agency().create().await;
    let tenant = app
        .tenant()
        .of(&agency)
        .limits(json!({ "maxAgents": 1000, "maxPhoneNumbers": 1000 }))
        .field("settings", json!({ "sipEnabled": true }))
        .create()
        .await;
    let clients: Vec<Client> = urls
        .iter()
        .map(|url| app.client_of(url, tenant.client.key()))
        .collect();
    let mut objects = Vec::new();
    for n in 0..WORKERS * EACH {
        objects.push(tenant.path(&change.make(&tenant, n).await));
    }
    let body = change.request();
    let done = Arc::new(AtomicUsize::new(0));
    let answered: Arc<Mutex<Option<Instant>>> = Arc::default();
    let workers: Vec<_> = objects
        .chunks(EACH)
        .enumerate()
        .map(|(i, mine)| {
            let client = clients[i % clients.len()].clone();
            let (mine, body) = (mine.to_vec(), body.clone());
            let (done, answered) = (done.clone(), answered.clone());
            tokio::spawn(async move {
                let mut attempts = Vec::new();
                let mut after = 0;
                for path in mine {
                    if after == AFTER {
                        break;
                    }
                    let sent = Instant::now();
                    let answer = client.patch(&path, &body).await;
                    if answer.status == StatusCode::OK {
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    if answered.lock().unwrap().is_some_and(|at| sent > at) {
                        after += 1;
                    }
                    attempts.push(Attempt { sent, answer });
                }
                attempts
            })
        })
        .collect();
    while done.load(Ordering::SeqCst) < WORKERS * 2 {
        tokio::task::yield_now().await;
    }
    let service = change.service();
    let blocker = app.client_of(&urls[round % urls.len()], agency.client.key());
    let blocked = blocker
        .post(
            &tenant.path("/block"),
            &json!({ "blocked": true, "blockServices": [service] }),
        )
        .await;
    *answered.lock().unwrap() = Some(Instant::now());
    blocked.assert_status(StatusCode::OK);
    let list = tenant.path(change.list());
    let reached_then = change.reached(&agency.client.walk(&list).await);
    let answered = answered.lock().unwrap().unwrap();

    let mut changed = 0;
    let mut refused_after = 0;
    for worker in workers {
        for attempt in worker.await.expect("the worker runs") {
            let answer = &attempt.answer;
            if attempt.sent > answered {
                assert_blocked(answer, service);
                refused_after += 1;
            } else if answer.status == StatusCode::OK {
                changed += 1;
            } else {
                assert_blocked(answer, service);
            }
        }
    }
    assert!(
        refused_after > 0,
        "round {round}: nothing was sent after the block"
    );
    assert_eq!(
        reached_then, changed,
        "round {round}: {service} changed after the block"
    );
    let reached = change.reached(&agency.client.walk(&list).await);
    assert_eq!(
        reached, changed,
        "round {round}: {service} changed after the block"
    );
}

both!(
    no_agent_is_switched_on_or_trunk_changed_once_a_block_answers,
    |app| async move {
        let urls = vec![app.base_url().to_owned()];
        for round in 0..2 {
            change_race(&app, &urls, round, Change::SwitchOn).await;
            change_race(&app, &urls, round, Change::Rename).await;
        }
    }
);

#[tokio::test]
async fn no_agent_is_switched_on_or_trunk_changed_once_a_block_answers_across_servers() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls: Vec<String> = replicas.urls().into_iter().map(str::to_owned).collect();
    for round in 0..3 {
        change_race(&app, &urls, round, Change::SwitchOn).await;
        change_race(&app, &urls, round, Change::Rename).await;
    }
    replicas.kill().await;
    app.finish().await;
}

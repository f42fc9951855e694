//! Webhook delivery against a real receiver on loopback: Standard Webhooks signatures checked
//! by the receiver's own implementation, retries, give-up, manual retry and replay, disabling
//! of endpoints that keep failing, the SSRF guard, opt-in events, hanging receivers and two
//! replicas sharing the work.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::mail::eventually;
use crate::support::process::{replicas_turn, Served};
use crate::support::receiver::{Receiver, Reply};
use crate::support::{AgencyFixture, Client, Settings, TenantFixture, TestApp};

const ENDPOINTS: &str = "/api/v1/agency/webhook-endpoints";
const DELIVERIES: &str = "/api/v1/webhook-deliveries";

/// Registers an endpoint of `agency` at `url` for `events`; answers its id and secret.
async fn endpoint(agency: &AgencyFixture, url: &str, events: Value) -> (String, String) {
    let created = agency
        .client
        .post(ENDPOINTS, &json!({ "url": url, "events": events }))
        .await;
    created.assert_status(StatusCode::CREATED);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    (created.id(), secret)
}

/// The deliveries of an endpoint, newest first, once `done` holds of them.
async fn deliveries_when(
    client: &Client,
    endpoint: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let path = format!("{DELIVERIES}?endpointId={endpoint}");
    eventually(|| async {
        let listed = client.walk(&path).await;
        done(&listed).then_some(listed)
    })
    .await
}

fn statuses(delivery: &Value) -> Vec<Value> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["statusCode"].clone())
        .collect()
}

async fn tenant_with_hook(app: &TestApp, agency: &AgencyFixture, url: &str) -> TenantFixture {
    app.tenant()
        .of(agency)
        .field("settings", json!({ "webhookUrl": url }))
        .field("owner", json!({ "email": "owner@example.com" }))
        .create()
        .await
}

/// The tenant's own endpoint, and a secret it signs with (rotated to be read).
async fn tenant_endpoint(agency: &AgencyFixture, tenant: &TenantFixture) -> (String, String) {
    let own = agency.client.get(&tenant.path("/webhook-endpoint")).await;
    own.assert_status(StatusCode::OK);
    assert_eq!(own.body["tenantId"], tenant.id.as_str());
    let id = own.id();
    let rotated = agency
        .client
        .post(&format!("{ENDPOINTS}/{id}/rotate-secret"), &json!({}))
        .await;
    rotated.assert_status(StatusCode::OK);
    (id, rotated.body["secret"].as_str().unwrap().to_owned())
}

both!(
    tenants_and_their_agency_get_events_signed_as_standard_webhooks_says,
    Settings::webhooks("50ms,50ms"),
    |app| async move {
        let receiver = Receiver::start().await;
        let agency = app.agency().create().await;
        let (_, agency_secret) = endpoint(&agency, &receiver.at("agency"), json!([])).await;
        let stranger = app.agency().name("Stranger").create().await;
        endpoint(&stranger, &receiver.at("stranger"), json!([])).await;
        let tenant = tenant_with_hook(&app, &agency, &receiver.at("tenant")).await;
        let (_, tenant_secret) = tenant_endpoint(&agency, &tenant).await;
        tenant
            .client
            .patch(&tenant.path(""), &json!({ "name": "Renamed" }))
            .await
            .assert_status(StatusCode::OK);

        // Its own endpoint is made with it, so it hears of its creation too.
        receiver.until_event("/tenant", "tenant.created").await;
        let to_tenant = receiver.until_event("/tenant", "tenant.updated").await;
        let told = &to_tenant[0];
        assert!(told.signed_by(&tenant_secret), "{told:?}");
        // The secret it had before the rotation signs too, for a day.
        assert_eq!(told.signature.split(' ').count(), 2, "{}", told.signature);
        assert!(!told.signed_by(&agency_secret));
        assert!(told.id.starts_with("evt_"), "{}", told.id);
        assert!((Utc::now().timestamp() - told.timestamp).abs() < 300);
        let body = told.json();
        assert_eq!(body["data"]["tenantId"], tenant.id.as_str());
        assert_eq!(body["data"]["changes"]["name"]["after"], "Renamed");

        let created = receiver.until_event("/agency", "tenant.created").await;
        assert!(created[0].signed_by(&agency_secret));
        let updated = receiver.until_event("/agency", "tenant.updated").await;
        assert!(updated[0].signed_by(&agency_secret));
        assert_eq!(
            updated[0].id, told.id,
            "one event, one webhook-id everywhere"
        );
        assert!(!updated[0].signed_by("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));

        // A tampered body no longer verifies.
        let mut tampered = updated[0].clone();
        tampered.body = tampered.body.slice(1..);
        assert!(!tampered.signed_by(&agency_secret));
        // Another agency hears nothing of this tenant.
        assert!(receiver
            .received()
            .iter()
            .all(|r| !r.path.ends_with("/stranger")));
    }
);

both!(
    failed_attempts_are_retried_and_listed_with_status_latency_and_the_first_kib,
    Settings::webhooks("50ms,50ms,50ms"),
    |app| async move {
        let receiver = Receiver::start().await;
        receiver.script([
            Reply::Status(500, "x".repeat(2000)),
            Reply::Status(503, "busy".to_owned()),
        ]);
        let agency = app.agency().create().await;
        let (id, _) = endpoint(&agency, &receiver.url, json!(["tenant.created"])).await;
        app.tenant().of(&agency).create().await;

        let listed = deliveries_when(&agency.client, &id, |all| {
            all.len() == 1 && all[0]["status"] == "delivered"
        })
        .await;
        let delivery = &listed[0];
        assert_eq!(delivery["eventType"], "tenant.created");
        assert_eq!(statuses(delivery), [json!(500), json!(503), json!(200)]);
        let attempts = delivery["attempts"].as_array().unwrap();
        assert_eq!(attempts[0]["response"].as_str().unwrap().len(), 1024);
        assert_eq!(attempts[0]["error"], "status 500");
        assert_eq!(attempts[1]["response"], "busy");
        assert_eq!(attempts[2]["error"], Value::Null);
        assert!(attempts
            .iter()
            .all(|a| a["latencyMs"].as_i64().unwrap() >= 0));
        assert_eq!(
            attempts
                .iter()
                .map(|a| a["attempt"].clone())
                .collect::<Vec<_>>(),
            [json!(1), json!(2), json!(3)]
        );
        // Every attempt carried the same webhook-id.
        let received = receiver.received();
        assert_eq!(received.len(), 3);
        assert!(received.iter().all(|r| r.id == delivery["eventId"]));

        // One delivery reads the same alone; the filters narrow the list.
        let one = agency
            .client
            .get(&format!(
                "{DELIVERIES}/{}",
                delivery["id"].as_str().unwrap()
            ))
            .await;
        one.assert_status(StatusCode::OK);
        assert_eq!(one.body["attempts"], delivery["attempts"]);
        let failed = agency
            .client
            .walk(&format!("{DELIVERIES}?endpointId={id}&status=failed"))
            .await;
        assert!(failed.is_empty());
        agency
            .client
            .get(&format!("{DELIVERIES}?eventType=nope"))
            .await
            .assert_invalid("eventType");
    }
);

both!(
    a_delivery_given_up_can_be_retried_by_hand_and_replayed,
    Settings::webhooks("20ms,20ms"),
    |app| async move {
        let since = Utc::now() - chrono::Duration::seconds(1);
        let receiver = Receiver::start().await;
        receiver.otherwise(Reply::Status(500, "down".to_owned()));
        let agency = app.agency().create().await;
        let (id, _) = endpoint(&agency, &receiver.url, json!(["tenant.created"])).await;
        app.tenant().of(&agency).create().await;
        let listed = deliveries_when(&agency.client, &id, |all| {
            all.len() == 1 && all[0]["status"] == "failed"
        })
        .await;
        assert_eq!(statuses(&listed[0]), [json!(500), json!(500), json!(500)]);
        assert_eq!(listed[0]["nextAttemptAt"], Value::Null);

        receiver.otherwise(Reply::Status(204, String::new()));
        let delivery = listed[0]["id"].as_str().unwrap();
        let retried = agency
            .client
            .post(&format!("{DELIVERIES}/{delivery}/retry"), &json!({}))
            .await;
        retried.assert_status(StatusCode::ACCEPTED);
        deliveries_when(&agency.client, &id, |all| all[0]["status"] == "delivered").await;

        let replayed = agency
            .client
            .post(
                &format!(
                    "{ENDPOINTS}/{id}/replay?since={}",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                &json!({}),
            )
            .await;
        replayed.assert_status(StatusCode::ACCEPTED);
        assert_eq!(replayed.body["replayed"], 1);
        let event = listed[0]["eventId"].as_str().unwrap().to_owned();
        // Three failures, the retry, and the replay: all with the event's id.
        let received = receiver.until(|all| all.len() == 5).await;
        assert!(received.iter().all(|r| r.id == event));

        // Bad input names the field; an unknown delivery is not found.
        agency
            .client
            .post(
                &format!("{ENDPOINTS}/{id}/replay?since=yesterday"),
                &json!({}),
            )
            .await
            .assert_invalid("since");
        agency
            .client
            .post(
                &format!("{DELIVERIES}/whd_00000000000000000000000000/retry"),
                &json!({}),
            )
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        let stranger = app.agency().name("Stranger").create().await;
        stranger
            .client
            .post(&format!("{DELIVERIES}/{delivery}/retry"), &json!({}))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
);

both!(
    an_endpoint_that_keeps_failing_is_disabled_and_its_owner_mailed,
    Settings::webhooks("20ms").webhook_worker(|worker| {
        worker.disable_after = chrono::Duration::zero();
    }),
    |app| async move {
        let receiver = Receiver::start().await;
        receiver.otherwise(Reply::Status(500, "down".to_owned()));
        let agency = app.agency().create().await;
        let tenant = tenant_with_hook(&app, &agency, &receiver.url).await;
        let rename = |name: &'static str| {
            let tenant = &tenant;
            async move {
                tenant
                    .client
                    .patch(&tenant.path(""), &json!({ "name": name }))
                    .await
                    .assert_status(StatusCode::OK);
            }
        };
        rename("First").await;
        let own = tenant.path("/webhook-endpoint");
        eventually(|| async {
            let read = agency.client.get(&own).await;
            (read.body["enabled"] == false).then_some(())
        })
        .await;
        let mailed: (i64,) = app
            .context()
            .db
            .reader()
            .fetch_one(
                tenantry::store::query(
                    "SELECT COUNT(*) FROM email_outbox WHERE recipient = $1 AND subject = $2",
                )
                .bind("owner@example.com")
                .bind("A webhook endpoint was disabled"),
            )
            .await
            .unwrap();
        assert_eq!(mailed.0, 1);
        let trail = agency
            .client
            .walk(&format!(
                "{}?action=webhook_endpoint.disabled",
                tenant.path("/audit-log")
            ))
            .await;
        assert_eq!(trail.len(), 1, "{trail:?}");
        assert_eq!(trail[0]["actor"]["type"], "system");

        // Disabled, it gets nothing more; a new URL enables it again.
        let heard = receiver.received().len();
        rename("Second").await;
        receiver.reply_at("/again", Reply::Status(200, "ok".to_owned()));
        tenant
            .client
            .patch(
                &tenant.path(""),
                &json!({ "settings": { "webhookUrl": receiver.at("again") } }),
            )
            .await
            .assert_status(StatusCode::OK);
        let read = agency.client.get(&own).await;
        assert_eq!(read.body["enabled"], true);
        rename("Third").await;
        receiver.until_event("/again", "tenant.updated").await;
        let before_again = receiver
            .received()
            .iter()
            .filter(|r| !r.path.ends_with("/again"))
            .count();
        assert_eq!(before_again, heard, "a disabled endpoint got a request");
    }
);

both!(
    a_private_destination_is_refused_without_the_flag,
    Settings::webhooks("20ms").webhook_worker(|worker| worker.allow_private = false),
    |app| async move {
        let receiver = Receiver::start().await;
        let agency = app.agency().create().await;
        let (id, _) = endpoint(&agency, &receiver.url, json!(["tenant.created"])).await;
        app.tenant().of(&agency).create().await;
        let listed = deliveries_when(&agency.client, &id, |all| {
            all.len() == 1 && all[0]["status"] == "failed"
        })
        .await;
        let error = listed[0]["attempts"][0]["error"].as_str().unwrap();
        assert!(
            error.contains("refused destination (private_address)"),
            "{error}"
        );
        assert!(receiver.received().is_empty());
    }
);

both!(
    call_ended_goes_only_to_endpoints_naming_it_and_a_purge_is_told,
    Settings::webhooks("50ms"),
    |app| async move {
        let receiver = Receiver::start().await;
        let agency = app.agency().create().await;
        endpoint(&agency, &receiver.at("all"), json!([])).await;
        endpoint(&agency, &receiver.at("calls"), json!(["call.ended"])).await;
        let tenant = app.tenant().of(&agency).create().await;
        let call = tenant.admit("phone").await;
        tenant.end(&call, 42, 7, None).await;
        let ended = receiver.until_event("/calls", "call.ended").await;
        let data = &ended[0].json()["data"];
        assert_eq!(data["call"]["id"], call["id"]);
        assert_eq!(data["call"]["durationSeconds"], 42);
        assert_eq!(data["tenantId"], tenant.id.as_str());

        agency
            .client
            .delete(&format!("{}?permanent=true", tenant.path("")))
            .await
            .assert_status(StatusCode::NO_CONTENT);
        let purged = receiver.until_event("/all", "tenant.purged").await;
        assert_eq!(purged[0].json()["data"]["tenantId"], tenant.id.as_str());
        assert!(receiver
            .received()
            .iter()
            .all(|r| !(r.path.ends_with("/all") && r.event_type() == "call.ended")));
        assert!(receiver
            .received()
            .iter()
            .all(|r| !r.path.ends_with("/calls") || r.event_type() == "call.ended"));
    }
);

both!(
    a_hanging_receiver_ties_up_no_more_than_its_own_attempts,
    Settings::webhooks("50ms"),
    |app| async move {
        let receiver = Receiver::start().await;
        receiver.reply_at("/slow", Reply::Hang);
        let agency = app.agency().create().await;
        let (fast, _) = endpoint(&agency, &receiver.at("fast"), json!(["tenant.updated"])).await;
        let tenant = app
            .tenant()
            .of(&agency)
            .field(
                "settings",
                json!({ "webhookUrl": receiver.at("slow"), "webhookTimeoutSeconds": 300 }),
            )
            .create()
            .await;
        for i in 0..40 {
            tenant
                .client
                .patch(&tenant.path(""), &json!({ "name": format!("Name {i}") }))
                .await
                .assert_status(StatusCode::OK);
        }
        // Every one reaches the endpoint that answers, while the other's hang.
        deliveries_when(&agency.client, &fast, |all| {
            all.len() == 40 && all.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        let hanging = receiver
            .received()
            .iter()
            .filter(|r| r.path.ends_with("/slow"))
            .count();
        assert!(hanging <= 32, "{hanging} attempts hang at once");
    }
);

both!(
    two_replicas_attempt_each_delivery_once,
    Settings::webhooks("50ms"),
    |app| async move {
        let replica = app.replica(app.settings()).await;
        let receiver = Receiver::start().await;
        let agency = app.agency().create().await;
        let (id, _) = endpoint(&agency, &receiver.url, json!(["tenant.created"])).await;
        for i in 0..60 {
            app.tenant()
                .of(&agency)
                .name(&format!("Tenant {i}"))
                .create()
                .await;
        }
        let listed = deliveries_when(&agency.client, &id, |all| {
            all.len() == 60 && all.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        // Done in the database, so every attempt has been made: each was made once.
        assert!(listed
            .iter()
            .all(|d| d["attempts"].as_array().unwrap().len() == 1));
        let received = receiver.received();
        let mut ids: Vec<_> = received.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(received.len(), 60);
        assert_eq!(ids.len(), 60);
        replica.stop().await;
    }
);

both!(
    deliveries_pending_at_a_kill_9_are_all_made_after_a_restart,
    |app| async move {
        // The receiver's port is chosen now; it listens only once the server is dead.
        let parked = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = parked.local_addr().unwrap();
        drop(parked);
        let agency = app.agency().create().await;
        let url = format!("http://{address}/hooks");
        let (id, secret) = endpoint(&agency, &url, json!(["tenant.created"])).await;
        let retries = vec!["300ms"; 300].join(",");
        let flags = ["--webhook-retry-schedule", retries.as_str()];
        let _turn = replicas_turn().await;
        let server = Served::start_with(&app, "warn", &flags).await;
        for i in 0..20 {
            app.tenant()
                .of(&agency)
                .name(&format!("Tenant {i}"))
                .create()
                .await;
        }
        // Every delivery was tried and failed; none is lost with the server.
        deliveries_when(&agency.client, &id, |all| {
            all.len() == 20
                && all.iter().all(|d| {
                    d["status"] == "pending" && !d["attempts"].as_array().unwrap().is_empty()
                })
        })
        .await;
        server.kill().await;

        let receiver = Receiver::on(tokio::net::TcpListener::bind(address).await.unwrap()).await;
        let restarted = Served::start_with(&app, "warn", &flags).await;
        let received = receiver
            .until(|all| {
                let mut ids: Vec<_> = all.iter().map(|r| r.id.clone()).collect();
                ids.sort();
                ids.dedup();
                ids.len() == 20
            })
            .await;
        assert!(received.iter().all(|r| r.signed_by(&secret)));
        deliveries_when(&agency.client, &id, |all| {
            all.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        restarted.kill().await;
    }
);

both!(
    both_agencies_of_a_transfer_hear_of_it,
    Settings::webhooks("50ms"),
    |app| async move {
        let receiver = Receiver::start().await;
        let source = app.agency().name("Source").create().await;
        let target = app.agency().name("Target").create().await;
        let bystander = app.agency().name("Bystander").create().await;
        let transfers = json!(["transfer.requested", "transfer.accepted"]);
        endpoint(&source, &receiver.at("source"), transfers.clone()).await;
        endpoint(&target, &receiver.at("target"), transfers.clone()).await;
        endpoint(&bystander, &receiver.at("bystander"), transfers).await;
        let tenant = app.tenant().of(&source).create().await;
        let transfer = source.hand_over(&tenant, &target).await;
        for side in ["/source", "/target"] {
            receiver.until_event(side, "transfer.requested").await;
            let accepted = receiver.until_event(side, "transfer.accepted").await;
            assert_eq!(
                accepted[0].json()["data"]["object"]["id"],
                transfer.as_str()
            );
        }
        assert!(receiver
            .received()
            .iter()
            .all(|r| !r.path.ends_with("/bystander")));
    }
);

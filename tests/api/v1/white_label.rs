//! White-label: an agency's branding (and the platform's default) set and read back, a
//! tenant's own laid over them, every bad field named with nothing changed; custom domains
//! registered, verified by a real DNS lookup on loopback, held by one agency only (also when
//! two ask at once) until removed or left unverified too long, and found by host before anyone
//! signs in; outsiders see nothing.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantry::domain::access::TenantScope;
use tenantry::domain::ids::TenantId;

use crate::both;
use crate::support::dns::{self, unique_name};
use crate::support::process::Replicas;
use crate::support::races::all_at_once;
use crate::support::{AgencyFixture, Client, TestApp, CNAME_TARGET};

const BRANDING: &str = "/api/v1/agency/white-label/branding";
const DOMAIN: &str = "/api/v1/agency/white-label/domain";
const VERIFY: &str = "/api/v1/agency/white-label/domain/verify";

/// Every field of a record, set.
fn full_record() -> Value {
    json!({
        "companyName": "Northwind Voice",
        "companyUrl": "https://northwind.example",
        "logoUrl": "https://cdn.northwind.example/logo.svg",
        "logomarkUrl": "https://cdn.northwind.example/mark.svg",
        "faviconUrl": "https://cdn.northwind.example/favicon.ico",
        "fontFamily": "Inter",
        "demoDomain": "demos.northwind.example",
        "calendarLink": "https://cal.northwind.example/book",
        "slackLink": "https://northwind.slack.com",
        "linkedinLink": "https://www.linkedin.com/company/northwind",
        "email": "help@northwind.example",
        "phone": "+1 (555) 010-0100",
        "colors": {
            "primary": "#0ea5e9",
            "primaryForeground": "#fff",
            "secondary": "#111827",
            "accent": "#f59e0b",
            "background": "#ffffffcc",
            "foreground": "#000"
        }
    })
}

/// A record with only `fields` set, as every answer shows it: each field present.
fn record(fields: Value) -> Value {
    let mut shown = json!({
        "companyName": null, "companyUrl": null, "logoUrl": null, "logomarkUrl": null,
        "faviconUrl": null, "fontFamily": null, "demoDomain": null, "calendarLink": null,
        "slackLink": null, "linkedinLink": null, "email": null, "phone": null,
        "colors": { "primary": null, "primaryForeground": null, "secondary": null,
                    "accent": null, "background": null, "foreground": null }
    });
    for (name, value) in fields.as_object().unwrap() {
        if name == "colors" {
            for (color, value) in value.as_object().unwrap() {
                shown["colors"][color] = value.clone();
            }
        } else {
            shown[name] = value.clone();
        }
    }
    shown
}

/// The actions of the trail entries `client` reads about `target_id`.
async fn trail(client: &Client, target_id: &str) -> Vec<String> {
    let mut actions: Vec<String> = client
        .walk("/api/v1/audit-log")
        .await
        .iter()
        .filter(|entry| entry["target"]["id"] == target_id)
        .map(|entry| entry["action"].as_str().unwrap().to_owned())
        .collect();
    actions.reverse();
    actions
}

both!(
    an_agency_sets_reads_and_replaces_its_branding,
    |app| async move {
        let agency = app.agency().create().await;
        let empty = agency.client.get(BRANDING).await;
        empty.assert_status(StatusCode::OK);
        assert_eq!(empty.body, record(json!({})));

        let set = agency.client.put(BRANDING, &full_record()).await;
        set.assert_status(StatusCode::OK);
        assert_eq!(set.body, full_record());
        assert_eq!(agency.client.get(BRANDING).await.body, full_record());
        // What a GET answers can be sent back as it is, and changes nothing.
        let read = agency.client.get(BRANDING).await.body;
        agency
            .client
            .put(BRANDING, &read)
            .await
            .assert_status(StatusCode::OK);

        // A PUT replaces the record: what it leaves out is unset.
        let partial = json!({ "companyName": "Northwind", "colors": { "accent": "#abc" } });
        let replaced = agency.client.put(BRANDING, &partial).await;
        replaced.assert_status(StatusCode::OK);
        assert_eq!(replaced.body, record(partial.clone()));
        assert_eq!(agency.client.get(BRANDING).await.body, record(partial));
        // The platform reads the agency's record by naming it.
        let named = format!("{BRANDING}?agencyId={}", agency.id);
        assert_eq!(
            app.platform().get(&named).await.body["companyName"],
            "Northwind"
        );

        // Each change is in the agency's trail (the unchanged one is not).
        let actions = trail(&agency.client, &agency.id).await;
        // The record's target is its agency: the agency's creation comes first.
        assert_eq!(
            actions,
            ["agency.created", "branding.updated", "branding.updated"]
        );
        let entries = agency
            .client
            .walk("/api/v1/audit-log?action=branding.updated")
            .await;
        let last = &entries[0]["changes"];
        assert_eq!(last["companyName"]["before"], "Northwind Voice");
        assert_eq!(last["companyName"]["after"], "Northwind");
        assert_eq!(last["logoUrl"]["after"], Value::Null);
    }
);

/// Sends each of `bad` (a record and the field it gets wrong) to `path` and checks that each
/// is a 422 naming that field, and that the record stays `kept`.
async fn refused_each(client: &Client, path: &str, bad: &[(Value, &str)], kept: &Value) {
    for (body, field) in bad {
        let answer = client.put(path, body).await;
        answer.assert_invalid(field);
        assert_eq!(client.get(path).await.body, *kept, "after {body}");
    }
}

fn bad_records() -> Vec<(Value, &'static str)> {
    vec![
        (json!({ "colors": { "primary": "red" } }), "colors.primary"),
        (json!({ "colors": { "accent": "#12345" } }), "colors.accent"),
        (
            json!({ "colors": { "background": "0ea5e9" } }),
            "colors.background",
        ),
        (
            json!({ "logoUrl": "http://cdn.example.com/logo.svg" }),
            "logoUrl",
        ),
        (json!({ "faviconUrl": "javascript:alert(1)" }), "faviconUrl"),
        (json!({ "companyUrl": "ftp://example.com" }), "companyUrl"),
        (json!({ "slackLink": "slack.com/x" }), "slackLink"),
        (json!({ "email": "not an address" }), "email"),
        (json!({ "companyName": "x".repeat(256) }), "companyName"),
        (json!({ "companyName": "" }), "companyName"),
        (json!({ "fontFamily": "Inter; color: red" }), "fontFamily"),
        (json!({ "demoDomain": "Demos.Example.com" }), "demoDomain"),
        (json!({ "phone": "call me" }), "phone"),
        (json!({ "companyName": 5 }), "companyName"),
        (json!({ "logo": "https://cdn.example.com/l.svg" }), "logo"),
        (json!({ "colors": { "tint": "#fff" } }), "colors.tint"),
    ]
}

both!(
    each_bad_field_is_named_and_changes_nothing,
    |app| async move {
        let agency = app.agency().create().await;
        agency
            .client
            .put(BRANDING, &full_record())
            .await
            .assert_status(StatusCode::OK);
        refused_each(&agency.client, BRANDING, &bad_records(), &full_record()).await;
        // Every bad field at once is named at once.
        let answer = agency
            .client
            .put(
                BRANDING,
                &json!({ "logoUrl": "http://x.example", "colors": { "primary": "blue" } }),
            )
            .await;
        answer
            .assert_invalid("logoUrl")
            .assert_invalid("colors.primary");

        let tenant = app.tenant().of(&agency).create().await;
        let path = tenant.path("/branding");
        let own = json!({ "companyName": "Acme" });
        tenant
            .client
            .put(&path, &own)
            .await
            .assert_status(StatusCode::OK);
        let kept = tenant.client.get(&path).await.body;
        assert_eq!(kept["override"], record(own));
        refused_each(&tenant.client, &path, &bad_records(), &kept).await;
    }
);

both!(
    a_tenant_shows_its_own_over_its_agencys_over_the_platforms,
    |app| async move {
        let platform = app.platform();
        let default = json!({
            "companyName": "Platform",
            "email": "help@platform.example",
            "colors": { "primary": "#111" }
        });
        platform
            .put(BRANDING, &default)
            .await
            .assert_status(StatusCode::OK);
        assert_eq!(platform.get(BRANDING).await.body, record(default.clone()));
        let agency = app.agency().create().await;
        let agency_record = json!({ "companyName": "Agency", "colors": { "accent": "#222" } });
        agency
            .client
            .put(BRANDING, &agency_record)
            .await
            .assert_status(StatusCode::OK);
        // The agency's own record is what it set, not what it shows.
        assert_eq!(
            agency.client.get(BRANDING).await.body,
            record(agency_record)
        );
        let tenant = app.tenant().of(&agency).create().await;
        let path = tenant.path("/branding");
        let before = tenant.client.get(&path).await;
        before.assert_status(StatusCode::OK);
        assert_eq!(before.body["override"], record(json!({})));
        assert_eq!(
            before.body["effective"],
            record(json!({
                "companyName": "Agency",
                "email": "help@platform.example",
                "colors": { "primary": "#111", "accent": "#222" }
            }))
        );

        let own = json!({ "phone": "+1 555 0100", "colors": { "accent": "#333" } });
        let set = tenant.client.put(&path, &own).await;
        set.assert_status(StatusCode::OK);
        let effective = record(json!({
            "companyName": "Agency",
            "email": "help@platform.example",
            "phone": "+1 555 0100",
            "colors": { "primary": "#111", "accent": "#333" }
        }));
        assert_eq!(
            set.body,
            json!({ "override": record(own), "effective": effective })
        );
        assert_eq!(agency.client.get(&path).await.body, set.body);

        // The tenant's profile carries what the tenant shows, and Trieve's view of it.
        let id: TenantId = tenant.id.parse().unwrap();
        let read = tenantry::store::tenants::find_profile(app.db().store(), TenantScope::ALL, id)
            .await
            .expect("the tenant");
        assert_eq!(read.id, id);
        assert_eq!(read.branding.company_name.as_deref(), Some("Agency"));
        assert_eq!(read.branding.colors.accent.as_deref(), Some("#333"));
        let partner = read.branding.partner_configuration();
        assert_eq!(partner["COMPANY_NAME"], "Agency");
        assert_eq!(partner["EMAIL"], "help@platform.example");
        assert_eq!(partner["PHONE"], "+1 555 0100");
        assert_eq!(partner["COMPANY_URL"], "https://trieve.ai");
        // Cleared, it shows its agency's again; a direct tenant shows the platform's.
        tenant
            .client
            .put(&path, &json!({}))
            .await
            .assert_status(StatusCode::OK);
        assert_eq!(tenant.client.get(&path).await.body, before.body);
        let direct = app.tenant().name("Direct").create().await;
        let shown = direct.client.get(&direct.path("/branding")).await;
        assert_eq!(shown.body["effective"], record(default));
        let trail = trail(&tenant.client, &tenant.id).await;
        assert_eq!(
            trail,
            ["tenant.created", "branding.updated", "branding.updated"]
        );
    }
);

/// Registers a fresh domain for `agency`; answers its name.
async fn registered(agency: &AgencyFixture, label: &str) -> String {
    let domain = unique_name(label);
    let answer = agency
        .client
        .post(
            DOMAIN,
            &json!({ "domain": domain, "verificationMethod": "cname" }),
        )
        .await;
    answer.assert_status(StatusCode::CREATED);
    domain
}

both!(
    a_domain_is_verified_when_its_cname_points_at_the_target,
    |app| async move {
        let agency = app.agency().create().await;
        agency
            .client
            .put(BRANDING, &json!({ "companyName": "Northwind" }))
            .await
            .assert_status(StatusCode::OK);
        app.platform()
            .put(BRANDING, &json!({ "colors": { "primary": "#111" } }))
            .await
            .assert_status(StatusCode::OK);
        let domain = unique_name("app");
        let created = agency
            .client
            .post(
                DOMAIN,
                &json!({ "domain": domain, "verificationMethod": "cname" }),
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        let body = &created.body;
        assert_eq!(body["domain"], domain.as_str());
        assert_eq!(body["status"], "pending_verification");
        assert_eq!(body["cnameTarget"], CNAME_TARGET);
        assert_eq!(body["sslStatus"], "pending");
        assert_eq!(body["verifiedAt"], Value::Null);
        let token = body["verificationToken"].as_str().unwrap();
        assert!(
            token.starts_with("vsnp-verify-") && token.len() > 20,
            "{token}"
        );
        assert_eq!(agency.client.get(DOMAIN).await.body, created.body);
        let lookup = format!("/api/v1/white-label/lookup?host={domain}");
        let anonymous = app.anonymous();
        anonymous
            .get(&lookup)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");

        // No record yet, then one pointing elsewhere: it stays pending, saying why.
        let checked = agency.client.post(VERIFY, &json!({})).await;
        checked.assert_status(StatusCode::OK);
        assert_eq!(checked.body["status"], "pending_verification");
        let why = checked.body["lastCheckError"].as_str().unwrap();
        assert!(why.starts_with("no CNAME record found"), "{why}");
        assert!(checked.body["lastCheckedAt"].is_string());
        dns::shared().set_cname(&domain, "elsewhere.example.com");
        let wrong = agency.client.post(VERIFY, &json!({})).await;
        assert_eq!(wrong.body["status"], "pending_verification");
        assert_eq!(
            wrong.body["lastCheckError"],
            format!("the CNAME points at elsewhere.example.com, not at {CNAME_TARGET}")
        );
        assert_eq!(wrong.body["verifiedAt"], Value::Null);
        anonymous
            .get(&lookup)
            .await
            .assert_status(StatusCode::NOT_FOUND);

        // Pointed at the target, it verifies.
        dns::shared().set_cname(&domain, CNAME_TARGET);
        let verified = agency.client.post(VERIFY, &json!({})).await;
        verified.assert_status(StatusCode::OK);
        assert_eq!(verified.body["status"], "active");
        assert_eq!(verified.body["sslStatus"], "active");
        assert_eq!(verified.body["lastCheckError"], Value::Null);
        assert!(verified.body["verifiedAt"].is_string(), "{}", verified.text);
        assert_eq!(verified.body["verificationToken"], token);
        assert_eq!(agency.client.get(DOMAIN).await.body, verified.body);

        // A console on the domain finds the agency before anyone signs in, whatever the
        // case or port of its Host.
        let host = format!("{}:8443", domain.to_uppercase());
        let found = anonymous
            .get(&format!("/api/v1/white-label/lookup?host={host}"))
            .await;
        found.assert_status(StatusCode::OK);
        assert_eq!(found.body["agencyId"], agency.id.as_str());
        assert_eq!(
            found.body["branding"],
            record(json!({ "companyName": "Northwind", "colors": { "primary": "#111" } }))
        );
        for unknown in ["nobody.example.com", "127.0.0.1", ""] {
            let path = format!("/api/v1/white-label/lookup?host={unknown}");
            anonymous
                .get(&path)
                .await
                .assert_status(StatusCode::NOT_FOUND);
        }
        assert_eq!(
            trail(&agency.client, &domain).await,
            ["custom_domain.registered", "custom_domain.verified"]
        );
    }
);

both!(
    the_background_check_verifies_pending_domains,
    |app| async move {
        let agency = app.agency().create().await;
        let domain = registered(&agency, "console").await;
        let other = app.agency().name("Other").create().await;
        let elsewhere = registered(&other, "console").await;
        dns::shared().set_cname(&domain, CNAME_TARGET);
        dns::shared().set_cname(&elsewhere, "wrong.example.com");
        let at = chrono::Utc::now() + chrono::Duration::seconds(1);
        let verified = tenantry::service::custom_domains::check_due(app.context(), at)
            .await
            .expect("a pass");
        assert_eq!(verified, 1);
        let read = agency.client.get(DOMAIN).await;
        assert_eq!(read.body["status"], "active");
        assert!(read.body["verifiedAt"].is_string());
        let pending = other.client.get(DOMAIN).await;
        assert_eq!(pending.body["status"], "pending_verification");
        assert!(pending.body["lastCheckError"].is_string());
        // Looked up again only once its wait is over.
        dns::shared().set_cname(&elsewhere, CNAME_TARGET);
        let again = tenantry::service::custom_domains::check_due(app.context(), at)
            .await
            .unwrap();
        assert_eq!(again, 0);
        let later = at + tenantry::service::custom_domains::RECHECK_EVERY;
        let then = tenantry::service::custom_domains::check_due(app.context(), later)
            .await
            .unwrap();
        assert_eq!(then, 1);
        assert_eq!(other.client.get(DOMAIN).await.body["status"], "active");
    }
);

both!(a_domain_belongs_to_one_agency, |app| async move {
    let first = app.agency().name("First").create().await;
    let second = app.agency().name("Second").create().await;
    let domain = registered(&first, "app").await;
    let token = first.client.get(DOMAIN).await.body["verificationToken"].clone();
    let claim = json!({ "domain": domain, "verificationMethod": "cname" });
    let taken = second.client.post(DOMAIN, &claim).await;
    taken.assert_problem(StatusCode::CONFLICT, "domain_taken");
    assert_eq!(taken.body["errors"][0]["field"], "domain");
    second
        .client
        .get(DOMAIN)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    // The holder asking again gets it as it stands.
    let again = first.client.post(DOMAIN, &claim).await;
    again.assert_status(StatusCode::CREATED);
    assert_eq!(again.body["verificationToken"], token);
    // A verified domain is held too.
    dns::shared().set_cname(&domain, CNAME_TARGET);
    first.client.post(VERIFY, &json!({})).await;
    second
        .client
        .post(DOMAIN, &claim)
        .await
        .assert_status(StatusCode::CONFLICT);
    // Once its holder moves to another domain, it is free.
    let moved = registered(&first, "new").await;
    assert_eq!(
        first.client.get(DOMAIN).await.body["domain"],
        moved.as_str()
    );
    assert_eq!(
        first.client.get(DOMAIN).await.body["status"],
        "pending_verification"
    );
    let claimed = second.client.post(DOMAIN, &claim).await;
    claimed.assert_status(StatusCode::CREATED);
    assert_eq!(claimed.body["status"], "pending_verification");
    let lookup = format!("/api/v1/white-label/lookup?host={domain}");
    app.anonymous()
        .get(&lookup)
        .await
        .assert_status(StatusCode::NOT_FOUND);
});

both!(removing_a_domain_frees_it, |app| async move {
    let first = app.agency().name("First").create().await;
    let second = app.agency().name("Second").create().await;
    let domain = registered(&first, "app").await;
    dns::shared().set_cname(&domain, CNAME_TARGET);
    first.client.post(VERIFY, &json!({})).await;
    let lookup = format!("/api/v1/white-label/lookup?host={domain}");
    app.anonymous()
        .get(&lookup)
        .await
        .assert_status(StatusCode::OK);

    let removed = first.client.delete(DOMAIN).await;
    removed.assert_status(StatusCode::NO_CONTENT);
    assert_eq!(removed.text, "");
    first
        .client
        .get(DOMAIN)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.anonymous()
        .get(&lookup)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    first
        .client
        .delete(DOMAIN)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        trail(&first.client, &domain).await,
        [
            "custom_domain.registered",
            "custom_domain.verified",
            "custom_domain.removed"
        ]
    );

    // Free again: another agency registers it; the platform removes an agency's by name.
    let claim = json!({ "domain": domain, "verificationMethod": "cname" });
    let claimed = second.client.post(DOMAIN, &claim).await;
    claimed.assert_status(StatusCode::CREATED);
    assert_eq!(claimed.body["status"], "pending_verification");
    app.platform()
        .delete(DOMAIN)
        .await
        .assert_invalid("agencyId");
    let named = format!("{DOMAIN}?agencyId={}", second.id);
    app.platform()
        .delete(&named)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    second
        .client
        .get(DOMAIN)
        .await
        .assert_status(StatusCode::NOT_FOUND);
});

/// Moves the claim on `domain` back to when its hold has lapsed.
async fn lapse_claim(app: &TestApp, domain: &str) {
    let long_ago = chrono::Utc::now()
        - tenantry::domain::custom_domain::PENDING_CLAIM_HOLDS
        - chrono::Duration::minutes(1);
    let statement = "UPDATE custom_domains SET created_at = $2 WHERE domain = $1";
    let aged = tenantry::store::query(statement)
        .bind(domain.to_owned())
        .bind(long_ago);
    app.db().write(aged).await.unwrap();
}

both!(
    a_claim_left_unverified_lapses_to_the_next_agency,
    |app| async move {
        let squatter = app.agency().name("Squatter").create().await;
        let owner = app.agency().name("Owner").create().await;
        let domain = registered(&squatter, "app").await;
        let claim = json!({ "domain": domain, "verificationMethod": "cname" });
        lapse_claim(&app, &domain).await;
        // Its holder may still verify it; nobody else is kept waiting.
        let taken = owner.client.post(DOMAIN, &claim).await;
        taken.assert_status(StatusCode::CREATED);
        assert_eq!(taken.body["agencyId"], owner.id.as_str());
        assert_eq!(taken.body["status"], "pending_verification");
        squatter
            .client
            .get(DOMAIN)
            .await
            .assert_status(StatusCode::NOT_FOUND);
        assert_eq!(
            trail(&squatter.client, &domain).await,
            ["custom_domain.registered", "custom_domain.released"]
        );
        assert_eq!(
            trail(&owner.client, &domain).await,
            ["custom_domain.registered"]
        );
        // The new claim holds the domain afresh; a verified one never lapses.
        squatter
            .client
            .post(DOMAIN, &claim)
            .await
            .assert_problem(StatusCode::CONFLICT, "domain_taken");
        dns::shared().set_cname(&domain, CNAME_TARGET);
        let verified = owner.client.post(VERIFY, &json!({})).await;
        assert_eq!(verified.body["status"], "active");
        lapse_claim(&app, &domain).await;
        squatter
            .client
            .post(DOMAIN, &claim)
            .await
            .assert_problem(StatusCode::CONFLICT, "domain_taken");
        assert_eq!(owner.client.get(DOMAIN).await.body["status"], "active");
    }
);

/// Two agencies claim one domain with several requests each, at once, on every server of
/// `urls`: exactly one agency holds it, every one of its requests succeeds and every one of
/// the other's is a `409`. With `lapsed`, a third agency's lapsed claim held the domain
/// before: it is gone whoever wins.
async fn claim_race(app: &TestApp, urls: &[String], round: usize, lapsed: bool) {
    let first = app.agency().name(&format!("First {round}")).create().await;
    let second = app.agency().name(&format!("Second {round}")).create().await;
    let clients: Vec<Client> = urls
        .iter()
        .flat_map(|url| [&first, &second].map(|agency| app.client_of(url, agency.client.key())))
        .collect();
    let domain = unique_name("race");
    let claim = json!({ "domain": domain, "verificationMethod": "cname" });
    let holder = match lapsed {
        true => {
            let holder = app.agency().name(&format!("Lapsed {round}")).create().await;
            let held = holder.client.post(DOMAIN, &claim).await;
            held.assert_status(StatusCode::CREATED);
            lapse_claim(app, &domain).await;
            Some(holder)
        }
        false => None,
    };
    let requests = (0..4 * clients.len())
        .map(|_| (Method::POST, DOMAIN.to_owned(), claim.clone()))
        .collect();
    let answers = all_at_once(&clients, requests).await;
    let agency_of = |i: usize| if i.is_multiple_of(2) { &first } else { &second };
    let winners: std::collections::BTreeSet<&str> = answers
        .iter()
        .enumerate()
        .filter(|(_, answer)| answer.status == StatusCode::CREATED)
        .map(|(i, _)| agency_of(i).id.as_str())
        .collect();
    assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
    for (i, answer) in answers.iter().enumerate() {
        if winners.contains(agency_of(i).id.as_str()) {
            answer.assert_status(StatusCode::CREATED);
            assert_eq!(answer.body["domain"], domain.as_str());
        } else {
            answer.assert_problem(StatusCode::CONFLICT, "domain_taken");
        }
    }
    for agency in [&first, &second] {
        let held = agency.client.get(DOMAIN).await;
        let holds = held.status == StatusCode::OK && held.body["domain"] == domain.as_str();
        assert_eq!(holds, winners.contains(agency.id.as_str()), "{}", held.text);
    }
    if let Some(holder) = holder {
        let held = holder.client.get(DOMAIN).await;
        held.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let released = trail(&holder.client, &domain).await;
        assert_eq!(
            released,
            ["custom_domain.registered", "custom_domain.released"]
        );
    }
}

both!(
    two_agencies_claiming_one_domain_at_once_leave_one_holder,
    |app| async move {
        let urls = vec![app.base_url().to_owned()];
        for round in 0..4 {
            claim_race(&app, &urls, round, round % 2 == 1).await;
        }
    }
);

#[tokio::test]
async fn two_agencies_claiming_one_domain_on_three_servers_leave_one_holder() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls: Vec<String> = replicas.urls().into_iter().map(str::to_owned).collect();
    for round in 0..4 {
        claim_race(&app, &urls, round, round % 2 == 1).await;
    }
    replicas.kill().await;
    app.finish().await;
}

both!(
    concurrent_changes_to_one_record_take_turns,
    |app| async move {
        let agency = app.agency().create().await;
        let requests = (0..8)
            .map(|n| {
                let body = json!({ "companyName": format!("Name {n}") });
                (Method::PUT, BRANDING.to_owned(), body)
            })
            .collect();
        for answer in all_at_once(std::slice::from_ref(&agency.client), requests).await {
            answer.assert_status(StatusCode::OK);
        }
        // Each change starts from the one before it: none was made over a stale record.
        let mut entries = agency
            .client
            .walk("/api/v1/audit-log?action=branding.updated")
            .await;
        entries.reverse();
        assert_eq!(entries.len(), 8);
        let mut before = Value::Null;
        for entry in &entries {
            let name = &entry["changes"]["companyName"];
            assert_eq!(name["before"], before, "{entries:?}");
            before = name["after"].clone();
        }
        assert_eq!(
            agency.client.get(BRANDING).await.body["companyName"],
            before
        );
    }
);

both!(
    bad_domain_requests_are_named_and_store_nothing,
    |app| async move {
        let agency = app.agency().create().await;
        let cases = [
            (
                json!({ "domain": "app.example.com", "verificationMethod": "txt" }),
                "verificationMethod",
            ),
            (json!({ "domain": "app.example.com" }), "verificationMethod"),
            (
                json!({ "domain": "App.Example.com", "verificationMethod": "cname" }),
                "domain",
            ),
            (
                json!({ "domain": "localhost", "verificationMethod": "cname" }),
                "domain",
            ),
            (
                json!({ "domain": "10.0.0.1", "verificationMethod": "cname" }),
                "domain",
            ),
            (
                json!({ "domain": format!("{}com", "a.".repeat(130)), "verificationMethod": "cname" }),
                "domain",
            ),
            (
                json!({ "domain": CNAME_TARGET, "verificationMethod": "cname" }),
                "domain",
            ),
            (json!({ "verificationMethod": "cname" }), "domain"),
        ];
        for (body, field) in cases {
            agency
                .client
                .post(DOMAIN, &body)
                .await
                .assert_invalid(field);
        }
        agency
            .client
            .get(DOMAIN)
            .await
            .assert_status(StatusCode::NOT_FOUND);
        // The platform names the agency whose domain it is.
        let claim = json!({ "domain": unique_name("app"), "verificationMethod": "cname" });
        app.platform()
            .post(DOMAIN, &claim)
            .await
            .assert_invalid("agencyId");
        let named = format!("{DOMAIN}?agencyId={}", agency.id);
        app.platform()
            .post(&named, &claim)
            .await
            .assert_status(StatusCode::CREATED);
        assert_eq!(
            agency.client.get(DOMAIN).await.body["domain"],
            claim["domain"]
        );
    }
);

/// A key of `agency` acting in `role`.
async fn role_key(app: &TestApp, agency: &AgencyFixture, role: &str) -> Client {
    let key = app
        .mint_key(&json!({ "name": role, "agencyId": agency.id, "role": role }))
        .await;
    app.client(&key)
}

both!(outsiders_see_nothing_and_roles_decide, |app| async move {
    let owner = app.agency().name("Owner").create().await;
    let outsider = app.agency().name("Outsider").create().await;
    owner
        .client
        .put(BRANDING, &full_record())
        .await
        .assert_status(StatusCode::OK);
    registered(&owner, "app").await;
    let tenant = app.tenant().of(&owner).create().await;
    let tenant_path = tenant.path("/branding");
    let technical = role_key(&app, &owner, "AgencyTechnicalManager").await;
    let account = role_key(&app, &owner, "AgencyAccountManager").await;
    let before = app.db().every_row().await;

    // Another agency naming this one finds nothing, and changes nothing.
    for path in [BRANDING, DOMAIN, VERIFY] {
        let named = format!("{path}?agencyId={}", owner.id);
        let read = outsider.client.get(&named).await;
        if path != VERIFY {
            read.assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        let write = match path {
            BRANDING => outsider.client.put(&named, &json!({})).await,
            _ => {
                let claim = json!({ "domain": unique_name("x"), "verificationMethod": "cname" });
                outsider.client.post(&named, &claim).await
            }
        };
        write.assert_status(StatusCode::NOT_FOUND);
        if path == DOMAIN {
            let removal = outsider.client.delete(&named).await;
            removal.assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
    }
    for answer in [
        outsider.client.get(&tenant_path).await,
        outsider.client.put(&tenant_path, &json!({})).await,
    ] {
        answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    // A tenant has no agency settings; the platform's default is the platform's.
    tenant
        .client
        .get(BRANDING)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    tenant
        .client
        .post(
            DOMAIN,
            &json!({ "domain": unique_name("t"), "verificationMethod": "cname" }),
        )
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let unknown = format!(
        "{BRANDING}?agencyId={}",
        tenantry::domain::ids::AgencyId::generate()
    );
    app.platform()
        .get(&unknown)
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // Technical managers read the agency's settings; account managers set tenants'.
    technical.get(BRANDING).await.assert_status(StatusCode::OK);
    technical.get(DOMAIN).await.assert_status(StatusCode::OK);
    technical
        .get(&tenant_path)
        .await
        .assert_status(StatusCode::OK);
    for answer in [
        technical.put(BRANDING, &json!({})).await,
        technical.post(VERIFY, &json!({})).await,
        technical.delete(DOMAIN).await,
        tenant.client.delete(DOMAIN).await,
        technical.put(&tenant_path, &json!({})).await,
    ] {
        answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    account
        .put(BRANDING, &json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        app.db().every_row().await,
        before,
        "a refused request changed rows"
    );
    account
        .put(&tenant_path, &json!({ "companyName": "Set by account" }))
        .await
        .assert_status(StatusCode::OK);

    // Within a tenant, people who may update it set its branding; the others read it.
    let user = app
        .mint_key(&json!({ "name": "user", "tenantId": tenant.id, "role": "TenantUser" }))
        .await;
    let user = app.client(&user);
    let read = user.get(&tenant_path).await;
    read.assert_status(StatusCode::OK);
    assert_eq!(read.body["override"]["companyName"], "Set by account");
    user.put(&tenant_path, &json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    tenant
        .client
        .put(&tenant_path, &json!({ "companyName": "Set by owner" }))
        .await
        .assert_status(StatusCode::OK);
});

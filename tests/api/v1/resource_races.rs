//! Resources created all at once: `maxPhoneNumbers` and `maxSquads` admit exactly their value,
//! a phone number raced for by two tenants goes to one, and SIP trunks raced against switching
//! `settings.sipEnabled` off never outlive the setting. On one server of either database, and
//! across three `tenantry serve` processes on one PostgreSQL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::process::Replicas;
use crate::support::races::all_at_once;
use crate::support::{Client, TenantFixture, TestApp};

/// Creates sent at once in a limit race.
const RACERS: usize = 40;
/// Rounds of the races whose fault shows in some rounds only.
const ROUNDS: usize = 12;
/// Limit races per kind: a create let in over the limit showed in some races only.
const TRIALS: usize = 4;

/// A kind bounded by a count limit.
#[derive(Debug, Clone, Copy)]
enum Counted {
    PhoneNumbers,
    Squads,
}

impl Counted {
    fn path(self) -> &'static str {
        match self {
            Counted::PhoneNumbers => "/phone-numbers",
            Counted::Squads => "/squads",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Counted::PhoneNumbers => "maxPhoneNumbers",
            Counted::Squads => "maxSquads",
        }
    }

    fn code(self) -> &'static str {
        match self {
            Counted::PhoneNumbers => "phone_number_limit_reached",
            Counted::Squads => "squad_limit_reached",
        }
    }

    fn limit(self) -> i64 {
        match self {
            Counted::PhoneNumbers => 5,
            Counted::Squads => 3,
        }
    }

    /// The `i`th create of a race `race`; phone numbers are unique on the platform, so each
    /// race has numbers of its own.
    fn body(self, race: usize, i: usize) -> Value {
        match self {
            Counted::PhoneNumbers => json!({ "number": format!("+1415{race:03}{i:04}") }),
            Counted::Squads => json!({ "name": format!("Squad {i}") }),
        }
    }
}

/// Races `RACERS` creates of `kind` for a fresh tenant over `servers`, and checks that exactly
/// the limit's worth were created and every other one refused by the limit.
async fn limit_race(app: &TestApp, servers: &[&str], kind: Counted, race: usize) {
    let tenant = app
        .tenant()
        .limits(json!({ kind.key(): kind.limit() }))
        .create()
        .await;
    let clients: Vec<Client> = servers
        .iter()
        .map(|url| app.client_of(url, tenant.client.key()))
        .collect();
    let requests = (0..RACERS)
        .map(|i| {
            (
                reqwest::Method::POST,
                tenant.path(kind.path()),
                kind.body(race, i),
            )
        })
        .collect();
    let answers = all_at_once(&clients, requests).await;
    let mut created = Vec::new();
    for answer in &answers {
        if answer.status == StatusCode::CREATED {
            created.push(answer.id());
        } else {
            answer.assert_limit(
                StatusCode::FORBIDDEN,
                kind.code(),
                kind.key(),
                kind.limit(),
                kind.limit(),
            );
        }
    }
    assert_eq!(created.len() as i64, kind.limit(), "{kind:?}: created");
    let mut listed: Vec<String> = tenant
        .client
        .walk(&tenant.path(kind.path()))
        .await
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    created.sort();
    assert_eq!(listed, created, "{kind:?}: listed");
    let limits = tenant.limits().await;
    let report = &limits["limits"][kind.key()];
    assert_eq!(report["used"], kind.limit(), "{kind:?}: {limits}");
    assert_eq!(report["exceeded"], true, "{kind:?}: {limits}");
}

/// Two tenants ask for one number, ten times each, all at once: exactly one request wins it;
/// every other is told the number is taken.
async fn number_race(app: &TestApp, servers: &[&str], race: usize) {
    let mut tenants = Vec::new();
    for name in ["Left", "Right"] {
        let tenant = app
            .tenant()
            .name(name)
            .limits(json!({ "maxPhoneNumbers": 50 }))
            .create()
            .await;
        tenants.push(tenant);
    }
    let number = format!("+1650{race:03}0000");
    let mut requests = Vec::new();
    let mut clients = Vec::new();
    for (i, server) in servers.iter().cycle().take(20).enumerate() {
        let tenant = &tenants[i % 2];
        clients.push(app.client_of(server, tenant.client.key()));
        let body = json!({ "number": number, "label": format!("attempt {i}") });
        requests.push((reqwest::Method::POST, tenant.path("/phone-numbers"), body));
    }
    // One client per request: request i goes to clients[i].
    let answers = all_at_once(&clients, requests).await;
    let mut winners = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        if answer.status == StatusCode::CREATED {
            winners.push((i % 2, answer.id()));
        } else {
            answer.assert_problem(StatusCode::CONFLICT, "unique_value_taken");
            assert_eq!(answer.fields(), ["number"], "{}", answer.text);
        }
    }
    assert_eq!(winners.len(), 1, "{number}: {winners:?}");
    let (owner, id) = &winners[0];
    for (t, tenant) in tenants.iter().enumerate() {
        let listed = tenant.client.walk(&tenant.path("/phone-numbers")).await;
        if t == *owner {
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0]["id"], id.as_str());
            assert_eq!(listed[0]["number"], number.as_str());
        } else {
            assert!(listed.is_empty(), "{listed:?}");
        }
    }
}

/// The state a SIP race leaves: whether SIP is on, and the tenant's trunks.
async fn sip_state(tenant: &TenantFixture) -> (bool, Vec<String>) {
    let read = tenant.client.get(&tenant.path("")).await;
    read.assert_status(StatusCode::OK);
    let on = read.body["settings"]["sipEnabled"]
        .as_bool()
        .unwrap_or_else(|| panic!("no sipEnabled in {}", read.text));
    let trunks = tenant
        .client
        .walk(&tenant.path("/sip-trunks"))
        .await
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    (on, trunks)
}

/// Trunks created while SIP is switched off, over `rounds` rounds: afterwards SIP is either
/// off with no trunk, or on with every trunk that was created, never off with a trunk.
async fn sip_race(app: &TestApp, servers: &[&str], rounds: usize) {
    let tenant = app
        .tenant()
        .name("Voice")
        .field("settings", json!({ "sipEnabled": true }))
        .create()
        .await;
    let clients: Vec<Client> = servers
        .iter()
        .map(|url| app.client_of(url, tenant.client.key()))
        .collect();
    let mut switched_off = 0;
    for round in 0..rounds {
        let mut requests = vec![(
            reqwest::Method::PATCH,
            tenant.path(""),
            json!({ "settings": { "sipEnabled": false } }),
        )];
        for i in 0..3 {
            let trunk =
                json!({ "name": format!("Trunk {round}.{i}"), "domain": "sip.carrier.example" });
            requests.push((reqwest::Method::POST, tenant.path("/sip-trunks"), trunk));
        }
        let answers = all_at_once(&clients, requests).await;
        let mut created: Vec<String> = Vec::new();
        for answer in &answers[1..] {
            if answer.status == StatusCode::CREATED {
                created.push(answer.id());
            } else {
                answer.assert_problem(StatusCode::CONFLICT, "setting_required");
            }
        }
        let (on, mut trunks) = sip_state(&tenant).await;
        assert!(
            on || trunks.is_empty(),
            "round {round}: SIP is off with trunks {trunks:?}"
        );
        let switch = &answers[0];
        if switch.status == StatusCode::OK {
            switched_off += 1;
            assert!(!on, "round {round}: {}", switch.text);
            assert!(
                created.is_empty(),
                "round {round}: created {created:?} after SIP went off"
            );
        } else {
            switch.assert_problem(StatusCode::CONFLICT, "in_use");
            assert!(on, "round {round}");
            trunks.sort();
            created.sort();
            assert_eq!(trunks, created, "round {round}");
        }

        // Back to the start: no trunks, SIP on.
        for id in &trunks {
            tenant
                .client
                .delete(&tenant.path(&format!("/sip-trunks/{id}")))
                .await
                .assert_status(StatusCode::NO_CONTENT);
        }
        tenant
            .client
            .patch(
                &tenant.path(""),
                &json!({ "settings": { "sipEnabled": true } }),
            )
            .await
            .assert_status(StatusCode::OK);
    }
    eprintln!("SIP went off first in {switched_off} of {rounds} rounds");
}

both!(max_phone_numbers_holds_under_a_race, |app| async move {
    let url = app.base_url().to_owned();
    for race in 0..TRIALS {
        limit_race(&app, &[&url], Counted::PhoneNumbers, race).await;
    }
});

both!(max_squads_holds_under_a_race, |app| async move {
    let url = app.base_url().to_owned();
    for race in 0..TRIALS {
        limit_race(&app, &[&url], Counted::Squads, race).await;
    }
});

both!(
    a_phone_number_raced_for_by_two_tenants_goes_to_one,
    |app| async move {
        let url = app.base_url().to_owned();
        for race in 0..ROUNDS {
            number_race(&app, &[&url], race).await;
        }
    }
);

both!(
    sip_trunks_raced_against_switching_sip_off_never_outlive_it,
    |app| async move {
        let url = app.base_url().to_owned();
        sip_race(&app, &[&url], ROUNDS).await;
    }
);

#[tokio::test]
async fn resource_races_hold_across_three_servers_on_one_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls = replicas.urls();
    for race in 0..TRIALS {
        limit_race(&app, &urls, Counted::PhoneNumbers, race).await;
        limit_race(&app, &urls, Counted::Squads, race).await;
    }
    for race in 0..ROUNDS {
        number_race(&app, &urls, race).await;
    }
    // Requests to three servers line up less often than to one: more rounds.
    sip_race(&app, &urls, 4 * ROUNDS).await;
    replicas.kill().await;
    app.finish().await;
}

//! People raced: one address invited many times at once makes one user and one pending
//! invitation; an invitation accepted many times at once is accepted once; two owners removed
//! at once leave one. On one server of either database, and across three `tenantry serve`
//! processes on one PostgreSQL.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::support::people::{Mailbox, PASSWORD};
use crate::support::process::Replicas;
use crate::support::races::all_at_once;
use crate::support::{Answer, Client, TestApp};

const RACERS: usize = 16;
const ROUNDS: usize = 3;

fn count(answers: &[Answer], status: StatusCode) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

/// The agency's key on every server.
fn on_each(app: &TestApp, urls: &[String], key: &str) -> Vec<Client> {
    urls.iter().map(|url| app.client_of(url, key)).collect()
}

async fn invite_race(app: &TestApp, urls: &[String], round: usize) {
    let agency = app.agency().create().await;
    let clients = on_each(app, urls, agency.client.key());
    let tenant = app
        .tenant()
        .name(&format!("Invited {round}"))
        .of(&agency)
        .create()
        .await;
    let requests = (0..RACERS)
        .map(|i| {
            let email = if i % 2 == 0 {
                "Race@Example.com"
            } else {
                "race@example.COM"
            };
            let body = json!({ "email": format!("{round}.{email}"), "role": "TenantUser" });
            (reqwest::Method::POST, tenant.path("/users/invite"), body)
        })
        .collect();
    let answers = all_at_once(&clients, requests).await;
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "round {round}");
    assert_eq!(
        count(&answers, StatusCode::CONFLICT),
        RACERS - 1,
        "round {round}"
    );
    let members = agency.client.get(&tenant.path("/users")).await;
    assert_eq!(members.body["total"], 1);
    assert_eq!(
        agency.client.get(&tenant.path("/invitations")).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The same new address into many tenants at once: one user, a membership in each.
    let mut requests = Vec::new();
    for n in 0..RACERS / 2 {
        let other = app
            .tenant()
            .name(&format!("Other {round} {n}"))
            .of(&agency)
            .create()
            .await;
        let body = json!({ "email": format!("{round}.shared@example.com"), "role": "ReadOnly" });
        requests.push((reqwest::Method::POST, other.path("/users/invite"), body));
    }
    let answers = all_at_once(&clients, requests).await;
    assert_eq!(
        count(&answers, StatusCode::CREATED),
        RACERS / 2,
        "round {round}"
    );
    let users: std::collections::BTreeSet<_> = answers
        .iter()
        .map(|a| a.body["userId"].to_string())
        .collect();
    assert_eq!(users.len(), 1, "one person: {users:?}");
}

async fn accept_race(app: &TestApp, mailbox: &Mailbox, urls: &[String], round: usize) {
    let agency = app.agency().create().await;
    let tenant = app
        .tenant()
        .name(&format!("Accepted {round}"))
        .of(&agency)
        .create()
        .await;
    let email = format!("accept{round}@example.com");
    agency
        .client
        .post(
            &tenant.path("/users/invite"),
            &json!({ "email": email, "role": "TenantUser" }),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let token = mailbox.invitation(&email).await;
    let anonymous: Vec<Client> = urls.iter().map(|url| app.client_of(url, "")).collect();
    let passwords: Vec<String> = (0..RACERS)
        .map(|i| format!("password number {i:02}"))
        .collect();
    let requests = passwords
        .iter()
        .map(|password| {
            let path = format!("/api/v1/invitations/{token}/accept");
            (reqwest::Method::POST, path, json!({ "password": password }))
        })
        .collect();
    let answers = all_at_once(&anonymous, requests).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "round {round}");
    // The others find it used, or find the account's password set by the winner and theirs
    // wrong (five such lock the address).
    let refused = [
        StatusCode::GONE,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ];
    let losers = answers
        .iter()
        .filter(|a| refused.contains(&a.status))
        .count();
    assert_eq!(losers, RACERS - 1, "round {round}");
    // The account's password is the winner's, and only the winner's. (Read from the stored
    // hash: a login now may meet the lock the losers' wrong passwords set.)
    let winner = answers
        .iter()
        .position(|a| a.status == StatusCode::OK)
        .unwrap();
    let (stored,): (Option<String>,) = app
        .db()
        .store()
        .reader()
        .fetch_one(
            tenantry::store::query("SELECT password_hash FROM users WHERE email_key = $1")
                .bind(email.clone()),
        )
        .await
        .unwrap();
    let stored = stored.expect("a password is set");
    for (n, password) in passwords.iter().enumerate() {
        assert_eq!(
            tenantry::domain::user::password::verify(password, Some(&stored)),
            n == winner,
            "password {n} of {winner}"
        );
    }
}

async fn owner_race(app: &TestApp, mailbox: &Mailbox, urls: &[String], round: usize) {
    let agency = app.agency().create().await;
    let clients = on_each(app, urls, agency.client.key());
    let tenant = app
        .tenant()
        .name(&format!("Owned {round}"))
        .of(&agency)
        .create()
        .await;
    let mut owners = Vec::new();
    for n in 0..2 {
        let email = format!("owner{round}-{n}@example.com");
        let invited = agency
            .client
            .post(
                &tenant.path("/users/invite"),
                &json!({ "email": email, "role": "TenantOwner" }),
            )
            .await;
        invited.assert_status(StatusCode::CREATED);
        let token = mailbox.invitation(&email).await;
        app.anonymous()
            .post(
                &format!("/api/v1/invitations/{token}/accept"),
                &json!({ "password": PASSWORD }),
            )
            .await
            .assert_status(StatusCode::OK);
        owners.push(invited.body["userId"].as_str().unwrap().to_owned());
    }
    // One owner demoted and the other removed, each asked for many times at once.
    let requests = (0..RACERS)
        .map(|i| {
            let owner = &owners[i % 2];
            let path = tenant.path(&format!("/users/{owner}"));
            if i % 2 == 0 {
                (reqwest::Method::PATCH, path, json!({ "role": "ReadOnly" }))
            } else {
                (reqwest::Method::DELETE, path, json!({}))
            }
        })
        .collect();
    let answers = all_at_once(&clients, requests).await;
    assert!(
        answers.iter().all(|a| [
            StatusCode::OK,
            StatusCode::NO_CONTENT,
            StatusCode::CONFLICT,
            StatusCode::NOT_FOUND
        ]
        .contains(&a.status)),
        "{:?}",
        answers.iter().map(|a| &a.text).collect::<Vec<_>>()
    );
    let active_owners = agency
        .client
        .get(&tenant.path("/users?role=TenantOwner&status=active"))
        .await;
    assert_eq!(
        active_owners.body["total"], 1,
        "round {round}: {}",
        active_owners.text
    );
}

async fn races(app: &TestApp, urls: &[String]) {
    let mailbox = app.mailbox().await;
    for round in 0..ROUNDS {
        invite_race(app, urls, round).await;
        accept_race(app, &mailbox, urls, round).await;
        owner_race(app, &mailbox, urls, round).await;
    }
}

both!(people_races_hold_on_one_server, |app| async move {
    let urls = vec![app.base_url().to_owned()];
    races(&app, &urls).await;
});

#[tokio::test]
async fn people_races_hold_across_three_servers_on_one_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls: Vec<String> = replicas.urls().into_iter().map(str::to_owned).collect();
    races(&app, &urls).await;
    replicas.kill().await;
    app.finish().await;
}

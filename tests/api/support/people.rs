//! People in stories: a mailbox that receives what the server mails (a real SMTP server and a
//! replica whose mail worker sends to it), and persons who accept the emailed invitation with
//! a password and log in, holding a session like a browser would.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::in_process::Replica;
use super::smtp::{link_starting_with, Received, SmtpServer};
use super::{Client, Settings, TestApp};

/// The password every story's person picks.
pub const PASSWORD: &str = "correct horse battery staple";

/// Mail sent by the test's server, as its recipients get it.
pub struct Mailbox {
    pub smtp: SmtpServer,
    /// Where links in the mail point: the test server's own address (its `--public-url`).
    pub portal: String,
    _sender: Replica,
    /// How many messages to each address were already read.
    read: Mutex<HashMap<String, usize>>,
}

impl TestApp {
    /// Starts a mailbox: mail the server enqueues from now on is delivered to it.
    pub async fn mailbox(&self) -> Mailbox {
        let smtp = SmtpServer::start().await;
        let sender = self.replica(Settings::smtp(&smtp)).await;
        Mailbox {
            smtp,
            portal: self.base_url().trim_end_matches('/').to_owned(),
            _sender: sender,
            read: Mutex::default(),
        }
    }
}

impl Mailbox {
    /// The next unread message to `address` (waits for it).
    pub async fn next_to(&self, address: &str) -> Received {
        let address = address.to_lowercase();
        loop {
            let received = self.smtp.received();
            let seen = received.len();
            {
                let mut read = self.read.lock().unwrap();
                let done = read.entry(address.clone()).or_default();
                let mine: Vec<&Received> = received
                    .iter()
                    .filter(|m| m.rcpt_to.iter().any(|to| to.to_lowercase() == address))
                    .collect();
                if let Some(message) = mine.get(*done) {
                    *done += 1;
                    return (*message).clone();
                }
            }
            self.smtp.wait_for(seen + 1).await;
        }
    }

    /// The token of the next link under `path` mailed to `address`, read from the plain-text
    /// part, checked to be the same link as the HTML part's button.
    pub async fn token(&self, address: &str, path: &str) -> String {
        let message = self.next_to(address).await;
        let parts = message.parts();
        let prefix = format!("{}{path}", self.portal);
        let link = link_starting_with(&parts.text, &prefix)
            .unwrap_or_else(|| panic!("no {prefix} link in {}", parts.text));
        let in_html = link_starting_with(&parts.html, &prefix).expect("the HTML part's link");
        assert_eq!(link, in_html);
        link[prefix.len()..].to_owned()
    }

    /// The token of the next invitation mailed to `address`.
    pub async fn invitation(&self, address: &str) -> String {
        self.token(address, "/invitations/").await
    }
}

/// Logs in and returns a client holding the session, with the session's answer.
pub async fn log_in(app: &TestApp, body: Value) -> (Client, Value) {
    let answer = app.anonymous().post("/api/v1/sessions", &body).await;
    answer.assert_status(StatusCode::CREATED);
    let token = answer.body["token"].as_str().expect("a session token");
    assert!(token.starts_with("tnt_ses_"));
    (app.client(token), answer.body.clone())
}

/// Invites `email` in `role` with `inviter` through `invite_path`, accepts the mailed link
/// with [`PASSWORD`] and logs in as that membership: a person's session.
pub async fn person(
    app: &TestApp,
    mailbox: &Mailbox,
    inviter: &Client,
    invite_path: &str,
    email: &str,
    role: &str,
) -> Client {
    let invited = inviter
        .post(invite_path, &json!({ "email": email, "role": role }))
        .await;
    invited.assert_status(StatusCode::CREATED);
    let token = mailbox.invitation(email).await;
    app.anonymous()
        .post(
            &format!("/api/v1/invitations/{token}/accept"),
            &json!({ "password": PASSWORD }),
        )
        .await
        .assert_status(StatusCode::OK);
    let mut login = json!({ "email": email, "password": PASSWORD });
    if matches!(role, "TenantOwner" | "TenantUser" | "ReadOnly") {
        login["tenantId"] = invited.body["tenantId"].clone();
    } else if !invited.body["agencyId"].is_null() {
        login["agencyId"] = invited.body["agencyId"].clone();
    }
    log_in(app, login).await.0
}

/// Resets `email`'s password to `password` through the emailed link.
pub async fn reset_password(app: &TestApp, mailbox: &Mailbox, email: &str, password: &str) {
    app.anonymous()
        .post("/api/v1/password-reset", &json!({ "email": email }))
        .await
        .assert_status(StatusCode::ACCEPTED);
    let token = mailbox.token(email, "/reset-password?token=").await;
    app.anonymous()
        .post(
            "/api/v1/password-reset/confirm",
            &json!({ "token": token, "password": password }),
        )
        .await
        .assert_status(StatusCode::NO_CONTENT);
}

//! People: accepting the emailed invitation, logging in with a password and a second factor,
//! lockout, logout, password reset, and sessions acting through the same policy as keys.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::people::{log_in, person, reset_password, PASSWORD};
use crate::support::{Answer, Client, TestApp};
use tenantry::domain::user::otp;

fn login_body(email: &str, password: &str) -> Value {
    json!({ "email": email, "password": password })
}

async fn accept(app: &TestApp, token: &str, body: Value) -> Answer {
    app.anonymous()
        .post(&format!("/api/v1/invitations/{token}/accept"), &body)
        .await
}

both!(
    an_invited_person_accepts_logs_in_and_acts_through_the_policy,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().name("Northwind").create().await;
        let tenant = app.tenant().name("Acme").of(&agency).create().await;
        let neighbour = app.tenant().name("Neighbour").of(&agency).create().await;
        agency
            .client
            .post(
                &tenant.path("/users/invite"),
                &json!({ "email": "Ana@Example.com", "firstName": "Ana", "lastName": "Lopez",
                     "role": "TenantUser" }),
            )
            .await
            .assert_status(StatusCode::CREATED);
        let message = mailbox.next_to("ana@example.com").await;
        let parts = message.parts();
        assert!(
            parts.text.contains("Northwind"),
            "the agency's brand: {}",
            parts.text
        );
        assert!(parts.text.contains("Acme"));
        assert_eq!(
            message.header("Subject").as_deref(),
            Some("You are invited to Acme")
        );
        let prefix = format!("{}/invitations/", mailbox.portal);
        let link = crate::support::smtp::link_starting_with(&parts.text, &prefix).expect("a link");
        let token = &link[prefix.len()..];
        assert!(token.starts_with("tnt_inv_"));

        // The link shows where it leads, without credentials.
        let shown = app
            .anonymous()
            .get(&format!("/api/v1/invitations/{token}"))
            .await;
        shown.assert_status(StatusCode::OK);
        assert_eq!(shown.body["tenant"]["name"], "Acme");
        assert_eq!(shown.body["agency"]["name"], "Northwind");
        assert_eq!(shown.body["role"], "TenantUser");
        assert_eq!(shown.body["invitedBy"], Value::Null, "a key sent it");
        assert_eq!(shown.body["accountExists"], false);

        accept(&app, token, json!({ "password": "short" }))
            .await
            .assert_invalid("password");
        let accepted = accept(
            &app,
            token,
            json!({ "password": PASSWORD, "firstName": "Anna" }),
        )
        .await;
        accepted.assert_status(StatusCode::OK);
        assert_eq!(accepted.body["status"], "active");
        assert_eq!(accepted.body["firstName"], "Anna");
        // A token works once.
        accept(&app, token, json!({ "password": PASSWORD }))
            .await
            .assert_problem(StatusCode::GONE, "invitation_used");
        app.anonymous()
            .get(&format!("/api/v1/invitations/{token}"))
            .await
            .assert_problem(StatusCode::GONE, "invitation_used");

        let (ana, session) = log_in(&app, login_body("ANA@example.com", PASSWORD)).await;
        assert_eq!(session["tokenType"], "Bearer");
        assert_eq!(session["user"]["role"], "TenantUser");
        assert_eq!(session["user"]["tenantId"], tenant.id.as_str());
        assert!(crate::support::time(&session["expiresAt"]) > chrono::Utc::now());
        let me = ana.get("/api/v1/users/me").await;
        me.assert_status(StatusCode::OK);
        assert_eq!(me.body["email"], "Ana@Example.com");
        assert!(me.body["lastLoginAt"].is_string());

        // The session does what a TenantUser may, in its tenant only.
        ana.post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
            .await
            .assert_status(StatusCode::CREATED);
        ana.post(
            &tenant.path("/users/invite"),
            &json!({ "email": "b@example.com", "role": "ReadOnly" }),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        ana.get(&neighbour.path("/agents"))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        ana.get("/api/v1/agency/analytics")
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");

        ana.delete("/api/v1/sessions/current")
            .await
            .assert_status(StatusCode::NO_CONTENT);
        ana.get("/api/v1/users/me")
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        // A key is not a session.
        tenant
            .client
            .delete("/api/v1/sessions/current")
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
);

both!(
    an_existing_account_joins_with_its_own_password,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let first = app.tenant().name("First").of(&agency).create().await;
        let second = app.tenant().name("Second").of(&agency).create().await;
        let invite = json!({ "email": "sam@example.com", "role": "TenantOwner" });
        person(
            &app,
            &mailbox,
            &agency.client,
            &first.path("/users/invite"),
            "sam@example.com",
            "TenantOwner",
        )
        .await;

        agency
            .client
            .post(&second.path("/users/invite"), &invite)
            .await
            .assert_status(StatusCode::CREATED);
        let token = mailbox.invitation("sam@example.com").await;
        let shown = app
            .anonymous()
            .get(&format!("/api/v1/invitations/{token}"))
            .await;
        assert_eq!(shown.body["accountExists"], true);
        accept(
            &app,
            &token,
            json!({ "password": "not the password at all" }),
        )
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
        accept(&app, &token, json!({ "password": PASSWORD }))
            .await
            .assert_status(StatusCode::OK);

        // The widest membership by default (the first joined, here); either one on request.
        let (_, by_default) = log_in(&app, login_body("sam@example.com", PASSWORD)).await;
        assert_eq!(by_default["memberships"].as_array().unwrap().len(), 2);
        let (in_second, chosen) = log_in(
            &app,
            json!({ "email": "sam@example.com", "password": PASSWORD, "tenantId": second.id }),
        )
        .await;
        assert_eq!(chosen["user"]["tenantId"], second.id.as_str());
        in_second
            .get(&second.path("/agents"))
            .await
            .assert_status(StatusCode::OK);
        in_second
            .get(&first.path("/agents"))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        let elsewhere = app.tenant().name("Elsewhere").of(&agency).create().await;
        app.anonymous()
        .post(
            "/api/v1/sessions",
            &json!({ "email": "sam@example.com", "password": PASSWORD, "tenantId": elsewhere.id }),
        )
        .await
        .assert_invalid("tenantId");
    }
);

both!(expired_and_resent_invitations, |app| async move {
    let mailbox = app.mailbox().await;
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    let invite = json!({ "email": "late@example.com", "role": "TenantUser" });
    let first = agency
        .client
        .post(&tenant.path("/users/invite"), &invite)
        .await;
    first.assert_status(StatusCode::CREATED);
    let old = mailbox.invitation("late@example.com").await;

    // Resent: a new link, and the old one is dead.
    let id = first.body["id"].as_str().unwrap();
    agency
        .client
        .post(
            &format!("/api/v1/users/invitations/{id}/resend"),
            &json!({}),
        )
        .await
        .assert_status(StatusCode::OK);
    let new = mailbox.invitation("late@example.com").await;
    assert_ne!(old, new);
    app.anonymous()
        .get(&format!("/api/v1/invitations/{old}"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Expired: a 410, and no obstacle to inviting the address again.
    app.db()
        .run_sql("UPDATE invitations SET expires_at = '2020-01-01T00:00:00+00:00'")
        .await;
    app.anonymous()
        .get(&format!("/api/v1/invitations/{new}"))
        .await
        .assert_problem(StatusCode::GONE, "invitation_expired");
    accept(&app, &new, json!({ "password": PASSWORD }))
        .await
        .assert_problem(StatusCode::GONE, "invitation_expired");
    let listed = agency.client.get(&tenant.path("/invitations")).await;
    assert_eq!(listed.body["data"][0]["status"], "expired");
    agency
        .client
        .post(
            &tenant.path("/users/invite"),
            &json!({ "email": "LATE@example.com", "role": "ReadOnly" }),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let fresh = mailbox.invitation("late@example.com").await;
    let accepted = accept(&app, &fresh, json!({ "password": PASSWORD })).await;
    accepted.assert_status(StatusCode::OK);
    assert_eq!(accepted.body["role"], "ReadOnly");
});

both!(
    five_failures_lock_an_address_whether_or_not_it_exists,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        person(
            &app,
            &mailbox,
            &agency.client,
            &tenant.path("/users/invite"),
            "kim@example.com",
            "TenantUser",
        )
        .await;

        let mut answers = Vec::new();
        for email in ["kim@example.com", "nobody@example.com"] {
            for _ in 0..5 {
                let wrong = app
                    .anonymous()
                    .post("/api/v1/sessions", &login_body(email, "wrong password!"))
                    .await;
                wrong.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
                answers.push(wrong.body["detail"].clone());
            }
            // Locked now, even with the right password, and the answer is the same either way.
            let locked = app
                .anonymous()
                .post("/api/v1/sessions", &login_body(email, PASSWORD))
                .await;
            locked.assert_problem(StatusCode::TOO_MANY_REQUESTS, "login_locked");
            let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=900).contains(&retry), "{retry}");
        }
        assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));

        // Another address is not locked by these.
        person(
            &app,
            &mailbox,
            &agency.client,
            &tenant.path("/users/invite"),
            "lee@example.com",
            "TenantUser",
        )
        .await;

        // A password reset lifts the lock.
        reset_password(&app, &mailbox, "kim@example.com", "a brand new password").await;
        log_in(&app, login_body("kim@example.com", "a brand new password")).await;
    }
);

both!(
    a_password_reset_works_once_within_the_hour,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let pat = person(
            &app,
            &mailbox,
            &agency.client,
            &tenant.path("/users/invite"),
            "pat@example.com",
            "TenantUser",
        )
        .await;

        // No mail for an unknown address, and the same answer.
        for email in ["unknown@example.com", "pat@example.com"] {
            app.anonymous()
                .post("/api/v1/password-reset", &json!({ "email": email }))
                .await
                .assert_status(StatusCode::ACCEPTED);
        }
        let token = mailbox
            .token("pat@example.com", "/reset-password?token=")
            .await;
        assert!(mailbox
            .smtp
            .received()
            .iter()
            .all(|m| !m.rcpt_to.contains(&"unknown@example.com".to_owned())));
        let confirm = |token: String, password: &'static str| {
            let anonymous = app.anonymous();
            async move {
                anonymous
                    .post(
                        "/api/v1/password-reset/confirm",
                        &json!({ "token": token, "password": password }),
                    )
                    .await
            }
        };
        confirm(token.clone(), "short")
            .await
            .assert_invalid("password");
        confirm(token.clone(), "another good password")
            .await
            .assert_status(StatusCode::NO_CONTENT);
        // Every session ended; the old password no longer works.
        pat.get("/api/v1/users/me")
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        app.anonymous()
            .post("/api/v1/sessions", &login_body("pat@example.com", PASSWORD))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
        log_in(&app, login_body("pat@example.com", "another good password")).await;
        confirm(token, "yet another password")
            .await
            .assert_problem(StatusCode::GONE, "reset_link_expired");

        // A link older than an hour is dead too.
        app.anonymous()
            .post(
                "/api/v1/password-reset",
                &json!({ "email": "pat@example.com" }),
            )
            .await
            .assert_status(StatusCode::ACCEPTED);
        let late = mailbox
            .token("pat@example.com", "/reset-password?token=")
            .await;
        app.db()
            .run_sql("UPDATE password_resets SET expires_at = '2020-01-01T00:00:00+00:00'")
            .await;
        confirm(late, "yet another password")
            .await
            .assert_problem(StatusCode::GONE, "reset_link_expired");
        confirm("tnt_rst_unknown".to_owned(), "yet another password")
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
);

fn secret_bytes(base32: &str) -> Vec<u8> {
    totp_rs::Secret::Encoded(base32.to_owned())
        .to_bytes()
        .expect("base32")
}

fn code(secret: &[u8], offset_seconds: i64) -> String {
    otp::code_at(
        secret,
        (chrono::Utc::now().timestamp() + offset_seconds) as u64,
    )
}

async fn login_with(app: &TestApp, extra: Value) -> Answer {
    let mut body = login_body("mo@example.com", PASSWORD);
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    app.anonymous().post("/api/v1/sessions", &body).await
}

both!(
    totp_mfa_is_enrolled_confirmed_required_and_never_replayed,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let mo: Client = person(
            &app,
            &mailbox,
            &agency.client,
            &tenant.path("/users/invite"),
            "mo@example.com",
            "TenantOwner",
        )
        .await;

        let enrolled = mo.post("/api/v1/users/me/mfa", &json!({})).await;
        enrolled.assert_status(StatusCode::CREATED);
        let otpauth = enrolled.body["otpauthUrl"].as_str().unwrap();
        assert!(otpauth.starts_with("otpauth://totp/"), "{otpauth}");
        let secret = secret_bytes(enrolled.body["secret"].as_str().unwrap());
        // Not on until confirmed.
        login_with(&app, json!({}))
            .await
            .assert_status(StatusCode::CREATED);
        mo.post("/api/v1/users/me/mfa/confirm", &json!({ "code": "000000" }))
            .await
            .assert_invalid("code");
        let confirmed = mo
            .post(
                "/api/v1/users/me/mfa/confirm",
                &json!({ "code": code(&secret, 0) }),
            )
            .await;
        confirmed.assert_status(StatusCode::OK);
        let recovery: Vec<String> =
            serde_json::from_value(confirmed.body["recoveryCodes"].clone()).unwrap();
        assert_eq!(recovery.len(), 10);
        assert_eq!(mo.get("/api/v1/users/me").await.body["mfaEnabled"], true);
        mo.post("/api/v1/users/me/mfa", &json!({}))
            .await
            .assert_problem(StatusCode::CONFLICT, "mfa_enabled");

        login_with(&app, json!({}))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "mfa_required");
        // The next step's code (within the allowed drift) logs in once; replayed, it is refused.
        let next = code(&secret, 30);
        login_with(&app, json!({ "code": next }))
            .await
            .assert_status(StatusCode::CREATED);
        login_with(&app, json!({ "code": next }))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_code");
        // A recovery code works once, in any case and spacing.
        let spare = recovery[0].to_uppercase();
        login_with(&app, json!({ "recoveryCode": spare }))
            .await
            .assert_status(StatusCode::CREATED);
        login_with(&app, json!({ "recoveryCode": recovery[0] }))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_code");

        mo.post(
            "/api/v1/users/me/mfa/disable",
            &json!({ "recoveryCode": recovery[1] }),
        )
        .await
        .assert_status(StatusCode::NO_CONTENT);
        login_with(&app, json!({}))
            .await
            .assert_status(StatusCode::CREATED);
        assert_eq!(mo.get("/api/v1/users/me").await.body["mfaEnabled"], false);
        // Keys have no person behind them.
        tenant
            .client
            .post("/api/v1/users/me/mfa", &json!({}))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
);

both!(a_tenant_keeps_its_last_owner, |app| async move {
    let mailbox = app.mailbox().await;
    let agency = app.agency().create().await;
    // The owner named at creation is invited with the tenant, and becomes its owner.
    let tenant = app
        .tenant()
        .of(&agency)
        .field(
            "owner",
            json!({ "email": "o1@example.com", "firstName": "Olu" }),
        )
        .create()
        .await;
    let invite = tenant.path("/users/invite");
    let token = mailbox.invitation("o1@example.com").await;
    accept(&app, &token, json!({ "password": PASSWORD }))
        .await
        .assert_status(StatusCode::OK);
    let (owner, _) = log_in(&app, login_body("o1@example.com", PASSWORD)).await;
    let me = owner.get("/api/v1/users/me").await;
    let first = me.body["id"].as_str().unwrap().to_owned();
    let member = |id: &str| tenant.path(&format!("/users/{id}"));

    for answer in [
        agency
            .client
            .patch(&member(&first), &json!({ "role": "TenantUser" }))
            .await,
        agency
            .client
            .patch(&member(&first), &json!({ "status": "disabled" }))
            .await,
        agency.client.delete(&member(&first)).await,
        owner.delete(&format!("/api/v1/users/{first}")).await,
    ] {
        answer.assert_problem(StatusCode::CONFLICT, "last_owner");
    }
    let tenant_body = agency.client.get(&tenant.path("")).await;
    assert_eq!(
        tenant_body.body["owner"]["id"],
        first.as_str(),
        "{}",
        tenant_body.text
    );

    let second_owner = person(
        &app,
        &mailbox,
        &owner,
        &invite,
        "o2@example.com",
        "TenantOwner",
    )
    .await;
    let second = second_owner.get("/api/v1/users/me").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Now one may go; the other then stays.
    second_owner
        .patch(&member(&first), &json!({ "role": "TenantUser" }))
        .await
        .assert_status(StatusCode::OK);
    agency
        .client
        .delete(&member(&second))
        .await
        .assert_problem(StatusCode::CONFLICT, "last_owner");
    // Disabling a member ends its sessions at once.
    second_owner
        .patch(&member(&first), &json!({ "status": "disabled" }))
        .await
        .assert_status(StatusCode::OK);
    owner
        .get("/api/v1/users/me")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    app.anonymous()
        .post(
            "/api/v1/sessions",
            &json!({ "email": "o1@example.com", "password": PASSWORD }),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
});

both!(
    logins_and_resets_are_limited_per_client_address,
    crate::support::Settings::rate_limited(),
    |app| async move {
        // `auth-strict` allows five logins a minute from one address, `auth-lenient` three
        // password resets; each answer names its policy.
        for n in 0..5 {
            let answer = app
                .anonymous()
                .post(
                    "/api/v1/sessions",
                    &login_body(&format!("n{n}@example.com"), "x"),
                )
                .await;
            answer.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
            assert_eq!(answer.header("x-ratelimit-policy"), Some("auth-strict"));
        }
        let over = app
            .anonymous()
            .post("/api/v1/sessions", &login_body("n9@example.com", "x"))
            .await;
        over.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded");
        assert!(over.header("retry-after").is_some());
        for _ in 0..3 {
            app.anonymous()
                .post(
                    "/api/v1/password-reset",
                    &json!({ "email": "r@example.com" }),
                )
                .await
                .assert_status(StatusCode::ACCEPTED);
        }
        let over = app
            .anonymous()
            .post(
                "/api/v1/password-reset",
                &json!({ "email": "r@example.com" }),
            )
            .await;
        over.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded");
        assert_eq!(over.header("x-ratelimit-policy"), Some("auth-lenient"));
    }
);

both!(
    expired_sessions_reset_links_and_old_failures_are_purged,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let invite = tenant.path("/users/invite");
        let ivy = person(
            &app,
            &mailbox,
            &agency.client,
            &invite,
            "ivy@example.com",
            "TenantUser",
        )
        .await;
        app.anonymous()
            .post(
                "/api/v1/sessions",
                &login_body("ivy@example.com", "wrong password"),
            )
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
        app.anonymous()
            .post(
                "/api/v1/password-reset",
                &json!({ "email": "ivy@example.com" }),
            )
            .await
            .assert_status(StatusCode::ACCEPTED);
        mailbox
            .token("ivy@example.com", "/reset-password?token=")
            .await;
        let store = app.db();
        let rows = |table: &'static str| {
            let store = store.clone();
            async move {
                let (n,): (i64,) = store
                    .store()
                    .reader()
                    .fetch_one(tenantry::store::query(format!(
                        "SELECT COUNT(*) FROM {table}"
                    )))
                    .await
                    .unwrap();
                n
            }
        };
        let now = chrono::Utc::now();
        // Nothing has expired yet: the purge keeps everything.
        tenantry::store::sessions::purge(store.store(), now, now - chrono::Duration::minutes(15))
            .await
            .unwrap();
        assert_eq!(
            (rows("sessions").await, rows("password_resets").await),
            (1, 1)
        );
        assert_eq!(
            rows("login_failures").await,
            2,
            "one by address, one by email"
        );
        ivy.get("/api/v1/users/me")
            .await
            .assert_status(StatusCode::OK);

        let later = now + chrono::Duration::days(1);
        tenantry::store::sessions::purge(store.store(), later, later)
            .await
            .unwrap();
        for table in ["sessions", "password_resets", "login_failures"] {
            assert_eq!(rows(table).await, 0, "{table}");
        }
        ivy.get("/api/v1/users/me")
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
);

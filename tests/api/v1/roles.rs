//! The seven roles: a key may act in a narrower role of its level, and then does exactly what
//! the permission policy grants that role; a minter never hands on more than it may do.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::{Client, TestApp};

/// A key minted by `minter` with `request`, checked to carry `role`, and a client holding it.
async fn key_with(app: &TestApp, minter: &Client, request: Value, role: &str) -> Client {
    let created = minter.post("/api/v1/api-keys", &request).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.body["role"], role, "{}", created.body);
    let listed = minter.walk("/api/v1/api-keys").await;
    let entry = listed
        .iter()
        .find(|k| k["id"] == created.body["id"])
        .expect("listed");
    assert_eq!(entry["role"], role);
    app.client(created.body["key"].as_str().expect("the secret"))
}

fn allowed(answer: &crate::support::Answer, what: &str) {
    assert!(
        answer.status.is_success(),
        "{what}: {} {}",
        answer.status,
        answer.text
    );
}

fn denied(answer: &crate::support::Answer, what: &str) {
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "{what}: {}",
        answer.text
    );
    assert_eq!(answer.body["code"], "forbidden", "{what}");
}

both!(each_role_does_what_the_policy_grants_it, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    let agent = json!({ "name": "Ava" });
    let number = |n: u32| json!({ "number": format!("+1415555{n:04}") });
    let new_tenant = |slug: &str| json!({ "name": slug, "slug": slug, "plan": "starter" });

    // Keys without a role act in their level's full role, as before.
    let full = &agency.client;
    allowed(
        &full.post("/api/v1/tenants", &new_tenant("full")).await,
        "AgencyManager creates a tenant",
    );

    let accounts = key_with(
        &app,
        &app.platform(),
        json!({ "name": "accounts", "agencyId": agency.id, "role": "AgencyAccountManager" }),
        "AgencyAccountManager",
    )
    .await;
    allowed(
        &accounts
            .post("/api/v1/tenants", &new_tenant("accounts"))
            .await,
        "account manager creates a tenant",
    );
    allowed(
        &accounts.get("/api/v1/agency/analytics").await,
        "account manager reads agency analytics",
    );
    allowed(
        &accounts.get(&tenant.path("/agents")).await,
        "account manager reads agents",
    );
    denied(
        &accounts.post(&tenant.path("/agents"), &agent).await,
        "account manager configures agents",
    );
    denied(
        &accounts
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "k", "tenantId": tenant.id }),
            )
            .await,
        "account manager mints keys",
    );

    let technical = key_with(
        &app,
        &app.platform(),
        json!({ "name": "tech", "agencyId": agency.id, "role": "AgencyTechnicalManager" }),
        "AgencyTechnicalManager",
    )
    .await;
    denied(
        &technical.post("/api/v1/tenants", &new_tenant("tech")).await,
        "technical manager creates a tenant",
    );
    allowed(
        &technical.post(&tenant.path("/agents"), &agent).await,
        "technical manager configures agents",
    );
    allowed(
        &technical
            .post(&tenant.path("/phone-numbers"), &number(1))
            .await,
        "technical manager adds numbers",
    );
    denied(
        &technical
            .patch(&tenant.path(""), &json!({ "name": "Renamed" }))
            .await,
        "technical manager renames",
    );

    let user = key_with(
        &app,
        full,
        json!({ "name": "user", "tenantId": tenant.id, "role": "TenantUser" }),
        "TenantUser",
    )
    .await;
    allowed(
        &user.post(&tenant.path("/agents"), &agent).await,
        "tenant user configures agents",
    );
    allowed(
        &user
            .post(&tenant.path("/calls"), &json!({ "channel": "phone" }))
            .await,
        "tenant user starts calls",
    );
    allowed(
        &user.get(&tenant.path("/phone-numbers")).await,
        "tenant user reads numbers",
    );
    denied(
        &user.post(&tenant.path("/phone-numbers"), &number(2)).await,
        "tenant user adds numbers",
    );
    denied(
        &user
            .patch(&tenant.path(""), &json!({ "name": "Renamed" }))
            .await,
        "tenant user renames",
    );

    let reader = key_with(
        &app,
        full,
        json!({ "name": "reader", "tenantId": tenant.id, "role": "ReadOnly" }),
        "ReadOnly",
    )
    .await;
    for path in [
        "",
        "/agents",
        "/phone-numbers",
        "/calls",
        "/limits",
        "/analytics",
    ] {
        allowed(
            &reader.get(&tenant.path(path)).await,
            &format!("read-only reads {path}"),
        );
    }
    denied(
        &reader.post(&tenant.path("/agents"), &agent).await,
        "read-only configures agents",
    );
    denied(
        &reader
            .post(&tenant.path("/calls"), &json!({ "channel": "phone" }))
            .await,
        "read-only starts calls",
    );
    denied(
        &reader
            .patch(&tenant.path(""), &json!({ "name": "Renamed" }))
            .await,
        "read-only renames",
    );

    // What was refused changed nothing.
    assert_eq!(
        app.platform().get(&tenant.path("")).await.body["name"],
        tenant.body["name"]
    );
    assert_eq!(
        app.platform()
            .walk(&tenant.path("/phone-numbers"))
            .await
            .len(),
        1
    );
});

both!(
    a_key_gets_a_role_of_its_level_and_never_more_than_its_minter,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let before = app.platform().walk("/api/v1/api-keys").await.len();

        for (request, field) in [
            (
                json!({ "name": "k", "tenantId": tenant.id, "role": "AgencyManager" }),
                "role",
            ),
            (
                json!({ "name": "k", "agencyId": agency.id, "role": "TenantOwner" }),
                "role",
            ),
            (json!({ "name": "k", "role": "ReadOnly" }), "role"),
            (
                json!({ "name": "k", "tenantId": tenant.id, "role": "Owner" }),
                "role",
            ),
        ] {
            app.platform()
                .post("/api/v1/api-keys", &request)
                .await
                .assert_invalid(field);
        }

        let technical = key_with(
            &app,
            &app.platform(),
            json!({ "name": "tech", "agencyId": agency.id, "role": "AgencyTechnicalManager" }),
            "AgencyTechnicalManager",
        )
        .await;
        // A tenant owner may rename its tenant, which a technical manager may not: refused.
        let refused = technical
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "k", "tenantId": tenant.id, "role": "TenantOwner" }),
            )
            .await;
        refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(refused.fields(), ["role"]);
        // So is a key without a role, which would act as a tenant owner.
        technical
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "k", "tenantId": tenant.id }),
            )
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(
            app.platform().walk("/api/v1/api-keys").await.len(),
            before + 1
        );
    }
);

both!(
    a_scoped_key_does_only_what_its_scopes_and_role_allow,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let minted = agency
            .client
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "data plane", "tenantId": tenant.id,
                     "scopes": ["agents:read", "conversations:write"] }),
            )
            .await;
        minted.assert_status(StatusCode::CREATED);
        assert_eq!(
            minted.body["scopes"],
            json!(["agents:read", "conversations:write"])
        );
        let key = app.client(minted.body["key"].as_str().unwrap());

        allowed(
            &key.get(&tenant.path("/agents")).await,
            "agents:read lists agents",
        );
        allowed(
            &key.post(&tenant.path("/calls"), &json!({ "channel": "phone" }))
                .await,
            "conversations:write starts calls",
        );
        for (answer, scope) in [
            (
                key.post(&tenant.path("/agents"), &json!({ "name": "Ava" }))
                    .await,
                "agents:write",
            ),
            (key.get(&tenant.path("")).await, "tenants:read"),
            (key.get(&tenant.path("/calls")).await, "conversations:read"),
            (
                key.get(&tenant.path("/phone-numbers")).await,
                "telephony:read",
            ),
        ] {
            answer.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
            assert_eq!(answer.fields(), ["scopes"]);
            assert!(answer.text.contains(scope), "{scope}: {}", answer.text);
        }
        assert!(app
            .platform()
            .walk(&tenant.path("/agents"))
            .await
            .is_empty());

        // A scoped minter hands on only its own scopes, and by default all of them.
        let narrow = app
            .platform()
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "narrow", "agencyId": agency.id,
                     "scopes": ["users:write", "tenants:read"] }),
            )
            .await;
        narrow.assert_status(StatusCode::CREATED);
        let narrow = app.client(narrow.body["key"].as_str().unwrap());
        let wider = narrow
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "wider", "tenantId": tenant.id, "scopes": ["agents:read"] }),
            )
            .await;
        wider.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(wider.fields(), ["scopes"]);
        let inherited = narrow
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "same", "tenantId": tenant.id }),
            )
            .await;
        inherited.assert_status(StatusCode::CREATED);
        assert_eq!(
            inherited.body["scopes"],
            json!(["tenants:read", "users:write"])
        );

        app.platform()
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "bad", "tenantId": tenant.id, "scopes": ["agents:delete"] }),
            )
            .await
            .assert_invalid("scopes[0]");
    }
);

both!(
    keys_expire_carry_a_recognisable_prefix_and_old_keys_still_work,
    |app| async move {
        let tenant = app.tenant().create().await;
        let platform = app.platform();
        platform
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "late", "tenantId": tenant.id, "expiresAt": "2001-01-01T00:00:00Z" }),
        )
        .await
        .assert_invalid("expiresAt");

        let minted = platform
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "expiring", "tenantId": tenant.id, "expiresAt": "2999-01-01T00:00:00Z" }),
        )
        .await;
        minted.assert_status(StatusCode::CREATED);
        assert_eq!(minted.body["expiresAt"], "2999-01-01T00:00:00Z");
        let secret = minted.body["key"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("tnt_live_"), "{secret}");
        let key = app.client(&secret);
        key.get(&tenant.path(""))
            .await
            .assert_status(StatusCode::OK);
        // Its time passes.
        app.db()
            .run_sql("UPDATE api_keys SET expires_at = created_at WHERE name = 'expiring'")
            .await;
        key.get(&tenant.path(""))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");

        // A key minted before the prefix changed is found by its hash like any other.
        let legacy = "tnty_0123456789abcdefghijABCDEFGHIJ0123456789";
        let hash = tenantry::domain::api_key::hash_secret(legacy);
        app.db()
            .run_sql(&format!(
            "UPDATE api_keys SET secret_hash = '{hash}', expires_at = NULL WHERE name = 'expiring'"
        ))
            .await;
        app.client(legacy)
            .get(&tenant.path(""))
            .await
            .assert_status(StatusCode::OK);
    }
);

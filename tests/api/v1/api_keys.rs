//! API keys: minted per scope, shown once, stored hashed, revoked at once.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;

both!(
    keys_of_every_scope_are_shown_once_and_work,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let platform = app.platform();

        for (request, scope) in [
            (json!({ "name": "ops" }), "platform"),
            (
                json!({ "name": "reseller", "agencyId": agency.id }),
                "agency",
            ),
            (json!({ "name": "client", "tenantId": tenant.id }), "tenant"),
        ] {
            let created = platform.post("/api/v1/api-keys", &request).await;
            created.assert_status(StatusCode::CREATED);
            let key = &created.body;
            assert!(created.id().starts_with("key_"), "{key}");
            assert_eq!(key["name"], request["name"]);
            assert_eq!(key["scope"], scope);
            assert_eq!(
                key["agencyId"],
                request.get("agencyId").cloned().unwrap_or_default()
            );
            assert_eq!(
                key["tenantId"],
                request.get("tenantId").cloned().unwrap_or_default()
            );
            assert!(key["createdAt"].is_string());
            let secret = key["key"].as_str().expect("the secret");
            let prefix = key["prefix"].as_str().expect("a prefix");
            assert!(
                secret.starts_with(prefix) && prefix.len() < secret.len(),
                "{key}"
            );

            let listed = platform.walk("/api/v1/api-keys").await;
            let entry = listed
                .iter()
                .find(|k| k["id"] == key["id"])
                .expect("the new key is listed");
            assert!(
                entry.get("key").is_none(),
                "a listed key has no secret: {entry}"
            );
            assert_eq!(entry["prefix"], prefix);
            assert!(!serde_json::to_string(&listed).unwrap().contains(secret));

            let holder = app.client(secret);
            let visible = holder.tenant_ids().await;
            assert_eq!(
                visible,
                [tenant.id.as_str()],
                "a {scope} key sees the tenant"
            );
        }
    }
);

both!(secrets_are_stored_only_as_hashes, |app| async move {
    let agency = app.agency().create().await;
    let created = app
        .platform()
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "hashed", "agencyId": agency.id }),
        )
        .await;
    created.assert_status(StatusCode::CREATED);
    let secret = created.body["key"].as_str().unwrap();
    app.client(secret)
        .get("/api/v1/agency")
        .await
        .assert_status(StatusCode::OK);
    assert!(
        !app.database_contains(secret).await,
        "the secret is in the database"
    );
    let prefix = created.body["prefix"].as_str().unwrap();
    assert!(
        app.database_contains(prefix).await,
        "the scan finds what is stored"
    );
});

both!(
    an_idempotent_key_creation_keeps_no_secret,
    |app| async move {
        let platform = app.platform();
        let create = || {
            platform.send(
                platform
                    .request(reqwest::Method::POST, "/api/v1/api-keys")
                    .header("idempotency-key", "mint-once")
                    .json(&json!({ "name": "retried" })),
            )
        };
        let first = create().await;
        first.assert_status(StatusCode::CREATED);
        let secret = first.body["key"].as_str().unwrap().to_owned();
        assert!(
            !app.database_contains(&secret).await,
            "the idempotency record holds the secret"
        );

        // The retry names the same key, but the secret is shown only once.
        let again = create().await;
        again.assert_status(StatusCode::CREATED);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.body["id"], first.body["id"]);
        assert_eq!(again.body["key"], serde_json::Value::Null);
        app.client(&secret)
            .get("/api/v1/tenants")
            .await
            .assert_status(StatusCode::OK);
    }
);

both!(a_revoked_key_stops_working_at_once, |app| async move {
    let agency = app.agency().create().await;
    let created = app
        .platform()
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "temp", "agencyId": agency.id }),
        )
        .await;
    let secret = created.body["key"].as_str().unwrap().to_owned();
    let holder = app.client(&secret);
    holder
        .get("/api/v1/tenants")
        .await
        .assert_status(StatusCode::OK);

    // An agency key revokes a key of its own agency.
    let path = format!("/api/v1/api-keys/{}", created.id());
    agency
        .client
        .delete(&path)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    holder
        .get("/api/v1/tenants")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    let listed = app.platform().walk("/api/v1/api-keys").await;
    assert!(listed.iter().all(|k| k["id"] != created.body["id"]));
    app.platform()
        .delete(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
});

both!(
    missing_and_unknown_keys_are_unauthorized,
    |app| async move {
        let anonymous = app.anonymous();
        for path in [
            "/api/v1/tenants",
            "/api/v1/plans",
            "/api/v1/api-keys",
            "/api/v1/agency",
        ] {
            anonymous
                .get(path)
                .await
                .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
            app.client("tnty_0000000000000000000000000000000000000000")
                .get(path)
                .await
                .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        }
        let platform = app.platform();
        for authorization in [
            format!("Basic {}", platform.key()),
            platform.key().to_owned(),
            "Bearer ".to_owned(),
        ] {
            anonymous
                .send(
                    anonymous
                        .request(reqwest::Method::GET, "/api/v1/tenants")
                        .header("authorization", authorization),
                )
                .await
                .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        }
        let before = platform.tenant_ids().await;
        anonymous
            .post("/api/v1/tenants", &json!({ "name": "Anonymous" }))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(platform.tenant_ids().await, before);
    }
);

both!(keys_mint_only_within_their_own_reach, |app| async move {
    let a = app.agency().name("A").create().await;
    let b = app.agency().name("B").create().await;
    let a_tenant = app.tenant().of(&a).create().await;
    let b_tenant = app.tenant().of(&b).create().await;
    let before = app.platform().walk("/api/v1/api-keys").await.len();

    a.client
        .post("/api/v1/api-keys", &json!({ "name": "root" }))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    a.client
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "self", "agencyId": a.id }),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    a.client
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "x", "tenantId": b_tenant.id }),
        )
        .await
        .assert_invalid("tenantId");
    a_tenant
        .client
        .post("/api/v1/api-keys", &json!({ "name": "root" }))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // Not even for its own tenant: such a key would outlive the revocation of its maker.
    a_tenant
        .client
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "mine", "tenantId": a_tenant.id }),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.platform()
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "both", "agencyId": a.id, "tenantId": a_tenant.id }),
        )
        .await
        .assert_invalid("tenantId");
    app.platform()
        .post("/api/v1/api-keys", &json!({ "name": "" }))
        .await
        .assert_invalid("name");
    assert_eq!(app.platform().walk("/api/v1/api-keys").await.len(), before);

    let minted = a
        .client
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "for client", "tenantId": a_tenant.id }),
        )
        .await;
    minted.assert_status(StatusCode::CREATED);
    assert_eq!(minted.body["scope"], "tenant");
    let client = app.client(minted.body["key"].as_str().unwrap());
    assert_eq!(client.tenant_ids().await, [a_tenant.id.as_str()]);
});

both!(each_key_lists_only_the_keys_it_may_see, |app| async move {
    let a = app.agency().name("A").create().await;
    let b = app.agency().name("B").create().await;
    let a_tenant = app.tenant().of(&a).create().await;
    app.tenant().of(&b).create().await;

    let scopes = |keys: &[serde_json::Value]| {
        let mut scopes: Vec<String> = keys
            .iter()
            .map(|k| k["scope"].as_str().unwrap().to_owned())
            .collect();
        scopes.sort();
        scopes
    };
    // Fixtures made one agency key per agency and one tenant key per tenant.
    assert_eq!(
        scopes(&a.client.walk("/api/v1/api-keys").await),
        ["agency", "tenant"]
    );
    let own = a_tenant.client.walk("/api/v1/api-keys").await;
    assert_eq!(scopes(&own), ["tenant"]);
    assert_eq!(own[0]["tenantId"], a_tenant.id.as_str());
    assert_eq!(
        app.platform().walk("/api/v1/api-keys?limit=1").await.len(),
        4
    );

    let platform_key = app
        .platform()
        .post("/api/v1/api-keys", &json!({ "name": "ops" }))
        .await;
    a.client
        .delete(&format!("/api/v1/api-keys/{}", platform_key.id()))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let b_keys = b.client.walk("/api/v1/api-keys").await;
    for key in b_keys {
        a.client
            .delete(&format!("/api/v1/api-keys/{}", key["id"].as_str().unwrap()))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    b.client
        .get("/api/v1/agency")
        .await
        .assert_status(StatusCode::OK);
});

both!(keys_revoke_only_keys_within_their_reach, |app| async move {
    let a = app.agency().name("A").create().await;
    let b = app.agency().name("B").create().await;
    let a_tenant = app.tenant().of(&a).create().await;
    let other_a_tenant = app.tenant().of(&a).name("Other").create().await;
    let b_tenant = app.tenant().of(&b).create().await;
    let direct = app.tenant().name("Direct").create().await;
    let platform = app.platform();
    let mint = |request: serde_json::Value| {
        let platform = platform.clone();
        async move {
            let created = platform.post("/api/v1/api-keys", &request).await;
            created.assert_status(StatusCode::CREATED);
            let secret = created.body["key"].as_str().unwrap().to_owned();
            (format!("/api/v1/api-keys/{}", created.id()), secret)
        }
    };
    let platform_key = mint(json!({ "name": "ops" })).await;
    let a_key = mint(json!({ "name": "a", "agencyId": a.id })).await;
    let a_tenant_key = mint(json!({ "name": "t", "tenantId": a_tenant.id })).await;
    let other_key = mint(json!({ "name": "o", "tenantId": other_a_tenant.id })).await;
    let b_tenant_key = mint(json!({ "name": "b", "tenantId": b_tenant.id })).await;
    let direct_key = mint(json!({ "name": "d", "tenantId": direct.id })).await;

    // Keys held above a tenant, or by another tenant, are out of its reach.
    for (path, _) in [
        &platform_key,
        &a_key,
        &other_key,
        &b_tenant_key,
        &direct_key,
    ] {
        a_tenant
            .client
            .delete(path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    // An agency reaches its own tenants' keys, not those of another agency's or direct ones.
    for (path, _) in [&b_tenant_key, &direct_key] {
        a.client
            .delete(path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    for (path, secret) in [
        &platform_key,
        &a_key,
        &other_key,
        &b_tenant_key,
        &direct_key,
    ] {
        assert!(
            !app.client(secret).walk("/api/v1/api-keys").await.is_empty(),
            "{path} still works"
        );
    }

    a_tenant
        .client
        .delete(&a_tenant_key.0)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    a.client
        .delete(&other_key.0)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    for (path, _) in [&direct_key, &b_tenant_key, &platform_key] {
        platform
            .delete(path)
            .await
            .assert_status(StatusCode::NO_CONTENT);
    }
    for (path, secret) in [&a_tenant_key, &other_key, &direct_key, &b_tenant_key] {
        app.client(secret)
            .get("/api/v1/tenants")
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        platform
            .delete(path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
});

both!(sandbox_keys_carry_their_own_mark, |app| async move {
    let tenant = app.tenant().create().await;
    let mint = |environment: Option<&str>| {
        let mut body = serde_json::json!({ "name": "k", "tenantId": tenant.id });
        if let Some(environment) = environment {
            body["environment"] = serde_json::json!(environment);
        }
        body
    };
    for (environment, mark) in [
        (None, "tnt_live_"),
        (Some("live"), "tnt_live_"),
        (Some("test"), "tnt_test_"),
    ] {
        let created = app
            .platform()
            .post("/api/v1/api-keys", &mint(environment))
            .await;
        created.assert_status(reqwest::StatusCode::CREATED);
        let secret = created.body["key"].as_str().unwrap();
        assert!(secret.starts_with(mark), "{secret}");
        assert_eq!(created.body["environment"], environment.unwrap_or("live"));
        assert!(created.body["prefix"].as_str().unwrap().starts_with(mark));
        app.client(secret)
            .get(&tenant.path(""))
            .await
            .assert_status(reqwest::StatusCode::OK);
    }
    app.platform()
        .post("/api/v1/api-keys", &mint(Some("staging")))
        .await
        .assert_invalid("environment");
});

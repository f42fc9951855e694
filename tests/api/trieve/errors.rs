//! Trieve's error body `{"message": …}` for every status on its paths, its header rules, and
//! the ways its clients send the key.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry::domain::rate_limit::RatePolicy;
use tenantry::http::rate_limit::RateLimitConfig;

use crate::both;
use crate::support::Settings;

use super::{assert_message, assert_trieve_error, uuid_of, Trieve};

const NOT_A_UUID: &str = "Could not convert Organization to UUID";
const NOT_FOUND: &str = "Not Found: Organization not found";
const MISMATCH: &str = "TR-Organization must name the organization in the path";

both!(
    tr_organization_must_be_a_uuid_the_key_can_see,
    |app| async move {
        let agency = app.agency().create().await;
        let other = app.agency().name("Other").create().await;
        let mine = uuid_of(&app.tenant().of(&agency).create().await.id);
        let theirs = uuid_of(&app.tenant().of(&other).create().await.id);
        let second = uuid_of(&app.tenant().of(&agency).create().await.id);
        let trieve = Trieve::new(&app, agency.client.key());
        let get = |path: &str, header: Option<(&str, &str)>| {
            let mut request = trieve.request(Method::GET, path, None);
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            trieve.send(request)
        };
        let path = format!("/api/organization/{mine}");

        // Missing, or not a UUID (a TypeID is not one), is Trieve's 400.
        assert_message(&get(&path, None).await, StatusCode::BAD_REQUEST, NOT_A_UUID);
        let type_id = tenantry::domain::ids::TenantId(mine.parse().unwrap()).to_string();
        for value in ["not-a-uuid", "", type_id.as_str()] {
            let answer = get(&path, Some(("TR-Organization", value))).await;
            assert_message(&answer, StatusCode::BAD_REQUEST, NOT_A_UUID);
        }
        // `x-organization` is its alias.
        get(&path, Some(("x-organization", &mine)))
            .await
            .assert_status(StatusCode::OK);

        // An organization the key cannot see is not found, named in the header or the path,
        // before the two are compared.
        let unknown = uuid::Uuid::now_v7().to_string();
        for header in [&theirs, &unknown] {
            let answer = get(&path, Some(("TR-Organization", header))).await;
            assert_message(&answer, StatusCode::NOT_FOUND, NOT_FOUND);
            let answer = get(
                &format!("/api/organization/{header}"),
                Some(("TR-Organization", header)),
            )
            .await;
            assert_message(&answer, StatusCode::NOT_FOUND, NOT_FOUND);
        }
        // Both visible, but not the same: the header must name the path's organization.
        let answer = get(&path, Some(("TR-Organization", &second))).await;
        assert_message(&answer, StatusCode::BAD_REQUEST, MISMATCH);
        let answer = get(
            &format!("/api/organization/{theirs}"),
            Some(("TR-Organization", &mine)),
        )
        .await;
        assert_message(&answer, StatusCode::BAD_REQUEST, MISMATCH);
        // A path that names no organization at all is a 400 too.
        let answer = get("/api/organization/nope", Some(("TR-Organization", &mine))).await;
        assert_trieve_error(&answer, StatusCode::BAD_REQUEST);
        assert!(answer.body["message"]
            .as_str()
            .unwrap()
            .starts_with("organization_id: "));

        // The same rules hold on every route that names an organization.
        for route in ["/api/organization/usage", "/api/organization/users"] {
            let answer = get(
                &format!("{route}/{mine}"),
                Some(("TR-Organization", &second)),
            )
            .await;
            assert_message(&answer, StatusCode::BAD_REQUEST, MISMATCH);
            let answer = get(&format!("{route}/{mine}"), None).await;
            assert_message(&answer, StatusCode::BAD_REQUEST, NOT_A_UUID);
        }
        let answer = trieve
            .send(
                trieve
                    .request(Method::PUT, "/api/organization", None)
                    .json(&json!({})),
            )
            .await;
        assert_message(&answer, StatusCode::BAD_REQUEST, NOT_A_UUID);
        let answer = trieve.put("/api/organization", &theirs, &json!({})).await;
        assert_message(&answer, StatusCode::NOT_FOUND, NOT_FOUND);
        // Creating needs none, but one that is sent must hold.
        let answer = trieve
            .send(
                trieve
                    .request(Method::POST, "/api/organization", Some("nope"))
                    .json(&json!({ "name": "Acme" })),
            )
            .await;
        assert_message(&answer, StatusCode::BAD_REQUEST, NOT_A_UUID);
    }
);

both!(
    the_key_comes_bare_or_bearer_in_authorization_or_x_api_key,
    |app| async move {
        let agency = app.agency().create().await;
        let org = uuid_of(&app.tenant().of(&agency).create().await.id);
        let key = agency.client.key();
        let trieve = Trieve::new(&app, key);
        let path = format!("/api/organization/{org}");
        let bearer = format!("Bearer {key}");
        for (name, value) in [
            ("Authorization", key),
            ("Authorization", bearer.as_str()),
            ("X-API-KEY", key),
            ("x-api-key", bearer.as_str()),
        ] {
            let answer = trieve
                .send(
                    trieve
                        .bare_request(Method::GET, &path)
                        .header("TR-Organization", &org)
                        .header(name, value),
                )
                .await;
            answer.assert_status(StatusCode::OK);
        }
        // No key, a wrong one, or a wrong `Authorization` beside a right `X-API-KEY`.
        for headers in [
            vec![],
            vec![("Authorization", "wrong")],
            vec![("X-API-KEY", "wrong")],
            vec![("Authorization", "Basic abc"), ("X-API-KEY", key)],
        ] {
            let mut request = trieve
                .bare_request(Method::GET, &path)
                .header("TR-Organization", &org);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            assert_message(
                &trieve.send(request).await,
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
            );
        }
    }
);

both!(every_status_is_a_message, |app| async move {
    let agency = app.agency().create().await;
    let trieve = Trieve::new(&app, agency.client.key());
    let post = |content_type: Option<&str>, body: String| {
        let mut request = trieve.request(Method::POST, "/api/organization", None);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        trieve.send(request.body(body))
    };
    let json = Some("application/json");

    // 400: Trieve's deserialization message, naming what kind of failure it was.
    for (content_type, body, kind) in [
        (json, "{\"name\":", "EOF"),
        (json, "{\"name\" 1}", "Syntax"),
        (json, "{\"name\": 5}", "Data"),
        (json, "{}", "Data"),
        (Some("text/plain"), "{\"name\": \"Acme\"}", "ContentType"),
    ] {
        let answer = post(content_type, body.to_owned()).await;
        assert_trieve_error(&answer, StatusCode::BAD_REQUEST);
        let message = answer.body["message"].as_str().unwrap();
        let prefix = format!("Json Deserialization Error: *Type* : {kind} | *Message* : ");
        assert!(message.starts_with(&prefix), "{body}: {message}");
        assert_eq!(message.matches(" | ").count(), 2, "{message}");
    }
    let missing = post(json, "{}".to_owned()).await;
    assert!(
        missing.body["message"].as_str().unwrap().contains("name"),
        "{}",
        missing.text
    );
    // Like Trieve, a body without a Content-Type is read as JSON.
    post(None, "{\"name\": \"Plain\"}".to_owned())
        .await
        .assert_status(StatusCode::OK);

    // 401, 404 (also unknown routes below the prefix), 405 and 413.
    let anonymous = trieve.bare_request(Method::GET, "/api/organization/x");
    assert_message(
        &trieve.send(anonymous).await,
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
    );
    for path in [
        "/api/organization/a/b/c",
        "/api/organization/usage",
        "/api/organizations/x",
    ] {
        let answer = trieve.send(trieve.request(Method::GET, path, None)).await;
        if path.starts_with("/api/organizations") {
            // Not Trieve's: v1's problem+json.
            answer.assert_problem(StatusCode::NOT_FOUND, "route_not_found");
            continue;
        }
        if path == "/api/organization/usage" {
            // `usage` is an organization id that is not one.
            assert_trieve_error(&answer, StatusCode::BAD_REQUEST);
            continue;
        }
        assert_trieve_error(&answer, StatusCode::NOT_FOUND);
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.starts_with("Not Found: "), "{message}");
    }
    let patch = trieve.request(Method::PATCH, "/api/organization", None);
    assert_trieve_error(&trieve.send(patch).await, StatusCode::METHOD_NOT_ALLOWED);
    let unknown_method = trieve.bare_request(Method::PATCH, "/api/organization/x/y");
    assert_trieve_error(&trieve.send(unknown_method).await, StatusCode::NOT_FOUND);
    let huge = format!("{{\"name\": \"{}\"}}", "a".repeat(1024 * 1024 + 1));
    assert_trieve_error(&post(json, huge).await, StatusCode::PAYLOAD_TOO_LARGE);

    // v1 keeps its own shape for the same failures.
    app.anonymous()
        .get("/api/v1/tenants")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
});

both!(
    a_rate_limit_refusal_is_a_message,
    Settings::rate_limited_by(RateLimitConfig::default().with_default(RatePolicy::ApiStandard, 1)),
    |app| async move {
        let trieve = Trieve::new(&app, app.master_key());
        let org = uuid_of(&app.tenant().create().await.id);
        let path = format!("/api/organization/{org}");
        trieve.get(&path, &org).await.assert_status(StatusCode::OK);
        let refused = trieve.get(&path, &org).await;
        assert_trieve_error(&refused, StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.header("retry-after").is_some());
        // Refused outside the dialect's router too: failed keys spend their address's budget.
        let anonymous = || trieve.send(trieve.bare_request(Method::GET, &path));
        assert_message(&anonymous().await, StatusCode::UNAUTHORIZED, "Unauthorized");
        let refused = anonymous().await;
        assert_trieve_error(&refused, StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.header("retry-after").is_some());
    }
);

both!(
    a_failure_on_our_side_is_a_message_that_tells_nothing,
    |app| async move {
        let agency = app.agency().create().await;
        let org = uuid_of(&app.tenant().of(&agency).create().await.id);
        let trieve = Trieve::new(&app, agency.client.key());
        let path = format!("/api/organization/usage/{org}");
        let db = app.db();
        db.run_sql("ALTER TABLE tenant_counters RENAME TO tenant_counters_away")
            .await;
        let failed = trieve.get(&path, &org).await;
        db.run_sql("ALTER TABLE tenant_counters_away RENAME TO tenant_counters")
            .await;
        assert_trieve_error(&failed, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!failed.text.contains("tenant_counters"), "{}", failed.text);
        trieve.get(&path, &org).await.assert_status(StatusCode::OK);
    }
);

//! What every route shares: request ids, problem answers for unknown routes and methods,
//! idempotent POSTs, and the operations endpoints.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both;
use crate::support::Client;

async fn post_with_key(
    client: &Client,
    key: &str,
    body: &serde_json::Value,
) -> crate::support::Answer {
    client
        .send(
            client
                .request(Method::POST, "/api/v1/tenants")
                .header("idempotency-key", key)
                .json(body),
        )
        .await
}

both!(
    an_idempotent_post_replays_its_first_answer,
    |app| async move {
        let platform = app.platform();
        let body = json!({ "name": "Once", "slug": "once" });
        let first = post_with_key(&platform, "create-once", &body).await;
        first.assert_status(StatusCode::CREATED);
        assert_eq!(first.header("idempotent-replayed"), None);

        let again = post_with_key(&platform, "create-once", &body).await;
        again.assert_status(StatusCode::CREATED);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.id(), first.id());
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("location"), first.header("location"));
        assert_eq!(again.header("etag"), first.header("etag"));
        assert!(again.header("location").is_some());
        assert_eq!(platform.tenant_ids().await, [first.id()]);

        let other = post_with_key(&platform, "create-once", &json!({ "name": "Twice" })).await;
        other.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
        assert_eq!(platform.tenant_ids().await, [first.id()]);

        // Keys belong to their caller: another caller may use the same one.
        let agency = app.agency().create().await;
        let theirs =
            post_with_key(&agency.client, "create-once", &json!({ "name": "Theirs" })).await;
        theirs.assert_status(StatusCode::CREATED);
        assert_ne!(theirs.id(), first.id());

        // A refusal is replayed too, and does not run again.
        let refused = post_with_key(&platform, "bad-once", &json!({ "name": "" })).await;
        refused.assert_invalid("name");
        let replayed = post_with_key(&platform, "bad-once", &json!({ "name": "" })).await;
        replayed.assert_invalid("name");
        assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    }
);

both!(every_answer_carries_a_request_id, |app| async move {
    let platform = app.platform();
    let answers = [
        app.anonymous().get("/healthz").await,
        app.anonymous().get("/no/such/route").await,
        app.anonymous().get("/api/v1/tenants").await,
        platform.get("/api/v1/tenants").await,
        platform
            .post("/api/v1/tenants", &json!({ "name": "" }))
            .await,
        platform.delete("/api/v1/tenants").await,
    ];
    let mut ids: Vec<_> = answers
        .iter()
        .map(|a| {
            a.header("x-request-id")
                .unwrap_or_else(|| panic!("no x-request-id on {} {}", a.status, a.text))
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), answers.len(), "request ids are unique");

    let given = app
        .anonymous()
        .send(
            app.anonymous()
                .request(Method::GET, "/healthz")
                .header("x-request-id", "trace-me-42"),
        )
        .await;
    assert_eq!(given.header("x-request-id"), Some("trace-me-42"));
});

both!(unknown_routes_and_methods_are_problems, |app| async move {
    let platform = app.platform();
    for path in ["/nope", "/api/v1/nope", "/api/v2/tenants"] {
        platform
            .get(path)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "route_not_found");
    }
    for (method, path) in [
        (Method::DELETE, "/api/v1/tenants"),
        (Method::PUT, "/api/v1/tenants"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/api/v1/plans"),
    ] {
        platform
            .send(platform.request(method, path))
            .await
            .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
});

both!(health_readiness_and_metrics_answer, |app| async move {
    let anonymous = app.anonymous();
    let health = anonymous.get("/healthz").await;
    health.assert_status(StatusCode::OK);
    assert_eq!(health.body, json!({ "status": "ok" }));
    let ready = anonymous.get("/readyz").await;
    ready.assert_status(StatusCode::OK);
    assert_eq!(ready.body, json!({ "status": "ready" }));

    app.platform()
        .get("/api/v1/plans")
        .await
        .assert_status(StatusCode::OK);
    let metrics = anonymous.get("/metrics").await;
    metrics.assert_status(StatusCode::OK);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let counted = metrics.text.lines().any(|line| {
        line.starts_with("http_requests_total{")
            && line.contains("route=\"/api/v1/plans\"")
            && line.contains("method=\"GET\"")
            && line.contains("status=\"2xx\"")
    });
    assert!(counted, "no request counter in\n{}", metrics.text);
    assert!(metrics
        .text
        .contains("http_request_duration_seconds_bucket"));
});

both!(docs_and_the_spec_are_served, |app| async move {
    let anonymous = app.anonymous();
    let docs = anonymous.get("/docs/").await;
    docs.assert_status(StatusCode::OK);
    assert!(docs
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let spec = anonymous.get("/openapi.json").await;
    spec.assert_status(StatusCode::OK);
    assert!(
        spec.body["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        spec.body["openapi"]
    );
    assert_eq!(
        spec.body,
        serde_json::to_value(tenantry::http::openapi()).unwrap(),
        "the served spec is the generated one"
    );
});

both!(
    single_objects_carry_an_etag_that_follows_changes,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let path = format!("/api/v1/tenants/{}", tenant.id);
        let first = agency.client.get(&path).await;
        let tag = first.header("etag").expect("an ETag").to_owned();
        assert!(
            tag.starts_with('"') && tag.ends_with('"'),
            "a strong ETag: {tag}"
        );
        assert_eq!(
            agency.client.get(&path).await.header("etag"),
            Some(tag.as_str())
        );
        agency
            .client
            .patch(&path, &json!({ "metadata": { "k": "v" } }))
            .await
            .assert_status(StatusCode::OK);
        assert_ne!(
            agency.client.get(&path).await.header("etag"),
            Some(tag.as_str())
        );
        for path in [
            "/api/v1/agency".to_owned(),
            format!("/api/v1/agencies/{}", agency.id),
            "/api/v1/plans/free".to_owned(),
        ] {
            assert!(
                agency.client.get(&path).await.header("etag").is_some(),
                "{path}"
            );
        }
    }
);

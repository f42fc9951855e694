//! Agencies: managed by the platform, each agency key sees only its own.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both;

both!(
    the_platform_creates_reads_and_changes_agencies,
    |app| async move {
        let platform = app.platform();
        let created = platform
            .post(
                "/api/v1/agencies",
                &json!({ "name": "Reseller", "markupPercent": 25, "metadata": { "region": "eu" } }),
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        let id = created.id();
        assert!(id.starts_with("agn_") && id.len() == 30, "{id}");
        assert_eq!(created.body["name"], "Reseller");
        assert_eq!(created.body["markupPercent"], 25);
        assert_eq!(created.body["metadata"], json!({ "region": "eu" }));
        assert!(created.header("etag").is_some());

        let path = format!("/api/v1/agencies/{id}");
        let read = platform.get(&path).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body, created.body);
        let etag = read.header("etag").expect("an ETag").to_owned();

        let uuid: tenantry::domain::ids::AgencyId = id.parse().unwrap();
        let by_uuid = platform.get(&format!("/api/v1/agencies/{}", uuid.0)).await;
        assert_eq!(by_uuid.body, created.body);

        let changed = platform
            .send(
                platform
                    .request(Method::PATCH, &path)
                    .header("if-match", &etag)
                    .json(&json!({ "name": "Reseller Ltd" })),
            )
            .await;
        changed.assert_status(StatusCode::OK);
        assert_eq!(changed.body["name"], "Reseller Ltd");
        assert_eq!(changed.body["markupPercent"], 25);
        let stale = platform
            .send(
                platform
                    .request(Method::PATCH, &path)
                    .header("if-match", &etag)
                    .json(&json!({ "name": "Lost" })),
            )
            .await;
        stale.assert_problem(StatusCode::PRECONDITION_FAILED, "precondition_failed");
        assert_eq!(platform.get(&path).await.body["name"], "Reseller Ltd");

        platform
            .get(&format!(
                "/api/v1/agencies/{}",
                tenantry::domain::ids::AgencyId::generate()
            ))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        platform
            .get("/api/v1/agencies/agn_123")
            .await
            .assert_invalid("agencyId");
    }
);

both!(agencies_list_with_cursors, |app| async move {
    let mut made = Vec::new();
    for name in ["One", "Two", "Three"] {
        made.push(app.agency().name(name).create().await.id);
    }
    let walked = app.platform().walk("/api/v1/agencies?limit=2").await;
    let ids: Vec<_> = walked.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, made);
    app.platform()
        .get("/api/v1/agencies?limit=0")
        .await
        .assert_invalid("limit");
    app.platform()
        .get("/api/v1/agencies?cursor=zzz")
        .await
        .assert_invalid("cursor");
});

both!(bad_agency_input_is_refused, |app| async move {
    let platform = app.platform();
    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "a".repeat(256) }), "name"),
        (json!({ "name": "A", "markupPercent": -1 }), "markupPercent"),
        (
            json!({ "name": "A", "markupPercent": 1001 }),
            "markupPercent",
        ),
        (json!({ "name": "A", "colour": "red" }), "colour"),
        (json!({}), "name"),
    ] {
        platform
            .post("/api/v1/agencies", &body)
            .await
            .assert_invalid(field);
    }
    assert!(platform.walk("/api/v1/agencies").await.is_empty());

    let agency = app.agency().create().await;
    let path = format!("/api/v1/agencies/{}", agency.id);
    platform
        .patch(&path, &json!({ "name": null }))
        .await
        .assert_invalid("name");
    platform
        .patch(&path, &json!({ "markupPercent": 5000 }))
        .await
        .assert_invalid("markupPercent");
    assert_eq!(platform.get(&path).await.body, agency.body);
});

both!(an_agency_key_sees_only_its_own_agency, |app| async move {
    let a = app.agency().name("A").create().await;
    let b = app.agency().name("B").create().await;

    let own = a.client.get("/api/v1/agency").await;
    own.assert_status(StatusCode::OK);
    assert_eq!(own.body, a.body);
    a.client
        .get(&format!("/api/v1/agencies/{}", a.id))
        .await
        .assert_status(StatusCode::OK);
    let theirs = format!("/api/v1/agencies/{}", b.id);
    a.client
        .get(&theirs)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    a.client
        .patch(&theirs, &json!({ "name": "Mine" }))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    for answer in [
        a.client.get("/api/v1/agencies").await,
        a.client
            .post("/api/v1/agencies", &json!({ "name": "New" }))
            .await,
        a.client
            .patch(
                &format!("/api/v1/agencies/{}", a.id),
                &json!({ "markupPercent": 99 }),
            )
            .await,
    ] {
        answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(a.client.get("/api/v1/agency").await.body, a.body);

    let tenant = app.tenant().of(&a).create().await;
    tenant
        .client
        .get("/api/v1/agency")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    tenant
        .client
        .get(&format!("/api/v1/agencies/{}", a.id))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.platform()
        .get("/api/v1/agency")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
});

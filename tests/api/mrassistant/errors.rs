//! Every error under MrAssistant's paths is FastAPI's, whichever layer answers it, and none
//! of its shapes reaches v1.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{assert_fastapi_error, uuid_of};
use crate::both;
use crate::support::Settings;

both!(
    unknown_paths_wrong_methods_and_large_bodies_answer_in_fastapi_shape,
    |app| async move {
        let tenant = app.tenant().create().await;
        let path = format!("/tenants/{}", uuid_of(&tenant.id));
        for unknown in ["/tenants/a/b/c", "/admin/nothing", "/analytics/tenants"] {
            let answer = app.platform().get(unknown).await;
            assert_fastapi_error(&answer, StatusCode::NOT_FOUND);
        }
        let wrong_method = app.platform().patch(&path, &json!({})).await;
        assert_fastapi_error(&wrong_method, StatusCode::METHOD_NOT_ALLOWED);
        let large = format!("{{\"name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let too_large = app
            .platform()
            .raw(Method::PUT, &path, "application/json", &large)
            .await;
        assert_fastapi_error(&too_large, StatusCode::PAYLOAD_TOO_LARGE);
        let no_key = app.anonymous().get("/admin/tenants").await;
        assert_fastapi_error(&no_key, StatusCode::UNAUTHORIZED);
        // v1 keeps its problem+json, on the same server.
        let v1 = app.platform().get("/api/v1/no-such-route").await;
        v1.assert_problem(StatusCode::NOT_FOUND, "route_not_found");
        let v1_method = app
            .platform()
            .put(&format!("/api/v1/tenants/{}", tenant.id), &json!({}))
            .await;
        v1_method.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
);

both!(
    a_spent_rate_limit_is_a_fastapi_429_with_retry_after,
    Settings::rate_limited(),
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "apiStandardPerMinute": 1 }))
            .create()
            .await;
        let path = format!("/tenants/{}", uuid_of(&tenant.id));
        tenant.client.get(&path).await.assert_status(StatusCode::OK);
        let refused = tenant.client.get(&path).await;
        assert_fastapi_error(&refused, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            refused.header("retry-after").is_some(),
            "{:?}",
            refused.headers
        );
        // The same spent budget refuses v1 in its own shape.
        let v1 = tenant.client.get("/api/v1/plans/free").await;
        v1.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded");
    }
);

both!(
    a_failure_on_our_side_is_a_fastapi_500_that_tells_nothing,
    |app| async move {
        let tenant = app.tenant().create().await;
        let path = format!("/tenants/{}/stats", uuid_of(&tenant.id));
        let db = app.db();
        db.run_sql("ALTER TABLE usage_daily RENAME TO usage_daily_away")
            .await;
        let failed = app.platform().get(&path).await;
        db.run_sql("ALTER TABLE usage_daily_away RENAME TO usage_daily")
            .await;
        assert_fastapi_error(&failed, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!failed.text.contains("usage_daily"), "{}", failed.text);
        app.platform()
            .get(&path)
            .await
            .assert_status(StatusCode::OK);
    }
);

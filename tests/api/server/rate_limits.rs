//! Request-rate limits: GCRA budgets per key (per client address without one), per route
//! class, scaled by plan and overridden per tenant, in memory or shared through Redis.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry::domain::rate_limit::RatePolicy;
use tenantry::http::rate_limit::RateLimitConfig;

use crate::both;
use crate::support::process::{replicas_turn, Served};
use crate::support::redis::{closed_port_url, fresh_prefix, test_redis};
use crate::support::{Answer, Settings, TestApp};

/// `(policy, limit, remaining)` from an answer's `X-RateLimit-*` headers.
fn budget(answer: &Answer) -> (String, i64, i64) {
    let number = |name: &str| {
        answer
            .header(name)
            .unwrap_or_else(|| panic!("no {name} on {} {}", answer.status, answer.text))
            .parse::<i64>()
            .expect("a whole number")
    };
    let policy = answer
        .header("x-ratelimit-policy")
        .unwrap_or_else(|| panic!("no X-RateLimit-Policy on {} {}", answer.status, answer.text));
    (
        policy.to_owned(),
        number("x-ratelimit-limit"),
        number("x-ratelimit-remaining"),
    )
}

fn assert_budget(answer: &Answer, policy: &str, limit: i64, remaining: i64) {
    assert_eq!(
        budget(answer),
        (policy.to_owned(), limit, remaining),
        "{} {}",
        answer.status,
        answer.text
    );
}

/// A 429 of `policy`, with `Retry-After` and the problem naming the policy and its limit.
fn assert_refused(answer: &Answer, policy: &str, limit: i64) {
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded");
    assert_eq!(answer.body["title"], "Rate Limit Exceeded");
    assert_eq!(answer.body["limit"], policy);
    assert_eq!(answer.body["limitValue"], limit);
    let detail = answer.body["detail"].as_str().expect("a detail");
    assert!(
        detail.contains(policy) && detail.contains(&limit.to_string()),
        "{detail}"
    );
    let retry_after: i64 = answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(
        (1..=60).contains(&retry_after),
        "retry after {retry_after} s"
    );
    assert_budget(answer, policy, limit, 0);
}

both!(
    headers_count_down_until_a_spent_budget_is_a_429_naming_its_policy,
    Settings::rate_limited(),
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "apiStandardPerMinute": 3 }))
            .create()
            .await;
        let key = &tenant.client;
        let first = key.get("/api/v1/plans/free").await;
        first.assert_status(StatusCode::OK);
        assert_budget(&first, "api-standard", 3, 2);
        let reset: i64 = first.header("x-ratelimit-reset").unwrap().parse().unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!(
            (now..=now + 61).contains(&reset),
            "reset {reset} is a Unix time within the minute"
        );
        // A 404 of a limited route spends and carries the headers too.
        let missing = key.get("/api/v1/plans/no-such-plan").await;
        missing.assert_status(StatusCode::NOT_FOUND);
        assert_budget(&missing, "api-standard", 3, 1);
        assert_budget(&key.get("/api/v1/plans/free").await, "api-standard", 3, 0);
        assert_refused(&key.get("/api/v1/plans/free").await, "api-standard", 3);
        // The budget is the key's: the platform's is untouched.
        let platform = app.platform().get("/api/v1/plans/free").await;
        platform.assert_status(StatusCode::OK);
        assert_budget(&platform, "api-standard", 120, 119);
    }
);

both!(
    writes_lists_and_single_reads_budget_apart,
    Settings::rate_limited(),
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({
                "apiWritePerMinute": 2,
                "apiReadHeavyPerMinute": 2,
                "apiStandardPerMinute": 2,
            }))
            .create()
            .await;
        let key = &tenant.client;
        let agents = tenant.path("/agents");
        let created = key.post(&agents, &json!({ "name": "One" })).await;
        created.assert_status(StatusCode::CREATED);
        assert_budget(&created, "api-write", 2, 1);
        let agent = tenant.path(&format!("/agents/{}", created.id()));
        let changed = key.patch(&agent, &json!({ "name": "Uno" })).await;
        changed.assert_status(StatusCode::OK);
        assert_budget(&changed, "api-write", 2, 0);
        let refused = key.post(&agents, &json!({ "name": "Two" })).await;
        assert_refused(&refused, "api-write", 2);
        // Nothing was created by the refused request.
        let listed = key.get(&agents).await;
        listed.assert_status(StatusCode::OK);
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
        assert_budget(&listed, "api-read-heavy", 2, 1);
        assert_budget(&key.get(&agents).await, "api-read-heavy", 2, 0);
        assert_refused(&key.get(&agents).await, "api-read-heavy", 2);
        // A single object is another class, still whole.
        let read = key.get(&agent).await;
        read.assert_status(StatusCode::OK);
        assert_budget(&read, "api-standard", 2, 1);
        // So is the data plane.
        let call = key
            .post(&tenant.path("/calls"), &json!({ "channel": "phone" }))
            .await;
        call.assert_status(StatusCode::CREATED);
        assert_eq!(budget(&call).0, "data-plane");
    }
);

both!(
    budgets_scale_with_the_plan_and_a_tenant_override_wins,
    Settings::rate_limited(),
    |app| async move {
        let budgets = |plan: &str| {
            let app = app.clone();
            let plan = plan.to_owned();
            async move {
                let tenant = app.tenant().plan(&plan).create().await;
                let effective = &tenant.body["effectiveLimits"];
                let read = tenant.client.get("/api/v1/plans/free").await;
                let write = tenant
                    .client
                    .post(&tenant.path("/agents"), &json!({ "name": "A" }))
                    .await;
                write.assert_status(StatusCode::CREATED);
                assert_eq!(effective["apiStandardPerMinute"], budget(&read).1);
                assert_eq!(effective["apiWritePerMinute"], budget(&write).1);
                (budget(&read).1, budget(&write).1)
            }
        };
        assert_eq!(budgets("starter").await, (60, 20));
        assert_eq!(budgets("free").await, (60, 20));
        assert_eq!(budgets("business").await, (300, 120));
        // A plan that sets no budget spends the server's defaults (Professional's).
        let custom = app
            .platform()
            .post(
                "/api/v1/plans",
                &json!({ "code": "custom", "name": "Custom", "amountCents": 0, "entitlements": {} }),
            )
            .await;
        custom.assert_status(StatusCode::CREATED);
        let tenant = app.tenant().plan("custom").create().await;
        assert_eq!(
            tenant.body["effectiveLimits"]["apiWritePerMinute"],
            json!(null)
        );
        let read = tenant.client.get("/api/v1/plans/free").await;
        assert_budget(&read, "api-standard", 120, 119);
        // A tenant's own value wins over its plan's.
        let overridden = app
            .tenant()
            .plan("starter")
            .limits(json!({ "apiWritePerMinute": 7 }))
            .create()
            .await;
        let write = overridden
            .client
            .post(&overridden.path("/agents"), &json!({ "name": "A" }))
            .await;
        assert_budget(&write, "api-write", 7, 6);
        // Budgets are limits like the others: checked, and named when out of range.
        app.platform()
            .patch(
                &overridden.path(""),
                &json!({ "usageLimits": { "apiWritePerMinute": 0 } }),
            )
            .await
            .assert_invalid("usageLimits.apiWritePerMinute");
    }
);

both!(
    the_data_plane_is_not_held_to_the_write_budget,
    Settings::rate_limited(),
    |app| async move {
        // A free tenant may write 20 times a minute; its data plane sends far more.
        let tenant = app
            .tenant()
            .limits(json!({ "maxConcurrentCalls": 100 }))
            .create()
            .await;
        for _ in 0..30 {
            let call = tenant.admit("phone").await;
            tenant.end(&call, 30, 5, None).await;
        }
        let answer = tenant
            .client
            .post(&tenant.path("/calls"), &json!({ "channel": "phone" }))
            .await;
        answer.assert_status(StatusCode::CREATED);
        let (policy, limit, remaining) = budget(&answer);
        assert_eq!(policy, "data-plane");
        assert_eq!(limit, 3_000_000);
        assert!(remaining > 2_999_900, "{remaining}");
        let ingested = tenant.post_events(&[]).await;
        assert_eq!(budget(&ingested).0, "data-plane");
    }
);

/// Requests without a valid key from `address` (through the proxy the server trusts).
async fn anonymous_from(app: &TestApp, address: &str) -> Answer {
    let anonymous = app.anonymous();
    anonymous
        .send(
            anonymous
                .request(Method::GET, "/api/v1/plans/free")
                .header("x-forwarded-for", address),
        )
        .await
}

both!(
    requests_without_a_key_spend_their_client_address_budget,
    Settings::rate_limited_by(
        RateLimitConfig {
            trusted_proxies: vec![std::net::Ipv4Addr::LOCALHOST.into()],
            ..RateLimitConfig::default()
        }
        .with_default(RatePolicy::ApiStandard, 3)
    ),
    |app| async move {
        for remaining in [2, 1, 0] {
            let refused = anonymous_from(&app, "203.0.113.7").await;
            refused.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
            assert_budget(&refused, "api-standard", 3, remaining);
        }
        // Once the address's budget is spent, guessing keys is a 429.
        assert_refused(
            &anonymous_from(&app, "203.0.113.7").await,
            "api-standard",
            3,
        );
        // Another address has a budget of its own.
        let other = anonymous_from(&app, "198.51.100.1, 203.0.113.9").await;
        other.assert_status(StatusCode::UNAUTHORIZED);
        assert_budget(&other, "api-standard", 3, 2);
        // A valid key from the spent address spends the key's budget, not the address's.
        let platform = app.platform();
        let keyed = platform
            .send(
                platform
                    .request(Method::GET, "/api/v1/plans/free")
                    .header("x-forwarded-for", "203.0.113.7"),
            )
            .await;
        keyed.assert_status(StatusCode::OK);
        assert_budget(&keyed, "api-standard", 3, 2);
    }
);

both!(
    a_forwarded_address_is_ignored_from_an_untrusted_peer,
    Settings::rate_limited_by(RateLimitConfig::default().with_default(RatePolicy::ApiStandard, 2)),
    |app| async move {
        assert_budget(
            &anonymous_from(&app, "203.0.113.1").await,
            "api-standard",
            2,
            1,
        );
        assert_budget(
            &anonymous_from(&app, "203.0.113.2").await,
            "api-standard",
            2,
            0,
        );
        assert_refused(
            &anonymous_from(&app, "203.0.113.3").await,
            "api-standard",
            2,
        );
    }
);

both!(
    without_rate_limits_no_answer_carries_their_headers,
    |app| async move {
        let answer = app.platform().get("/api/v1/plans/free").await;
        answer.assert_status(StatusCode::OK);
        assert_eq!(answer.header("x-ratelimit-policy"), None);
    }
);

/// Rate limits shared through `redis_url` under `prefix`.
fn through_redis(redis_url: &str, prefix: &str) -> RateLimitConfig {
    RateLimitConfig {
        redis_url: Some(redis_url.to_owned()),
        redis_key_prefix: prefix.to_owned(),
        ..RateLimitConfig::default()
    }
}

both!(
    two_servers_on_one_redis_share_one_budget,
    |app| async move {
        let Some(redis) = test_redis().await else {
            return;
        };
        let tenant = app
            .tenant()
            .limits(json!({ "apiStandardPerMinute": 5 }))
            .create()
            .await;
        let _turn = replicas_turn().await;
        let shared = through_redis(&redis, &fresh_prefix());
        let a = Served::start_limited(&app, "warn", Some(&shared)).await;
        let b = Served::start_limited(&app, "warn", Some(&shared)).await;
        let key = tenant.client.key().to_owned();
        let mut remaining = Vec::new();
        for server in [&a, &a, &a, &b, &b] {
            let answer = server.client(&key).get("/api/v1/plans/free").await;
            answer.assert_status(StatusCode::OK);
            remaining.push(budget(&answer).2);
        }
        assert_eq!(remaining, [4, 3, 2, 1, 0]);
        assert_refused(
            &b.client(&key).get("/api/v1/plans/free").await,
            "api-standard",
            5,
        );
        assert_refused(
            &a.client(&key).get("/api/v1/plans/free").await,
            "api-standard",
            5,
        );
        // Another prefix is another set of budgets.
        let apart =
            Served::start_limited(&app, "warn", Some(&through_redis(&redis, &fresh_prefix())))
                .await;
        let answer = apart.client(&key).get("/api/v1/plans/free").await;
        assert_budget(&answer, "api-standard", 5, 4);
        for server in [a, b, apart] {
            let log = server.stop().await;
            assert!(!log.contains("Redis is unreachable"), "{log}");
        }
    }
);

both!(
    an_unreachable_redis_leaves_each_server_its_own_limits,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "apiStandardPerMinute": 2 }))
            .create()
            .await;
        let nowhere = through_redis(&closed_port_url().await, &fresh_prefix());
        let server = Served::start_limited(&app, "warn", Some(&nowhere)).await;
        let key = server.client(tenant.client.key());
        let mut remaining = Vec::new();
        for _ in 0..2 {
            let answer = key.get("/api/v1/plans/free").await;
            answer.assert_status(StatusCode::OK);
            remaining.push(budget(&answer).2);
        }
        assert_eq!(remaining, [1, 0]);
        assert_refused(&key.get("/api/v1/plans/free").await, "api-standard", 2);
        let log = server.stop().await;
        assert_eq!(
            log.matches("Redis is unreachable").count(),
            1,
            "one line per outage, not per request:\n{log}"
        );
    }
);

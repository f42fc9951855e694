//! `/metrics` cannot be grown by clients: whatever method and path they send, every label of
//! the HTTP metrics comes from a closed set. The recorder is shared by every server in the test
//! process, so the story checks membership, not counts.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};

use crate::both;

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other",
];
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Every route template the router has: each dialect's documented ones and its document, the
/// docs, and `unmatched`.
fn routes() -> HashSet<String> {
    let mut routes = HashSet::new();
    for (_, document_path, document) in tenantry::http::documents() {
        routes.extend(document.paths.paths.keys().cloned());
        routes.insert(document_path.to_owned());
    }
    for undocumented in ["/docs", "/docs/", "/docs/{*rest}", "unmatched"] {
        routes.insert(undocumented.to_owned());
    }
    routes
}

/// The `name="value"` labels of one exposition line.
fn labels(line: &str) -> Vec<(String, String)> {
    let Some(start) = line.find('{') else {
        return Vec::new();
    };
    let mut rest = &line[start + 1..];
    let mut labels = Vec::new();
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim_start_matches(',').to_owned();
        let value_start = &rest[eq + 2..];
        let end = value_start.find('"').expect("a closing quote");
        labels.push((name, value_start[..end].to_owned()));
        rest = &value_start[end + 1..];
    }
    labels
}

both!(
    made_up_methods_and_paths_do_not_grow_metrics,
    |app| async move {
        let anonymous = app.anonymous();
        for n in 0..40 {
            let method = Method::from_bytes(format!("M{n:06}QQQ").as_bytes()).expect("a method");
            let path = format!("/nope/{}", uuid::Uuid::new_v4());
            let answer = anonymous
                .send(anonymous.request(method.clone(), &path))
                .await;
            assert!(answer.status.is_client_error(), "{}", answer.status);
            let answer = anonymous
                .send(anonymous.request(method, "/api/v1/tenants"))
                .await;
            assert!(answer.status.is_client_error(), "{}", answer.status);
        }

        let metrics = anonymous.get("/metrics").await;
        metrics.assert_status(StatusCode::OK);
        let routes = routes();
        let mut saw_other = false;
        for line in metrics.text.lines().filter(|l| l.starts_with("http_")) {
            for (name, value) in labels(line) {
                let known = match name.as_str() {
                    "method" => METHODS.contains(&value.as_str()),
                    "route" => routes.contains(&value),
                    "status" => STATUS_CLASSES.contains(&value.as_str()),
                    _ => true,
                };
                assert!(
                    known,
                    "{name}=\"{value}\" is outside its closed set in\n{line}"
                );
            }
            saw_other |= line.starts_with("http_requests_total{")
                && line.contains("method=\"other\"")
                && line.contains("route=\"unmatched\"")
                && line.contains("status=\"4xx\"");
        }
        assert!(
            saw_other,
            "made-up methods are counted as other:\n{}",
            metrics.text
        );
    }
);

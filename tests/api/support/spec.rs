//! The OpenAPI documents the service serves, checked against the committed copies.

use crate::support::TestApp;

/// The generated document of `dialect`.
pub fn generated_spec(dialect: &str) -> utoipa::openapi::OpenApi {
    tenantry::http::documents()
        .into_iter()
        .find(|(name, _, _)| *name == dialect)
        .map(|(_, _, document)| document)
        .unwrap_or_else(|| panic!("no dialect {dialect}"))
}

/// The committed `file` (its text is `committed`) is exactly what the code generates.
#[track_caller]
pub fn assert_committed_spec(dialect: &str, file: &str, committed: &str) {
    let generated = generated_spec(dialect)
        .to_pretty_json()
        .expect("the spec serializes");
    if committed.trim_end() != generated.trim_end() {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(committed, generated)| committed != generated)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{file} is out of date with the code (first difference at line {}).\n\
             Regenerate it with: cargo run -q -- openapi --dialect {dialect} > {file}",
            line + 1
        );
    }
}

/// The document is served, without a key, where the dialect says.
pub async fn assert_spec_served(app: &TestApp, dialect: &str) {
    let (_, path, document) = tenantry::http::documents()
        .into_iter()
        .find(|(name, _, _)| *name == dialect)
        .unwrap_or_else(|| panic!("no dialect {dialect}"));
    let served = app.anonymous().get(path).await;
    served.assert_status(reqwest::StatusCode::OK);
    assert_eq!(
        served.body,
        serde_json::to_value(document).expect("the spec is JSON"),
        "{path}"
    );
}

//! The OpenAPI document: the committed `openapi.json` matches the code, and every documented
//! operation is served.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{assert_committed_spec, Answer, Client, TestApp};

#[test]
fn the_committed_spec_matches_the_code() {
    assert_committed_spec("v1", "openapi.json", include_str!("../../../openapi.json"));
}

fn spec() -> Value {
    serde_json::to_value(tenantry::http::openapi()).expect("the spec is JSON")
}

#[test]
fn the_spec_is_openapi_3_1_with_every_convention() {
    let spec = spec();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = &operation["responses"];
            for (status, response) in responses.as_object().unwrap() {
                for (media_type, content) in response["content"].as_object().into_iter().flatten() {
                    if content["schema"]["$ref"] == "#/components/schemas/Problem" {
                        assert_eq!(
                            media_type, "application/problem+json",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
            if !path.starts_with("/api/") {
                continue;
            }
            // Logging in and invitation links take no credentials and no idempotency key.
            let public = operation["security"] == serde_json::json!([{}]);
            let expected: &[&str] = if public {
                &["404", "422"]
            } else {
                &["401", "404", "422"]
            };
            for status in expected {
                assert!(
                    responses.get(status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
            let headers: Vec<_> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "header")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            if method == "post" && !public {
                assert!(headers.contains(&"Idempotency-Key"), "{method} {path}");
            }
            if method == "patch" {
                assert!(headers.contains(&"If-Match"), "{method} {path}");
                assert!(responses.get("412").is_some(), "{method} {path} lacks 412");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(
                        responses.get(status).is_some(),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }
}

/// A well-formed value for a path parameter, so the request reaches its handler.
fn placeholder(parameter: &str) -> String {
    use tenantry::domain::ids::*;
    match parameter {
        "tenantId" => TenantId::generate().to_string(),
        "agencyId" => AgencyId::generate().to_string(),
        "apiKeyId" => ApiKeyId::generate().to_string(),
        "planId" => "free".to_owned(),
        "agentId" => AgentId::generate().to_string(),
        "callId" => CallId::generate().to_string(),
        "phoneNumberId" => PhoneNumberId::generate().to_string(),
        "sipTrunkId" => SipTrunkId::generate().to_string(),
        "squadId" => SquadId::generate().to_string(),
        "workflowId" => WorkflowId::generate().to_string(),
        "integrationId" => IntegrationId::generate().to_string(),
        "fileId" => FileId::generate().to_string(),
        "recordingId" => RecordingId::generate().to_string(),
        "userId" => UserId::generate().to_string(),
        "invitationId" => InvitationId::generate().to_string(),
        "transferId" => TransferId::generate().to_string(),
        "webhookEndpointId" => WebhookEndpointId::generate().to_string(),
        "webhookDeliveryId" => WebhookDeliveryId::generate().to_string(),
        "token" => "tnt_inv_unknown".to_owned(),
        other => panic!("no placeholder for the path parameter {other}: add one"),
    }
}

/// The path parameters of a path template, in order.
fn parameters(template: &str) -> Vec<&str> {
    template
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// A path template with each parameter replaced by `value(parameter)`.
fn concrete(template: &str, value: impl Fn(&str) -> String) -> String {
    template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(parameter) => value(parameter),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Every documented operation with its methods.
fn operations() -> Vec<(String, Method)> {
    let mut operations = Vec::new();
    for (path, item) in spec()["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if let Ok(method) = method.to_uppercase().parse::<Method>() {
                operations.push((path.clone(), method));
            }
        }
    }
    operations
}

/// Sends `{}` as JSON to `path`, whatever the method.
async fn send_empty_object(client: &Client, method: &Method, path: &str) -> Answer {
    client
        .send(
            client
                .request(method.clone(), path)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await
}

/// Every documented operation exists: the router neither misses its path nor its method.
#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::sqlite().await;
    let platform = app.platform();
    for (path, method) in operations() {
        let concrete = concrete(&path, placeholder);
        {
            let answer = send_empty_object(&platform, &method, &concrete).await;
            assert_ne!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_ne!(answer.body["code"], "route_not_found", "{method} {path}");
            assert!(
                !answer.status.is_server_error(),
                "{method} {path}: {}",
                answer.text
            );
        }
    }
    app.finish().await;
}

/// Bytes that are not UTF-8 in any path parameter are the client's mistake: a 422 naming that
/// parameter, on every operation that takes one.
#[tokio::test]
async fn invalid_utf8_in_any_path_parameter_is_a_422_naming_it() {
    let app = TestApp::sqlite().await;
    let platform = app.platform();
    let mut checked = 0;
    for (path, method) in operations() {
        for broken in parameters(&path) {
            let concrete = concrete(&path, |parameter| {
                if parameter == broken {
                    "%FF%FEab".to_owned()
                } else {
                    placeholder(parameter)
                }
            });
            let answer = send_empty_object(&platform, &method, &concrete).await;
            answer.assert_invalid(broken);
            assert_eq!(answer.field_code(broken).as_deref(), Some("invalid_id"));
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} operations take a path parameter"
    );
    app.finish().await;
}

/// Every time or date a client sends is read as a `Time` or a `Date` (years 2000 to 9999). A
/// request type that takes a chrono type directly shows here as a bare `date-time` or `date`.
#[test]
fn every_time_a_client_sends_is_bounded() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let mut seen = std::collections::HashSet::new();
    let mut unbounded = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let at = format!("{method} {path} {}", parameter["name"]);
                find_unbounded(
                    &parameter["schema"],
                    schemas,
                    &at,
                    &mut seen,
                    &mut unbounded,
                );
            }
            let body = &operation["requestBody"]["content"]["application/json"]["schema"];
            let at = format!("{method} {path} body");
            find_unbounded(body, schemas, &at, &mut seen, &mut unbounded);
        }
    }
    assert!(
        unbounded.is_empty(),
        "use BoundedTime or BoundedDate for: {unbounded:?}"
    );
}

fn find_unbounded(
    schema: &Value,
    schemas: &Value,
    at: &str,
    seen: &mut std::collections::HashSet<String>,
    unbounded: &mut Vec<String>,
) {
    if !schema.is_object() {
        return;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        if !matches!(name, "Time" | "Date") && seen.insert(name.to_owned()) {
            find_unbounded(&schemas[name], schemas, name, seen, unbounded);
        }
        return;
    }
    if matches!(schema["format"].as_str(), Some("date-time" | "date")) {
        unbounded.push(at.to_owned());
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        find_unbounded(property, schemas, &format!("{at}.{name}"), seen, unbounded);
    }
    for nested in ["items", "additionalProperties"] {
        find_unbounded(&schema[nested], schemas, at, seen, unbounded);
    }
    for list in ["oneOf", "anyOf", "allOf"] {
        for (i, option) in schema[list].as_array().into_iter().flatten().enumerate() {
            find_unbounded(
                option,
                schemas,
                &format!("{at}/{list}[{i}]"),
                seen,
                unbounded,
            );
        }
    }
}

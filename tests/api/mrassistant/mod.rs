//! Stories of the MrAssistant dialect.

use crate::both;
use crate::support::{assert_committed_spec, assert_spec_served};

#[test]
fn the_committed_spec_matches_the_code() {
    assert_committed_spec(
        "mrassistant",
        "openapi/mrassistant.json",
        include_str!("../../../openapi/mrassistant.json"),
    );
}

both!(its_spec_is_served_without_a_key, |app| async move {
    assert_spec_served(&app, "mrassistant").await;
});

mod errors;
mod tenants;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::Answer;

/// The plain UUID of a TypeID, as MrAssistant's paths and bodies show ids.
pub fn uuid_of(id: &str) -> String {
    use tenantry::domain::ids::{TenantId, TypedId};
    id.parse::<TenantId>()
        .expect("a tenant id")
        .uuid()
        .to_string()
}

/// FastAPI's error: this status, JSON (never problem+json), and `detail` a list for a 422 or
/// a string otherwise.
#[track_caller]
pub fn assert_fastapi_error(answer: &Answer, status: StatusCode) {
    answer.assert_status(status);
    let content_type = answer.header("content-type").unwrap_or_default();
    assert_eq!(content_type, "application/json", "{}", answer.text);
    let object = answer.body.as_object().expect("a JSON object");
    assert_eq!(object.len(), 1, "only `detail`: {}", answer.text);
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        let items = answer.body["detail"].as_array().expect("a list of errors");
        assert!(!items.is_empty());
        for item in items {
            assert!(item["loc"].is_array() && item["msg"].is_string() && item["type"].is_string());
        }
    } else {
        assert!(answer.body["detail"].is_string(), "{}", answer.text);
    }
}

/// `actual` has exactly the documented fields, each of the documented JSON type; `nullable`
/// ones may also be `null`.
#[track_caller]
pub fn assert_shape(actual: &Value, documented: &Value, nullable: &[&str]) {
    let (actual, documented) = (actual.as_object().unwrap(), documented.as_object().unwrap());
    let keys = |map: &serde_json::Map<String, Value>| {
        let mut keys: Vec<String> = map.keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(actual), keys(documented), "the documented fields");
    for (field, example) in documented {
        let value = &actual[field];
        if value.is_null() && nullable.contains(&field.as_str()) {
            continue;
        }
        let same = match example {
            Value::Number(_) => value.is_number(),
            Value::String(_) => value.is_string(),
            Value::Bool(_) => value.is_boolean(),
            Value::Object(_) => value.is_object(),
            Value::Array(_) => value.is_array(),
            Value::Null => true,
        };
        assert!(same, "{field} is {value}, documented like {example}");
    }
}

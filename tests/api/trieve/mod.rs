//! Stories of the Trieve dialect: every request its documentation shows, replayed, with
//! Trieve's shapes, error bodies and header rules; and the published Python client driving it.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::both;
use crate::support::{assert_committed_spec, assert_spec_served, Answer, Client, TestApp};

mod errors;
mod organizations;
mod python_client;

#[test]
fn the_committed_spec_matches_the_code() {
    assert_committed_spec(
        "trieve",
        "openapi/trieve.json",
        include_str!("../../../openapi/trieve.json"),
    );
}

both!(its_spec_is_served_without_a_key, |app| async move {
    assert_spec_served(&app, "trieve").await;
});

/// A caller of the dialect as Trieve's clients call: the bare key in `Authorization`, and the
/// organization in `TR-Organization`.
#[derive(Clone)]
pub struct Trieve {
    http: reqwest::Client,
    base_url: String,
    key: String,
    /// Sends the requests (its own key is never used).
    sender: Client,
}

impl Trieve {
    pub fn new(app: &TestApp, key: &str) -> Trieve {
        Trieve {
            http: reqwest::Client::new(),
            base_url: app.base_url().to_owned(),
            key: key.to_owned(),
            sender: app.anonymous(),
        }
    }

    /// A request without any key.
    pub fn bare_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
    }

    /// A request with the bare key, in `organization` when one is named.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        organization: Option<&str>,
    ) -> RequestBuilder {
        let builder = self
            .bare_request(method, path)
            .header("Authorization", &self.key);
        match organization {
            Some(id) => builder.header("TR-Organization", id),
            None => builder,
        }
    }

    pub async fn send(&self, builder: RequestBuilder) -> Answer {
        self.sender.send(builder).await
    }

    pub async fn get(&self, path: &str, organization: &str) -> Answer {
        self.send(self.request(Method::GET, path, Some(organization)))
            .await
    }

    pub async fn delete(&self, path: &str, organization: &str) -> Answer {
        self.send(self.request(Method::DELETE, path, Some(organization)))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(Method::POST, path, None).json(body))
            .await
    }

    pub async fn put(&self, path: &str, organization: &str, body: &Value) -> Answer {
        self.send(
            self.request(Method::PUT, path, Some(organization))
                .json(body),
        )
        .await
    }
}

/// The plain UUID of a tenant's TypeID, as Trieve names organizations.
pub fn uuid_of(tenant_id: &str) -> String {
    let id: tenantry::domain::ids::TenantId = tenant_id.parse().expect("a tenant id");
    id.0.to_string()
}

/// A Trieve error: this status, `{"message": message}` as the whole JSON body, never a
/// problem+json.
#[track_caller]
pub fn assert_message(answer: &Answer, status: StatusCode, message: &str) {
    assert_trieve_error(answer, status);
    assert_eq!(answer.body["message"], message, "{}", answer.text);
}

/// A Trieve error of this status: `{"message": string}` and nothing else.
#[track_caller]
pub fn assert_trieve_error(answer: &Answer, status: StatusCode) {
    answer.assert_status(status);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{}",
        answer.text
    );
    let body = answer.body.as_object().expect("a JSON object");
    assert_eq!(body.len(), 1, "only `message` in {}", answer.text);
    assert!(body["message"].is_string(), "{}", answer.text);
}

/// A time in Trieve's `NaiveDateTime` form: no zone, a fraction of 3, 6 or 9 digits only when
/// it is not zero.
#[track_caller]
pub fn assert_naive_time(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is a string"));
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(
        chrono::NaiveDateTime::parse_from_str(seconds, "%Y-%m-%dT%H:%M:%S").is_ok(),
        "{text} is YYYY-MM-DDTHH:MM:SS"
    );
    assert!(
        fraction.is_empty()
            || ([3, 6, 9].contains(&fraction.len())
                && fraction.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().any(|b| b != b'0')),
        "{text} has a fraction of 3, 6 or 9 digits, not zero"
    );
}

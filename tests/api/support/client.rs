//! A client of the API holding one key, and the answers it gets with assertions that print
//! the whole answer when they fail.

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

/// A caller of the API: one base URL, one key (or none).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    key: Option<String>,
}

impl Client {
    pub(super) fn new(http: reqwest::Client, base_url: &str, key: Option<String>) -> Self {
        Self {
            http,
            base_url: base_url.to_owned(),
            key,
        }
    }

    /// A client of a server started elsewhere (e.g. by the binary).
    pub fn for_url(http: reqwest::Client, base_url: &str, key: &str) -> Self {
        Self::new(http, base_url, Some(key.to_owned()))
    }

    pub fn key(&self) -> &str {
        self.key.as_deref().expect("this client holds a key")
    }

    /// A request to `path`, authenticated with this client's key.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        match &self.key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    pub async fn send(&self, builder: RequestBuilder) -> Answer {
        let response = builder.send().await.expect("the server answers");
        Answer::read(response).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(Method::PATCH, path).json(body))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// A body sent as is, with the given content type.
    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: &str) -> Answer {
        let builder = self
            .request(method, path)
            .header("content-type", content_type)
            .body(body.to_owned());
        self.send(builder).await
    }

    /// The ids of every tenant this client can list, walking all pages.
    pub async fn tenant_ids(&self) -> Vec<String> {
        self.walk("/api/v1/tenants?limit=100")
            .await
            .iter()
            .map(|t| t["id"].as_str().expect("an id").to_owned())
            .collect()
    }

    /// Every item of a list, following `nextCursor` to the end.
    pub async fn walk(&self, path: &str) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items: Vec<Value> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut answer = self.get(path).await;
        loop {
            answer.assert_status(StatusCode::OK);
            for item in answer.body["data"].as_array().expect("data") {
                // A list that shows an object twice is broken, and would page for ever.
                let id = item["id"].to_string();
                assert!(seen.insert(id.clone()), "{path} listed {id} twice");
                items.push(item.clone());
            }
            match answer.body["nextCursor"].as_str() {
                Some(cursor) => {
                    answer = self.get(&format!("{path}{separator}cursor={cursor}")).await;
                }
                None => return items,
            }
        }
    }
}

/// What the server answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `null` when it is not JSON.
    pub body: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) -> &Self {
        assert_eq!(
            self.status, status,
            "expected {status}, got {} with {}",
            self.status, self.text
        );
        self
    }

    /// A problem+json answer with this status and `code`.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert_eq!(self.body["status"], status.as_u16(), "{}", self.text);
        for member in ["type", "title", "detail"] {
            assert!(
                self.body[member].is_string(),
                "no {member} in {}",
                self.text
            );
        }
        self
    }

    /// A refusal by a limit: this status and `code`, naming the limit, its value and the
    /// usage measured against it.
    #[track_caller]
    pub fn assert_limit(
        &self,
        status: StatusCode,
        code: &str,
        limit: &str,
        value: i64,
        current: i64,
    ) -> &Self {
        self.assert_problem(status, code);
        assert_eq!(self.body["limit"], limit, "{}", self.text);
        assert_eq!(self.body["limitValue"], value, "{}", self.text);
        assert_eq!(self.body["current"], current, "{}", self.text);
        self
    }

    /// A 422 `validation_failed` naming `field`.
    #[track_caller]
    pub fn assert_invalid(&self, field: &str) -> &Self {
        self.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(
            self.fields().iter().any(|f| f == field),
            "expected an error on {field}, got {}",
            self.text
        );
        self
    }

    /// The fields named in `errors[]`.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `code` given for `field` in `errors[]`.
    pub fn field_code(&self, field: &str) -> Option<String> {
        self.body["errors"]
            .as_array()?
            .iter()
            .find(|e| e["field"] == field)
            .and_then(|e| e["code"].as_str())
            .map(str::to_owned)
    }

    /// The `id` of the returned object.
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
            .to_owned()
    }
}

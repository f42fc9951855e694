//! Extractors that own their rejections: malformed input becomes the same problem+json as
//! every other error, naming the field (`serde_path_to_error`).

use axum::body::{Body, Bytes};
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::connection::BodyTimeout;
use super::error::ApiError;
use super::strict_json::Strict;
use crate::domain::ids::{self, PathKey};
use crate::domain::validation::{value_code, FieldError};
use crate::service::Error;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// JSON in (checked, naming the bad field) and out.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read_body(req.into_body()).await?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a whole request body: the one place where its size limit and its deadline (set by
/// `connection`) become answers.
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|error| {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(current) = cause {
                if let Some(BodyTimeout(after)) = current.downcast_ref() {
                    return ApiError::BodyTimeout(*after);
                }
                if current.is::<http_body_util::LengthLimitError>() {
                    return ApiError::PayloadTooLarge(BODY_LIMIT);
                }
                cause = current.source();
            }
            ApiError::MalformedJson(format!("the request body could not be read: {error}"))
        })
}

/// Parses JSON: syntax errors are 400; wrong shapes are 422 naming the field. Bodies are read
/// as their schema describes them (see [`Strict`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::MalformedJson(strip_position(&e.to_string())))?;
    reject_nul_characters(&value)?;
    serde_path_to_error::deserialize(Strict(&value)).map_err(|error| {
        let path = error.path().to_string();
        data_error(&path, &strip_position(&error.into_inner().to_string()))
    })
}

/// PostgreSQL stores no NUL character in text or JSON, so none is accepted anywhere.
fn reject_nul_characters(value: &serde_json::Value) -> Result<(), ApiError> {
    match path_to_nul(value) {
        Some(path) => Err(ApiError::field(
            if path.is_empty() { "body" } else { &path },
            "invalid_character",
            "must not contain NUL characters",
        )),
        None => Ok(()),
    }
}

/// The JSON path of the first string (or key) holding a NUL character.
fn path_to_nul(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => text.contains('\0').then(String::new),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| path_to_nul(item).map(|rest| format!("[{i}]{}", dotted(&rest)))),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(key.replace('\0', ""));
            }
            path_to_nul(item).map(|rest| format!("{key}{}", dotted(&rest)))
        }),
        _ => None,
    }
}

fn dotted(rest: &str) -> String {
    if rest.is_empty() || rest.starts_with('[') {
        rest.to_owned()
    } else {
        format!(".{rest}")
    }
}

/// serde says "missing field `x`" at the parent's path; name the field itself.
fn data_error(path: &str, message: &str) -> ApiError {
    Error::Invalid(vec![FieldError::from_serde(path, message)]).into()
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters, checked like bodies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        if let Some((key, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(key, value)| key.contains('\0') || value.contains('\0'))
        {
            return Err(ApiError::field(
                &key.replace('\0', ""),
                "invalid_character",
                "must not contain NUL characters",
            ));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|error| {
                let field = error.path().to_string();
                let message = error.into_inner().to_string();
                let field = match message.strip_prefix("missing field `") {
                    Some(rest) => rest.split('`').next().unwrap_or("query").to_owned(),
                    None if field == "." => "query".to_owned(),
                    None => field,
                };
                ApiError::field(&field, value_code(&message), message)
            })
    }
}

/// One typed id from the path, under any of the names its type declares (`tenantId`,
/// `tenant_id`, …); a malformed one is a 422 naming the parameter.
pub struct PathId<T>(pub T);

impl<T: PathKey, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (name, raw) = raw_path_param(parts, state, T::PATH_PARAMS).await?;
        T::parse_path(&raw)
            .map(PathId)
            .map_err(|e: ids::IdParseError| ApiError::field(&name, "invalid_id", e.to_string()))
    }
}

/// The first path parameter named one of `names`, with its name, as text.
pub async fn raw_path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    names: &[&str],
) -> Result<(String, String), ApiError> {
    let internal = |message: String| ApiError::from(Error::Internal(anyhow::anyhow!(message)));
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|rejection| match rejection {
            // A client can send any bytes, percent-encoded, in a path segment.
            RawPathParamsRejection::InvalidUtf8InPathParam(invalid) => {
                // axum names the parameter only in its message: "Invalid UTF-8 in `key`".
                let text = invalid.body_text();
                let field = text.split('`').nth(1).unwrap_or(names[0]);
                ApiError::field(field, "invalid_id", "is not valid UTF-8")
            }
            other => internal(format!("path parameters: {other}")),
        })?;
    params
        .iter()
        .find(|(key, _)| names.contains(key))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| internal(format!("route lacks a {} parameter", names[0])))
}

/// The strong ETag of an object whose version is its `updated_at`.
pub fn etag(version: DateTime<Utc>) -> HeaderValue {
    let tag = format!("\"{:x}\"", version.timestamp_micros());
    HeaderValue::from_str(&tag).expect("hex digits are a valid header value")
}

/// `If-Match`: the version the client last saw. `*` or no header means "any".
#[derive(Debug, Clone, Copy, Default)]
pub struct IfMatch(pub Option<DateTime<Utc>>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value
            .to_str()
            .ok()
            .filter(|t| (1..=255).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::field(
                    "If-Match",
                    "invalid_header",
                    "must be an ETag this API returned, or *",
                )
            })?;
        if text == "*" {
            return Ok(IfMatch(None));
        }
        // A tag we never issued matches no version; the store answers 412 once the body is
        // known to be valid.
        let version = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|hex| i64::from_str_radix(hex, 16).ok())
            .and_then(DateTime::from_timestamp_micros)
            .unwrap_or(DateTime::UNIX_EPOCH);
        Ok(IfMatch(Some(version)))
    }
}

/// A single object with its ETag.
pub fn with_etag<T: Serialize>(version: DateTime<Utc>, body: T) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// 201 Created with the object and its ETag.
pub fn created<T: Serialize>(version: DateTime<Utc>, body: T) -> Response {
    let mut response = with_etag(version, body);
    *response.status_mut() = StatusCode::CREATED;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        mode: Option<Mode>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Fast,
    }

    fn refusal(json: &str) -> (StatusCode, Vec<String>) {
        let error = parse_json::<Body>(json.as_bytes()).expect_err(json);
        let fields = error.to_problem().errors.into_iter().map(|e| e.field);
        (error.status(), fields.collect())
    }

    #[test]
    fn wrong_types_name_their_field() {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        assert_eq!(
            refusal(r#"{"name": 1}"#),
            (unprocessable, vec!["name".into()])
        );
        // serde_json calls these syntax errors; the JSON is fine, the type is not.
        for body in [
            r#"{"name": "a", "mode": 5}"#,
            r#"{"name": "a", "mode": []}"#,
        ] {
            assert_eq!(
                refusal(body),
                (unprocessable, vec!["mode".into()]),
                "{body}"
            );
        }
    }

    #[test]
    fn a_body_is_an_object() {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        for body in [r#"["a"]"#, r#" ["a", "fast"]"#, "null", r#""a""#] {
            assert_eq!(
                refusal(body),
                (unprocessable, vec!["body".into()]),
                "{body}"
            );
        }
    }

    #[test]
    fn only_broken_json_is_malformed() {
        for body in [r#"{"name": "#, r#"{"name": "a"} x"#, "", r#"["a""#] {
            assert_eq!(refusal(body).0, StatusCode::BAD_REQUEST, "{body}");
        }
        assert!(parse_json::<Body>(br#"{"name": "a", "mode": "fast"}"#).is_ok());
    }

    #[test]
    fn nul_characters_are_refused_by_path() {
        let body = br#"{"name":"ok","owner":{"email":"a\u0000@b.c"}}"#;
        match parse_json::<serde_json::Value>(body) {
            Err(ApiError::Service(Error::Invalid(errors))) => {
                assert_eq!(errors[0].field, "owner.email")
            }
            other => panic!("expected a field error, got {other:?}"),
        }
        let list = br#"{"list":["x","\u0000"]}"#;
        match parse_json::<serde_json::Value>(list) {
            Err(ApiError::Service(Error::Invalid(errors))) => {
                assert_eq!(errors[0].field, "list[1]")
            }
            other => panic!("expected a field error, got {other:?}"),
        }
        assert!(parse_json::<serde_json::Value>(br#"{"escaped":"\\u0000"}"#).is_ok());
    }
}

//! The error policy of the API.
//!
//! Every failure a client can cause is one [`ApiError`] variant with a fixed HTTP status and a
//! stable `code`, rendered as `application/problem+json` (RFC 9457) with `errors[]` naming each
//! bad field. Failures on our side become `internal_error`: their cause is logged, inside the
//! request's span (so with its request id), and never sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::metering::{Counter, MAX_COUNTER};
use crate::domain::validation::FieldError;
use crate::store::StoreError;

/// A problem detail (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `concurrency_limit_exceeded`.
    pub code: String,
    /// Each bad field, for validation failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The limit that refused a request, for `*_exceeded` and `*_reached` codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The limit's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_value: Option<i64>,
    /// The usage measured against the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<i64>,
}

/// What a limit refusal reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRefusal {
    pub code: &'static str,
    /// The camelCase limit key, e.g. `maxConcurrentCalls`.
    pub limit: &'static str,
    pub limit_value: i64,
    pub current: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not well-formed JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 401: no key, an unknown key, or a revoked key.
    #[error("a valid API key is required")]
    Unauthorized,
    /// 403: the caller may see the object but not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 403: the caller may not set this field to this value.
    #[error("{field}: {detail}")]
    ForbiddenField {
        field: &'static str,
        detail: &'static str,
    },
    /// 403: the tenant is not active.
    #[error("the tenant is not active")]
    TenantInactive,
    /// 404: no such object, or one the caller may not see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 404: no such route.
    #[error("no route for this path")]
    RouteNotFound,
    /// 405
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// 409: a unique value is taken or the state forbids the change.
    #[error("{detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        field: Option<&'static str>,
    },
    /// 409: a request with this idempotency key is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyInFlight,
    /// 408: the body did not arrive in time; the connection is closed after the answer.
    #[error("the request body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
    /// 412: `If-Match` named another version.
    #[error("the object changed since the version in If-Match")]
    PreconditionFailed,
    /// 413
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 414
    #[error("the request target is longer than {0} bytes")]
    UriTooLong(usize),
    /// 415
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// 431
    #[error("the request headers are larger than {0} bytes in total")]
    HeadersTooLarge(usize),
    /// 422: fields failed validation.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 422: the write would take one of the tenant's usage counters past its ceiling; nothing
    /// was recorded. `field` names the input that adds to that counter, where one does.
    #[error(
        "this would take the tenant's {} past its ceiling of {MAX_COUNTER}; nothing was recorded",
        .counter.describe()
    )]
    CounterOverflow {
        counter: Counter,
        field: Option<&'static str>,
    },
    /// 422: the idempotency key was used with another request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    /// 429: a usage limit refuses the request.
    #[error("{} reached", .0.limit)]
    LimitExceeded(LimitRefusal),
    /// 403: a resource quota (such as `maxAgents`) is used up.
    #[error("{} reached", .0.limit)]
    QuotaReached(LimitRefusal),
    /// 500: our fault; the cause is logged, not sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// One bad field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_)
            | ApiError::ForbiddenField { .. }
            | ApiError::TenantInactive
            | ApiError::QuotaReached(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::IdempotencyInFlight => StatusCode::CONFLICT,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Validation(_)
            | ApiError::IdempotencyMismatch
            | ApiError::CounterOverflow { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::LimitExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) | ApiError::ForbiddenField { .. } => "forbidden",
            ApiError::TenantInactive => "tenant_inactive",
            ApiError::NotFound(_) => "not_found",
            ApiError::RouteNotFound => "route_not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::IdempotencyInFlight => "idempotency_key_in_use",
            ApiError::BodyTimeout(_) => "body_timeout",
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UriTooLong(_) => "uri_too_long",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::HeadersTooLarge(_) => "headers_too_large",
            ApiError::Validation(_) => "validation_failed",
            ApiError::IdempotencyMismatch => "idempotency_key_reused",
            ApiError::CounterOverflow { .. } => "usage_counter_overflow",
            ApiError::LimitExceeded(refusal) | ApiError::QuotaReached(refusal) => refusal.code,
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let mut problem = Problem {
            kind: format!("urn:tenantry:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().to_owned(),
            errors: Vec::new(),
            limit: None,
            limit_value: None,
            current: None,
        };
        match self {
            ApiError::Validation(errors) => {
                problem.errors = errors.clone();
                if let [only] = errors.as_slice() {
                    problem.detail = format!("{}: {}", only.field, only.message);
                }
            }
            ApiError::Conflict {
                field: Some(field),
                detail,
                code,
            } => {
                problem.errors = vec![FieldError {
                    field: (*field).to_owned(),
                    code: (*code).to_owned(),
                    message: detail.clone(),
                }];
            }
            ApiError::ForbiddenField { field, detail } => {
                problem.errors = vec![FieldError {
                    field: (*field).to_owned(),
                    code: "forbidden".to_owned(),
                    message: (*detail).to_owned(),
                }];
            }
            ApiError::CounterOverflow {
                field: Some(field), ..
            } => {
                problem.errors = vec![FieldError {
                    field: (*field).to_owned(),
                    code: self.code().to_owned(),
                    message: problem.detail.clone(),
                }];
            }
            ApiError::LimitExceeded(refusal) | ApiError::QuotaReached(refusal) => {
                problem.detail = format!(
                    "{} is {} and the current value is {}",
                    refusal.limit, refusal.limit_value, refusal.current
                );
                problem.limit = Some(refusal.limit.to_owned());
                problem.limit_value = Some(refusal.limit_value);
                problem.current = Some(refusal.current);
            }
            _ => {}
        }
        problem
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed on our side");
        }
        let problem = self.to_problem();
        let mut response = (self.status(), axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, ApiError::BodyTimeout(_)) {
            // The rest of the body may still arrive, and could not be told from a next request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("object"),
            StoreError::Stale => ApiError::PreconditionFailed,
            StoreError::CounterOverflow(counter) => ApiError::CounterOverflow {
                counter,
                field: None,
            },
            StoreError::Conflict { constraint } if constraint.contains("slug") => {
                ApiError::Conflict {
                    code: "slug_taken",
                    detail: "this slug is taken".to_owned(),
                    field: Some("slug"),
                }
            }
            StoreError::Conflict { constraint } if constraint.contains("code") => {
                ApiError::Conflict {
                    code: "code_taken",
                    detail: "this code is taken".to_owned(),
                    field: Some("code"),
                }
            }
            StoreError::Conflict { constraint } => ApiError::Conflict {
                code: "conflict",
                detail: format!("the change conflicts with existing data ({constraint})"),
                field: None,
            },
            other => ApiError::Internal(other.into()),
        }
    }
}

/// Maps a store failure, naming `what` when the row does not exist (or is not the caller's).
pub fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |error| match error {
        StoreError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        ApiError::Validation(errors)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

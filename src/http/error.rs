//! The error policy of the HTTP surfaces.
//!
//! A failure is either the transport's (malformed JSON, an unknown route, a body too large, an
//! idempotency key reused) or a use case's ([`service::Error`]). [`ApiError`] holds both and
//! gives each a fixed HTTP status and a stable `code`. It renders as the canonical
//! `application/problem+json` (RFC 9457) with `errors[]` naming each bad field, and leaves the
//! [`Problem`] in the response's extensions, so that a dialect with an error shape of its own
//! re-renders it in the outermost layer, by the path prefixes it owns ([`rerender`]). Failures on our side become
//! `internal_error`: their cause is logged inside the request's span (so with its request id),
//! and never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::limits::LimitKey;
use crate::domain::rate_limit::RatePolicy;
use crate::domain::validation::FieldError;
use crate::service::{self, Error, LimitRefusal};
use crate::store::StoreError;

/// One bad field in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = FieldError)]
pub struct FieldErrorBody {
    /// JSON path of the field, e.g. `usageLimits.maxConcurrentCalls` or `events[3].id`.
    pub field: String,
    /// Stable machine code, e.g. `out_of_range`.
    pub code: String,
    pub message: String,
}

impl From<&FieldError> for FieldErrorBody {
    fn from(error: &FieldError) -> Self {
        FieldErrorBody {
            field: error.field.clone(),
            code: error.code.clone(),
            message: error.message.clone(),
        }
    }
}

/// A problem detail (RFC 9457): the canonical error document.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    pub errors: Vec<FieldErrorBody>,
    /// The limit that refused a request, for `*_exceeded` and `*_reached` codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The limit's value, in the limit's own unit (gigabytes are decimals).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub limit_value: Option<serde_json::Number>,
    /// The usage measured against the limit, in the same unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub current: Option<serde_json::Number>,
    /// The service a block refuses, for `service_blocked`: `calls`, `agents`, `sip`,
    /// `recordings` or `analytics`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not well-formed JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 401: no key, an unknown key, or a revoked key.
    #[error("a valid API key is required")]
    Unauthorized,
    /// 404: no such route.
    #[error("no route for this path")]
    RouteNotFound,
    /// 405
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// 409: a request with this idempotency key is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyInFlight,
    /// 408: the body did not arrive in time; the connection is closed after the answer.
    #[error("the request body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
    /// 413
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 414
    #[error("the request target is longer than {0} bytes")]
    UriTooLong(usize),
    /// 415
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// 416: the `Range` lies outside the content, of this many bytes.
    #[error("the requested range lies outside the {0} bytes of the content")]
    RangeNotSatisfiable(u64),
    /// 431
    #[error("the request headers are larger than {0} bytes in total")]
    HeadersTooLarge(usize),
    /// 422: the idempotency key was used with another request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    /// 429: the caller spent its budget of a rate-limit policy.
    #[error(
        "the {} policy allows {limit} requests per {}; retry in {retry_after} s",
        .policy.name(),
        .policy.window().name()
    )]
    RateLimited {
        policy: RatePolicy,
        limit: i64,
        /// Seconds until a request could be admitted.
        retry_after: i64,
    },
    /// What a use case refused, or failed at.
    #[error(transparent)]
    Service(#[from] Error),
}

impl ApiError {
    /// One bad field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::field(field, code, message).into()
    }

    pub fn not_found(what: &'static str) -> Self {
        Error::NotFound(what).into()
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::IdempotencyInFlight => StatusCode::CONFLICT,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Service(error) => match error {
                Error::Forbidden(_)
                | Error::ForbiddenField { .. }
                | Error::MissingScope(_)
                | Error::TenantInactive
                | Error::ServiceBlocked(_)
                | Error::QuotaReached(_) => StatusCode::FORBIDDEN,
                Error::NotFound(_) | Error::Absent { .. } => StatusCode::NOT_FOUND,
                Error::Conflict { .. } => StatusCode::CONFLICT,
                Error::Stale => StatusCode::PRECONDITION_FAILED,
                Error::Invalid(_) | Error::CounterOverflow { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                Error::LimitExceeded(_) | Error::LoginLocked { .. } => {
                    StatusCode::TOO_MANY_REQUESTS
                }
                Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
                Error::Gone { .. } => StatusCode::GONE,
                Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::Unauthorized => "unauthorized",
            ApiError::RouteNotFound => "route_not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::IdempotencyInFlight => "idempotency_key_in_use",
            ApiError::BodyTimeout(_) => "body_timeout",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UriTooLong(_) => "uri_too_long",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RangeNotSatisfiable(_) => "range_not_satisfiable",
            ApiError::HeadersTooLarge(_) => "headers_too_large",
            ApiError::IdempotencyMismatch => "idempotency_key_reused",
            ApiError::RateLimited { .. } => "rate_limit_exceeded",
            ApiError::Service(error) => match error {
                Error::Forbidden(_) | Error::ForbiddenField { .. } => "forbidden",
                Error::MissingScope(_) => "insufficient_scope",
                Error::TenantInactive => "tenant_inactive",
                Error::ServiceBlocked(_) => "service_blocked",
                Error::NotFound(_) => "not_found",
                Error::Conflict { code, .. }
                | Error::Absent { code, .. }
                | Error::Unauthenticated { code, .. }
                | Error::Gone { code, .. } => code,
                Error::LoginLocked { .. } => "login_locked",
                Error::Stale => "precondition_failed",
                Error::Invalid(_) => "validation_failed",
                Error::CounterOverflow { .. } => "usage_counter_overflow",
                Error::LimitExceeded(refusal) | Error::QuotaReached(refusal) => refusal.code,
                Error::Internal(_) => "internal_error",
            },
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
            service: None,
        };
        if let ApiError::RateLimited { policy, limit, .. } = self {
            problem.title = "Rate Limit Exceeded".to_owned();
            problem.limit = Some(policy.name().to_owned());
            problem.limit_value = Some((*limit).into());
        }
        let ApiError::Service(error) = self else {
            return problem;
        };
        let one = |field: &str, code: &str, message: &str| {
            vec![FieldErrorBody {
                field: field.to_owned(),
                code: code.to_owned(),
                message: message.to_owned(),
            }]
        };
        match error {
            Error::Invalid(errors) => {
                problem.errors = errors.iter().map(FieldErrorBody::from).collect();
                if let [only] = errors.as_slice() {
                    problem.detail = format!("{}: {}", only.field, only.message);
                }
            }
            Error::Conflict {
                field: Some(field),
                detail,
                code,
            } => problem.errors = one(field, code, detail),
            Error::ForbiddenField { field, detail } => {
                problem.errors = one(field, "forbidden", detail);
            }
            Error::MissingScope(scope) => {
                let needs = format!("needs {}", scope.name());
                problem.errors = one("scopes", "insufficient_scope", &needs);
            }
            Error::CounterOverflow {
                field: Some(field), ..
            } => problem.errors = one(field, self.code(), &problem.detail),
            Error::LimitExceeded(refusal) | Error::QuotaReached(refusal) => {
                problem.state_limit(refusal);
            }
            Error::ServiceBlocked(service) => problem.service = Some(service.name().to_owned()),
            _ => {}
        }
        problem
    }
}

impl Problem {
    /// Names the limit that refused, with its value and the usage, in the limit's wire unit
    /// (stored megabytes become gigabytes).
    fn state_limit(&mut self, refusal: &LimitRefusal) {
        let wire = |stored: i64| match LimitKey::from_field(refusal.limit) {
            Some(key) => key.to_wire(stored),
            None => stored.into(),
        };
        let (value, current) = (wire(refusal.limit_value), wire(refusal.current));
        self.detail = format!(
            "{} is {value} and the current value is {current}",
            refusal.limit
        );
        self.limit = Some(refusal.limit.to_owned());
        self.limit_value = Some(value);
        self.current = Some(current);
    }
}

/// A response with `problem` as `application/problem+json`.
pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(&problem)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response.extensions_mut().insert(problem);
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Service(Error::Internal(cause)) = &self {
            tracing::error!(error = ?cause, "request failed on our side");
        }
        let mut response = problem_response(self.to_problem());
        if let ApiError::RangeNotSatisfiable(size) = self {
            let unsatisfied = super::byte_range::unsatisfied_content_range(size);
            if let Ok(value) = HeaderValue::from_str(&unsatisfied) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
        }
        if let ApiError::Service(Error::LoginLocked { retry_after }) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if let ApiError::RateLimited { retry_after, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
        }
        if matches!(self, ApiError::BodyTimeout(_)) {
            // The rest of the body may still arrive, and could not be told from a next request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// A dialect's error shape, made from the canonical problem.
pub trait ErrorRenderer {
    fn render(problem: &Problem) -> Response;
}

/// Re-renders an error answer with `render`, a dialect's shape. Headers set on the way
/// (`x-request-id`, `Retry-After`, `Connection`) are kept; an answer that is no error passes.
pub fn rerender(response: Response, render: fn(&Problem) -> Response) -> Response {
    let Some(problem) = response.extensions().get::<Problem>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let rendered = render(&problem);
    let (rendered_parts, body) = rendered.into_parts();
    parts.status = rendered_parts.status;
    for (name, value) in &rendered_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    parts.extensions.insert(problem);
    Response::from_parts(parts, body)
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Error::from(error).into()
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        Error::Invalid(errors).into()
    }
}

impl From<crate::domain::policy::Refusal> for ApiError {
    fn from(refusal: crate::domain::policy::Refusal) -> Self {
        Error::refused("object")(refusal).into()
    }
}

/// Maps a store failure, naming `what` when the row does not exist (or is not the caller's).
pub fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |error| service::not_found(what)(error).into()
}

pub type ApiResult<T> = Result<T, ApiError>;

//! v1's OpenAPI document: routes register themselves through `utoipa_axum::routes!`, and this
//! module adds what every v1 operation shares (auth, problem answers, convention headers) once.

use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi as OpenApiDoc, Ref, RefOr, Required, ResponseBuilder,
    Type,
};
use utoipa::{Modify, OpenApi};

use crate::domain::time::{BoundedDate, BoundedTime};
use crate::http::error::{FieldErrorBody, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tenantry",
        description = "Tenant control plane for voice-AI agent platforms: agencies, tenants, \
                       plans, API keys, call admission and usage metering.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    // Query parameters refer to these without registering them.
    components(schemas(Problem, FieldErrorBody, BoundedTime, BoundedDate)),
    security(("bearer" = [])),
    tags(
        (name = "tenants", description = "Client tenants"),
        (name = "agencies", description = "Agencies (resellers)"),
        (name = "plans", description = "The plan catalog"),
        (name = "api-keys", description = "Bearer API keys"),
        (name = "calls", description = "Call admission, heartbeats and ending (the data plane's hot path)"),
        (name = "usage", description = "Usage ingestion and limits"),
        (name = "billing", description = "Subscriptions and billing periods"),
        (name = "analytics", description = "Tenant and agency analytics"),
        (name = "agents", description = "A tenant's voice agents"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

/// Adds what every operation shares; run over the full document once routes are merged.
pub struct Conventions;

/// Error answers every authenticated operation may give.
const COMMON_ERRORS: &[(&str, &str)] = &[
    ("401", "Missing, unknown or revoked API key"),
    ("404", "No such object, or one the caller may not see"),
    ("422", "Invalid input; `errors` names each field"),
    (
        "429",
        "Over a rate limit (`rate_limit_exceeded`, with `Retry-After`); see docs/RATE_LIMITS.md",
    ),
    (
        "500",
        "Internal error; the cause is logged with the request id",
    ),
];
/// Further answers of operations that take a body.
const BODY_ERRORS: &[(&str, &str)] = &[
    ("400", "The body is not well-formed JSON"),
    (
        "408",
        "The body did not arrive within the body timeout; the connection is closed",
    ),
    ("413", "The body is larger than 1 MiB"),
    ("415", "The body is not application/json"),
];

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

fn header_parameter(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[\\x21-\\x7e]+$")),
        ))
        .build()
}

fn add_missing(operation: &mut Operation, answers: &[(&str, &str)]) {
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| problem_response(description));
    }
}

/// `body = Problem` in a route's annotation documents `application/json`; problems are sent
/// as `application/problem+json`.
fn problems_as_problem_json(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_problem = response.content.get("application/json").is_some_and(
            |c| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")),
        );
        if is_problem {
            if let Some(content) = response.content.shift_remove("application/json") {
                response
                    .content
                    .insert("application/problem+json".to_owned(), content);
            }
        }
    }
}

/// The conventions of the routes that need no credentials: problem+json, and no
/// `Idempotency-Key` (they are not idempotent by key).
pub fn public_conventions(mut document: OpenApiDoc) -> OpenApiDoc {
    for item in document.paths.paths.values_mut() {
        for operation in [item.get.as_mut(), item.post.as_mut()]
            .into_iter()
            .flatten()
        {
            problems_as_problem_json(operation);
            add_missing(operation, &COMMON_ERRORS[1..]);
            if operation.request_body.is_some() {
                add_missing(operation, BODY_ERRORS);
            }
        }
    }
    document
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Runs over v1's authenticated routes only; the operations routes are merged after.
        for item in openapi.paths.paths.values_mut() {
            for (method, operation) in [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Patch, item.patch.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
            ] {
                let Some(operation) = operation else { continue };
                problems_as_problem_json(operation);
                add_missing(operation, COMMON_ERRORS);
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                match method {
                    HttpMethod::Post => {
                        parameters.push(header_parameter(
                            "Idempotency-Key",
                            "Replays the first answer for 24 hours when sent again with the same body",
                        ));
                        add_missing(
                            operation,
                            &[(
                                "409",
                                "Conflict, or the same Idempotency-Key is still in progress",
                            )],
                        );
                    }
                    HttpMethod::Patch => {
                        parameters.push(header_parameter(
                            "If-Match",
                            "The ETag last read; a stale one is refused with 412",
                        ));
                        add_missing(
                            operation,
                            &[
                                ("409", "A unique value is taken"),
                                ("412", "The object changed since the ETag in If-Match"),
                            ],
                        );
                    }
                    _ => {}
                }
                if operation.request_body.is_some() {
                    add_missing(operation, BODY_ERRORS);
                }
            }
        }
    }
}

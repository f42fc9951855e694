//! The Trieve dialect's OpenAPI document: Trieve's two key schemes, its header and path
//! parameters, and the `{"message": …}` answers every route shares, added once.

use serde::Deserialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi};

use super::ErrorResponseBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tenantry: Trieve dialect",
        description = "Trieve's documented organization endpoints, served by tenantry. An \
                       organization is a tenant; docs/TRIEVE.md maps one onto the other.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorResponseBody)),
    modifiers(&KeySchemes),
    security(("ApiKey" = []), ("X-API-KEY" = [])),
    tags((name = "Organization", description = "Organizations: tenantry's tenants")),
)]
pub struct ApiDoc;

/// Trieve's two ways of sending the key: `Authorization` (bare or `Bearer`) and `X-API-KEY`.
struct KeySchemes;

impl Modify for KeySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, header) in [("ApiKey", "Authorization"), ("X-API-KEY", "X-API-KEY")] {
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    header,
                    "The API key, bare or after `Bearer `",
                ))),
            );
        }
    }
}

/// The organization a request acts in. Only documents the header: `request` reads it.
#[allow(dead_code)]
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct OrganizationHeader {
    /// The organization's plain UUID (alias header `x-organization`); where the path names an
    /// organization, the same one.
    #[serde(rename = "TR-Organization")]
    pub tr_organization: uuid::Uuid,
}

/// The organization a route's path names. Only documents the parameter: `request` reads it.
#[allow(dead_code)]
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrganizationPath {
    /// The organization's id: its plain UUID (its TypeID is taken too).
    pub organization_id: uuid::Uuid,
}

/// Answers every authenticated route may give.
const ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "A bad `TR-Organization`, path or body; or a refused change",
    ),
    ("401", "No key, or an unknown or revoked one"),
    ("403", "The key's role may not do this"),
    (
        "404",
        "No such organization, or one the key may not see, or a deleted one",
    ),
    ("429", "Over a rate limit, with `Retry-After`"),
    (
        "500",
        "Internal error; the cause is logged with the request id",
    ),
];
/// Further answers of routes that take a body.
const BODY_ERRORS: &[(&str, &str)] = &[
    (
        "408",
        "The body did not arrive within the body timeout; the connection is closed",
    ),
    ("413", "The body is larger than 1 MiB"),
];

fn add_missing(operation: &mut Operation, answers: &[(&str, &str)]) {
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(*description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorResponseBody")))
                            .build(),
                    )
                    .build()
                    .into()
            });
    }
}

/// Documents the `{"message": …}` answers on every operation of `document`.
pub fn add_error_answers(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            add_missing(operation, ERRORS);
            if operation.request_body.is_some() {
                add_missing(operation, BODY_ERRORS);
            }
        }
    }
}

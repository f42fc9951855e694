//! What a Trieve request carries besides its key: the organization `TR-Organization` names
//! (checked against the path's), and a JSON body read the way Trieve reads one. Each refusal
//! is a problem the dialect's renderer turns into `{"message": …}`.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::domain::access::Caller;
use crate::domain::ids::TenantId;
use crate::domain::policy::{self, ActionMarker, Authorized};
use crate::domain::tenant::{Tenant, TenantProfile, TenantStatus};
use crate::http::error::{problem_response, ApiError, Problem};
use crate::http::extract::{is_json, parse_json, read_body, PathId};
use crate::http::AppState;
use crate::service::tenants::TenantRef;
use crate::service::{Error, Lookup};

/// The header naming the organization a request acts in, and its alias.
pub const ORGANIZATION_HEADER: &str = "TR-Organization";
const ORGANIZATION_ALIAS: &str = "x-organization";

/// Trieve's answer to a missing or malformed `TR-Organization`.
pub const NOT_A_UUID: &str = "Could not convert Organization to UUID";
/// The answer when `TR-Organization` and the path name different organizations.
pub const MISMATCH: &str = "TR-Organization must name the organization in the path";

/// Why a Trieve request is refused: anything the shared layers refuse, or one of Trieve's own
/// 400s with its message.
#[derive(Debug)]
pub enum Refusal {
    Api(ApiError),
    BadRequest { code: &'static str, message: String },
}

impl Refusal {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::Api(error)
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal::Api(error.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Api(error) => error.into_response(),
            Refusal::BadRequest { code, message } => problem_response(Problem {
                kind: format!("urn:tenantry:problem:{code}"),
                title: "Bad Request".to_owned(),
                status: StatusCode::BAD_REQUEST.as_u16(),
                detail: message,
                code: code.to_owned(),
                errors: Vec::new(),
                limit: None,
                limit_value: None,
                current: None,
                service: None,
            }),
        }
    }
}

/// The organization `TR-Organization` (or `x-organization`) names; missing or not a UUID is
/// Trieve's 400.
fn named_organization(parts: &Parts) -> Result<Option<TenantId>, Refusal> {
    let Some(value) = parts
        .headers
        .get(ORGANIZATION_HEADER)
        .or_else(|| parts.headers.get(ORGANIZATION_ALIAS))
    else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| Uuid::try_parse(text.trim()).ok())
        .map(|uuid| Some(TenantId(uuid)))
        .ok_or_else(|| Refusal::bad_request("invalid_organization_header", NOT_A_UUID))
}

fn required_organization(parts: &Parts) -> Result<TenantId, Refusal> {
    named_organization(parts)?
        .ok_or_else(|| Refusal::bad_request("invalid_organization_header", NOT_A_UUID))
}

/// An organization as a route needs it: the whole tenant, or only what the policy judges.
pub trait OrganizationObject: Lookup<Id = TenantId> {
    /// Whether it is deleted; Trieve's clients never see a deleted organization.
    fn is_deleted(&self) -> bool;
}

impl OrganizationObject for Tenant {
    fn is_deleted(&self) -> bool {
        self.status == TenantStatus::Deleted
    }
}

impl OrganizationObject for TenantProfile {
    fn is_deleted(&self) -> bool {
        self.status == TenantStatus::Deleted
    }
}

impl OrganizationObject for TenantRef {
    fn is_deleted(&self) -> bool {
        // Its lookup finds no deleted tenant.
        false
    }
}

/// Organization `id` if the caller can see it (and it is not deleted): a 404 otherwise.
async fn visible<T: OrganizationObject>(
    state: &AppState,
    caller: &Caller,
    id: TenantId,
) -> Result<T, Refusal> {
    T::lookup(&state.ctx, caller, id)
        .await?
        .filter(|object| !object.is_deleted() && caller.scope.reaches(&object.target()))
        .ok_or(Refusal::Api(Error::NotFound("tenant").into()))
}

/// Organization `id`, visible to the caller, who may do `A` on it.
async fn authorized<T: OrganizationObject, A: ActionMarker>(
    state: &AppState,
    caller: Caller,
    id: TenantId,
) -> Result<Authorized<T, A>, Refusal> {
    let object: T = visible(state, &caller, id).await?;
    let target = object.target();
    policy::authorize::<T, A>(&caller, object, &target)
        .map_err(|refusal| Error::refused("tenant")(refusal).into())
}

/// The organization of `{organization_id}`, which `TR-Organization` must name too, authorized
/// for `A`. The header is read first, as Trieve does: a bad one is a 400, an organization it
/// names that the key cannot see a 404, and only then is the path compared with it.
pub struct PathOrganization<T, A>(pub Authorized<T, A>);

impl<T: OrganizationObject, A: ActionMarker + Send> FromRequestParts<AppState>
    for PathOrganization<T, A>
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let named = required_organization(parts)?;
        let PathId(id) = PathId::<TenantId>::from_request_parts(parts, state).await?;
        if id != named {
            visible::<TenantRef>(state, &caller, named).await?;
            return Err(Refusal::bad_request("organization_mismatch", MISMATCH));
        }
        authorized(state, caller, id).await.map(PathOrganization)
    }
}

/// The organization `TR-Organization` names, authorized for `A`.
pub struct HeaderOrganization<T, A>(pub Authorized<T, A>);

impl<T: OrganizationObject, A: ActionMarker + Send> FromRequestParts<AppState>
    for HeaderOrganization<T, A>
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let named = required_organization(parts)?;
        authorized(state, caller, named)
            .await
            .map(HeaderOrganization)
    }
}

/// On a route that needs no organization, a `TR-Organization` sent anyway must still be a
/// UUID naming an organization the key can see.
pub struct OptionalOrganization;

impl FromRequestParts<AppState> for OptionalOrganization {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if let Some(named) = named_organization(parts)? {
            visible::<TenantRef>(state, &caller, named).await?;
        }
        Ok(OptionalOrganization)
    }
}

/// A JSON body read as Trieve reads one: without a `Content-Type` it is taken as JSON, and
/// whatever does not parse is a 400 `Json Deserialization Error: …`.
pub struct TrieveJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for TrieveJson<T> {
    type Rejection = Refusal;

    async fn from_request(request: Request, _: &S) -> Result<Self, Refusal> {
        let headers = request.headers();
        if headers.contains_key(header::CONTENT_TYPE) && !is_json(headers) {
            return Err(deserialization(
                "ContentType",
                "the Content-Type is not application/json",
            ));
        }
        let bytes = read_body(request.into_body()).await?;
        if let Err(error) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let kind = match error.classify() {
                serde_json::error::Category::Eof => "EOF",
                serde_json::error::Category::Io => "Io",
                _ => "Syntax",
            };
            return Err(deserialization(kind, &error.to_string()));
        }
        match parse_json(&bytes) {
            Ok(body) => Ok(TrieveJson(body)),
            Err(ApiError::Service(Error::Invalid(errors))) => {
                let message = errors
                    .iter()
                    .map(|error| format!("{}: {}", error.field, error.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(deserialization("Data", &message))
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// Trieve's message for a body it could not read.
fn deserialization(kind: &str, message: &str) -> Refusal {
    let hint = match kind {
        "ContentType" => "send the body as application/json",
        "Data" => "the body's fields do not match the documented request body",
        _ => "the body is not well-formed JSON",
    };
    Refusal::bad_request(
        "malformed_json",
        format!("Json Deserialization Error: *Type* : {kind} | *Message* : {message} | {hint}"),
    )
}

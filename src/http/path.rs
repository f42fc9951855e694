//! The object a route's path names, loaded within the caller's reach and authorized by the
//! policy before the handler runs: a handler that takes `InPath<Tenant, act::UpdateTenant>`
//! only ever sees a tenant the caller may update. Hidden objects are 404s, objects in reach
//! whose action the caller's role lacks are 403s.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::extract::PathId;
use super::AppState;
use crate::domain::access::Caller;
use crate::domain::policy::{self, ActionMarker, Authorized};
use crate::service::{Error, Lookup};

/// An object from the path that the caller may do `A` on.
pub struct InPath<T, A>(pub Authorized<T, A>);

impl<T, A> FromRequestParts<AppState> for InPath<T, A>
where
    T: Lookup,
    A: ActionMarker + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let PathId(id) = PathId::<T::Id>::from_request_parts(parts, state).await?;
        let object = T::lookup(&state.ctx, &caller, id)
            .await?
            .ok_or(Error::NotFound(T::NAME))?;
        let target = object.target();
        policy::authorize::<T, A>(&caller, object, &target)
            .map(InPath)
            .map_err(|refusal| Error::refused(T::NAME)(refusal).into())
    }
}

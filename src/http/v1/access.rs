//! Access to a tenant's sub-resources by `{tenantId}`, checked as cheaply as the caller
//! allows: the hot paths (admission, end, ingestion) should not load the whole tenant.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::domain::access::{Caller, Scope};
use crate::domain::ids::TenantId;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::PathId;
use crate::http::AppState;

/// A tenant id from the path that the caller may use; anything else is a 404.
#[derive(Debug, Clone, Copy)]
pub struct TenantAccess {
    pub tenant_id: TenantId,
    pub caller: Caller,
}

impl FromRequestParts<AppState> for TenantAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let PathId(tenant_id) = PathId::<TenantId>::from_request_parts(parts, state).await?;
        let visible = match caller.scope {
            // Authentication already found this tenant active.
            Scope::Tenant(own) => own == tenant_id,
            _ => crate::store::tenants::find_ref(&state.ctx.db, tenant_id)
                .await?
                .is_some_and(|(_, agency)| {
                    caller
                        .scope
                        .reaches(&crate::domain::policy::Target::Tenant {
                            id: tenant_id,
                            agency,
                        })
                }),
        };
        if visible {
            Ok(TenantAccess { tenant_id, caller })
        } else {
            Err(ApiError::not_found("tenant"))
        }
    }
}

impl TenantAccess {
    /// Refuses tenant keys: what they may read, they may not set.
    pub fn forbid_tenant_key(&self, what: &'static str) -> ApiResult<()> {
        match self.caller.scope {
            Scope::Tenant(_) => Err(crate::service::Error::Forbidden(what).into()),
            _ => Ok(()),
        }
    }
}

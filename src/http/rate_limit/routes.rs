//! Which policy each route spends: the one place a route is classed.
//!
//! A route not listed in [`ROUTES`] is classed by its method and shape: a `GET` (or `HEAD`)
//! of one object (a template ending in a path parameter) is `api-standard`, any other `GET` (a
//! list, a search, a report) is `api-read-heavy`, and every other method is `api-write`. A
//! route whose class differs, or that answers without a key, is one line below; a line may
//! name a route before it exists, and takes effect when it does.

use crate::domain::rate_limit::{Keyed, RatePolicy};

use RatePolicy::{AnalyticsExport, ApiStandard, AuthLenient, AuthStrict, DataPlane};

/// Routes classed otherwise than by their method and shape.
pub const ROUTES: &[Route] = &[
    // The data plane: every call of a voice platform goes through these, thousands a second
    // with one key (DESIGN §4), so `api-write`'s 60 a minute would stop it.
    Route::to("POST", "/api/v1/tenants/{tenantId}/calls", DataPlane),
    Route::to(
        "POST",
        "/api/v1/tenants/{tenantId}/calls/{callId}/heartbeat",
        DataPlane,
    ),
    Route::to(
        "POST",
        "/api/v1/tenants/{tenantId}/calls/{callId}/end",
        DataPlane,
    ),
    Route::to("POST", "/api/v1/tenants/{tenantId}/usage-events", DataPlane),
    // A tenant's config, the data plane's most frequent read.
    Route::to("GET", "/api/v1/tenants/{tenantId}", DataPlane),
    // Single objects, though their templates end in a word.
    Route::to(
        "GET",
        "/api/v1/tenants/{tenantId}/subscription",
        ApiStandard,
    ),
    Route::to("GET", "/api/v1/billing/subscription", ApiStandard),
    // A tenant's archive reads everything it owns.
    Route::to("GET", "/api/v1/tenants/{tenantId}/export", AnalyticsExport),
    // Users and sessions: sign-in, MFA, password reset and invitations, per client address.
    Route::to("POST", "/api/v1/sessions", AuthStrict).public(),
    Route::to("POST", "/api/v1/users/me/mfa", AuthStrict).and_below(),
    Route::to("POST", "/api/v1/password-reset", AuthLenient)
        .public()
        .and_below(),
    Route::to("GET", "/api/v1/invitations/{token}", ApiStandard).public(),
    Route::to("POST", "/api/v1/invitations/{token}/accept", AuthStrict).public(),
    // A console asks it before anyone signs in, per client address.
    Route::to("GET", "/api/v1/white-label/lookup", ApiStandard).public(),
];

/// How a route's requests are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub policy: RatePolicy,
    pub keyed: Keyed,
}

/// One route's class.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    method: &'static str,
    /// The route's template as the router declares it (`{tenantId}`, not a value).
    path: &'static str,
    policy: RatePolicy,
    /// Answered without a key: limited per client address whatever its policy.
    public: bool,
    /// Also every route below `path`.
    below: bool,
}

impl Route {
    pub const fn to(method: &'static str, path: &'static str, policy: RatePolicy) -> Route {
        Route {
            method,
            path,
            policy,
            public: false,
            below: false,
        }
    }

    pub const fn public(self) -> Route {
        Route {
            public: true,
            ..self
        }
    }

    pub const fn and_below(self) -> Route {
        Route {
            below: true,
            ..self
        }
    }

    fn matches(&self, method: &str, template: &str) -> bool {
        self.method == method
            && (template == self.path
                || self.below
                    && template
                        .strip_prefix(self.path)
                        .is_some_and(|rest| rest.starts_with('/')))
    }
}

/// The class of a request to `template` with `method`.
pub fn classify(method: &str, template: &str) -> Class {
    let method = if method == "HEAD" { "GET" } else { method };
    if let Some(route) = ROUTES.iter().find(|route| route.matches(method, template)) {
        let keyed = if route.public {
            Keyed::ClientAddress
        } else {
            route.policy.keyed()
        };
        return Class {
            policy: route.policy,
            keyed,
        };
    }
    let policy = match method {
        "GET" if template.ends_with('}') => RatePolicy::ApiStandard,
        "GET" => RatePolicy::ApiReadHeavy,
        _ => RatePolicy::ApiWrite,
    };
    Class {
        policy,
        keyed: Keyed::ApiKey,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(method: &str, template: &str) -> &'static str {
        classify(method, template).policy.name()
    }

    #[test]
    fn method_and_shape_class_undeclared_routes() {
        assert_eq!(policy("GET", "/api/v1/plans/{planId}"), "api-standard");
        assert_eq!(policy("HEAD", "/api/v1/plans/{planId}"), "api-standard");
        assert_eq!(policy("GET", "/api/v1/tenants"), "api-read-heavy");
        assert_eq!(policy("POST", "/api/v1/tenants"), "api-write");
        assert_eq!(policy("PATCH", "/api/v1/plans/{planId}"), "api-write");
        assert_eq!(
            policy("DELETE", "/api/v1/tenants/{tenantId}/agents/{agentId}"),
            "api-write"
        );
    }

    #[test]
    fn the_data_plane_has_its_own_budget() {
        for (method, template) in [
            ("POST", "/api/v1/tenants/{tenantId}/calls"),
            ("POST", "/api/v1/tenants/{tenantId}/calls/{callId}/end"),
            (
                "POST",
                "/api/v1/tenants/{tenantId}/calls/{callId}/heartbeat",
            ),
            ("POST", "/api/v1/tenants/{tenantId}/usage-events"),
            ("GET", "/api/v1/tenants/{tenantId}"),
        ] {
            assert_eq!(
                policy(method, template),
                "data-plane",
                "{method} {template}"
            );
        }
        assert_eq!(
            policy("GET", "/api/v1/tenants/{tenantId}/calls"),
            "api-read-heavy"
        );
        assert_eq!(policy("PATCH", "/api/v1/tenants/{tenantId}"), "api-write");
    }

    #[test]
    fn sign_in_and_public_routes_are_limited_per_client_address() {
        let sign_in = classify("POST", "/api/v1/sessions");
        assert_eq!(sign_in.policy, RatePolicy::AuthStrict);
        assert_eq!(sign_in.keyed, Keyed::ClientAddress);
        let mfa = classify("POST", "/api/v1/users/me/mfa/verify");
        assert_eq!((mfa.policy, mfa.keyed), (AuthStrict, Keyed::ClientAddress));
        let reset = classify("POST", "/api/v1/password-reset/confirm");
        assert_eq!(reset.policy, AuthLenient);
        let invitation = classify("GET", "/api/v1/invitations/{token}");
        assert_eq!(
            (invitation.policy, invitation.keyed),
            (ApiStandard, Keyed::ClientAddress)
        );
        assert_eq!(policy("POST", "/api/v1/password-resetting"), "api-write");
    }
}

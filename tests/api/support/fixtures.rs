//! Fixture builders: agencies with their key, tenants with theirs, made through the API as a
//! client would.

use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use super::{Client, TestApp};

/// An agency and a client holding one of its keys.
pub struct AgencyFixture {
    pub id: String,
    pub body: Value,
    pub client: Client,
}

/// A tenant and a client holding one of its keys.
pub struct TenantFixture {
    pub id: String,
    pub body: Value,
    pub client: Client,
}

pub struct AgencyBuilder {
    app: TestApp,
    name: String,
}

impl AgencyBuilder {
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    pub async fn create(self) -> AgencyFixture {
        let platform = self.app.platform();
        let created = platform
            .post("/api/v1/agencies", &json!({ "name": self.name }))
            .await;
        created.assert_status(StatusCode::CREATED);
        let id = created.id();
        let key = self
            .app
            .mint_key(&json!({ "name": format!("{} key", self.name), "agencyId": id }))
            .await;
        AgencyFixture {
            id,
            body: created.body.clone(),
            client: self.app.client(&key),
        }
    }
}

pub struct TenantBuilder {
    app: TestApp,
    by: Option<Client>,
    body: Map<String, Value>,
}

impl TenantBuilder {
    pub fn name(self, name: &str) -> Self {
        self.field("name", json!(name))
    }

    pub fn slug(self, slug: &str) -> Self {
        self.field("slug", json!(slug))
    }

    pub fn plan(self, plan: &str) -> Self {
        self.field("plan", json!(plan))
    }

    /// Its own `usageLimits`, laid over its plan's.
    pub fn limits(self, limits: Value) -> Self {
        self.field("usageLimits", limits)
    }

    /// What happens when spend reaches the limit: `notify_only` or `block_new_calls`.
    pub fn action_at_100(self, action: &str) -> Self {
        self.field("billingAlerts", json!({ "actionAt100": action }))
    }

    /// Sets any field of the create request.
    pub fn field(mut self, name: &str, value: Value) -> Self {
        self.body.insert(name.to_owned(), value);
        self
    }

    /// Created by this agency, with its key.
    pub fn of(mut self, agency: &AgencyFixture) -> Self {
        self.by = Some(agency.client.clone());
        self
    }

    pub async fn create(self) -> TenantFixture {
        let by = self.by.unwrap_or_else(|| self.app.platform());
        let created = by.post("/api/v1/tenants", &Value::Object(self.body)).await;
        created.assert_status(StatusCode::CREATED);
        let id = created.id();
        let key = self
            .app
            .mint_key(&json!({ "name": "tenant key", "tenantId": id }))
            .await;
        TenantFixture {
            id,
            body: created.body.clone(),
            client: self.app.client(&key),
        }
    }
}

impl AgencyFixture {
    /// Offers `tenant` to `target`, which accepts; answers the transfer's id.
    pub async fn hand_over(&self, tenant: &TenantFixture, target: &AgencyFixture) -> String {
        let offered = self
            .client
            .post(
                &format!("/api/v1/tenants/{}/transfer", tenant.id),
                &json!({ "targetAgencyId": target.id }),
            )
            .await;
        offered.assert_status(StatusCode::CREATED);
        target
            .client
            .post(
                &format!("/api/v1/transfers/{}/accept", offered.id()),
                &json!({}),
            )
            .await
            .assert_status(StatusCode::OK);
        offered.id()
    }
}

impl TestApp {
    /// An agency named "Agency" unless told otherwise.
    pub fn agency(&self) -> AgencyBuilder {
        AgencyBuilder {
            app: self.clone(),
            name: "Agency".to_owned(),
        }
    }

    /// A tenant named "Tenant" (its slug derived from the name), created by the platform
    /// unless [`TenantBuilder::of`] names an agency.
    pub fn tenant(&self) -> TenantBuilder {
        let mut body = Map::new();
        body.insert("name".to_owned(), json!("Tenant"));
        TenantBuilder {
            app: self.clone(),
            by: None,
            body,
        }
    }

    /// Mints a key with the platform key and returns its secret.
    pub async fn mint_key(&self, request: &Value) -> String {
        let created = self.platform().post("/api/v1/api-keys", request).await;
        created.assert_status(StatusCode::CREATED);
        created.body["key"]
            .as_str()
            .expect("the secret is shown at creation")
            .to_owned()
    }
}

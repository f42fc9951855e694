//! Subscriptions, set as a billing system sets them: `PUT …/subscription`.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{Answer, Client, TenantFixture};

impl TenantFixture {
    /// `PUT …/subscription` with `body`, as `by`, with `If-Match` when given.
    pub async fn put_subscription(
        &self,
        by: &Client,
        body: &Value,
        if_match: Option<&str>,
    ) -> Answer {
        let mut request = by
            .request(Method::PUT, &self.path("/subscription"))
            .json(body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        by.send(request).await
    }

    /// Subscribes the tenant to `plan` for 30 days from `start`, as `by`; the tenant had none.
    /// Returns the subscription.
    pub async fn subscribe(&self, by: &Client, plan: &str, start: DateTime<Utc>) -> Value {
        let body = json!({
            "planCode": plan,
            "status": "active",
            "currentPeriodStart": start.to_rfc3339(),
            "currentPeriodEnd": (start + Duration::days(30)).to_rfc3339(),
            "externalBillingId": format!("sub_{plan}"),
        });
        let made = self.put_subscription(by, &body, None).await;
        made.assert_status(StatusCode::CREATED);
        made.body
    }
}

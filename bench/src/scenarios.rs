//! The operations each scenario repeats. Tenantry and the baseline serve the same paths, so
//! one operation drives either.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use hyper::StatusCode;

use tenantry::domain::ids::{TenantId, TypedId};

use crate::load::{Client, Operation};

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `GET /api/v1/tenants/{id}`.
    Get,
    /// MrAssistant's `GET /tenants/{tenant_id}`; the baseline serves v1's path.
    GetMrassistant,
    /// Trieve's `GET /api/organization/{id}` with `TR-Organization`; the baseline serves v1's
    /// path.
    GetTrieve,
    /// `POST …/calls` then `POST …/calls/{id}/end`, counted in pairs.
    Admission,
    /// The same with an endpoint of the agency taking every event type, `call.ended` too.
    AdmissionHooked,
    /// `POST …/usage-events` with 1,000 fresh events, counted in events.
    Ingest,
    /// The same with that endpoint.
    IngestHooked,
    /// `GET …/analytics` over 30 days of the 10-thousand-event tenant.
    #[value(name = "analytics-10k")]
    Analytics10k,
    /// The same over the 10-million-event tenant.
    #[value(name = "analytics-10m")]
    Analytics10m,
    /// Pending deliveries of the outbox to a receiver on loopback, counted in deliveries.
    Webhooks,
    /// The same while a second endpoint, given a delivery of every event too, never answers.
    WebhooksHung,
}

impl Scenario {
    /// The scenario a hooked one is compared with.
    pub fn unhooked(self) -> Option<Scenario> {
        match self {
            Scenario::AdmissionHooked => Some(Scenario::Admission),
            Scenario::IngestHooked => Some(Scenario::Ingest),
            _ => None,
        }
    }

    pub const ALL: [Scenario; 11] = [
        Scenario::Get,
        Scenario::GetMrassistant,
        Scenario::GetTrieve,
        Scenario::Admission,
        Scenario::AdmissionHooked,
        Scenario::Ingest,
        Scenario::IngestHooked,
        Scenario::Analytics10k,
        Scenario::Analytics10m,
        Scenario::Webhooks,
        Scenario::WebhooksHung,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Scenario::Get => "GET tenant",
            Scenario::GetMrassistant => "GET tenant, MrAssistant",
            Scenario::GetTrieve => "GET organization, Trieve",
            Scenario::Admission => "admission + end",
            Scenario::AdmissionHooked => "admission + end, hooked",
            Scenario::Ingest => "ingestion (1,000/batch)",
            Scenario::IngestHooked => "ingestion, hooked",
            Scenario::Analytics10k => "analytics, 10k events",
            Scenario::Analytics10m => "analytics, 10M events",
            Scenario::Webhooks => "webhook delivery",
            Scenario::WebhooksHung => "webhooks, 2nd endpoint hung",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Scenario::Admission | Scenario::AdmissionHooked => "pairs/s",
            Scenario::Ingest | Scenario::IngestHooked => "events/s",
            Scenario::Webhooks | Scenario::WebhooksHung => "hooks/s",
            _ => "req/s",
        }
    }
}

/// The load tenants, taken in turn by each request as it starts: with at least as many
/// tenants as connections, every tenant is busy and requests in flight rarely share one.
pub struct Rotation<T> {
    items: Vec<T>,
    next: AtomicUsize,
}

impl<T> Rotation<T> {
    pub fn new(items: Vec<T>) -> Rotation<T> {
        assert!(!items.is_empty(), "a rotation of nothing");
        Rotation {
            items,
            next: AtomicUsize::new(0),
        }
    }

    fn next(&self) -> &T {
        &self.items[self.next.fetch_add(1, Ordering::Relaxed) % self.items.len()]
    }
}

/// A GET of one tenant in a dialect, the load tenants in turn.
pub struct GetTenant {
    /// Each request's path, and its `TR-Organization` header if it has one.
    pub requests: Rotation<(String, Option<String>)>,
}

/// The wire dialect a tenant is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V1,
    MrAssistant,
    Trieve,
}

impl GetTenant {
    pub fn new(tenants: &[String], dialect: Dialect) -> GetTenant {
        let request = |tenant: &String| {
            let uuid = || {
                tenant
                    .parse::<TenantId>()
                    .map(|id| id.uuid().to_string())
                    .unwrap_or_else(|_| tenant.clone())
            };
            match dialect {
                Dialect::V1 => (format!("/api/v1/tenants/{tenant}"), None),
                Dialect::MrAssistant => (format!("/tenants/{}", uuid()), None),
                Dialect::Trieve => (format!("/api/organization/{}", uuid()), Some(uuid())),
            }
        };
        GetTenant {
            requests: Rotation::new(tenants.iter().map(request).collect()),
        }
    }
}

impl Operation for GetTenant {
    async fn run(&self, client: &mut Client, _: usize, _: u64) -> anyhow::Result<u64> {
        let (path, organization) = self.requests.next();
        let headers: &[(&str, &str)] = match organization {
            Some(organization) => &[("tr-organization", organization.as_str())],
            None => &[],
        };
        client
            .get_with(path, headers)
            .await?
            .expect(StatusCode::OK)?;
        Ok(1)
    }
}

/// Admits a call, then ends it; the load tenants in turn.
pub struct AdmitAndEnd {
    pub tenants: Rotation<String>,
}

const START_BODY: &str = r#"{"channel":"phone"}"#;

impl Operation for AdmitAndEnd {
    async fn run(&self, client: &mut Client, _: usize, seq: u64) -> anyhow::Result<u64> {
        let tenant = self.tenants.next();
        let started = client
            .post(&format!("/api/v1/tenants/{tenant}/calls"), START_BODY)
            .await?
            .expect(StatusCode::CREATED)
            .context("admission")?
            .json()?;
        let call = started["id"].as_str().context("admitted call has no id")?;
        let end = format!(
            r#"{{"durationSeconds":{},"costCents":{}}}"#,
            30 + seq % 300,
            1 + seq % 50
        );
        client
            .post(&format!("/api/v1/tenants/{tenant}/calls/{call}/end"), end)
            .await?
            .expect(StatusCode::OK)
            .context("end")?;
        Ok(1)
    }
}

/// Numbers every batch this process sends, so that event ids are never sent twice.
static NEXT_BATCH: AtomicU64 = AtomicU64::new(0);

/// Posts batches of fresh events (ids never sent before); the load tenants in turn.
pub struct Ingest {
    pub tenants: Rotation<String>,
    pub batch: u64,
    base: DateTime<Utc>,
}

impl Ingest {
    pub fn new(tenants: Vec<String>, batch: u64) -> Ingest {
        Ingest {
            tenants: Rotation::new(tenants),
            batch,
            base: Utc::now(),
        }
    }

    /// A batch of events that happened over the two days before the scenario started.
    fn body(&self, number: u64) -> String {
        let mut body = String::with_capacity(150 * self.batch as usize);
        body.push_str(r#"{"events":["#);
        for i in 0..self.batch {
            let k = number * self.batch + i;
            if i > 0 {
                body.push(',');
            }
            let occurred = self.base - chrono::Duration::seconds(((k * 7919) % 172_800) as i64);
            let _ = write!(
                body,
                r#"{{"id":"ev-{number:09}-{i:04}","occurredAt":"{}","channel":"{}","durationSeconds":{},"costCents":{},"sentimentScore":{}}}"#,
                occurred.format("%Y-%m-%dT%H:%M:%SZ"),
                ["phone", "webrtc", "webchat"][(k % 3) as usize],
                30 + k % 600,
                1 + k % 97,
                ((k % 2001) as f64 - 1000.0) / 1000.0,
            );
        }
        body.push_str("]}");
        body
    }
}

impl Operation for Ingest {
    async fn run(&self, client: &mut Client, _: usize, _: u64) -> anyhow::Result<u64> {
        let tenant = self.tenants.next();
        let number = NEXT_BATCH.fetch_add(1, Ordering::Relaxed);
        let answer = client
            .post(
                &format!("/api/v1/tenants/{tenant}/usage-events"),
                self.body(number),
            )
            .await?
            .expect(StatusCode::OK)?
            .json()?;
        match answer["accepted"].as_u64() {
            Some(accepted) if accepted == self.batch => Ok(accepted),
            _ => bail!("expected {} events accepted, got {answer}", self.batch),
        }
    }
}

/// `GET …/analytics?dateFrom=…&dateTo=…` of one tenant, checking it saw conversations.
pub struct Analytics {
    pub path: String,
}

impl Analytics {
    pub fn new(tenant: &str, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Analytics {
        Analytics {
            path: format!("/api/v1/tenants/{tenant}/analytics?dateFrom={from}&dateTo={to}"),
        }
    }
}

impl Operation for Analytics {
    async fn run(&self, client: &mut Client, _: usize, _: u64) -> anyhow::Result<u64> {
        let answer = client
            .get(&self.path)
            .await?
            .expect(StatusCode::OK)?
            .json()?;
        if answer["conversations"].as_i64().unwrap_or(0) <= 0 {
            bail!("analytics found no conversations: {answer}");
        }
        Ok(1)
    }
}

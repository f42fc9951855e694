//! The data plane's side of a tenant: starting and ending calls, reporting usage events, and
//! reading back what the counters say.

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tenantry::domain::ids::TenantId;
use tenantry::store::{self, query, Db, Query, StoreResult};

use super::fixtures::TenantFixture;
use super::{Answer, Client, TestApp};

impl super::AgencyFixture {
    /// `GET /api/v1/agency/analytics` from `from` to `to`, with the agency's key, checked OK.
    pub async fn analytics_between(&self, from: NaiveDate, to: NaiveDate) -> Value {
        let answer = self
            .client
            .get(&format!(
                "/api/v1/agency/analytics?dateFrom={from}&dateTo={to}"
            ))
            .await;
        answer.assert_status(StatusCode::OK);
        answer.body
    }
}

/// A time the API answered, such as `startedAt`.
#[track_caller]
pub fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("no time in {value}"));
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 time")
        .to_utc()
}

/// A usage event: one completed call reported after the fact.
pub fn event(
    id: &str,
    occurred_at: DateTime<Utc>,
    channel: &str,
    seconds: i64,
    cents: i64,
    sentiment: Option<f64>,
) -> Value {
    let mut event = json!({
        "id": id,
        "occurredAt": occurred_at.to_rfc3339(),
        "channel": channel,
        "durationSeconds": seconds,
        "costCents": cents,
    });
    if let Some(score) = sentiment {
        event["sentimentScore"] = json!(score);
    }
    event
}

impl TenantFixture {
    /// The path of one of this tenant's resources: `path("/calls")`.
    pub fn path(&self, rest: &str) -> String {
        format!("/api/v1/tenants/{}{rest}", self.id)
    }

    /// `POST …/calls` with the tenant's key.
    pub async fn start_call(&self, request: &Value) -> Answer {
        self.start_call_as(&self.client, request).await
    }

    /// `POST …/calls` with another caller's key.
    pub async fn start_call_as(&self, caller: &Client, request: &Value) -> Answer {
        caller.post(&self.path("/calls"), request).await
    }

    /// Starts a call on `channel` that must be admitted; returns the call.
    pub async fn admit(&self, channel: &str) -> Value {
        let started = self.start_call(&json!({ "channel": channel })).await;
        started.assert_status(StatusCode::CREATED);
        started.body
    }

    /// `POST …/calls/{id}/end`.
    pub async fn end_call(&self, call_id: &str, outcome: &Value) -> Answer {
        self.client
            .post(&self.path(&format!("/calls/{call_id}/end")), outcome)
            .await
    }

    /// Ends a call that must end; returns the completed call.
    pub async fn end(
        &self,
        call: &Value,
        seconds: i64,
        cents: i64,
        sentiment: Option<f64>,
    ) -> Value {
        let id = call["id"].as_str().expect("a call id");
        let mut outcome = json!({ "durationSeconds": seconds, "costCents": cents });
        if let Some(score) = sentiment {
            outcome["sentimentScore"] = json!(score);
        }
        let ended = self.end_call(id, &outcome).await;
        ended.assert_status(StatusCode::OK);
        assert_eq!(ended.body["status"], "completed", "{}", ended.text);
        ended.body
    }

    /// `POST …/calls/{id}/heartbeat`.
    pub async fn heartbeat(&self, call_id: &str) -> Answer {
        self.client
            .post(
                &self.path(&format!("/calls/{call_id}/heartbeat")),
                &json!({}),
            )
            .await
    }

    /// `POST …/usage-events` with these events.
    pub async fn post_events(&self, events: &[Value]) -> Answer {
        self.client
            .post(&self.path("/usage-events"), &json!({ "events": events }))
            .await
    }

    /// Reports events that must be taken; returns (accepted, duplicates).
    pub async fn ingest(&self, events: &[Value]) -> (i64, i64) {
        let answer = self.post_events(events).await;
        answer.assert_status(StatusCode::OK);
        let count = |name: &str| {
            answer.body[name]
                .as_i64()
                .unwrap_or_else(|| panic!("no {name} in {}", answer.text))
        };
        (count("accepted"), count("duplicates"))
    }

    /// The tenant's analytics for a query string such as `?dateFrom=…&dateTo=…`.
    pub async fn analytics(&self, query: &str) -> Value {
        let answer = self
            .client
            .get(&self.path(&format!("/analytics{query}")))
            .await;
        answer.assert_status(StatusCode::OK);
        answer.body
    }

    /// The tenant's analytics from `from` to `to`, both included.
    pub async fn analytics_between(&self, from: NaiveDate, to: NaiveDate) -> Value {
        self.analytics(&format!("?dateFrom={from}&dateTo={to}"))
            .await
    }

    /// `GET …/limits`.
    pub async fn limits(&self) -> Value {
        let answer = self.client.get(&self.path("/limits")).await;
        answer.assert_status(StatusCode::OK);
        answer.body
    }

    /// The tenant object's `usageCurrentMonth`.
    pub async fn usage_this_month(&self) -> Value {
        let answer = self.client.get(&self.path("")).await;
        answer.assert_status(StatusCode::OK);
        answer.body["usageCurrentMonth"].clone()
    }

    /// Everything the counters say about this tenant, to show that a refused request changed
    /// nothing.
    pub async fn snapshot(&self, from: NaiveDate, to: NaiveDate) -> Snapshot {
        Snapshot {
            analytics: self.analytics_between(from, to).await,
            limits: self.limits().await,
            usage: self.usage_this_month().await,
        }
    }
}

/// Sends `count` call starts to `path` all at once, spread over `clients` in turn, and
/// returns every answer.
pub async fn simultaneous_starts(clients: &[Client], path: &str, count: usize) -> Vec<Answer> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(count));
    let starts: Vec<_> = (0..count)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let path = path.to_owned();
            let barrier = barrier.clone();
            let channel = ["phone", "webrtc", "webchat"][i % 3];
            tokio::spawn(async move {
                barrier.wait().await;
                client.post(&path, &json!({ "channel": channel })).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(count);
    for start in starts {
        answers.push(start.await.expect("the start task runs"));
    }
    answers
}

/// What the counters of one tenant said at one moment.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub analytics: Value,
    pub limits: Value,
    pub usage: Value,
}

/// The server's database, reached below the API.
#[derive(Clone)]
pub struct Database(pub(super) Db);

impl Database {
    /// The reaper's pass at `at`: expires up to `batch` calls whose lease ended before it.
    pub async fn expire_calls(&self, at: DateTime<Utc>, batch: i64) -> StoreResult<u64> {
        store::calls::expire(&self.0, at, batch).await
    }

    /// The store's handle, for calling repositories directly.
    pub fn store(&self) -> &Db {
        &self.0
    }

    pub fn backend(&self) -> store::Backend {
        self.0.backend()
    }

    /// The plan the database chooses for `statement`, one line per step.
    pub async fn query_plan(&self, statement: Query<'_>) -> Vec<String> {
        self.0
            .reader()
            .query_plan(statement)
            .await
            .expect("explain the statement")
    }

    /// Runs SQL of this backend (seeding, `ANALYZE`) in a transaction of its own.
    pub async fn run_sql(&self, sql: &str) {
        self.write(query(sql.to_owned()))
            .await
            .unwrap_or_else(|error| panic!("{error:?} in {sql}"));
    }

    /// The columns of `table`, in order.
    pub async fn columns(&self, table: &str) -> Vec<String> {
        let sql = match self.backend() {
            store::Backend::Sqlite => "SELECT name FROM pragma_table_info($1) ORDER BY cid",
            store::Backend::Postgres => {
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position"
            }
        };
        let columns: Vec<(String,)> = self
            .0
            .reader()
            .fetch_all(query(sql).bind(table))
            .await
            .expect("read the table's columns");
        columns.into_iter().map(|column| column.0).collect()
    }

    /// Every row of every table, as text, by table: two snapshots are equal exactly when no
    /// request changed anything stored.
    pub async fn every_row(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut snapshot = std::collections::BTreeMap::new();
        for table in self.tables().await {
            let sql = match self.backend() {
                store::Backend::Sqlite => {
                    let columns: Vec<String> = self
                        .columns(&table)
                        .await
                        .iter()
                        .map(|column| format!("quote(\"{column}\")"))
                        .collect();
                    format!("SELECT {} FROM \"{table}\"", columns.join(" || ',' || "))
                }
                store::Backend::Postgres => format!("SELECT t::text FROM \"{table}\" t"),
            };
            let rows: Vec<(Option<String>,)> = self
                .0
                .reader()
                .fetch_all(query(sql))
                .await
                .unwrap_or_else(|e| panic!("read {table}: {e:?}"));
            let mut rows: Vec<String> = rows
                .into_iter()
                .map(|(row,)| row.unwrap_or_default())
                .collect();
            rows.sort();
            snapshot.insert(table, rows);
        }
        snapshot
    }

    /// Runs one statement in a transaction of its own.
    pub async fn write(&self, statement: Query<'_>) -> StoreResult<()> {
        let mut tx = self.0.begin().await?;
        tx.execute(statement).await?;
        tx.commit().await
    }
}

impl TestApp {
    /// Sets a tenant's counters of the period that starts on `period`, as if that much had
    /// been used: the API adds one call or batch at a time, far too slowly to reach a ceiling.
    pub async fn set_period_usage(
        &self,
        tenant_id: &str,
        period: NaiveDate,
        calls: i64,
        seconds: i64,
        cost_cents: i64,
    ) {
        let id: TenantId = tenant_id.parse().expect("a tenant id");
        let statement = query(
            "INSERT INTO tenant_usage (tenant_id, period_start, calls, seconds, cost_cents) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, period_start) DO UPDATE \
             SET calls = excluded.calls, seconds = excluded.seconds, \
             cost_cents = excluded.cost_cents",
        )
        .bind(id)
        .bind(period)
        .bind(calls)
        .bind(seconds)
        .bind(cost_cents);
        self.db()
            .write(statement)
            .await
            .expect("set the period's counters");
    }

    /// Sets a tenant's rollup of one day and channel (no sentiment), like
    /// [`TestApp::set_period_usage`].
    pub async fn set_daily_usage(
        &self,
        tenant_id: &str,
        day: NaiveDate,
        channel: &str,
        conversations: i64,
        seconds: i64,
        cost_cents: i64,
    ) {
        let id: TenantId = tenant_id.parse().expect("a tenant id");
        let statement = query(
            "INSERT INTO usage_daily (tenant_id, day, channel, conversations, seconds, \
             cost_cents, sentiment_micros_sum, sentiment_count) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0) \
             ON CONFLICT (tenant_id, day, channel) DO UPDATE \
             SET conversations = excluded.conversations, seconds = excluded.seconds, \
             cost_cents = excluded.cost_cents",
        )
        .bind(id)
        .bind(day)
        .bind(channel)
        .bind(conversations)
        .bind(seconds)
        .bind(cost_cents);
        self.db()
            .write(statement)
            .await
            .expect("set the day's rollup");
    }

    /// Sets a tenant's agency series to one month: `conversations` and `cost_cents` on
    /// `day`, nothing before or after, like [`TestApp::set_period_usage`].
    pub async fn set_series_usage(
        &self,
        tenant_id: &str,
        day: NaiveDate,
        conversations: i64,
        cost_cents: i64,
    ) {
        use chrono::Datelike;
        let id: TenantId = tenant_id.parse().expect("a tenant id");
        let month = day.with_day(1).expect("the first of the month");
        let days = 1..=31_u32;
        let columns: Vec<String> = days
            .clone()
            .map(|d| format!("conversations_d{d:02}"))
            .chain(days.clone().map(|d| format!("cost_cents_d{d:02}")))
            .collect();
        let values: Vec<String> = (3..3 + columns.len()).map(|n| format!("${n}")).collect();
        let mut insert = query(format!(
            "INSERT INTO usage_monthly (tenant_id, agency_id, month, conversations_before, \
             cost_cents_before, {}) SELECT tenant_id, agency_id, $2, 0, 0, {} \
             FROM tenant_counters WHERE tenant_id = $1",
            columns.join(", "),
            values.join(", ")
        ));
        insert.push(id);
        insert.push(month);
        for value in [conversations, cost_cents] {
            for d in days.clone() {
                insert.push(if d >= day.day() { value } else { 0 });
            }
        }
        self.db().write(insert).await.expect("set the month's row");
        let counters = query(
            "UPDATE tenant_counters SET first_usage_month = $2, last_usage_month = $2, \
             conversations_total = $3, cost_cents_total = $4 WHERE tenant_id = $1",
        )
        .bind(id)
        .bind(month)
        .bind(conversations)
        .bind(cost_cents);
        self.db()
            .write(counters)
            .await
            .expect("set the series' totals");
    }
}

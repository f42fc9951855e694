//! The monthly limits are exact under races: on one server of either database, and across three
//! servers on one PostgreSQL. Each race makes one limit the binding one (calls, minutes or
//! spend) and lets many racers start calls, ending each admitted call at once, until the limit
//! refuses them. Exactly the limit's worth of calls may be admitted, never one more.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::both;
use crate::support::process::Replicas;
use crate::support::{Client, TenantFixture, TestApp};

/// Calls the binding limit allows in each race.
const ALLOWED: i64 = 7;
/// Requests in flight at once.
const RACERS: usize = 200;
/// Races per limit across replicas; the fault showed in some trials only.
const TRIALS: usize = 4;

/// The monthly limit that binds a race.
#[derive(Debug, Clone, Copy)]
enum Binding {
    Calls,
    Minutes,
    Spend,
}

impl Binding {
    const ALL: [Binding; 3] = [Binding::Calls, Binding::Minutes, Binding::Spend];

    /// The tenant's `usageLimits`. Minutes and spend grow only when calls end, so those races
    /// allow one call at a time: every admission then waits for the end before it.
    fn usage_limits(self) -> Value {
        match self {
            Binding::Calls => json!({ "monthlyCallLimit": ALLOWED, "maxConcurrentCalls": 1000 }),
            Binding::Minutes => json!({ "maxMinutesPerMonth": ALLOWED, "maxConcurrentCalls": 1 }),
            Binding::Spend => {
                json!({ "monthlySpendLimitCents": ALLOWED * 10, "maxConcurrentCalls": 1 })
            }
        }
    }

    /// What each admitted call reports when it ends: one minute or ten cents of the limit.
    fn outcome(self) -> Value {
        match self {
            Binding::Calls => json!({ "durationSeconds": 1, "costCents": 1 }),
            Binding::Minutes => json!({ "durationSeconds": 60, "costCents": 0 }),
            Binding::Spend => json!({ "durationSeconds": 1, "costCents": 10 }),
        }
    }

    fn code(self) -> &'static str {
        match self {
            Binding::Calls => "monthly_call_limit_exceeded",
            Binding::Minutes => "monthly_minute_limit_exceeded",
            Binding::Spend => "spend_limit_exceeded",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Binding::Calls => "monthlyCallLimit",
            Binding::Minutes => "maxMinutesPerMonth",
            Binding::Spend => "monthlySpendLimitCents",
        }
    }

    /// The limit's value as the refusal and the limits report state it.
    fn value(self) -> i64 {
        match self {
            Binding::Spend => ALLOWED * 10,
            Binding::Calls | Binding::Minutes => ALLOWED,
        }
    }

    async fn tenant(self, app: &TestApp) -> TenantFixture {
        app.tenant()
            .limits(self.usage_limits())
            .action_at_100("block_new_calls")
            .create()
            .await
    }
}

/// One racer: starts calls until the binding limit refuses one, ending each admitted call at
/// once, and retrying when only concurrency refused. Returns how many calls it got admitted.
async fn racer(client: Client, tenant_path: String, binding: Binding, start: Arc<Barrier>) -> i64 {
    start.wait().await;
    let mut admitted = 0;
    loop {
        let started = client
            .post(
                &format!("{tenant_path}/calls"),
                &json!({ "channel": "phone" }),
            )
            .await;
        match started.status {
            StatusCode::CREATED => {
                admitted += 1;
                let end = format!("{tenant_path}/calls/{}/end", started.id());
                client
                    .post(&end, &binding.outcome())
                    .await
                    .assert_status(StatusCode::OK);
            }
            StatusCode::TOO_MANY_REQUESTS if started.body["code"] == binding.code() => {
                started.assert_limit(
                    StatusCode::TOO_MANY_REQUESTS,
                    binding.code(),
                    binding.key(),
                    binding.value(),
                    binding.value(),
                );
                return admitted;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                started.assert_problem(StatusCode::TOO_MANY_REQUESTS, "concurrency_limit_exceeded");
            }
            other => panic!("unexpected {other}: {}", started.text),
        }
    }
}

/// Races a fresh tenant over `servers` (its key used on each) and checks the limit held.
async fn race(app: &TestApp, servers: &[&str], binding: Binding) {
    let tenant = binding.tenant(app).await;
    let clients: Vec<Client> = servers
        .iter()
        .map(|url| app.client_of(url, tenant.client.key()))
        .collect();
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            tokio::spawn(racer(
                clients[i % clients.len()].clone(),
                tenant.path(""),
                binding,
                start.clone(),
            ))
        })
        .collect();
    let mut admitted = 0;
    for racer in racers {
        admitted += racer.await.expect("the racer runs");
    }
    assert_eq!(admitted, ALLOWED, "{binding:?}: calls admitted");

    let limits = tenant.limits().await;
    let report = &limits["limits"][binding.key()];
    assert_eq!(report["used"], binding.value(), "{binding:?}: {limits}");
    assert_eq!(report["value"], binding.value(), "{binding:?}: {limits}");
    assert_eq!(report["exceeded"], true, "{binding:?}: {limits}");
    assert_eq!(limits["activeCalls"], 0, "{limits}");
    assert_eq!(
        tenant.usage_this_month().await["conversations"],
        ALLOWED,
        "{binding:?}"
    );
}

both!(
    each_monthly_limit_holds_exactly_under_a_race,
    |app| async move {
        let url = app.base_url().to_owned();
        for binding in Binding::ALL {
            race(&app, &[&url], binding).await;
        }
    }
);

#[tokio::test]
async fn each_monthly_limit_holds_exactly_across_three_servers_on_one_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replicas = Replicas::start(&app).await;
    let urls = replicas.urls();
    for trial in 0..TRIALS {
        for binding in Binding::ALL {
            eprintln!("trial {trial}: {binding:?}");
            race(&app, &urls, binding).await;
        }
    }
    replicas.kill().await;
    app.finish().await;
}

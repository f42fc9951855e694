//! Permanent delete and the purge job: a tenant with rows in every table a tenant has rows in
//! is deleted for good, and afterwards no table of the schema holds a row of it, while its
//! neighbour in the agency keeps every row; its stored bytes go too. The purge job does the
//! same for deleted tenants past their grace period, one replica per tenant, and a kill -9 in
//! the middle of a purge leaves all of the tenant or none of it.

use std::collections::BTreeMap;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry::store::purge::{Link, OTHER_TABLES, TENANT_TABLES};

use crate::both;
use crate::support::blobs::generated;
use crate::support::people::{person, Mailbox};
use crate::support::process::{replicas_turn, Served};
use crate::support::receiver::Receiver;
use crate::support::tenant_rows::Marks;
use crate::support::{AgencyFixture, Settings, TenantFixture, TestApp};
use crate::v1::resource_kinds::{integrations, phone_numbers, sip_trunks, squads, workflows};
use crate::v1::resources::agents_of;

/// A tenant and what marks its rows.
struct Marked {
    tenant: TenantFixture,
    marks: Marks,
}

/// A tenant of `agency` named after `label` (and unique), with SIP on and room for resources.
async fn marked_tenant(app: &TestApp, agency: &AgencyFixture, label: &str) -> Marked {
    let name = format!(
        "{label} {}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let tenant = app
        .tenant()
        .name(&name)
        .of(agency)
        // A spend limit its first call's cost reaches half of (an alert), and one call at a
        // time (a refusal, told as `limit.refused`).
        .limits(json!({
            "maxPhoneNumbers": 50,
            "maxSquads": 50,
            "monthlySpendLimitCents": 20,
            "maxConcurrentCalls": 1,
        }))
        .field("settings", json!({ "sipEnabled": true }))
        .field(
            "owner",
            json!({ "email": format!("owner-{label}@example.com") }),
        )
        .create()
        .await;
    let marks = Marks::of(&tenant.id, &name);
    Marked { tenant, marks }
}

/// A tenant with rows in every table a tenant has rows in: agents, every resource kind (one
/// naming an agent, a file with bytes), a call with a recording and one in progress, usage
/// events and their rollups, keys, an idempotency record, a member with a session, a pending
/// invitation, limits, a subscription and mail, a fired alert and a told refusal. `n` (1 or 2)
/// picks resources no other tenant holds.
async fn populated(
    app: &TestApp,
    mailbox: &Mailbox,
    agency: &AgencyFixture,
    label: &str,
    n: usize,
) -> Marked {
    let marked = marked_tenant(app, agency, label).await;
    let tenant = &marked.tenant;
    // Its own webhook endpoint, delivered to while it is filled.
    let receiver = Receiver::start().await;
    let delivering = app.replica(Settings::webhooks("50ms")).await;
    tenant
        .client
        .patch(
            &tenant.path(""),
            &json!({ "settings": { "webhookUrl": receiver.url } }),
        )
        .await
        .assert_status(StatusCode::OK);
    // A subscription, whose period then keys its usage.
    let start = Utc::now() - chrono::Duration::days(2);
    tenant.subscribe(&agency.client, "starter", start).await;
    let agents = agents_of(tenant).await;
    for kind in [
        phone_numbers(),
        sip_trunks(),
        squads(),
        workflows(),
        integrations(),
    ] {
        let path = tenant.path(&format!("/{}", kind.path));
        let created = tenant.client.post(&path, &(kind.body)(n, &agents)).await;
        created.assert_status(StatusCode::CREATED);
    }
    tenant
        .upload("notes.txt", "text/plain", generated(7, 10_000))
        .await;
    recorded_call(tenant).await;
    let now = Utc::now();
    let events: Vec<_> = (0..3)
        .map(|i| crate::support::event(&format!("{label}-{i}"), now, "phone", 10, 2, None))
        .collect();
    tenant.ingest(&events).await;
    moved_away_and_back(app, agency, tenant, label).await;
    app.mint_key(&json!({ "name": "second key", "tenantId": tenant.id }))
        .await;
    let branding =
        json!({ "companyName": format!("{label} brand"), "colors": { "accent": "#123" } });
    tenant
        .client
        .put(&tenant.path("/branding"), &branding)
        .await
        .assert_status(StatusCode::OK);
    let again = tenant
        .client
        .request(Method::POST, &tenant.path("/agents"))
        .header("Idempotency-Key", format!("{label}-agent"))
        .json(&json!({ "name": "Replayable" }));
    tenant
        .client
        .send(again)
        .await
        .assert_status(StatusCode::CREATED);
    let invite = tenant.path("/users/invite");
    let email = format!("member-{label}@example.com");
    person(app, mailbox, &agency.client, &invite, &email, "TenantUser").await;
    let pending = json!({ "email": format!("later-{label}@example.com"), "role": "TenantUser" });
    agency
        .client
        .post(&invite, &pending)
        .await
        .assert_status(StatusCode::CREATED);
    tenant.admit("phone").await;
    tenant
        .start_call(&json!({ "channel": "phone" }))
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "concurrency_limit_exceeded");
    until_delivered(app).await;
    delivering.stop().await;
    marked
}

/// Waits until no webhook delivery is pending, so that counts of rows hold still.
async fn until_delivered(app: &TestApp) {
    crate::support::mail::eventually(|| async {
        let (pending,): (i64,) = app
            .db()
            .store()
            .reader()
            .fetch_one(tenantry::store::query(
                "SELECT COUNT(*) FROM webhook_deliveries \
                 WHERE delivered_at IS NULL AND failed_at IS NULL",
            ))
            .await
            .unwrap();
        (pending == 0).then_some(())
    })
    .await
}

/// Transfers the tenant to another agency, which has usage of it, and back: the tenant keeps
/// its transfers and the other agency's usage series.
async fn moved_away_and_back(
    app: &TestApp,
    agency: &AgencyFixture,
    tenant: &TenantFixture,
    label: &str,
) {
    let former = app.agency().create().await;
    for (from, to) in [(agency, &former), (&former, agency)] {
        let offered = from
            .client
            .post(
                &tenant.path("/transfer"),
                &json!({ "targetAgencyId": to.id }),
            )
            .await;
        offered.assert_status(StatusCode::CREATED);
        let accept = format!("/api/v1/transfers/{}/accept", offered.id());
        to.client
            .post(&accept, &json!({}))
            .await
            .assert_status(StatusCode::OK);
        if to.id == former.id {
            let away =
                crate::support::event(&format!("{label}-away"), Utc::now(), "phone", 10, 2, None);
            tenant.ingest(&[away]).await;
        }
    }
}

/// A call that ended, with a recording.
async fn recorded_call(tenant: &TenantFixture) {
    let call = tenant.admit("webrtc").await;
    tenant.end(&call, 60, 10, None).await;
    let id = call["id"].as_str().unwrap();
    let upload = tenant
        .client
        .request(Method::PUT, &tenant.path(&format!("/calls/{id}/recording")))
        .header("content-type", "audio/mp4")
        .body("audio bytes");
    tenant
        .client
        .send(upload)
        .await
        .assert_status(StatusCode::CREATED);
}

/// Every declared table that this schema has holds rows of the tenant.
fn assert_in_every_table(rows: &BTreeMap<String, i64>) {
    for (table, link) in TENANT_TABLES {
        if let (Some(count), false) = (rows.get(*table), *link == Link::WithTenantRow) {
            assert!(*count > 0, "the tenant has no row in {table}: {rows:?}");
        }
    }
}

#[track_caller]
fn assert_none(rows: &BTreeMap<String, i64>) {
    let left: Vec<_> = rows.iter().filter(|(_, count)| **count > 0).collect();
    assert!(left.is_empty(), "rows of the tenant are left: {left:?}");
}

async fn agency_tenants(app: &TestApp) -> (i64, i64) {
    app.db()
        .store()
        .reader()
        .fetch_one(tenantry::store::query(
            "SELECT CAST(SUM(tenants) AS BIGINT), CAST(SUM(active_tenants) AS BIGINT) \
             FROM agency_counters",
        ))
        .await
        .unwrap()
}

both!(
    a_permanent_delete_leaves_no_row_of_the_tenant,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let doomed = populated(&app, &mailbox, &agency, "doomed", 1).await;
        let neighbour = populated(&app, &mailbox, &agency, "neighbour", 2).await;
        let db = app.db();
        let before = db.rows_of(&doomed.marks).await;
        assert_in_every_table(&before);
        let neighbours = db.rows_of(&neighbour.marks).await;
        assert_in_every_table(&neighbours);
        let path = |query: &str| doomed.tenant.path(query);

        // A call in progress refuses it, and nothing changes.
        agency
            .client
            .delete(&path("?permanent=true"))
            .await
            .assert_problem(StatusCode::CONFLICT, "tenant_has_active_calls");
        assert_eq!(db.rows_of(&doomed.marks).await, before);
        assert_eq!(agency_tenants(&app).await, (2, 2));

        let deleted = agency
            .client
            .delete(&path("?permanent=true&force=true"))
            .await;
        deleted.assert_status(StatusCode::NO_CONTENT);
        assert_none(&db.rows_of(&doomed.marks).await);
        assert_eq!(db.rows_of(&neighbour.marks).await, neighbours);
        assert!(app.objects_of(&doomed.tenant.id).is_empty());
        assert_eq!(app.objects_of(&neighbour.tenant.id).len(), 2);
        // The agency counts one tenant fewer; its report keeps the neighbour.
        assert_eq!(agency_tenants(&app).await, (1, 1));
        let today = Utc::now().date_naive();
        let report = agency.analytics_between(today, today).await;
        assert_eq!(report["totalConversations"], 4, "{report}");

        // The id is a 404 everywhere, restore included; its key is unknown.
        for answer in [
            agency.client.get(&path("")).await,
            agency.client.delete(&path("")).await,
            agency.client.delete(&path("?permanent=true")).await,
            agency.client.post(&path("/restore"), &json!({})).await,
            app.platform().get(&path("/agents")).await,
        ] {
            answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        doomed
            .tenant
            .client
            .get(&path(""))
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
);

both!(
    every_table_is_declared_tenant_data_or_not,
    |app| async move {
        let tables = app.db().tables().await;
        let declared: Vec<&str> = TENANT_TABLES
            .iter()
            .map(|(table, _)| *table)
            .chain(OTHER_TABLES.iter().map(|(table, _)| *table))
            .collect();
        let undeclared: Vec<&String> = tables
            .iter()
            .filter(|table| !declared.contains(&table.as_str()))
            .collect();
        assert!(
            undeclared.is_empty(),
            "declare each table in store::purge, as tenant data or not: {undeclared:?}"
        );
        for (table, link) in TENANT_TABLES {
            // Only tables the schema deletes by itself may be missing from a backend.
            if *link != Link::WithTenantRow {
                assert!(tables.contains(&table.to_string()), "{table} is no table");
            }
        }
    }
);

both!(
    permanent_delete_is_for_whoever_may_delete,
    |app| async move {
        let agency = app.agency().create().await;
        let other = app.agency().name("Other").create().await;
        let active = marked_tenant(&app, &agency, "active").await;
        let inactive = marked_tenant(&app, &agency, "inactive").await;
        let deleted = marked_tenant(&app, &agency, "deleted").await;
        let permanently = |t: &Marked| t.tenant.path("?permanent=true");
        active
            .tenant
            .client
            .delete(&permanently(&active))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        other
            .client
            .delete(&permanently(&active))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        let unclear = agency
            .client
            .delete(&active.tenant.path("?permanent=yes"))
            .await;
        assert!(unclear.status.is_client_error(), "{}", unclear.text);
        assert!(unclear.text.contains("permanent"), "{}", unclear.text);
        let rows = app.db().rows_of(&active.marks).await;
        assert!(rows["tenants"] == 1 && rows["api_keys"] == 1, "{rows:?}");

        // Inactive and soft-deleted tenants go as well.
        agency
            .client
            .post(&inactive.tenant.path("/deactivate"), &json!({}))
            .await
            .assert_status(StatusCode::OK);
        agency
            .client
            .delete(&deleted.tenant.path(""))
            .await
            .assert_status(StatusCode::OK);
        for tenant in [&active, &inactive, &deleted] {
            app.platform()
                .delete(&permanently(tenant))
                .await
                .assert_status(StatusCode::NO_CONTENT);
            assert_none(&app.db().rows_of(&tenant.marks).await);
        }
        assert_eq!(agency_tenants(&app).await, (0, 0));
    }
);

/// Soft-deletes `tenant` and moves its `purgeAfter` into the past.
async fn due_for_purge(app: &TestApp, agency: &AgencyFixture, tenant: &TenantFixture) {
    agency
        .client
        .delete(&tenant.path("?force=true"))
        .await
        .assert_status(StatusCode::OK);
    let id: tenantry::domain::ids::TenantId = tenant.id.parse().unwrap();
    let past = Utc::now() - chrono::Duration::days(1);
    let statement = "UPDATE tenants SET purge_after = $2 WHERE id = $1";
    let moved = tenantry::store::query(statement).bind(id).bind(past);
    app.db().write(moved).await.unwrap();
}

both!(
    the_purge_job_removes_tenants_past_their_grace_period,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let due = populated(&app, &mailbox, &agency, "due", 1).await;
        let waiting = populated(&app, &mailbox, &agency, "waiting", 2).await;
        let kept = marked_tenant(&app, &agency, "kept").await;
        due_for_purge(&app, &agency, &due.tenant).await;
        agency
            .client
            .delete(&waiting.tenant.path("?force=true"))
            .await
            .assert_status(StatusCode::OK);
        let waiting_rows = app.db().rows_of(&waiting.marks).await;
        let kept_rows = app.db().rows_of(&kept.marks).await;

        let purged = tenantry::service::lifecycle::purge_due(app.context(), Utc::now())
            .await
            .unwrap();
        assert_eq!(purged, 1);
        assert_none(&app.db().rows_of(&due.marks).await);
        assert!(app.objects_of(&due.tenant.id).is_empty());
        assert_eq!(app.db().rows_of(&waiting.marks).await, waiting_rows);
        assert_eq!(app.db().rows_of(&kept.marks).await, kept_rows);
        assert_eq!(app.objects_of(&waiting.tenant.id).len(), 2);
        // Restoring the waiting one still works; a second pass finds nothing.
        agency
            .client
            .post(&waiting.tenant.path("/restore"), &json!({}))
            .await
            .assert_status(StatusCode::OK);
        let again = tenantry::service::lifecycle::purge_due(app.context(), Utc::now())
            .await
            .unwrap();
        assert_eq!(again, 0);
    }
);

/// How many deleted tenants are left, and how many stored bytes wait for deletion.
async fn purge_left(app: &TestApp) -> (i64, i64) {
    app.db()
        .store()
        .reader()
        .fetch_one(tenantry::store::query(
            "SELECT (SELECT COUNT(*) FROM tenants WHERE status = 'deleted'), \
             (SELECT COUNT(*) FROM blob_deletions)",
        ))
        .await
        .unwrap()
}

/// Waits until the servers have purged every deleted tenant and deleted its bytes.
async fn wait_for_purges(app: &TestApp) {
    while purge_left(app).await != (0, 0) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn replicas_share_the_purge_and_never_purge_one_tenant_twice() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let agency = app.agency().create().await;
    let mut due = Vec::new();
    for i in 0..12 {
        let marked = marked_tenant(&app, &agency, &format!("due{i}")).await;
        let bytes = generated(i, 1000);
        marked.tenant.upload("a.txt", "text/plain", bytes).await;
        due_for_purge(&app, &agency, &marked.tenant).await;
        due.push(marked);
    }
    let turn = replicas_turn().await;
    let (a, b) = tokio::join!(
        Served::start_logging(&app, "tenantry=info"),
        Served::start_logging(&app, "tenantry=info")
    );
    wait_for_purges(&app).await;
    let logs = format!("{}\n{}", a.stop().await, b.stop().await);
    drop(turn);
    for marked in &due {
        let id = &marked.tenant.id;
        let purges = logs
            .lines()
            .filter(|line| line.contains("deleted tenant purged") && line.contains(id.as_str()))
            .count();
        assert_eq!(purges, 1, "{id} purged once:\n{logs}");
        assert_none(&app.db().rows_of(&marked.marks).await);
        assert!(app.objects_of(id).is_empty());
    }
    app.finish().await;
}

/// Inserts `count` usage events of a tenant with one statement.
async fn bulk_events(app: &TestApp, tenant: &TenantFixture, count: i64) {
    let id: tenantry::domain::ids::TenantId = tenant.id.parse().unwrap();
    app.db()
        .write(
            tenantry::store::query(
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $3) \
             INSERT INTO usage_events (tenant_id, id, occurred_at, channel, duration_seconds, \
             cost_cents, received_at) SELECT $1, 'bulk-' || n, $2, 'phone', 10, 1, $2 FROM g",
            )
            .bind(id)
            .bind(Utc::now())
            .bind(count),
        )
        .await
        .unwrap();
}

both!(
    a_kill_9_in_the_middle_of_a_purge_leaves_all_or_nothing,
    |app| async move {
        let agency = app.agency().create().await;
        let big = marked_tenant(&app, &agency, "big").await;
        agents_of(&big.tenant).await;
        big.tenant
            .upload("a.txt", "text/plain", generated(3, 1000))
            .await;
        bulk_events(&app, &big.tenant, 200_000).await;
        due_for_purge(&app, &agency, &big.tenant).await;
        let before = app.db().rows_of(&big.marks).await;
        assert_eq!(before["usage_events"], 200_000);

        // The server purges at start; it dies once it has begun.
        let server = Served::start_logging(&app, "tenantry=info").await;
        server.wait_for_log("purging a deleted tenant").await;
        server.kill().await;
        let after = app.db().rows_of(&big.marks).await;
        let all = after == before;
        let none = after.values().all(|count| *count == 0);
        assert!(all || none, "a part of the tenant is left: {after:?}");
        eprintln!("after kill -9 mid-purge: all rows {all}, no rows {none}");

        // Restarted, the server finishes the purge, bytes included.
        let restarted = Served::start(&app).await;
        wait_for_purges(&app).await;
        restarted.kill().await;
        assert_none(&app.db().rows_of(&big.marks).await);
        assert!(app.objects_of(&big.tenant.id).is_empty());
    }
);

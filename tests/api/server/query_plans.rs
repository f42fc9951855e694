//! Every list the API serves, and the agency report, reads through an index at platform
//! scale: a scope or a filter is an index condition, never a check made while walking rows
//! that do not match it. The database is seeded in SQL with 20,000 tenants of one agency, each
//! with an agent, a call, a key, a subscription, a month of usage, a phone number answered by
//! the agent, a workflow and an owner's membership and invitation, beside a small agency of
//! three tenants and 20,000 agencies without any.
//! The statements come from the store's own builders. PostgreSQL plans after `ANALYZE`, as
//! autovacuum leaves it; SQLite plans the way a fresh database does, without statistics.

use chrono::{Datelike, Months, NaiveDate, Utc};
use serde_json::json;
use tenantry::domain::access::{Scope, TenantScope};
use tenantry::domain::delivery::DeliveryStatus;
use tenantry::domain::ids::{AgencyId, AgentId, PlanId, TenantId, WebhookEndpointId};
use tenantry::domain::metering::{CallFilter, CallStatus, Channel};
use tenantry::domain::policy::Role;
use tenantry::domain::resource::ResourceKind;
use tenantry::domain::tenant::{EffectiveStatus, SortValue, TenantQuery, TenantSort};
use tenantry::domain::transfer::{TransferDirection, TransferState};
use tenantry::domain::user::MemberStatus;
use tenantry::store::audit::AuditFilter;
use tenantry::store::deliveries::DeliveryFilter;
use tenantry::store::resources::Filters;
use tenantry::store::tenants::SearchPath;
use tenantry::store::transfers::TransferFilter;
use tenantry::store::users::MemberFilter;
use tenantry::store::{self, Backend, Query};

use crate::both;
use crate::support::Database;
use crate::support::TestApp;

const CLONES: i64 = 20_000;

const SORTS: [TenantSort; 4] = [
    TenantSort::Name,
    TenantSort::Slug,
    TenantSort::CreatedAt,
    TenantSort::UpdatedAt,
];

struct Platform {
    db: Database,
    big: AgencyId,
    /// The big agency's webhook endpoint.
    endpoint: WebhookEndpointId,
    small: AgencyId,
    tenant: TenantId,
    agent: AgentId,
    enterprise: PlanId,
}

/// SQL of this backend for a fresh id and for the numbers 1 to `CLONES`.
fn dialect(backend: Backend) -> (&'static str, String) {
    let id = match backend {
        Backend::Sqlite => "randomblob(16)",
        Backend::Postgres => "gen_random_uuid()",
    };
    let numbers = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {CLONES}) "
    );
    (id, numbers)
}

/// `INSERT INTO table SELECT … FROM from`, copying every column from `src` except those
/// given as `(column, expression)`.
async fn clone_rows(db: &Database, prefix: &str, table: &str, from: &str, set: &[(&str, &str)]) {
    let columns = db.columns(table).await;
    let values: Vec<String> = columns
        .iter()
        .map(|column| {
            set.iter()
                .find(|(name, _)| name == column)
                .map_or_else(|| format!("src.{column}"), |(_, value)| (*value).to_owned())
        })
        .collect();
    db.run_sql(&format!(
        "{prefix}INSERT INTO {table} ({}) SELECT {} FROM {from}",
        columns.join(", "),
        values.join(", ")
    ))
    .await;
}

async fn seed(app: &TestApp) -> Platform {
    let big = app.agency().name("Big").create().await;
    // Told of every tenant's events: each clone's events have a delivery to it.
    let hooked = big
        .client
        .post(
            "/api/v1/agency/webhook-endpoints",
            &json!({ "url": "https://hooks.example.com/big" }),
        )
        .await;
    hooked.assert_status(reqwest::StatusCode::CREATED);
    let template = app
        .tenant()
        .name("Template Client")
        .limits(json!({ "maxAgents": 5 }))
        .field("owner", json!({ "email": "owner@template.example" }))
        .of(&big)
        .create()
        .await;
    let agent = template
        .client
        .post(&template.path("/agents"), &json!({ "name": "Ava" }))
        .await
        .id();
    let phone = template
        .client
        .post(
            &template.path("/phone-numbers"),
            &json!({ "number": "+14155550100", "agentId": agent }),
        )
        .await;
    phone.assert_status(reqwest::StatusCode::CREATED);
    let workflow = json!({ "name": "Greeting", "definition": { "steps": [] } });
    template
        .client
        .post(&template.path("/workflows"), &workflow)
        .await
        .assert_status(reqwest::StatusCode::CREATED);
    // A subscription whose period keys the usage that follows.
    let start = Utc::now() - chrono::Duration::days(2);
    template.subscribe(&big.client, "starter", start).await;
    let call = template.admit("phone").await;
    template.end(&call, 60, 25, None).await;
    let small = app.agency().name("Small").create().await;
    // Every clone is offered to the small agency.
    big.client
        .post(
            &template.path("/transfer"),
            &json!({ "targetAgencyId": small.id }),
        )
        .await
        .assert_status(reqwest::StatusCode::CREATED);
    for (name, plan) in [
        ("Acme", "starter"),
        ("Bolt", "business"),
        ("Core", "starter"),
    ] {
        app.tenant().name(name).plan(plan).of(&small).create().await;
    }

    let db = app.db();
    let (id, numbers) = dialect(db.backend());
    let template_id = format!(
        "(SELECT id FROM tenants WHERE slug = '{}')",
        template.body["slug"].as_str().unwrap()
    );
    clone_rows(
        &db,
        &numbers,
        "tenants",
        &format!("tenants src CROSS JOIN n WHERE src.id = {template_id}"),
        &[
            ("id", id),
            ("name", "'Client ' || n.i"),
            ("slug", "'client-' || n.i"),
            (
                "status",
                "CASE WHEN n.i % 100 = 0 THEN 'inactive' ELSE 'active' END",
            ),
            (
                "plan_id",
                "CASE WHEN n.i % 200 = 0 THEN (SELECT id FROM plans WHERE code = 'enterprise') \
                 ELSE src.plan_id END",
            ),
        ],
    )
    .await;
    let clones = format!("tenants t CROSS JOIN {{table}} src WHERE t.id <> {template_id} AND t.agency_id = (SELECT agency_id FROM tenants WHERE id = {template_id}) AND src.tenant_id = {template_id}");
    let from = |table: &str| clones.replace("{table}", table);
    clone_rows(
        &db,
        "",
        "tenant_counters",
        &from("tenant_counters"),
        &[("tenant_id", "t.id")],
    )
    .await;
    clone_rows(
        &db,
        "",
        "agents",
        &from("agents"),
        &[("tenant_id", "t.id"), ("id", id)],
    )
    .await;
    clone_rows(
        &db,
        "",
        "calls",
        &from("calls"),
        &[("tenant_id", "t.id"), ("id", id), ("agent_id", "NULL")],
    )
    .await;
    let unique_suffix = match db.backend() {
        Backend::Sqlite => "hex(t.id)",
        Backend::Postgres => "t.id::text",
    };
    clone_rows(
        &db,
        "",
        "resources",
        &from("resources"),
        &[
            ("tenant_id", "t.id"),
            ("id", id),
            ("unique_key", &format!("src.unique_key || {unique_suffix}")),
        ],
    )
    .await;
    // Each cloned phone number answers with its tenant's cloned agent.
    db.run_sql(&format!(
        "INSERT INTO resource_agents (tenant_id, resource_id, agent_id) \
         SELECT r.tenant_id, r.id, a.id FROM resources r \
         JOIN agents a ON a.tenant_id = r.tenant_id \
         WHERE r.kind = 'phone_number' AND r.tenant_id <> {template_id}"
    ))
    .await;
    for table in ["usage_monthly", "tenant_usage", "tenant_limits"] {
        clone_rows(&db, "", table, &from(table), &[("tenant_id", "t.id")]).await;
    }
    clone_rows(
        &db,
        "",
        "subscriptions",
        &from("subscriptions"),
        &[("tenant_id", "t.id"), ("id", id), ("plan_id", "t.plan_id")],
    )
    .await;
    clone_rows(
        &db,
        &numbers,
        "agencies",
        &format!("agencies src CROSS JOIN n WHERE src.id = (SELECT agency_id FROM tenants WHERE id = {template_id})"),
        &[("id", id), ("name", "'Agency ' || n.i")],
    )
    .await;
    let hash_suffix = match db.backend() {
        Backend::Sqlite => "hex(t.id)",
        Backend::Postgres => "t.id::text",
    };
    clone_rows(
        &db,
        "",
        "api_keys",
        &from("api_keys"),
        &[
            ("tenant_id", "t.id"),
            ("id", id),
            ("secret_hash", &format!("src.secret_hash || {hash_suffix}")),
        ],
    )
    .await;
    // Each clone's owner: one person invited to every tenant.
    clone_rows(
        &db,
        "",
        "memberships",
        &from("memberships"),
        &[("id", id), ("reach", "t.id"), ("tenant_id", "t.id")],
    )
    .await;
    clone_rows(
        &db,
        "",
        "invitations",
        &from("invitations"),
        &[
            ("id", id),
            ("reach", "t.id"),
            ("tenant_id", "t.id"),
            (
                "membership_id",
                "(SELECT m.id FROM memberships m WHERE m.reach = t.id)",
            ),
            ("token_hash", &format!("src.token_hash || {hash_suffix}")),
        ],
    )
    .await;
    clone_rows(
        &db,
        "",
        "transfers",
        &from("transfers"),
        &[("id", id), ("tenant_id", "t.id")],
    )
    .await;
    // Each clone's trail: the template's entries, in a chain of the clone's own.
    clone_rows(
        &db,
        "",
        "audit_log",
        &from("audit_log"),
        &[("id", id), ("tenant_id", "t.id"), ("chain_id", "t.id")],
    )
    .await;
    clone_rows(
        &db,
        "",
        "events",
        &from("events"),
        &[("id", id), ("tenant_id", "t.id")],
    )
    .await;
    // Each clone's events were delivered; the template's are still pending.
    db.run_sql(&format!(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, reach, tenant_id, \
         event_type, timeout_seconds, attempts, next_attempt_at, created_at, delivered_at) \
         SELECT {id}, e.id, w.id, w.reach, e.tenant_id, e.type, 20, 1, e.occurred_at, \
         e.occurred_at, e.occurred_at FROM events e CROSS JOIN webhook_endpoints w \
         WHERE e.tenant_id <> {template_id} AND w.agency_id = e.agency_id"
    ))
    .await;
    // One tenant in 100 is blocked (all of them active).
    let services = match db.backend() {
        Backend::Sqlite => "'[\"calls\"]'",
        Backend::Postgres => "'[\"calls\"]'::jsonb",
    };
    db.run_sql(&format!(
        "UPDATE tenants SET blocked_services = {services}, blocked_at = created_at \
         WHERE slug LIKE 'client-%07'"
    ))
    .await;
    if db.backend() == Backend::Postgres {
        db.run_sql("ANALYZE").await;
    }
    let endpoint = hooked.id().parse().unwrap();
    let enterprise = store::tenants::plan_id_of(db.store(), "enterprise")
        .await
        .expect("read the plans")
        .expect("the enterprise plan");
    Platform {
        db,
        big: big.id.parse().unwrap(),
        endpoint,
        small: small.id.parse().unwrap(),
        tenant: template.id.parse().unwrap(),
        agent: agent.parse().unwrap(),
        enterprise,
    }
}

impl Platform {
    /// The plan of `statement`, checked: no table that grows with the platform is read in
    /// full, and each of `indexes` (all, or any one of a `|`-separated set) is used.
    async fn assert_plan(&self, what: &str, statement: Query<'_>, indexes: &[&str]) {
        let sql = statement.sql().to_owned();
        let plan = self.db.query_plan(statement).await;
        let text = plan.join("\n");
        let context = || format!("{what}\n{sql}\n-- plan --\n{text}");
        for table in [
            "tenants",
            "agents",
            "calls",
            "api_keys",
            "tenant_counters",
            "tenant_limits",
            "tenant_usage",
            "subscriptions",
            "usage_monthly",
            "resources",
            "resource_agents",
            "memberships",
            "invitations",
            "audit_log",
            "transfers",
            "events",
            "webhook_deliveries",
        ] {
            let full_scan = plan.iter().any(|step| match self.db.backend() {
                Backend::Postgres => step.contains(&format!("Seq Scan on {table}")),
                Backend::Sqlite => {
                    let step = step.trim();
                    step == format!("SCAN {table}")
                        || step.starts_with(&format!("SCAN {table} ")) && !step.contains("USING")
                        || aliased_full_scan(step, table)
                }
            });
            assert!(!full_scan, "a full scan of {table}: {}", context());
        }
        for wanted in indexes {
            assert!(
                wanted.split('|').any(|index| uses_index(&text, index)),
                "{wanted} is not used: {}",
                context()
            );
        }
    }
}

/// SQLite names a table by its alias in a plan (`SCAN t`); the aliases the store uses.
fn aliased_full_scan(step: &str, table: &str) -> bool {
    let alias = match table {
        "tenants" => "t",
        "api_keys" => "k",
        "tenant_counters" => "c",
        "subscriptions" => "s",
        _ => return false,
    };
    step == format!("SCAN {alias}")
}

/// Whether the plan reads `index` by a condition (SQLite `SEARCH … USING INDEX x (…)`,
/// PostgreSQL `Index Scan using x`, `Bitmap Index Scan on x`), or, for a name ending in `*`,
/// walks it in order.
fn uses_index(plan: &str, index: &str) -> bool {
    if let Some(walked) = index.strip_suffix('*') {
        return plan.contains(&format!("INDEX {walked}"))
            || plan.contains(&format!("using {walked} "))
            || plan.contains(&format!("using {walked}\n"))
            || plan.ends_with(&format!("using {walked}"));
    }
    plan.lines().any(|step| {
        (step.contains("SEARCH") && step.contains(&format!("INDEX {index} (")))
            || (step.contains("Index") && step.contains(&format!(" using {index} ")))
            || step.contains(&format!("Bitmap Index Scan on {index}"))
    })
}

fn tenant_list(sort: TenantSort) -> TenantQuery {
    TenantQuery {
        status: None,
        plan: None,
        agency_id: None,
        search: None,
        sort,
        descending: false,
        after: None,
        limit: 51,
        offset: 0,
    }
}

fn sort_suffix(sort: TenantSort) -> &'static str {
    match sort {
        TenantSort::Name => "name",
        TenantSort::Slug => "slug",
        TenantSort::CreatedAt => "created",
        TenantSort::UpdatedAt => "updated",
    }
}

both!(every_list_reads_through_an_index, |app| async move {
    let platform = seed(&app).await;
    let backend = platform.db.backend();
    let agency = |id: AgencyId| TenantScope {
        agency_id: Some(id),
        tenant_id: None,
    };

    for sort in SORTS {
        let by = sort_suffix(sort);
        let list = tenant_list(sort);
        let cases: Vec<(String, TenantScope, TenantQuery, String)> = vec![
            (
                "platform".into(),
                TenantScope::ALL,
                list.clone(),
                format!("tenants_by_{by}*"),
            ),
            (
                "small agency".into(),
                agency(platform.small),
                list.clone(),
                format!("tenants_agency_by_{by}"),
            ),
            (
                "agency filter".into(),
                TenantScope::ALL,
                TenantQuery {
                    agency_id: Some(platform.small),
                    ..list.clone()
                },
                format!("tenants_agency_by_{by}"),
            ),
            (
                "status".into(),
                TenantScope::ALL,
                TenantQuery {
                    status: Some(EffectiveStatus::Inactive),
                    ..list.clone()
                },
                format!("tenants_status_by_{by}"),
            ),
            (
                "agency and status".into(),
                agency(platform.big),
                TenantQuery {
                    status: Some(EffectiveStatus::Inactive),
                    descending: true,
                    ..list.clone()
                },
                // The big agency holds nearly every tenant: its index and the platform's
                // are equally good.
                format!("tenants_agency_status_by_{by}|tenants_status_by_{by}"),
            ),
            (
                "blocked".into(),
                TenantScope::ALL,
                TenantQuery {
                    status: Some(EffectiveStatus::Blocked),
                    ..list.clone()
                },
                format!("tenants_blocked_by_{by}*"),
            ),
            (
                "agency and blocked".into(),
                agency(platform.big),
                TenantQuery {
                    status: Some(EffectiveStatus::Blocked),
                    descending: true,
                    ..list.clone()
                },
                format!("tenants_agency_blocked_by_{by}*|tenants_blocked_by_{by}*"),
            ),
            (
                // Nearly every tenant: walking the status's index fills a page at once.
                "active".into(),
                TenantScope::ALL,
                TenantQuery {
                    status: Some(EffectiveStatus::Active),
                    ..list.clone()
                },
                format!("tenants_status_by_{by}|tenants_by_{by}*"),
            ),
            (
                "plan".into(),
                TenantScope::ALL,
                TenantQuery {
                    plan: Some("enterprise".into()),
                    ..list.clone()
                },
                format!("tenants_plan_by_{by}"),
            ),
            (
                "agency and plan".into(),
                agency(platform.big),
                TenantQuery {
                    plan: Some("enterprise".into()),
                    ..list.clone()
                },
                format!("tenants_agency_plan_by_{by}|tenants_plan_by_{by}"),
            ),
            (
                "status and plan".into(),
                agency(platform.big),
                TenantQuery {
                    status: Some(EffectiveStatus::Inactive),
                    plan: Some("enterprise".into()),
                    ..list.clone()
                },
                // Either filter's index, in any order: PostgreSQL may AND two bitmaps.
                ["agency_status", "agency_plan", "status", "plan"]
                    .iter()
                    .flat_map(|lead| {
                        SORTS.map(|sort| format!("tenants_{lead}_by_{}", sort_suffix(sort)))
                    })
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
        ];
        for (what, scope, query, index) in cases {
            let plan_id = match &query.plan {
                Some(_) => Some(platform.enterprise),
                None => None,
            };
            let statement =
                store::tenants::list_query(backend, scope, &query, plan_id, SearchPath::Index);
            platform
                .assert_plan(&format!("tenants by {by}, {what}"), statement, &[&index])
                .await;
        }
    }

    let search = |scope, path| {
        let query = TenantQuery {
            search: Some("client 1999".into()),
            ..tenant_list(TenantSort::CreatedAt)
        };
        store::tenants::list_query(backend, scope, &query, None, path)
    };
    let trigram = match backend {
        // Tenants are read by id, from the search's matches.
        Backend::Sqlite => "sqlite_autoindex_tenants_1",
        Backend::Postgres => "tenants_name_trigrams",
    };
    let mut searches = vec![
        (TenantScope::ALL, SearchPath::Index, trigram),
        (agency(platform.big), SearchPath::Index, trigram),
    ];
    // A common word on SQLite walks the list's own index, testing each tenant.
    if backend == Backend::Sqlite {
        searches.push((TenantScope::ALL, SearchPath::Walk, "tenants_by_created*"));
        searches.push((
            agency(platform.big),
            SearchPath::Walk,
            "tenants_agency_by_created",
        ));
    }
    for (scope, path, index) in searches {
        platform
            .assert_plan(
                &format!("tenants by q, {path:?}"),
                search(scope, path),
                &[index],
            )
            .await;
    }
    let resumed = TenantQuery {
        status: Some(EffectiveStatus::Inactive),
        after: Some((SortValue::Text("Client 5".into()), platform.tenant)),
        ..tenant_list(TenantSort::Name)
    };
    platform
        .assert_plan(
            "tenants by name, status, after a cursor",
            store::tenants::list_query(
                backend,
                agency(platform.big),
                &resumed,
                None,
                SearchPath::Index,
            ),
            &["tenants_agency_status_by_name|tenants_status_by_name"],
        )
        .await;

    let after = Some(AgentId::generate());
    platform
        .assert_plan(
            "agents",
            store::agents::list_query(platform.tenant, after, 51),
            &["sqlite_autoindex_agents_1|agents_pkey"],
        )
        .await;

    let by_kind = Filters::default();
    let by_category = Filters {
        category: Some("both".to_owned()),
        agent_id: None,
    };
    let by_agent = Filters {
        category: None,
        agent_id: Some(platform.agent),
    };
    for (what, filters, indexes) in [
        ("resources", by_kind, vec!["resources_by_kind"]),
        (
            "resources by category",
            by_category,
            vec!["resources_by_category"],
        ),
        (
            "resources by agent",
            by_agent,
            vec![
                "resources_by_kind|sqlite_autoindex_resources_1|resources_pkey",
                "resource_agents_by_agent|sqlite_autoindex_resource_agents_1|resource_agents_pkey",
            ],
        ),
    ] {
        let kind = ResourceKind::PhoneNumber;
        platform
            .assert_plan(
                what,
                store::resources::list_query(platform.tenant, kind, &filters, None, 51),
                &indexes,
            )
            .await;
    }

    platform
        .assert_plan(
            "inbound number route",
            store::resources::unique_key_query(ResourceKind::PhoneNumber, "+14155550100"),
            &["resources_unique_key"],
        )
        .await;

    let filter = CallFilter {
        status: Some(CallStatus::Completed),
        channel: Some(Channel::Phone),
        agent_id: Some(platform.agent),
        from: Some(Utc::now() - chrono::Duration::days(30)),
        to: Some(Utc::now()),
    };
    for filter in [CallFilter::default(), filter] {
        platform
            .assert_plan(
                "calls",
                store::calls::list_query(platform.tenant, &filter, None, 51),
                &["calls_by_started"],
            )
            .await;
    }

    let keys = [
        (agency(platform.big), "api_keys_by_reach"),
        (
            TenantScope {
                agency_id: Some(platform.big),
                tenant_id: Some(platform.tenant),
            },
            "api_keys_by_tenant|api_keys_by_reach",
        ),
        (
            TenantScope::ALL,
            "sqlite_autoindex_api_keys_1*|api_keys_pkey*",
        ),
    ];
    for (scope, index) in keys {
        platform
            .assert_plan(
                "keys",
                store::api_keys::list_query(scope, None, 51),
                &[index],
            )
            .await;
    }
    let tenant = Scope::Tenant(platform.tenant);
    let everyone = MemberFilter::default();
    let owners = MemberFilter {
        role: Some(Role::TenantOwner),
        status: Some(MemberStatus::Active),
        search: None,
    };
    for (what, filter, index) in [
        (
            "members",
            &everyone,
            "memberships_reach_user|memberships_by_role",
        ),
        (
            "active owners",
            &owners,
            "memberships_reach_user|memberships_by_role",
        ),
    ] {
        platform
            .assert_plan(
                what,
                store::users::list_query(tenant, filter, 1, 20),
                &[index],
            )
            .await;
    }
    platform
        .assert_plan(
            "invitations",
            store::users::invitations_query(tenant, None, 51),
            &["invitations_by_reach"],
        )
        .await;
    platform
        .assert_plan(
            "agencies",
            store::agencies::list_query(Some(platform.big), 51),
            &["sqlite_autoindex_agencies_1|agencies_pkey"],
        )
        .await;

    // The MrAssistant admin list's figures for a page of tenants.
    let page = [platform.tenant];
    platform
        .assert_plan(
            "tenant activity",
            store::usage::activity_query(platform.db.backend(), &page),
            &[
                "sqlite_autoindex_agents_1|agents_pkey",
                "sqlite_autoindex_tenant_usage_1|tenant_usage_pkey",
            ],
        )
        .await;

    one_tenant_plans(&platform).await;
    audit_plans(&platform).await;
    transfer_plans(&platform).await;
    delivery_plans(&platform).await;

    let today = Utc::now().date_naive();
    let year_ago = today.checked_sub_months(Months::new(12)).unwrap();
    let month_start = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    for (from, to) in [(month_start, today), (year_ago, today)] {
        platform
            .assert_plan(
                "agency report",
                store::monthly::agency_range_query(platform.small, from, to),
                &["tenant_counters_by_agency"],
            )
            .await;
    }
    app.finish().await;
});

/// The tenant read and admission's read of one tenant: its subscription and its billing
/// period's counters by their keys.
async fn one_tenant_plans(platform: &Platform) {
    let subscription = "sqlite_autoindex_subscriptions_2|subscriptions_tenant_id_key";
    let usage = "sqlite_autoindex_tenant_usage_1|tenant_usage_pkey";
    platform
        .assert_plan(
            "the tenant read",
            store::tenants::find_query(TenantScope::ALL, platform.tenant),
            &[subscription, usage],
        )
        .await;
    platform
        .assert_plan(
            "admission",
            store::calls::admission_query(platform.tenant, Utc::now()),
            &[subscription, usage],
        )
        .await;
}

async fn audit_plans(platform: &Platform) {
    let tenant = AuditFilter {
        tenant_id: Some(platform.tenant),
        ..AuditFilter::default()
    };
    let cases = [
        ("a tenant's trail", tenant.clone(), "audit_log_by_tenant"),
        (
            "a tenant's trail by action and time",
            AuditFilter {
                action: Some("tenant.updated".into()),
                since: Some(Utc::now() - chrono::Duration::days(1)),
                ..tenant
            },
            "audit_log_by_tenant",
        ),
        (
            "an agency's trail",
            AuditFilter {
                agency_id: Some(platform.small),
                ..AuditFilter::default()
            },
            "audit_log_by_agency",
        ),
        (
            "the platform's trail",
            AuditFilter::default(),
            "sqlite_autoindex_audit_log_1*|audit_log_pkey*",
        ),
    ];
    for (what, filter, index) in cases {
        let statement = store::audit::list_query(&filter, None, 21);
        platform.assert_plan(what, statement, &[index]).await;
    }
}

async fn delivery_plans(platform: &Platform) {
    let backend = platform.db.backend();
    let skip = [platform.endpoint];
    let except = store::deliveries::Endpoints::Except(&skip);
    let due = store::deliveries::due_query(backend, Utc::now(), 16, except);
    platform
        .assert_plan(
            "the deliveries due",
            due,
            &["webhook_deliveries_due|webhook_deliveries_due_by_endpoint"],
        )
        .await;
    let only = store::deliveries::Endpoints::Only(platform.endpoint);
    let due = store::deliveries::due_query(backend, Utc::now(), 16, only);
    platform
        .assert_plan(
            "one endpoint's deliveries due",
            due,
            &["webhook_deliveries_due_by_endpoint"],
        )
        .await;
    let cases = [
        (
            "an agency's deliveries",
            DeliveryFilter {
                reach: Some(platform.big.0),
                ..DeliveryFilter::default()
            },
            "webhook_deliveries_by_reach",
        ),
        (
            "an endpoint's failed deliveries",
            DeliveryFilter {
                endpoint: Some(platform.endpoint),
                status: Some(DeliveryStatus::Failed),
                ..DeliveryFilter::default()
            },
            "webhook_deliveries_failed_by_endpoint",
        ),
        (
            "an agency's failed deliveries",
            DeliveryFilter {
                reach: Some(platform.big.0),
                status: Some(DeliveryStatus::Failed),
                ..DeliveryFilter::default()
            },
            "webhook_deliveries_failed_by_reach",
        ),
        (
            "an endpoint's deliveries",
            DeliveryFilter {
                endpoint: Some(platform.endpoint),
                ..DeliveryFilter::default()
            },
            "webhook_deliveries_by_endpoint|sqlite_autoindex_webhook_deliveries_1*|webhook_deliveries_pkey*",
        ),
    ];
    for (what, filter, index) in cases {
        let statement = store::deliveries::list_query(&filter, None, 21);
        platform.assert_plan(what, statement, &[index]).await;
    }
}

async fn transfer_plans(platform: &Platform) {
    let agency = |id: AgencyId, direction| TransferFilter {
        agency: Some(id),
        direction,
        ..TransferFilter::default()
    };
    let cases = [
        (
            "an agency's outgoing transfers",
            agency(platform.small, Some(TransferDirection::Outgoing)),
            "transfers_by_source",
        ),
        (
            "an agency's incoming transfers",
            agency(platform.big, Some(TransferDirection::Incoming)),
            "transfers_by_target",
        ),
        (
            "an agency's pending transfers, both ways",
            TransferFilter {
                state: Some(TransferState::Pending),
                ..agency(platform.big, None)
            },
            // Every transfer is the big agency's: walking the newest first stops after a page.
            "transfers_by_source|transfers_by_target|sqlite_autoindex_transfers_1*|transfers_pkey*",
        ),
        (
            "every transfer",
            TransferFilter {
                all: true,
                ..TransferFilter::default()
            },
            "sqlite_autoindex_transfers_1*|transfers_pkey*",
        ),
    ];
    for (what, filter, index) in cases {
        let statement = store::transfers::list_query(filter, None, Utc::now(), 21);
        platform.assert_plan(what, statement, &[index]).await;
    }
}

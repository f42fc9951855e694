//! Listing tenants: filters, sorting, and cursors that walk every tenant exactly once.

use reqwest::StatusCode;
use serde_json::{json, Value};

use tenantry::domain::access::TenantScope;
use tenantry::domain::ids::AgencyId;
use tenantry::domain::tenant::{TenantQuery, TenantSort};
use tenantry::store::{self, tenants::SearchPath};

use crate::both;
use crate::support::{Client, TestApp};

/// Names chosen so that byte order and any locale's order agree.
const NAMES: [&str; 7] = [
    "delta", "alpha", "golf", "charlie", "echo", "bravo", "foxtrot",
];

/// Seven tenants, created in the order of [`NAMES`], with slugs (`s9-delta`, `s8-alpha`, …)
/// whose order differs from the names', on the business and starter plans in turn.
async fn seven_tenants(app: &TestApp) -> Vec<Value> {
    let mut made = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let tenant = app
            .tenant()
            .name(name)
            .slug(&format!("s{}-{name}", 9 - i))
            .plan(if i % 2 == 0 { "business" } else { "starter" })
            .create()
            .await;
        made.push(tenant.body);
    }
    made
}

fn field_of(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|t| t[field].as_str().expect("a string field").to_owned())
        .collect()
}

/// Walks a list two at a time and checks it against the full order, once each.
async fn assert_walk(client: &Client, query: &str, field: &str, expected: &[String]) {
    let walked = client
        .walk(&format!("/api/v1/tenants?limit=2&{query}"))
        .await;
    assert_eq!(field_of(&walked, field), expected, "walking {query}");
    let ids = field_of(&walked, "id");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "each tenant once in {query}");
}

both!(a_list_page_has_data_and_next_cursor, |app| async move {
    let empty = app.platform().get("/api/v1/tenants").await;
    empty.assert_status(StatusCode::OK);
    assert_eq!(empty.body, json!({ "data": [], "nextCursor": null }));

    seven_tenants(&app).await;
    let page = app.platform().get("/api/v1/tenants?limit=3").await;
    page.assert_status(StatusCode::OK);
    let keys: Vec<_> = page.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["data", "nextCursor"]);
    assert_eq!(page.body["data"].as_array().unwrap().len(), 3);
    assert!(page.body["nextCursor"].is_string());

    let all = app.platform().get("/api/v1/tenants").await;
    assert_eq!(
        all.body["data"].as_array().unwrap().len(),
        7,
        "default limit is 20"
    );
    assert_eq!(all.body["nextCursor"], Value::Null);
});

both!(cursors_walk_every_sort_order_once, |app| async move {
    let made = seven_tenants(&app).await;
    let platform = app.platform();
    let mut names = field_of(&made, "name");
    names.sort();
    assert_walk(&platform, "sortBy=name", "name", &names).await;
    assert_walk(&platform, "sortBy=name&order=asc", "name", &names).await;
    let mut slugs = field_of(&made, "slug");
    slugs.sort();
    assert_walk(&platform, "sortBy=slug", "slug", &slugs).await;
    slugs.reverse();
    assert_walk(&platform, "sortBy=slug&order=desc", "slug", &slugs).await;
    names.reverse();
    assert_walk(&platform, "sortBy=name&order=desc", "name", &names).await;

    let mut ids_by_creation = field_of(&made, "id");
    assert_walk(
        &platform,
        "sortBy=createdAt&order=asc",
        "id",
        &ids_by_creation,
    )
    .await;
    ids_by_creation.reverse();
    assert_walk(&platform, "", "id", &ids_by_creation).await;
    assert_walk(&platform, "sortBy=createdAt", "id", &ids_by_creation).await;

    // Touch the oldest tenant: it becomes the most recently updated.
    let oldest = made[0]["id"].as_str().unwrap();
    platform
        .patch(
            &format!("/api/v1/tenants/{oldest}"),
            &json!({ "name": "delta2" }),
        )
        .await
        .assert_status(StatusCode::OK);
    let by_update = platform
        .walk("/api/v1/tenants?limit=3&sortBy=updatedAt&order=desc")
        .await;
    assert_eq!(by_update.len(), 7);
    assert_eq!(by_update[0]["id"], oldest);
    let ascending = platform
        .walk("/api/v1/tenants?limit=3&sortBy=updatedAt&order=asc")
        .await;
    assert_eq!(ascending[6]["id"], oldest);
});

both!(filters_narrow_the_list, |app| async move {
    let made = seven_tenants(&app).await;
    let agency = app.agency().create().await;
    let client = app
        .tenant()
        .name("Agency Client")
        .of(&agency)
        .create()
        .await;
    let platform = app.platform();
    let names = |items: &[Value]| {
        let mut names = field_of(items, "name");
        names.sort();
        names
    };

    let business = platform.walk("/api/v1/tenants?plan=business").await;
    assert_eq!(names(&business), ["delta", "echo", "foxtrot", "golf"]);
    let starter = platform
        .walk("/api/v1/tenants?plan=starter&status=active")
        .await;
    assert_eq!(names(&starter), ["alpha", "bravo", "charlie"]);
    assert_eq!(
        platform.walk("/api/v1/tenants?status=active").await.len(),
        8
    );
    assert!(platform
        .walk("/api/v1/tenants?status=inactive")
        .await
        .is_empty());
    assert!(platform
        .walk("/api/v1/tenants?plan=enterprise")
        .await
        .is_empty());

    let of_agency = platform
        .walk(&format!("/api/v1/tenants?agencyId={}", agency.id))
        .await;
    assert_eq!(field_of(&of_agency, "id"), [client.id.as_str()]);

    // `q` is found anywhere in the name or the slug, whatever the case.
    assert_eq!(
        names(&platform.walk("/api/v1/tenants?q=HAR").await),
        ["charlie"]
    );
    assert_eq!(
        names(&platform.walk("/api/v1/tenants?q=ency%20cl").await),
        ["Agency Client"]
    );
    let by_slug = platform.walk("/api/v1/tenants?q=s9-").await;
    assert_eq!(field_of(&by_slug, "id"), [made[0]["id"].as_str().unwrap()]);
    assert_eq!(
        names(&platform.walk("/api/v1/tenants?q=lph").await),
        ["alpha"]
    );
    assert!(platform.walk("/api/v1/tenants?q=zzz").await.is_empty());
    for wildcards in ["%25%25%25", "___", "%5C%5C%5C"] {
        assert!(
            platform
                .walk(&format!("/api/v1/tenants?q={wildcards}"))
                .await
                .is_empty(),
            "{wildcards} is literal"
        );
    }
    let combined = platform.walk("/api/v1/tenants?q=cho&plan=business").await;
    assert_eq!(names(&combined), ["echo"]);
    assert_eq!(
        platform.walk("/api/v1/tenants?q=").await.len(),
        8,
        "an empty q is no filter"
    );

    // Quotes and wildcards in a name are found as written.
    let quoted = platform
        .post("/api/v1/tenants", &json!({ "name": "Say \"Hi\" 100%_Co" }))
        .await;
    quoted.assert_status(StatusCode::CREATED);
    for text in ["%22Hi%22", "100%25_", "y%20%22h"] {
        assert_eq!(
            names(&platform.walk(&format!("/api/v1/tenants?q={text}")).await),
            ["Say \"Hi\" 100%_Co"],
            "q={text}"
        );
    }

    // A renamed tenant is found by its new name, not its old one.
    platform
        .patch(
            &format!("/api/v1/tenants/{}", quoted.id()),
            &json!({ "name": "Quiet Co" }),
        )
        .await
        .assert_status(StatusCode::OK);
    assert!(platform.walk("/api/v1/tenants?q=%22Hi%22").await.is_empty());
    assert_eq!(
        names(&platform.walk("/api/v1/tenants?q=UIET").await),
        ["Quiet Co"]
    );
});

both!(bad_list_parameters_name_their_field, |app| async move {
    seven_tenants(&app).await;
    let platform = app.platform();
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=many", "limit"),
        ("sortBy=colour", "sortBy"),
        ("order=sideways", "order"),
        ("status=asleep", "status"),
        ("agencyId=agn_nope", "agencyId"),
        ("q=ab", "q"),
        ("cursor=garbage", "cursor"),
        ("cursor=eyJub3QiOiJhIGN1cnNvciJ9", "cursor"),
    ] {
        platform
            .get(&format!("/api/v1/tenants?{query}"))
            .await
            .assert_invalid(field);
    }
    let full = platform.get("/api/v1/tenants?limit=100").await;
    full.assert_status(StatusCode::OK);
    assert_eq!(full.body["data"].as_array().unwrap().len(), 7);
    let one = platform.get("/api/v1/tenants?limit=1").await;
    one.assert_status(StatusCode::OK);
    assert_eq!(one.body["data"].as_array().unwrap().len(), 1);

    // A cursor belongs to the order it came from.
    let by_name = platform.get("/api/v1/tenants?limit=2&sortBy=name").await;
    let cursor = by_name.body["nextCursor"].as_str().unwrap();
    platform
        .get(&format!("/api/v1/tenants?sortBy=slug&cursor={cursor}"))
        .await
        .assert_invalid("cursor");
    platform
        .get(&format!(
            "/api/v1/tenants?sortBy=name&order=desc&cursor={cursor}"
        ))
        .await
        .assert_invalid("cursor");
});

both!(an_agency_lists_only_its_tenants, |app| async move {
    seven_tenants(&app).await;
    let agency = app.agency().create().await;
    let mut mine = Vec::new();
    for name in ["kilo", "juliet", "india"] {
        mine.push(app.tenant().name(name).of(&agency).create().await.id);
    }
    mine.reverse();
    let walked = agency.client.walk("/api/v1/tenants?limit=1").await;
    assert_eq!(field_of(&walked, "id"), mine, "newest first, by default");
    let by_name = agency
        .client
        .walk("/api/v1/tenants?limit=2&sortBy=name")
        .await;
    assert_eq!(field_of(&by_name, "name"), ["india", "juliet", "kilo"]);
});

both!(names_that_read_like_times_page_as_names, |app| async move {
    let platform = app.platform();
    let mut names = Vec::new();
    for (i, name) in [
        "2024-01-01T00:00:00Z",
        "2025-06-30T12:00:00+00:00",
        "2026-11-22T04:00:00.5Z",
    ]
    .into_iter()
    .enumerate()
    {
        platform
            .post(
                "/api/v1/tenants",
                &json!({ "name": name, "slug": format!("timelike-{i}") }),
            )
            .await
            .assert_status(StatusCode::CREATED);
        names.push(name.to_owned());
    }
    let walked: Vec<String> = platform
        .walk("/api/v1/tenants?limit=1&sortBy=name")
        .await
        .iter()
        .map(|tenant| tenant["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(walked, names);
});

// SQLite finds a rare search term through its trigram index and a common one by walking the
// list in order; both must give the same answer, whatever the case or the script.
both!(both_search_paths_find_the_same_tenants, |app| async move {
    let agency = app.agency().create().await;
    for name in [
        "École Lumière",
        "ÉCOLE Lumière",
        "Mixed CASE Dental",
        "Plain Dental",
    ] {
        app.tenant().name(name).of(&agency).create().await;
    }
    app.tenant().name("Dental Elsewhere").create().await;
    let db = app.db();
    let in_agency = TenantScope {
        agency_id: Some(agency.id.parse::<AgencyId>().unwrap()),
        tenant_id: None,
    };
    let all = TenantScope::ALL;
    let dentists = ["Dental Elsewhere", "Mixed CASE Dental", "Plain Dental"];
    let schools = ["ÉCOLE Lumière", "École Lumière"];
    for (text, scope, expected) in [
        ("dental", all, &dentists[..]),
        ("DENTAL", in_agency, &dentists[1..]),
        ("case den", all, &dentists[1..2]),
        // ASCII letters fold on both databases; the rest as written on SQLite.
        ("lumière", all, &schools[..]),
        ("École", all, &schools[..]),
        ("cole lu", in_agency, &schools[..]),
        // PostgreSQL lowers other letters too, as its locale says; SQLite keeps them.
        (
            "école",
            all,
            match db.backend() {
                store::Backend::Sqlite => &[][..],
                store::Backend::Postgres => &schools[..],
            },
        ),
    ] {
        let list = TenantQuery {
            status: None,
            plan: None,
            agency_id: None,
            search: Some(text.to_owned()),
            sort: TenantSort::Name,
            descending: false,
            after: None,
            limit: 50,
            offset: 0,
        };
        for path in [SearchPath::Index, SearchPath::Walk] {
            let found = store::tenants::list_along(db.store(), scope, &list, path)
                .await
                .expect("a list");
            let mut names: Vec<&str> = found.iter().map(|t| t.name.as_str()).collect();
            // Every collation orders these ASCII names alike.
            if expected.iter().all(|name| name.is_ascii()) {
                assert_eq!(names, expected, "{text:?} along {path:?}, in name order");
            }
            names.sort_unstable();
            let mut expected = expected.to_vec();
            expected.sort_unstable();
            assert_eq!(names, expected, "{text:?} along {path:?}");
        }
    }
});

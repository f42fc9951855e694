//! `/api/organization`: every request the seed and Trieve's reference show, replayed, with the
//! documented fields, types and defaults.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::people::person;
use crate::support::{AgencyFixture, TestApp};

use super::{assert_message, assert_naive_time, uuid_of, Trieve};

/// What a plan's count says when it sets no limit.
const UNLIMITED: i64 = i32::MAX as i64;

/// The nine keys of a partner configuration.
const PARTNER_KEYS: [&str; 9] = [
    "COMPANY_NAME",
    "COMPANY_URL",
    "FAVICON_URL",
    "DEMO_DOMAIN",
    "CALENDAR_LINK",
    "SLACK_LINK",
    "LINKEDIN_LINK",
    "EMAIL",
    "PHONE",
];

fn agency_trieve(app: &TestApp, agency: &AgencyFixture) -> Trieve {
    Trieve::new(app, agency.client.key())
}

/// An Organization as the client requires it, named `name`, with id `id`.
#[track_caller]
fn assert_organization(organization: &Value, id: &str, name: &str) {
    assert_eq!(organization["id"], id, "{organization}");
    assert_eq!(organization["name"], name, "{organization}");
    assert_naive_time(&organization["created_at"]);
    assert_naive_time(&organization["updated_at"]);
    assert_eq!(organization["registerable"], true, "{organization}");
    assert!(
        organization["deleted"].is_i64(),
        "an integer: {organization}"
    );
    assert_eq!(organization["deleted"], 0, "{organization}");
    let partner = organization["partner_configuration"]
        .as_object()
        .expect("a partner configuration");
    assert_eq!(partner.len(), 9, "{organization}");
    for key in PARTNER_KEYS {
        assert!(partner[key].is_string(), "{key} in {organization}");
    }
    assert_eq!(partner["COMPANY_URL"], "https://trieve.ai");
}

/// A flat plan with every field the client requires, integers as integers.
#[track_caller]
fn assert_flat_plan(plan: &Value) {
    assert_eq!(plan["type"], "flat", "{plan}");
    assert!(
        uuid::Uuid::parse_str(plan["id"].as_str().unwrap()).is_ok(),
        "{plan}"
    );
    assert!(
        plan["stripe_id"].is_string() && plan["name"].is_string(),
        "{plan}"
    );
    for count in [
        "chunk_count",
        "user_count",
        "dataset_count",
        "message_count",
        "amount",
        "file_storage",
        "messages_per_month",
    ] {
        assert!(plan[count].is_i64(), "{count} is an integer in {plan}");
    }
    assert_eq!(plan["visible"], true, "{plan}");
    assert_naive_time(&plan["created_at"]);
    assert_naive_time(&plan["updated_at"]);
}

both!(
    getting_an_organization_answers_seed_004s_three_objects,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().name("Trieve").of(&agency).create().await;
        let org = uuid_of(&tenant.id);
        let free = app.platform().get("/api/v1/plans/free").await;
        let free_id: tenantry::domain::ids::PlanId = free.id().parse().unwrap();

        // The agency, the platform and the tenant's own key all read it.
        for key in [agency.client.key(), app.master_key(), tenant.client.key()] {
            let trieve = Trieve::new(&app, key);
            let got = trieve.get(&format!("/api/organization/{org}"), &org).await;
            got.assert_status(StatusCode::OK);
            let body = got.body.as_object().expect("an object");
            assert_eq!(
                body.len(),
                3,
                "organization, plan and subscription: {}",
                got.text
            );
            assert_organization(&got.body["organization"], &org, "Trieve");
            let plan = &got.body["plan"];
            assert_flat_plan(plan);
            assert_eq!(plan["id"], free_id.0.to_string());
            assert_eq!(plan["name"], "Free");
            assert_eq!(plan["stripe_id"], "");
            assert_eq!(plan["amount"], 0);
            assert_eq!(plan["dataset_count"], 10);
            assert_eq!(plan["message_count"], 1000);
            assert_eq!(plan["messages_per_month"], 1000);
            assert_eq!(plan["chunk_count"], 5000);
            assert_eq!(plan["user_count"], UNLIMITED);
            assert_eq!(plan["file_storage"], UNLIMITED);
            assert!(got.body["subscription"].is_null(), "{}", got.text);
        }

        // The path also takes the TypeID, as every path does.
        let trieve = agency_trieve(&app, &agency);
        let by_type_id = trieve
            .get(&format!("/api/organization/{}", tenant.id), &org)
            .await;
        by_type_id.assert_status(StatusCode::OK);
        assert_eq!(by_type_id.body["organization"]["id"], org);
    }
);

both!(
    a_plan_shows_its_entitlements_under_trieves_names,
    |app| async move {
        app.platform()
            .post(
                "/api/v1/plans",
                &json!({ "code": "gold", "name": "Gold", "amountCents": 5000,
                     "entitlements": { "maxAgents": 5, "monthlyCallLimit": 700,
                         "maxMinutesPerMonth": 300, "maxFilesGb": 2.5 },
                     "externalBillingId": "price_123" }),
            )
            .await
            .assert_status(StatusCode::CREATED);
        let agency = app.agency().create().await;
        let tenant = app.tenant().plan("gold").of(&agency).create().await;
        let org = uuid_of(&tenant.id);
        let got = agency_trieve(&app, &agency)
            .get(&format!("/api/organization/{org}"), &org)
            .await;
        got.assert_status(StatusCode::OK);
        let plan = &got.body["plan"];
        assert_flat_plan(plan);
        assert_eq!(plan["name"], "Gold");
        assert_eq!(plan["stripe_id"], "price_123");
        assert_eq!(plan["amount"], 5000);
        assert_eq!(plan["dataset_count"], 5);
        assert_eq!(plan["message_count"], 700);
        assert_eq!(plan["messages_per_month"], 700);
        assert_eq!(plan["chunk_count"], 300);
        assert_eq!(plan["file_storage"], 2500, "megabytes");
        assert_eq!(plan["user_count"], UNLIMITED);
    }
);

both!(
    creating_an_organization_answers_200_with_it,
    |app| async move {
        let agency = app.agency().create().await;
        let trieve = agency_trieve(&app, &agency);
        let created = trieve
            .post("/api/organization", &json!({ "name": "Acme" }))
            .await;
        created.assert_status(StatusCode::OK);
        let org = created.body["id"].as_str().expect("an id").to_owned();
        assert_organization(&created.body, &org, "Acme");

        // It is a tenant of the agency on the free plan.
        let id = tenantry::domain::ids::TenantId(org.parse().unwrap());
        let tenant = agency.client.get(&format!("/api/v1/tenants/{id}")).await;
        tenant.assert_status(StatusCode::OK);
        assert_eq!(tenant.body["agencyId"], agency.id);
        assert_eq!(tenant.body["plan"], "free");
        let read = trieve.get(&format!("/api/organization/{org}"), &org).await;
        assert_eq!(read.body["organization"], created.body);

        // The platform creates a direct one; a tenant key none.
        let direct = Trieve::new(&app, app.master_key())
            .post("/api/organization", &json!({ "name": "Direct" }))
            .await;
        direct.assert_status(StatusCode::OK);
        let tenant_key = app.tenant().of(&agency).create().await.client;
        let refused = Trieve::new(&app, tenant_key.key())
            .post("/api/organization", &json!({ "name": "Mine" }))
            .await;
        assert_message(&refused, StatusCode::FORBIDDEN, "Forbidden");

        // A name the client's model allows but tenantry does not is Trieve's 400.
        let empty = trieve
            .post("/api/organization", &json!({ "name": "" }))
            .await;
        assert_message(
            &empty,
            StatusCode::BAD_REQUEST,
            "name: must be 1 to 255 characters long",
        );
    }
);

both!(updating_an_organization_renames_it, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().name("Before").of(&agency).create().await;
    let org = uuid_of(&tenant.id);
    let trieve = agency_trieve(&app, &agency);
    let renamed = trieve
        .put("/api/organization", &org, &json!({ "name": "After" }))
        .await;
    renamed.assert_status(StatusCode::OK);
    assert_organization(&renamed.body, &org, "After");
    assert_ne!(
        renamed.body["updated_at"], renamed.body["created_at"],
        "{}",
        renamed.text
    );
    let read = trieve.get(&format!("/api/organization/{org}"), &org).await;
    assert_eq!(read.body["organization"]["name"], "After");

    assert_eq!(
        read.body["organization"]["partner_configuration"]["COMPANY_NAME"],
        "Trieve"
    );

    // Absent or null keeps the name; a partner configuration is the tenant's own branding,
    // which null keeps.
    for (body, company) in [
        (json!({}), "Trieve"),
        (json!({ "name": null }), "Trieve"),
        (
            json!({ "partner_configuration": { "COMPANY_NAME": "Acme" } }),
            "Acme",
        ),
        (json!({ "partner_configuration": null }), "Acme"),
    ] {
        let kept = trieve.put("/api/organization", &org, &body).await;
        kept.assert_status(StatusCode::OK);
        assert_organization(&kept.body, &org, "After");
        let partner = &kept.body["partner_configuration"];
        assert_eq!(partner["COMPANY_NAME"], company, "{}", kept.text);
    }
    let v1 = app
        .platform()
        .get(&format!("/api/v1/tenants/{org}/branding"))
        .await;
    v1.assert_status(StatusCode::OK);
    assert_eq!(v1.body["override"]["companyName"], "Acme", "{}", v1.text);
    let bad = trieve
        .put(
            "/api/organization",
            &org,
            &json!({ "partner_configuration": { "FAVICON_URL": "http://plain.example/x.ico" } }),
        )
        .await;
    bad.assert_status(StatusCode::BAD_REQUEST);
    let not_an_object = trieve
        .put(
            "/api/organization",
            &org,
            &json!({ "partner_configuration": "Acme" }),
        )
        .await;
    not_an_object.assert_status(StatusCode::BAD_REQUEST);
    let message = not_an_object.body["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Json Deserialization Error: *Type* : Data | *Message* : partner_configuration: "
        ),
        "{message}"
    );

    // The tenant's own key (its owner's role) renames it too.
    let own = Trieve::new(&app, tenant.client.key())
        .put("/api/organization", &org, &json!({ "name": "Own" }))
        .await;
    own.assert_status(StatusCode::OK);
    assert_eq!(own.body["name"], "Own");
});

both!(
    deleting_an_organization_is_a_soft_delete,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let org = uuid_of(&tenant.id);
        let path = format!("/api/organization/{org}");

        // A tenant's owner may not delete it: that is its agency's.
        let own = Trieve::new(&app, tenant.client.key());
        assert_message(
            &own.delete(&path, &org).await,
            StatusCode::FORBIDDEN,
            "Forbidden",
        );

        let trieve = agency_trieve(&app, &agency);
        let deleted = trieve.delete(&path, &org).await;
        deleted.assert_status(StatusCode::NO_CONTENT);
        assert!(deleted.text.is_empty(), "no body: {}", deleted.text);
        for answer in [
            trieve.get(&path, &org).await,
            trieve.delete(&path, &org).await,
            trieve
                .get(&format!("/api/organization/usage/{org}"), &org)
                .await,
            trieve
                .put("/api/organization", &org, &json!({ "name": "Back" }))
                .await,
        ] {
            assert_message(
                &answer,
                StatusCode::NOT_FOUND,
                "Not Found: Organization not found",
            );
        }

        // Kept, deleted, and restorable within the grace period, as v1 shows.
        let deleted = agency.client.get("/api/v1/tenants?status=deleted").await;
        assert_eq!(deleted.body["data"][0]["id"], tenant.id, "{}", deleted.text);
        agency
            .client
            .post(
                &format!("/api/v1/tenants/{}/restore", tenant.id),
                &json!({}),
            )
            .await
            .assert_status(StatusCode::OK);
        trieve.get(&path, &org).await.assert_status(StatusCode::OK);
    }
);

both!(usage_counts_this_periods_use, |app| async move {
    let agency = app.agency().create().await;
    let tenant = app.tenant().of(&agency).create().await;
    let org = uuid_of(&tenant.id);
    for name in ["Ava", "Bob"] {
        tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": name }))
            .await
            .assert_status(StatusCode::CREATED);
    }
    let call = tenant.admit("phone").await;
    tenant.end(&call, 150, 30, None).await;

    let usage = agency_trieve(&app, &agency)
        .get(&format!("/api/organization/usage/{org}"), &org)
        .await;
    usage.assert_status(StatusCode::OK);
    assert_eq!(
        usage.body,
        json!({ "id": org, "org_id": org, "dataset_count": 2, "user_count": 0,
                "file_storage": 0, "message_count": 1, "chunk_count": 2 })
    );
});

both!(
    users_are_the_active_members_with_trieves_roles,
    |app| async move {
        let mailbox = app.mailbox().await;
        let agency = app.agency().create().await;
        let tenant = app.tenant().name("Staffed").of(&agency).create().await;
        let org = uuid_of(&tenant.id);
        let invite = tenant.path("/users/invite");
        let mut people = Vec::new();
        for (email, role) in [
            ("owner@staffed.example", "TenantOwner"),
            ("user@staffed.example", "TenantUser"),
            ("reader@staffed.example", "ReadOnly"),
        ] {
            people.push(person(&app, &mailbox, &agency.client, &invite, email, role).await);
        }
        // Invited, not yet a member.
        agency
            .client
            .post(
                &invite,
                &json!({ "email": "later@staffed.example", "role": "TenantUser" }),
            )
            .await
            .assert_status(StatusCode::CREATED);

        let trieve = agency_trieve(&app, &agency);
        let users = trieve
            .get(&format!("/api/organization/users/{org}"), &org)
            .await;
        users.assert_status(StatusCode::OK);
        let mut roles: Vec<(String, i64)> = users
            .body
            .as_array()
            .expect("a list")
            .iter()
            .map(|user| {
                assert!(uuid::Uuid::parse_str(user["id"].as_str().unwrap()).is_ok());
                assert_naive_time(&user["created_at"]);
                assert!(user.get("name").is_some(), "{user}");
                let orgs = user["orgs"].as_array().expect("orgs");
                assert_eq!(orgs.len(), 1, "{user}");
                assert_organization(&orgs[0], &org, "Staffed");
                let memberships = user["user_orgs"].as_array().expect("user_orgs");
                assert_eq!(memberships.len(), 1, "{user}");
                let membership = &memberships[0];
                assert_eq!(membership["organization_id"], org, "{user}");
                assert_eq!(membership["user_id"], user["id"], "{user}");
                assert!(membership["id"].is_string(), "{user}");
                assert_naive_time(&membership["created_at"]);
                assert_naive_time(&membership["updated_at"]);
                assert!(membership.get("scopes").is_some(), "{user}");
                (
                    user["email"].as_str().unwrap().to_owned(),
                    membership["role"].as_i64().expect("an integer role"),
                )
            })
            .collect();
        roles.sort();
        assert_eq!(
            roles,
            [
                ("owner@staffed.example".to_owned(), 2),
                ("reader@staffed.example".to_owned(), 0),
                ("user@staffed.example".to_owned(), 1),
            ]
        );
        let usage = trieve
            .get(&format!("/api/organization/usage/{org}"), &org)
            .await;
        assert_eq!(usage.body["user_count"], 3, "{}", usage.text);

        // A reader's session reads, and may change nothing.
        let reader = Trieve::new(&app, people[2].key());
        reader
            .get(&format!("/api/organization/{org}"), &org)
            .await
            .assert_status(StatusCode::OK);
        for answer in [
            reader
                .put("/api/organization", &org, &json!({ "name": "Mine" }))
                .await,
            reader
                .delete(&format!("/api/organization/{org}"), &org)
                .await,
        ] {
            assert_message(&answer, StatusCode::FORBIDDEN, "Forbidden");
        }
    }
);

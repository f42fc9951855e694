//! The rules between resources and what they name: a phone number is one tenant's on the whole
//! platform; the agents a phone number or squad names are the tenant's own, and an agent in
//! use is not deleted; another tenant's resources do not exist for a caller; SIP trunks need
//! `settings.sipEnabled`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::{Answer, TenantFixture, TestApp};
use crate::v1::resources::{agents_of, roomy_tenant};

/// A 409 with `code` whose `errors[]` names `field`.
#[track_caller]
fn assert_conflict(answer: &Answer, code: &str, field: &str) {
    answer.assert_problem(StatusCode::CONFLICT, code);
    assert_eq!(answer.fields(), [field], "{}", answer.text);
    assert_eq!(answer.field_code(field).as_deref(), Some(code));
}

/// The ids a tenant lists of one kind.
async fn listed(tenant: &TenantFixture, kind: &str) -> Vec<String> {
    tenant
        .client
        .walk(&tenant.path(&format!("/{kind}")))
        .await
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create(tenant: &TenantFixture, kind: &str, body: Value) -> Answer {
    tenant
        .client
        .post(&tenant.path(&format!("/{kind}")), &body)
        .await
}

async fn created(tenant: &TenantFixture, kind: &str, body: Value) -> Answer {
    let answer = create(tenant, kind, body).await;
    answer.assert_status(StatusCode::CREATED);
    answer
}

both!(
    a_phone_number_is_one_tenants_on_the_whole_platform,
    |app| async move {
        let one = app.agency().name("One").create().await;
        let two = app.agency().name("Two").create().await;
        let first = roomy_tenant_of(&app, &one, "First").await;
        let second = roomy_tenant_of(&app, &two, "Second").await;
        let number = json!({ "number": "+14155550100" });
        let taken = created(&first, "phone-numbers", number.clone()).await;

        for tenant in [&first, &second] {
            let refused = create(tenant, "phone-numbers", number.clone()).await;
            assert_conflict(&refused, "unique_value_taken", "number");
        }
        assert!(listed(&second, "phone-numbers").await.is_empty());

        // Nor can a number be changed into one that is taken.
        let other = created(
            &second,
            "phone-numbers",
            json!({ "number": "+14155550101" }),
        )
        .await;
        let path = second.path(&format!("/phone-numbers/{}", other.id()));
        let refused = second.client.patch(&path, &number).await;
        assert_conflict(&refused, "unique_value_taken", "number");
        assert_eq!(second.client.get(&path).await.body, other.body);

        // Once its owner lets it go, another tenant may have it.
        first
            .client
            .delete(&first.path(&format!("/phone-numbers/{}", taken.id())))
            .await
            .assert_status(StatusCode::NO_CONTENT);
        created(&second, "phone-numbers", number.clone()).await;
        let refused = create(&first, "phone-numbers", number).await;
        assert_conflict(&refused, "unique_value_taken", "number");
    }
);

async fn roomy_tenant_of(
    app: &TestApp,
    agency: &crate::support::AgencyFixture,
    name: &str,
) -> TenantFixture {
    app.tenant()
        .name(name)
        .of(agency)
        .limits(json!({ "maxPhoneNumbers": 50, "maxSquads": 50 }))
        .field("settings", json!({ "sipEnabled": true }))
        .create()
        .await
}

both!(
    the_agents_a_resource_names_are_the_tenants_own,
    |app| async move {
        let tenant = roomy_tenant(&app, "Own").await;
        let neighbour = roomy_tenant(&app, "Neighbour").await;
        let own = agents_of(&tenant).await;
        let theirs = agents_of(&neighbour).await;
        let nobodys = tenantry::domain::ids::AgentId::generate().to_string();

        for agent in [&theirs[0], &nobodys] {
            let body = json!({ "number": "+14155550100", "agentId": agent });
            let refused = create(&tenant, "phone-numbers", body).await;
            refused.assert_invalid("agentId");
            assert_eq!(
                refused.field_code("agentId").as_deref(),
                Some("unknown_agent")
            );

            let body = json!({ "name": "Mixed", "agentIds": [own[0], agent, own[1]] });
            let refused = create(&tenant, "squads", body).await;
            refused.assert_invalid("agentIds[1]");
            assert_eq!(refused.fields(), ["agentIds[1]"], "{}", refused.text);
        }
        assert!(listed(&tenant, "phone-numbers").await.is_empty());
        assert!(listed(&tenant, "squads").await.is_empty());

        // Changes are held to the same rule, and leave the resource as it was.
        let phone = created(
            &tenant,
            "phone-numbers",
            json!({ "number": "+14155550100", "agentId": own[0] }),
        )
        .await;
        let squad = created(
            &tenant,
            "squads",
            json!({ "name": "Day", "agentIds": [own[0]] }),
        )
        .await;
        let phone_path = tenant.path(&format!("/phone-numbers/{}", phone.id()));
        let squad_path = tenant.path(&format!("/squads/{}", squad.id()));
        let refused = tenant
            .client
            .patch(&phone_path, &json!({ "agentId": theirs[1] }))
            .await;
        refused.assert_invalid("agentId");
        let refused = tenant
            .client
            .patch(
                &squad_path,
                &json!({ "agentIds": [own[1], own[0], theirs[0]] }),
            )
            .await;
        refused.assert_invalid("agentIds[2]");
        assert_eq!(tenant.client.get(&phone_path).await.body, phone.body);
        assert_eq!(tenant.client.get(&squad_path).await.body, squad.body);
        // The neighbour's lists by agent find nothing of ours.
        for agent in &own {
            let query = format!("/phone-numbers?agentId={agent}");
            let found = neighbour.client.walk(&neighbour.path(&query)).await;
            assert!(found.is_empty(), "{found:?}");
        }
    }
);

both!(
    an_agent_in_use_is_kept_until_nothing_names_it,
    |app| async move {
        let tenant = roomy_tenant(&app, "Own").await;
        let agents = agents_of(&tenant).await;
        let phone = created(
            &tenant,
            "phone-numbers",
            json!({ "number": "+14155550100", "label": "Front desk", "agentId": agents[0] }),
        )
        .await;
        let squad = created(
            &tenant,
            "squads",
            json!({ "name": "Day", "agentIds": [agents[1], agents[0]] }),
        )
        .await;
        let agent_path = |i: usize| tenant.path(&format!("/agents/{}", agents[i]));
        let phone_path = tenant.path(&format!("/phone-numbers/{}", phone.id()));
        let squad_path = tenant.path(&format!("/squads/{}", squad.id()));

        let refused = tenant.client.delete(&agent_path(0)).await;
        refused.assert_problem(StatusCode::CONFLICT, "in_use");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(detail.contains(&phone.id()), "{detail}");
        assert!(detail.contains(&squad.id()), "{detail}");
        tenant
            .client
            .get(&agent_path(0))
            .await
            .assert_status(StatusCode::OK);

        // With the phone number gone, the squad alone still holds the agent.
        tenant
            .client
            .delete(&phone_path)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        let refused = tenant.client.delete(&agent_path(0)).await;
        refused.assert_problem(StatusCode::CONFLICT, "in_use");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(!detail.contains(&phone.id()), "{detail}");
        assert!(detail.contains(&squad.id()), "{detail}");

        // Taken out of the squad, the agent may go; the other agent is still the squad's.
        tenant
            .client
            .patch(&squad_path, &json!({ "agentIds": [agents[1]] }))
            .await
            .assert_status(StatusCode::OK);
        tenant
            .client
            .delete(&agent_path(0))
            .await
            .assert_status(StatusCode::NO_CONTENT);
        tenant
            .client
            .delete(&agent_path(1))
            .await
            .assert_problem(StatusCode::CONFLICT, "in_use");
        tenant
            .client
            .delete(&squad_path)
            .await
            .assert_status(StatusCode::NO_CONTENT);
        tenant
            .client
            .delete(&agent_path(1))
            .await
            .assert_status(StatusCode::NO_CONTENT);
        assert!(tenant.client.walk(&tenant.path("/agents")).await.is_empty());
    }
);

/// A valid create of each JSON kind.
fn one_of_each() -> [(&'static str, Value); 5] {
    [
        ("phone-numbers", json!({ "number": "+14155550100" })),
        (
            "sip-trunks",
            json!({ "name": "Trunk", "domain": "sip.carrier.example", "password": "pw-1" }),
        ),
        ("squads", json!({ "name": "Day" })),
        (
            "workflows",
            json!({ "name": "Flow", "definition": { "steps": [] } }),
        ),
        (
            "integrations",
            json!({ "kind": "http", "name": "Hook", "config": { "url": "https://hooks.example/x" } }),
        ),
    ]
}

both!(
    another_tenants_resources_do_not_exist_for_a_caller,
    |app| async move {
        let agency = app.agency().name("Owner's").create().await;
        let stranger = app.agency().name("Stranger").create().await;
        let owner = roomy_tenant_of(&app, &agency, "Owner").await;
        let neighbour = roomy_tenant_of(&app, &agency, "Neighbour").await;

        let mut resources = Vec::new();
        for (kind, body) in one_of_each() {
            resources.push((kind, body.clone(), created(&owner, kind, body).await));
        }
        for (kind, body, resource) in &resources {
            let id = resource.id();
            let theirs = owner.path(&format!("/{kind}/{id}"));
            // The neighbour's key on the owner's paths, and on its own paths with the owner's
            // ids; the stranger agency's key on the owner's paths.
            let attempts = [
                (
                    &neighbour.client,
                    theirs.clone(),
                    owner.path(&format!("/{kind}")),
                ),
                (
                    &neighbour.client,
                    neighbour.path(&format!("/{kind}/{id}")),
                    neighbour.path(&format!("/{kind}")),
                ),
                (
                    &stranger.client,
                    theirs.clone(),
                    owner.path(&format!("/{kind}")),
                ),
            ];
            for (i, (client, item, collection)) in attempts.into_iter().enumerate() {
                for answer in [
                    client.get(&item).await,
                    client.patch(&item, &json!({ "name": "Mine" })).await,
                    client.patch(&item, &json!({ "bogus": 1 })).await,
                    client.delete(&item).await,
                ] {
                    answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
                }
                if i != 1 {
                    for answer in [
                        client.get(&collection).await,
                        client.post(&collection, body).await,
                    ] {
                        answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
                    }
                }
            }
            // The owner, its agency and the platform find it as it was.
            for client in [&owner.client, &agency.client, &app.platform()] {
                let read = client.get(&theirs).await;
                read.assert_status(StatusCode::OK);
                assert_eq!(read.body, resource.body, "{kind}");
            }
        }
        for (kind, _) in one_of_each() {
            assert_eq!(listed(&owner, kind).await.len(), 1, "{kind}");
            assert!(listed(&neighbour, kind).await.is_empty(), "{kind}");
        }
    }
);

/// `PATCH /api/v1/tenants/{id}` of `settings.sipEnabled`.
async fn set_sip(tenant: &TenantFixture, on: bool) -> Answer {
    tenant
        .client
        .patch(
            &tenant.path(""),
            &json!({ "settings": { "sipEnabled": on } }),
        )
        .await
}

both!(
    sip_trunks_need_sip_enabled_and_keep_it_on,
    |app| async move {
        let tenant = app.tenant().name("Voice").create().await;
        assert_eq!(tenant.body["settings"]["sipEnabled"], false);
        let trunk = json!({ "name": "Carrier", "domain": "sip.carrier.example" });

        let refused = create(&tenant, "sip-trunks", trunk.clone()).await;
        assert_conflict(&refused, "setting_required", "settings.sipEnabled");
        assert!(listed(&tenant, "sip-trunks").await.is_empty());

        set_sip(&tenant, true).await.assert_status(StatusCode::OK);
        let first = created(&tenant, "sip-trunks", trunk.clone()).await;
        let second = created(
            &tenant,
            "sip-trunks",
            json!({ "name": "Backup", "domain": "10.0.0.2" }),
        )
        .await;

        // Switching SIP off while trunks exist names them and changes nothing.
        let before = tenant.client.get(&tenant.path("")).await;
        let refused = set_sip(&tenant, false).await;
        assert_conflict(&refused, "in_use", "settings.sipEnabled");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(detail.contains(&first.id()), "{detail}");
        assert!(detail.contains(&second.id()), "{detail}");
        assert_eq!(tenant.client.get(&tenant.path("")).await.body, before.body);

        for trunk in [&first, &second] {
            tenant
                .client
                .delete(&tenant.path(&format!("/sip-trunks/{}", trunk.id())))
                .await
                .assert_status(StatusCode::NO_CONTENT);
        }
        let switched = set_sip(&tenant, false).await;
        switched.assert_status(StatusCode::OK);
        assert_eq!(switched.body["settings"]["sipEnabled"], false);
        let refused = create(&tenant, "sip-trunks", trunk).await;
        assert_conflict(&refused, "setting_required", "settings.sipEnabled");
    }
);

both!(
    filters_patches_and_kind_changes_answer_like_creates,
    |app| async move {
        let tenant = app.tenant().create().await;
        // A filter value the field cannot hold is refused, not answered with nothing.
        for (kind, filter) in [
            ("phone-numbers", "direction"),
            ("sip-trunks", "transport"),
            ("workflows", "status"),
            ("integrations", "kind"),
        ] {
            tenant
                .client
                .get(&tenant.path(&format!("/{kind}?{filter}=bogus")))
                .await
                .assert_invalid(filter);
        }
        let integration = created(
            &tenant,
            "integrations",
            json!({ "kind": "crm", "name": "CRM",
                    "config": { "provider": "hubspot", "apiKey": "crm-secret" } }),
        )
        .await;
        let path = tenant.path(&format!("/integrations/{}", integration.id()));
        // A PATCH names a bad field with the codes a create uses.
        let unknown = tenant
            .client
            .patch(&path, &json!({ "colour": "red" }))
            .await;
        unknown.assert_invalid("colour");
        assert_eq!(
            unknown.field_code("colour").as_deref(),
            Some("unknown_field")
        );
        let wrong = tenant.client.patch(&path, &json!({ "kind": "fax" })).await;
        assert_eq!(wrong.field_code("kind").as_deref(), Some("invalid_value"));
        // A key that stops being secret when the kind changes is dropped, not kept as the
        // mask.
        let changed = tenant
            .client
            .patch(
                &path,
                &json!({ "kind": "http", "config": { "url": "https://hooks.example.com/x" } }),
            )
            .await;
        changed.assert_status(StatusCode::OK);
        assert_eq!(
            changed.body["config"],
            json!({ "provider": "hubspot", "url": "https://hooks.example.com/x" })
        );
    }
);

both!(
    an_inbound_number_routes_to_its_tenant_and_agent_within_the_callers_reach,
    |app| async move {
        let agency = app.agency().name("Routing agency").create().await;
        let tenant = app.tenant().name("Routed").of(&agency).create().await;
        let neighbour = app.tenant().name("Neighbour").of(&agency).create().await;
        let other_agency = app.agency().name("Elsewhere").create().await;
        let agent = created(&tenant, "agents", json!({ "name": "Ava" }))
            .await
            .id();
        let number = created(
            &tenant,
            "phone-numbers",
            json!({ "number": "+14155550177", "agentId": agent, "direction": "inbound" }),
        )
        .await;
        let route = "/api/v1/phone-numbers/route?number=%2B14155550177";

        for (who, client) in [
            ("the platform", app.platform()),
            ("the tenant's agency", agency.client.clone()),
            ("the tenant", tenant.client.clone()),
        ] {
            let found = client.get(route).await;
            found.assert_status(StatusCode::OK);
            assert_eq!(found.body, number.body, "{who}");
            assert_eq!(found.body["tenantId"], tenant.id.as_str());
            assert_eq!(found.body["agentId"], agent.as_str());
        }
        for (who, client) in [
            ("a neighbouring tenant", &neighbour.client),
            ("another agency", &other_agency.client),
        ] {
            let hidden = client.get(route).await;
            hidden.assert_problem(StatusCode::NOT_FOUND, "not_found");
            assert!(!hidden.text.contains(&tenant.id), "{who}");
        }
        app.platform()
            .get("/api/v1/phone-numbers/route?number=%2B14155550178")
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        for bad in ["14155550177", "%2B0123", "%2B1%20415"] {
            app.platform()
                .get(&format!("/api/v1/phone-numbers/route?number={bad}"))
                .await
                .assert_invalid("number");
        }
        app.platform()
            .get("/api/v1/phone-numbers/route")
            .await
            .assert_invalid("number");
        // A key without telephony:read sees the tenant but may not route its numbers.
        let scoped = agency
            .client
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "no telephony", "tenantId": tenant.id, "scopes": ["agents:read"] }),
            )
            .await;
        app.client(scoped.body["key"].as_str().unwrap())
            .get(route)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    }
);

//! Who sees which tenant: agencies, tenant keys and the platform. An object a caller may
//! not see is a 404, never a 403; one it may see but not change is a 403.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::Answer;

fn path_of(id: &str) -> String {
    format!("/api/v1/tenants/{id}")
}

both!(
    an_agency_never_sees_another_agencys_tenants,
    |app| async move {
        let a = app.agency().name("A").create().await;
        let b = app.agency().name("B").create().await;
        let a1 = app.tenant().name("A one").of(&a).create().await;
        let b1 = app.tenant().name("B one").of(&b).create().await;
        let direct = app.tenant().name("Direct").create().await;

        for foreign in [&b1.id, &direct.id] {
            let path = path_of(foreign);
            a.client
                .get(&path)
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
            a.client
                .patch(&path, &json!({ "name": "Mine now" }))
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        assert_eq!(a.client.tenant_ids().await, [a1.id.as_str()]);
        let filtered = a
            .client
            .get(&format!("/api/v1/tenants?agencyId={}", b.id))
            .await;
        filtered.assert_status(StatusCode::OK);
        assert_eq!(filtered.body["data"], json!([]));
        a.client
            .get(&path_of(&a1.id))
            .await
            .assert_status(StatusCode::OK);

        let mut everyone = app.platform().tenant_ids().await;
        everyone.sort();
        let mut expected = vec![a1.id, b1.id, direct.id];
        expected.sort();
        assert_eq!(everyone, expected);
        assert_eq!(
            app.platform().get(&path_of(&b.id)).await.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an agency id is not a tenant id"
        );
    }
);

both!(
    an_agency_creates_tenants_only_in_its_own_agency,
    |app| async move {
        let a = app.agency().name("A").create().await;
        let b = app.agency().name("B").create().await;
        let own = a
            .client
            .post(
                "/api/v1/tenants",
                &json!({ "name": "Own", "agencyId": a.id }),
            )
            .await;
        own.assert_status(StatusCode::CREATED);
        assert_eq!(own.body["agencyId"], a.id.as_str());

        let before = app.platform().tenant_ids().await;
        a.client
            .post(
                "/api/v1/tenants",
                &json!({ "name": "Theirs", "agencyId": b.id }),
            )
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(app.platform().tenant_ids().await, before);
    }
);

both!(
    the_platform_makes_direct_and_agency_tenants,
    |app| async move {
        let agency = app.agency().create().await;
        let platform = app.platform();
        let direct = platform
            .post("/api/v1/tenants", &json!({ "name": "Direct" }))
            .await;
        direct.assert_status(StatusCode::CREATED);
        assert_eq!(direct.body["tenantType"], "direct");
        assert_eq!(direct.body["agencyId"], Value::Null);
        assert_eq!(
            direct.body["plan"], "free",
            "a tenant without a plan gets free"
        );
        assert_eq!(direct.body["owner"], Value::Null);

        let client = platform
            .post(
                "/api/v1/tenants",
                &json!({ "name": "Client", "agencyId": agency.id }),
            )
            .await;
        client.assert_status(StatusCode::CREATED);
        assert_eq!(client.body["tenantType"], "agency_client");
        assert_eq!(client.body["agencyId"], agency.id.as_str());
        assert_eq!(agency.client.tenant_ids().await, [client.id()]);

        let nobody = tenantry::domain::ids::AgencyId::generate().to_string();
        let before = platform.tenant_ids().await;
        let refused = platform
            .post(
                "/api/v1/tenants",
                &json!({ "name": "Orphan", "agencyId": nobody }),
            )
            .await;
        refused.assert_invalid("agencyId");
        assert_eq!(platform.tenant_ids().await, before);
    }
);

/// A tenant key's refusal to touch commercial terms.
#[track_caller]
fn assert_forbidden(answer: &Answer) {
    answer.assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

both!(
    a_tenant_key_sees_and_edits_only_its_tenant,
    |app| async move {
        let agency = app.agency().create().await;
        let mine = app.tenant().name("Mine").of(&agency).create().await;
        let sibling = app.tenant().name("Sibling").of(&agency).create().await;
        let key = &mine.client;
        let path = path_of(&mine.id);

        key.get(&path).await.assert_status(StatusCode::OK);
        key.get(&path_of(&sibling.id))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(key.tenant_ids().await, [mine.id.as_str()]);

        let before = key.get(&path).await;
        for body in [
            json!({ "plan": "business" }),
            json!({ "usageLimits": { "maxAgents": 1000 } }),
            json!({ "billingMode": "agency_billed" }),
            json!({ "billingAlerts": { "actionAt100": "suspend" } }),
            json!({ "name": "Sneaky", "usageLimits": { "maxConcurrentCalls": 999 } }),
        ] {
            assert_forbidden(&key.patch(&path, &body).await);
        }
        assert_eq!(key.get(&path).await.body, before.body);

        let edited = key
            .patch(
                &path,
                &json!({ "name": "Mine, renamed", "settings": { "recordingEnabled": false },
                     "metadata": { "team": "ops" } }),
            )
            .await;
        edited.assert_status(StatusCode::OK);
        assert_eq!(edited.body["name"], "Mine, renamed");
        assert_eq!(edited.body["settings"]["recordingEnabled"], false);
        assert_eq!(edited.body["metadata"], json!({ "team": "ops" }));

        assert_forbidden(
            &key.post("/api/v1/tenants", &json!({ "name": "Child" }))
                .await,
        );
    }
);

both!(
    an_owner_address_reveals_nothing_about_another_agencys_client,
    |app| async move {
        let a = app.agency().name("A").create().await;
        let b = app.agency().name("B").create().await;
        let owner = |email: &str, last_name: &str| json!({ "email": email, "firstName": "Jane", "lastName": last_name });
        let a1 = app
            .tenant()
            .name("A one")
            .field("owner", owner("jane.doe@client.com", "Privatesurname"))
            .of(&a)
            .create()
            .await;
        // B names the same person (the address in other case) and a stranger; both answers
        // must show only what B supplied, alike, whether or not the address is known.
        let b1 = app
            .tenant()
            .name("B one")
            .field("owner", owner("JANE.DOE@client.com", "Doe"))
            .of(&b)
            .create()
            .await;
        let b2 = app
            .tenant()
            .name("B two")
            .field("owner", owner("someone.new@client.com", "Doe"))
            .of(&b)
            .create()
            .await;

        let expected = |email: &str| {
            json!({ "id": null, "email": email, "name": "Jane Doe",
                    "firstName": "Jane", "lastName": "Doe" })
        };
        assert_eq!(b1.body["owner"], expected("jane.doe@client.com"));
        assert_eq!(b2.body["owner"], expected("someone.new@client.com"));
        let a_owner = a1.body["owner"].to_string();
        for answer in [
            b.client.get(&path_of(&b1.id)).await,
            b.client.get("/api/v1/tenants").await,
        ] {
            answer.assert_status(StatusCode::OK);
            assert!(!answer.text.contains("Privatesurname"), "{}", answer.text);
            assert!(!answer.text.contains(&a_owner), "{}", answer.text);
        }
        assert_eq!(
            b.client.get(&path_of(&b1.id)).await.body["owner"],
            expected("jane.doe@client.com")
        );
        // A still reads its own client's owner as it supplied them.
        let mine = a.client.get(&path_of(&a1.id)).await;
        mine.assert_status(StatusCode::OK);
        assert_eq!(mine.body["owner"]["lastName"], "Privatesurname");
        assert_eq!(mine.body["owner"]["name"], "Jane Privatesurname");
    }
);

both!(
    only_the_agency_or_the_platform_switches_compliance_off,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app
            .tenant()
            .field(
                "settings",
                json!({ "hipaaEnabled": true, "webhookUrl": "https://hooks.clinic.example/x" }),
            )
            .of(&agency)
            .create()
            .await;
        let path = path_of(&tenant.id);
        let before = tenant.client.get(&path).await;

        for (field, setting) in [
            ("settings.hipaaEnabled", "hipaaEnabled"),
            ("settings.dataEncryptionEnabled", "dataEncryptionEnabled"),
        ] {
            let refused = tenant
                .client
                .patch(&path, &json!({ "settings": { setting: false } }))
                .await;
            refused.assert_problem(StatusCode::FORBIDDEN, "forbidden");
            assert_eq!(refused.fields(), [field], "{}", refused.text);
        }
        assert_eq!(tenant.client.get(&path).await.body, before.body);

        // Switching one on, or changing anything else, is the tenant's own business.
        let stricter = tenant
            .client
            .patch(
                &path,
                &json!({ "settings": { "pciEnabled": true, "recordingEnabled": false,
                                       "retentionDays": 30 } }),
            )
            .await;
        stricter.assert_status(StatusCode::OK);
        assert_eq!(stricter.body["settings"]["pciEnabled"], true);
        tenant
            .client
            .patch(&path, &json!({ "settings": { "pciEnabled": false } }))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");

        let relaxed = agency
            .client
            .patch(
                &path,
                &json!({ "settings": { "hipaaEnabled": false, "dataEncryptionEnabled": false } }),
            )
            .await;
        relaxed.assert_status(StatusCode::OK);
        assert_eq!(relaxed.body["settings"]["hipaaEnabled"], false);
        assert_eq!(relaxed.body["settings"]["dataEncryptionEnabled"], false);
    }
);

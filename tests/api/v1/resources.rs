//! The five JSON kinds of tenant resources (phone numbers, SIP trunks, squads, workflows,
//! integrations), one story each: created with typed ids and defaults, read with an ETag, listed
//! a page at a time and by the kind's filters, changed by merge patch (RFC 7386) under
//! `If-Match` with a version that counts each change, and deleted. Bad input, on create or on
//! patch, is a 422 naming the field and changes nothing. `maxPhoneNumbers` and `maxSquads` bound
//! the counts, and the limits report shows them used.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::support::{Answer, Client, TenantFixture, TestApp};
use crate::v1::resource_kinds::{
    definition_of, integrations, merge, phone_numbers, sip_trunks, squads, workflows, Kind,
    MAX_DEFINITION,
};

/// What the server adds around a resource's fields.
const ENVELOPE: [&str; 5] = ["id", "tenantId", "version", "createdAt", "updatedAt"];

/// How many of a kind each story creates: more than two pages of two.
const CREATED: usize = 5;

/// A resource's fields: its body without the envelope.
fn fields(body: &Value) -> Value {
    let mut fields = body.as_object().expect("an object").clone();
    for key in ENVELOPE {
        fields.remove(key);
    }
    Value::Object(fields)
}

/// A tenant that may have every kind: SIP on, room for the phone numbers.
pub async fn roomy_tenant(app: &TestApp, name: &str) -> TenantFixture {
    app.tenant()
        .name(name)
        .limits(json!({ "maxPhoneNumbers": 50, "maxSquads": 50 }))
        .field("settings", json!({ "sipEnabled": true }))
        .create()
        .await
}

/// Two agents of `tenant`.
pub async fn agents_of(tenant: &TenantFixture) -> Vec<String> {
    let mut agents = Vec::new();
    for name in ["Ava", "Bo"] {
        let created = tenant
            .client
            .post(&tenant.path("/agents"), &json!({ "name": name }))
            .await;
        created.assert_status(StatusCode::CREATED);
        agents.push(created.id());
    }
    agents
}

/// `PATCH` with `If-Match: etag`.
pub async fn patch_if(client: &Client, path: &str, etag: &str, body: &Value) -> Answer {
    let request = client
        .request(Method::PATCH, path)
        .header("if-match", etag)
        .json(body);
    client.send(request).await
}

fn etag_of(answer: &Answer) -> String {
    answer
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag on {}", answer.text))
        .to_owned()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates, reads, lists, changes and deletes resources of `kind`.
async fn lifecycle(app: &TestApp, kind: Kind) {
    let tenant = roomy_tenant(app, "Owner").await;
    let agents = agents_of(&tenant).await;
    let collection = tenant.path(&format!("/{}", kind.path));

    // Created: a typed id, the tenant, version 1, the fields as sent and the defaults.
    let mut created = Vec::new();
    for i in 0..CREATED {
        let body = (kind.body)(i, &agents);
        let answer = tenant.client.post(&collection, &body).await;
        answer.assert_status(StatusCode::CREATED);
        let id = answer.id();
        assert!(id.starts_with(kind.prefix), "{id}");
        assert_eq!(answer.body["tenantId"], tenant.id.as_str());
        assert_eq!(answer.body["version"], 1, "{}", answer.text);
        assert_eq!(answer.body["createdAt"], answer.body["updatedAt"]);
        if i == 0 {
            for (field, value) in kind.defaults.as_object().unwrap() {
                assert_eq!(&answer.body[field], value, "default of {field}");
            }
        }
        for (field, value) in body.as_object().unwrap() {
            assert_eq!(&answer.body[field], value, "{field} of {}", answer.text);
        }
        created.push(answer);
    }

    // Read: the same body, with the ETag the create gave.
    for answer in &created {
        let path = format!("{collection}/{}", answer.id());
        let read = tenant.client.get(&path).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.body, answer.body);
        assert_eq!(etag_of(&read), etag_of(answer));
    }

    // Listed two at a time, in creation order, and by each filter.
    let all_ids: Vec<String> = created.iter().map(Answer::id).collect();
    let first = tenant.client.get(&format!("{collection}?limit=2")).await;
    first.assert_status(StatusCode::OK);
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    assert!(first.body["nextCursor"].is_string(), "{}", first.text);
    let listed = tenant.client.walk(&format!("{collection}?limit=2")).await;
    assert_eq!(ids(&listed), all_ids);
    for (item, answer) in listed.iter().zip(&created) {
        assert_eq!(item, &answer.body);
    }
    for (filter, expected) in (kind.filters)(&agents) {
        let listed = tenant
            .client
            .walk(&format!("{collection}?{filter}&limit=2"))
            .await;
        let expected: Vec<String> = expected.iter().map(|&i| all_ids[i].clone()).collect();
        assert_eq!(ids(&listed), expected, "{filter}");
    }

    // Changed under If-Match, one version per change; each answer is what a read shows.
    let path = format!("{collection}/{}", created[0].id());
    let mut current = created[0].body.clone();
    let mut etag = etag_of(&created[0]);
    let mut version = 1;
    for change in (kind.changes)(&agents) {
        let changed = patch_if(&tenant.client, &path, &etag, &change).await;
        changed.assert_status(StatusCode::OK);
        version += 1;
        let mut expected = fields(&current);
        merge(&mut expected, &change);
        assert_eq!(fields(&changed.body), expected, "after {change}");
        assert_eq!(changed.body["version"], version, "after {change}");
        assert_eq!(changed.body["id"], current["id"]);
        assert_eq!(changed.body["createdAt"], current["createdAt"]);
        assert_ne!(etag_of(&changed), etag, "a change makes a new ETag");
        let read = tenant.client.get(&path).await;
        assert_eq!(read.body, changed.body);
        assert_eq!(etag_of(&read), etag_of(&changed));
        current = changed.body.clone();
        etag = etag_of(&changed);
    }

    // A stale If-Match is refused and changes nothing, even with a valid change.
    let stale = patch_if(
        &tenant.client,
        &path,
        &etag_of(&created[0]),
        &(kind.changes)(&agents)[0],
    )
    .await;
    stale.assert_problem(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    assert_eq!(tenant.client.get(&path).await.body, current);

    // null removes an optional field (to its default, where it has one).
    let (removal, pointer, after) = kind.removal;
    let removed = tenant.client.patch(&path, &removal).await;
    removed.assert_status(StatusCode::OK);
    version += 1;
    assert_eq!(removed.body["version"], version);
    assert_eq!(
        removed.body.pointer(pointer).cloned(),
        after,
        "{}",
        removed.text
    );
    current = removed.body.clone();

    // Bad patches name their field and change nothing, version included.
    for (patch, field) in (kind.bad_patches)(&agents) {
        let refused = tenant.client.patch(&path, &patch).await;
        refused.assert_invalid(field);
        assert_eq!(tenant.client.get(&path).await.body, current, "{patch}");
    }
    // Bad creates name their field and create nothing.
    for (body, field) in (kind.bad_creates)(&agents) {
        tenant
            .client
            .post(&collection, &body)
            .await
            .assert_invalid(field);
    }
    assert_eq!(tenant.client.walk(&collection).await.len(), CREATED);

    // Deleted: gone for reads, changes, a second delete and the list.
    tenant
        .client
        .delete(&path)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    for answer in [
        tenant.client.get(&path).await,
        tenant
            .client
            .patch(&path, &(kind.changes)(&agents)[0])
            .await,
        tenant.client.delete(&path).await,
    ] {
        answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    let left = tenant.client.walk(&collection).await;
    assert_eq!(ids(&left), all_ids[1..].to_vec());
}

both!(phone_numbers_live_their_whole_life, |app| async move {
    lifecycle(&app, phone_numbers()).await;
});

both!(sip_trunks_live_their_whole_life, |app| async move {
    lifecycle(&app, sip_trunks()).await;
});

both!(squads_live_their_whole_life, |app| async move {
    lifecycle(&app, squads()).await;
});

both!(workflows_live_their_whole_life, |app| async move {
    lifecycle(&app, workflows()).await;
});

both!(integrations_live_their_whole_life, |app| async move {
    lifecycle(&app, integrations()).await;
});

both!(
    a_workflow_definition_may_take_exactly_256_kib,
    |app| async move {
        let tenant = roomy_tenant(&app, "Flows").await;
        let collection = tenant.path("/workflows");
        let largest = definition_of(MAX_DEFINITION);
        assert_eq!(serde_json::to_vec(&largest).unwrap().len(), MAX_DEFINITION);
        let created = tenant
            .client
            .post(
                &collection,
                &json!({ "name": "Big", "definition": largest }),
            )
            .await;
        created.assert_status(StatusCode::CREATED);
        let path = format!("{collection}/{}", created.id());

        // One byte more, by a patch that adds to the definition, is refused.
        let over = tenant
            .client
            .patch(&path, &json!({ "definition": { "x": 1 } }))
            .await;
        over.assert_invalid("definition");
        assert_eq!(over.field_code("definition").as_deref(), Some("too_large"));
        let read = tenant.client.get(&path).await;
        assert_eq!(read.body, created.body);

        // Shrinking it is a change like any other: one more version.
        let smaller = tenant
            .client
            .patch(&path, &json!({ "definition": { "blob": "short" } }))
            .await;
        smaller.assert_status(StatusCode::OK);
        assert_eq!(smaller.body["definition"], json!({ "blob": "short" }));
        assert_eq!(smaller.body["version"], 2);
    }
);

both!(list_filters_and_pages_are_checked, |app| async move {
    let tenant = roomy_tenant(&app, "Lists").await;
    for (query, field) in [
        ("phone-numbers?limit=0", "limit"),
        ("phone-numbers?limit=101", "limit"),
        ("phone-numbers?agentId=agt_nope", "agentId"),
        ("phone-numbers?transport=udp", "transport"),
        ("sip-trunks?direction=inbound", "direction"),
        ("workflows?kind=crm", "kind"),
        ("integrations?status=draft", "status"),
        ("squads?status=draft", "status"),
        ("workflows?status=", "status"),
        ("phone-numbers?cursor=garbage", "cursor"),
    ] {
        tenant
            .client
            .get(&tenant.path(&format!("/{query}")))
            .await
            .assert_invalid(field);
    }
});

/// `POST …/{kind}` with the tenant's key.
async fn post(tenant: &TenantFixture, kind: &str, body: Value) -> Answer {
    tenant
        .client
        .post(&tenant.path(&format!("/{kind}")), &body)
        .await
}

/// `POST …/{kind}` that must create; returns the new id.
async fn posted(tenant: &TenantFixture, kind: &str, body: Value) -> String {
    let answer = post(tenant, kind, body).await;
    answer.assert_status(StatusCode::CREATED);
    answer.id()
}

both!(
    max_phone_numbers_and_max_squads_bound_the_counts_and_show_as_used,
    |app| async move {
        let tenant = app
            .tenant()
            .limits(json!({ "maxPhoneNumbers": 3, "maxSquads": 2 }))
            .create()
            .await;
        let report = |limits: &Value, key: &str| limits["limits"][key].clone();
        let limits = tenant.limits().await;
        for key in ["maxPhoneNumbers", "maxSquads"] {
            assert_eq!(report(&limits, key)["used"], 0, "{limits}");
            assert_eq!(report(&limits, key)["source"], "tenant", "{limits}");
        }

        let mut phones = Vec::new();
        for i in 0..3 {
            let body = json!({ "number": format!("+1415555010{i}") });
            phones.push(posted(&tenant, "phone-numbers", body).await);
            let limits = tenant.limits().await;
            let phone_numbers = report(&limits, "maxPhoneNumbers");
            assert_eq!(phone_numbers["used"], i + 1, "{limits}");
            assert_eq!(phone_numbers["remaining"], 2 - i, "{limits}");
            assert_eq!(phone_numbers["exceeded"], i == 2, "{limits}");
        }
        posted(&tenant, "squads", json!({ "name": "A" })).await;
        let limits = tenant.limits().await;
        assert_eq!(report(&limits, "maxSquads")["used"], 1, "{limits}");
        assert_eq!(report(&limits, "maxSquads")["remaining"], 1, "{limits}");
        posted(&tenant, "squads", json!({ "name": "B" })).await;

        let number = json!({ "number": "+14155550199" });
        post(&tenant, "phone-numbers", number.clone())
            .await
            .assert_limit(
                StatusCode::FORBIDDEN,
                "phone_number_limit_reached",
                "maxPhoneNumbers",
                3,
                3,
            );
        post(&tenant, "squads", json!({ "name": "C" }))
            .await
            .assert_limit(
                StatusCode::FORBIDDEN,
                "squad_limit_reached",
                "maxSquads",
                2,
                2,
            );
        let limits = tenant.limits().await;
        assert_eq!(report(&limits, "maxPhoneNumbers")["used"], 3, "{limits}");
        assert_eq!(report(&limits, "maxSquads")["used"], 2, "{limits}");
        assert_eq!(report(&limits, "maxSquads")["exceeded"], true, "{limits}");

        // Deleting one makes room for one.
        tenant
            .client
            .delete(&tenant.path(&format!("/phone-numbers/{}", phones[0])))
            .await
            .assert_status(StatusCode::NO_CONTENT);
        let limits = tenant.limits().await;
        assert_eq!(report(&limits, "maxPhoneNumbers")["used"], 2, "{limits}");
        posted(&tenant, "phone-numbers", number).await;
        let listed = tenant.client.walk(&tenant.path("/phone-numbers")).await;
        assert_eq!(listed.len(), 3);
    }
);

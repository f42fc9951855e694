//! Members and invitations: inviting into a tenant or agency, listing members with Voisnap's
//! numbered pages, the rules on roles, and what other tenants and agencies cannot see.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::{Client, TenantFixture};

fn invite(email: &str, role: &str) -> Value {
    json!({ "email": email, "firstName": "Ana", "lastName": "Lopez", "role": role })
}

async fn invite_into(client: &Client, tenant: &TenantFixture, email: &str, role: &str) -> Value {
    let answer = client
        .post(&tenant.path("/users/invite"), &invite(email, role))
        .await;
    answer.assert_status(StatusCode::CREATED);
    answer.body.clone()
}

both!(
    an_agency_invites_users_into_its_client_tenant,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let invitation =
            invite_into(&agency.client, &tenant, "Ana@Example.com", "TenantUser").await;
        assert!(invitation["id"].as_str().unwrap().starts_with("inv_"));
        assert_eq!(invitation["status"], "pending");
        assert_eq!(invitation["role"], "TenantUser");
        assert_eq!(invitation["tenantId"], tenant.id.as_str());
        assert!(
            invitation.get("token").is_none(),
            "the token only travels by email"
        );
        let expires = crate::support::time(&invitation["expiresAt"]);
        let created = crate::support::time(&invitation["createdAt"]);
        assert_eq!((expires - created).num_days(), 7);

        let listed = agency.client.get(&tenant.path("/users")).await;
        listed.assert_status(StatusCode::OK);
        assert_eq!(listed.body["total"], 1);
        assert_eq!(listed.body["page"], 1);
        assert_eq!(listed.body["pageSize"], 20);
        assert_eq!(listed.body["totalPages"], 1);
        let user = &listed.body["data"][0];
        assert!(user["id"].as_str().unwrap().starts_with("usr_"));
        assert_eq!(user["id"], invitation["userId"]);
        assert_eq!(user["email"], "Ana@Example.com");
        assert_eq!(user["status"], "invited");
        assert_eq!(user["role"], "TenantUser");
        assert_eq!(user["mfaEnabled"], false);
        assert_eq!(user["lastLoginAt"], Value::Null);
        assert_eq!(
            user["permissions"],
            json!({ "canManageApiKeys": false, "canViewBilling": true, "canDeleteConversations": true })
        );
        // The tenant sees its own member through its own key, too.
        let own = tenant.client.get("/api/v1/users").await;
        assert_eq!(own.body["data"][0]["id"], user["id"]);
        let path = tenant.path(&format!("/users/{}", user["id"].as_str().unwrap()));
        agency.client.get(&path).await.assert_status(StatusCode::OK);

        // The same address in another case is the same person: a second invitation here is a
        // conflict, one into another tenant is the same user.
        agency
            .client
            .post(
                &tenant.path("/users/invite"),
                &invite("ana@EXAMPLE.com", "ReadOnly"),
            )
            .await
            .assert_problem(StatusCode::CONFLICT, "invitation_pending")
            .fields()
            .contains(&"email".to_owned())
            .then_some(())
            .expect("the conflict names the email");
        let other = app.tenant().name("Other").of(&agency).create().await;
        let again = invite_into(&agency.client, &other, "ana@example.COM", "ReadOnly").await;
        assert_eq!(again["userId"], invitation["userId"]);
    }
);

both!(
    invitations_check_their_fields_and_the_inviters_role,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let path = tenant.path("/users/invite");
        agency
            .client
            .post(&path, &invite("not an email", "TenantUser"))
            .await
            .assert_invalid("email");
        agency
            .client
            .post(&path, &invite("a@example.com", "AgencyManager"))
            .await
            .assert_invalid("role");
        agency
            .client
            .post(&path, &json!({ "email": "a@example.com", "role": "Boss" }))
            .await
            .assert_invalid("role");
        agency
            .client
            .post(
                &path,
                &json!({ "email": "a@example.com", "role": "TenantUser", "firstName": "" }),
            )
            .await
            .assert_invalid("firstName");

        // A read-only key may list members but invite no one.
        let reader = app.client(
            &app.mint_key(&json!({ "name": "r", "tenantId": tenant.id, "role": "ReadOnly" }))
                .await,
        );
        reader
            .get(&tenant.path("/users"))
            .await
            .assert_status(StatusCode::OK);
        reader
            .post(&path, &invite("b@example.com", "ReadOnly"))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        // A tenant owner's key hands on tenant roles, but no agency role into the agency.
        tenant
            .client
            .post(&path, &invite("c@example.com", "TenantOwner"))
            .await
            .assert_status(StatusCode::CREATED);
        tenant
            .client
            .post(
                "/api/v1/users/invite",
                &invite("d@example.com", "AgencyManager"),
            )
            .await
            .assert_invalid("role");
        // An account manager staffs client tenants in any tenant role, but not the agency.
        let accounts = app.client(
            &app.mint_key(
                &json!({ "name": "am", "agencyId": agency.id, "role": "AgencyAccountManager" }),
            )
            .await,
        );
        accounts
            .post(&path, &invite("e@example.com", "ReadOnly"))
            .await
            .assert_status(StatusCode::CREATED);
        accounts
            .post(&path, &invite("f@example.com", "TenantOwner"))
            .await
            .assert_status(StatusCode::CREATED);
        accounts
            .post(
                "/api/v1/users/invite",
                &invite("g@example.com", "AgencyManager"),
            )
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        // The agency invites its own staff.
        let staff = agency
            .client
            .post(
                "/api/v1/users/invite",
                &invite("h@example.com", "AgencyTechnicalManager"),
            )
            .await;
        staff.assert_status(StatusCode::CREATED);
        assert_eq!(staff.body["agencyId"], agency.id.as_str());
        let members = agency
            .client
            .get("/api/v1/users?role=AgencyTechnicalManager")
            .await;
        assert_eq!(members.body["total"], 1);
        assert_eq!(members.body["data"][0]["email"], "h@example.com");
    }
);

both!(
    other_tenants_and_agencies_cannot_see_members,
    |app| async move {
        let a = app.agency().name("A").create().await;
        let b = app.agency().name("B").create().await;
        let tenant = app.tenant().of(&a).create().await;
        let neighbour = app.tenant().name("Neighbour").of(&a).create().await;
        let invited = invite_into(&a.client, &tenant, "x@example.com", "TenantUser").await;
        let user = invited["userId"].as_str().unwrap();
        let member = tenant.path(&format!("/users/{user}"));
        for (outsider, who) in [
            (&b.client, "another agency"),
            (&neighbour.client, "another tenant"),
        ] {
            for answer in [
                outsider.get(&tenant.path("/users")).await,
                outsider.get(&member).await,
                outsider
                    .patch(&member, &json!({ "role": "ReadOnly" }))
                    .await,
                outsider.delete(&member).await,
                outsider
                    .post(
                        &tenant.path("/users/invite"),
                        &invite("y@example.com", "TenantUser"),
                    )
                    .await,
                outsider.get(&tenant.path("/invitations")).await,
            ] {
                answer.assert_problem(StatusCode::NOT_FOUND, "not_found");
                assert!(
                    !answer.text.contains("x@example.com"),
                    "{who}: {}",
                    answer.text
                );
            }
            // Their own lists do not show the member.
            let own = outsider.get("/api/v1/users").await;
            assert_eq!(own.body["total"], 0, "{who}");
            outsider
                .get(&format!("/api/v1/users/{user}"))
                .await
                .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
        // The member is still there, unchanged.
        let listed = a.client.get(&tenant.path("/users")).await;
        assert_eq!(listed.body["data"][0]["role"], "TenantUser");
    }
);

both!(
    creating_a_tenant_with_an_owner_invites_them,
    |app| async move {
        let agency = app.agency().create().await;
        let created = agency
        .client
        .post(
            "/api/v1/tenants",
            &json!({ "name": "Acme", "plan": "starter",
                     "owner": { "email": "admin@acme.com", "firstName": "Jo", "lastName": "Doe" } }),
        )
        .await;
        created.assert_status(StatusCode::CREATED);
        let id = created.id();
        let members = agency
            .client
            .get(&format!("/api/v1/tenants/{id}/users"))
            .await;
        assert_eq!(members.body["total"], 1);
        let owner = &members.body["data"][0];
        assert_eq!(owner["email"], "admin@acme.com");
        assert_eq!(owner["role"], "TenantOwner");
        assert_eq!(owner["status"], "invited");
        assert_eq!(owner["firstName"], "Jo");
        let invitations = agency
            .client
            .get(&format!("/api/v1/tenants/{id}/invitations"))
            .await;
        assert_eq!(invitations.body["data"][0]["role"], "TenantOwner");
        assert_eq!(invitations.body["data"][0]["status"], "pending");
    }
);

both!(
    invitations_are_listed_resent_and_revoked,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        let first = invite_into(&agency.client, &tenant, "r@example.com", "TenantUser").await;
        let id = first["id"].as_str().unwrap();
        let resent = agency
            .client
            .post(
                &format!("/api/v1/users/invitations/{id}/resend"),
                &json!({}),
            )
            .await;
        resent.assert_status(StatusCode::OK);
        assert_eq!(resent.body["id"], id);
        assert!(
            crate::support::time(&resent.body["expiresAt"])
                >= crate::support::time(&first["expiresAt"])
        );

        // Another tenant's key does not see it; a read-only key of the tenant may not revoke it.
        let neighbour = app.tenant().name("N").of(&agency).create().await;
        neighbour
            .client
            .delete(&format!("/api/v1/users/invitations/{id}"))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        let reader = app.client(
            &app.mint_key(&json!({ "name": "r", "tenantId": tenant.id, "role": "ReadOnly" }))
                .await,
        );
        reader
            .delete(&format!("/api/v1/users/invitations/{id}"))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");

        agency
            .client
            .delete(&format!("/api/v1/users/invitations/{id}"))
            .await
            .assert_status(StatusCode::NO_CONTENT);
        let members = agency.client.get(&tenant.path("/users")).await;
        assert_eq!(members.body["total"], 0);
        agency
            .client
            .delete(&format!("/api/v1/users/invitations/{id}"))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        // Revoked, the address may be invited again.
        invite_into(&agency.client, &tenant, "r@example.com", "ReadOnly").await;
    }
);

both!(
    member_lists_filter_search_and_number_their_pages,
    |app| async move {
        let agency = app.agency().create().await;
        let tenant = app.tenant().of(&agency).create().await;
        for n in 0..5 {
            let role = if n % 2 == 0 { "TenantUser" } else { "ReadOnly" };
            invite_into(&agency.client, &tenant, &format!("p{n}@example.com"), role).await;
        }
        let page = agency
            .client
            .get(&tenant.path("/users?pageSize=2&page=3"))
            .await;
        assert_eq!(page.body["total"], 5);
        assert_eq!(page.body["totalPages"], 3);
        assert_eq!(page.body["data"].as_array().unwrap().len(), 1);
        let readers = agency
            .client
            .get(&tenant.path("/users?role=ReadOnly"))
            .await;
        assert_eq!(readers.body["total"], 2);
        let found = agency
            .client
            .get(&tenant.path("/users?search=P3%40EXAMPLE"))
            .await;
        assert_eq!(found.body["total"], 1);
        assert_eq!(found.body["data"][0]["email"], "p3@example.com");
        // A `%` is a character to find, not a wildcard.
        let none = agency.client.get(&tenant.path("/users?search=%25")).await;
        assert_eq!(none.body["total"], 0);
        let invited = agency
            .client
            .get(&tenant.path("/users?status=invited"))
            .await;
        assert_eq!(invited.body["total"], 5);
        for (query, field) in [
            ("status=asleep", "status"),
            ("page=0", "page"),
            ("pageSize=101", "pageSize"),
            ("role=Boss", "role"),
        ] {
            agency
                .client
                .get(&tenant.path(&format!("/users?{query}")))
                .await
                .assert_invalid(field);
        }
    }
);

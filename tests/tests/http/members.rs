//! An organisation's members, managed by its administrators, on both
//! databases: the registering user administers it; only administrators add
//! members, change their role, disable or remove them; a disabled member's
//! sessions end at once; the last administrator can neither step down nor
//! leave, even when two try together.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use serde_json::{Value, json};
use techtrade_tests::{TestApp, TestOrg, on_both_databases, unique};

/// `admin` adds a member to its organisation, who then sets their own
/// password; (id, email, password).
async fn add(app: &TestApp, org: &TestOrg) -> (String, String, String) {
    let (email, password) = (format!("colleague{}@example.cn", unique()), "a colleague's password 1".to_string());
    let created = app
        .post(
            &format!("/api/v1/organizations/{}/members", org.id),
            Some(&org.token),
            json!({"email": email, "password": password, "name": "同事"}),
        )
        .await;
    created.assert_status(201);
    assert_eq!(created.json["organization_role"], "member");
    // The administrator chose it: the colleague signs in and sets their own.
    let own = app.choose_own_password(&email, &password).await;
    (created.json["id"].as_str().unwrap().to_string(), email, own)
}

fn member_path(org: &TestOrg, user_id: &str) -> String {
    format!("/api/v1/organizations/{}/members/{user_id}", org.id)
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> techtrade_tests::TestResponse {
    app.request(Method::PATCH, path, Some(token), Some(body)).await
}

on_both_databases! {
    async fn administrators_add_promote_disable_and_remove_members(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let me = app.get("/api/v1/me", Some(&org.token)).await;
        assert_eq!(me.json["organization_role"], "admin", "{}", me.text);
        let (colleague, email, password) = add(&app, &org).await;
        let colleague_token = app.login(&email, &password).await;

        // A member who is not an administrator may not add, change or remove.
        let refused = app
            .post(&format!("/api/v1/organizations/{}/members", org.id), Some(&colleague_token),
                  json!({"email": format!("x{}@example.cn", unique()), "password": "a long enough password 1", "name": "某人"}))
            .await;
        refused.assert_problem(403, "forbidden");
        patch(&app, &colleague_token, &member_path(&org, &org.user_id), json!({"disabled": true})).await.assert_problem(403, "forbidden");
        // Another organisation's administrator does not even see them.
        let other = app.register_org("university").await;
        patch(&app, &other.token, &member_path(&org, &colleague), json!({"role": "admin"})).await.assert_problem(404, "not_found");
        patch(&app, &org.token, &member_path(&org, &other.user_id), json!({"role": "admin"})).await.assert_problem(404, "not_found");

        // Disabling ends the member's sessions at once; enabling lets them back.
        let disabled = patch(&app, &org.token, &member_path(&org, &colleague), json!({"disabled": true})).await;
        disabled.assert_status(200);
        assert!(disabled.json["disabled_at"].is_string());
        app.get("/api/v1/me", Some(&colleague_token)).await.assert_problem(401, "invalid_token");
        app.post("/api/v1/auth/login", None, json!({"email": email, "password": password})).await.assert_problem(401, "invalid_credentials");
        patch(&app, &org.token, &member_path(&org, &colleague), json!({"disabled": false})).await.assert_status(200);
        let colleague_token = app.login(&email, &password).await;

        // The role handed on: the colleague administers, the founder steps down.
        let promoted = patch(&app, &org.token, &member_path(&org, &colleague), json!({"role": "admin"})).await;
        promoted.assert_status(200);
        assert_eq!(promoted.json["organization_role"], "admin");
        patch(&app, &org.token, &member_path(&org, &org.user_id), json!({"role": "member"})).await.assert_status(200);
        // The session's rights follow at once: the founder may no longer add.
        app.post(&format!("/api/v1/organizations/{}/members", org.id), Some(&org.token),
                 json!({"email": format!("y{}@example.cn", unique()), "password": "a long enough password 1", "name": "某人"}))
            .await
            .assert_problem(403, "forbidden");
        // The last administrator can neither step down, be disabled nor leave.
        let path = member_path(&org, &colleague);
        for body in [json!({"role": "member"}), json!({"disabled": true})] {
            patch(&app, &colleague_token, &path, body).await.assert_problem(409, "last_administrator");
        }
        app.request(Method::DELETE, &path, Some(&colleague_token), None).await.assert_problem(409, "last_administrator");

        // A member leaves; the administrator removes one: out, signed out, disabled.
        let founder = app.request(Method::DELETE, &member_path(&org, &org.user_id), Some(&org.token), None).await;
        founder.assert_status(204);
        app.get("/api/v1/me", Some(&org.token)).await.assert_problem(401, "invalid_token");
        let (third, third_email, third_password) = add(&app, &TestOrg { token: colleague_token.clone(), ..org.clone() }).await;
        app.request(Method::DELETE, &member_path(&org, &third), Some(&colleague_token), None).await.assert_status(204);
        app.post("/api/v1/auth/login", None, json!({"email": third_email, "password": third_password})).await.assert_problem(401, "invalid_credentials");
        let members = app.get(&format!("/api/v1/organizations/{}/members", org.id), Some(&colleague_token)).await;
        let ids: Vec<&str> = members.json["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [colleague.as_str()], "removed members are no longer listed");
        let mut conn = app.database.connect();
        let history = techtrade_db::audit::history(&mut conn, "user", &third).unwrap();
        assert!(history.iter().any(|e| e.action == "member.remove"));
    }
}

on_both_databases! {
    async fn two_administrators_stepping_down_together_leave_one(app: TestApp) {
        let org = app.register_org("institute").await;
        let (colleague, email, password) = add(&app, &org).await;
        patch(&app, &org.token, &member_path(&org, &colleague), json!({"role": "admin"})).await.assert_status(200);
        let colleague_token = app.login(&email, &password).await;
        let (founder, second) = (member_path(&org, &org.user_id), member_path(&org, &colleague));
        let (a, b) = tokio::join!(
            patch(&app, &org.token, &founder, json!({"role": "member"})),
            patch(&app, &colleague_token, &second, json!({"role": "member"})),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
        let members = app.get(&format!("/api/v1/organizations/{}/members", org.id), Some(&org.token)).await;
        let admins = members.json["items"].as_array().unwrap().iter().filter(|m| m["organization_role"] == "admin").count();
        assert_eq!(admins, 1);
    }
}

on_both_databases! {
    async fn the_organisation_page_manages_members_for_administrators_only(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let (colleague, email, password) = add(&app, &org).await;
        let mut admin = techtrade_tests::web::signed_in(&app, &org.email, &org.password).await;
        let page = admin.get("/workspace/organization").await;
        page.assert_status(200);
        assert!(page.text.contains("action=\"/workspace/organization/members\""), "the add form");
        assert!(page.text.contains(&format!("action=\"/workspace/organization/members/{colleague}\"")));

        let mut member = techtrade_tests::web::signed_in(&app, &email, &password).await;
        let page = member.get("/workspace/organization").await;
        assert!(page.text.contains("id=\"not-administrator\""));
        assert!(!page.text.contains("action=\"/workspace/organization/members\""), "no add form for members");

        // The founder cannot step down while alone: told why on the page.
        let founder = format!("/workspace/organization/members/{}", org.user_id);
        let refused = admin.submit("/workspace/organization", &founder, &[("action", "make_member")]).await;
        refused.assert_status(409);
        assert!(refused.text.contains("本机构至少需要一名管理员"), "{}", refused.text);
        // Hand the role on, then step down.
        let promoted = admin
            .submit("/workspace/organization", &format!("/workspace/organization/members/{colleague}"), &[("action", "make_admin")])
            .await;
        promoted.assert_status(303);
        admin.submit("/workspace/organization", &founder, &[("action", "make_member")]).await.assert_status(303);
        let page = member.get("/workspace/organization").await;
        assert!(page.text.contains(&format!("id=\"member-{colleague}\" data-role=\"admin\"")), "{}", page.text);
        assert!(page.text.contains(&format!("id=\"member-{}\" data-role=\"member\"", org.user_id)));
    }
}

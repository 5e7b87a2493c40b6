//! Accounts over HTTP: registration, sign-in, sessions, roles, rate limits.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::Request;
use diesel::prelude::*;
use serde_json::{Value, json};
use techtrade_db::schema::{login_attempts, sessions};
use techtrade_db::{audit, outbox};
use techtrade_domain::Role;
use techtrade_tests::{credit_code, on_both_databases, unique};

fn registration(credit_code: &str, email: &str) -> Value {
    json!({
        "organization": {"name": "青海盐湖技术研究院", "kind": "institute", "credit_code": credit_code, "region_code": "630100"},
        "user": {"email": email, "password": "correct horse battery 9", "name": "李研究"},
    })
}

on_both_databases! {
    async fn registering_creates_the_organisation_and_its_first_member(app: TestApp) {
        let code = credit_code();
        let response = app.post("/api/v1/organizations", None, registration(&code, "Li.Yan@Example.CN")).await;
        response.assert_status(201);
        let org = &response.json["organization"];
        let user = &response.json["user"];
        assert_eq!(org["credit_code"], code.as_str());
        assert_eq!(org["kind"], "institute");
        assert_eq!(org["region_code"], "630100");
        assert_eq!(user["email"], "li.yan@example.cn", "addresses are stored lower-case");
        assert_eq!(user["role"], "member");
        assert_eq!(user["organization_id"], org["id"]);
        assert!(user.get("password_hash").is_none() && !response.text.contains("argon2"));

        let org_id = org["id"].as_str().unwrap().to_string();
        let public = app.get(&format!("/api/v1/organizations/{org_id}"), None).await;
        public.assert_status(200);
        assert_eq!(public.json["name"], "青海盐湖技术研究院");

        // The change is audited and announced in the same transaction.
        let mut conn = app.database.connect();
        let history = audit::history(&mut conn, "organization", &org_id).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].action, "organization.register");
        let events = outbox::events_after(&mut conn, 0, 100).unwrap();
        assert!(events.iter().any(|e| e.event_type == "organization.registered" && e.aggregate_id == org_id));
        assert!(audit::verify(&mut conn, &techtrade_db::testing::test_audit_key(), &[]).unwrap().entries >= 2);
    }
}

on_both_databases! {
    async fn a_wrong_check_character_is_a_422_naming_the_field(app: TestApp) {
        let mut code = credit_code();
        let last = code.pop().unwrap();
        code.push(if last == '0' { '1' } else { '0' });
        let response = app.post("/api/v1/organizations", None, registration(&code, "a@example.cn")).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.json["errors"][0]["field"], "organization.credit_code");
        assert_eq!(response.json["errors"][0]["code"], "bad_check_character");
        assert_eq!(response.json["type"], "urn:techtrade:problem:validation_failed");
    }
}

on_both_databases! {
    async fn every_bad_field_is_reported_at_once(app: TestApp) {
        let body = json!({
            "organization": {"name": " ", "kind": "enterprise", "credit_code": "91630100MA000000", "region_code": "990000"},
            "user": {"email": "not-an-address", "password": "short", "name": "王"},
        });
        let response = app.post("/api/v1/organizations", None, body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(
            response.error_fields(),
            ["organization.name", "organization.credit_code", "organization.region_code", "user.email", "user.password"]
        );
        let codes: Vec<&str> = response.json["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["required", "bad_length", "unknown_province", "bad_email", "too_short"]);
        // Nothing was written.
        let mut conn = app.database.connect();
        assert!(outbox::events_after(&mut conn, 0, 10).unwrap().is_empty());
    }
}

on_both_databases! {
    async fn unknown_kinds_and_wrong_types_name_their_path(app: TestApp) {
        let mut body = registration(&credit_code(), "a@example.cn");
        body["organization"]["kind"] = json!("authority");
        let response = app.post("/api/v1/organizations", None, body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.json["errors"][0]["field"], "organization.kind");
        assert_eq!(response.json["errors"][0]["code"], "unknown_value");

        let mut body = registration(&credit_code(), "a@example.cn");
        body["user"]["password"] = json!(12345678);
        let response = app.post("/api/v1/organizations", None, body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.json["errors"][0]["field"], "user.password");
        assert_eq!(response.json["errors"][0]["code"], "invalid_type");

        let mut body = registration(&credit_code(), "a@example.cn");
        body["user"].as_object_mut().unwrap().remove("email");
        let response = app.post("/api/v1/organizations", None, body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.json["errors"][0]["field"], "user.email");
        assert_eq!(response.json["errors"][0]["code"], "required");
    }
}

on_both_databases! {
    async fn duplicates_are_409(app: TestApp) {
        let code = credit_code();
        app.post("/api/v1/organizations", None, registration(&code, "first@example.cn")).await.assert_status(201);

        let same_code = app.post("/api/v1/organizations", None, registration(&code, "second@example.cn")).await;
        same_code.assert_problem(409, "credit_code_taken");
        assert_eq!(same_code.error_fields(), ["organization.credit_code"]);

        let same_email = app.post("/api/v1/organizations", None, registration(&credit_code(), "FIRST@example.cn")).await;
        same_email.assert_problem(409, "email_taken");
        assert_eq!(same_email.error_fields(), ["user.email"]);
    }
}

on_both_databases! {
    async fn concurrent_registrations_of_one_code_yield_one_organisation(app: TestApp) {
        let code = credit_code();
        let attempt = |i: u32| app.post("/api/v1/organizations", None, registration(&code, &format!("racer{i}@example.cn")));
        let (a, b, c, d) = tokio::join!(attempt(0), attempt(1), attempt(2), attempt(3));
        let responses = [a, b, c, d];
        let created = responses.iter().filter(|r| r.status == 201).count();
        let conflicts = responses.iter().filter(|r| r.status == 409 && r.code() == "credit_code_taken").count();
        assert_eq!((created, conflicts), (1, 3), "{:?}", responses.iter().map(|r| &r.text).collect::<Vec<_>>());
    }
}

on_both_databases! {
    async fn login_me_and_logout(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let me = app.get("/api/v1/me", Some(&org.token)).await;
        me.assert_status(200);
        assert_eq!(me.json["email"], org.email.as_str());
        assert_eq!(me.json["role"], "member");
        assert_eq!(me.json["organization"]["id"], org.id.as_str());

        let login = app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password})).await;
        login.assert_status(200);
        assert!(login.json["token"].as_str().unwrap().starts_with("tt_"));
        assert!(login.json["expires_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(login.json["user"]["organization_id"], org.id.as_str());

        app.request(axum::http::Method::POST, "/api/v1/auth/logout", Some(&org.token), None).await.assert_status(204);
        app.get("/api/v1/me", Some(&org.token)).await.assert_problem(401, "invalid_token");
        // The other session is untouched.
        app.get("/api/v1/me", login.json["token"].as_str()).await.assert_status(200);
    }
}

on_both_databases! {
    async fn tokens_are_stored_only_as_hashes(app: TestApp) {
        let org = app.register_org("university").await;
        let mut conn = app.database.connect();
        let stored: Vec<String> = sessions::table.select(sessions::token_hash).load(&mut conn).unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], org.token);
        assert_eq!(stored[0], techtrade_web::auth::hash_token(&org.token));
    }
}

on_both_databases! {
    async fn wrong_missing_and_expired_credentials_are_401(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let wrong = app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": "not the password"})).await;
        wrong.assert_problem(401, "invalid_credentials");
        let unknown = app.post("/api/v1/auth/login", None, json!({"email": "nobody@example.cn", "password": org.password})).await;
        unknown.assert_problem(401, "invalid_credentials");
        assert_eq!(wrong.json["detail"], unknown.json["detail"], "an unknown account looks like a wrong password");

        let anonymous = app.get("/api/v1/me", None).await;
        anonymous.assert_problem(401, "unauthenticated");
        assert_eq!(anonymous.header("www-authenticate"), "Bearer");
        app.get("/api/v1/me", Some("tt_made_up")).await.assert_problem(401, "invalid_token");

        let mut conn = app.database.connect();
        let an_hour_ago = techtrade_db::now() - chrono_hours(1);
        diesel::update(sessions::table).set(sessions::expires_at.eq(an_hour_ago)).execute(&mut conn).unwrap();
        app.get("/api/v1/me", Some(&org.token)).await.assert_problem(401, "invalid_token");
    }
}

fn chrono_hours(hours: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::hours(hours)
}

on_both_databases! {
    async fn roles_guard_the_admin_routes(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let new_official = json!({"email": "reviewer@kjt.qinghai.gov.cn", "password": "long password 1", "name": "王审核", "role": "official"});
        app.post("/api/v1/admin/users", Some(&org.token), new_official.clone()).await.assert_problem(403, "forbidden");
        app.post("/api/v1/admin/users", None, new_official.clone()).await.assert_problem(401, "unauthenticated");

        let (_, official_token) = app.staff(Role::Official).await;
        app.post("/api/v1/admin/users", Some(&official_token), new_official.clone()).await.assert_problem(403, "forbidden");

        let (admin_id, admin_token) = app.staff(Role::Admin).await;
        let created = app.post("/api/v1/admin/users", Some(&admin_token), new_official.clone()).await;
        created.assert_status(201);
        assert_eq!(created.json["role"], "official");
        assert_eq!(created.json["organization_id"], Value::Null);
        let token = app.login("reviewer@kjt.qinghai.gov.cn", "long password 1").await;
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.json["role"], "official");

        // The admin who created the account is on record.
        let mut conn = app.database.connect();
        let user_id = created.json["id"].as_str().unwrap();
        let history = audit::history(&mut conn, "user", user_id).unwrap();
        assert_eq!(history[0].actor_user_id.as_deref(), Some(admin_id.as_str()));

        app.post("/api/v1/admin/users", Some(&admin_token), new_official).await.assert_problem(409, "email_taken");
        let member_without_org = json!({"email": "m@example.cn", "password": "long password 2", "name": "M", "role": "member"});
        let response = app.post("/api/v1/admin/users", Some(&admin_token), member_without_org).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), ["organization_id"]);
        let bad_role = json!({"email": "m@example.cn", "password": "long password 2", "name": "M", "role": "root"});
        let response = app.post("/api/v1/admin/users", Some(&admin_token), bad_role).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), ["role"]);
    }
}

on_both_databases! {
    async fn members_add_members_to_their_own_organisation_only(app: TestApp) {
        let org = app.register_org("university").await;
        let other = app.register_org("enterprise").await;
        let n = unique();
        let colleague = json!({"email": format!("colleague{n}@example.cn"), "password": "colleague password 1", "name": "同事"});
        let path = format!("/api/v1/organizations/{}/members", org.id);

        app.post(&path, Some(&other.token), colleague.clone()).await.assert_problem(403, "forbidden");
        let added = app.post(&path, Some(&org.token), colleague.clone()).await;
        added.assert_status(201);
        assert_eq!(added.json["organization_id"], org.id.as_str());
        assert_eq!(added.json["role"], "member");
        app.login(&format!("colleague{n}@example.cn"), "colleague password 1").await;

        let members = app.get(&path, Some(&org.token)).await;
        members.assert_status(200);
        assert_eq!(members.json["items"].as_array().unwrap().len(), 2);
        app.get(&path, Some(&other.token)).await.assert_problem(404, "not_found");
        let (_, official) = app.staff(Role::Official).await;
        app.get(&path, Some(&official)).await.assert_status(200);
        app.get("/api/v1/organizations/nope/members", Some(&official)).await.assert_problem(404, "not_found");
        app.get("/api/v1/organizations/nope", None).await.assert_problem(404, "not_found");
    }
}

on_both_databases! {
    async fn failed_logins_are_limited_per_account(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let wrong = json!({"email": org.email, "password": "wrong password"});
        for _ in 0..5 {
            app.post("/api/v1/auth/login", None, wrong.clone()).await.assert_problem(401, "invalid_credentials");
        }
        // Now the account is locked for 30 minutes: the right password too.
        let locked = app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password})).await;
        locked.assert_problem(423, "account_locked");
        let retry: u64 = locked.header("retry-after").parse().unwrap();
        assert!((1790..=1800).contains(&retry), "{retry}");
        // Other accounts are not affected.
        let other = app.register_org("enterprise").await;
        app.login(&other.email, &other.password).await;
        // An address no account has locks the same way: the answers do not
        // tell which accounts exist.
        let nobody = json!({"email": "nobody-here@example.cn", "password": "wrong password"});
        for _ in 0..5 {
            app.post("/api/v1/auth/login", None, nobody.clone()).await.assert_problem(401, "invalid_credentials");
        }
        app.post("/api/v1/auth/login", None, nobody).await.assert_problem(423, "account_locked");

        // Half an hour after the fifth failure the lock is over.
        let mut conn = app.database.connect();
        let earlier = techtrade_db::now() - chrono::TimeDelta::minutes(31);
        diesel::update(login_attempts::table.filter(login_attempts::email.eq(&org.email)))
            .set(login_attempts::attempted_at.eq(earlier))
            .execute(&mut conn)
            .unwrap();
        app.login(&org.email, &org.password).await;
        // The owner was told once, in their language, by the notify worker.
        let events = techtrade_db::outbox::events_after(&mut conn, 0, 10_000).unwrap();
        let locks: Vec<_> = events.iter().filter(|e| e.event_type == "account.locked").collect();
        assert_eq!(locks.len(), 1, "the unknown address has no owner to tell");
        assert_eq!(locks[0].aggregate_id, org.user_id);
    }
}

on_both_databases! {
    async fn failed_logins_are_limited_per_address(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let attempt = |email: String, password: String, ip: &'static str| {
            let body = json!({"email": email, "password": password}).to_string();
            Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .header("x-forwarded-for", format!("10.0.0.1, {ip}"))
                .body(Body::from(body))
                .unwrap()
        };
        for i in 0..50 {
            let response = app.send(attempt(format!("guess{i}@example.cn"), "guess".into(), "203.0.113.7")).await;
            response.assert_problem(401, "invalid_credentials");
        }
        let blocked = app.send(attempt(org.email.clone(), org.password.clone(), "203.0.113.7")).await;
        blocked.assert_problem(429, "rate_limited");
        app.send(attempt(org.email.clone(), org.password.clone(), "198.51.100.2")).await.assert_status(200);
    }
}

//! The password's life: reset by an e-mailed single-use token that
//! expires, the same answer for addresses with and without an account, a
//! change at the first sign-in when someone else chose the password, and
//! staff passwords that expire.

#![allow(clippy::unwrap_used)]

use diesel::prelude::*;
use serde_json::json;
use techtrade_db::schema::{outbox, password_resets, users};
use techtrade_domain::Role;
use techtrade_tests::{TestApp, on_both_databases, unique};

/// The reset ids the outbox announced for `user_id`, oldest first.
fn reset_ids(app: &TestApp, user_id: &str) -> Vec<String> {
    let mut conn = app.database.connect();
    let payloads: Vec<String> = outbox::table
        .filter(outbox::event_type.eq("password.reset_requested"))
        .order(outbox::id.asc())
        .select(outbox::payload)
        .load(&mut conn)
        .unwrap();
    payloads
        .iter()
        .map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap())
        .filter(|p| p["user_id"] == user_id)
        .map(|p| p["reset_id"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases! {
    async fn a_reset_token_works_once_before_it_expires_and_answers_tell_nobody_who_is_registered(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let elsewhere = app.login(&org.email, &org.password).await;

        // Known and unknown addresses get the very same answer.
        let known = app.post("/api/v1/auth/password-reset", None, json!({"email": org.email.to_uppercase()})).await;
        let unknown = app.post("/api/v1/auth/password-reset", None, json!({"email": "nobody@example.cn"})).await;
        for answer in [&known, &unknown] {
            answer.assert_status(202);
            assert_eq!(answer.text, known.text);
        }
        // What is not an address at all is refused on its field.
        let malformed = app.post("/api/v1/auth/password-reset", None, json!({"email": "not an address"})).await;
        malformed.assert_problem(422, "validation_failed");
        assert_eq!(malformed.json["errors"][0]["field"], "email");
        let ids = reset_ids(&app, &org.user_id);
        assert_eq!(ids.len(), 1, "only the account that exists gets a reset");

        // The database holds the token's hash only; the e-mail's token is derived from the id.
        let token = techtrade_accounts::password_reset_token(&ids[0]).unwrap();
        let mut conn = app.database.connect();
        let stored: String = password_resets::table.find(&ids[0]).select(password_resets::token_hash).first(&mut conn).unwrap();
        assert_eq!(stored, techtrade_web::auth::hash_token(&token));
        assert_ne!(stored, token);

        // The rules for a new password hold here too.
        let weak = app.post("/api/v1/auth/password-reset/confirm", None, json!({"token": token, "new": "simplepassword"})).await;
        weak.assert_problem(422, "validation_failed");
        assert_eq!(weak.json["errors"][0]["field"], "new");
        assert_eq!(weak.json["errors"][0]["code"], "too_simple");

        let done = app.post("/api/v1/auth/password-reset/confirm", None, json!({"token": token, "new": "Reset password 1"})).await;
        done.assert_status(204);
        app.get("/api/v1/me", Some(&org.token)).await.assert_problem(401, "invalid_token");
        app.get("/api/v1/me", Some(&elsewhere)).await.assert_problem(401, "invalid_token");
        app.login(&org.email, "Reset password 1").await;

        // Used once: refused the second time.
        let again = app.post("/api/v1/auth/password-reset/confirm", None, json!({"token": token, "new": "Reset password 2"})).await;
        again.assert_problem(422, "validation_failed");
        assert_eq!((again.json["errors"][0]["field"].as_str(), again.json["errors"][0]["code"].as_str()),
            (Some("token"), Some("invalid_or_expired")));
        let bogus = app.post("/api/v1/auth/password-reset/confirm", None, json!({"token": "tt_not-a-token", "new": "Reset password 2"})).await;
        assert_eq!(bogus.json["errors"][0]["code"], "invalid_or_expired");

        // Expired: the clock is moved, not waited for.
        app.post("/api/v1/auth/password-reset", None, json!({"email": org.email})).await.assert_status(202);
        let second = reset_ids(&app, &org.user_id).pop().unwrap();
        diesel::update(password_resets::table.find(&second))
            .set(password_resets::expires_at.eq(techtrade_db::now() - chrono::TimeDelta::seconds(1)))
            .execute(&mut conn)
            .unwrap();
        let late = app
            .post("/api/v1/auth/password-reset/confirm", None,
                json!({"token": techtrade_accounts::password_reset_token(&second).unwrap(), "new": "Reset password 3"}))
            .await;
        assert_eq!(late.json["errors"][0]["code"], "invalid_or_expired");
        app.login(&org.email, "Reset password 1").await;

        // At most three resets an hour reach one account; the answer stays the same.
        for _ in 0..3 {
            let answer = app.post("/api/v1/auth/password-reset", None, json!({"email": org.email})).await;
            assert_eq!(answer.text, known.text);
        }
        assert_eq!(reset_ids(&app, &org.user_id).len(), 3, "two in the last hour, one more, then refused quietly");

        // The request and the reset are in the audit trail.
        let history = techtrade_db::audit::history(&mut conn, "user", &org.user_id).unwrap();
        assert_eq!(history.iter().filter(|e| e.action == "user.password_reset").count(), 1);
        assert!(history.iter().all(|e| !e.after_state.as_deref().unwrap_or_default().contains(&token)));
    }
}

on_both_databases! {
    async fn a_reset_ends_a_lock_out(app: TestApp) {
        let org = app.register_org("institute").await;
        for _ in 0..5 {
            app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": "a wrong guess"})).await;
        }
        app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password}))
            .await
            .assert_problem(423, "account_locked");
        app.post("/api/v1/auth/password-reset", None, json!({"email": org.email})).await.assert_status(202);
        let id = reset_ids(&app, &org.user_id).pop().unwrap();
        let token = techtrade_accounts::password_reset_token(&id).unwrap();
        app.post("/api/v1/auth/password-reset/confirm", None, json!({"token": token, "new": "After the lock 1"}))
            .await
            .assert_status(204);
        app.login(&org.email, "After the lock 1").await;
    }
}

on_both_databases! {
    async fn a_password_someone_else_chose_is_changed_before_anything_else(app: TestApp) {
        let (_, sysadmin) = app.staff(Role::Admin).await;
        let email = format!("new-official{}@kjt.qinghai.gov.cn", unique());
        let created = app
            .post("/api/v1/admin/users", Some(&sysadmin),
                json!({"email": email, "password": "Chosen by admin 1", "name": "新审核员", "role": "official"}))
            .await;
        created.assert_status(201);
        let signed_in = app.post("/api/v1/auth/login", None, json!({"email": email, "password": "Chosen by admin 1"})).await;
        assert_eq!(signed_in.json["required_first"], json!(["password_change_required"]), "the sign-in says so");
        let token = app.login(&email, "Chosen by admin 1").await;

        // Only the account itself answers until the password is changed.
        let refused = app.get("/api/v1/listings?status=pending_review", Some(&token)).await;
        refused.assert_problem(403, "password_change_required");
        assert!(refused.json["detail"].as_str().unwrap().contains("set by someone else"));
        app.get("/api/v1/me", Some(&token)).await.assert_status(200);
        app.get("/api/v1/me/sessions", Some(&token)).await.assert_status(200);
        // Re-typing the chosen password does not make it one's own.
        let same = app.post("/api/v1/me/password", Some(&token), json!({"current": "Chosen by admin 1", "new": "Chosen by admin 1"})).await;
        assert_eq!(same.json["errors"][0]["code"], "unchanged");
        app.post("/api/v1/me/password", Some(&token), json!({"current": "Chosen by admin 1", "new": "My own choice 2"}))
            .await
            .assert_status(204);
        app.get("/api/v1/listings?status=pending_review", Some(&token)).await.assert_status(200);

        // A colleague added by an organisation's administrator: the same.
        let org = app.register_org("enterprise").await;
        let colleague = format!("colleague{}@example.cn", unique());
        app.post(&format!("/api/v1/organizations/{}/members", org.id), Some(&org.token),
            json!({"email": colleague, "password": "Chosen for you 1", "name": "同事"}))
            .await
            .assert_status(201);
        let colleague_token = app.login(&colleague, "Chosen for you 1").await;
        app.get("/api/v1/deals", Some(&colleague_token)).await.assert_problem(403, "password_change_required");
        // The one who registered chose their own and is never asked.
        app.get("/api/v1/deals", Some(&org.token)).await.assert_status(200);
    }
}

on_both_databases! {
    async fn staff_passwords_expire_after_ninety_days_and_members_do_not(app: TestApp) {
        let official = app.staff_account(Role::Official, None).await;
        let org = app.register_org("enterprise").await;
        let mut conn = app.database.connect();
        let long_ago = techtrade_db::now() - chrono::TimeDelta::days(91);
        for id in [&official.user_id, &org.user_id] {
            diesel::update(users::table.find(id)).set(users::password_changed_at.eq(Some(long_ago))).execute(&mut conn).unwrap();
        }
        let refused = app.get("/api/v1/listings?status=pending_review", Some(&official.token)).await;
        refused.assert_problem(403, "password_change_required");
        assert!(refused.json["detail"].as_str().unwrap().contains("expired"));
        app.get("/api/v1/deals", Some(&org.token)).await.assert_status(200);
        app.post("/api/v1/me/password", Some(&official.token), json!({"current": official.password, "new": "Fresh staff password 9"}))
            .await
            .assert_status(204);
        app.get("/api/v1/listings?status=pending_review", Some(&official.token)).await.assert_status(200);
    }
}

on_both_databases! {
    async fn the_web_front_sends_a_user_who_must_change_the_password_to_the_account_page(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let colleague = format!("webcolleague{}@example.cn", unique());
        app.post(&format!("/api/v1/organizations/{}/members", org.id), Some(&org.token),
            json!({"email": colleague, "password": "Chosen for you 1", "name": "同事"}))
            .await
            .assert_status(201);
        let mut browser = techtrade_tests::web::Browser::new(&app);
        browser.submit("/login", "/login", &[("email", &colleague), ("password", "Chosen for you 1")]).await.assert_status(303);
        let workspace = browser.get("/workspace").await;
        workspace.assert_status(303);
        assert_eq!(workspace.header("location"), "/account");
        let account = browser.get("/account").await;
        account.assert_status(200);
        assert!(account.text.contains("id=\"password-change\""), "{}", account.text);
    }
}

on_both_databases! {
    async fn the_web_front_resets_a_forgotten_password(app: TestApp) {
        let org = app.register_org("university").await;
        let mut browser = techtrade_tests::web::Browser::new(&app);
        let login = browser.get("/login").await;
        assert!(login.text.contains("href=\"/password-reset\""));
        // Not an address: told on the field.
        let malformed = browser.submit("/password-reset", "/password-reset", &[("email", "not an address")]).await;
        malformed.assert_status(422);
        assert!(malformed.text.contains("id=\"email-error\""), "{}", malformed.text);
        // The same page follows for an address without an account.
        for email in [org.email.as_str(), "nobody@example.cn"] {
            let asked = browser.submit("/password-reset", "/password-reset", &[("email", email)]).await;
            asked.assert_status(303);
            assert_eq!(asked.header("location"), "/password-reset?sent=1");
        }
        let id = reset_ids(&app, &org.user_id).pop().unwrap();
        let token = techtrade_accounts::password_reset_token(&id).unwrap();
        let link = format!("/password-reset?token={token}");
        let differ = browser.submit(&link, "/password-reset/confirm",
            &[("token", &token), ("new", "Web reset 1"), ("new_again", "Web reset 2")]).await;
        differ.assert_status(422);
        assert!(differ.text.contains("id=\"new_again-error\""), "{}", differ.text);
        let set = browser.submit(&link, "/password-reset/confirm",
            &[("token", &token), ("new", "Web reset 1"), ("new_again", "Web reset 1")]).await;
        set.assert_status(303);
        assert_eq!(set.header("location"), "/password-reset?done=1");
        let used = browser.submit(&link, "/password-reset/confirm",
            &[("token", &token), ("new", "Web reset 3"), ("new_again", "Web reset 3")]).await;
        used.assert_status(422);
        assert!(used.text.contains("id=\"token-error\""), "{}", used.text);
        app.login(&org.email, "Web reset 1").await;
    }
}

//! A user's own sessions and password, on both databases: the idle and
//! absolute time-outs (time moved in the database, never slept), the list
//! of live sessions and ending one, and a password change that ends every
//! other session.

#![allow(clippy::unwrap_used)]

use chrono::TimeDelta;
use diesel::prelude::*;
use serde_json::json;
use techtrade_db::audit;
use techtrade_db::schema::sessions;
use techtrade_tests::{TestApp, on_both_databases};

/// Moves every session of `user_id` `minutes` into the past, as if each
/// had been opened and last used then.
fn unused_for(app: &TestApp, user_id: &str, minutes: i64) {
    let then = techtrade_db::now() - TimeDelta::minutes(minutes);
    let mut conn = app.database.connect();
    diesel::update(sessions::table.filter(sessions::user_id.eq(user_id)))
        .set((sessions::last_seen_at.eq(Some(then)), sessions::created_at.eq(then)))
        .execute(&mut conn)
        .unwrap();
}

on_both_databases! {
    async fn a_session_unused_for_thirty_minutes_ends_and_one_in_use_lives_on(app: TestApp) {
        let org = app.register_org("enterprise").await;
        app.get("/api/v1/me", Some(&org.token)).await.assert_status(200);
        // 29 minutes unused: alive, and the use is written down.
        unused_for(&app, &org.user_id, 29);
        app.get("/api/v1/me", Some(&org.token)).await.assert_status(200);
        let mut conn = app.database.connect();
        let seen: Option<chrono::NaiveDateTime> = sessions::table
            .filter(sessions::user_id.eq(&org.user_id))
            .select(sessions::last_seen_at)
            .first(&mut conn)
            .unwrap();
        assert!(techtrade_db::now() - seen.unwrap() < TimeDelta::minutes(1), "the use was recorded");
        // 31 minutes unused: over.
        unused_for(&app, &org.user_id, 31);
        let idle = app.get("/api/v1/me", Some(&org.token)).await;
        idle.assert_problem(401, "invalid_token");
        assert!(idle.json["detail"].as_str().unwrap().contains("30 minutes unused"), "{}", idle.text);
        // However busy, a session ends 12 hours after sign-in.
        let login = app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password})).await;
        let token = login.json["token"].as_str().unwrap().to_string();
        let expires: chrono::DateTime<chrono::Utc> = login.json["expires_at"].as_str().unwrap().parse().unwrap();
        let lifetime = expires.naive_utc() - techtrade_db::now();
        assert!((lifetime - TimeDelta::hours(12)).abs() < TimeDelta::minutes(1), "{lifetime}");
        diesel::update(sessions::table.filter(sessions::token_hash.eq(techtrade_web::auth::hash_token(&token))))
            .set((sessions::expires_at.eq(techtrade_db::now() - TimeDelta::seconds(1)), sessions::last_seen_at.eq(Some(techtrade_db::now()))))
            .execute(&mut conn)
            .unwrap();
        app.get("/api/v1/me", Some(&token)).await.assert_problem(401, "invalid_token");
    }
}

on_both_databases! {
    async fn a_user_sees_their_sessions_and_ends_one(app: TestApp) {
        let org = app.register_org("university").await;
        let phone = app.login(&org.email, &org.password).await;
        let listed = app.get("/api/v1/me/sessions", Some(&org.token)).await;
        listed.assert_status(200);
        let items = listed.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{}", listed.text);
        assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
        let other = items.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
        assert!(items[0]["ip"].is_string() && items[0]["last_seen_at"].is_string());

        // Someone else's session is not theirs to end (404, as if none).
        let stranger = app.register_org("enterprise").await;
        app.request(axum::http::Method::DELETE, &format!("/api/v1/me/sessions/{other}"), Some(&stranger.token), None)
            .await
            .assert_problem(404, "not_found");
        app.get("/api/v1/me", Some(&phone)).await.assert_status(200);

        let ended = app.request(axum::http::Method::DELETE, &format!("/api/v1/me/sessions/{other}"), Some(&org.token), None).await;
        ended.assert_status(204);
        app.get("/api/v1/me", Some(&phone)).await.assert_problem(401, "invalid_token");
        app.request(axum::http::Method::DELETE, &format!("/api/v1/me/sessions/{other}"), Some(&org.token), None)
            .await
            .assert_problem(404, "not_found");
        let listed = app.get("/api/v1/me/sessions", Some(&org.token)).await;
        assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
        let mut conn = app.database.connect();
        assert!(audit::history(&mut conn, "session", &other).unwrap().iter().any(|e| e.action == "session.revoke"));
    }
}

on_both_databases! {
    async fn changing_the_password_needs_the_current_one_and_ends_every_other_session(app: TestApp) {
        let org = app.register_org("institute").await;
        let elsewhere = app.login(&org.email, &org.password).await;
        let change = |current: &str, new: &str| json!({"current": current, "new": new});

        let wrong = app.post("/api/v1/me/password", Some(&org.token), change("not it at all", "a brand new passphrase 2")).await;
        wrong.assert_problem(422, "validation_failed");
        assert_eq!(wrong.json["errors"][0]["field"], "current");
        assert_eq!(wrong.json["errors"][0]["code"], "wrong_password");
        let weak = app.post("/api/v1/me/password", Some(&org.token), change(&org.password, "12345678")).await;
        weak.assert_problem(422, "validation_failed");
        assert_eq!(weak.json["errors"][0]["field"], "new");
        assert_eq!(weak.json["errors"][0]["code"], "too_common");
        app.get("/api/v1/me", Some(&elsewhere)).await.assert_status(200);

        let done = app.post("/api/v1/me/password", Some(&org.token), change(&org.password, "a brand new passphrase 2")).await;
        done.assert_status(204);
        app.get("/api/v1/me", Some(&org.token)).await.assert_status(200);
        app.get("/api/v1/me", Some(&elsewhere)).await.assert_problem(401, "invalid_token");
        app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password}))
            .await
            .assert_problem(401, "invalid_credentials");
        app.login(&org.email, "a brand new passphrase 2").await;
        let mut conn = app.database.connect();
        let history = audit::history(&mut conn, "user", &org.user_id).unwrap();
        let entry = history.iter().find(|e| e.action == "user.password_change").unwrap();
        assert!(!format!("{entry:?}").contains("argon2"), "no hash in the audit log");
    }
}

on_both_databases! {
    async fn wrong_current_passwords_count_towards_the_lockout(app: TestApp) {
        let org = app.register_org("enterprise").await;
        for _ in 0..5 {
            app.post("/api/v1/me/password", Some(&org.token), json!({"current": "a guess of mine", "new": "a brand new passphrase 2"}))
                .await
                .assert_problem(422, "validation_failed");
        }
        // The account is locked: the sixth try is refused before it is
        // checked, the right password too, and so is signing in.
        app.post("/api/v1/me/password", Some(&org.token), json!({"current": org.password, "new": "a brand new passphrase 2"}))
            .await
            .assert_problem(423, "account_locked");
        app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password}))
            .await
            .assert_problem(423, "account_locked");
    }
}

on_both_databases! {
    async fn the_account_page_lists_sessions_ends_one_and_changes_the_password(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let mut browser = techtrade_tests::web::signed_in(&app, &org.email, &org.password).await;
        let page = browser.get("/account").await;
        page.assert_status(200);
        // The registration's token and the browser's session.
        assert_eq!(page.text.matches("<tr id=\"session-").count(), 2, "{}", page.text);
        assert_eq!(page.text.matches("data-current=\"true\"").count(), 1);
        assert!(page.text.contains(&org.email));
        let listed = app.get("/api/v1/me/sessions", Some(&org.token)).await;
        let api_session = listed.json["items"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();

        let ended = browser.submit("/account", &format!("/account/sessions/{api_session}/end"), &[]).await;
        ended.assert_status(303);
        assert_eq!(ended.header("location"), "/account?done=session_ended");
        app.get("/api/v1/me", Some(&org.token)).await.assert_problem(401, "invalid_token");

        let typo = browser
            .submit("/account", "/account/password", &[("current", &org.password), ("new", "a brand new passphrase 2"), ("new_again", "a brand new passphrase 2!")])
            .await;
        typo.assert_status(422);
        assert!(typo.text.contains("id=\"new_again-error\">两次输入的新密码不一致。<"), "{}", typo.text);
        let wrong = browser
            .submit("/account", "/account/password", &[("current", "not my password"), ("new", "a brand new passphrase 2"), ("new_again", "a brand new passphrase 2")])
            .await;
        wrong.assert_status(422);
        assert!(wrong.text.contains("id=\"current-error\">当前密码不正确。<"), "{}", wrong.text);
        let changed = browser
            .submit("/account", "/account/password", &[("current", &org.password), ("new", "a brand new passphrase 2"), ("new_again", "a brand new passphrase 2")])
            .await;
        changed.assert_status(303);
        assert_eq!(changed.header("location"), "/account?done=password_changed");
        browser.get("/account").await.assert_status(200);
        app.login(&org.email, "a brand new passphrase 2").await;
    }
}

//! The second factor (TOTP, RFC 6238): enrolment with a QR code and
//! recovery codes kept hashed, the code asked for before a session exists,
//! each code accepted once, wrong codes counted toward the lock-out, staff
//! held to enrol where it is required, and a security administrator's
//! reset for a lost phone.

#![allow(clippy::unwrap_used)]

use diesel::prelude::*;
use serde_json::json;
use techtrade_db::schema::{login_challenges, recovery_codes, second_factors};
use techtrade_domain::Role;
use techtrade_tests::second_factor::{self, code, enrol, forget_used_codes};
use techtrade_tests::{TestApp, on_both_databases, test_settings};

/// The actions of the audit records about `user_id` (as actor or object).
async fn audited(app: &TestApp, user_id: &str) -> Vec<String> {
    let (_, auditor) = app.staff(Role::Auditor).await;
    // Where staff must have a second factor, the auditor's session enrols first.
    enrol(app, &auditor).await;
    let page = app.get(&format!("/api/v1/audit?actor={user_id}&per_page=100"), Some(&auditor)).await;
    page.assert_status(200);
    page.json["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap().to_string()).collect()
}

/// The application with `auth.require_staff_totp` on, as production runs.
fn requiring_staff_totp(app: TestApp) -> TestApp {
    let mut settings = test_settings();
    settings.auth.require_staff_totp = true;
    app.with_settings(settings)
}

on_both_databases! {
    async fn a_member_enrols_with_a_qr_code_and_then_signs_in_with_a_code_each_code_once(app: TestApp) {
        let org = app.register_org("enterprise").await;

        // Enrolment: the secret three ways; nothing counts until confirmed.
        let started = app.post("/api/v1/me/totp", Some(&org.token), json!({})).await;
        started.assert_status(200);
        let secret = started.json["secret"].as_str().unwrap().to_string();
        assert_eq!(secret.len(), 32, "160 bits in base 32: {secret}");
        let url = started.json["otpauth_url"].as_str().unwrap();
        let label = org.email.replace('@', "%40");
        assert!(url.starts_with(&format!("otpauth://totp/techtrade:{label}?")), "{url}");
        assert!(url.contains(&format!("secret={secret}")) && url.contains("issuer=techtrade"), "{url}");
        let svg = started.json["qr_svg"].as_str().unwrap();
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>"), "{svg}");
        let status = app.get("/api/v1/me/totp", Some(&org.token)).await;
        assert_eq!(status.json["enrolled_at"], serde_json::Value::Null);
        assert_eq!(status.json["pending"]["secret"], secret.as_str(), "a reload shows the same secret");
        app.login(&org.email, &org.password).await;

        // A wrong code does not confirm; the right one does, once.
        let wrong = app.post("/api/v1/me/totp/confirm", Some(&org.token), json!({"code": "000000"})).await;
        wrong.assert_problem(422, "validation_failed");
        assert_eq!((wrong.json["errors"][0]["field"].as_str(), wrong.json["errors"][0]["code"].as_str()),
            (Some("code"), Some("wrong_code")));
        let confirmed = app.post("/api/v1/me/totp/confirm", Some(&org.token), json!({"code": code(&secret, 0)})).await;
        confirmed.assert_status(200);
        let recovery: Vec<String> = confirmed.json["recovery_codes"].as_array().unwrap()
            .iter().map(|c| c.as_str().unwrap().to_string()).collect();
        assert_eq!(recovery.len(), 10);
        app.post("/api/v1/me/totp", Some(&org.token), json!({})).await.assert_problem(409, "invalid_state");
        app.post("/api/v1/me/totp/confirm", Some(&org.token), json!({"code": code(&secret, 1)}))
            .await
            .assert_problem(409, "invalid_state");

        // The database holds neither the secret nor a recovery code.
        let mut conn = app.database.connect();
        let sealed: String = second_factors::table.find(&org.user_id).select(second_factors::sealed_secret)
            .first(&mut conn).unwrap();
        assert!(!sealed.to_uppercase().contains(&secret), "sealed, not base 32");
        let hashes: Vec<String> = recovery_codes::table.filter(recovery_codes::user_id.eq(&org.user_id))
            .select(recovery_codes::code_hash).load(&mut conn).unwrap();
        assert_eq!(hashes.len(), 10);
        for code in &recovery {
            assert!(!hashes.iter().any(|h| h.contains(&code.replace('-', ""))), "{code} is kept hashed");
        }

        // The password alone gives no session now, only a challenge.
        let answer = app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password})).await;
        answer.assert_problem(401, "second_factor_required");
        assert!(answer.json.get("token").is_none());
        let challenge = answer.json["challenge"].as_str().unwrap().to_string();
        let stored: Vec<String> = login_challenges::table.select(login_challenges::token_hash).load(&mut conn).unwrap();
        assert!(!stored.contains(&challenge), "the challenge is kept hashed");

        let wrong = app.post("/api/v1/auth/login/totp", None, json!({"challenge": challenge, "code": "123456"})).await;
        wrong.assert_problem(401, "wrong_code");
        assert_eq!(wrong.json["errors"][0]["field"], "code");
        // The confirmation used this step's code: the next step's is taken.
        let next_code = code(&secret, 1);
        let session = app.post("/api/v1/auth/login/totp", None, json!({"challenge": challenge, "code": next_code})).await;
        session.assert_status(200);
        let token = session.json["token"].as_str().unwrap();
        app.get("/api/v1/me", Some(token)).await.assert_status(200);
        app.post("/api/v1/auth/login/totp", None, json!({"challenge": challenge, "code": next_code}))
            .await
            .assert_problem(401, "invalid_challenge");

        // A code is accepted once (RFC 6238, 5.2), even on a new challenge.
        let again = second_factor::challenge(&app, &org.email, &org.password).await;
        app.post("/api/v1/auth/login/totp", None, json!({"challenge": again, "code": next_code}))
            .await
            .assert_problem(401, "wrong_code");

        // A recovery code signs in once, typed however.
        let typed = recovery[3].to_uppercase().replace('-', " ");
        app.post("/api/v1/auth/login/totp", None, json!({"challenge": again, "code": typed})).await.assert_status(200);
        let third = second_factor::challenge(&app, &org.email, &org.password).await;
        app.post("/api/v1/auth/login/totp", None, json!({"challenge": third, "code": recovery[3]}))
            .await
            .assert_problem(401, "wrong_code");
        let status = app.get("/api/v1/me/totp", Some(token)).await;
        assert!(status.json["enrolled_at"].is_string());
        assert_eq!(status.json["recovery_codes_left"], 9);
        assert_eq!(status.json["pending"], serde_json::Value::Null, "the secret is not shown again");

        // The owner is told by e-mail that a recovery code was used.
        let events = techtrade_tests::market::event_types(&app, &org.user_id);
        assert_eq!(events.iter().filter(|e| *e == "account.recovery_code_used").count(), 1, "{events:?}");
        let actions = audited(&app, &org.user_id).await;
        for expected in ["user.second_factor_enrol", "session.challenge", "user.recovery_code_use"] {
            assert!(actions.iter().any(|a| a == expected), "{expected} in {actions:?}");
        }
        assert_eq!(actions.iter().filter(|a| *a == "session.denied").count(), 3, "three wrong codes: {actions:?}");
    }
}

on_both_databases! {
    async fn wrong_codes_count_toward_the_lock_out_and_a_challenge_expires(app: TestApp) {
        let org = app.register_org("institute").await;
        let enrolled = enrol(&app, &org.token).await;
        forget_used_codes(&app, &org.user_id);

        // A challenge that waited too long is refused, whatever the code.
        let late = second_factor::challenge(&app, &org.email, &org.password).await;
        let mut conn = app.database.connect();
        diesel::update(login_challenges::table.filter(login_challenges::user_id.eq(&org.user_id)))
            .set(login_challenges::expires_at.eq(techtrade_db::now() - chrono::TimeDelta::seconds(1)))
            .execute(&mut conn)
            .unwrap();
        app.post("/api/v1/auth/login/totp", None, json!({"challenge": late, "code": code(&enrolled.secret, 0)}))
            .await
            .assert_problem(401, "invalid_challenge");
        app.post("/api/v1/auth/login/totp", None, json!({"challenge": "tt_made-up", "code": "123456"}))
            .await
            .assert_problem(401, "invalid_challenge");

        // Five wrong codes lock the account like five wrong passwords: the
        // right code is refused then too.
        let challenge = second_factor::challenge(&app, &org.email, &org.password).await;
        for guess in ["000000", "111111", "222222", "333333", "444444"] {
            app.post("/api/v1/auth/login/totp", None, json!({"challenge": challenge, "code": guess}))
                .await
                .assert_problem(401, "wrong_code");
        }
        let locked = app.post("/api/v1/auth/login/totp", None,
            json!({"challenge": challenge, "code": code(&enrolled.secret, 0)})).await;
        locked.assert_problem(423, "account_locked");
        assert!(!locked.header("retry-after").is_empty());
        app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password}))
            .await
            .assert_problem(423, "account_locked");
    }
}

on_both_databases! {
    async fn a_member_renews_recovery_codes_and_removes_the_factor_with_a_code(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let enrolled = enrol(&app, &org.token).await;

        let wrong = app.post("/api/v1/me/totp/recovery-codes", Some(&org.token), json!({"code": "999999"})).await;
        wrong.assert_problem(422, "validation_failed");
        let renewed = app.post("/api/v1/me/totp/recovery-codes", Some(&org.token),
            json!({"code": enrolled.recovery_codes[0]})).await;
        renewed.assert_status(200);
        let fresh: Vec<String> = renewed.json["recovery_codes"].as_array().unwrap()
            .iter().map(|c| c.as_str().unwrap().to_string()).collect();
        assert_eq!(fresh.len(), 10);
        assert!(fresh.iter().all(|c| !enrolled.recovery_codes.contains(c)));
        // The old codes are void.
        let challenge = second_factor::challenge(&app, &org.email, &org.password).await;
        app.post("/api/v1/auth/login/totp", None, json!({"challenge": challenge, "code": enrolled.recovery_codes[1]}))
            .await
            .assert_problem(401, "wrong_code");

        let removal = |code: String| {
            let (app, token) = (&app, org.token.clone());
            async move {
                let request = axum::http::Request::builder()
                    .method("DELETE")
                    .uri("/api/v1/me/totp")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(json!({"code": code}).to_string()))
                    .unwrap();
                app.send(request).await
            }
        };
        removal("000000".into()).await.assert_problem(422, "validation_failed");
        forget_used_codes(&app, &org.user_id);
        removal(code(&enrolled.secret, 0)).await.assert_status(204);
        // The password alone signs in again.
        app.login(&org.email, &org.password).await;
        removal(code(&enrolled.secret, 0)).await.assert_problem(409, "invalid_state");
        let actions = audited(&app, &org.user_id).await;
        assert!(actions.iter().any(|a| a == "user.recovery_codes_renew"), "{actions:?}");
        assert!(actions.iter().any(|a| a == "user.second_factor_remove"), "{actions:?}");
    }
}

on_both_databases! {
    async fn where_required_staff_enrol_before_anything_else_and_a_security_administrator_resets_it(app: TestApp) {
        let app = requiring_staff_totp(app);
        let official = app.staff_account(Role::Official, None).await;

        // Signed in with the password, the session may only enrol, as the
        // sign-in's answer says.
        let signed_in = app.post("/api/v1/auth/login", None,
            json!({"email": official.email, "password": official.password})).await;
        assert_eq!(signed_in.json["required_first"], json!(["second_factor_enrolment_required"]));
        let member = app.register_org("agency").await;
        let free = app.post("/api/v1/auth/login", None, json!({"email": member.email, "password": member.password})).await;
        assert_eq!(free.json["required_first"], json!([]));
        let refused = app.get("/api/v1/subsidy/claims?status=submitted", Some(&official.token)).await;
        refused.assert_problem(403, "second_factor_enrolment_required");
        app.get("/api/v1/me", Some(&official.token)).await.assert_status(200);
        app.get("/api/v1/me/sessions", Some(&official.token)).await.assert_status(200);
        assert_eq!(app.get("/api/v1/me/totp", Some(&official.token)).await.json["required"], true);
        // Members are not held to it.
        let org = app.register_org("enterprise").await;
        app.get("/api/v1/deals", Some(&org.token)).await.assert_status(200);
        assert_eq!(app.get("/api/v1/me/totp", Some(&org.token)).await.json["required"], false);

        let enrolled = enrol(&app, &official.token).await;
        app.get("/api/v1/subsidy/claims?status=submitted", Some(&official.token)).await.assert_status(200);
        // Staff keep it: removing it is refused.
        forget_used_codes(&app, &official.user_id);
        let request = axum::http::Request::builder()
            .method("DELETE")
            .uri("/api/v1/me/totp")
            .header("authorization", format!("Bearer {}", official.token))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(json!({"code": code(&enrolled.secret, 0)}).to_string()))
            .unwrap();
        app.send(request).await.assert_problem(409, "invalid_state");

        // A lost phone: only a security administrator resets it, not their own.
        // (Enrolling frees the very session that enrols.)
        let secadmin = app.staff_account(Role::SecurityAdmin, None).await;
        enrol(&app, &secadmin.token).await;
        let secadmin_token = secadmin.token.clone();
        let (_, sysadmin) = app.staff(Role::Admin).await;
        enrol(&app, &sysadmin).await;
        let reset = |token: String, id: String| {
            let app = &app;
            async move {
                let request = axum::http::Request::builder()
                    .method("DELETE")
                    .uri(format!("/api/v1/admin/users/{id}/totp"))
                    .header("authorization", format!("Bearer {token}"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                app.send(request).await
            }
        };
        let official_token = second_factor::login(&app, &official.user_id, &official.email, &official.password,
            &enrolled.secret).await;
        reset(sysadmin.clone(), official.user_id.clone()).await.assert_problem(403, "forbidden");
        reset(secadmin_token.clone(), secadmin.user_id.clone()).await.assert_problem(409, "invalid_state");
        reset(secadmin_token.clone(), "no-such-user".into()).await.assert_problem(404, "not_found");
        reset(secadmin_token.clone(), official.user_id.clone()).await.assert_status(204);
        app.get("/api/v1/me", Some(&official_token)).await.assert_problem(401, "invalid_token");
        reset(secadmin_token.clone(), official.user_id.clone()).await.assert_problem(409, "invalid_state");
        // The password signs in again, to a session that may only enrol.
        let again = app.login(&official.email, &official.password).await;
        app.get("/api/v1/subsidy/claims?status=submitted", Some(&again))
            .await
            .assert_problem(403, "second_factor_enrolment_required");
        assert!(audited(&app, &secadmin.user_id).await.iter().any(|a| a == "user.second_factor_reset"));
    }
}

on_both_databases! {
    async fn the_web_front_asks_for_the_code_after_the_password_and_enrols_on_the_account_page(app: TestApp) {
        use techtrade_tests::web::{Browser, signed_in};
        let org = app.register_org("enterprise").await;

        // Enrolment on the account page: the QR code inline, then the codes once.
        let mut browser = signed_in(&app, &org.email, &org.password).await;
        let page = browser.get("/account").await;
        assert!(page.text.contains("id=\"start-second-factor\""), "{}", page.text);
        browser.submit("/account", "/account/totp", &[]).await.assert_status(303);
        let page = browser.get("/account").await;
        assert!(page.text.contains("<figure class=\"qr\" id=\"totp-qr\" role=\"img\""), "{}", page.text);
        assert!(page.text.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(!page.text.contains("<?xml"), "no XML declaration inside HTML");
        let start = page.text.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
        let secret = page.text[start..start + 32].to_string();
        let wrong = browser.submit("/account", "/account/totp/confirm", &[("code", "000000")]).await;
        wrong.assert_status(422);
        assert!(wrong.text.contains("id=\"confirm-code-error\""), "the message is on the field");
        let done = browser.submit("/account", "/account/totp/confirm", &[("code", &code(&secret, 0))]).await;
        done.assert_status(200);
        let codes = &done.text[done.text.find("id=\"recovery-codes\"").unwrap()..];
        let codes = &codes[..codes.find("</ol>").unwrap()];
        assert_eq!(codes.matches("<li>").count(), 10, "{codes}");
        assert!(browser.get("/account").await.text.contains("id=\"second-factor-on\""));

        // Signing in: the password, then the code, then the session cookie.
        forget_used_codes(&app, &org.user_id);
        let mut visitor = Browser::new(&app);
        let asked = visitor.submit("/login", "/login", &[("email", &org.email), ("password", &org.password)]).await;
        asked.assert_status(200);
        assert!(asked.text.contains("id=\"code-form\""), "{}", asked.text);
        assert!(visitor.cookie("tt_session").is_none(), "no session before the code");
        let challenge_at = asked.text.find("name=\"challenge\" value=\"").unwrap() + "name=\"challenge\" value=\"".len();
        let challenge = asked.text[challenge_at..].split('"').next().unwrap().to_string();
        let csrf = techtrade_tests::web::csrf_token(&asked.text).unwrap();
        let wrong = visitor.post_raw("/login/code", &[("csrf", &csrf), ("challenge", &challenge), ("code", "000000")]).await;
        wrong.assert_status(401);
        assert!(wrong.text.contains("id=\"code-error\""), "asked again, the message on the field");
        let csrf = techtrade_tests::web::csrf_token(&wrong.text).unwrap();
        let right = visitor.post_raw("/login/code",
            &[("csrf", &csrf), ("challenge", &challenge), ("code", &code(&secret, 0))]).await;
        right.assert_status(303);
        assert_eq!(right.header("location"), "/workspace");
        assert!(visitor.cookie("tt_session").is_some());
        visitor.get("/workspace").await.assert_status(200);
    }
}

on_both_databases! {
    async fn where_required_the_web_front_sends_staff_to_enrol_first(app: TestApp) {
        use techtrade_tests::web::signed_in;
        let app = requiring_staff_totp(app);
        let official = app.staff_account(Role::Official, None).await;
        let mut browser = signed_in(&app, &official.email, &official.password).await;
        let console = browser.get("/console").await;
        console.assert_status(303);
        assert_eq!(console.header("location"), "/account");
        let account = browser.get("/account").await;
        assert!(account.text.contains("id=\"second-factor-required\""), "{}", account.text);
        browser.submit("/account", "/account/totp", &[]).await.assert_status(303);
        let page = browser.get("/account").await;
        let start = page.text.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
        let secret = page.text[start..start + 32].to_string();
        let done = browser.submit("/account", "/account/totp/confirm", &[("code", &code(&secret, 0))]).await;
        done.assert_status(200);
        assert!(!done.text.contains("id=\"second-factor-required\""));
        assert!(!done.text.contains("id=\"remove-second-factor\""), "staff cannot turn it off");
        browser.get("/console").await.assert_status(200);
    }
}

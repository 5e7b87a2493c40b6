//! Separated staff duties (三员分立) and the audit trail: the auditor reads
//! and exports the log and nothing else, the administrators cannot read
//! it, and each administrator manages only the accounts of its own side.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_tests::{on_both_databases, unique};

fn new_staff(role: &str) -> Value {
    let n = unique();
    json!({"email": format!("{role}{n}@kjt.qinghai.gov.cn"), "password": "a long enough password 1",
        "name": format!("职员{n}"), "role": role})
}

on_both_databases! {
    async fn the_auditor_reads_sign_ins_lockouts_and_exports_and_nobody_else_reads_the_log(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let (_, auditor) = app.staff(Role::Auditor).await;
        for _ in 0..5 {
            app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": "a wrong guess"}))
                .await
                .assert_problem(401, "invalid_credentials");
        }
        app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password}))
            .await
            .assert_problem(423, "account_locked");

        // The organisation's trail: its registration, its sign-in, five
        // wrong passwords, the lock, and the attempt on the locked account.
        let path = format!("/api/v1/audit?organization={}&per_page=100", org.id);
        let page = app.get(&path, Some(&auditor)).await;
        page.assert_status(200);
        let items = page.json["items"].as_array().unwrap();
        let actions: Vec<(&str, &str)> =
            items.iter().map(|r| (r["action"].as_str().unwrap(), r["result"].as_str().unwrap())).collect();
        assert_eq!(actions.iter().filter(|a| **a == ("session.denied", "denied")).count(), 6, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| **a == ("user.lock", "denied")).count(), 1, "{actions:?}");
        assert!(actions.contains(&("session.create", "success")), "{actions:?}");
        assert!(actions.contains(&("organization.register", "success")), "{actions:?}");
        assert_eq!(page.json["total"], items.len());
        let seqs: Vec<i64> = items.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
        let locked = items.iter().find(|r| r["after"]["reason"] == "locked").unwrap();
        assert_eq!((locked["object_type"].as_str(), locked["object_id"].as_str()), (Some("user"), Some(org.user_id.as_str())));
        assert_eq!(locked["actor_email"], org.email);
        let time = locked["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");

        // Filters: by action noun and verb, by actor, by object, by day.
        let count = |query: String| {
            let auditor = auditor.clone();
            let app = &app;
            async move {
                let page = app.get(&format!("/api/v1/audit?{query}"), Some(&auditor)).await;
                page.assert_status(200);
                page.json["total"].as_i64().unwrap()
            }
        };
        assert_eq!(count(format!("organization={}&action=user.lock", org.id)).await, 1);
        assert_eq!(count(format!("organization={}&action=session", org.id)).await, 7);
        assert_eq!(count(format!("actor={}&action=session.denied", org.user_id)).await, 6);
        assert_eq!(count(format!("object=organization:{}", org.id)).await, 1);
        // An id of only spaces (a tab here, as a fuzzer sent) is no id: the type alone.
        assert_eq!(count("object=organization:%09".to_string()).await, count("object=organization".to_string()).await);
        let today = techtrade_db::today();
        assert_eq!(count(format!("organization={}&from={today}&to={today}", org.id)).await, items.len() as i64);
        let tomorrow = today.succ_opt().unwrap();
        assert_eq!(count(format!("organization={}&from={tomorrow}", org.id)).await, 0);

        // Bad filters are 400 naming the parameter.
        for (query, field, code) in [
            (format!("from={today}&to={}", today.pred_opt().unwrap()), "to", "before_from"),
            ("object=:x".to_string(), "object", "bad_format"),
            ("action=Session.Create".to_string(), "action", "bad_format"),
            (format!("organization={}", "0".repeat(65)), "organization", "too_long"),
            (format!("actor={}", "a".repeat(255)), "actor", "too_long"),
        ] {
            let refused = app.get(&format!("/api/v1/audit?{query}"), Some(&auditor)).await;
            refused.assert_problem(400, "invalid_query");
            assert_eq!(refused.json["errors"][0]["field"], field, "{query}");
            assert_eq!(refused.json["errors"][0]["code"], code, "{query}");
        }

        // The export: every matching record, oldest first, and it is itself recorded.
        let export = app.get(&format!("/api/v1/audit/export.csv?organization={}", org.id), Some(&auditor)).await;
        export.assert_status(200);
        assert!(export.header("content-type").starts_with("text/csv"));
        let csv = export.text.clone();
        let mut lines = csv.trim_start_matches('\u{feff}').lines();
        assert_eq!(
            lines.next().unwrap(),
            "seq,time,actor_id,actor_email,actor_role,organization_id,action,object_type,object_id,result,before,after,request_id"
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), items.len());
        assert!(rows.iter().filter(|r| r.contains(",session.denied,")).all(|r| r.contains(",denied,")));
        let exports = app.get("/api/v1/audit?action=audit.export", Some(&auditor)).await;
        assert_eq!(exports.json["total"], 1);
        assert_eq!(exports.json["items"][0]["after"]["records"], items.len());

        // Neither administrator reads the log; the auditor changes nothing.
        for role in [Role::Admin, Role::SecurityAdmin, Role::Official] {
            let (_, token) = app.staff(role).await;
            app.get("/api/v1/audit", Some(&token)).await.assert_problem(403, "forbidden");
            app.get("/api/v1/audit/export.csv", Some(&token)).await.assert_problem(403, "forbidden");
        }
        app.get("/api/v1/audit", Some(&org.token)).await.assert_problem(403, "forbidden");
        app.post("/api/v1/admin/users", Some(&auditor), new_staff("auditor")).await.assert_problem(403, "forbidden");
        app.post(&format!("/api/v1/admin/users/{}/unlock", org.user_id), Some(&auditor), json!({}))
            .await
            .assert_problem(403, "forbidden");
        app.get("/api/v1/statistics", Some(&auditor)).await.assert_problem(403, "forbidden");
    }
}

on_both_databases! {
    async fn each_administrator_manages_its_own_side_and_the_security_administrator_unlocks(app: TestApp) {
        let (sysadmin_id, sysadmin) = app.staff(Role::Admin).await;
        let (_, secadmin) = app.staff(Role::SecurityAdmin).await;

        // The system administrator makes officials and administrators, not
        // security staff; the security administrator the reverse.
        app.post("/api/v1/admin/users", Some(&sysadmin), new_staff("official")).await.assert_status(201);
        app.post("/api/v1/admin/users", Some(&sysadmin), new_staff("sysadmin")).await.assert_status(201);
        for role in ["auditor", "secadmin"] {
            app.post("/api/v1/admin/users", Some(&sysadmin), new_staff(role)).await.assert_problem(403, "forbidden");
        }
        let auditor = app.post("/api/v1/admin/users", Some(&secadmin), new_staff("auditor")).await;
        auditor.assert_status(201);
        assert_eq!(auditor.json["role"], "auditor");
        let auditor_id = auditor.json["id"].as_str().unwrap().to_string();
        app.post("/api/v1/admin/users", Some(&secadmin), new_staff("official")).await.assert_problem(403, "forbidden");
        // Security staff act for no organisation.
        let org = app.register_org("enterprise").await;
        let mut with_org = new_staff("auditor");
        with_org["organization_id"] = json!(org.id);
        let refused = app.post("/api/v1/admin/users", Some(&secadmin), with_org).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.json["errors"][0]["field"], "organization_id");

        // The system administrator cannot silence the auditor.
        app.post(&format!("/api/v1/admin/users/{auditor_id}/disable"), Some(&sysadmin), json!({}))
            .await
            .assert_problem(403, "forbidden");

        // A locked member: the security administrator ends the lock-out.
        for _ in 0..5 {
            app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": "a wrong guess"})).await;
        }
        app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password}))
            .await
            .assert_problem(423, "account_locked");
        app.post(&format!("/api/v1/admin/users/{}/unlock", org.user_id), Some(&sysadmin), json!({}))
            .await
            .assert_problem(403, "forbidden");
        let unlocked = app.post(&format!("/api/v1/admin/users/{}/unlock", org.user_id), Some(&secadmin), json!({})).await;
        unlocked.assert_status(200);
        // The five wrong passwords (a refused attempt on a locked account is never checked).
        assert_eq!(unlocked.json["failures_cleared"], 5);
        app.login(&org.email, &org.password).await;

        // A role change ends the person's sessions; members are not re-roled.
        let official = app.staff_account(Role::Official, None).await;
        let changed = app
            .request(axum::http::Method::PATCH, &format!("/api/v1/admin/users/{}", official.user_id), Some(&secadmin),
                Some(json!({"role": "secadmin"})))
            .await;
        changed.assert_status(200);
        assert_eq!(changed.json["role"], "secadmin");
        app.get("/api/v1/me", Some(&official.token)).await.assert_problem(401, "invalid_token");
        let me = app.get("/api/v1/me", Some(&app.login(&official.email, &official.password).await)).await;
        assert_eq!(me.json["role"], "secadmin");
        let member = app
            .request(axum::http::Method::PATCH, &format!("/api/v1/admin/users/{}", org.user_id), Some(&secadmin),
                Some(json!({"role": "official"})))
            .await;
        member.assert_problem(409, "invalid_state");
        // Nor is anyone made a member this way: not a role a change names.
        let demoted = app
            .request(axum::http::Method::PATCH, &format!("/api/v1/admin/users/{}", official.user_id), Some(&secadmin),
                Some(json!({"role": "member"})))
            .await;
        demoted.assert_problem(422, "validation_failed");
        assert_eq!(demoted.json["errors"][0]["field"], "role");
        let own = app
            .request(axum::http::Method::PATCH, &format!("/api/v1/admin/users/{sysadmin_id}"), Some(&sysadmin),
                Some(json!({"role": "auditor"})))
            .await;
        own.assert_problem(403, "forbidden");

        // All of it is in the trail, under who did it.
        let (_, reader) = app.staff(Role::Auditor).await;
        let changes = app.get("/api/v1/audit?action=user.role_change", Some(&reader)).await;
        assert_eq!(changes.json["items"][0]["before"]["role"], "official");
        assert_eq!(changes.json["items"][0]["actor_role"], "secadmin");
        let unlocks = app.get(&format!("/api/v1/audit?action=user.unlock&object=user:{}", org.user_id), Some(&reader)).await;
        assert_eq!(unlocks.json["total"], 1);
    }
}

on_both_databases! {
    async fn the_console_shows_the_auditor_the_trail_and_nobody_else(app: TestApp) {
        use techtrade_tests::web::{Browser, signed_in};
        let org = app.register_org("enterprise").await;
        app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": "a wrong guess"}))
            .await
            .assert_problem(401, "invalid_credentials");
        let auditor = app.staff_account(Role::Auditor, None).await;

        // Signing in leads the auditor to the log.
        let mut browser = Browser::new(&app);
        let landed = browser
            .submit("/login", "/login", &[("email", &auditor.email), ("password", &auditor.password)])
            .await;
        assert_eq!(landed.header("location"), "/console/audit");
        let page = browser.get("/console/audit").await;
        page.assert_status(200);
        assert!(page.text.contains("href=\"/console/audit\""), "the header leads to the log");
        assert!(page.text.contains("data-action=\"session.denied\" data-result=\"denied\""), "{}", page.text);

        // Filtered by the member's address and an action; the export keeps the filter.
        let path = format!("/console/audit?actor={}&action=session", org.email.replace('@', "%40"));
        let filtered = browser.get(&path).await;
        filtered.assert_status(200);
        assert!(filtered.text.contains("id=\"audit-total\">2<"), "a sign-in and a refusal: {}", filtered.text);
        assert!(filtered.text.contains(&format!("href=\"/console/audit/export.csv?actor={}", org.email.replace('@', "%40"))));
        let export = browser.get(&format!("/console/audit/export.csv?actor={}&action=session", org.email.replace('@', "%40"))).await;
        export.assert_status(200);
        assert!(export.header("content-type").starts_with("text/csv"));
        assert_eq!(export.text.trim_start_matches('\u{feff}').lines().count(), 1 + 2);

        // A bad filter is shown on its field.
        let bad = browser.get("/console/audit?from=2026-12-06&to=2026-12-01").await;
        bad.assert_status(400);
        assert!(bad.text.contains("id=\"to-error\""), "{}", bad.text);

        // Administrators and officials are refused the page and the export.
        for role in [Role::Admin, Role::SecurityAdmin, Role::Official] {
            let staff = app.staff_account(role, None).await;
            let mut other = signed_in(&app, &staff.email, &staff.password).await;
            other.get("/console/audit").await.assert_status(403);
            other.get("/console/audit/export.csv").await.assert_status(403);
        }
        let mut member = signed_in(&app, &org.email, &org.password).await;
        member.get("/console/audit").await.assert_status(403);
    }
}

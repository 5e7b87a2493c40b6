//! Limits that keep one client from hurting the others, each answered
//! with a clear 4xx naming what was too much.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use techtrade_tests::{on_both_databases, test_settings};
use techtrade_web::Settings;

fn registration(n: u32, password: &str) -> String {
    json!({
        "organization": {"name": format!("限流单位{n}"), "kind": "enterprise",
                         "credit_code": techtrade_tests::credit_code(), "region_code": "630100"},
        "user": {"email": format!("limit{n}-{}@example.cn", techtrade_tests::unique()), "password": password, "name": "限流"},
    })
    .to_string()
}

on_both_databases! {
    async fn registrations_are_limited_per_address(app: TestApp) {
        let mut settings: Settings = test_settings();
        settings.auth.max_registrations_per_ip = 3;
        let app = app.with_settings(settings);
        let from = |ip: &'static str| [("X-Forwarded-For", ip)];
        for n in 0..2 {
            app.post_with("/api/v1/organizations", None, &from("198.51.100.7"), &registration(n, "a good password 1")).await.assert_status(201);
        }
        // An invalid attempt counts too: it costs a password hash all the same.
        app.post_with("/api/v1/organizations", None, &from("198.51.100.7"), &registration(2, "short")).await.assert_status(422);
        let refused = app.post_with("/api/v1/organizations", None, &from("198.51.100.7"), &registration(3, "a good password 1")).await;
        refused.assert_problem(429, "rate_limited");
        assert_eq!(refused.header("retry-after"), "3600");
        // Another address is not affected.
        app.post_with("/api/v1/organizations", None, &from("203.0.113.9"), &registration(4, "a good password 1")).await.assert_status(201);
    }
}

on_both_databases! {
    async fn common_and_short_passwords_are_refused_naming_the_field(app: TestApp) {
        for (password, code) in [("1234567", "too_short"), ("PASSWORD", "too_common"), ("woaini1314", "too_common")] {
            let response = app.post_with("/api/v1/organizations", None, &[], &registration(0, password)).await;
            response.assert_problem(422, "validation_failed");
            assert_eq!(response.error_fields(), ["user.password"]);
            assert_eq!(response.json["errors"][0]["code"], code);
        }
        let long = "长".repeat(257);
        let response = app.post_with("/api/v1/organizations", None, &[], &registration(0, &long)).await;
        assert_eq!(response.json["errors"][0]["code"], "too_long", "{}", response.text);
    }
}

on_both_databases! {
    async fn long_queries_and_big_pages_are_400_naming_the_parameter(app: TestApp) {
        let q = "锂".repeat(201);
        let search = app.get(&format!("/api/v1/search?q={q}"), None).await;
        search.assert_problem(400, "invalid_query");
        assert_eq!(search.error_fields(), ["q"]);
        app.get(&format!("/api/v1/search?q={}", "锂".repeat(200)), None).await.assert_status(200);
        let suggest = app.get(&format!("/api/v1/search/suggest?q={}", "a".repeat(101)), None).await;
        suggest.assert_problem(400, "invalid_query");
        assert_eq!(suggest.error_fields(), ["q"]);
        for path in ["/api/v1/listings?per_page=101", "/api/v1/demands?per_page=1000", "/api/v1/search?per_page=101"] {
            let page = app.get(path, None).await;
            page.assert_problem(400, "invalid_query");
            assert_eq!(page.error_fields(), ["per_page"], "{path}");
        }
        let overflow = app.get("/api/v1/listings?page=99999999999999999999", None).await;
        overflow.assert_status(400);
    }
}

on_both_databases! {
    async fn a_revoked_token_is_refused_everywhere(app: TestApp) {
        let org = app.register_org("enterprise").await;
        app.get("/api/v1/me", Some(&org.token)).await.assert_status(200);
        app.post("/api/v1/auth/logout", Some(&org.token), json!({})).await.assert_status(204);
        app.get("/api/v1/me", Some(&org.token)).await.assert_problem(401, "invalid_token");
        app.get("/api/v1/deals", Some(&org.token)).await.assert_problem(401, "invalid_token");
        // A public route with a dead token: 401 too, never silently anonymous.
        app.get("/api/v1/listings", Some(&org.token)).await.assert_problem(401, "invalid_token");
        app.post("/api/v1/auth/logout", Some(&org.token), json!({})).await.assert_problem(401, "invalid_token");
    }
}

on_both_databases! {
    async fn a_request_waits_a_bounded_time_for_a_busy_pool_then_is_told_to_retry(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let app = app.with_pool(1, std::time::Duration::from_millis(200));
        // The pool's only connection busy, as under a load that saturates it.
        let held = app.state.db.get().unwrap();
        // Answered after the pool's wait (the timeout only guards the test
        // from hanging): 503 and when to retry, not a queue.
        let busy = tokio::time::timeout(std::time::Duration::from_secs(30), app.get("/api/v1/me", Some(&org.token)))
            .await
            .expect("a request on a saturated pool is answered");
        busy.assert_problem(503, "unavailable");
        assert_eq!(busy.header("retry-after"), "1");
        drop(held);
        app.get("/api/v1/me", Some(&org.token)).await.assert_status(200);
    }
}

//! The plumbing every service shares: problem+json for every kind of bad
//! request, request ids, health checks, the OpenAPI document and docs page.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use techtrade_tests::on_both_databases;

fn raw(method: &str, path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(body.into()).unwrap()
}

on_both_databases! {
    async fn bad_requests_get_problem_json(app: TestApp) {
        let malformed = app.send(raw("POST", "/api/v1/auth/login", Some("application/json"), "{\"email\": ")).await;
        malformed.assert_problem(400, "malformed_json");

        let wrong_type = app.send(raw("POST", "/api/v1/auth/login", Some("text/plain"), "{}")).await;
        wrong_type.assert_problem(415, "unsupported_media_type");
        let no_type = app.send(raw("POST", "/api/v1/auth/login", None, "{}")).await;
        no_type.assert_problem(415, "unsupported_media_type");

        let huge = format!("{{\"email\": \"{}\", \"password\": \"x\"}}", "a".repeat(3 * 1024 * 1024));
        let too_large = app.send(raw("POST", "/api/v1/auth/login", Some("application/json"), huge)).await;
        too_large.assert_problem(413, "payload_too_large");

        let missing = app.get("/api/v1/no-such-thing", None).await;
        missing.assert_problem(404, "not_found");
        let wrong_method = app.request(Method::DELETE, "/api/v1/auth/login", None, None).await;
        wrong_method.assert_problem(405, "method_not_allowed");
    }
}

on_both_databases! {
    async fn every_response_carries_a_request_id(app: TestApp) {
        let generated = app.get("/healthz", None).await;
        assert_eq!(generated.header("x-request-id").len(), 36, "a UUID is generated");
        let given = app.send(Request::get("/api/v1/me").header("x-request-id", "trace-abc-123").body(Body::empty()).unwrap()).await;
        given.assert_problem(401, "unauthenticated");
        assert_eq!(given.header("x-request-id"), "trace-abc-123", "a caller's id is kept");
    }
}

on_both_databases! {
    async fn health_and_readiness(app: TestApp) {
        let health = app.get("/healthz", None).await;
        health.assert_status(200);
        assert_eq!(health.json["status"], "ok");
        let ready = app.get("/readyz", None).await;
        ready.assert_status(200);
        assert_eq!(ready.json["status"], "ready");
        let expected = app.state.db.backend().as_str();
        assert_eq!(ready.json["database"], expected);
        assert_eq!(ready.json["search"], "embedded");
        assert_eq!(ready.json["outbox_position"], 0);
        assert_eq!(ready.json["search_position"], techtrade_search::NEVER_BUILT, "no indexer pass has run");
        app.sync_search().await;
        assert_eq!(app.get("/readyz", None).await.json["search_position"], 0);
    }
}

/// Resolves `{"$ref": "#/components/schemas/X"}` to X's schema.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The values of an enumerated schema, however it is wrapped (`oneOf`
/// with `null` for an optional parameter, a `$ref` to a component).
fn enum_values(doc: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(doc, schema);
    if let Some(values) = schema["enum"].as_array() {
        return values.iter().filter_map(|v| v.as_str().map(String::from)).collect();
    }
    ["oneOf", "anyOf", "allOf"]
        .iter()
        .filter_map(|key| schema[*key].as_array())
        .flatten()
        .flat_map(|part| enum_values(doc, part))
        .collect()
}

on_both_databases! {
    async fn the_openapi_document_lists_every_route_with_its_schemas(app: TestApp) {
        let response = app.get("/api/openapi.json", None).await;
        response.assert_status(200);
        let doc = &response.json;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let expected: &[(&str, &str, Option<&str>, &str)] = &[
            ("post", "/api/v1/organizations", Some("RegistrationRequest"), "201"),
            ("get", "/api/v1/organizations/{id}", None, "200"),
            ("get", "/api/v1/organizations/{id}/members", None, "200"),
            ("post", "/api/v1/organizations/{id}/members", Some("NewUserRequest"), "201"),
            ("post", "/api/v1/auth/login", Some("LoginRequest"), "200"),
            ("post", "/api/v1/auth/logout", None, "204"),
            ("get", "/api/v1/me", None, "200"),
            ("post", "/api/v1/admin/users", Some("AdminNewUserRequest"), "201"),
            ("get", "/api/v1/admin/users", None, "200"),
            ("post", "/api/v1/admin/users/{id}/disable", None, "200"),
            ("get", "/healthz", None, "200"),
            ("get", "/readyz", None, "200"),
            ("post", "/api/v1/listings", Some("ListingRequest"), "201"),
            ("get", "/api/v1/listings", None, "200"),
            ("get", "/api/v1/listings/{id}", None, "200"),
            ("patch", "/api/v1/listings/{id}", Some("ListingRequestPatch"), "200"),
            ("post", "/api/v1/listings/{id}/submit", None, "200"),
            ("post", "/api/v1/listings/{id}/review", Some("ReviewRequest"), "200"),
            ("post", "/api/v1/listings/{id}/withdraw", None, "200"),
            ("post", "/api/v1/demands", Some("DemandRequest"), "201"),
            ("get", "/api/v1/demands", None, "200"),
            ("get", "/api/v1/demands/{id}", None, "200"),
            ("patch", "/api/v1/demands/{id}", Some("DemandRequestPatch"), "200"),
            ("post", "/api/v1/demands/{id}/submit", None, "200"),
            ("post", "/api/v1/demands/{id}/review", Some("ReviewRequest"), "200"),
            ("post", "/api/v1/demands/{id}/withdraw", None, "200"),
            ("get", "/api/v1/search", None, "200"),
            ("get", "/api/v1/search/suggest", None, "200"),
            ("post", "/api/v1/deals", Some("CreateDealRequest"), "201"),
            ("get", "/api/v1/deals", None, "200"),
            ("get", "/api/v1/deals/{id}", None, "200"),
            ("post", "/api/v1/deals/{id}/offers", Some("OfferRequest"), "201"),
            ("post", "/api/v1/deals/{id}/accept", None, "200"),
            ("post", "/api/v1/deals/{id}/contract", Some("ContractRequest"), "200"),
            ("post", "/api/v1/deals/{id}/registration", Some("ContractRegistrationRequest"), "200"),
            ("post", "/api/v1/deals/{id}/cancel", Some("CancelRequest"), "200"),
            ("post", "/api/v1/deals/{id}/payments", Some("PaymentRequest"), "201"),
            ("post", "/api/v1/payments/{id}/confirm", None, "200"),
            ("post", "/api/v1/webhooks/stripe", None, "200"),
            ("get", "/api/v1/subsidy/programs", None, "200"),
            ("post", "/api/v1/subsidy/claims/preview", Some("ClaimPreviewRequest"), "200"),
            ("post", "/api/v1/subsidy/claims", Some("ClaimRequest"), "201"),
            ("get", "/api/v1/subsidy/claims", None, "200"),
            ("get", "/api/v1/subsidy/claims/{id}", None, "200"),
            ("post", "/api/v1/subsidy/claims/{id}/review", Some("ClaimReviewRequest"), "200"),
            ("get", "/api/v1/subsidy/rounds/{id}/export.csv", None, "200"),
            ("post", "/api/v1/payments/{id}/reject", Some("RejectPaymentRequest"), "200"),
            ("post", "/api/v1/deals/{id}/agency", Some("AgencyAnswerRequest"), "200"),
            ("post", "/api/v1/deals/{id}/terminate", Some("TerminateRequest"), "200"),
            ("post", "/api/v1/payments/{id}/refund", Some("RefundRequest"), "200"),
            ("get", "/api/v1/agency-invitations", None, "200"),
            ("post", "/api/v1/payments/{id}/cancel", None, "200"),
            ("post", "/api/v1/subsidy/rounds", Some("CloseRoundRequest"), "201"),
            ("get", "/api/v1/subsidy/rounds/{id}", None, "200"),
            ("get", "/api/v1/subsidy/rounds", None, "200"),
            ("get", "/api/v1/subsidy/rounds/{id}/disbursements", None, "200"),
            ("post", "/api/v1/subsidy/disbursements/{id}/paid", Some("DisbursementRequest"), "200"),
            ("post", "/api/v1/subsidy/simulate", Some("SimulateRequest"), "200"),
            ("get", "/api/v1/demands/{id}/matches", None, "200"),
            ("get", "/api/v1/listings/{id}/matches", None, "200"),
            ("post", "/api/v1/saved-searches", Some("SavedSearchRequest"), "201"),
            ("get", "/api/v1/saved-searches", None, "200"),
            ("delete", "/api/v1/saved-searches/{id}", None, "204"),
            ("get", "/api/v1/statistics", None, "200"),
            ("get", "/api/v1/me/sessions", None, "200"),
            ("delete", "/api/v1/me/sessions/{id}", None, "204"),
            ("post", "/api/v1/me/password", Some("PasswordChangeRequest"), "204"),
            ("patch", "/api/v1/organizations/{id}/members/{user_id}", Some("MemberChangePatch"), "200"),
            ("delete", "/api/v1/organizations/{id}/members/{user_id}", None, "204"),
            ("post", "/api/v1/admin/users/{id}/unlock", None, "200"),
            ("patch", "/api/v1/admin/users/{id}", Some("RoleChangeRequestPatch"), "200"),
            ("get", "/api/v1/audit", None, "200"),
            ("get", "/api/v1/audit/export.csv", None, "200"),
            ("post", "/api/v1/auth/password-reset", Some("PasswordResetRequest"), "202"),
            ("post", "/api/v1/auth/password-reset/confirm", Some("PasswordResetConfirmation"), "204"),
            ("post", "/api/v1/auth/login/totp", Some("SecondFactorLoginRequest"), "200"),
            ("get", "/api/v1/me/totp", None, "200"),
            ("post", "/api/v1/me/totp", None, "200"),
            ("delete", "/api/v1/me/totp", Some("CodeRequest"), "204"),
            ("post", "/api/v1/me/totp/confirm", Some("CodeRequest"), "200"),
            ("post", "/api/v1/me/totp/recovery-codes", Some("CodeRequest"), "200"),
            ("delete", "/api/v1/admin/users/{id}/totp", None, "204"),
            ("post", "/api/v1/registrations", Some("ApplicationRequest"), "201"),
            ("get", "/api/v1/registrations", None, "200"),
            ("get", "/api/v1/registrations/{id}", None, "200"),
            ("post", "/api/v1/registrations/{id}/submit", None, "200"),
            ("post", "/api/v1/registrations/{id}/answer", Some("AnswerRequest"), "200"),
            ("post", "/api/v1/registrations/{id}/decision", Some("DecisionRequest"), "200"),
            ("post", "/api/v1/registrations/{id}/dispute", Some("DisputeRequest"), "200"),
            ("get", "/api/v1/registrations/verify", None, "200"),
            ("post", "/api/v1/registrations/{id}/documents", None, "201"),
            ("get", "/api/v1/registrations/{id}/documents/{document_id}", None, "200"),
            ("delete", "/api/v1/registrations/{id}/documents/{document_id}", None, "204"),
            ("post", "/api/v1/registrations/{id}/amendments", Some("AmendmentRequest"), "200"),
            ("post", "/api/v1/registrations/{id}/cancellation", Some("CancellationRequest"), "200"),
            ("post", "/api/v1/registrations/{id}/payments", Some("PaymentDeclaration"), "201"),
            ("post", "/api/v1/registrations/{id}/payments/{payment_id}/decision", Some("PaymentDecision"), "200"),
            ("get", "/api/v1/registrations/{id}/certificate", None, "200"),
            ("get", "/api/v1/statistics/registrations", None, "200"),
            ("get", "/api/v1/statistics/registrations.csv", None, "200"),
        ];
        let listed: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(listed, expected.len(), "every route is documented, and only those");
        for &(method, path, request, success) in expected {
            let operation = &doc["paths"][path][method];
            assert!(operation.is_object(), "{method} {path} is missing");
            if let Some(request) = request {
                let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
                assert_eq!(schema["$ref"], format!("#/components/schemas/{request}"), "{method} {path}");
                let resolved = resolve(doc, schema);
                // A tagged union (a payment's method) is one of several objects.
                let described = resolved["properties"].is_object() || resolved["oneOf"].is_array();
                assert!(described, "{request} has properties");
            }
            let response = &operation["responses"][success];
            assert!(response.is_object(), "{method} {path} documents {success}");
            if path.ends_with(".csv") {
                assert!(response["content"]["text/csv"].is_object(), "{method} {path} documents CSV");
            } else if path.ends_with("{document_id}") && method == "get" {
                // A document is its bytes, in one of the types uploads are read as.
                for media_type in ["application/pdf", "image/jpeg", "image/png"] {
                    assert!(response["content"][media_type].is_object(), "{method} {path} documents {media_type}");
                }
            } else if success != "204" {
                let schema = &response["content"]["application/json"]["schema"];
                let resolved = resolve(doc, schema);
                let described = resolved["properties"].is_object() || resolved["allOf"].is_array();
                assert!(described, "{method} {path} {success} has a schema: {resolved}");
            }
        }
        // Enumerated query parameters list their values.
        for (path, name, values) in [
            ("/api/v1/subsidy/claims", "status", &["submitted", "first_approved", "approved", "rejected", "publicized", "not_in_round"][..]),
            ("/api/v1/subsidy/rounds/{id}/disbursements", "status", &["pending", "paid"][..]),
        ] {
            let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
            let param = params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} ?{name}"));
            let listed = enum_values(doc, &param["schema"]);
            assert_eq!(listed, values, "{path} ?{name}: {param}");
        }
        let problem = &doc["components"]["schemas"]["Problem"]["properties"];
        for field in ["type", "title", "status", "detail", "code", "errors"] {
            assert!(problem[field].is_object(), "Problem.{field}");
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(doc["paths"]["/api/v1/me"]["get"]["security"], json!([{"bearer": []}]));
    }
}

on_both_databases! {
    async fn the_docs_page_is_served_from_the_binary(app: TestApp) {
        let page = app.get("/docs/", None).await;
        page.assert_status(200);
        assert!(page.text.contains("swagger-ui"), "{}", page.text);
        let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
        bundle.assert_status(200);
        assert!(bundle.text.len() > 100_000, "the UI's script is compiled in");
        let init = app.get("/docs/swagger-initializer.js", None).await;
        assert!(init.text.contains("/api/openapi.json"));
    }
}

on_both_databases! {
    async fn every_response_carries_the_security_headers_and_no_server_banner(app: TestApp) {
        const SITE: &str = "default-src 'self'; script-src 'self' https://js.stripe.com;";
        for (path, policy_start) in [
            ("/", SITE),
            ("/login", SITE),
            ("/no-such-page", SITE),
            ("/api/v1/listings", "default-src 'none'; frame-ancestors 'none'"),
            ("/api/v1/no-such-route", "default-src 'none'; frame-ancestors 'none'"),
            ("/api/openapi.json", "default-src 'none'; frame-ancestors 'none'"),
            ("/docs/", "default-src 'self'; style-src 'self' 'unsafe-inline';"),
        ] {
            let response = app.get(path, None).await;
            let policy = response.header("content-security-policy");
            assert!(policy.starts_with(policy_start), "{path}: {policy}");
            assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
            assert!(!policy.contains("unsafe-inline") || path.starts_with("/docs"), "{path}: {policy}");
            assert!(!policy.contains("unsafe-eval"), "{path}: {policy}");
            assert_eq!(response.header("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(response.header("x-frame-options"), "DENY", "{path}");
            assert_eq!(response.header("referrer-policy"), "strict-origin-when-cross-origin", "{path}");
            assert!(response.headers.get("server").is_none(), "{path}: no banner");
            // Plain http (a local trial): HSTS would lock the browser out.
            assert!(response.headers.get("strict-transport-security").is_none(), "{path}");
        }
        let https = app.with_site(techtrade_server::app::SiteOptions::new("https://market.example.cn", None));
        for path in ["/", "/api/v1/listings"] {
            let response = https.get(path, None).await;
            assert_eq!(response.header("strict-transport-security"), "max-age=31536000; includeSubDomains", "{path}");
        }
    }
}

/// The OpenAPI document names a schema after its Rust type, and merging
/// the services' documents keeps one schema per name: two types of one
/// name in different crates would silently document one of them wrongly
/// (a registration decision once showed the listings' `approve`). So
/// every type that derives `ToSchema` has a name of its own.
#[test]
fn every_documented_type_has_a_name_of_its_own() {
    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    let mut seen: std::collections::HashMap<String, std::path::PathBuf> = std::collections::HashMap::new();
    let mut clashes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut documented = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("#[derive(") && line.contains("ToSchema") {
                documented = true;
            } else if documented && (line.starts_with("pub struct ") || line.starts_with("pub enum ")) {
                let name: String = line
                    .split_whitespace()
                    .nth(2)
                    .unwrap()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if let Some(first) = seen.insert(name.clone(), file.clone()) {
                    clashes.push(format!("{name}: {} and {}", first.display(), file.display()));
                }
                documented = false;
            } else if !line.starts_with("#[") && !line.starts_with("///") && !line.is_empty() {
                documented = false;
            }
        }
    }
    assert!(seen.len() > 100, "the scan found {} documented types", seen.len());
    assert!(clashes.is_empty(), "documented types sharing a name: {clashes:#?}");
}

//! Listings and demands over HTTP: validation, lifecycle, moderation,
//! visibility and optimistic concurrency.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use techtrade_db::{audit, outbox};
use techtrade_domain::Role;
use techtrade_tests::{TestApp, TestOrg, on_both_databases};

fn listing_body() -> Value {
    json!({
        "kind": "patent",
        "title": "一种盐湖卤水提锂的铝系吸附剂及其制备方法",
        "summary": "适用于高镁锂比卤水的吸附提锂，已完成中试。",
        "ipc": ["C22B 26/12", "B01J0020080000"],
        "maturity": "pilot",
        "trade_modes": ["assignment", "exclusive_license"],
        "price_fen": 150_000_000,
        "negotiable": false,
        "region_code": "632801",
        "patents": [{
            "application_number": "ZL201710601862.3",
            "publication_number": "CN107442071B",
            "patent_type": "invention",
            "title": "一种盐湖卤水提锂的铝系吸附剂及其制备方法",
            "filing_date": "2017-07-27",
            "grant_date": "2019-05-10",
            "legal_status": "granted",
        }],
    })
}

fn demand_body() -> Value {
    json!({
        "title": "退役动力锂电池回收与材料再生技术",
        "description": "寻求退役动力电池梯次利用、正极材料再生的成熟技术，可合作开发。",
        "ipc": ["H01M10/54"],
        "budget_min_fen": 50_000_000,
        "budget_max_fen": 300_000_000,
        "negotiable": true,
        "trade_modes": ["joint_development", "assignment"],
        "region_code": "630100",
        "deadline": "2030-12-31",
    })
}

async fn create_listing(app: &TestApp, org: &TestOrg) -> Value {
    let response = app.post("/api/v1/listings", Some(&org.token), listing_body()).await;
    response.assert_status(201);
    response.json.clone()
}

async fn post_action(app: &TestApp, path: &str, token: &str) -> techtrade_tests::TestResponse {
    app.request(Method::POST, path, Some(token), None).await
}

/// Creates, submits and approves a listing; returns its id.
async fn published_listing(app: &TestApp, org: &TestOrg, official: &str) -> String {
    let id = create_listing(app, org).await["id"].as_str().unwrap().to_string();
    post_action(app, &format!("/api/v1/listings/{id}/submit"), &org.token).await.assert_status(200);
    app.post(&format!("/api/v1/listings/{id}/review"), Some(official), json!({"decision": "approve"}))
        .await
        .assert_status(200);
    id
}

async fn patch(
    app: &TestApp,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: Value,
) -> techtrade_tests::TestResponse {
    let mut request = Request::patch(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(version) = if_match {
        request = request.header("if-match", version);
    }
    app.send(request.body(Body::from(body.to_string())).unwrap()).await
}

on_both_databases! {
    async fn a_new_listing_is_a_draft_with_computed_expiry(app: TestApp) {
        let org = app.register_org("university").await;
        let response = app.post("/api/v1/listings", Some(&org.token), listing_body()).await;
        response.assert_status(201);
        let listing = &response.json;
        assert_eq!(listing["status"], "draft");
        assert_eq!(listing["version"], 1);
        assert_eq!(response.header("etag"), "\"1\"");
        assert_eq!(listing["owner_organization_id"], org.id.as_str());
        assert_eq!(listing["ipc"], json!(["C22B26/12", "B01J20/08"]));
        assert_eq!(listing["trade_modes"], json!(["assignment", "exclusive_license"]));
        let patent = &listing["patents"][0];
        assert_eq!(patent["application_number"], "201710601862.3");
        assert_eq!(patent["expires_on"], "2037-07-26");

        let id = listing["id"].as_str().unwrap();
        let mut conn = app.database.connect();
        assert_eq!(audit::history(&mut conn, "listing", id).unwrap()[0].action, "listing.create");
        let events = outbox::events_after(&mut conn, 0, 100).unwrap();
        assert!(events.iter().any(|e| e.event_type == "listing.created" && e.aggregate_id == id));
    }
}

on_both_databases! {
    async fn three_bad_fields_are_one_422_naming_all_three(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let mut body = listing_body();
        body["title"] = json!("");
        body["ipc"] = json!(["G06F16/33", "Z99Z"]);
        body["patents"][0]["application_number"] = json!("201710601862.4");
        let response = app.post("/api/v1/listings", Some(&org.token), body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), ["title", "ipc[1]", "patents[0].application_number"]);
        assert_eq!(response.json["errors"][2]["code"], "bad_check_digit");

        let mut mismatched = listing_body();
        mismatched["patents"][0]["patent_type"] = json!("utility_model");
        let response = app.post("/api/v1/listings", Some(&org.token), mismatched).await;
        response.assert_problem(422, "validation_failed");
        assert!(response.error_fields().contains(&"patents[0].patent_type"));

        let mut no_patents = listing_body();
        no_patents["patents"] = json!([]);
        let response = app.post("/api/v1/listings", Some(&org.token), no_patents).await;
        assert_eq!(response.error_fields(), ["patents"]);

        let mut bad_mode = listing_body();
        bad_mode["trade_modes"] = json!(["rent"]);
        let response = app.post("/api/v1/listings", Some(&org.token), bad_mode).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), ["trade_modes[0]"]);
    }
}

on_both_databases! {
    async fn only_members_of_an_organisation_create_listings(app: TestApp) {
        app.post("/api/v1/listings", None, listing_body()).await.assert_problem(401, "unauthenticated");
        let (_, official) = app.staff(Role::Official).await;
        app.post("/api/v1/listings", Some(&official), listing_body()).await.assert_problem(403, "forbidden");
    }
}

on_both_databases! {
    async fn drafts_belong_to_their_organisation(app: TestApp) {
        let owner = app.register_org("university").await;
        let other = app.register_org("enterprise").await;
        let id = create_listing(&app, &owner).await["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/listings/{id}");

        app.get(&path, None).await.assert_problem(404, "not_found");
        app.get(&path, Some(&other.token)).await.assert_problem(404, "not_found");
        patch(&app, &path, &other.token, None, json!({"title": "抢注"})).await.assert_problem(404, "not_found");
        post_action(&app, &format!("{path}/submit"), &other.token).await.assert_problem(404, "not_found");
        post_action(&app, &format!("{path}/withdraw"), &other.token).await.assert_problem(404, "not_found");
        app.get(&path, Some(&owner.token)).await.assert_status(200);
        let (_, official) = app.staff(Role::Official).await;
        app.get(&path, Some(&official)).await.assert_status(200);
    }
}

on_both_databases! {
    async fn review_publishes_and_only_officials_review(app: TestApp) {
        let owner = app.register_org("university").await;
        let other = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;
        let id = create_listing(&app, &owner).await["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/listings/{id}");

        // Nothing to review before submission.
        app.post(&format!("{path}/review"), Some(&official), json!({"decision": "approve"})).await.assert_problem(409, "invalid_state");
        let submitted = post_action(&app, &format!("{path}/submit"), &owner.token).await;
        submitted.assert_status(200);
        assert_eq!(submitted.json["status"], "pending_review");
        post_action(&app, &format!("{path}/submit"), &owner.token).await.assert_problem(409, "invalid_state");

        app.post(&format!("{path}/review"), Some(&owner.token), json!({"decision": "approve"})).await.assert_problem(403, "forbidden");
        app.post(&format!("{path}/review"), Some(&other.token), json!({"decision": "approve"})).await.assert_problem(403, "forbidden");
        app.post(&format!("{path}/review"), Some(&official), json!({"decision": "maybe"})).await.assert_problem(422, "validation_failed");

        let approved = app.post(&format!("{path}/review"), Some(&official), json!({"decision": "approve"})).await;
        approved.assert_status(200);
        assert_eq!(approved.json["status"], "published");
        assert!(approved.json["published_at"].is_string());

        // Published: public, but still only the owner's to change.
        app.get(&path, None).await.assert_status(200);
        app.get(&path, Some(&other.token)).await.assert_status(200);
        patch(&app, &path, &other.token, None, json!({"title": "抢注"})).await.assert_problem(403, "forbidden");
        post_action(&app, &format!("{path}/withdraw"), &other.token).await.assert_problem(403, "forbidden");

        let mut conn = app.database.connect();
        let actions: Vec<String> = audit::history(&mut conn, "listing", &id).unwrap().into_iter().map(|r| r.action).collect();
        assert_eq!(actions, ["listing.create", "listing.submit", "listing.approve"]);
        let events: Vec<String> = outbox::events_after(&mut conn, 0, 100).unwrap().into_iter()
            .filter(|e| e.aggregate_id == id).map(|e| e.event_type).collect();
        assert_eq!(events, ["listing.created", "listing.submitted", "listing.published"]);
        let reviews = techtrade_db::listings::reviews_of(&mut conn, "listing", &id).unwrap();
        assert_eq!(reviews.len(), 1);
        assert_eq!(reviews[0].decision, "approve");
    }
}

on_both_databases! {
    async fn rejection_needs_a_reason_and_can_be_resubmitted(app: TestApp) {
        let owner = app.register_org("institute").await;
        let (_, official) = app.staff(Role::Official).await;
        let id = create_listing(&app, &owner).await["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/listings/{id}");
        post_action(&app, &format!("{path}/submit"), &owner.token).await.assert_status(200);

        let no_reason = app.post(&format!("{path}/review"), Some(&official), json!({"decision": "reject", "reason": "  "})).await;
        no_reason.assert_problem(422, "validation_failed");
        assert_eq!(no_reason.error_fields(), ["reason"]);
        let rejected = app.post(&format!("{path}/review"), Some(&official), json!({"decision": "reject", "reason": "专利权人与申请单位不一致"})).await;
        rejected.assert_status(200);
        assert_eq!(rejected.json["status"], "rejected");
        assert_eq!(rejected.json["review_reason"], "专利权人与申请单位不一致");

        let edited = patch(&app, &path, &owner.token, None, json!({"summary": "已补充专利权转移证明。"})).await;
        edited.assert_status(200);
        assert_eq!(edited.json["status"], "rejected");
        let resubmitted = post_action(&app, &format!("{path}/submit"), &owner.token).await;
        assert_eq!(resubmitted.json["status"], "pending_review");
        assert_eq!(resubmitted.json["review_reason"], Value::Null);
    }
}

on_both_databases! {
    async fn editing_uses_if_match_and_sends_published_listings_back_to_review(app: TestApp) {
        let owner = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let id = published_listing(&app, &owner, &official).await;
        let path = format!("/api/v1/listings/{id}");
        let current = app.get(&path, None).await;
        let version = current.json["version"].as_i64().unwrap();
        assert_eq!(current.header("etag"), format!("\"{version}\""));

        let stale = patch(&app, &path, &owner.token, Some("\"1\""), json!({"price_fen": 120_000_000})).await;
        stale.assert_problem(412, "precondition_failed");

        let edited = patch(&app, &path, &owner.token, Some(&format!("\"{version}\"")), json!({"price_fen": 120_000_000, "ipc": ["H01M10/54"]})).await;
        edited.assert_status(200);
        assert_eq!(edited.json["version"], version + 1);
        assert_eq!(edited.json["price_fen"], 120_000_000);
        assert_eq!(edited.json["ipc"], json!(["H01M10/54"]));
        assert_eq!(edited.json["status"], "pending_review");
        assert_eq!(edited.json["patents"][0]["application_number"], "201710601862.3", "untouched fields stay");
        app.get(&path, None).await.assert_problem(404, "not_found");

        let invalid = patch(&app, &path, &owner.token, None, json!({"patents": [{"application_number": "1"}]})).await;
        invalid.assert_problem(422, "validation_failed");
        assert_eq!(invalid.error_fields()[0], "patents[0].patent_type");
        let bad_value = patch(&app, &path, &owner.token, None, json!({"region_code": "999999"})).await;
        bad_value.assert_problem(422, "validation_failed");
        assert_eq!(bad_value.error_fields(), ["region_code"]);

        let mut conn = app.database.connect();
        let events: Vec<String> = outbox::events_after(&mut conn, 0, 100).unwrap().into_iter()
            .filter(|e| e.aggregate_id == id).map(|e| e.event_type).collect();
        assert_eq!(events.last().map(String::as_str), Some("listing.unpublished"));
        let last = audit::history(&mut conn, "listing", &id).unwrap().pop().unwrap();
        assert_eq!(last.action, "listing.edit");
        assert!(last.before_state.unwrap().contains("150000000") && last.after_state.unwrap().contains("120000000"));
    }
}

on_both_databases! {
    async fn withdrawn_listings_are_final(app: TestApp) {
        let owner = app.register_org("enterprise").await;
        let id = create_listing(&app, &owner).await["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/listings/{id}");
        let withdrawn = post_action(&app, &format!("{path}/withdraw"), &owner.token).await;
        withdrawn.assert_status(200);
        assert_eq!(withdrawn.json["status"], "withdrawn");
        post_action(&app, &format!("{path}/withdraw"), &owner.token).await.assert_problem(409, "invalid_state");
        post_action(&app, &format!("{path}/submit"), &owner.token).await.assert_problem(409, "invalid_state");
        patch(&app, &path, &owner.token, None, json!({"title": "新标题"})).await.assert_problem(409, "invalid_state");
    }
}

on_both_databases! {
    async fn lists_queue_and_mine(app: TestApp) {
        let owner = app.register_org("university").await;
        let other = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;
        let published = published_listing(&app, &owner, &official).await;
        let first = create_listing(&app, &owner).await["id"].as_str().unwrap().to_string();
        let second = create_listing(&app, &other).await["id"].as_str().unwrap().to_string();
        let _draft = create_listing(&app, &other).await;
        post_action(&app, &format!("/api/v1/listings/{first}/submit"), &owner.token).await.assert_status(200);
        post_action(&app, &format!("/api/v1/listings/{second}/submit"), &other.token).await.assert_status(200);

        let public = app.get("/api/v1/listings", None).await;
        public.assert_status(200);
        assert_eq!(public.json["total"], 1);
        assert_eq!(public.json["items"][0]["id"], published.as_str());
        assert_eq!((public.json["page"].as_i64(), public.json["per_page"].as_i64()), (Some(1), Some(20)));

        let queue = app.get("/api/v1/listings?status=pending_review", Some(&official)).await;
        queue.assert_status(200);
        let ids: Vec<&str> = queue.json["items"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [first.as_str(), second.as_str()], "oldest submission first");
        app.get("/api/v1/listings?status=pending_review", Some(&owner.token)).await.assert_problem(403, "forbidden");
        app.get("/api/v1/listings?status=draft", None).await.assert_problem(403, "forbidden");

        let mine = app.get("/api/v1/listings?mine=true", Some(&other.token)).await;
        assert_eq!(mine.json["total"], 2);
        let mine_drafts = app.get("/api/v1/listings?mine=true&status=draft", Some(&other.token)).await;
        assert_eq!(mine_drafts.json["total"], 1);
        app.get("/api/v1/listings?mine=true", None).await.assert_problem(401, "unauthenticated");

        let paged = app.get("/api/v1/listings?mine=true&per_page=1&page=2", Some(&other.token)).await;
        assert_eq!((paged.json["total"].as_i64(), paged.json["items"].as_array().unwrap().len()), (Some(2), 1));
        app.get("/api/v1/listings?per_page=500", None).await.assert_problem(400, "invalid_query");
        let bad_status = app.get("/api/v1/listings?status=sold", None).await;
        bad_status.assert_problem(400, "invalid_query");
        assert_eq!(bad_status.error_fields(), ["status"]);
        app.get("/api/v1/listings?kind=achievement", None).await.assert_status(200);
    }
}

on_both_databases! {
    async fn demands_share_the_lifecycle(app: TestApp) {
        let buyer = app.register_org("enterprise").await;
        let other = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;
        let created = app.post("/api/v1/demands", Some(&buyer.token), demand_body()).await;
        created.assert_status(201);
        assert_eq!(created.json["status"], "draft");
        assert_eq!(created.json["budget_max_fen"], 300_000_000);
        let id = created.json["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/demands/{id}");
        app.get(&path, Some(&other.token)).await.assert_problem(404, "not_found");

        post_action(&app, &format!("{path}/submit"), &buyer.token).await.assert_status(200);
        let queue = app.get("/api/v1/demands?status=pending_review", Some(&official)).await;
        assert_eq!(queue.json["total"], 1);
        let approved = app.post(&format!("{path}/review"), Some(&official), json!({"decision": "approve", "reason": "信息完整"})).await;
        approved.assert_status(200);
        assert_eq!(approved.json["status"], "published");
        app.get(&path, None).await.assert_status(200);
        assert_eq!(app.get("/api/v1/demands", None).await.json["total"], 1);

        let edited = patch(&app, &path, &buyer.token, Some("\"3\""), json!({"budget_min_fen": 400_000_000})).await;
        edited.assert_problem(422, "validation_failed");
        assert_eq!(edited.error_fields(), ["budget_max_fen"]);
        let edited = patch(&app, &path, &buyer.token, Some("\"3\""), json!({"deadline": null, "budget_max_fen": 500_000_000})).await;
        edited.assert_status(200);
        assert_eq!(edited.json["status"], "pending_review");
        assert_eq!(edited.json["deadline"], Value::Null);

        let mut bad = demand_body();
        bad["budget_min_fen"] = json!(-5);
        bad["region_code"] = json!("12");
        let response = app.post("/api/v1/demands", Some(&buyer.token), bad).await;
        assert_eq!(response.error_fields(), ["budget_min_fen", "region_code"]);

        post_action(&app, &format!("{path}/withdraw"), &other.token).await.assert_problem(404, "not_found");
        let withdrawn = post_action(&app, &format!("{path}/withdraw"), &buyer.token).await;
        assert_eq!(withdrawn.json["status"], "withdrawn");
    }
}

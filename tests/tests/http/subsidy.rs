//! The subsidy service over HTTP: programs, claims computed from deals made
//! through the API (the worked examples of POLICY.md), two-level review,
//! rounds within the budget, the public notice and simulation.

#![allow(clippy::unwrap_used)]

use chrono::Datelike;
use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_domain::policy::Program;
use techtrade_tests::{TestApp, TestOrg, TestResponse, on_both_databases};

pub(crate) const WAN: i64 = 1_000_000; // 万 yuan in fen

on_both_databases! {
    async fn anyone_reads_the_programs_in_force(app: TestApp) {
        let response = app.get("/api/v1/subsidy/programs", None).await;
        response.assert_status(200);
        let items = response.json["items"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["nanjing-2021", "qinghai", "sanming"]);

        let qinghai = &items[1];
        assert!(qinghai["placeholder_note"].as_str().unwrap().contains("占位值"), "Qinghai's rates await the authority");
        let roles: Vec<&str> = qinghai["rules"].as_array().unwrap().iter().map(|r| r["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["buyer", "seller", "agency"]);
        assert!(qinghai["summary_zh"][0].as_str().unwrap().contains("技术开发、技术转让、技术许可"));

        let nanjing = &items[0];
        assert_eq!(nanjing["budget_fen"], 5_000_000_000_i64);
        assert_eq!(nanjing["proration"], "proportional");
        assert!(nanjing["summary_en"][0].as_str().unwrap().contains("rate 5%"));
        assert_eq!(items[2]["budget_fen"], serde_json::Value::Null);
    }
}

/// A seller with a published listing offered by licence (so it stays on
/// the market for several buyers), and an official to register contracts.
pub(crate) struct Market {
    pub(crate) seller: TestOrg,
    pub(crate) official: String,
    pub(crate) listing_id: String,
}

pub(crate) async fn market(app: &TestApp) -> Market {
    let seller = app.register_org("university").await;
    let (_, official) = app.staff(Role::Official).await;
    let body = json!({
        "kind": "achievement",
        "title": "盐湖卤水提锂吸附材料及工艺",
        "summary": "铝系吸附剂提锂，已完成中试。",
        "ipc": ["C22B26/12"],
        "maturity": "pilot",
        "trade_modes": ["nonexclusive_license", "joint_development"],
        "negotiable": true,
        "region_code": "632801",
    });
    let created = app.post("/api/v1/listings", Some(&seller.token), body).await;
    created.assert_status(201);
    let listing_id = created.json["id"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/listings/{listing_id}/submit"), Some(&seller.token), json!({})).await.assert_status(200);
    app.post(&format!("/api/v1/listings/{listing_id}/review"), Some(&official), json!({"decision": "approve"}))
        .await
        .assert_status(200);
    Market { seller, official, listing_id }
}

/// The year the tests claim for: the last one that has ended on the
/// market's (Beijing) calendar, so that claims for it are open.
pub(crate) fn year() -> i32 {
    techtrade_db::today().year() - 1
}

/// A day of `year`, as the API takes dates.
fn day_in(year: i32) -> String {
    format!("{year}-06-30")
}

/// `payer` records an offline payment of `amount` fen on deal `id`, dated
/// `paid_on`, and the seller confirms it.
async fn pay(app: &TestApp, m: &Market, payer: &TestOrg, id: &str, amount: i64, paid_on: &str) {
    let payment = json!({"method": "offline", "amount_fen": amount, "paid_on": paid_on,
                         "reference": format!("BANK-{}", techtrade_tests::unique())});
    let recorded = app.post(&format!("/api/v1/deals/{id}/payments"), Some(&payer.token), payment).await;
    recorded.assert_status(201);
    let payment_id = recorded.json["id"].as_str().unwrap();
    app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), json!({}))
        .await
        .assert_status(200);
}

/// A deal between `buyer` and the market's seller, signed early in the year
/// before the claim year, registered with the technology amount (total −
/// non-technical), with nothing paid yet.
pub(crate) async fn registered_deal(
    app: &TestApp,
    m: &Market,
    buyer: &TestOrg,
    total: i64,
    non_technical: i64,
    related: bool,
) -> String {
    let offer =
        json!({"listing_id": m.listing_id, "offer": {"amount_fen": total, "trade_mode": "nonexclusive_license"}});
    let opened = app.post("/api/v1/deals", Some(&buyer.token), offer).await;
    opened.assert_status(201);
    let id = opened.json["id"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/deals/{id}/accept"), Some(&m.seller.token), json!({})).await.assert_status(200);
    let contract = json!({
        "category": "license", "total_amount_fen": total, "non_technical_amount_fen": non_technical,
        "signed_on": format!("{}-01-15", year() - 1), "related_party": related,
    });
    app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract).await.assert_status(200);
    let registration = json!({"decision": "register", "registered_technology_amount_fen": total - non_technical});
    app.post(&format!("/api/v1/deals/{id}/registration"), Some(&m.official), registration).await.assert_status(200);
    id
}

/// A registered deal (as [`registered_deal`]) paid `paid` fen in the claim year.
pub(crate) async fn paid_deal(
    app: &TestApp,
    m: &Market,
    buyer: &TestOrg,
    total: i64,
    non_technical: i64,
    paid: i64,
    related: bool,
) -> String {
    let id = registered_deal(app, m, buyer, total, non_technical, related).await;
    if paid > 0 {
        pay(app, m, buyer, &id, paid, &day_in(year())).await;
    }
    id
}

pub(crate) fn claim_body(program: &str, role: &str) -> Value {
    json!({"program_id": program, "year": year(), "role": role})
}

async fn preview(app: &TestApp, org: &TestOrg, program: &str, role: &str) -> TestResponse {
    app.post("/api/v1/subsidy/claims/preview", Some(&org.token), claim_body(program, role)).await
}

on_both_databases! {
    async fn nanjing_buyer_examples_end_to_end(app: TestApp) {
        let m = market(&app).await;
        // One deal: 800万 registered, 800万 paid → 40万.
        let one = app.register_org("enterprise").await;
        let deal = paid_deal(&app, &m, &one, 800 * WAN, 0, 800 * WAN, false).await;
        let response = preview(&app, &one, "nanjing-2021", "buyer").await;
        response.assert_status(200);
        assert_eq!(response.json["eligible"], true);
        assert_eq!(response.json["amount_fen"], 40 * WAN);
        let lines = response.json["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["base_fen"], 800 * WAN);
        // An annual rule gives one line for the year, naming its deals.
        assert_eq!(lines[0]["deal_id"], Value::Null);
        assert!(lines[0]["explanation"].as_str().unwrap().contains(&deal), "{}", lines[0]["explanation"]);

        // 3000万 with 1000万 non-technical, 1500万 paid → 75万; and 800万 → 40万: 115万, capped at 100万.
        // (A buyer negotiates a listing in one deal at a time: three listings.)
        let two = app.register_org("enterprise").await;
        paid_deal(&app, &m, &two, 3000 * WAN, 1000 * WAN, 1500 * WAN, false).await;
        paid_deal(&app, &market(&app).await, &two, 800 * WAN, 0, 800 * WAN, false).await;
        // A related-party deal is excluded with its reason.
        let related = paid_deal(&app, &market(&app).await, &two, 100 * WAN, 0, 100 * WAN, true).await;
        let response = preview(&app, &two, "nanjing-2021", "buyer").await;
        assert_eq!(response.json["amount_fen"], 100 * WAN, "{}", response.text);
        let ineligible = response.json["ineligible"].as_array().unwrap();
        assert_eq!(ineligible.len(), 1);
        assert_eq!(ineligible[0]["deal_id"], related.as_str());
        let codes: Vec<&str> = ineligible[0]["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
        assert!(codes.contains(&"related_party"), "{codes:?}");
    }
}

on_both_databases! {
    async fn sanming_seller_tiers_end_to_end(app: TestApp) {
        for (received_wan, award_fen) in [(8, 800 * 100), (50, 3_000 * 100), (500, 9_500 * 100), (5000, 50_000 * 100)] {
            let m = market(&app).await;
            let buyer = app.register_org("enterprise").await;
            paid_deal(&app, &m, &buyer, received_wan * WAN, 0, received_wan * WAN, false).await;
            let response = preview(&app, &m.seller, "sanming", "seller").await;
            response.assert_status(200);
            assert_eq!(response.json["amount_fen"], award_fen, "{received_wan}万: {}", response.text);
        }
    }
}

on_both_databases! {
    async fn a_claim_is_submitted_once_and_frozen(app: TestApp) {
        let m = market(&app).await;
        let buyer = app.register_org("enterprise").await;
        let deal = paid_deal(&app, &m, &buyer, 400 * WAN, 0, 200 * WAN, false).await;
        let body = claim_body("nanjing-2021", "buyer").to_string();
        let headers = [("Idempotency-Key", "claim-1")];
        let submitted = app.post_with("/api/v1/subsidy/claims", Some(&buyer.token), &headers, &body).await;
        submitted.assert_status(201);
        assert_eq!(submitted.json["status"], "submitted");
        assert_eq!(submitted.json["computed_amount_fen"], 10 * WAN);
        assert_eq!(submitted.json["calculation"]["amount_fen"], 10 * WAN);
        assert_eq!(submitted.json["policy_digest"].as_str().unwrap().len(), 64);
        let replay = app.post_with("/api/v1/subsidy/claims", Some(&buyer.token), &headers, &body).await;
        replay.assert_status(201);
        assert_eq!(replay.json["id"], submitted.json["id"]);
        app.post("/api/v1/subsidy/claims", Some(&buyer.token), claim_body("nanjing-2021", "buyer")).await.assert_problem(409, "already_claimed");

        // More is paid later: the preview sees it, the claim does not change.
        pay(&app, &m, &buyer, &deal, 200 * WAN, &day_in(year())).await;
        assert_eq!(preview(&app, &buyer, "nanjing-2021", "buyer").await.json["amount_fen"], 20 * WAN);
        let id = submitted.json["id"].as_str().unwrap();
        let stored = app.get(&format!("/api/v1/subsidy/claims/{id}"), Some(&buyer.token)).await;
        assert_eq!(stored.json["computed_amount_fen"], 10 * WAN);

        // Nothing eligible: 422; unknown program and bad year: 422 naming the fields.
        let nobody = app.register_org("enterprise").await;
        app.post("/api/v1/subsidy/claims", Some(&nobody.token), claim_body("nanjing-2021", "buyer")).await.assert_problem(422, "not_eligible");
        let bad = app.post("/api/v1/subsidy/claims/preview", Some(&nobody.token), json!({"program_id": "atlantis", "year": 1999, "role": "buyer"})).await;
        bad.assert_problem(422, "validation_failed");
        assert_eq!(bad.error_fields(), ["program_id", "year"]);
        let (_, official) = app.staff(Role::Official).await;
        app.post("/api/v1/subsidy/claims/preview", Some(&official), claim_body("nanjing-2021", "buyer")).await.assert_problem(403, "forbidden");

        // Members see their own claims only; officials all.
        assert_eq!(app.get("/api/v1/subsidy/claims", Some(&buyer.token)).await.json["total"], 1);
        assert_eq!(app.get("/api/v1/subsidy/claims", Some(&nobody.token)).await.json["total"], 0);
        app.get(&format!("/api/v1/subsidy/claims/{id}"), Some(&nobody.token)).await.assert_problem(404, "not_found");
        let queue = app.get("/api/v1/subsidy/claims?status=submitted&program_id=nanjing-2021", Some(&official)).await;
        assert_eq!(queue.json["total"], 1);
    }
}

on_both_databases! {
    async fn two_levels_by_two_officials_never_ones_own(app: TestApp) {
        let m = market(&app).await;
        let buyer = app.register_org("enterprise").await;
        paid_deal(&app, &m, &buyer, 400 * WAN, 0, 400 * WAN, false).await;
        let claim = app.post("/api/v1/subsidy/claims", Some(&buyer.token), claim_body("nanjing-2021", "buyer")).await;
        claim.assert_status(201);
        let path = format!("/api/v1/subsidy/claims/{}/review", claim.json["id"].as_str().unwrap());
        let (_, first) = app.staff(Role::Official).await;
        let (_, second) = app.staff(Role::Official).await;
        let own = app.official_of(&buyer).await;
        let approve = json!({"decision": "approve"});

        app.post(&path, Some(&buyer.token), approve.clone()).await.assert_problem(403, "forbidden");
        app.post(&path, Some(&own), approve.clone()).await.assert_problem(403, "own_organization");
        let raised = app.post(&path, Some(&first), json!({"decision": "approve", "amount_fen": 20 * WAN + 1, "reason": "x"})).await;
        raised.assert_problem(422, "validation_failed");
        assert_eq!(raised.json["errors"][0]["code"], "exceeds_computed");
        let unexplained = app.post(&path, Some(&first), json!({"decision": "approve", "amount_fen": 15 * WAN})).await;
        assert_eq!(unexplained.error_fields(), ["reason"]);

        let level_one = app.post(&path, Some(&first), json!({"decision": "approve", "amount_fen": 15 * WAN, "reason": "部分付款凭证不清晰"})).await;
        level_one.assert_status(200);
        assert_eq!(level_one.json["status"], "first_approved");
        assert_eq!(level_one.json["approved_amount_fen"], 15 * WAN);
        app.post(&path, Some(&first), approve.clone()).await.assert_problem(403, "same_reviewer");
        let over = app.post(&path, Some(&second), json!({"decision": "approve", "amount_fen": 16 * WAN, "reason": "x"})).await;
        assert_eq!(over.json["errors"][0]["code"], "exceeds_computed");
        let level_two = app.post(&path, Some(&second), approve.clone()).await;
        level_two.assert_status(200);
        assert_eq!(level_two.json["status"], "approved");
        assert_eq!(level_two.json["approved_amount_fen"], 15 * WAN);
        let levels: Vec<i64> = level_two.json["reviews"].as_array().unwrap().iter().map(|r| r["level"].as_i64().unwrap()).collect();
        assert_eq!(levels, [1, 2]);
        let (_, third) = app.staff(Role::Official).await;
        app.post(&path, Some(&third), approve.clone()).await.assert_problem(409, "invalid_state");

        // A rejection needs a reason and ends the claim.
        let other = app.register_org("enterprise").await;
        paid_deal(&app, &m, &other, 100 * WAN, 0, 100 * WAN, false).await;
        let claim = app.post("/api/v1/subsidy/claims", Some(&other.token), claim_body("nanjing-2021", "buyer")).await;
        let path = format!("/api/v1/subsidy/claims/{}/review", claim.json["id"].as_str().unwrap());
        app.post(&path, Some(&first), json!({"decision": "reject"})).await.assert_problem(422, "validation_failed");
        let rejected = app.post(&path, Some(&first), json!({"decision": "reject", "reason": "合同未完成"})).await;
        assert_eq!(rejected.json["status"], "rejected");
        app.post(&path, Some(&second), approve).await.assert_problem(409, "invalid_state");

        // Each decision is audited and sent to the mailer.
        let mut conn = app.database.connect();
        let events = techtrade_db::outbox::events_after(&mut conn, 0, 10_000).unwrap();
        let reviewed: Vec<Value> = events.iter().filter(|e| e.event_type == "claim.reviewed").map(|e| serde_json::from_str(&e.payload).unwrap()).collect();
        assert_eq!(reviewed.len(), 3);
        assert_eq!(reviewed[0]["level"], 1);
        assert_eq!(reviewed[0]["reason"], "部分付款凭证不清晰");
        assert_eq!(reviewed[2]["decision"], "reject");
    }
}

/// A program like Nanjing's with a budget of 100万 yuan and no caps: the
/// pro-rating example of POLICY.md.
pub(crate) fn small_budget_program() -> Program {
    Program::from_toml(
        r#"
        id = "budget-test"
        name = "预算测试"
        budget_fen = 100000000
        proration = "proportional"
        [[rules]]
        id = "buyer"
        role = "buyer"
        aggregate = "annual"
        rate = "5%"
        "#,
    )
    .unwrap()
}

pub(crate) async fn approved_claim(
    app: &TestApp,
    m: &Market,
    paid: i64,
    first: &str,
    second: &str,
) -> (TestOrg, String) {
    let buyer = app.register_org("enterprise").await;
    paid_deal(app, m, &buyer, paid, 0, paid, false).await;
    let claim = app.post("/api/v1/subsidy/claims", Some(&buyer.token), claim_body("budget-test", "buyer")).await;
    claim.assert_status(201);
    let id = claim.json["id"].as_str().unwrap().to_string();
    for official in [first, second] {
        app.post(&format!("/api/v1/subsidy/claims/{id}/review"), Some(official), json!({"decision": "approve"}))
            .await
            .assert_status(200);
    }
    (buyer, id)
}

on_both_databases! {
    async fn a_round_pays_exactly_the_budget_and_is_publicised(app: TestApp) {
        let app = app.with_programs(vec![small_budget_program()]);
        let m = market(&app).await;
        let (_, first) = app.staff(Role::Official).await;
        let (_, second) = app.staff(Role::Official).await;
        // 1200万, 1000万 and 800万 paid at 5%: 60万, 50万, 40万 approved, 150万 in all.
        let mut claims = Vec::new();
        for paid in [1200 * WAN, 1000 * WAN, 800 * WAN] {
            claims.push(approved_claim(&app, &m, paid, &first, &second).await);
        }
        // A claim still at level 1 is not in the round.
        let late = app.register_org("enterprise").await;
        paid_deal(&app, &m, &late, 100 * WAN, 0, 100 * WAN, false).await;
        let pending = app.post("/api/v1/subsidy/claims", Some(&late.token), claim_body("budget-test", "buyer")).await;
        pending.assert_status(201);

        // (Changed rule: a claim still under review stops the close, unless the
        // official leaves it out; the round used to close and strand it.)
        let close = json!({"program_id": "budget-test", "year": year(), "pending": "exclude"});
        app.post("/api/v1/subsidy/rounds", Some(&claims[0].0.token), close.clone()).await.assert_problem(403, "forbidden");
        let (a, b) = tokio::join!(
            app.post("/api/v1/subsidy/rounds", Some(&first), close.clone()),
            app.post("/api/v1/subsidy/rounds", Some(&second), close.clone()),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "{} / {}", a.text, b.text);
        let round = if a.status == 201 { a } else { b };
        assert_eq!(round.json["total_approved_fen"], 150 * WAN);
        assert_eq!(round.json["total_final_fen"], 100 * WAN);
        assert_eq!(round.json["prorated"], true);
        let finals: Vec<i64> = round.json["items"].as_array().unwrap().iter().map(|i| i["final_amount_fen"].as_i64().unwrap()).collect();
        assert_eq!(finals, [40_000_000, 33_333_333, 26_666_667]);
        app.post("/api/v1/subsidy/rounds", Some(&first), close).await.assert_problem(409, "round_closed");

        // The public notice needs no login; the CSV is for officials.
        let id = round.json["id"].as_str().unwrap();
        let notice = app.get(&format!("/api/v1/subsidy/rounds/{id}"), None).await;
        notice.assert_status(200);
        assert_eq!(notice.json["items"].as_array().unwrap().len(), 3);
        assert!(notice.json["items"][0]["organization_name"].as_str().unwrap().starts_with("测试单位"));
        assert!(notice.json["notice_until"].as_str().unwrap() > notice.json["closed_at"].as_str().unwrap().get(..10).unwrap());
        app.get(&format!("/api/v1/subsidy/rounds/{id}/export.csv"), Some(&claims[0].0.token)).await.assert_problem(403, "forbidden");
        let csv = app.get(&format!("/api/v1/subsidy/rounds/{id}/export.csv"), Some(&first)).await;
        csv.assert_status(200);
        assert!(csv.header("content-type").starts_with("text/csv"));
        let lines: Vec<&str> = csv.text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("claim_id,organization,credit_code,role"));
        assert!(lines[1].contains(",40000000,400000.00,"), "{}", lines[1]);

        // Claims of the round are publicised; the one left at level 1 is out of it, for good.
        let claim = app.get(&format!("/api/v1/subsidy/claims/{}", claims[1].1), Some(&claims[1].0.token)).await;
        assert_eq!(claim.json["status"], "publicized");
        assert_eq!(claim.json["final_amount_fen"], 33_333_333);
        let left_out = app.get(&format!("/api/v1/subsidy/claims/{}", pending.json["id"].as_str().unwrap()), Some(&late.token)).await;
        assert_eq!(left_out.json["status"], "not_in_round");
        assert_eq!(left_out.json["final_amount_fen"], Value::Null);
        // (Changed: a review in a closed year is refused as round_closed, not invalid_state.)
        let late_path = format!("/api/v1/subsidy/claims/{}/review", pending.json["id"].as_str().unwrap());
        app.post(&late_path, Some(&first), json!({"decision": "approve"})).await.assert_problem(409, "round_closed");

        // Disbursements are recorded once.
        let disbursement = lines[1].split(',').nth(8).unwrap().to_string();
        let paid = json!({"paid_on": techtrade_db::today().to_string(), "reference": "国库支付-0001"});
        let recorded = app.post(&format!("/api/v1/subsidy/disbursements/{disbursement}/paid"), Some(&first), paid.clone()).await;
        recorded.assert_status(200);
        assert_eq!(recorded.json["status"], "paid");
        assert_eq!(recorded.json["amount_fen"], 40_000_000);
        app.post(&format!("/api/v1/subsidy/disbursements/{disbursement}/paid"), Some(&first), paid).await.assert_problem(409, "invalid_state");
        let csv = app.get(&format!("/api/v1/subsidy/rounds/{id}/export.csv"), Some(&first)).await;
        assert!(csv.text.contains("国库支付-0001"));
    }
}

on_both_databases! {
    async fn officials_simulate_another_rate_without_changing_anything(app: TestApp) {
        let m = market(&app).await;
        for paid in [400 * WAN, 2000 * WAN] {
            let buyer = app.register_org("enterprise").await;
            paid_deal(&app, &m, &buyer, paid, 0, paid, false).await;
        }
        let (_, official) = app.staff(Role::Official).await;
        let current = app.post("/api/v1/subsidy/simulate", Some(&official), json!({"program_id": "nanjing-2021", "year": year()})).await;
        current.assert_status(200);
        let buyer = &current.json["roles"][0];
        assert_eq!(buyer["role"], "buyer");
        assert_eq!(buyer["claimants"], 2);
        // 5% of 400万 and of 2000万: 20万 + 100万 (the cap).
        assert_eq!(buyer["current_total_fen"], 120 * WAN);
        assert_eq!(buyer["simulated_total_fen"], 120 * WAN);

        let eight = json!({"program_id": "nanjing-2021", "year": year(), "policy": {"rules": [{"id": "buyer-local", "rate": "8%"}], "budget_fen": 100_000_000}});
        let simulated = app.post("/api/v1/subsidy/simulate", Some(&official), eight).await;
        simulated.assert_status(200);
        // 8%: 32万 + 100万 (still capped) = 132万 against a budget of 100万.
        assert_eq!(simulated.json["roles"][0]["simulated_total_fen"], 132 * WAN);
        assert_eq!(simulated.json["budget"]["over_budget_fen"], 32 * WAN);
        assert_eq!(simulated.json["budget"]["payout_percent"], "75.75");

        let bad = app.post("/api/v1/subsidy/simulate", Some(&official),
            json!({"program_id": "nanjing-2021", "year": year(), "policy": {"rules": [{"id": "buyer-local", "rate": "150%"}]}})).await;
        bad.assert_problem(422, "validation_failed");
        assert!(bad.error_fields()[0].starts_with("policy.rules"), "{:?}", bad.error_fields());
        let member = app.register_org("enterprise").await;
        app.post("/api/v1/subsidy/simulate", Some(&member.token), json!({"program_id": "nanjing-2021", "year": year()})).await.assert_problem(403, "forbidden");
        // Nothing was stored.
        assert_eq!(app.get("/api/v1/subsidy/claims", Some(&official)).await.json["total"], 0);
    }
}

on_both_databases! {
    async fn qinghai_counts_only_completed_deals(app: TestApp) {
        let m = market(&app).await;
        let buyer = app.register_org("enterprise").await;
        // Registered, half paid: not 交易完成 yet.
        let deal = paid_deal(&app, &m, &buyer, 200 * WAN, 0, 100 * WAN, false).await;
        let response = preview(&app, &buyer, "qinghai", "buyer").await;
        response.assert_status(200);
        assert_eq!(response.json["eligible"], false);
        let reasons = &response.json["ineligible"][0]["reasons"];
        assert_eq!(reasons[0]["code"], "not_completed", "{reasons}");

        pay(&app, &m, &buyer, &deal, 100 * WAN, &day_in(year())).await;
        let response = preview(&app, &buyer, "qinghai", "buyer").await;
        assert_eq!(response.json["eligible"], true, "{}", response.text);
        // The placeholder rate of 1% on the 200万 paid in the year.
        assert_eq!(response.json["amount_fen"], 2 * WAN);
    }
}

on_both_databases! {
    /// A registration of 100万 paid 75万 in one year and 75万 in the next:
    /// the paid technology amount is 75万, then 25万, never 150万 on 100万
    /// registered. Before, each year's payments were capped on their own,
    /// so both years counted 75万 (and Nanjing paid 3.75万 twice).
    async fn a_registered_amount_paid_over_two_years_is_counted_once(app: TestApp) {
        let m = market(&app).await;
        let buyer = app.register_org("enterprise").await;
        let (first, second) = (year() - 1, year());
        let deal = registered_deal(&app, &m, &buyer, 150 * WAN, 50 * WAN, false).await;
        pay(&app, &m, &buyer, &deal, 75 * WAN, &day_in(first)).await;
        pay(&app, &m, &buyer, &deal, 75 * WAN, &day_in(second)).await;

        let preview_for = |year: i32| {
            app.post("/api/v1/subsidy/claims/preview", Some(&buyer.token), json!({"program_id": "nanjing-2021", "year": year, "role": "buyer"}))
        };
        let earlier = preview_for(first).await;
        earlier.assert_status(200);
        assert_eq!(earlier.json["lines"][0]["base_fen"], 75 * WAN, "{}", earlier.text);
        assert_eq!(earlier.json["amount_fen"], 75 * WAN / 20);
        let later = preview_for(second).await;
        later.assert_status(200);
        assert_eq!(later.json["lines"][0]["base_fen"], 25 * WAN, "{}", later.text);
        assert_eq!(later.json["amount_fen"], 25 * WAN / 20);
        let explanation = later.json["lines"][0]["explanation"].as_str().unwrap();
        assert!(
            explanation.contains(&format!("250,000.00 (1,000,000.00 through {second} less 750,000.00 counted in earlier years)")),
            "{explanation}"
        );
    }
}

on_both_databases! {
    /// A claim for a year may be submitted once the year has ended (1
    /// January of the next year, Beijing date) or from the day the program
    /// sets; a preview stays open as a what-if. Before, a claim for the
    /// current year was accepted at once, and, one per organisation,
    /// program, year and role, it shut out the rest of the year's deals.
    async fn claims_for_a_year_open_once_it_has_ended(app: TestApp) {
        let m = market(&app).await;
        let buyer = app.register_org("enterprise").await;
        let this_year = techtrade_db::today().year();
        let deal = registered_deal(&app, &m, &buyer, 400 * WAN, 0, false).await;
        pay(&app, &m, &buyer, &deal, 100 * WAN, &day_in(year())).await;
        pay(&app, &m, &buyer, &deal, 200 * WAN, &techtrade_db::today().to_string()).await;
        let body = |year: i32| json!({"program_id": "nanjing-2021", "year": year, "role": "buyer"});

        let so_far = app.post("/api/v1/subsidy/claims/preview", Some(&buyer.token), body(this_year)).await;
        so_far.assert_status(200);
        assert_eq!(so_far.json["amount_fen"], 10 * WAN, "5% of the year so far: {}", so_far.text);
        let early = app.post("/api/v1/subsidy/claims", Some(&buyer.token), body(this_year)).await;
        early.assert_problem(422, "validation_failed");
        assert_eq!(early.error_fields(), ["year"]);
        assert_eq!(early.json["errors"][0]["code"], "claims_not_open");
        let opens = format!("{}-01-01", this_year + 1);
        assert!(early.json["errors"][0]["message"].as_str().unwrap().contains(&opens), "{}", early.text);
        let (_, official) = app.staff(Role::Official).await;
        let round = app.post("/api/v1/subsidy/rounds", Some(&official), json!({"program_id": "nanjing-2021", "year": this_year})).await;
        round.assert_problem(422, "validation_failed");
        assert_eq!(round.json["errors"][0]["code"], "claims_not_open");

        let last = app.post("/api/v1/subsidy/claims", Some(&buyer.token), body(year())).await;
        last.assert_status(201);
        assert_eq!(last.json["computed_amount_fen"], 5 * WAN);
        let programs = app.get("/api/v1/subsidy/programs", None).await;
        assert_eq!(programs.json["items"][0]["claims_open_on"], "01-01");
    }
}

on_both_databases! {
    /// A program may open a year's claims later than 1 January
    /// (`claims_open_on`); until then a claim for last year is refused too.
    async fn a_program_sets_the_day_its_claims_open(app: TestApp) {
        let late = Program::from_toml(
            r#"
            id = "late"
            name = "晚开放计划"
            claims_open_on = "12-31"
            [[rules]]
            id = "buyer"
            role = "buyer"
            rate = "5%"
            "#,
        )
        .unwrap();
        let app = app.with_programs(vec![late]);
        let m = market(&app).await;
        let buyer = app.register_org("enterprise").await;
        paid_deal(&app, &m, &buyer, 100 * WAN, 0, 100 * WAN, false).await;
        let claim = app.post("/api/v1/subsidy/claims", Some(&buyer.token), json!({"program_id": "late", "year": year(), "role": "buyer"})).await;
        let today = techtrade_db::today();
        if (today.month(), today.day()) == (12, 31) {
            claim.assert_status(201);
        } else {
            claim.assert_problem(422, "validation_failed");
            assert_eq!(claim.json["errors"][0]["code"], "claims_not_open");
            assert!(claim.text.contains(&format!("{}-12-31", year() + 1)), "{}", claim.text);
        }
        assert_eq!(app.get("/api/v1/subsidy/programs", None).await.json["items"][0]["claims_open_on"], "12-31");
    }
}

/// The events of `event_type` in the outbox, as JSON.
fn events(app: &TestApp, event_type: &str) -> Vec<Value> {
    let mut conn = app.database.connect();
    techtrade_db::outbox::events_after(&mut conn, 0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type)
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect()
}

on_both_databases! {
    /// Closing a round with claims still under review used to take the
    /// approved ones only and leave the others `submitted` or
    /// `first_approved` for ever (never reviewable again, never claimable
    /// again). Now the close answers 409 `claims_pending` naming them, or,
    /// with `"pending": "exclude"`, closes them as `not_in_round` with a
    /// reason, an audit entry and an event (their claimants' email) each.
    async fn claims_under_review_stop_the_close_unless_left_out(app: TestApp) {
        let app = app.with_programs(vec![small_budget_program()]);
        let m = market(&app).await;
        let (_, first) = app.staff(Role::Official).await;
        let (_, second) = app.staff(Role::Official).await;
        let (approved_org, approved) = approved_claim(&app, &m, 200 * WAN, &first, &second).await;
        let mut waiting = Vec::new();
        for level_one in [false, true] {
            let org = app.register_org("enterprise").await;
            paid_deal(&app, &m, &org, 100 * WAN, 0, 100 * WAN, false).await;
            let claim = app.post("/api/v1/subsidy/claims", Some(&org.token), claim_body("budget-test", "buyer")).await;
            let id = claim.json["id"].as_str().unwrap().to_string();
            if level_one {
                app.post(&format!("/api/v1/subsidy/claims/{id}/review"), Some(&first), json!({"decision": "approve"})).await.assert_status(200);
            }
            waiting.push((org, id));
        }

        let rounds = "/api/v1/subsidy/rounds";
        let close = json!({"program_id": "budget-test", "year": year()});
        let refused = app.post(rounds, Some(&first), close.clone()).await;
        refused.assert_problem(409, "claims_pending");
        assert_eq!(
            refused.json["errors"],
            json!([
                {"field": "pending", "code": "submitted", "message": waiting[0].1},
                {"field": "pending", "code": "first_approved", "message": waiting[1].1},
            ]),
            "{}", refused.text
        );
        // Nothing was closed: the approved claim still waits for the round.
        let still = app.get(&format!("/api/v1/subsidy/claims/{approved}"), Some(&approved_org.token)).await;
        assert_eq!(still.json["status"], "approved");

        // A reason goes with "exclude" and is bounded.
        let unused = app.post(rounds, Some(&first), json!({"program_id": "budget-test", "year": year(), "reason": "x"})).await;
        unused.assert_problem(422, "validation_failed");
        assert_eq!(unused.error_fields(), ["reason"]);
        let bad = app.post(rounds, Some(&first), json!({"program_id": "budget-test", "year": year(), "pending": "ignore"})).await;
        assert!(bad.status.is_client_error(), "{}", bad.text);

        let reason = "补正材料逾期未提交";
        let closed = app.post(rounds, Some(&first), json!({"program_id": "budget-test", "year": year(), "pending": "exclude", "reason": reason})).await;
        closed.assert_status(201);
        assert_eq!(closed.json["items"].as_array().unwrap().len(), 1, "only the approved claim is on the notice");
        for (org, id) in &waiting {
            let claim = app.get(&format!("/api/v1/subsidy/claims/{id}"), Some(&org.token)).await;
            assert_eq!((claim.json["status"].as_str(), claim.json["status_reason"].as_str()), (Some("not_in_round"), Some(reason)));
            app.post(&format!("/api/v1/subsidy/claims/{id}/review"), Some(&second), json!({"decision": "approve"})).await.assert_problem(409, "round_closed");
            app.post("/api/v1/subsidy/claims", Some(&org.token), claim_body("budget-test", "buyer")).await.assert_problem(409, "round_closed");
        }
        let listed = app.get("/api/v1/subsidy/claims?status=not_in_round", Some(&first)).await;
        assert_eq!(listed.json["total"], 2);

        // One event (the claimant's email) and one audit entry per claim left out.
        let left_out = events(&app, "claim.not_in_round");
        assert_eq!(left_out.len(), 2);
        assert_eq!((left_out[0]["claim_id"].as_str(), left_out[0]["awaiting_level"].as_i64()), (Some(waiting[0].1.as_str()), Some(1)));
        assert_eq!((left_out[1]["from"].as_str(), left_out[1]["awaiting_level"].as_i64()), (Some("first_approved"), Some(2)));
        assert_eq!(left_out[1]["reason"], reason);
        assert_eq!(left_out[1]["round_id"], closed.json["id"]);
        let round = &events(&app, "round.publicized")[0];
        assert_eq!(round["not_in_round_claim_ids"], json!([waiting[0].1, waiting[1].1]));
        let mut conn = app.database.connect();
        for (_, id) in &waiting {
            let entries = techtrade_db::audit::history(&mut conn, "claim", id).unwrap();
            let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
            assert!(actions.contains(&"claim.leave_out"), "{actions:?}");
        }
    }
}

/// Programs like [`small_budget_program`] under ids of their own, one per
/// round a test closes.
fn programs_named(prefix: &str, count: usize) -> Vec<Program> {
    (0..count)
        .map(|i| {
            Program::from_toml(&format!(
                "id = \"{prefix}-{i}\"\nname = \"并发测试{i}\"\n[[rules]]\nid = \"buyer\"\nrole = \"buyer\"\nrate = \"5%\"\n"
            ))
            .unwrap()
        })
        .collect()
}

on_both_databases! {
    /// A level-2 approval racing the round's close, and a submission racing
    /// it: on PostgreSQL either could commit into the year the close had
    /// just closed (the review checked for a round before the close
    /// committed one), leaving an approved or submitted claim in a closed
    /// year, or failing one side with a stray invalid_state. Both paths now
    /// take the program-year lock: the close sees the claim as it finally
    /// is, or the other request finds the round closed (409 round_closed).
    async fn reviews_and_submissions_never_interleave_with_a_close(app: TestApp) {
        const RACES: usize = 6;
        let mut programs = programs_named("review-race", RACES);
        programs.extend(programs_named("submit-race", RACES));
        let app = app.with_programs(programs);
        let m = market(&app).await;
        let (_, first) = app.staff(Role::Official).await;
        let (_, second) = app.staff(Role::Official).await;
        let buyer = app.register_org("enterprise").await;
        paid_deal(&app, &m, &buyer, 100 * WAN, 0, 100 * WAN, false).await;
        let claim_path = |id: &str| format!("/api/v1/subsidy/claims/{id}");

        for i in 0..RACES {
            let program = format!("review-race-{i}");
            let claim = app.post("/api/v1/subsidy/claims", Some(&buyer.token), claim_body(&program, "buyer")).await;
            claim.assert_status(201);
            let id = claim.json["id"].as_str().unwrap().to_string();
            app.post(&format!("{}/review", claim_path(&id)), Some(&first), json!({"decision": "approve"})).await.assert_status(200);

            let close = json!({"program_id": program, "year": year(), "pending": "exclude"});
            let review_path = format!("{}/review", claim_path(&id));
            let (review, closed) = tokio::join!(
                app.post(&review_path, Some(&second), json!({"decision": "approve"})),
                app.post("/api/v1/subsidy/rounds", Some(&first), close),
            );
            closed.assert_status(201);
            let status = app.get(&claim_path(&id), Some(&buyer.token)).await.json["status"].clone();
            match review.status.as_u16() {
                200 => assert_eq!(status, "publicized", "approved before the close: in the round"),
                409 => {
                    review.assert_problem(409, "round_closed");
                    assert_eq!(status, "not_in_round", "the close came first: left out");
                }
                other => panic!("review answered {other}: {}", review.text),
            }
        }

        for i in 0..RACES {
            let program = format!("submit-race-{i}");
            let close = json!({"program_id": program, "year": year(), "pending": "exclude"});
            let (submitted, closed) = tokio::join!(
                app.post("/api/v1/subsidy/claims", Some(&buyer.token), claim_body(&program, "buyer")),
                app.post("/api/v1/subsidy/rounds", Some(&first), close),
            );
            closed.assert_status(201);
            match submitted.status.as_u16() {
                201 => {
                    let id = submitted.json["id"].as_str().unwrap();
                    let status = app.get(&claim_path(id), Some(&buyer.token)).await.json["status"].clone();
                    assert_eq!(status, "not_in_round", "submitted before the close: left out, not stranded");
                }
                409 => {
                    submitted.assert_problem(409, "round_closed");
                }
                other => panic!("submission answered {other}: {}", submitted.text),
            }
        }
        // No claim of a closed year is still waiting for a review.
        for status in ["submitted", "first_approved", "approved"] {
            let stranded = app.get(&format!("/api/v1/subsidy/claims?status={status}"), Some(&first)).await;
            assert_eq!(stranded.json["total"], 0, "{status}: {}", stranded.text);
        }
    }
}

on_both_databases! {
    /// The public could read a round's notice only by knowing its id, and
    /// officials could see its disbursements only in the CSV. Now
    /// `GET /subsidy/rounds` lists closed rounds for anyone, newest first
    /// (by program and year, a page at a time), and
    /// `GET /subsidy/rounds/{id}/disbursements` shows officials which
    /// awards are paid and which are still to pay.
    async fn closed_rounds_are_listed_and_their_disbursements_shown(app: TestApp) {
        let mut programs = vec![small_budget_program()];
        programs.extend(programs_named("listed", 1));
        let app = app.with_programs(programs);
        let m = market(&app).await;
        let (_, first) = app.staff(Role::Official).await;
        let (_, second) = app.staff(Role::Official).await;
        let mut claims = Vec::new();
        for paid in [400 * WAN, 200 * WAN] {
            claims.push(approved_claim(&app, &m, paid, &first, &second).await);
        }
        let close = |program: &str, year: i32| json!({"program_id": program, "year": year});
        let mut closed = Vec::new();
        for (program, year) in [("listed-0", year() - 2), ("budget-test", year()), ("listed-0", year() - 1)] {
            let round = app.post("/api/v1/subsidy/rounds", Some(&first), close(program, year)).await;
            round.assert_status(201);
            closed.push(round.json["id"].as_str().unwrap().to_string());
        }

        let listed = app.get("/api/v1/subsidy/rounds", None).await;
        listed.assert_status(200);
        assert_eq!(listed.json["total"], 3);
        let ids: Vec<&str> = listed.json["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [closed[2].as_str(), closed[1].as_str(), closed[0].as_str()], "newest first");
        let budget = &listed.json["items"][1];
        assert_eq!((budget["program_name"].as_str(), budget["year"].as_i64()), (Some("预算测试"), Some(i64::from(year()))));
        assert_eq!(budget["total_final_fen"], 30 * WAN);
        assert_eq!(budget["prorated"], false);
        assert!(budget.get("items").is_none(), "the list is a summary; the notice has the lines");

        let of_program = app.get("/api/v1/subsidy/rounds?program_id=listed-0", None).await;
        assert_eq!(of_program.json["total"], 2);
        let of_year = app.get(&format!("/api/v1/subsidy/rounds?program_id=listed-0&year={}", year() - 2), None).await;
        assert_eq!(of_year.json["items"][0]["id"], closed[0].as_str());
        assert_eq!(of_year.json["total"], 1);
        let paged = app.get("/api/v1/subsidy/rounds?per_page=2&page=2", None).await;
        assert_eq!((paged.json["total"].as_i64(), paged.json["items"].as_array().unwrap().len()), (Some(3), 1));
        assert_eq!(paged.json["items"][0]["id"], closed[0].as_str());
        app.get("/api/v1/subsidy/rounds?per_page=0", None).await.assert_problem(400, "invalid_query");
        app.get("/api/v1/subsidy/rounds?year=last", None).await.assert_problem(400, "invalid_query");

        let path = format!("/api/v1/subsidy/rounds/{}/disbursements", closed[1]);
        app.get(&path, None).await.assert_problem(401, "unauthenticated");
        app.get(&path, Some(&claims[0].0.token)).await.assert_problem(403, "forbidden");
        app.get("/api/v1/subsidy/rounds/no-such-round/disbursements", Some(&first)).await.assert_problem(404, "not_found");
        let all = app.get(&path, Some(&first)).await;
        all.assert_status(200);
        assert_eq!(all.json["total"], 2);
        let amounts: Vec<i64> = all.json["items"].as_array().unwrap().iter().map(|d| d["amount_fen"].as_i64().unwrap()).collect();
        assert_eq!(amounts, [20 * WAN, 10 * WAN]);
        assert_eq!(all.json["items"][0]["claim_id"], claims[0].1.as_str());
        assert_eq!(all.json["items"][0]["status"], "pending");

        let paid = json!({"paid_on": techtrade_db::today().to_string(), "reference": "国库支付-0002"});
        let disbursement = all.json["items"][0]["id"].as_str().unwrap();
        app.post(&format!("/api/v1/subsidy/disbursements/{disbursement}/paid"), Some(&second), paid).await.assert_status(200);
        let still_to_pay = app.get(&format!("{path}?status=pending"), Some(&first)).await;
        assert_eq!(still_to_pay.json["total"], 1);
        assert_eq!(still_to_pay.json["items"][0]["claim_id"], claims[1].1.as_str());
        let done = app.get(&format!("{path}?status=paid"), Some(&first)).await;
        assert_eq!((done.json["total"].as_i64(), done.json["items"][0]["reference"].as_str()), (Some(1), Some("国库支付-0002")));
        app.get(&format!("{path}?status=lost"), Some(&first)).await.assert_problem(400, "invalid_query");
    }
}

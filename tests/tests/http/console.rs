//! The officials' console through the router, on both databases: who may
//! enter, the review queue, contract registration and the two levels of
//! claim review — each decision the service's, each refusal on its field.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use techtrade_domain::Role;
use techtrade_tests::market::{Market, contracted_deal, deal, listing_body, market};
use techtrade_tests::web::{Browser, csrf_token, signed_in};
use techtrade_tests::{StaffAccount, TestApp, on_both_databases};

async fn console<'a>(app: &'a TestApp, staff: &StaffAccount) -> Browser<'a> {
    signed_in(app, &staff.email, &staff.password).await
}

/// A listing of `m`'s seller, submitted for review; its id.
async fn submitted_listing(app: &TestApp, m: &Market, title: &str) -> String {
    let mut body = listing_body(&["assignment"]);
    body["title"] = json!(title);
    let created = app.post("/api/v1/listings", Some(&m.seller.token), body).await;
    created.assert_status(201);
    let id = created.json["id"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/listings/{id}/submit"), Some(&m.seller.token), json!({})).await.assert_status(200);
    id
}

/// The part of the review queue's page about item `id`: up to the next item or the list's end.
fn queue_item<'a>(page: &'a str, id: &str) -> &'a str {
    let item = &page[page.find(&format!("id=\"review-{id}\"")).unwrap()..];
    let end = ["class=\"review-item\"", "</ol>"].iter().filter_map(|marker| item.find(marker)).min().unwrap();
    &item[..end]
}

on_both_databases! {
    async fn the_console_is_for_officials_and_counts_its_queues(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        submitted_listing(&app, &m, "待审核的盐湖提锂吸附剂").await;
        let visitor = Browser::new(&app).get("/console").await;
        visitor.assert_status(303);
        assert_eq!(visitor.header("location"), "/login?next=%2Fconsole");
        let mut member = signed_in(&app, &m.seller.email, &m.seller.password).await;
        member.get("/console").await.assert_status(403);
        member.get("/console/reviews").await.assert_status(403);
        assert!(!member.get("/workspace").await.text.contains("href=\"/console\""));

        let official = app.staff_account(Role::Official, None).await;
        let mut browser = console(&app, &official).await;
        let page = browser.get("/console").await;
        page.assert_status(200);
        assert!(page.text.contains("href=\"/console\""), "the header leads officials to the console");
        // The market's own listing is pending too (market() publishes one; this one waits).
        assert!(page.text.contains("id=\"queue-listings\" data-count=\"1\""), "{}", page.text);
        assert!(page.text.contains("id=\"queue-registrations\" data-count=\"0\""));
        // Since yesterday: the market's listing and this one came in, the market's was decided.
        assert!(page.text.contains("id=\"queue-listings-moved\">近 24 小时: 新增 2 · 办结 1<"), "{}", page.text);
        let admin = app.staff_account(Role::Admin, None).await;
        console(&app, &admin).await.get("/console").await.assert_status(200);

        // The programs as loaded, each with the digest its claims carry.
        let programs = browser.get("/console/programs").await;
        programs.assert_status(200);
        let listed = app.get("/api/v1/subsidy/programs", None).await;
        for program in listed.json["items"].as_array().unwrap() {
            let digest = program["digest"].as_str().unwrap();
            assert_eq!(digest.len(), 64);
            assert!(programs.text.contains(&format!("id=\"program-{}\"", program["id"].as_str().unwrap())));
            assert!(programs.text.contains(digest), "{digest}");
        }
        member.get("/console/programs").await.assert_status(403);
    }
}

on_both_databases! {
    async fn an_official_publishes_one_listing_and_sends_another_back_with_a_reason(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let good = submitted_listing(&app, &m, "高纯碳酸锂制备工艺").await;
        let weak = submitted_listing(&app, &m, "一种电池").await;
        let official = app.staff_account(Role::Official, None).await;
        let mut browser = console(&app, &official).await;
        let queue = browser.get("/console/reviews").await;
        queue.assert_status(200);
        let (at_good, at_weak) = (queue.text.find(&format!("id=\"review-{good}\"")), queue.text.find(&format!("id=\"review-{weak}\"")));
        assert!(at_good.unwrap() < at_weak.unwrap(), "oldest first");

        // Sending back needs a reason: told on that item's field, typed text kept.
        let path = format!("/console/reviews/listing/{weak}");
        let bare = browser.submit("/console/reviews", &path, &[("decision", "reject"), ("reason", "  ")]).await;
        bare.assert_status(422);
        assert!(bare.text.contains(&format!("id=\"reason-{weak}-error\"")), "{}", bare.text);
        let sent = browser.submit("/console/reviews", &path, &[("decision", "reject"), ("reason", "摘要过短，请补充技术指标")]).await;
        sent.assert_status(303);
        assert_eq!(sent.header("location"), "/console/reviews?done=rejected");
        browser.submit("/console/reviews", &format!("/console/reviews/listing/{good}"), &[("decision", "approve")]).await.assert_status(303);

        // The owner reads the reason in its workspace; the other is public.
        let mut owner = signed_in(&app, &m.seller.email, &m.seller.password).await;
        let workspace = owner.get("/workspace/listings").await;
        assert!(workspace.text.contains("摘要过短，请补充技术指标"), "{}", workspace.text);
        Browser::new(&app).get(&format!("/listings/{good}")).await.assert_status(200);
        let after = browser.get("/console/reviews").await;
        assert!(!after.text.contains(&format!("id=\"review-{good}\"")) && !after.text.contains(&format!("id=\"review-{weak}\"")));

        // An edit of the published one comes back with what it changed, and
        // beside it the owner's other published items.
        let edit = json!({"title": "高纯碳酸锂制备工艺（第二版）", "price_fen": 120_000_000});
        app.request(axum::http::Method::PATCH, &format!("/api/v1/listings/{good}"), Some(&m.seller.token), Some(edit))
            .await
            .assert_status(200);
        let edited = browser.get("/console/reviews").await;
        let item = queue_item(&edited.text, &good);
        assert!(item.contains(&format!("id=\"changes-{good}\"")), "{item}");
        assert!(item.contains("<del>高纯碳酸锂制备工艺</del>") && item.contains("<ins>高纯碳酸锂制备工艺（第二版）</ins>"), "{item}");
        assert!(item.contains("<del>1,000,000.00 元</del>") && item.contains("<ins>1,200,000.00 元</ins>"), "{item}");
        assert!(!item.contains("<th scope=\"row\">摘要</th>"), "unchanged fields are not listed: {item}");
        assert!(item.contains(&format!("href=\"/listings/{}\"", m.listing_id)), "the owner's other published listing: {item}");

        // An official employed by the owner sees the item, not the buttons; the service refuses too.
        let third = submitted_listing(&app, &m, "锂云母提锂").await;
        let colleague = app.staff_account(Role::Official, Some(&m.seller.id)).await;
        let mut colleague = console(&app, &colleague).await;
        let queue = colleague.get("/console/reviews").await;
        let item = queue_item(&queue.text, &third);
        assert!(item.contains("own-organization") && !item.contains("name=\"decision\""), "{item}");
        let token = csrf_token(&queue.text).unwrap();
        colleague
            .post_raw(&format!("/console/reviews/listing/{third}"), &[("csrf", &token), ("decision", "approve")])
            .await
            .assert_status(403);
    }
}

on_both_databases! {
    async fn a_contract_is_registered_from_the_queue_and_the_buyer_sees_its_number(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        // Technology amount: 800,000 fen of a 1,000,000 total (market::sign).
        let id = contracted_deal(&app, &m, 1_000_000).await;
        let official = app.staff_account(Role::Official, None).await;
        let mut browser = console(&app, &official).await;
        let queue = browser.get("/console/registrations").await;
        queue.assert_status(200);
        assert!(queue.text.contains(&format!("id=\"deal-{id}\"")));
        assert!(queue.text.contains("value=\"8000.00\"") || queue.text.contains("value=\"8000\""), "prefilled: {}", queue.text);

        // More than the contract's technology amount is refused on the field.
        let path = format!("/console/registrations/{id}");
        let over = browser.submit("/console/registrations", &path, &[("decision", "register"), ("amount_yuan", "8000.01")]).await;
        over.assert_status(422);
        assert!(over.text.contains(&format!("id=\"amount-{id}-error\"")), "{}", over.text);
        assert!(over.text.contains("value=\"8000.01\""), "what was typed stays");
        let done = browser.submit("/console/registrations", &path, &[("decision", "register"), ("amount_yuan", "7,500")]).await;
        done.assert_status(303);
        let shown = browser.get(done.header("location")).await;
        let stored = deal(&app, &m.buyer.token, &id).await;
        let number = stored["registration_number"].as_str().unwrap();
        assert_eq!(stored["registrations"][0]["registered_technology_amount_fen"], 750_000);
        assert!(shown.text.contains(&format!("id=\"issued-number\">{number}<")), "{}", shown.text);
        assert!(shown.text.contains("id=\"no-registrations\""));
        let mut buyer = signed_in(&app, &m.buyer.email, &m.buyer.password).await;
        assert!(buyer.get(&format!("/workspace/deals/{id}")).await.text.contains(number));
    }
}

on_both_databases! {
    async fn two_officials_take_a_claim_through_both_levels(app: TestApp) {
        use chrono::Datelike;
        let m = market(&app, &["assignment"]).await;
        // A deal signed, registered and paid last year: its seller (a
        // Qinghai university) claims Qinghai's subsidy for that year.
        let last_year = techtrade_db::today().year() - 1;
        let id = techtrade_tests::market::agreed_deal(&app, &m).await;
        let contract = json!({"category": "transfer", "total_amount_fen": 100_000_000, "non_technical_amount_fen": 0,
                              "signed_on": format!("{last_year}-03-01"), "related_party": false});
        app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract).await.assert_status(200);
        techtrade_tests::market::register(&app, &m, &id, 100_000_000).await.assert_status(200);
        let payment = json!({"method": "offline", "amount_fen": 100_000_000, "paid_on": format!("{last_year}-04-01"), "reference": "ICBC-0001"});
        let paid = app.post(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), payment).await;
        paid.assert_status(201);
        let payment_id = paid.json["id"].as_str().unwrap();
        app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), json!({})).await.assert_status(200);
        let claim = app
            .post("/api/v1/subsidy/claims", Some(&m.seller.token), json!({"program_id": "qinghai", "year": last_year, "role": "seller"}))
            .await;
        claim.assert_status(201);
        let claim_id = claim.json["id"].as_str().unwrap().to_string();
        let computed = claim.json["computed_amount_fen"].as_i64().unwrap();
        assert!(computed > 100);

        // Level 1: the frozen calculation, line by line; lowering needs a reason.
        let first = app.staff_account(Role::Official, None).await;
        let mut first = console(&app, &first).await;
        let queue = first.get("/console/claims?level=1").await;
        queue.assert_status(200);
        assert!(queue.text.contains(&format!("id=\"claim-{claim_id}\"")) && queue.text.contains(&format!("id=\"lines-{claim_id}\"")), "{}", queue.text);
        assert!(queue.text.contains("向卖方支付"), "the rule in words");
        let path = format!("/console/claims/{claim_id}");
        let lower = format!("{}", (computed - 100) / 100);
        let bare = first.submit("/console/claims?level=1", &path, &[("level", "1"), ("decision", "approve"), ("amount_yuan", &lower)]).await;
        bare.assert_status(422);
        assert!(bare.text.contains(&format!("id=\"reason-{claim_id}-error\"")) || bare.text.contains("role=\"alert\""), "{}", bare.text);
        let approved = first
            .submit("/console/claims?level=1", &path, &[("level", "1"), ("decision", "approve"), ("amount_yuan", &lower), ("reason", "发票金额核减")])
            .await;
        approved.assert_status(303);
        assert_eq!(approved.header("location"), "/console/claims?level=1&done=approved");

        // Level 2: not for the same official, who is told why.
        let second_queue = first.get("/console/claims?level=2").await;
        assert!(second_queue.text.contains(&format!("id=\"barred-{claim_id}\"")), "{}", second_queue.text);
        let token = csrf_token(&second_queue.text).unwrap();
        first.post_raw(&path, &[("csrf", &token), ("level", "2"), ("decision", "approve")]).await.assert_status(403);
        let second = app.staff_account(Role::Official, None).await;
        let mut second = console(&app, &second).await;
        second.submit("/console/claims?level=2", &path, &[("level", "2"), ("decision", "approve")]).await.assert_status(303);
        let stored = app.get(&format!("/api/v1/subsidy/claims/{claim_id}"), Some(&m.seller.token)).await;
        assert_eq!(stored.json["status"], "approved");
        assert_eq!(stored.json["approved_amount_fen"].as_i64().unwrap(), (computed - 100) / 100 * 100);
    }
}

/// A deal of `buyer` on `m`'s listing, signed, registered and paid in full
/// (`amount` fen) last year.
async fn paid_last_year(app: &TestApp, m: &Market, buyer: &techtrade_tests::TestOrg, amount: i64) {
    use chrono::Datelike;
    let last_year = techtrade_db::today().year() - 1;
    let id = techtrade_tests::market::open_deal_as(app, m, buyer, "nonexclusive_license").await;
    techtrade_tests::market::accept(app, m, &id).await.assert_status(200);
    let contract = json!({"category": "transfer", "total_amount_fen": amount, "non_technical_amount_fen": 0,
                          "signed_on": format!("{last_year}-03-01"), "related_party": false});
    app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract).await.assert_status(200);
    techtrade_tests::market::register(app, m, &id, amount).await.assert_status(200);
    let payment = json!({"method": "offline", "amount_fen": amount, "paid_on": format!("{last_year}-04-01"), "reference": "ICBC-0002"});
    let paid = app.post(&format!("/api/v1/deals/{id}/payments"), Some(&buyer.token), payment).await;
    paid.assert_status(201);
    let payment_id = paid.json["id"].as_str().unwrap();
    app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), json!({}))
        .await
        .assert_status(200);
}

on_both_databases! {
    async fn a_round_shows_its_pro_rating_before_the_close_and_its_disbursements_after(app: TestApp) {
        use chrono::Datelike;
        const WAN: i64 = 1_000_000;
        let program = techtrade_domain::policy::Program::from_toml(
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
        .unwrap();
        let app = app.with_programs(vec![program]);
        // A licence sold many times over (an assignment sells the rights once).
        let m = market(&app, &["nonexclusive_license"]).await;
        let year = techtrade_db::today().year() - 1;
        let claim = json!({"program_id": "budget-test", "year": year, "role": "buyer"});
        let (first, second) = (app.staff_account(Role::Official, None).await, app.staff_account(Role::Official, None).await);
        // 1200万, 1000万 and 800万 paid at 5%: 60万, 50万 and 40万 approved, 150万 against a budget of 100万.
        let mut credit_codes = Vec::new();
        for paid in [1200 * WAN, 1000 * WAN, 800 * WAN] {
            let buyer = app.register_org("enterprise").await;
            paid_last_year(&app, &m, &buyer, paid).await;
            let made = app.post("/api/v1/subsidy/claims", Some(&buyer.token), claim.clone()).await;
            made.assert_status(201);
            let id = made.json["id"].as_str().unwrap();
            for official in [&first, &second] {
                app.post(&format!("/api/v1/subsidy/claims/{id}/review"), Some(&official.token), json!({"decision": "approve"}))
                    .await
                    .assert_status(200);
            }
            credit_codes.push(buyer.credit_code);
        }
        let late = app.register_org("enterprise").await;
        paid_last_year(&app, &m, &late, 100 * WAN).await;
        app.post("/api/v1/subsidy/claims", Some(&late.token), claim.clone()).await.assert_status(201);

        // Before the close: the pro-rating it would apply, to the budget exactly.
        let mut browser = console(&app, &first).await;
        let path = format!("/console/rounds?program_id=budget-test&year={year}");
        let outlook = browser.get(&path).await;
        outlook.assert_status(200);
        assert!(outlook.text.contains("id=\"count-submitted\">1<") && outlook.text.contains("id=\"count-approved\">3<"), "{}", outlook.text);
        assert!(outlook.text.contains("id=\"would-prorate\""));
        assert!(outlook.text.contains("id=\"would-pay-total\">1,000,000.00 元<"), "{}", outlook.text);
        assert!(outlook.text.contains("id=\"pending-warning\""));

        // A doubled rate, simulated in the policy file's terms: the totals the API computes.
        let terms = "[[rules]]\nid = \"buyer\"\nrate = \"10%\"\n";
        let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("simulate", terms).finish();
        let simulated = browser.get(&format!("{path}&{query}")).await;
        simulated.assert_status(200);
        let api = app
            .post("/api/v1/subsidy/simulate", Some(&first.token), json!({"program_id": "budget-test", "year": year, "policy": {"rules": [{"id": "buyer", "rate": "10%"}]}}))
            .await;
        api.assert_status(200);
        let (now, then) = (api.json["budget"]["current_total_fen"].as_i64().unwrap(), api.json["budget"]["simulated_total_fen"].as_i64().unwrap());
        assert_eq!(then, 2 * now, "{}", api.text);
        let shown = |fen: i64| format!("{}.{:02} 元", techtrade_tests::web::thousands(fen / 100), fen % 100);
        assert!(simulated.text.contains(&format!("id=\"sim-current-total\">{}<", shown(now))), "{}", simulated.text);
        assert!(simulated.text.contains(&format!("id=\"sim-simulated-total\">{}<", shown(then))));
        assert!(simulated.text.contains(&format!("id=\"sim-payout\">{}%<", api.json["budget"]["payout_percent"].as_str().unwrap())));
        let bad = browser.get(&format!("{path}&simulate=rate%20%3D")).await;
        bad.assert_status(422);
        assert!(bad.text.contains("id=\"simulate-error\""), "{}", bad.text);

        // The claim still at level 1 stops the close until it is left out.
        let form = [("program_id", "budget-test"), ("year", &year.to_string())];
        let refused = browser.submit(&path, "/console/rounds", &form).await;
        refused.assert_status(409);
        assert!(refused.text.contains("id=\"round-error\""), "{}", refused.text);
        let year_text = year.to_string();
        let closed = browser
            .submit(&path, "/console/rounds", &[("program_id", "budget-test"), ("year", &year_text), ("exclude", "on"), ("reason", "材料逾期未补正")])
            .await;
        closed.assert_status(303);
        let after = browser.get(closed.header("location")).await;
        assert!(after.text.contains("id=\"round-closed\"") && after.text.contains("id=\"notice-link\""), "{}", after.text);
        assert!(after.text.contains("id=\"final-total\">1,000,000.00 元<"));
        assert!(after.text.contains("id=\"count-approved\">3<") && after.text.contains("id=\"count-left-out\">1<"), "{}", after.text);
        assert!(after.text.contains("id=\"approved-total\">150万元"), "{}", after.text);
        assert_eq!(after.text.matches("data-status=\"pending\"").count(), 3);

        // A disbursement is marked paid with its reference (required, on the field).
        let at = after.text.find("action=\"/console/disbursements/").unwrap() + "action=\"/console/disbursements/".len();
        let disbursement = after.text[at..at + after.text[at..].find('/').unwrap()].to_string();
        let paid_path = format!("/console/disbursements/{disbursement}/paid");
        let today = techtrade_db::today().to_string();
        let bare = browser.submit(&path, &paid_path, &[("program_id", "budget-test"), ("year", &year_text), ("paid_on", &today), ("reference", "")]).await;
        bare.assert_status(422);
        assert!(bare.text.contains(&format!("id=\"reference-{disbursement}-error\"")), "{}", bare.text);
        browser
            .submit(&path, &paid_path, &[("program_id", "budget-test"), ("year", &year_text), ("paid_on", &today), ("reference", "国库支付-0001")])
            .await
            .assert_status(303);
        let paid = browser.get(&path).await;
        assert_eq!(paid.text.matches("data-status=\"paid\"").count(), 1);

        // The CSV for the books; the public notice.
        let round_id = {
            let at = paid.text.find("href=\"/notices/").unwrap() + "href=\"/notices/".len();
            paid.text[at..at + paid.text[at..].find('"').unwrap()].to_string()
        };
        let csv = browser.get(&format!("/console/rounds/{round_id}/export.csv")).await;
        csv.assert_status(200);
        assert!(csv.header("content-type").starts_with("text/csv"));
        assert!(credit_codes.iter().all(|code| csv.text.contains(code.as_str())), "{}", csv.text);
        Browser::new(&app).get(&format!("/notices/{round_id}")).await.assert_status(200);
        let mut member = signed_in(&app, &m.seller.email, &m.seller.password).await;
        member.get(&path).await.assert_status(403);
        member.get(&format!("/console/rounds/{round_id}/export.csv")).await.assert_status(403);
    }
}

on_both_databases! {
    async fn an_administrator_creates_an_official_who_signs_in_and_disables_another(app: TestApp) {
        let admin = app.staff_account(Role::Admin, None).await;
        let official = app.staff_account(Role::Official, None).await;
        let mut browser = console(&app, &official).await;
        browser.get("/console/users").await.assert_status(403);
        assert!(!browser.get("/console").await.text.contains("href=\"/console/users\""), "officials see no staff tab");

        let mut browser = console(&app, &admin).await;
        let page = browser.get("/console/users").await;
        page.assert_status(200);
        assert!(page.text.contains(&format!("id=\"user-{}\"", official.user_id)));
        // A password that is too short is told on its field, the rest kept.
        let email = format!("new-official{}@kjt.qinghai.gov.cn", techtrade_tests::unique());
        let short = browser
            .submit("/console/users", "/console/users", &[("name", "新审核员"), ("email", &email), ("role", "official"), ("password", "short")])
            .await;
        short.assert_status(422);
        assert!(short.text.contains("id=\"password-error\"") && short.text.contains(&email), "{}", short.text);
        let made = browser
            .submit("/console/users", "/console/users", &[("name", "新审核员"), ("email", &email), ("role", "official"), ("password", "a long official password 1")])
            .await;
        made.assert_status(303);
        let mut newcomer = signed_in(&app, &email, "a long official password 1").await;
        // The administrator chose the password: the newcomer sets their own first.
        assert_eq!(newcomer.get("/console").await.header("location"), "/account");
        let fields = [("current", "a long official password 1"), ("new", "My own password 2"), ("new_again", "My own password 2")];
        newcomer.submit("/account", "/account/password", &fields).await.assert_status(303);
        newcomer.get("/console").await.assert_status(200);

        // Disabled: its sessions end at once and it cannot sign in again.
        let created = browser.get("/console/users").await;
        let at = created.text.find(&email).unwrap();
        let row_start = created.text[..at].rfind("id=\"user-").unwrap() + "id=\"user-".len();
        let id = created.text[row_start..row_start + created.text[row_start..].find('"').unwrap()].to_string();
        browser.submit("/console/users", &format!("/console/users/{id}/disable"), &[]).await.assert_status(303);
        assert_eq!(newcomer.get("/console").await.status.as_u16(), 303, "signed out");
        let again = Browser::new(&app).submit("/login", "/login", &[("email", &email), ("password", "My own password 2")]).await;
        assert!(again.status.is_client_error(), "{}", again.status);
        let listed = app.get("/api/v1/admin/users", Some(&admin.token)).await;
        let user = listed.json["items"].as_array().unwrap().iter().find(|u| u["id"] == id.as_str()).unwrap().clone();
        assert!(user["disabled_at"].is_string(), "{user}");
        // Nobody disables their own account, nor one twice.
        let own = browser.submit("/console/users", &format!("/console/users/{}/disable", admin.user_id), &[]).await;
        own.assert_status(409);
        app.post(&format!("/api/v1/admin/users/{id}/disable"), Some(&admin.token), json!({})).await.assert_problem(409, "invalid_state");
    }
}

on_both_databases! {
    async fn the_security_administrator_unlocks_resets_a_second_factor_and_changes_a_role_on_the_staff_page(app: TestApp) {
        let secadmin = app.staff_account(Role::SecurityAdmin, None).await;
        let official = app.staff_account(Role::Official, None).await;
        let enrolled = techtrade_tests::second_factor::enrol(&app, &official.token).await;
        let mut browser = console(&app, &secadmin).await;
        // Signing in leads the security administrator to the staff page.
        let landing = Browser::new(&app)
            .submit("/login", "/login", &[("email", &secadmin.email), ("password", &secadmin.password)])
            .await;
        assert_eq!(landing.header("location"), "/console/users");
        let page = browser.get("/console/users").await;
        page.assert_status(200);
        assert!(!page.text.contains("href=\"/console/reviews\""), "no official's tabs");
        // It makes security staff only; the official's row has no disable button.
        let form = &page.text[page.text.find("id=\"new-user\"").unwrap()..];
        assert!(form.contains("<option value=\"auditor\"") && !form.contains("<option value=\"official\""), "{form}");
        let row = &page.text[page.text.find(&format!("id=\"user-{}\"", official.user_id)).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(!row.contains("disable-user") && row.contains("unlock-user") && row.contains("reset-second-factor"), "{row}");

        // A lock-out ended.
        for _ in 0..5 {
            app.post("/api/v1/auth/login", None, json!({"email": official.email, "password": "wrong guess"})).await;
        }
        app.post("/api/v1/auth/login", None, json!({"email": official.email, "password": official.password}))
            .await
            .assert_problem(423, "account_locked");
        let unlocked = browser.submit("/console/users", &format!("/console/users/{}/unlock", official.user_id), &[]).await;
        unlocked.assert_status(303);
        assert_eq!(unlocked.header("location"), "/console/users?done=unlocked");
        techtrade_tests::second_factor::forget_used_codes(&app, &official.user_id);
        let token = techtrade_tests::second_factor::login(&app, &official.user_id, &official.email, &official.password,
            &enrolled.secret).await;

        // A lost phone: the factor reset, the sessions ended; twice is refused on the page.
        let path = format!("/console/users/{}/second-factor/reset", official.user_id);
        browser.submit("/console/users", &path, &[]).await.assert_status(303);
        app.get("/api/v1/me", Some(&token)).await.assert_problem(401, "invalid_token");
        let again = browser.submit("/console/users", &path, &[]).await;
        again.assert_status(409);
        assert!(again.text.contains("id=\"users-error\""), "{}", again.text);

        // Another role, which ends the sessions; nonsense is refused on its field.
        let token = app.login(&official.email, &official.password).await;
        let path = format!("/console/users/{}/role", official.user_id);
        browser.submit("/console/users", &path, &[("role", "root")]).await.assert_status(422);
        browser.submit("/console/users", &path, &[("role", "admin")]).await.assert_status(303);
        app.get("/api/v1/me", Some(&token)).await.assert_problem(401, "invalid_token");
        let listed = app.get("/api/v1/admin/users", Some(&secadmin.token)).await;
        let user = listed.json["items"].as_array().unwrap().iter().find(|u| u["id"] == official.user_id.as_str()).unwrap().clone();
        assert_eq!(user["role"], "admin");

        // The system administrator's page offers none of these.
        let admin = app.staff_account(Role::Admin, None).await;
        let page = console(&app, &admin).await.get("/console/users").await;
        assert!(!page.text.contains("unlock-user") && !page.text.contains("reset-second-factor"));
        let form = &page.text[page.text.find("id=\"new-user\"").unwrap()..];
        assert!(form.contains("<option value=\"official\"") && !form.contains("<option value=\"auditor\""), "{form}");
    }
}

on_both_databases! {
    async fn without_programs_the_rounds_and_programs_pages_say_so(app: TestApp) {
        let app = app.with_programs(Vec::new());
        let official = app.staff_account(Role::Official, None).await;
        let mut browser = console(&app, &official).await;
        for path in ["/console/rounds", "/console/programs"] {
            let page = browser.get(path).await;
            page.assert_status(200);
            assert!(page.text.contains("id=\"no-programs\""), "{path}: {}", page.text);
        }
    }
}

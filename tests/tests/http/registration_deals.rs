//! A platform deal's contract before the registration office: the seller
//! applies with the deal (its contract taken from it), the office decides
//! the application as any other and the deal moves on with it; the deal's
//! own route decides that application too. The office may find a contract
//! in dispute (30 working days), and numbers follow the configured layout.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_domain::deal::NumberFormat;
use techtrade_tests::market::{self, Market};
use techtrade_tests::{TestApp, on_both_databases};

use crate::registrations::{contract, draft, submitted_with, upload, yuan};

/// What the deal's contract does not say.
fn terms() -> Value {
    json!({"valid_until": "2031-11-19", "technology_field": "new_materials", "ip_type": "patent"})
}

/// The seller's application for deal `deal`, with the contract's text, submitted.
async fn applied(app: &TestApp, m: &Market, deal: &str) -> Value {
    let id = draft(app, &m.seller, json!({"deal_id": deal, "terms": terms()})).await;
    upload(app, &m.seller, &id, "contract").await;
    let sent = app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&m.seller.token), json!({})).await;
    sent.assert_status(200);
    sent.json
}

fn field(response: &techtrade_tests::TestResponse) -> (String, String) {
    let error = &response.json["errors"][0];
    (error["field"].as_str().unwrap().to_string(), error["code"].as_str().unwrap().to_string())
}

on_both_databases! {
    async fn a_platform_deal_is_registered_through_the_sellers_application(app: TestApp) {
        let m = market::market(&app, &["assignment"]).await;
        let stranger = app.register_org("enterprise").await;
        let total = yuan(1_000_000);
        let deal = market::contracted_deal(&app, &m, total).await;

        // Only the seller applies, for its own contracted deal, naming the validity.
        let post = |token: &str, body: Value| {
            let token = token.to_string();
            let app = &app;
            async move { app.post("/api/v1/registrations", Some(&token), body).await }
        };
        post(&m.buyer.token, json!({"deal_id": deal, "terms": terms()})).await.assert_problem(403, "forbidden");
        let unknown = post(&stranger.token, json!({"deal_id": deal, "terms": terms()})).await;
        assert_eq!(field(&unknown), ("deal_id".into(), "not_found".into()));
        let both = post(&m.seller.token, json!({"deal_id": deal, "terms": terms(), "contract": contract(total, 0)["contract"]})).await;
        assert_eq!(field(&both), ("contract".into(), "taken_from_deal".into()));
        let bare = post(&m.seller.token, json!({"deal_id": deal})).await;
        assert_eq!(field(&bare), ("terms".into(), "required".into()));
        let early = post(&m.seller.token, json!({"deal_id": deal, "terms": {"valid_until": "2026-11-19"}})).await;
        assert_eq!(field(&early), ("terms.valid_until".into(), "before_signing".into()));
        let wrong = post(&m.seller.token, json!({"deal_id": deal, "terms": {"valid_until": "2031-11-19", "subcategory": "training"}})).await;
        assert_eq!(field(&wrong), ("terms.subcategory".into(), "wrong_category".into()));
        let nothing = post(&m.seller.token, json!({})).await;
        assert_eq!(field(&nothing), ("contract".into(), "required".into()));

        let id = draft(&app, &m.seller, json!({"deal_id": deal, "terms": terms()})).await;
        let shown = app.get(&format!("/api/v1/registrations/{id}"), Some(&m.seller.token)).await;
        let c = &shown.json["contract"];
        assert_eq!(shown.json["deal_id"], deal.as_str());
        assert_eq!((c["category"].as_str(), c["buyer"]["organization_id"].as_str()), (Some("transfer"), Some(m.buyer.id.as_str())));
        assert_eq!(c["buyer"]["credit_code"], m.buyer.credit_code.as_str());
        assert_eq!((c["total_amount_fen"].as_i64(), c["non_technical_amount_fen"].as_i64()), (Some(total), Some(total / 5)));
        assert_eq!((c["signed_on"].as_str(), c["valid_until"].as_str()), (Some("2026-11-20"), Some("2031-11-19")));
        assert_eq!((c["technology_field"].as_str(), c["related_party"].as_bool()), (Some("new_materials"), Some(false)));
        // One application at a time.
        post(&m.seller.token, json!({"deal_id": deal, "terms": terms()})).await.assert_problem(409, "conflict");

        // A draft is the seller's: the office neither lists nor reads it,
        // and the deal's route cannot decide it.
        let queue = app.get("/api/v1/registrations", Some(&m.official)).await;
        assert!(queue.json["items"].as_array().unwrap().iter().all(|a| a["id"] != id.as_str()));
        app.get(&format!("/api/v1/registrations/{id}"), Some(&m.official)).await.assert_problem(404, "not_found");
        let path = format!("/api/v1/deals/{deal}/registration");
        app.post(&path, Some(&m.official), json!({"decision": "register", "registered_technology_amount_fen": total / 2}))
            .await
            .assert_problem(409, "invalid_state");

        upload(&app, &m.seller, &id, "contract").await;
        app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&m.seller.token), json!({})).await.assert_status(200);
        let queue = app.get("/api/v1/registrations", Some(&m.official)).await;
        assert!(queue.json["items"].as_array().unwrap().iter().any(|a| a["id"] == id.as_str()));

        // The office registers the application: the deal is registered with the same number.
        let decided = app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&m.official),
            json!({"decision": "register", "registered_technology_amount_fen": yuan(700_000)})).await;
        decided.assert_status(200);
        let number = decided.json["registration_number"].as_str().unwrap().to_string();
        let shown = market::deal(&app, &m.seller.token, &deal).await;
        assert_eq!((shown["status"].as_str(), shown["registration_number"].as_str()), (Some("registered"), Some(number.as_str())));
        assert_eq!(shown["registrations"][0]["registered_technology_amount_fen"], yuan(700_000));

        // Counted once in the statistics; the certificate checks out.
        let today = techtrade_db::today();
        let figures = app.get(&format!("/api/v1/statistics/registrations?from={today}&to={today}"), Some(&m.official)).await;
        figures.assert_status(200);
        assert_eq!((figures.json["totals"]["count"].as_i64(), figures.json["totals"]["total_fen"].as_i64()), (Some(1), Some(total)));
        assert_eq!(figures.json["totals"]["technology_fen"], yuan(700_000));
        let check = app.get(&format!("/api/v1/registrations/verify?number={number}&credit_code={}", m.seller.credit_code), None).await;
        assert_eq!(check.json["valid"], true);

        // The deal's contract changes with the deal, not by amendment.
        app.post(&format!("/api/v1/registrations/{id}/cancellation"), Some(&m.seller.token), json!({"reason": "解除"}))
            .await
            .assert_problem(409, "invalid_state");
        post(&m.seller.token, json!({"deal_id": deal, "terms": terms()})).await.assert_problem(409, "invalid_state");
    }
}

on_both_databases! {
    async fn the_deals_route_decides_the_sellers_application(app: TestApp) {
        let m = market::market(&app, &["assignment"]).await;
        let total = yuan(200_000);
        let deal = market::contracted_deal(&app, &m, total).await;
        let path = format!("/api/v1/deals/{deal}/registration");
        let first = applied(&app, &m, &deal).await;
        let first_id = first["id"].as_str().unwrap();

        // A refusal of an application names catalogued reasons.
        let vague = app.post(&path, Some(&m.official), json!({"decision": "reject", "reason": "价款不明"})).await;
        assert_eq!(field(&vague), ("reasons".into(), "required".into()));
        let refused = app.post(&path, Some(&m.official),
            json!({"decision": "reject", "reason": "付款方式未约定", "reasons": ["price_unclear"]})).await;
        refused.assert_status(200);
        assert_eq!(refused.json["status"], "contracted", "the deal waits for a new application");
        let reason = refused.json["registrations"][0]["reason"].as_str().unwrap();
        assert!(reason.contains("价款、报酬或使用费及其支付方式不明确") && reason.contains("付款方式未约定"), "{reason}");
        let application = app.get(&format!("/api/v1/registrations/{first_id}"), Some(&m.seller.token)).await;
        assert_eq!(application.json["status"], "refused");
        assert_eq!(application.json["refusal_reasons"], json!(["price_unclear"]));

        // A refused application leaves room for the next; the deal's route registers it.
        let second = applied(&app, &m, &deal).await;
        let registered = app.post(&path, Some(&m.official),
            json!({"decision": "register", "registered_technology_amount_fen": total / 2})).await;
        registered.assert_status(200);
        assert_eq!(registered.json["status"], "registered");
        let number = registered.json["registration_number"].as_str().unwrap();
        let application = app.get(&format!("/api/v1/registrations/{}", second["id"].as_str().unwrap()), Some(&m.seller.token)).await;
        assert_eq!((application.json["status"].as_str(), application.json["registration_number"].as_str()),
            (Some("registered"), Some(number)));
        assert_eq!(application.json["registered_technology_amount_fen"], total / 2);
        let events: Vec<&str> = application.json["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(events, ["created", "document_added", "submitted", "registered"]);
    }
}

on_both_databases! {
    async fn a_deal_without_an_application_is_still_registered_at_the_counter(app: TestApp) {
        let app = app.with_number_format(NumberFormat::RegionFirst);
        let m = market::market(&app, &["assignment"]).await;
        let deal = market::contracted_deal(&app, &m, yuan(100_000)).await;
        let registered = market::register(&app, &m, &deal, yuan(50_000)).await;
        registered.assert_status(200);
        // The platform's first layout, kept by setting: prefecture, office, year, serial.
        let number = registered.json["registration_number"].as_str().unwrap();
        let year = techtrade_db::today().format("%Y").to_string();
        assert!(number.len() == 16 && number.starts_with(&format!("630101{year}")), "{number}");
        let check = app.get(&format!("/api/v1/registrations/verify?number={number}&credit_code={}", m.seller.credit_code), None).await;
        assert_eq!(check.json["valid"], true);
        // Registered: nothing left to apply for.
        app.post("/api/v1/registrations", Some(&m.seller.token), json!({"deal_id": deal, "terms": terms()}))
            .await
            .assert_problem(409, "invalid_state");
    }
}

on_both_databases! {
    async fn a_contract_found_in_dispute_gets_thirty_working_days(app: TestApp) {
        let app = app.with_office_day("2026-09-28".parse().unwrap());
        let seller = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let sent = submitted_with(&app, &seller, contract(yuan(3_000_000), 0)).await;
        let id = sent["id"].as_str().unwrap();
        assert_eq!((sent["decide_by"].as_str(), sent["disputed"].as_bool()), (Some("2026-10-23"), Some(false)));

        let path = format!("/api/v1/registrations/{id}/dispute");
        app.post(&path, Some(&seller.token), json!({"reason": "x"})).await.assert_problem(403, "forbidden");
        let blank = app.post(&path, Some(&official), json!({"reason": " "})).await;
        assert_eq!(field(&blank), ("reason".into(), "required".into()));
        let found = app.post(&path, Some(&official), json!({"reason": "第三方主张该技术的权属"})).await;
        found.assert_status(200);
        // As if known at submission: 30 working days across National Day.
        assert_eq!((found.json["decide_by"].as_str(), found.json["disputed"].as_bool()), (Some("2026-11-13"), Some(true)));
        assert_eq!(found.json["working_days_left"], 30);
        app.post(&path, Some(&official), json!({"reason": "再次"})).await.assert_problem(409, "invalid_state");
        let record = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        let last = record.json["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["event"].as_str(), last["message"].as_str()), (Some("disputed"), Some("第三方主张该技术的权属")));

        // Once decided, no longer.
        app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&official), json!({"decision": "register"}))
            .await
            .assert_status(200);
        let late = draft(&app, &seller, contract(yuan(100), 0)).await;
        app.post(&format!("/api/v1/registrations/{late}/dispute"), Some(&official), json!({"reason": "x"}))
            .await
            .assert_problem(404, "not_found");
        app.post(&path, Some(&official), json!({"reason": "x"})).await.assert_problem(409, "invalid_state");
    }
}

//! Emails from what users do through the API, delivered by the notify
//! worker to a real SMTP server process: the contract between the
//! services that emit events and the mailer, end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_notify::testing::SmtpSink;
use techtrade_notify::{Mailer, Settings, SmtpUrl, Templates, TransportConfig, Worker};
use techtrade_tests::{TestApp, on_both_databases};

fn worker(app: &TestApp, sink: &SmtpSink) -> Worker {
    let transport =
        TransportConfig::Smtp { url: SmtpUrl::parse(&sink.url()).unwrap(), timeout: Duration::from_secs(5) };
    let mailer = Mailer::new(&transport, "技术交易市场 <noreply@market.example.cn>").unwrap();
    Worker::new(app.state.db.clone(), mailer, Templates::new().unwrap(), Settings::default())
}

fn listing_body() -> Value {
    json!({
        "kind": "patent",
        "title": "一种盐湖卤水提锂的铝系吸附剂及其制备方法",
        "summary": "适用于高镁锂比卤水的吸附提锂，已完成中试。",
        "ipc": ["C22B 26/12"],
        "maturity": "pilot",
        "trade_modes": ["assignment"],
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

on_both_databases! {
    /// Registering sends the welcome email; a rejected listing's owner
    /// hears why, in Chinese, with the listing's title.
    async fn registration_and_moderation_send_emails(app: TestApp) {
        let sink = SmtpSink::start();
        let owner = app.register_org("institute").await;
        let (_, official) = app.staff(Role::Official).await;
        let created = app.post("/api/v1/listings", Some(&owner.token), listing_body()).await;
        created.assert_status(201);
        let id = created.json["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/listings/{id}");
        app.request(axum::http::Method::POST, &format!("{path}/submit"), Some(&owner.token), None).await.assert_status(200);
        app.post(&format!("{path}/review"), Some(&official), json!({"decision": "reject", "reason": "专利权人与申请单位不一致"}))
            .await
            .assert_status(200);

        let report = worker(&app, &sink).run_until_idle().await.unwrap();
        // The owner's two, and the official's: a listing awaits review.
        assert_eq!(report.sent, 3, "{report:?}");
        let all = sink.wait_for(3, Duration::from_secs(5));
        let (messages, to_official): (Vec<_>, Vec<_>) = all.into_iter().partition(|m| m.rcpt_tos == [owner.email.clone()]);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(to_official[0].subject, "待审核成果：一种盐湖卤水提锂的铝系吸附剂及其制备方法");
        let welcome = messages.iter().find(|m| m.subject.starts_with("欢迎")).expect("a welcome email");
        assert!(welcome.text.as_deref().unwrap().contains("已在技术交易市场完成注册"));
        let rejected = messages.iter().find(|m| m.subject.contains("未通过审核")).expect("a rejection email");
        assert_eq!(rejected.subject, "您的成果「一种盐湖卤水提锂的铝系吸附剂及其制备方法」未通过审核");
        assert!(rejected.text.as_deref().unwrap().contains("审核意见：专利权人与申请单位不一致"));
        assert!(rejected.html.as_deref().unwrap().contains("<td>专利权人与申请单位不一致</td>"));
    }
}

/// The templates the emails of `app`'s outbox were planned with.
fn templates_planned(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use techtrade_db::schema::sent_emails;
    let mut conn = app.database.connect();
    let mut templates: Vec<String> =
        sent_emails::table.select(sent_emails::template).distinct().load(&mut conn).unwrap();
    templates.sort();
    templates
}

on_both_databases! {
    /// The events the deals, payments and subsidy services really emit
    /// carry what their emails need: a whole deal and a claim's review
    /// and round, each reaching the parties.
    async fn a_deal_and_a_subsidy_round_send_every_email(app: TestApp) {
        let sink = SmtpSink::start();
        let seller = app.register_org("university").await;
        let buyer = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;
        let (_, second) = app.staff(Role::Official).await;
        let listing = app.post("/api/v1/listings", Some(&seller.token), listing_body()).await;
        let listing_id = listing.json["id"].as_str().unwrap().to_string();
        app.request(axum::http::Method::POST, &format!("/api/v1/listings/{listing_id}/submit"), Some(&seller.token), None).await.assert_status(200);
        app.post(&format!("/api/v1/listings/{listing_id}/review"), Some(&official), json!({"decision": "approve"})).await.assert_status(200);

        // Claims for a year open once it has ended: the deal is of last year.
        let year = chrono::Datelike::year(&techtrade_db::today()) - 1;
        let in_year = format!("{year}-06-30");
        let opened = app.post("/api/v1/deals", Some(&buyer.token), json!({"listing_id": listing_id, "offer": {"amount_fen": 100_000_000, "trade_mode": "assignment"}})).await;
        opened.assert_status(201);
        let deal = opened.json["id"].as_str().unwrap().to_string();
        let at = |action: &str| format!("/api/v1/deals/{deal}/{action}");
        app.post(&at("offers"), Some(&seller.token), json!({"amount_fen": 120_000_000, "trade_mode": "assignment"})).await.assert_status(201);
        app.post(&at("accept"), Some(&buyer.token), json!({})).await.assert_status(200);
        let contract = json!({"category": "transfer", "total_amount_fen": 120_000_000, "non_technical_amount_fen": 0, "signed_on": in_year, "related_party": false});
        app.post(&at("contract"), Some(&seller.token), contract).await.assert_status(200);
        app.post(&at("registration"), Some(&official), json!({"decision": "register", "registered_technology_amount_fen": 120_000_000})).await.assert_status(200);
        let payment = app.post(&at("payments"), Some(&buyer.token), json!({"method": "offline", "amount_fen": 120_000_000, "paid_on": in_year, "reference": "ICBC-1"})).await;
        let payment_id = payment.json["id"].as_str().unwrap();
        app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&seller.token), json!({})).await.assert_status(200);

        let claim = app.post("/api/v1/subsidy/claims", Some(&buyer.token), json!({"program_id": "nanjing-2021", "year": year, "role": "buyer"})).await;
        claim.assert_status(201);
        let review = format!("/api/v1/subsidy/claims/{}/review", claim.json["id"].as_str().unwrap());
        app.post(&review, Some(&official), json!({"decision": "approve"})).await.assert_status(200);
        app.post(&review, Some(&second), json!({"decision": "approve"})).await.assert_status(200);
        app.post("/api/v1/subsidy/rounds", Some(&official), json!({"program_id": "nanjing-2021", "year": year})).await.assert_status(201);
        // The seller's claim under Sanming's program is still at level 1 when that round closes without it.
        let left_out = app.post("/api/v1/subsidy/claims", Some(&seller.token), json!({"program_id": "sanming", "year": year, "role": "seller"})).await;
        left_out.assert_status(201);
        app.post("/api/v1/subsidy/rounds", Some(&official), json!({"program_id": "sanming", "year": year, "pending": "exclude"})).await.assert_status(201);

        let report = worker(&app, &sink).run_until_idle().await.unwrap();
        assert_eq!(report.failed + report.unknown, 0, "{report:?}");
        assert_eq!(
            templates_planned(&app),
            [
                "claim_not_in_round", "claim_reviewed", "contract_registered", "contract_signed", "counter_offer", "deal_agreed",
                "deal_completed", "item_approved", "offer_received", "payment_confirmed", "payment_recorded",
                "review_claim", "review_item", "review_registration", "round_publicized", "welcome",
            ]
        );
        let messages = sink.wait_for(report.sent, Duration::from_secs(10));
        // The officials' queues — the listing to review, the contract to register, the claim at each
        // level — reach both officials (staff addresses are @kjt.qinghai.gov.cn).
        let to_officials: Vec<&str> = messages
            .iter()
            .filter(|m| m.rcpt_tos.iter().all(|r| r.ends_with("@kjt.qinghai.gov.cn")))
            .map(|m| m.subject.as_str())
            .collect();
        // Two claims await level 1 (the buyer's and the seller's), one level 2.
        for (prefix, claims) in [("待审核成果", 1), ("待认定登记", 1), ("待初审", 2), ("待复审", 1)] {
            let sent = to_officials.iter().filter(|s| s.starts_with(prefix)).count();
            assert_eq!(sent, 2 * claims, "{prefix}: {to_officials:?}");
        }
        let to_buyer: Vec<&str> = messages.iter().filter(|m| m.rcpt_tos == [buyer.email.clone()]).map(|m| m.subject.as_str()).collect();
        // The buyer hears of the counter-offer, not of its own opening offer.
        assert!(to_buyer.iter().any(|s| s.contains("还价") || s.contains("报价")), "{to_buyer:?}");
        assert!(to_buyer.iter().any(|s| s.contains("登记")), "{to_buyer:?}");
        let to_seller: Vec<&str> = messages.iter().filter(|m| m.rcpt_tos == [seller.email.clone()]).map(|m| m.subject.as_str()).collect();
        assert!(to_seller.iter().any(|s| s.starts_with("补助申请未纳入本年度轮次")), "{to_seller:?}");
        assert!(messages.iter().all(|m| m.text.as_deref().is_some_and(|t| !t.is_empty())));
    }
}

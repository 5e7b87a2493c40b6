//! The registration office (技术合同认定登记): a contract signed off the
//! platform applied for, submitted, decided within its working days —
//! counted over the national holiday calendar, stopped while more
//! material is awaited — and registered with a number or refused with
//! catalogued reasons.

#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_tests::{TestApp, TestOrg, on_both_databases};

/// Fen of `n` yuan.
pub(crate) const fn yuan(n: i64) -> i64 {
    n * 100
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A contract of `total_fen` with a buyer not on the platform, signed before the office's day.
pub(crate) fn contract(total_fen: i64, non_technical_fen: i64) -> Value {
    json!({"contract": {
        "category": "development", "subcategory": "commissioned_development",
        "buyer": {"name": "西宁高原光伏科技有限公司", "credit_code": techtrade_tests::credit_code(), "region_code": "630104"},
        "total_amount_fen": total_fen, "non_technical_amount_fen": non_technical_fen,
        "signed_on": "2026-09-01", "valid_until": "2028-08-31",
        "technology_field": "new_energy_and_efficiency", "ip_type": "patent",
        "government_project": true, "related_party": false,
    }})
}

/// GET `path` asking for `accept`.
pub(crate) async fn certificate_as(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: &str,
) -> techtrade_tests::TestResponse {
    let request = axum::http::Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", accept)
        .body(axum::body::Body::empty())
        .unwrap();
    app.send(request).await
}

pub(crate) async fn draft(app: &TestApp, seller: &TestOrg, body: Value) -> String {
    let created = app.post("/api/v1/registrations", Some(&seller.token), body).await;
    created.assert_status(201);
    assert_eq!(created.json["status"], "draft");
    created.json["id"].as_str().unwrap().to_string()
}

/// A minimal PDF: what the office reads as the contract's text.
pub(crate) const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// Uploads a document of `kind` (a PDF) to application `id`; its view.
pub(crate) async fn upload(app: &TestApp, seller: &TestOrg, id: &str, kind: &str) -> Value {
    let path = format!("/api/v1/registrations/{id}/documents");
    let uploaded = app
        .post_multipart(
            &path,
            Some(&seller.token),
            &[("kind", kind)],
            Some(("技术开发合同.pdf", "application/pdf", PDF)),
        )
        .await;
    uploaded.assert_status(201);
    uploaded.json
}

pub(crate) async fn submitted_with(app: &TestApp, seller: &TestOrg, body: Value) -> Value {
    let id = draft(app, seller, body).await;
    upload(app, seller, &id, "contract").await;
    let answer = app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&seller.token), json!({})).await;
    answer.assert_status(200);
    answer.json
}

async fn submitted(app: &TestApp, seller: &TestOrg, total_fen: i64) -> Value {
    let id = draft(app, seller, contract(total_fen, 0)).await;
    upload(app, seller, &id, "contract").await;
    let answer = app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&seller.token), json!({})).await;
    answer.assert_status(200);
    answer.json
}

on_both_databases! {
    async fn an_off_platform_contract_is_registered_with_its_amounts_and_a_number(app: TestApp) {
        let app = app.with_office_day(day("2026-09-28"));
        let seller = app.register_org("university").await;
        let stranger = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;

        let id = draft(&app, &seller, contract(yuan(3_000_000), yuan(40_000))).await;
        let shown = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        shown.assert_status(200);
        assert_eq!(shown.json["contract"]["technology_amount_fen"], yuan(3_000_000) - yuan(40_000));
        assert_eq!(shown.json["contract"]["buyer"]["organization_id"], Value::Null);
        assert_eq!(shown.json["decide_by"], Value::Null, "a draft has no deadline");
        app.get(&format!("/api/v1/registrations/{id}"), Some(&stranger.token)).await.assert_problem(404, "not_found");
        // A draft is the seller's: the office does not see it, let alone decide it.
        app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&official), json!({"decision": "register"}))
            .await
            .assert_problem(404, "not_found");
        // Not without the contract's text.
        let bare = app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&seller.token), json!({})).await;
        bare.assert_problem(409, "invalid_state");
        assert_eq!((bare.json["errors"][0]["field"].as_str(), bare.json["errors"][0]["code"].as_str()),
            (Some("documents"), Some("contract_required")));
        upload(&app, &seller, &id, "contract").await;

        let sent = app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&seller.token), json!({})).await;
        sent.assert_status(200);
        app.get(&format!("/api/v1/registrations/{id}/certificate"), Some(&seller.token))
            .await
            .assert_problem(409, "invalid_state");
        assert_eq!((sent.json["status"].as_str(), sent.json["decide_by"].as_str()), (Some("submitted"), Some("2026-10-23")));
        assert_eq!(sent.json["working_days_left"], 15);
        app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&seller.token), json!({}))
            .await
            .assert_problem(409, "invalid_state");
        // The seller does not decide its own.
        app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&seller.token), json!({"decision": "register"}))
            .await
            .assert_problem(403, "forbidden");

        // The queue, earliest deadline first.
        let queue = app.get("/api/v1/registrations?status=submitted&due_before=2026-12-31", Some(&official)).await;
        queue.assert_status(200);
        assert!(queue.json["items"].as_array().unwrap().iter().any(|a| a["id"] == id.as_str()));
        let mine = app.get("/api/v1/registrations", Some(&seller.token)).await;
        assert_eq!(mine.json["total"], 1);
        assert_eq!(app.get("/api/v1/registrations", Some(&stranger.token)).await.json["total"], 0);

        // Registered with the 核定 technology amount, lower than the contract's.
        let decided = app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&official),
            json!({"decision": "register", "registered_technology_amount_fen": yuan(2_500_000)})).await;
        decided.assert_status(200);
        assert_eq!(decided.json["status"], "registered");
        assert_eq!(decided.json["registered_total_fen"], yuan(3_000_000));
        assert_eq!(decided.json["registered_technology_amount_fen"], yuan(2_500_000));
        let number = decided.json["registration_number"].as_str().unwrap();
        assert!(number.len() == 16 && number[4..].starts_with("630101") && number.bytes().all(|b| b.is_ascii_digit()), "{number}");
        let record = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        let events: Vec<&str> = record.json["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(events, ["created", "document_added", "submitted", "registered"]);
        // Tax guidance: development is exempt from VAT; income-tax relief is for transfers.
        let tax = &record.json["tax_guidance"];
        assert_eq!((tax["vat"].as_str(), tax["income_tax"].as_str()), (Some("applies"), Some("does_not_apply")));
        assert!(tax["notice"].as_str().unwrap().contains("仅供参考"));
        assert_eq!(shown.json["tax_guidance"], Value::Null, "none before registration");

        // The certificate: as data, as the printable page, as a PDF with its font embedded.
        let certificate = format!("/api/v1/registrations/{id}/certificate");
        let facts = app.get(&certificate, Some(&seller.token)).await;
        facts.assert_status(200);
        assert_eq!(facts.json["registration_number"], number);
        assert_eq!(facts.json["category_name"], "技术开发（委托开发）");
        assert_eq!((facts.json["total_fen"].as_i64(), facts.json["technology_fen"].as_i64()),
            (Some(yuan(3_000_000)), Some(yuan(2_500_000))));
        assert_eq!(facts.json["buyer_name"], "西宁高原光伏科技有限公司");
        let page = certificate_as(&app, &certificate, &official, "text/html").await;
        page.assert_status(200);
        assert!(page.header("content-type").starts_with("text/html"));
        for shown in [number, "技术合同登记证明", "3,000,000.00 元", "2,500,000.00 元", "技术开发（委托开发）", "西宁高原光伏科技有限公司"] {
            assert!(page.text.contains(shown), "the page shows {shown}");
        }
        let pdf = certificate_as(&app, &certificate, &seller.token, "application/pdf").await;
        pdf.assert_status(200);
        assert_eq!(pdf.header("content-type"), "application/pdf");
        assert!(pdf.bytes.starts_with(b"%PDF-"), "a PDF");
        assert!(pdf.header("content-disposition").contains(".pdf"));
        let raw = String::from_utf8_lossy(&pdf.bytes);
        assert!(raw.contains("/FontFile"), "the font is embedded");
        assert!(pdf.bytes.len() < 300_000, "as a subset: {} bytes", pdf.bytes.len());
        app.get(&certificate, Some(&stranger.token)).await.assert_problem(404, "not_found");

        // Numbers never repeat: the next registration gets the next serial.
        let other = submitted(&app, &seller, yuan(1_000)).await;
        let next = app.post(&format!("/api/v1/registrations/{}/decision", other["id"].as_str().unwrap()), Some(&official),
            json!({"decision": "register"})).await;
        let next_number = next.json["registration_number"].as_str().unwrap();
        assert_eq!(next_number[..10], number[..10]);
        assert_eq!(next_number[10..].parse::<u64>().unwrap(), number[10..].parse::<u64>().unwrap() + 1);
    }
}

on_both_databases! {
    async fn six_million_yuan_gets_thirty_working_days_and_three_million_fifteen_across_national_day(app: TestApp) {
        let app = app.with_office_day(day("2026-09-28"));
        let seller = app.register_org("institute").await;
        let large = submitted(&app, &seller, yuan(6_000_000)).await;
        assert_eq!(large["decide_by"], "2026-11-13", "30 working days, the holiday skipped, 10 October worked");
        let small = submitted(&app, &seller, yuan(3_000_000)).await;
        assert_eq!(small["decide_by"], "2026-10-23", "15 working days");
        assert_eq!(small["deadline_provisional"], false);
        // The queue puts the earlier deadline first.
        let (_, official) = app.staff(Role::Official).await;
        let queue = app.get("/api/v1/registrations?status=submitted", Some(&official)).await;
        let ids: Vec<&str> = queue.json["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [small["id"].as_str().unwrap(), large["id"].as_str().unwrap()]);
    }
}

on_both_databases! {
    async fn a_request_for_more_material_moves_the_deadline_by_the_days_it_waited(app: TestApp) {
        let app = app.with_office_day(day("2026-09-28"));
        let seller = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let application = submitted(&app, &seller, yuan(1_000_000)).await;
        let id = application["id"].as_str().unwrap().to_string();
        assert_eq!(application["decide_by"], "2026-10-23");

        // Asked on Friday 9 October; the message is required.
        let app = app.with_office_day(day("2026-10-09"));
        let path = format!("/api/v1/registrations/{id}/decision");
        let bare = app.post(&path, Some(&official), json!({"decision": "request_more"})).await;
        bare.assert_problem(422, "validation_failed");
        assert_eq!(bare.json["errors"][0]["field"], "message");
        let asked = app.post(&path, Some(&official),
            json!({"decision": "request_more", "message": "请补充技术开发合同的签字页和发票。"})).await;
        asked.assert_status(200);
        assert_eq!(asked.json["status"], "more_requested");
        assert_eq!(asked.json["clock_stopped_on"], "2026-10-09");
        assert_eq!(asked.json["working_days_left"], Value::Null, "the clock stands still");
        app.post(&path, Some(&official), json!({"decision": "register"})).await.assert_problem(409, "invalid_state");

        // Answered on Monday 26 October: the 11 working days left run from then.
        let app = app.with_office_day(day("2026-10-26"));
        let answered = app.post(&format!("/api/v1/registrations/{id}/answer"), Some(&seller.token),
            json!({"message": "已上传签字页和发票。"})).await;
        answered.assert_status(200);
        assert_eq!(answered.json["status"], "submitted");
        assert_eq!(answered.json["decide_by"], "2026-11-10");
        assert_eq!(answered.json["clock_stopped_on"], Value::Null);
        app.post(&format!("/api/v1/registrations/{id}/answer"), Some(&seller.token), json!({}))
            .await
            .assert_problem(409, "invalid_state");
        let record = app.get(&format!("/api/v1/registrations/{id}"), Some(&official)).await;
        let events: Vec<(&str, Option<&str>)> = record.json["events"].as_array().unwrap().iter()
            .map(|e| (e["event"].as_str().unwrap(), e["decide_by"].as_str())).collect();
        assert_eq!(events, [("created", None), ("document_added", None), ("submitted", Some("2026-10-23")),
            ("more_requested", Some("2026-10-23")), ("answered", Some("2026-11-10"))]);
        assert_eq!(record.json["events"][3]["message"], "请补充技术开发合同的签字页和发票。");
    }
}

on_both_databases! {
    async fn a_refusal_names_its_catalogued_reasons_and_bad_input_is_told_on_its_field(app: TestApp) {
        let seller = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;
        let application = submitted(&app, &seller, yuan(500_000)).await;
        let path = format!("/api/v1/registrations/{}/decision", application["id"].as_str().unwrap());
        let none = app.post(&path, Some(&official), json!({"decision": "refuse", "reasons": []})).await;
        none.assert_problem(422, "validation_failed");
        assert_eq!(none.json["errors"][0]["field"], "reasons");
        app.post(&path, Some(&official), json!({"decision": "refuse", "reasons": ["made_up"]}))
            .await
            .assert_status(422);
        let refused = app.post(&path, Some(&official),
            json!({"decision": "refuse", "reasons": ["price_unclear", "parties_unclear", "price_unclear"]})).await;
        refused.assert_status(200);
        assert_eq!(refused.json["status"], "refused");
        assert_eq!(refused.json["refusal_reasons"], json!(["parties_unclear", "price_unclear"]));
        assert_eq!(refused.json["registration_number"], Value::Null);

        // Each field's own code.
        let mut bad = contract(yuan(100), yuan(200));
        bad["contract"]["buyer"]["credit_code"] = json!("91630100MA752C4W5X");
        bad["contract"]["valid_until"] = json!("2026-08-01");
        bad["contract"]["subcategory"] = json!("training");
        bad["contract"]["signed_on"] = json!("2099-01-01");
        let refused = app.post("/api/v1/registrations", Some(&seller.token), bad).await;
        refused.assert_problem(422, "validation_failed");
        let mut fields = refused.error_fields();
        fields.sort();
        assert_eq!(fields, ["contract.buyer.credit_code", "contract.non_technical_amount_fen", "contract.signed_on",
            "contract.subcategory", "contract.valid_until"]);
        // The buyer is not the seller itself, and an organisation named by id exists.
        let mut own = contract(yuan(100), 0);
        own["contract"]["buyer"] = json!({"organization_id": seller.id});
        let same = app.post("/api/v1/registrations", Some(&seller.token), own).await;
        assert_eq!(same.json["errors"][0]["code"], "same_as_seller");
        let mut ghost = contract(yuan(100), 0);
        ghost["contract"]["buyer"] = json!({"organization_id": "no-such-organisation"});
        let missing = app.post("/api/v1/registrations", Some(&seller.token), ghost).await;
        assert_eq!(missing.json["errors"][0]["field"], "contract.buyer.organization_id");
        // Staff of no organisation apply for nothing.
        app.post("/api/v1/registrations", Some(&official), contract(yuan(100), 0)).await.assert_problem(403, "forbidden");
    }
}

on_both_databases! {
    async fn a_buyer_on_the_platform_sees_the_application_and_no_official_of_a_party_decides(app: TestApp) {
        let seller = app.register_org("university").await;
        let buyer = app.register_org("enterprise").await;
        let mut body = contract(yuan(2_000_000), 0);
        body["contract"]["buyer"] = json!({"organization_id": buyer.id});
        let id = draft(&app, &seller, body).await;
        let seen = app.get(&format!("/api/v1/registrations/{id}"), Some(&buyer.token)).await;
        seen.assert_status(200);
        let profile = app.get(&format!("/api/v1/organizations/{}", buyer.id), None).await;
        assert_eq!(seen.json["contract"]["buyer"]["name"], profile.json["name"], "taken from the organisation");
        assert_eq!(seen.json["contract"]["buyer"]["credit_code"], profile.json["credit_code"]);
        app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&buyer.token), json!({}))
            .await
            .assert_problem(403, "forbidden");
        upload(&app, &seller, &id, "contract").await;
        app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&seller.token), json!({})).await.assert_status(200);
        let official_of_buyer = app.official_of(&buyer).await;
        app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&official_of_buyer), json!({"decision": "register"}))
            .await
            .assert_problem(403, "own_organization");
    }
}

on_both_databases! {
    async fn a_certificate_is_checked_by_its_number_and_the_sellers_credit_code_and_no_one_walks_the_numbers(app: TestApp) {
        let seller = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let application = submitted(&app, &seller, yuan(800_000)).await;
        let decided = app.post(&format!("/api/v1/registrations/{}/decision", application["id"].as_str().unwrap()),
            Some(&official), json!({"decision": "register", "registered_technology_amount_fen": yuan(700_000)})).await;
        let number = decided.json["registration_number"].as_str().unwrap().to_string();

        let check = |number: String, credit_code: String| {
            let app = &app;
            async move { app.get(&format!("/api/v1/registrations/verify?number={number}&credit_code={credit_code}"), None).await }
        };
        let genuine = check(number.clone(), seller.credit_code.clone()).await;
        genuine.assert_status(200);
        assert_eq!(genuine.json["valid"], true);
        let certificate = &genuine.json["certificate"];
        assert_eq!(certificate["registration_number"], number.as_str());
        assert_eq!(certificate["category"], "development");
        assert_eq!(certificate["buyer_name"], "西宁高原光伏科技有限公司");
        assert_eq!((certificate["registered_total_fen"].as_i64(), certificate["registered_technology_amount_fen"].as_i64()),
            (Some(yuan(800_000)), Some(yuan(700_000))));
        assert_eq!(certificate["registered_on"], techtrade_db::today().to_string());
        // Another seller's code, or a number never issued: not valid, and nothing more.
        let wrong = check(number.clone(), techtrade_tests::credit_code()).await;
        assert_eq!(wrong.json, json!({"valid": false, "cancelled": false}));
        let unissued = check(format!("{}999999", &number[..10]), seller.credit_code.clone()).await;
        assert_eq!(unissued.json, json!({"valid": false, "cancelled": false}));
        // Malformed input is told on its parameter.
        let short = check("1234".into(), seller.credit_code.clone()).await;
        short.assert_problem(400, "invalid_query");
        assert_eq!(short.json["errors"][0]["field"], "number");
        let bad_code = check(number.clone(), "91630100MA752C4W5X".into()).await;
        assert_eq!(bad_code.json["errors"][0]["field"], "credit_code");

        // A deal registered on the platform is checked the same way.
        let m = techtrade_tests::market::market(&app, &["assignment"]).await;
        let deal = techtrade_tests::market::contracted_deal(&app, &m, 1_000_000).await;
        let registered = techtrade_tests::market::register(&app, &m, &deal, 800_000).await;
        let deal_number = registered.json["registration_number"].as_str().unwrap().to_string();
        let from_deal = check(deal_number, m.seller.credit_code.clone()).await;
        assert_eq!(from_deal.json["valid"], true);
        assert_eq!(from_deal.json["certificate"]["registered_technology_amount_fen"], 800_000);

        // Thirty checks per address in ten minutes; the next is refused.
        let mut last = check(number.clone(), seller.credit_code.clone()).await;
        while last.status.as_u16() == 200 {
            last = check(number.clone(), seller.credit_code.clone()).await;
        }
        last.assert_problem(429, "rate_limited");
        assert!(!last.header("retry-after").is_empty());
    }
}

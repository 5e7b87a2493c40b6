//! What follows a registration application: its documents (type read from
//! the bytes, read only by the parties and officials, audited), changes
//! to a registered contract (an amendment, a cancellation) decided by the
//! office, payments declared on an off-platform contract and confirmed by
//! an official — which make it count for subsidies as a platform deal
//! does — and the office's statistics.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use techtrade_domain::Role;
use techtrade_tests::{TestApp, TestOrg, on_both_databases};

use crate::registrations::{PDF, contract, draft, submitted_with, upload, yuan};

/// A PNG's first bytes: a proof scanned as an image.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
/// A ZIP's first bytes (a .docx is one).
const ZIP: &[u8] = b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0";

/// A license to a buyer in Qinghai off the platform, signed in the claim
/// year: `total_fen` all technology.
fn license(total_fen: i64) -> Value {
    let year = crate::subsidy::year();
    let mut body = contract(total_fen, 0);
    body["contract"]["category"] = json!("license");
    body["contract"]["subcategory"] = Value::Null;
    body["contract"]["signed_on"] = json!(format!("{year}-01-15"));
    body["contract"]["valid_until"] = json!(format!("{}-12-31", year + 2));
    body
}

/// Registers `body` for `seller`: its id and number.
async fn registered(app: &TestApp, seller: &TestOrg, official: &str, body: Value) -> (String, String) {
    let application = submitted_with(app, seller, body).await;
    let id = application["id"].as_str().unwrap().to_string();
    let decided = app
        .post(&format!("/api/v1/registrations/{id}/decision"), Some(official), json!({"decision": "register"}))
        .await;
    decided.assert_status(200);
    (id, decided.json["registration_number"].as_str().unwrap().to_string())
}

/// The seller declares `amount` paid on day `paid_on` with a proof, and an official confirms it.
async fn paid(app: &TestApp, seller: &TestOrg, official: &str, id: &str, amount: i64, paid_on: &str) {
    let proof = upload(app, seller, id, "proof").await;
    let declared = app
        .post(
            &format!("/api/v1/registrations/{id}/payments"),
            Some(&seller.token),
            json!({"amount_fen": amount, "paid_on": paid_on, "proof_document_id": proof["id"]}),
        )
        .await;
    declared.assert_status(201);
    assert_eq!(declared.json["status"], "declared");
    let path = format!("/api/v1/registrations/{id}/payments/{}/decision", declared.json["id"].as_str().unwrap());
    let confirmed = app.post(&path, Some(official), json!({"confirmed": true})).await;
    confirmed.assert_status(200);
    assert_eq!(confirmed.json["status"], "confirmed");
}

async fn seller_preview(app: &TestApp, seller: &TestOrg) -> Value {
    let preview = app
        .post("/api/v1/subsidy/claims/preview", Some(&seller.token), crate::subsidy::claim_body("qinghai", "seller"))
        .await;
    assert!(matches!(preview.status.as_u16(), 200 | 422), "{}", preview.text);
    preview.json
}

on_both_databases! {
    async fn documents_are_typed_by_their_bytes_and_read_only_by_the_parties_and_officials(app: TestApp) {
        let seller = app.register_org("university").await;
        let buyer = app.register_org("enterprise").await;
        let stranger = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;
        let mut body = contract(yuan(200_000), 0);
        body["contract"]["buyer"] = json!({"organization_id": buyer.id});
        let id = draft(&app, &seller, body).await;
        let path = format!("/api/v1/registrations/{id}/documents");

        // A ZIP named .pdf and sent as application/pdf is still a ZIP.
        let zip = app.post_multipart(&path, Some(&seller.token), &[("kind", "contract")],
            Some(("合同.pdf", "application/pdf", ZIP))).await;
        zip.assert_problem(422, "validation_failed");
        assert_eq!((zip.json["errors"][0]["field"].as_str(), zip.json["errors"][0]["code"].as_str()),
            (Some("file"), Some("unsupported_type")));
        assert!(zip.json["errors"][0]["message"].as_str().unwrap().contains("zip"), "{}", zip.text);
        // Too large: 413 on the field, before the whole body is kept.
        let big = [PDF, &vec![b' '; 2 * 1024 * 1024]].concat();
        app.post_multipart(&path, Some(&seller.token), &[("kind", "annex")], Some(("big.pdf", "application/pdf", &big)))
            .await
            .assert_problem(413, "payload_too_large");
        // Each part is required; the kind is one of the four.
        let nameless = app.post_multipart(&path, Some(&seller.token), &[], Some(("a.pdf", "application/pdf", PDF))).await;
        assert_eq!(nameless.json["errors"][0]["field"], "kind");
        let odd = app.post_multipart(&path, Some(&seller.token), &[("kind", "photo")], Some(("a.pdf", "application/pdf", PDF))).await;
        assert_eq!((odd.status.as_u16(), odd.json["errors"][0]["code"].as_str()), (422, Some("unknown")));
        let empty = app.post_multipart(&path, Some(&seller.token), &[("kind", "proof")], None).await;
        assert_eq!(empty.json["errors"][0]["field"], "file");
        app.post(&path, Some(&seller.token), json!({"kind": "contract"})).await.assert_problem(415, "unsupported_media_type");
        // Only the seller adds documents; others do not see the application.
        app.post_multipart(&path, Some(&buyer.token), &[("kind", "proof")], Some(("a.pdf", "application/pdf", PDF)))
            .await
            .assert_problem(403, "forbidden");
        app.post_multipart(&path, Some(&stranger.token), &[("kind", "proof")], Some(("a.pdf", "application/pdf", PDF)))
            .await
            .assert_problem(404, "not_found");

        // A PDF sent as octet-stream, and a PNG: stored with the type their bytes show.
        let contract_text = app.post_multipart(&path, Some(&seller.token), &[("kind", "contract")],
            Some(("C:\\合同\\技术开发合同.pdf", "application/octet-stream", PDF))).await;
        contract_text.assert_status(201);
        assert_eq!(contract_text.json["media_type"], "application/pdf");
        assert_eq!(contract_text.json["file_name"], "技术开发合同.pdf");
        assert_eq!(contract_text.json["sha256"], hex::encode(Sha256::digest(PDF)));
        assert_eq!(contract_text.json["size_bytes"], PDF.len());
        let scan = app.post_multipart(&path, Some(&seller.token), &[("kind", "invoice")],
            Some(("发票.png", "image/png", PNG))).await;
        scan.assert_status(201);
        assert_eq!(scan.json["media_type"], "image/png");

        // The parties read the bytes back, the office once the application
        // is submitted (a draft is the seller's); anyone else: 404.
        let document = format!("{path}/{}", contract_text.json["id"].as_str().unwrap());
        app.get(&document, Some(&official)).await.assert_problem(404, "not_found");
        for token in [&seller.token, &buyer.token] {
            let read = app.get(&document, Some(token)).await;
            read.assert_status(200);
            assert_eq!(read.bytes, PDF);
            assert_eq!(read.header("content-type"), "application/pdf");
            assert_eq!(read.header("cache-control"), "private, no-store");
            assert!(read.header("content-disposition").contains("%E6%8A%80"), "{}", read.header("content-disposition"));
        }
        app.get(&document, Some(&stranger.token)).await.assert_problem(404, "not_found");
        app.get(&document, None).await.assert_problem(401, "unauthenticated");
        // Another application's document is not found under this one.
        let other = draft(&app, &stranger, contract(yuan(1_000), 0)).await;
        let theirs = upload(&app, &stranger, &other, "contract").await;
        app.get(&format!("{path}/{}", theirs["id"].as_str().unwrap()), Some(&seller.token))
            .await
            .assert_problem(404, "not_found");

        // The application lists them; a draft's may be removed, a submitted one's not.
        let shown = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        let kinds: Vec<&str> = shown.json["documents"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["contract", "invoice"]);
        let invoice = format!("{path}/{}", scan.json["id"].as_str().unwrap());
        app.request(axum::http::Method::DELETE, &invoice, Some(&buyer.token), None).await.assert_problem(403, "forbidden");
        app.request(axum::http::Method::DELETE, &invoice, Some(&seller.token), None).await.assert_status(204);
        app.get(&invoice, Some(&seller.token)).await.assert_problem(404, "not_found");
        app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&seller.token), json!({})).await.assert_status(200);
        let read = app.get(&document, Some(&official)).await;
        read.assert_status(200);
        assert_eq!(read.bytes, PDF);
        app.request(axum::http::Method::DELETE, &document, Some(&seller.token), None)
            .await
            .assert_problem(409, "invalid_state");

        // Uploads and reads are in the audit log, with the hash.
        let (_, auditor) = app.staff(Role::Auditor).await;
        let trail = app.get(&format!("/api/v1/audit?organization={}&per_page=100", seller.id), Some(&auditor)).await;
        trail.assert_status(200);
        let actions: Vec<&str> = trail.json["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "registration.document_upload").count(), 2, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| **a == "registration.document_read").count(), 3, "{actions:?}");
        assert!(actions.contains(&"registration.document_delete"), "{actions:?}");
    }
}

on_both_databases! {
    async fn an_amendment_lowering_the_technology_amount_is_what_the_subsidy_then_counts(app: TestApp) {
        let seller = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let year = crate::subsidy::year();
        let (id, number) = registered(&app, &seller, &official, license(yuan(1_000_000))).await;

        // Not counted until paid in full (交易完成) and the payment is confirmed.
        let before = seller_preview(&app, &seller).await;
        assert_eq!((before["amount_fen"].as_i64(), before["ineligible"][0]["deal_id"].as_str()), (Some(0), Some(id.as_str())));
        let reasons: Vec<&str> = before["ineligible"][0]["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
        assert_eq!(reasons, ["no_payment_in_year", "not_completed"]);
        paid(&app, &seller, &official, &id, yuan(1_000_000), &format!("{year}-06-30")).await;
        // 1% of the paid technology amount (100万): 1万 yuan.
        let counted = seller_preview(&app, &seller).await;
        assert_eq!(counted["amount_fen"], yuan(10_000), "{counted}");

        // The seller asks to lower the technology amount; the office approves.
        let path = format!("/api/v1/registrations/{id}/amendments");
        let unchanged = app.post(&path, Some(&seller.token), json!({"reason": "无变化"})).await;
        assert_eq!(unchanged.json["errors"][0]["code"], "unchanged");
        let too_much = app.post(&path, Some(&seller.token),
            json!({"non_technical_amount_fen": yuan(2_000_000), "reason": "设备"})).await;
        too_much.assert_problem(422, "validation_failed");
        let asked = app.post(&path, Some(&seller.token),
            json!({"non_technical_amount_fen": yuan(400_000), "reason": "补充协议：设备费40万元另计"})).await;
        asked.assert_status(200);
        assert_eq!(asked.json["status"], "amendment_requested");
        assert!(asked.json["decide_by"].is_string(), "the office's clock runs for a change too");
        app.post(&path, Some(&seller.token), json!({"total_amount_fen": yuan(900_000), "reason": "再改"}))
            .await
            .assert_problem(409, "invalid_state");
        // The registration stays in force meanwhile.
        let check = format!("/api/v1/registrations/verify?number={number}&credit_code={}", seller.credit_code);
        assert_eq!(app.get(&check, None).await.json["valid"], true);
        let decision = format!("/api/v1/registrations/{id}/decision");
        app.post(&decision, Some(&official), json!({"decision": "request_more", "message": "?"}))
            .await
            .assert_problem(409, "invalid_state");
        let amended = app.post(&decision, Some(&official), json!({"decision": "register"})).await;
        amended.assert_status(200);
        assert_eq!(amended.json["status"], "registered");
        assert_eq!(amended.json["registration_number"], number.as_str(), "the number stays");
        assert_eq!(amended.json["registered_technology_amount_fen"], yuan(600_000));
        assert_eq!(amended.json["contract"]["non_technical_amount_fen"], yuan(400_000));
        assert_eq!(amended.json["decide_by"], Value::Null);

        // The subsidy now counts 60万: 6000 yuan.
        let after = seller_preview(&app, &seller).await;
        assert_eq!(after["amount_fen"], yuan(6_000), "{after}");
        assert_eq!(app.get(&check, None).await.json["certificate"]["registered_technology_amount_fen"], yuan(600_000));

        // A refused change leaves the registration as it was, in the record.
        app.post(&path, Some(&seller.token), json!({"total_amount_fen": yuan(800_000), "reason": "降价"}))
            .await
            .assert_status(200);
        let refused = app.post(&decision, Some(&official),
            json!({"decision": "refuse", "reasons": ["proofs_missing"], "message": "未附补充协议"})).await;
        refused.assert_status(200);
        assert_eq!(refused.json["status"], "registered");
        assert_eq!(refused.json["contract"]["total_amount_fen"], yuan(1_000_000));
        let record = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        let changes: Vec<(&str, &str)> = record.json["changes"].as_array().unwrap().iter()
            .map(|c| (c["kind"].as_str().unwrap(), c["status"].as_str().unwrap())).collect();
        assert_eq!(changes, [("amendment", "approved"), ("amendment", "refused")]);
        assert_eq!(record.json["changes"][1]["refusal_reasons"], json!(["proofs_missing"]));
        let events: Vec<&str> = record.json["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert!(events.ends_with(&["amendment_requested", "amended", "amendment_requested", "change_refused"]), "{events:?}");
    }
}

on_both_databases! {
    async fn a_cancellation_voids_the_certificate_and_leaves_statistics_and_subsidies(app: TestApp) {
        let seller = app.register_org("institute").await;
        let (_, official) = app.staff(Role::Official).await;
        let year = crate::subsidy::year();
        // A transfer of 600万: exempt from VAT; of income tax, 500万 at most exempt and the rest halved.
        let mut transfer = license(yuan(6_000_000));
        transfer["contract"]["category"] = json!("transfer");
        let (id, number) = registered(&app, &seller, &official, transfer).await;
        let record = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        let tax = &record.json["tax_guidance"];
        assert_eq!((tax["vat"].as_str(), tax["income_tax"].as_str()), (Some("applies"), Some("applies")));
        assert_eq!((tax["income_tax_exempt_fen"].as_i64(), tax["income_tax_halved_fen"].as_i64()),
            (Some(yuan(5_000_000)), Some(yuan(1_000_000))));
        paid(&app, &seller, &official, &id, yuan(6_000_000), &format!("{year}-03-01")).await;
        assert_eq!(seller_preview(&app, &seller).await["amount_fen"], yuan(60_000));
        let today = techtrade_db::today();
        let statistics = format!("/api/v1/statistics/registrations?from={today}&to={today}&region=6301");
        let counted = |page: &Value| -> i64 {
            page["rows"].as_array().unwrap().iter().filter(|r| r["key"] == "transfer").map(|r| r["count"].as_i64().unwrap()).sum()
        };
        let before = counted(&app.get(&statistics, Some(&official)).await.json);
        assert!(before >= 1);

        // Only the seller asks; a buyer or stranger cannot.
        let path = format!("/api/v1/registrations/{id}/cancellation");
        app.post(&path, Some(&official), json!({"reason": "x"})).await.assert_problem(403, "forbidden");
        let blank = app.post(&path, Some(&seller.token), json!({"reason": "  "})).await;
        assert_eq!(blank.json["errors"][0]["field"], "reason");
        let asked = app.post(&path, Some(&seller.token), json!({"reason": "合同已协议解除"})).await;
        assert_eq!(asked.json["status"], "cancellation_requested");
        let cancelled = app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&official),
            json!({"decision": "register", "message": "准予注销"})).await;
        cancelled.assert_status(200);
        assert_eq!(cancelled.json["status"], "cancelled");

        // The certificate is void; the contract leaves the statistics and the subsidy.
        let check = app.get(&format!("/api/v1/registrations/verify?number={number}&credit_code={}", seller.credit_code), None).await;
        assert_eq!((check.json["valid"].as_bool(), check.json["cancelled"].as_bool()), (Some(false), Some(true)));
        let certificate = format!("/api/v1/registrations/{id}/certificate");
        let void = crate::registrations::certificate_as(&app, &certificate, &seller.token, "text/html").await;
        assert!(void.text.contains("本登记已注销"), "{}", void.text);
        assert_eq!(app.get(&certificate, Some(&seller.token)).await.json["cancelled"], true);
        let record = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        assert_eq!(record.json["tax_guidance"], Value::Null, "no guidance on a cancelled registration");
        assert_eq!(counted(&app.get(&statistics, Some(&official)).await.json), before - 1);
        let after = seller_preview(&app, &seller).await;
        assert_eq!((after["amount_fen"].as_i64(), after["ineligible"].as_array().map(Vec::len)), (Some(0), Some(0)),
            "the seller has no contract left: {after}");
        // Nothing more is done to a cancelled registration.
        app.post(&format!("/api/v1/registrations/{id}/amendments"), Some(&seller.token),
            json!({"total_amount_fen": yuan(1), "reason": "x"})).await.assert_problem(409, "invalid_state");
        app.post_multipart(&format!("/api/v1/registrations/{id}/documents"), Some(&seller.token), &[("kind", "proof")],
            Some(("a.pdf", "application/pdf", PDF))).await.assert_problem(409, "invalid_state");
    }
}

on_both_databases! {
    async fn declared_payments_need_a_proof_of_the_application_and_an_officials_word(app: TestApp) {
        let seller = app.register_org("enterprise").await;
        let buyer = app.register_org("enterprise").await;
        let official_of_seller = app.official_of(&seller).await;
        let (_, official) = app.staff(Role::Official).await;
        let year = crate::subsidy::year();
        let id = draft(&app, &seller, license(yuan(100_000))).await;
        let path = format!("/api/v1/registrations/{id}/payments");
        let contract_text = upload(&app, &seller, &id, "contract").await;
        let body = |amount: i64, paid_on: String, proof: &Value| json!({"amount_fen": amount, "paid_on": paid_on, "proof_document_id": proof["id"]});
        // Not before registration.
        app.post(&path, Some(&seller.token), body(yuan(1), format!("{year}-02-01"), &contract_text))
            .await
            .assert_problem(409, "invalid_state");
        app.post(&format!("/api/v1/registrations/{id}/submit"), Some(&seller.token), json!({})).await.assert_status(200);
        app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&official), json!({"decision": "register"}))
            .await
            .assert_status(200);
        let proof = upload(&app, &seller, &id, "proof").await;

        // The contract's text proves no payment; a future day, a day before
        // signing, more than the contract: each told on its field.
        let not_proof = app.post(&path, Some(&seller.token), body(yuan(1), format!("{year}-02-01"), &contract_text)).await;
        assert_eq!(not_proof.json["errors"][0]["code"], "not_a_proof");
        let ghost = app.post(&path, Some(&seller.token), json!({"amount_fen": 1, "paid_on": format!("{year}-02-01"), "proof_document_id": "nope"})).await;
        assert_eq!(ghost.json["errors"][0]["field"], "proof_document_id");
        let future = app.post(&path, Some(&seller.token), body(yuan(1), "2999-01-01".into(), &proof)).await;
        assert_eq!(future.json["errors"][0]["field"], "paid_on");
        let early = app.post(&path, Some(&seller.token), body(yuan(1), format!("{year}-01-01"), &proof)).await;
        assert_eq!(early.json["errors"][0]["code"], "before_signing");
        let first = app.post(&path, Some(&seller.token), body(yuan(60_000), format!("{year}-02-01"), &proof)).await;
        first.assert_status(201);
        let over = app.post(&path, Some(&seller.token), body(yuan(50_000), format!("{year}-03-01"), &proof)).await;
        assert_eq!(over.json["errors"][0]["code"], "exceeds_contract");
        app.post(&path, Some(&buyer.token), body(yuan(1), format!("{year}-02-01"), &proof)).await.assert_problem(404, "not_found");

        // An official decides; not one of the seller's, and a rejection says why.
        let decision = format!("{path}/{}/decision", first.json["id"].as_str().unwrap());
        app.post(&decision, Some(&seller.token), json!({"confirmed": true})).await.assert_problem(403, "forbidden");
        app.post(&decision, Some(&official_of_seller), json!({"confirmed": true})).await.assert_problem(403, "own_organization");
        let bare = app.post(&decision, Some(&official), json!({"confirmed": false})).await;
        assert_eq!(bare.json["errors"][0]["field"], "note");
        let rejected = app.post(&decision, Some(&official), json!({"confirmed": false, "note": "回单金额与合同不符"})).await;
        assert_eq!(rejected.json["status"], "rejected");
        app.post(&decision, Some(&official), json!({"confirmed": true})).await.assert_problem(409, "invalid_state");
        // A rejected payment no longer counts against the contract's total.
        app.post(&path, Some(&seller.token), body(yuan(100_000), format!("{year}-03-01"), &proof)).await.assert_status(201);
        let record = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        let statuses: Vec<&str> = record.json["payments"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["rejected", "declared"]);
    }
}

on_both_databases! {
    async fn the_statistics_are_the_sums_of_the_registrations_made(app: TestApp) {
        let (_, official) = app.staff(Role::Official).await;
        let university = app.register_org("university").await;
        let enterprise = app.register_org("enterprise").await;
        // Contracts of this test alone: a region prefix no other test's sellers have is not
        // available, so the figures are compared before and after.
        let today = techtrade_db::today();
        let path = |group: &str| format!("/api/v1/statistics/registrations?from={today}&to={today}&group_by={group}");
        let before = app.get(&path("seller_kind"), Some(&official)).await;
        before.assert_status(200);

        let made = [
            (&university, "license", yuan(1_000_000), yuan(100_000), "agriculture"),
            (&university, "development", yuan(300_000), 0, "new_materials"),
            (&enterprise, "license", yuan(50_000), yuan(20_000), "agriculture"),
        ];
        for (seller, category, total, non_technical, field) in made {
            let mut body = license(total);
            body["contract"]["category"] = json!(category);
            body["contract"]["non_technical_amount_fen"] = json!(non_technical);
            body["contract"]["technology_field"] = json!(field);
            registered(&app, seller, &official, body).await;
        }
        // A refused one counts nowhere.
        let refused = submitted_with(&app, &enterprise, license(yuan(70_000))).await;
        app.post(&format!("/api/v1/registrations/{}/decision", refused["id"].as_str().unwrap()), Some(&official),
            json!({"decision": "refuse", "reasons": ["not_technology_contract"]})).await.assert_status(200);

        let after = app.get(&path("seller_kind"), Some(&official)).await;
        let figures = |page: &Value, key: &str| -> (i64, i64, i64) {
            page["rows"].as_array().unwrap().iter().find(|r| r["key"] == key)
                .map_or((0, 0, 0), |r| (r["count"].as_i64().unwrap(), r["total_fen"].as_i64().unwrap(), r["technology_fen"].as_i64().unwrap()))
        };
        let grew = |key: &str, page_before: &Value, page_after: &Value| {
            let (a, b) = (figures(page_before, key), figures(page_after, key));
            (b.0 - a.0, b.1 - a.1, b.2 - a.2)
        };
        let mut expected_university = (0, 0, 0);
        let mut expected_enterprise = (0, 0, 0);
        for (seller, _, total, non_technical, _) in made {
            let sums = if seller.id == university.id { &mut expected_university } else { &mut expected_enterprise };
            *sums = (sums.0 + 1, sums.1 + total, sums.2 + total - non_technical);
        }
        assert_eq!(grew("university", &before.json, &after.json), expected_university);
        assert_eq!(grew("enterprise", &before.json, &after.json), expected_enterprise);
        // The totals are the rows' sums, under every grouping.
        for group in ["category", "technology_field", "seller_kind", "region", "month"] {
            let page = app.get(&path(group), Some(&official)).await;
            page.assert_status(200);
            let rows = page.json["rows"].as_array().unwrap();
            for (i, column) in [(0, "count"), (1, "total_fen"), (2, "technology_fen")] {
                let sum: i64 = rows.iter().map(|r| r[column].as_i64().unwrap()).sum();
                assert_eq!(sum, page.json["totals"][column].as_i64().unwrap(), "{group} {column} ({i})");
            }
            assert_eq!(page.json["totals"]["count"], after.json["totals"]["count"]);
        }
        let total_growth = after.json["totals"]["total_fen"].as_i64().unwrap() - before.json["totals"]["total_fen"].as_i64().unwrap();
        assert_eq!(total_growth, made.iter().map(|m| m.2).sum::<i64>());

        // The CSV carries the same numbers, the totals last.
        let csv = app.get(&path("seller_kind").replace("/registrations?", "/registrations.csv?"), Some(&official)).await;
        csv.assert_status(200);
        assert!(csv.header("content-type").starts_with("text/csv"));
        let text = csv.text.trim_start_matches('\u{feff}');
        let last = text.lines().last().unwrap();
        assert_eq!(last, format!("total,{},{},{}", after.json["totals"]["count"], after.json["totals"]["total_fen"], after.json["totals"]["technology_fen"]));
        // Members see none of it; a bad grouping is told on its parameter.
        app.get(&path("category"), Some(&university.token)).await.assert_problem(403, "forbidden");
        let odd = app.get(&path("colour"), Some(&official)).await;
        odd.assert_status(400);
    }
}

on_both_databases! {
    async fn the_office_hears_of_its_queue_and_nearing_deadlines_and_the_seller_of_decisions(app: TestApp) {
        let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
        let app = app.with_office_day(day("2026-09-28"));
        let seller = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let application = submitted_with(&app, &seller, contract(yuan(1_000_000), 0)).await;
        let id = application["id"].as_str().unwrap().to_string();
        assert_eq!(application["decide_by"], "2026-10-23");
        let events = |app: &TestApp| {
            let mut conn = app.database.connect();
            techtrade_db::outbox::events_after(&mut conn, 0, 10_000)
                .unwrap()
                .into_iter()
                .filter(|e| e.aggregate_id == id)
                .map(|e| (e.event_type, serde_json::from_str::<Value>(&e.payload).unwrap()))
                .collect::<Vec<_>>()
        };
        let submitted = events(&app);
        assert_eq!(submitted.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["registration.submitted"]);
        assert_eq!(submitted[0].1["decide_by"], "2026-10-23");
        assert_eq!(submitted[0].1["seller_organization_id"], seller.id.as_str());

        // Nothing is near on 28 September; on Tuesday 20 October three
        // working days are left: one reminder, once.
        assert_eq!(app.remind_due().await, 0);
        let app = app.with_office_day(day("2026-10-20"));
        assert_eq!(app.remind_due().await, 1);
        assert_eq!(app.remind_due().await, 0, "once per deadline");
        let (kind, due) = events(&app).pop().unwrap();
        assert_eq!((kind.as_str(), due["working_days_left"].as_i64()), ("registration.due", Some(3)));

        // More material asked: the seller hears of it, with what is missing;
        // answered, the deadline moves and is a new one to remind of.
        app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&official),
            json!({"decision": "request_more", "message": "请补充发票。"})).await.assert_status(200);
        let app = app.with_office_day(day("2026-10-26"));
        let answered = app.post(&format!("/api/v1/registrations/{id}/answer"), Some(&seller.token), json!({})).await;
        assert_eq!(answered.json["decide_by"], "2026-10-29");
        assert_eq!(app.remind_due().await, 1, "the moved deadline is near too");
        let registered = app.post(&format!("/api/v1/registrations/{id}/decision"), Some(&official),
            json!({"decision": "register"})).await;
        registered.assert_status(200);
        let all = events(&app);
        let kinds: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(kinds, ["registration.submitted", "registration.due", "registration.more_requested",
            "registration.answered", "registration.due", "registration.registered"]);
        assert_eq!(all[2].1["message"], "请补充发票。");
        assert_eq!(all[5].1["registration_number"], registered.json["registration_number"]);
        // Decided, it is no longer reminded of.
        assert_eq!(app.with_office_day(day("2026-10-29")).remind_due().await, 0);
    }
}

on_both_databases! {
    async fn the_office_works_its_queue_in_the_console(app: TestApp) {
        use techtrade_tests::web::signed_in;
        let seller = app.register_org("university").await;
        let application = submitted_with(&app, &seller, contract(yuan(3_000_000), yuan(40_000))).await;
        let id = application["id"].as_str().unwrap().to_string();
        let official = app.staff_account(Role::Official, None).await;
        let mut browser = signed_in(&app, &official.email, &official.password).await;

        // The queue: the application, its deadline, its documents, the forms prefilled.
        let queue = browser.get("/console/office").await;
        queue.assert_status(200);
        assert!(queue.text.contains(&format!("id=\"application-{id}\"")), "{}", queue.text);
        assert!(queue.text.contains("剩余 15 个工作日") || queue.text.contains("working days left"), "{}", queue.text);
        assert!(queue.text.contains("value=\"3000000.00\"") || queue.text.contains("value=\"3000000\""), "prefilled");
        assert!(queue.text.contains("技术开发合同.pdf"), "the contract's document is listed");
        let document = application_document(&app, &seller, &id).await;
        let opened = browser.get(&format!("/registrations/{id}/documents/{document}")).await;
        opened.assert_status(200);
        assert_eq!(opened.bytes, crate::registrations::PDF);

        // More material without saying what: refused on the field, the form kept.
        let path = format!("/console/office/{id}");
        let bare = browser.submit("/console/office", &path, &[("decision", "request_more"), ("message", "")]).await;
        bare.assert_status(422);
        assert!(bare.text.contains(&format!("id=\"more-{id}-error\"")), "{}", bare.text);
        // A registered technology amount above the total: refused on its field.
        let over = browser.submit("/console/office", &path,
            &[("decision", "register"), ("total_yuan", "3000000"), ("technology_yuan", "3000000.01")]).await;
        over.assert_status(422);
        assert!(over.text.contains(&format!("id=\"technology-{id}-error\"")), "{}", over.text);
        // Registered with the 核定 amount: the number shown, the certificate printable.
        let done = browser.submit("/console/office", &path,
            &[("decision", "register"), ("total_yuan", "3000000"), ("technology_yuan", "2,900,000")]).await;
        done.assert_status(303);
        let shown = browser.get(done.header("location")).await;
        let stored = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
        let number = stored.json["registration_number"].as_str().unwrap();
        assert_eq!(stored.json["registered_technology_amount_fen"], yuan(2_900_000));
        assert!(shown.text.contains(&format!("id=\"issued-number\">{number}<")), "{}", shown.text);
        let mut member = signed_in(&app, &seller.email, &seller.password).await;
        let page = member.get(&format!("/registrations/{id}/certificate")).await;
        page.assert_status(200);
        assert!(page.text.contains(number) && page.text.contains("2,900,000.00 元"), "{}", page.text);
        let pdf = member.get(&format!("/registrations/{id}/certificate.pdf")).await;
        assert!(pdf.bytes.starts_with(b"%PDF-"), "{} {}", pdf.status, pdf.text);
        // Another member sees neither.
        let stranger = app.register_org("enterprise").await;
        let mut other = signed_in(&app, &stranger.email, &stranger.password).await;
        other.get(&format!("/registrations/{id}/certificate")).await.assert_status(404);

        // A refusal names its reasons, ticked.
        let refused = submitted_with(&app, &seller, contract(yuan(100_000), 0)).await;
        let refused_id = refused["id"].as_str().unwrap();
        let path = format!("/console/office/{refused_id}");
        let none = browser.submit("/console/office", &path, &[("decision", "refuse")]).await;
        assert!(none.text.contains(&format!("id=\"reasons-{refused_id}-error\"")), "{}", none.text);
        browser.submit("/console/office", &path,
            &[("decision", "refuse"), ("reasons", "price_unclear"), ("reasons", "proofs_missing")]).await.assert_status(303);
        let stored = app.get(&format!("/api/v1/registrations/{refused_id}"), Some(&seller.token)).await;
        assert_eq!(stored.json["refusal_reasons"], json!(["price_unclear", "proofs_missing"]));
        let listed = browser.get("/console/office?view=refused").await;
        assert!(listed.text.contains(&format!("id=\"application-{refused_id}\"")));
    }
}

/// The id of application `id`'s first document.
async fn application_document(app: &TestApp, seller: &TestOrg, id: &str) -> String {
    let shown = app.get(&format!("/api/v1/registrations/{id}"), Some(&seller.token)).await;
    shown.json["documents"][0]["id"].as_str().unwrap().to_string()
}

on_both_databases! {
    async fn a_seller_applies_uploads_and_submits_in_the_workspace(app: TestApp) {
        use techtrade_tests::market;
        let m = market::market(&app, &["assignment"]).await;
        let deal = market::contracted_deal(&app, &m, yuan(200_000)).await;
        let mut seller = techtrade_tests::web::signed_in(&app, &m.seller.email, &m.seller.password).await;
        let list = seller.get("/workspace/registrations").await;
        list.assert_status(200);
        assert!(list.text.contains(&format!("id=\"deal-{deal}\"")), "the platform contract waits: {}", list.text);
        assert!(list.text.contains("id=\"no-applications\""));

        // A contract signed elsewhere: an amount that is not one is refused on its input.
        let new = "/workspace/registrations";
        let bad = seller.submit(new, new, &[("contract.category", "development"), ("contract.total_amount_yuan", "三十万")]).await;
        bad.assert_status(422);
        assert!(bad.text.contains("id=\"contract.total_amount_yuan-error\""), "{}", bad.text);
        let credit_code = techtrade_tests::credit_code();
        let typed = [
            ("contract.category", "development"),
            ("contract.subcategory", "commissioned_development"),
            ("contract.buyer.name", "西宁高原光伏科技有限公司"),
            ("contract.buyer.credit_code", credit_code.as_str()),
            ("contract.buyer.region_code", "630104"),
            ("contract.total_amount_yuan", "300,000"),
            ("contract.signed_on", "2026-09-01"),
            ("contract.valid_until", "2026-08-31"),
            ("contract.technology_field", "new_materials"),
            ("contract.ip_type", "patent"),
        ];
        // Ending before it was signed: the message on that date, what was typed kept.
        let early = seller.submit(new, new, &typed).await;
        early.assert_status(422);
        assert!(early.text.contains("id=\"contract.valid_until-error\""), "{}", early.text);
        assert!(early.text.contains("value=\"西宁高原光伏科技有限公司\""));
        let mut fixed = typed.to_vec();
        fixed[7] = ("contract.valid_until", "2028-08-31");
        let made = seller.submit(new, new, &fixed).await;
        made.assert_status(303);
        let page = made.header("location").to_string();
        let id = page.trim_start_matches("/workspace/registrations/").split('?').next().unwrap().to_string();
        let stored = app.get(&format!("/api/v1/registrations/{id}"), Some(&m.seller.token)).await;
        assert_eq!((stored.json["status"].as_str(), stored.json["contract"]["total_amount_fen"].as_i64()), (Some("draft"), Some(yuan(300_000))));
        assert_eq!(stored.json["contract"]["non_technical_amount_fen"], 0);

        // Not submitted without the contract's text; a ZIP named .pdf is refused by its bytes.
        let bare = seller.submit(&page, &format!("/workspace/registrations/{id}/submit"), &[]).await;
        bare.assert_status(409);
        assert!(bare.text.contains("id=\"documents-error\""), "{}", bare.text);
        let action = format!("/workspace/registrations/{id}/documents");
        let zip = seller.upload(&page, &action, &[("kind", "contract")], ("合同.pdf", "application/pdf", ZIP)).await;
        zip.assert_status(422);
        assert!(zip.text.contains("id=\"file-error\""), "{}", zip.text);
        // An upload without the page's token is refused before it is read.
        app.post_multipart(&action, None, &[("kind", "contract")], Some(("a.pdf", "application/pdf", PDF)))
            .await
            .assert_status(403);
        let uploaded = seller.upload(&page, &action, &[("kind", "contract")], ("技术开发合同.pdf", "application/pdf", PDF)).await;
        uploaded.assert_status(303);
        let shown = seller.get(uploaded.header("location")).await;
        assert!(shown.text.contains("技术开发合同.pdf") && shown.text.contains("id=\"submit-application\""), "{}", shown.text);
        let sent = seller.submit(&page, &format!("/workspace/registrations/{id}/submit"), &[]).await;
        sent.assert_status(303);
        let shown = seller.get(sent.header("location")).await;
        assert!(shown.text.contains("data-done=\"submit\""), "{}", shown.text);
        let stored = app.get(&format!("/api/v1/registrations/{id}"), Some(&m.seller.token)).await;
        assert_eq!(stored.json["status"], "submitted");

        // The platform contract: the period of validity is required, then a draft from the deal.
        let none = seller.submit(new, new, &[("deal_id", deal.as_str())]).await;
        none.assert_status(422);
        assert!(none.text.contains(&format!("id=\"valid-until-{deal}-error\"")), "{}", none.text);
        let applied = seller.submit(new, new, &[("deal_id", deal.as_str()), ("terms.valid_until", "2031-11-19"), ("terms.ip_type", "patent")]).await;
        applied.assert_status(303);
        let list = seller.get("/workspace/registrations").await;
        assert!(!list.text.contains(&format!("id=\"deal-{deal}\"")), "applied for: {}", list.text);
        assert_eq!(list.text.matches("data-status=\"").count(), 2);
        // A buyer has nothing to apply for, and a stranger cannot read the seller's application.
        let mut buyer = techtrade_tests::web::signed_in(&app, &m.buyer.email, &m.buyer.password).await;
        assert!(!buyer.get("/workspace/registrations").await.text.contains(&format!("id=\"deal-{deal}\"")));
        let stranger = app.register_org("enterprise").await;
        let mut other = techtrade_tests::web::signed_in(&app, &stranger.email, &stranger.password).await;
        other.get(&page).await.assert_status(404);
    }
}

//! The authorization matrix: every route of the OpenAPI document, called by
//! every kind of caller, with the status each must get — one table, run in
//! full on both databases.
//!
//! The callers: the public, a member of the organisation that owns the
//! object (the seller of a deal, the claimant of a claim), a member of the
//! counterparty (the buyer of a deal), a member of an unrelated
//! organisation, an official of no organisation, an official whose
//! organisation is the owner (so reviewing its own claims and listings is a
//! conflict of interest), and an admin. Objects a caller may not see answer
//! 404, never 403, so their existence does not leak.
//!
//! A cell that should succeed and changes state runs against a fresh world
//! (its own organisations and objects); every other cell shares one world,
//! so the table stays independent of the order of its rows.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};

use axum::http::Method;
use chrono::Datelike;
use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_tests::{TestApp, TestOrg, on_both_databases, unique};

/// Who calls, in the order of each row's expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Owner,
    Counterparty,
    Stranger,
    Official,
    OfficialOfOwner,
    Admin,
    SecurityAdmin,
    Auditor,
}

const CALLERS: [Caller; 9] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::Counterparty,
    Caller::Stranger,
    Caller::Official,
    Caller::OfficialOfOwner,
    Caller::Admin,
    Caller::SecurityAdmin,
    Caller::Auditor,
];

/// One route called with one body; `expect` follows [`CALLERS`]. Path and
/// body name the fixtures they need as `{placeholder}`s (see [`World::fill`]).
struct Row {
    method: &'static str,
    path: &'static str,
    body: &'static str,
    expect: [u16; 9],
    /// Fixtures the call needs that neither path nor body names.
    needs: &'static str,
}

const fn row(method: &'static str, path: &'static str, body: &'static str, expect: [u16; 9]) -> Row {
    Row { method, path, body, expect, needs: "" }
}

const fn row_after(
    needs: &'static str,
    method: &'static str,
    path: &'static str,
    body: &'static str,
    expect: [u16; 9],
) -> Row {
    Row { method, path, body, expect, needs }
}

const LISTING: &str = r#"{"kind": "achievement", "title": "盐湖卤水提锂吸附剂制备技术", "summary": "铝系吸附剂，已完成中试。",
    "ipc": ["C22B26/12"], "maturity": "pilot", "trade_modes": ["assignment", "exclusive_license"],
    "price_fen": 100000000, "negotiable": true, "region_code": "630100"}"#;
const DEMAND: &str = r#"{"title": "退役动力锂电池回收技术", "description": "寻求正极材料再生的成熟技术。", "ipc": ["H01M10/54"],
    "budget_min_fen": 50000000, "budget_max_fen": 300000000, "negotiable": true,
    "trade_modes": ["assignment"], "region_code": "630100"}"#;
const OFFER: &str = r#"{"amount_fen": 90000000, "trade_mode": "assignment", "terms": "含技术培训"}"#;
const CONTRACT: &str = r#"{"category": "transfer", "total_amount_fen": 1000000, "non_technical_amount_fen": 200000,
    "signed_on": "{today}", "related_party": false}"#;
/// An application for a contract signed off the platform, the buyer named.
const APPLICATION: &str = r#"{"contract": {"category": "transfer", "buyer": {"name": "青海某新能源有限公司",
    "credit_code": "{credit_code}", "region_code": "630104"}, "total_amount_fen": 1000000,
    "non_technical_amount_fen": 0, "signed_on": "{today}", "valid_until": "2099-12-31", "related_party": false}}"#;
const PAYMENT: &str = r#"{"method": "offline", "amount_fen": 1000000, "paid_on": "{today}", "reference": "ICBC-0001"}"#;
/// The completed deal's payment, dated in the year claimed for.
const PAYMENT_LAST_YEAR: &str =
    r#"{"method": "offline", "amount_fen": 1000000, "paid_on": "{last_year_day}", "reference": "ICBC-0002"}"#;
/// An upload's file: a minimal PDF.
const PDF_FILE: (&str, &str, &[u8]) = ("合同.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n");
/// Claims for a year open once it has ended: the claim is for last year.
const CLAIM: &str = r#"{"program_id": "qinghai", "year": {last_year}, "role": "seller"}"#;

/// The whole matrix. Columns: anonymous, owner, counterparty, stranger,
/// official, official of the owner, system administrator, security
/// administrator, auditor.
const TABLE: &[Row] = &[
    // Accounts.
    row(
        "POST",
        "/api/v1/organizations",
        r#"{"organization": {"name": "新单位{n}", "kind": "enterprise", "credit_code": "{credit_code}", "region_code": "630100"},
        "user": {"email": "{email}", "password": "a long enough password 1", "name": "新成员"}}"#,
        [201, 201, 201, 201, 201, 201, 201, 201, 201],
    ),
    row("GET", "/api/v1/organizations/{owner_org}", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/organizations/{owner_org}/members", "", [401, 200, 404, 404, 200, 200, 200, 404, 404]),
    row(
        "POST",
        "/api/v1/organizations/{owner_org}/members",
        r#"{"email": "{email}", "password": "a long enough password 1", "name": "新成员"}"#,
        // (Changed: only the organisation's administrators add members; an
        // official employed by it acts as a member, not an administrator.)
        [401, 201, 403, 403, 403, 403, 403, 403, 403],
    ),
    row(
        "PATCH",
        "/api/v1/organizations/{owner_org}/members/{owner_member}",
        r#"{"role": "admin"}"#,
        [401, 200, 404, 404, 404, 403, 404, 404, 404],
    ),
    row(
        "DELETE",
        "/api/v1/organizations/{owner_org}/members/{owner_member}",
        "",
        [401, 204, 404, 404, 404, 403, 404, 404, 404],
    ),
    row(
        "POST",
        "/api/v1/auth/login",
        r#"{"email": "{owner_email}", "password": "{owner_password}"}"#,
        [200, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    row("POST", "/api/v1/auth/logout", "", [401, 204, 204, 204, 204, 204, 204, 204, 204]),
    // Always 202, the same answer whoever asks and whatever the address.
    row(
        "POST",
        "/api/v1/auth/password-reset",
        r#"{"email": "{owner_email}"}"#,
        [202, 202, 202, 202, 202, 202, 202, 202, 202],
    ),
    // A made-up token: 422 on the field, whoever sends it.
    row(
        "POST",
        "/api/v1/auth/password-reset/confirm",
        r#"{"token": "tt_made_up", "new": "A new password 1"}"#,
        [422, 422, 422, 422, 422, 422, 422, 422, 422],
    ),
    // A made-up challenge: 401, whoever sends it.
    row(
        "POST",
        "/api/v1/auth/login/totp",
        r#"{"challenge": "tt_made_up", "code": "123456"}"#,
        [401, 401, 401, 401, 401, 401, 401, 401, 401],
    ),
    row("GET", "/api/v1/me", "", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    // The registration office: members apply for their organisation,
    // officials decide (never for a party), the parties see the record.
    row("POST", "/api/v1/registrations", APPLICATION, [401, 201, 201, 201, 403, 201, 403, 403, 403]),
    row("GET", "/api/v1/registrations", "", [401, 200, 200, 200, 200, 200, 200, 403, 403]),
    // Anyone checks a certificate they hold (a pair that matches none: not valid).
    row(
        "GET",
        "/api/v1/registrations/verify?number=6301012026999999&credit_code={credit_code}",
        "",
        [200, 200, 200, 200, 200, 200, 200, 200, 200],
    ),
    // A draft is the seller's (and the buyer's on the platform) until submitted.
    row("GET", "/api/v1/registrations/{application}", "", [401, 200, 200, 404, 404, 200, 404, 404, 404]),
    row("POST", "/api/v1/registrations/{application}/submit", "", [401, 200, 403, 404, 404, 200, 404, 404, 404]),
    row(
        "POST",
        "/api/v1/registrations/{asked_application}/answer",
        r#"{"message": "已补充。"}"#,
        [401, 200, 403, 404, 403, 200, 403, 404, 404],
    ),
    row(
        "POST",
        "/api/v1/registrations/{submitted_application}/decision",
        r#"{"decision": "register"}"#,
        [401, 403, 403, 404, 200, 403, 200, 404, 404],
    ),
    row(
        "POST",
        "/api/v1/registrations/{submitted_application}/dispute",
        r#"{"reason": "第三方主张该技术的权属"}"#,
        [401, 403, 403, 404, 200, 403, 200, 404, 404],
    ),
    // The seller adds documents (a body `multipart:<kind>` is sent as the
    // upload form with a PDF); the parties read them, and officials once
    // the application is submitted (`{application}` is a draft).
    row(
        "POST",
        "/api/v1/registrations/{application}/documents",
        "multipart:proof",
        [401, 201, 403, 404, 404, 201, 404, 404, 404],
    ),
    row(
        "GET",
        "/api/v1/registrations/{application}/documents/{application_document}",
        "",
        [401, 200, 200, 404, 404, 200, 404, 404, 404],
    ),
    row(
        "DELETE",
        "/api/v1/registrations/{application}/documents/{application_document}",
        "",
        [401, 204, 403, 404, 404, 204, 404, 404, 404],
    ),
    row(
        "GET",
        "/api/v1/registrations/{registered_application}/certificate",
        "",
        [401, 200, 200, 404, 200, 200, 200, 404, 404],
    ),
    // The seller asks for changes and declares payments; officials decide.
    row(
        "POST",
        "/api/v1/registrations/{registered_application}/amendments",
        r#"{"total_amount_fen": 500000, "reason": "补充协议降低价款"}"#,
        [401, 200, 403, 404, 403, 200, 403, 404, 404],
    ),
    row(
        "POST",
        "/api/v1/registrations/{registered_application}/cancellation",
        r#"{"reason": "合同已解除"}"#,
        [401, 200, 403, 404, 403, 200, 403, 404, 404],
    ),
    row(
        "POST",
        "/api/v1/registrations/{registered_application}/payments",
        r#"{"amount_fen": 1000, "paid_on": "{today}", "proof_document_id": "{proof_document}"}"#,
        [401, 201, 403, 404, 403, 201, 403, 404, 404],
    ),
    row(
        "POST",
        "/api/v1/registrations/{registered_application}/payments/{declared_payment}/decision",
        r#"{"confirmed": true}"#,
        [401, 403, 403, 404, 200, 403, 200, 404, 404],
    ),
    // Everyone may have a second factor; with none enrolled or pending,
    // the steps that need one are a conflict.
    row("GET", "/api/v1/me/totp", "", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("POST", "/api/v1/me/totp", "", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("POST", "/api/v1/me/totp/confirm", r#"{"code": "000000"}"#, [401, 409, 409, 409, 409, 409, 409, 409, 409]),
    row(
        "POST",
        "/api/v1/me/totp/recovery-codes",
        r#"{"code": "000000"}"#,
        [401, 409, 409, 409, 409, 409, 409, 409, 409],
    ),
    row("DELETE", "/api/v1/me/totp", r#"{"code": "000000"}"#, [401, 409, 409, 409, 409, 409, 409, 409, 409]),
    row("GET", "/api/v1/me/sessions", "", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("DELETE", "/api/v1/me/sessions/{owner_session}", "", [401, 204, 404, 404, 404, 404, 404, 404, 404]),
    row(
        "POST",
        "/api/v1/me/password",
        r#"{"current": "{owner_password}", "new": "{owner_password} 2"}"#,
        [401, 204, 422, 422, 422, 422, 422, 422, 422],
    ),
    row(
        "POST",
        "/api/v1/admin/users",
        r#"{"email": "{email}", "password": "a long enough password 1", "name": "审核员", "role": "official"}"#,
        // (Changed: the security administrator makes security staff only.)
        [401, 403, 403, 403, 403, 403, 201, 403, 403],
    ),
    row(
        "POST",
        "/api/v1/admin/users",
        r#"{"email": "{email}", "password": "a long enough password 1", "name": "审计员", "role": "auditor"}"#,
        // 三员分立: only the security administrator makes an auditor.
        [401, 403, 403, 403, 403, 403, 403, 201, 403],
    ),
    row("GET", "/api/v1/admin/users", "", [401, 403, 403, 403, 403, 403, 200, 200, 403]),
    row("POST", "/api/v1/admin/users/{staff_user}/disable", "", [401, 403, 403, 403, 403, 403, 200, 403, 403]),
    row("POST", "/api/v1/admin/users/{staff_user}/unlock", "", [401, 403, 403, 403, 403, 403, 403, 200, 403]),
    // Only the security administrator resets a second factor (409: none).
    row("DELETE", "/api/v1/admin/users/{staff_user}/totp", "", [401, 403, 403, 403, 403, 403, 403, 409, 403]),
    row(
        "PATCH",
        "/api/v1/admin/users/{staff_user}",
        r#"{"role": "admin"}"#,
        [401, 403, 403, 403, 403, 403, 403, 200, 403],
    ),
    // The audit trail: the auditor alone (the administrators' own actions are in it).
    row("GET", "/api/v1/audit", "", [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    row("GET", "/api/v1/audit?action=session&from={today}", "", [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    row("GET", "/api/v1/audit/export.csv", "", [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    row("GET", "/healthz", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/readyz", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Listings.
    row("POST", "/api/v1/listings", LISTING, [401, 201, 201, 201, 403, 201, 403, 403, 403]),
    row("GET", "/api/v1/listings", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/listings?mine=true", "", [401, 200, 200, 200, 403, 200, 403, 403, 403]),
    row("GET", "/api/v1/listings?status=pending_review", "", [403, 403, 403, 403, 200, 200, 200, 403, 403]),
    row("GET", "/api/v1/listings/{listing}", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/listings/{draft_listing}", "", [404, 200, 404, 404, 200, 200, 200, 404, 404]),
    row(
        "PATCH",
        "/api/v1/listings/{draft_listing}",
        r#"{"title": "改过的标题"}"#,
        [401, 200, 404, 404, 403, 200, 403, 404, 404],
    ),
    row("POST", "/api/v1/listings/{draft_listing}/submit", "", [401, 200, 404, 404, 403, 200, 403, 404, 404]),
    row(
        "POST",
        "/api/v1/listings/{pending_listing}/review",
        r#"{"decision": "approve"}"#,
        [401, 403, 403, 403, 200, 403, 200, 403, 403],
    ),
    row("POST", "/api/v1/listings/{listing}/withdraw", "", [401, 200, 403, 403, 403, 200, 403, 403, 403]),
    row("GET", "/api/v1/listings/{listing}/matches", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/listings/{draft_listing}/matches", "", [404, 200, 404, 404, 200, 200, 200, 404, 404]),
    // Demands.
    row("POST", "/api/v1/demands", DEMAND, [401, 201, 201, 201, 403, 201, 403, 403, 403]),
    row("GET", "/api/v1/demands", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/demands/{demand}", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/demands/{draft_demand}", "", [404, 200, 404, 404, 200, 200, 200, 404, 404]),
    row(
        "PATCH",
        "/api/v1/demands/{draft_demand}",
        r#"{"title": "改过的需求"}"#,
        [401, 200, 404, 404, 403, 200, 403, 404, 404],
    ),
    row("POST", "/api/v1/demands/{draft_demand}/submit", "", [401, 200, 404, 404, 403, 200, 403, 404, 404]),
    row(
        "POST",
        "/api/v1/demands/{pending_demand}/review",
        r#"{"decision": "approve"}"#,
        [401, 403, 403, 403, 200, 403, 200, 403, 403],
    ),
    row("POST", "/api/v1/demands/{demand}/withdraw", "", [401, 200, 403, 403, 403, 200, 403, 403, 403]),
    row("GET", "/api/v1/demands/{demand}/matches", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/demands/{draft_demand}/matches", "", [404, 200, 404, 404, 200, 200, 200, 404, 404]),
    // Search.
    row("GET", "/api/v1/search?q=锂", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/search/suggest?q=锂", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row(
        "POST",
        "/api/v1/saved-searches",
        r#"{"query": {"q": "锂电池"}, "notify": "email"}"#,
        [401, 201, 201, 201, 201, 201, 201, 201, 201],
    ),
    row("GET", "/api/v1/saved-searches", "", [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("DELETE", "/api/v1/saved-searches/{saved_search}", "", [401, 204, 404, 404, 404, 404, 404, 404, 404]),
    // Deals: the owner is the seller, the counterparty the buyer.
    row(
        "POST",
        "/api/v1/deals",
        r#"{"listing_id": "{listing}", "offer": {OFFER}}"#,
        [401, 422, 201, 201, 403, 422, 403, 403, 403],
    ),
    row("GET", "/api/v1/deals", "", [401, 200, 200, 200, 200, 200, 200, 403, 403]),
    row("GET", "/api/v1/deals/{deal}", "", [401, 200, 200, 404, 200, 200, 200, 404, 404]),
    row("POST", "/api/v1/deals/{deal}/offers", OFFER, [401, 201, 403, 404, 403, 201, 403, 404, 404]),
    row("POST", "/api/v1/deals/{deal}/accept", "", [401, 200, 403, 404, 403, 200, 403, 404, 404]),
    row("POST", "/api/v1/deals/{agreed_deal}/contract", CONTRACT, [401, 200, 403, 404, 403, 200, 403, 404, 404]),
    row(
        "POST",
        "/api/v1/deals/{contracted_deal}/registration",
        r#"{"decision": "register", "registered_technology_amount_fen": 800000}"#,
        [401, 403, 403, 404, 200, 403, 200, 404, 404],
    ),
    row("POST", "/api/v1/deals/{deal}/cancel", "{}", [401, 200, 200, 404, 403, 200, 403, 404, 404]),
    // Only a member of the agency a deal names may answer; the world's deals name none.
    row(
        "POST",
        "/api/v1/deals/{deal}/agency",
        r#"{"decision": "accept"}"#,
        [401, 404, 404, 404, 404, 404, 404, 404, 404],
    ),
    row("GET", "/api/v1/agency-invitations", "", [401, 200, 200, 200, 403, 200, 403, 403, 403]),
    row("POST", "/api/v1/deals/{contracted_deal}/payments", PAYMENT, [401, 403, 201, 404, 403, 403, 403, 404, 404]),
    row("POST", "/api/v1/payments/{payment}/confirm", "", [401, 200, 403, 404, 403, 200, 403, 404, 404]),
    // The payee rejects a recorded transfer; the payer withdraws it.
    row(
        "POST",
        "/api/v1/payments/{payment}/reject",
        r#"{"reason": "未到账"}"#,
        [401, 200, 403, 404, 403, 200, 403, 404, 404],
    ),
    row("POST", "/api/v1/payments/{payment}/cancel", "", [401, 403, 200, 404, 403, 403, 403, 404, 404]),
    // The payee gives money back; either party ends a registered contract.
    row(
        "POST",
        "/api/v1/payments/{confirmed_payment}/refund",
        r#"{"amount_fen": 1, "refunded_on": "{today}", "reference": "ICBC-REFUND"}"#,
        [401, 200, 403, 404, 403, 200, 403, 404, 404],
    ),
    row(
        "POST",
        "/api/v1/deals/{completed_deal}/terminate",
        r#"{"terminated_on": "{today}", "reason": "双方协商解除"}"#,
        [401, 200, 200, 404, 403, 200, 403, 404, 404],
    ),
    // Stripe signs its webhooks: unsigned is malformed (400), whoever calls.
    row(
        "POST",
        "/api/v1/webhooks/stripe",
        r#"{"id": "evt_1", "type": "payment_intent.succeeded"}"#,
        [400, 400, 400, 400, 400, 400, 400, 400, 400],
    ),
    // Subsidy: the owner is the claimant.
    row("GET", "/api/v1/subsidy/programs", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("POST", "/api/v1/subsidy/claims/preview", CLAIM, [401, 200, 200, 200, 403, 200, 403, 403, 403]),
    // The owner sold something last year; the counterparty and the stranger did not.
    row_after(
        "{completed_deal}",
        "POST",
        "/api/v1/subsidy/claims",
        CLAIM,
        [401, 201, 422, 422, 403, 201, 403, 403, 403],
    ),
    row("GET", "/api/v1/subsidy/claims", "", [401, 200, 200, 200, 200, 200, 200, 403, 403]),
    row("GET", "/api/v1/subsidy/claims/{claim}", "", [401, 200, 404, 404, 200, 200, 200, 404, 404]),
    row(
        "POST",
        "/api/v1/subsidy/claims/{claim}/review",
        r#"{"decision": "approve", "reason": "材料齐全"}"#,
        [401, 403, 403, 403, 200, 403, 200, 403, 403],
    ),
    row(
        "POST",
        "/api/v1/subsidy/rounds",
        r#"{"program_id": "sanming", "year": {year}}"#,
        [401, 403, 403, 403, 201, 201, 201, 403, 403],
    ),
    row("GET", "/api/v1/subsidy/rounds", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/subsidy/rounds/{round}", "", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET", "/api/v1/subsidy/rounds/{round}/disbursements", "", [401, 403, 403, 403, 200, 200, 200, 403, 403]),
    row("GET", "/api/v1/subsidy/rounds/{round}/export.csv", "", [401, 403, 403, 403, 200, 200, 200, 403, 403]),
    row(
        "POST",
        "/api/v1/subsidy/disbursements/{disbursement}/paid",
        r#"{"paid_on": "{today}", "reference": "国库集中支付-0001"}"#,
        [401, 403, 403, 403, 200, 403, 200, 403, 403],
    ),
    row(
        "POST",
        "/api/v1/subsidy/simulate",
        r#"{"program_id": "sanming", "year": {this_year}}"#,
        [401, 403, 403, 403, 200, 200, 200, 403, 403],
    ),
    // Statistics: officials and administrators.
    row("GET", "/api/v1/statistics", "", [401, 403, 403, 403, 200, 200, 200, 403, 403]),
    row("GET", "/api/v1/statistics/registrations", "", [401, 403, 403, 403, 200, 200, 200, 403, 403]),
    row("GET", "/api/v1/statistics/registrations.csv", "", [401, 403, 403, 403, 200, 200, 200, 403, 403]),
];

/// The callers and the objects of one run of a cell (or of many cells).
struct World<'a> {
    app: &'a TestApp,
    owner: TestOrg,
    counterparty: TestOrg,
    stranger: TestOrg,
    official: String,
    official_of_owner: String,
    admin: String,
    security_admin: String,
    auditor: String,
    /// Fixtures made so far, by placeholder.
    made: HashMap<&'static str, String>,
    /// The next year no round of `sanming` has been closed for (one per database).
    years: &'a std::sync::atomic::AtomicI32,
}

fn today() -> String {
    techtrade_db::today().to_string()
}

impl<'a> World<'a> {
    async fn new(app: &'a TestApp, years: &'a std::sync::atomic::AtomicI32) -> Self {
        let owner = app.register_org("university").await;
        let counterparty = app.register_org("enterprise").await;
        let stranger = app.register_org("institute").await;
        let (_, official) = app.staff(Role::Official).await;
        let (_, admin) = app.staff(Role::Admin).await;
        let (_, security_admin) = app.staff(Role::SecurityAdmin).await;
        let (_, auditor) = app.staff(Role::Auditor).await;
        // An official whose organisation is the owner, as `techtrade admin
        // create-user --organization-id` makes one.
        let n = unique();
        let email = format!("official-of-owner{n}@example.cn");
        let input = techtrade_accounts::NewUser {
            email: email.clone(),
            password: "official password 1".into(),
            name: format!("本单位审核员{n}"),
            role: Role::Official,
            organization_id: Some(owner.id.clone()),
            must_change_password: false,
        };
        techtrade_accounts::create_user(&app.state.db, &app.hasher, input, None, None).await.unwrap();
        let official_of_owner = app.login(&email, "official password 1").await;
        Self {
            app,
            owner,
            counterparty,
            stranger,
            official,
            official_of_owner,
            admin,
            security_admin,
            auditor,
            made: HashMap::new(),
            years,
        }
    }

    fn token(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Anonymous => None,
            Caller::Owner => Some(&self.owner.token),
            Caller::Counterparty => Some(&self.counterparty.token),
            Caller::Stranger => Some(&self.stranger.token),
            Caller::Official => Some(&self.official),
            Caller::OfficialOfOwner => Some(&self.official_of_owner),
            Caller::Admin => Some(&self.admin),
            Caller::SecurityAdmin => Some(&self.security_admin),
            Caller::Auditor => Some(&self.auditor),
        }
    }

    /// `text` with each `{placeholder}` replaced, making fixtures on first use.
    async fn fill(&mut self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else { break };
            let name = &rest[start + 1..start + len];
            let known = name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_uppercase());
            if name.is_empty() || !known {
                // JSON braces, not a placeholder.
                out.push_str(&rest[..=start]);
                rest = &rest[start + 1..];
                continue;
            }
            out.push_str(&rest[..start]);
            let value = Box::pin(self.value(name)).await;
            out.push_str(&value);
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out
    }

    async fn value(&mut self, name: &str) -> String {
        let n = unique();
        match name {
            "n" => n.to_string(),
            "email" => format!("new{n}@example.cn"),
            "credit_code" => techtrade_tests::credit_code(),
            "today" => today(),
            "this_year" => techtrade_db::today().year().to_string(),
            "last_year" => (techtrade_db::today().year() - 1).to_string(),
            "last_year_day" => format!("{}-06-30", techtrade_db::today().year() - 1),
            "year" => self.years.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string(),
            "owner_org" => self.owner.id.clone(),
            "owner_email" => self.owner.email.clone(),
            "owner_password" => self.owner.password.clone(),
            "OFFER" => OFFER.to_string(),
            "listing" => self.once("listing", |w| Box::pin(w.listing("published"))).await,
            "draft_listing" => self.once("draft_listing", |w| Box::pin(w.listing("draft"))).await,
            "pending_listing" => self.once("pending_listing", |w| Box::pin(w.listing("pending_review"))).await,
            "demand" => self.once("demand", |w| Box::pin(w.demand("published"))).await,
            "draft_demand" => self.once("draft_demand", |w| Box::pin(w.demand("draft"))).await,
            "pending_demand" => self.once("pending_demand", |w| Box::pin(w.demand("pending_review"))).await,
            "deal" => self.once("deal", |w| Box::pin(w.deal("negotiating"))).await,
            "agreed_deal" => self.once("agreed_deal", |w| Box::pin(w.deal("agreed"))).await,
            "contracted_deal" => self.once("contracted_deal", |w| Box::pin(w.deal("contracted"))).await,
            "completed_deal" => self.once("completed_deal", |w| Box::pin(w.deal("completed"))).await,
            "payment" => self.once("payment", |w| Box::pin(w.payment())).await,
            "confirmed_payment" => self.once("confirmed_payment", |w| Box::pin(w.confirmed_payment())).await,
            "claim" => self.once("claim", |w| Box::pin(w.claim())).await,
            "round" => self.once("round", |w| Box::pin(w.round())).await,
            "disbursement" => self.once("disbursement", |w| Box::pin(w.disbursement())).await,
            "saved_search" => self.once("saved_search", |w| Box::pin(w.saved_search())).await,
            "staff_user" => self.once("staff_user", |w| Box::pin(w.staff_user())).await,
            "owner_session" => self.once("owner_session", |w| Box::pin(w.owner_session())).await,
            "owner_member" => self.once("owner_member", |w| Box::pin(w.owner_member())).await,
            "application" => self.once("application", |w| Box::pin(w.application("draft"))).await,
            "submitted_application" => {
                self.once("submitted_application", |w| Box::pin(w.application("submitted"))).await
            }
            "asked_application" => self.once("asked_application", |w| Box::pin(w.application("more_requested"))).await,
            "registered_application" => {
                self.once("registered_application", |w| Box::pin(w.application("registered"))).await
            }
            "application_document" => self.once("application_document", |w| Box::pin(w.contract_document())).await,
            "proof_document" => self.once("proof_document", |w| Box::pin(w.proof_document())).await,
            "declared_payment" => self.once("declared_payment", |w| Box::pin(w.declared_payment())).await,
            other => panic!("unknown placeholder {{{other}}}"),
        }
    }

    async fn once<F>(&mut self, key: &'static str, make: F) -> String
    where
        F: for<'w> FnOnce(&'w mut Self) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + 'w>>,
    {
        if let Some(id) = self.made.get(key) {
            return id.clone();
        }
        let id = make(self).await;
        self.made.insert(key, id.clone());
        id
    }

    async fn post_ok(&mut self, token: &str, path: &str, body: &str, status: u16) -> Value {
        let body = self.fill(body).await;
        let body: Value = if body.is_empty() { json!({}) } else { serde_json::from_str(&body).unwrap() };
        let response = self.app.post(path, Some(token), body).await;
        response.assert_status(status);
        response.json
    }

    /// An official for an administrator to disable.
    async fn staff_user(&mut self) -> String {
        let n = unique();
        let input = techtrade_accounts::NewUser {
            email: format!("to-disable{n}@kjt.qinghai.gov.cn"),
            password: "official password 1".into(),
            name: format!("待停用审核员{n}"),
            role: Role::Official,
            organization_id: None,
            must_change_password: false,
        };
        techtrade_accounts::create_user(&self.app.state.db, &self.app.hasher, input, None, None).await.unwrap().id
    }

    /// A registration application of the owner's, the counterparty its
    /// buyer on the platform, in `status`.
    async fn application(&mut self, status: &str) -> String {
        let (owner, official) = (self.owner.token.clone(), self.official.clone());
        let body = APPLICATION.replace(
            r#""buyer": {"name": "青海某新能源有限公司",
    "credit_code": "{credit_code}", "region_code": "630104"}"#,
            &format!(r#""buyer": {{"organization_id": "{}"}}"#, self.counterparty.id),
        );
        let id = self.post_ok(&owner, "/api/v1/registrations", &body, 201).await["id"].as_str().unwrap().to_string();
        self.upload(&id, "contract").await;
        if status != "draft" {
            self.post_ok(&owner, &format!("/api/v1/registrations/{id}/submit"), "", 200).await;
        }
        if status == "more_requested" {
            let ask = r#"{"decision": "request_more", "message": "请补充合同附件。"}"#;
            self.post_ok(&official, &format!("/api/v1/registrations/{id}/decision"), ask, 200).await;
        }
        if status == "registered" {
            let register = r#"{"decision": "register"}"#;
            self.post_ok(&official, &format!("/api/v1/registrations/{id}/decision"), register, 200).await;
        }
        id
    }

    /// The owner uploads a document of `kind` (a PDF) to application `id`; its id.
    async fn upload(&mut self, id: &str, kind: &str) -> String {
        let path = format!("/api/v1/registrations/{id}/documents");
        let uploaded = self.app.post_multipart(&path, Some(&self.owner.token), &[("kind", kind)], Some(PDF_FILE)).await;
        uploaded.assert_status(201);
        uploaded.json["id"].as_str().unwrap().to_string()
    }

    /// The contract's text of the draft `{application}`.
    async fn contract_document(&mut self) -> String {
        let id = self.fill("{application}").await;
        let shown = self.app.get(&format!("/api/v1/registrations/{id}"), Some(&self.owner.token)).await;
        shown.json["documents"][0]["id"].as_str().unwrap().to_string()
    }

    /// A proof of payment on `{registered_application}`.
    async fn proof_document(&mut self) -> String {
        let id = self.fill("{registered_application}").await;
        self.upload(&id, "proof").await
    }

    /// A payment declared on `{registered_application}`, not yet decided.
    async fn declared_payment(&mut self) -> String {
        let id = self.fill("{registered_application}").await;
        let owner = self.owner.token.clone();
        let body = r#"{"amount_fen": 500, "paid_on": "{today}", "proof_document_id": "{proof_document}"}"#;
        self.post_ok(&owner, &format!("/api/v1/registrations/{id}/payments"), body, 201).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A listing of the owner in `status`.
    async fn listing(&mut self, status: &str) -> String {
        let token = self.owner.token.clone();
        let id = self.post_ok(&token, "/api/v1/listings", LISTING, 201).await["id"].as_str().unwrap().to_string();
        self.advance("listings", &id, status).await;
        id
    }

    async fn demand(&mut self, status: &str) -> String {
        let token = self.owner.token.clone();
        let id = self.post_ok(&token, "/api/v1/demands", DEMAND, 201).await["id"].as_str().unwrap().to_string();
        self.advance("demands", &id, status).await;
        id
    }

    async fn advance(&mut self, kind: &str, id: &str, status: &str) {
        let (owner, official) = (self.owner.token.clone(), self.official.clone());
        if status != "draft" {
            self.post_ok(&owner, &format!("/api/v1/{kind}/{id}/submit"), "", 200).await;
        }
        if status == "published" {
            self.post_ok(&official, &format!("/api/v1/{kind}/{id}/review"), r#"{"decision": "approve"}"#, 200).await;
        }
    }

    /// A deal of the counterparty buying a listing of its own (assignment
    /// trades the listing away) from the owner, in `status`; the buyer made
    /// the latest offer, so the seller is to answer.
    async fn deal(&mut self, status: &str) -> String {
        let listing = self.listing("published").await;
        let (seller, buyer, official) =
            (self.owner.token.clone(), self.counterparty.token.clone(), self.official.clone());
        let body = format!(r#"{{"listing_id": "{listing}", "offer": {OFFER}}}"#);
        let id = self.post_ok(&buyer, "/api/v1/deals", &body, 201).await["id"].as_str().unwrap().to_string();
        let steps = match status {
            "negotiating" => 0,
            "agreed" => 1,
            "contracted" => 2,
            "completed" => 3,
            other => panic!("no deal fixture in status {other}"),
        };
        if steps >= 1 {
            self.post_ok(&seller, &format!("/api/v1/deals/{id}/accept"), "", 200).await;
        }
        if steps >= 2 {
            self.post_ok(&seller, &format!("/api/v1/deals/{id}/contract"), CONTRACT, 200).await;
        }
        if steps >= 3 {
            let payment = self.post_ok(&buyer, &format!("/api/v1/deals/{id}/payments"), PAYMENT_LAST_YEAR, 201).await;
            let payment = payment["id"].as_str().unwrap().to_string();
            self.post_ok(&seller, &format!("/api/v1/payments/{payment}/confirm"), "", 200).await;
            let registration = r#"{"decision": "register", "registered_technology_amount_fen": 800000}"#;
            let done = self.post_ok(&official, &format!("/api/v1/deals/{id}/registration"), registration, 200).await;
            assert_eq!(done["status"], "completed");
        }
        id
    }

    /// An offline payment of the buyer awaiting the seller's confirmation.
    async fn payment(&mut self) -> String {
        let deal = self.deal("contracted").await;
        let buyer = self.counterparty.token.clone();
        self.post_ok(&buyer, &format!("/api/v1/deals/{deal}/payments"), PAYMENT, 201).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A payment of the buyer the seller confirmed.
    async fn confirmed_payment(&mut self) -> String {
        let payment = self.payment().await;
        let seller = self.owner.token.clone();
        self.post_ok(&seller, &format!("/api/v1/payments/{payment}/confirm"), "", 200).await;
        payment
    }

    /// The owner's submitted claim as seller under Qinghai's program, on a
    /// completed deal paid last year.
    async fn claim(&mut self) -> String {
        self.once("completed_deal", |w| Box::pin(w.deal("completed"))).await;
        let owner = self.owner.token.clone();
        let claim = self.post_ok(&owner, "/api/v1/subsidy/claims", CLAIM, 201).await;
        claim["id"].as_str().unwrap().to_string()
    }

    /// A closed (empty) round of Sanming's program for a year of its own.
    async fn round(&mut self) -> String {
        let official = self.official.clone();
        let body = r#"{"program_id": "sanming", "year": {year}}"#;
        self.post_ok(&official, "/api/v1/subsidy/rounds", body, 201).await["id"].as_str().unwrap().to_string()
    }

    /// A pending disbursement of the owner's claim. Closing a round with an
    /// approved claim takes a whole year of the program, so the row is
    /// written directly, into a round of its own.
    async fn disbursement(&mut self) -> String {
        let claim = self.once("claim", |w| Box::pin(w.claim())).await;
        let round = self.round().await;
        let now = techtrade_db::now();
        let disbursement = techtrade_db::subsidy::Disbursement {
            id: techtrade_domain::ids::new_id(),
            round_id: round,
            claim_id: claim,
            organization_id: self.owner.id.clone(),
            amount_fen: 8_000,
            status: "pending".into(),
            paid_on: None,
            reference: None,
            recorded_by: None,
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.app.database.connect();
        techtrade_db::subsidy::insert_disbursement(&mut conn, &disbursement).unwrap();
        disbursement.id
    }

    /// A member the owner (its organisation's administrator) added.
    async fn owner_member(&mut self) -> String {
        let (owner, org) = (self.owner.token.clone(), self.owner.id.clone());
        let body = format!(
            r#"{{"email": "member{}@example.cn", "password": "a long enough password 1", "name": "同事"}}"#,
            unique()
        );
        self.post_ok(&owner, &format!("/api/v1/organizations/{org}/members"), &body, 201).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A second session of the owner's (signed in elsewhere).
    async fn owner_session(&mut self) -> String {
        let token = self.app.login(&self.owner.email, &self.owner.password).await;
        let listed = self.app.get("/api/v1/me/sessions", Some(&token)).await;
        let current = listed.json["items"].as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
        current["id"].as_str().unwrap().to_string()
    }

    async fn saved_search(&mut self) -> String {
        let owner = self.owner.token.clone();
        let body = r#"{"query": {"q": "锂电池"}, "notify": "email"}"#;
        self.post_ok(&owner, "/api/v1/saved-searches", body, 201).await["id"].as_str().unwrap().to_string()
    }
}

/// `/api/v1/listings/{draft_listing}/submit?x=1` → `/api/v1/listings/{id}/submit`
/// (and a documented `…/members/{user_id}` → `…/members/{id}`).
fn route_of(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/').map(|segment| if segment.starts_with('{') { "{id}" } else { segment }).collect::<Vec<_>>().join("/")
}

on_both_databases! {
    async fn every_route_answers_every_caller_as_the_table_says(app: TestApp) {
        let documented = app.get("/api/openapi.json", None).await;
        let mut routes = BTreeSet::new();
        for (path, operations) in documented.json["paths"].as_object().unwrap() {
            for method in operations.as_object().unwrap().keys() {
                // Placeholders by any name (`{id}`, `{user_id}`) are one route.
                routes.insert((method.to_uppercase(), route_of(path)));
            }
        }
        let covered: BTreeSet<(String, String)> = TABLE.iter().map(|r| (r.method.to_string(), route_of(r.path))).collect();
        let missing: Vec<_> = routes.difference(&covered).collect();
        assert!(missing.is_empty(), "routes the matrix does not cover: {missing:?}");
        let unknown: Vec<_> = covered.difference(&routes).collect();
        assert!(unknown.is_empty(), "rows for undocumented routes: {unknown:?}");

        let years = std::sync::atomic::AtomicI32::new(2000);
        let mut shared = World::new(&app, &years).await;
        let mut mismatches = Vec::new();
        let mut cells = 0;
        for row in TABLE {
            for (caller, &expected) in CALLERS.iter().zip(&row.expect) {
                // A success that changes state gets a world of its own.
                let fresh = row.method != "GET" && (200..300).contains(&expected);
                let mut own;
                let world = if fresh {
                    own = World::new(&app, &years).await;
                    &mut own
                } else {
                    &mut shared
                };
                world.fill(row.needs).await;
                let path = world.fill(row.path).await;
                let body = world.fill(row.body).await;
                let response = if let Some(kind) = body.strip_prefix("multipart:") {
                    app.post_multipart(&path, world.token(*caller), &[("kind", kind)], Some(PDF_FILE)).await
                } else {
                    let body = if body.is_empty() { None } else { Some(serde_json::from_str::<Value>(&body).unwrap()) };
                    let method = Method::from_bytes(row.method.as_bytes()).unwrap();
                    let body = body.or_else(|| (method == Method::POST).then(|| json!({})));
                    app.request(method, &path, world.token(*caller), body).await
                };
                cells += 1;
                let status = response.status.as_u16();
                if status != expected {
                    mismatches.push(format!(
                        "{} {} as {caller:?}: expected {expected}, got {status} {}",
                        row.method, row.path, response.code()
                    ));
                } else if status >= 400 {
                    assert_eq!(response.header("content-type"), "application/problem+json", "{} {}", row.method, row.path);
                }
            }
        }
        assert!(mismatches.is_empty(), "{} of {cells} cells differ:\n{}", mismatches.len(), mismatches.join("\n"));
    }
}

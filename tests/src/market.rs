//! A small market for deal and payment tests: a seller with a published
//! listing, a buyer, an official, and the steps of a deal as one call each.

use serde_json::{Value, json};
use techtrade_db::outbox;
use techtrade_domain::Role;

use crate::{TestApp, TestOrg, TestResponse};

/// A seller with a published listing, a buyer, an official.
#[derive(Debug, Clone)]
pub struct Market {
    pub seller: TestOrg,
    pub buyer: TestOrg,
    pub official: String,
    pub listing_id: String,
}

pub fn listing_body(trade_modes: &[&str]) -> Value {
    json!({
        "kind": "achievement",
        "title": "退役动力锂电池正极材料再生技术",
        "summary": "湿法冶金回收镍钴锰锂，已完成中试。",
        "ipc": ["H01M10/54"],
        "maturity": "pilot",
        "trade_modes": trade_modes,
        "price_fen": 100_000_000,
        "negotiable": true,
        "region_code": "630102",
    })
}

pub async fn market(app: &TestApp, trade_modes: &[&str]) -> Market {
    let seller = app.register_org("university").await;
    let buyer = app.register_org("enterprise").await;
    let (_, official) = app.staff(Role::Official).await;
    let response = app.post("/api/v1/listings", Some(&seller.token), listing_body(trade_modes)).await;
    response.assert_status(201);
    let listing_id = response.json["id"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/listings/{listing_id}/submit"), Some(&seller.token), json!({})).await.assert_status(200);
    app.post(&format!("/api/v1/listings/{listing_id}/review"), Some(&official), json!({"decision": "approve"}))
        .await
        .assert_status(200);
    Market { seller, buyer, official, listing_id }
}

pub fn offer(amount_fen: i64, trade_mode: &str) -> Value {
    json!({"amount_fen": amount_fen, "trade_mode": trade_mode, "terms": "含技术培训与一年技术支持"})
}

pub fn contract(total: i64, non_technical: i64) -> Value {
    json!({
        "category": "transfer",
        "total_amount_fen": total,
        "non_technical_amount_fen": non_technical,
        "signed_on": "2026-11-20",
        "related_party": false,
    })
}

pub async fn open_deal(app: &TestApp, m: &Market) -> String {
    open_deal_as(app, m, &m.buyer, "assignment").await
}

/// `buyer` opens a deal on the market's listing for `trade_mode`.
pub async fn open_deal_as(app: &TestApp, m: &Market, buyer: &TestOrg, trade_mode: &str) -> String {
    let response = app
        .post(
            "/api/v1/deals",
            Some(&buyer.token),
            json!({"listing_id": m.listing_id, "offer": offer(80_000_000, trade_mode)}),
        )
        .await;
    response.assert_status(201);
    response.json["id"].as_str().unwrap().to_string()
}

/// The seller accepts the buyer's latest offer on deal `id`.
pub async fn accept(app: &TestApp, m: &Market, id: &str) -> TestResponse {
    app.post(&format!("/api/v1/deals/{id}/accept"), Some(&m.seller.token), json!({})).await
}

/// The seller records the contract of an agreed deal, a fifth non-technical.
pub async fn sign(app: &TestApp, m: &Market, id: &str, total: i64) {
    app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract(total, total / 5))
        .await
        .assert_status(200);
}

/// Posts a signed Stripe webhook.
pub async fn webhook(app: &TestApp, body: &str) -> TestResponse {
    let signature = crate::stripe::signature(body, None);
    app.post_with("/api/v1/webhooks/stripe", None, &[("Stripe-Signature", &signature)], body).await
}

/// Stripe says intent `intent_id` of `payment_id` received `amount` fen.
pub async fn intent_succeeded(
    app: &TestApp,
    event_id: &str,
    payment_id: &str,
    intent_id: &str,
    amount: i64,
) -> TestResponse {
    let body = crate::stripe::event(
        "payment_intent.succeeded",
        event_id,
        json!({"id": intent_id, "amount": amount, "amount_received": amount, "currency": "cny",
               "metadata": {"payment_id": payment_id}}),
    );
    webhook(app, &body).await
}

pub async fn agreed_deal(app: &TestApp, m: &Market) -> String {
    let id = open_deal(app, m).await;
    accept(app, m, &id).await.assert_status(200);
    id
}

pub async fn contracted_deal(app: &TestApp, m: &Market, total: i64) -> String {
    let id = agreed_deal(app, m).await;
    sign(app, m, &id, total).await;
    id
}

pub async fn register(app: &TestApp, m: &Market, id: &str, amount: i64) -> TestResponse {
    app.post(
        &format!("/api/v1/deals/{id}/registration"),
        Some(&m.official),
        json!({"decision": "register", "registered_technology_amount_fen": amount}),
    )
    .await
}

pub async fn pay_offline(app: &TestApp, m: &Market, id: &str, amount: i64, key: Option<&str>) -> TestResponse {
    let body =
        json!({"method": "offline", "amount_fen": amount, "paid_on": "2026-11-21", "reference": "ICBC-20261121-0001"});
    let headers: Vec<(&str, &str)> = key.map(|k| vec![("Idempotency-Key", k)]).unwrap_or_default();
    app.post_with(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), &headers, &body.to_string()).await
}

pub async fn deal(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/deals/{id}"), Some(token)).await;
    response.assert_status(200);
    response.json.clone()
}

pub fn event_types(app: &TestApp, aggregate_id: &str) -> Vec<String> {
    let mut conn = app.database.connect();
    outbox::events_after(&mut conn, 0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.aggregate_id == aggregate_id)
        .map(|e| e.event_type)
        .collect()
}

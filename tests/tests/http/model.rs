//! The model test: many clients attack the money and rights paths of a
//! running server at once, in a random order drawn from a seed — offers,
//! accepts, contracts, registrations, offline and Stripe payments with
//! their webhooks replayed and reordered, rejections, withdrawals,
//! cancellations, terminations, refunds, agencies' answers, claims,
//! reviews and round closes — while the search indexer consumes the
//! outbox. Then it checks what must always hold:
//!
//! - an exclusive right is sold at most once;
//! - what is paid never exceeds a contract's total;
//! - a deal is completed exactly when it is registered and paid in full;
//! - every confirmed fen is kept by a live deal or refunded;
//! - a round's disbursements sum to its total, within its budget;
//! - no claim is left unreviewable by a closed round;
//! - the audit chain verifies;
//! - the indexer saw every event: the index holds exactly the published listings.
//!
//! No answer may be a 5xx or a dropped connection. The seed is printed
//! (`MODEL_SEED` replays it); `MODEL_OPS` and `MODEL_CLIENTS` set the size.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use diesel::prelude::*;
use serde_json::{Value, json};
use techtrade_db::schema::{
    deals, disbursements, listing_reservations, offers, payments, subsidy_claims, subsidy_rounds,
};
use techtrade_domain::{Role, TradeMode};
use techtrade_search::SearchQuery;
use techtrade_tests::stripe::{self, FakeStripe};
use techtrade_tests::{TestApp, TestOrg, on_both_databases};
use tokio::sync::Mutex;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The seeded stream of the demo seed and the benchmarks, with the
/// shapes this test draws in.
struct Dice(techtrade_listings::seed::Dice);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0.below(u64::MAX)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// The market the clients share: who exists and what they made.
struct World {
    base: String,
    http: reqwest::Client,
    sellers: Vec<TestOrg>,
    buyers: Vec<TestOrg>,
    agencies: Vec<TestOrg>,
    officials: Vec<String>,
    /// (listing id, seller index, its trade modes).
    listings: Vec<(String, usize, Vec<&'static str>)>,
    known: Mutex<Known>,
    operations: AtomicU64,
    failures: Mutex<Vec<String>>,
}

/// Ids the clients learned from the server's answers.
#[derive(Default)]
struct Known {
    /// (deal id, listing index, buyer index, agency index).
    deals: Vec<(String, usize, usize, Option<usize>)>,
    /// (payment id, deal index, Stripe intent id).
    payments: Vec<(String, usize, Option<String>)>,
    /// Stripe events sent once, to replay.
    events: Vec<String>,
    claims: Vec<String>,
}

impl World {
    /// Sends a request; a 5xx or a dropped connection is a failure.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.operations.fetch_add(1, Ordering::Relaxed);
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = &body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(error) => (0, json!(error.to_string())),
        };
        if outcome.0 == 0 || outcome.0 >= 500 {
            self.failures.lock().await.push(format!("{method} {path} {body:?} → {} {}", outcome.0, outcome.1));
        }
        outcome
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    async fn webhook(&self, body: &str) {
        let signature = stripe::signature(body, None);
        self.operations.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .post(format!("{}/api/v1/webhooks/stripe", self.base))
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(body.to_string())
            .send()
            .await;
        let status = response.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
        if status != 200 {
            self.failures.lock().await.push(format!("webhook {body} → {status}"));
        }
    }

    async fn deal(&self, dice: &mut Dice) -> Option<(String, usize, usize, Option<usize>)> {
        let known = self.known.lock().await;
        dice.pick(&known.deals).cloned()
    }

    async fn payment(&self, dice: &mut Dice) -> Option<(String, usize, Option<String>)> {
        let known = self.known.lock().await;
        dice.pick(&known.payments).cloned()
    }
}

/// A day this year or last, never after today (Beijing).
fn day(dice: &mut Dice) -> String {
    let today = techtrade_db::today();
    (today - chrono::TimeDelta::days(dice.below(500) as i64)).to_string()
}

/// Takes a random deal one natural step further, as its parties would:
/// most deals then get far enough for the later paths to be attacked.
async fn advance(world: &World, dice: &mut Dice) {
    let Some((id, listing, buyer, agency)) = world.deal(dice).await else { return };
    let (buyer_token, seller_token) = (&world.buyers[buyer].token, &world.sellers[world.listings[listing].1].token);
    let (_, deal) = world.call(reqwest::Method::GET, &format!("/api/v1/deals/{id}"), Some(buyer_token), None).await;
    let official = &world.officials[dice.below(world.officials.len())];
    match deal["status"].as_str().unwrap_or_default() {
        "negotiating" => {
            let token = if deal["awaiting"] == "buyer" { buyer_token } else { seller_token };
            world.post(&format!("/api/v1/deals/{id}/accept"), token, json!({})).await;
        }
        "agreed" => {
            if let (Some(agency), "invited") = (agency, deal["agency_status"].as_str().unwrap_or_default()) {
                world
                    .post(
                        &format!("/api/v1/deals/{id}/agency"),
                        &world.agencies[agency].token,
                        json!({"decision": "accept"}),
                    )
                    .await;
            }
            let total = 100_000 + dice.below(3_000_000) as i64;
            let contract = json!({"category": "transfer", "total_amount_fen": total, "non_technical_amount_fen": total / 10,
                                  "signed_on": day(dice), "related_party": dice.below(10) == 0});
            world.post(&format!("/api/v1/deals/{id}/contract"), seller_token, contract).await;
        }
        status @ ("contracted" | "registered") => {
            let pending = deal["payments"]
                .as_array()
                .and_then(|all| all.iter().find(|p| p["status"] == "pending_confirmation").cloned());
            if let Some(payment) = pending {
                let payment = payment["id"].as_str().unwrap_or_default();
                world.post(&format!("/api/v1/payments/{payment}/confirm"), seller_token, json!({})).await;
            } else if status == "contracted" && dice.below(2) == 0 {
                let amount = deal["contract"]["technology_amount_fen"].as_i64().unwrap_or(1);
                let body = json!({"decision": "register", "registered_technology_amount_fen": amount});
                world.post(&format!("/api/v1/deals/{id}/registration"), official, body).await;
            } else if let Some(payable) = deal["payable_amount_fen"].as_i64().filter(|p| *p > 0) {
                let stripe = dice.below(3) == 0;
                let body = if stripe {
                    json!({"method": "stripe", "amount_fen": payable})
                } else {
                    json!({"method": "offline", "amount_fen": payable, "paid_on": day(dice), "reference": "ICBC-MODEL"})
                };
                let (status, payment) = world.post(&format!("/api/v1/deals/{id}/payments"), buyer_token, body).await;
                if status != 201 {
                    return;
                }
                let payment_id = payment["id"].as_str().unwrap_or_default().to_string();
                let intent = payment["stripe_payment_intent_id"].as_str().map(String::from);
                {
                    let mut known = world.known.lock().await;
                    let deal_index = known.deals.iter().position(|d| d.0 == id).unwrap_or_default();
                    known.payments.push((payment_id.clone(), deal_index, intent.clone()));
                }
                // The buyer pays in the browser; Stripe tells us, now and then twice.
                if let Some(intent) = intent.filter(|_| dice.below(3) != 0) {
                    let event = stripe::event(
                        "payment_intent.succeeded",
                        &format!("evt_model_{}", dice.next()),
                        json!({"id": intent, "amount": payable, "amount_received": payable, "currency": "cny",
                               "metadata": {"payment_id": payment_id}}),
                    );
                    world.webhook(&event).await;
                    if dice.below(4) == 0 {
                        world.webhook(&event).await;
                    }
                    world.known.lock().await.events.push(event);
                }
            }
        }
        "cancelling" | "terminating" => {
            // The seller gives back what is held, a payment at a time.
            let held = deal["payments"].as_array().and_then(|all| {
                all.iter().find(|p| p["status"] == "confirmed" || p["status"] == "pending_confirmation").cloned()
            });
            let Some(payment) = held else { return };
            let payment_id = payment["id"].as_str().unwrap_or_default();
            if payment["status"] == "pending_confirmation" {
                world
                    .post(
                        &format!("/api/v1/payments/{payment_id}/reject"),
                        seller_token,
                        json!({"reason": "交易已取消"}),
                    )
                    .await;
            } else {
                let left =
                    payment["amount_fen"].as_i64().unwrap_or(1) - payment["refunded_amount_fen"].as_i64().unwrap_or(0);
                let body =
                    json!({"amount_fen": left, "refunded_on": techtrade_db::today(), "reference": "REFUND-MODEL"});
                world.post(&format!("/api/v1/payments/{payment_id}/refund"), seller_token, body).await;
            }
        }
        _ => {}
    }
}

/// One random operation of one client: half the time a deal's natural
/// next step, otherwise any operation on anything.
async fn operate(world: &World, dice: &mut Dice) {
    if dice.below(2) == 0 {
        return advance(world, dice).await;
    }
    let official = world.officials[dice.below(world.officials.len())].clone();
    match dice.below(20) {
        0 | 1 => {
            let (listing_index, buyer_index) = (dice.below(world.listings.len()), dice.below(world.buyers.len()));
            let (listing, _, modes) = &world.listings[listing_index];
            let mode = *dice.pick(modes).unwrap();
            let agency = (dice.below(3) == 0).then(|| dice.below(world.agencies.len()));
            let mut body = json!({"listing_id": listing, "offer": {"amount_fen": 10_000 + dice.below(5_000_000), "trade_mode": mode, "terms": "模型测试"}});
            if let Some(agency) = agency {
                body["agency_organization_id"] = json!(world.agencies[agency].id);
            }
            let (status, answer) = world.post("/api/v1/deals", &world.buyers[buyer_index].token, body).await;
            if status == 201 {
                let id = answer["id"].as_str().unwrap().to_string();
                world.known.lock().await.deals.push((id, listing_index, buyer_index, agency));
            }
        }
        2 => {
            let Some((id, listing, buyer, _)) = world.deal(dice).await else { return };
            let token = if dice.below(2) == 0 {
                &world.buyers[buyer].token
            } else {
                &world.sellers[world.listings[listing].1].token
            };
            let mode = *dice.pick(&world.listings[listing].2).unwrap();
            let offer = json!({"amount_fen": 10_000 + dice.below(5_000_000), "trade_mode": mode, "terms": "还价"});
            world.post(&format!("/api/v1/deals/{id}/offers"), token, offer).await;
        }
        3 | 4 => {
            let Some((id, listing, buyer, _)) = world.deal(dice).await else { return };
            let token = if dice.below(4) == 0 {
                &world.buyers[buyer].token
            } else {
                &world.sellers[world.listings[listing].1].token
            };
            world.post(&format!("/api/v1/deals/{id}/accept"), token, json!({})).await;
        }
        5 => {
            let Some((id, _, _, Some(agency))) = world.deal(dice).await else { return };
            let decision = if dice.below(3) == 0 { "decline" } else { "accept" };
            world
                .post(
                    &format!("/api/v1/deals/{id}/agency"),
                    &world.agencies[agency].token,
                    json!({"decision": decision}),
                )
                .await;
        }
        6 => {
            let Some((id, listing, _, _)) = world.deal(dice).await else { return };
            let total = 100_000 + dice.below(3_000_000) as i64;
            let contract = json!({"category": "transfer", "total_amount_fen": total, "non_technical_amount_fen": total / 10,
                                  "signed_on": day(dice), "related_party": dice.below(10) == 0});
            world
                .post(
                    &format!("/api/v1/deals/{id}/contract"),
                    &world.sellers[world.listings[listing].1].token,
                    contract,
                )
                .await;
        }
        7 => {
            let Some((id, _, _, _)) = world.deal(dice).await else { return };
            let (_, deal) =
                world.call(reqwest::Method::GET, &format!("/api/v1/deals/{id}"), Some(&official), None).await;
            let technology = deal["contract"]["technology_amount_fen"].as_i64().unwrap_or(1);
            let body = if dice.below(5) == 0 {
                json!({"decision": "reject", "reason": "材料不全"})
            } else {
                json!({"decision": "register", "registered_technology_amount_fen": technology - dice.below(2) as i64})
            };
            world.post(&format!("/api/v1/deals/{id}/registration"), &official, body).await;
        }
        8 | 9 => {
            let Some((id, _, buyer, _)) = world.deal(dice).await else { return };
            let (_, deal) = world
                .call(reqwest::Method::GET, &format!("/api/v1/deals/{id}"), Some(&world.buyers[buyer].token), None)
                .await;
            let payable = deal["payable_amount_fen"].as_i64().unwrap_or(1).max(1);
            // Mostly what is payable, in one or two parts; now and then more.
            let amount = match dice.below(4) {
                0 => payable + 1 + dice.below(1_000) as i64,
                1 => (payable / 2).max(1),
                _ => payable,
            };
            let stripe = dice.below(2) == 0;
            let body = if stripe {
                json!({"method": "stripe", "amount_fen": amount})
            } else {
                json!({"method": "offline", "amount_fen": amount, "paid_on": day(dice), "reference": format!("ICBC-{}", dice.next())})
            };
            let (status, payment) =
                world.post(&format!("/api/v1/deals/{id}/payments"), &world.buyers[buyer].token, body).await;
            if status == 201 {
                let mut known = world.known.lock().await;
                let deal_index = known.deals.iter().position(|d| d.0 == id).unwrap();
                let intent = payment["stripe_payment_intent_id"].as_str().map(String::from);
                known.payments.push((payment["id"].as_str().unwrap().to_string(), deal_index, intent));
            }
        }
        10 | 11 => {
            // Stripe tells of a payment: paid (mostly), failed, cancelled,
            // refunded; or an earlier event again.
            let Some((payment, _, Some(intent))) = world.payment(dice).await else { return };
            let replay = { world.known.lock().await.events.get(dice.below(64)).cloned() };
            if let (Some(event), true) = (replay, dice.below(4) == 0) {
                world.webhook(&event).await;
                return;
            }
            let amount = world.fake_amount(&payment).await;
            let event_id = format!("evt_model_{}", dice.next());
            let event = match dice.below(6) {
                0 => stripe::event(
                    "payment_intent.payment_failed",
                    &event_id,
                    json!({"id": intent, "metadata": {"payment_id": payment}}),
                ),
                1 => stripe::event(
                    "payment_intent.canceled",
                    &event_id,
                    json!({"id": intent, "metadata": {"payment_id": payment}}),
                ),
                2 => stripe::event(
                    "charge.refunded",
                    &event_id,
                    json!({"payment_intent": intent, "amount": amount, "amount_refunded": dice.below(amount as usize + 1), "refunded": true}),
                ),
                _ => stripe::event(
                    "payment_intent.succeeded",
                    &event_id,
                    json!({"id": intent, "amount": amount, "amount_received": amount, "currency": "cny", "metadata": {"payment_id": payment}}),
                ),
            };
            world.webhook(&event).await;
            world.known.lock().await.events.push(event);
        }
        12 => {
            let Some((payment, deal, _)) = world.payment(dice).await else { return };
            let (listing, buyer) = {
                let k = world.known.lock().await;
                (k.deals[deal].1, k.deals[deal].2)
            };
            let seller = &world.sellers[world.listings[listing].1].token;
            match dice.below(3) {
                0 => world.post(&format!("/api/v1/payments/{payment}/confirm"), seller, json!({})).await,
                1 => {
                    world.post(&format!("/api/v1/payments/{payment}/reject"), seller, json!({"reason": "未到账"})).await
                }
                _ => {
                    world
                        .post(&format!("/api/v1/payments/{payment}/cancel"), &world.buyers[buyer].token, json!({}))
                        .await
                }
            };
        }
        13 | 14 => {
            let Some((payment, deal, _)) = world.payment(dice).await else { return };
            let listing = { world.known.lock().await.deals[deal].1 };
            let seller = &world.sellers[world.listings[listing].1].token;
            let amount = world.fake_amount(&payment).await;
            let part = if dice.below(2) == 0 { amount } else { (amount / 2).max(1) };
            let body = json!({"amount_fen": part, "refunded_on": day(dice), "reference": "REFUND"});
            world.post(&format!("/api/v1/payments/{payment}/refund"), seller, body).await;
        }
        15 => {
            let Some((id, listing, buyer, _)) = world.deal(dice).await else { return };
            let token = if dice.below(2) == 0 {
                &world.buyers[buyer].token
            } else {
                &world.sellers[world.listings[listing].1].token
            };
            if dice.below(2) == 0 {
                world.post(&format!("/api/v1/deals/{id}/cancel"), token, json!({"reason": "模型取消"})).await;
            } else {
                let body = json!({"terminated_on": techtrade_db::today(), "reason": "协商解除"});
                world.post(&format!("/api/v1/deals/{id}/terminate"), token, body).await;
            }
        }
        16 => {
            let programs = ["qinghai", "sanming", "nanjing-2021"];
            let program = programs[dice.below(programs.len())];
            let (org, role) = match dice.below(3) {
                0 => (&world.buyers[dice.below(world.buyers.len())], "buyer"),
                1 => (&world.sellers[dice.below(world.sellers.len())], "seller"),
                _ => (&world.agencies[dice.below(world.agencies.len())], "agency"),
            };
            let year = chrono::Datelike::year(&techtrade_db::today()) - dice.below(2) as i32;
            let (status, claim) = world
                .post("/api/v1/subsidy/claims", &org.token, json!({"program_id": program, "year": year, "role": role}))
                .await;
            if status == 201 {
                world.known.lock().await.claims.push(claim["id"].as_str().unwrap().to_string());
            }
        }
        17 | 18 => {
            let claim = {
                let k = world.known.lock().await;
                dice.pick(&k.claims).cloned()
            };
            let Some(claim) = claim else { return };
            let body = if dice.below(5) == 0 {
                json!({"decision": "reject", "reason": "不符合条件"})
            } else {
                json!({"decision": "approve"})
            };
            world.post(&format!("/api/v1/subsidy/claims/{claim}/review"), &official, body).await;
        }
        _ => {
            if dice.below(10) != 0 {
                return;
            }
            let programs = ["qinghai", "sanming", "nanjing-2021"];
            let program = programs[dice.below(programs.len())];
            let year = chrono::Datelike::year(&techtrade_db::today()) - dice.below(2) as i32;
            let mut body = json!({"program_id": program, "year": year});
            if dice.below(2) == 0 {
                body["pending"] = json!("exclude");
            }
            world.post("/api/v1/subsidy/rounds", &official, body).await;
        }
    }
}

impl World {
    /// The amount of a payment, as the server has it (1 when unknown).
    async fn fake_amount(&self, payment: &str) -> i64 {
        let (deal_id, buyer) = {
            let k = self.known.lock().await;
            let Some(&(_, deal, _)) = k.payments.iter().find(|p| p.0 == payment) else { return 1 };
            (k.deals[deal].0.clone(), k.deals[deal].2)
        };
        let (_, deal) = self
            .call(reqwest::Method::GET, &format!("/api/v1/deals/{deal_id}"), Some(&self.buyers[buyer].token), None)
            .await;
        deal["payments"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["id"] == payment))
            .and_then(|p| p["amount_fen"].as_i64())
            .unwrap_or(1)
    }
}

async fn build_world(app: &TestApp, base: String) -> World {
    let mut sellers = Vec::new();
    for _ in 0..4 {
        sellers.push(app.register_org("university").await);
    }
    let mut buyers = Vec::new();
    for _ in 0..8 {
        buyers.push(app.register_org("enterprise").await);
    }
    let mut agencies = Vec::new();
    for _ in 0..2 {
        agencies.push(app.register_org("agency").await);
    }
    let mut officials = Vec::new();
    for _ in 0..3 {
        officials.push(app.staff(Role::Official).await.1);
    }
    let kinds: [&[&'static str]; 4] = [
        &["assignment"],
        &["exclusive_license", "nonexclusive_license"],
        &["assignment", "nonexclusive_license"],
        &["sole_license", "equity"],
    ];
    let mut listings = Vec::new();
    for n in 0..12 {
        let seller = n % sellers.len();
        let modes = kinds[n % kinds.len()].to_vec();
        let mut body = techtrade_tests::market::listing_body(&modes);
        body["title"] = json!(format!("模型测试成果 {n}"));
        let created = app.post("/api/v1/listings", Some(&sellers[seller].token), body).await;
        created.assert_status(201);
        let id = created.json["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/listings/{id}/submit"), Some(&sellers[seller].token), json!({}))
            .await
            .assert_status(200);
        app.post(&format!("/api/v1/listings/{id}/review"), Some(&officials[0]), json!({"decision": "approve"}))
            .await
            .assert_status(200);
        listings.push((id, seller, modes));
    }
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap();
    World {
        base,
        http,
        sellers,
        buyers,
        agencies,
        officials,
        listings,
        known: Mutex::new(Known::default()),
        operations: AtomicU64::new(0),
        failures: Mutex::new(Vec::new()),
    }
}

/// A deal as the invariants read it: id, listing, status, registered at, agreed offer.
type DealRow = (String, String, String, Option<chrono::NaiveDateTime>, Option<String>);

/// Checks every invariant on the database and the index; the violations.
async fn violations(app: &TestApp, world: &World) -> Vec<String> {
    let mut found = Vec::new();
    let mut conn = app.database.connect();
    let all_deals: Vec<DealRow> = deals::table
        .select((deals::id, deals::listing_id, deals::status, deals::registered_at, deals::agreed_offer_id))
        .load(&mut conn)
        .unwrap();
    let modes: std::collections::HashMap<String, String> =
        offers::table.select((offers::id, offers::trade_mode)).load(&mut conn).unwrap().into_iter().collect();
    let all_payments: Vec<(String, String, i64, i64)> = payments::table
        .select((payments::deal_id, payments::status, payments::amount_fen, payments::refunded_amount_fen))
        .load(&mut conn)
        .unwrap();
    let totals: std::collections::HashMap<String, i64> = techtrade_db::schema::contracts::table
        .select((techtrade_db::schema::contracts::deal_id, techtrade_db::schema::contracts::total_amount_fen))
        .load(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    let mut sold: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (id, listing, status, registered_at, agreed) in &all_deals {
        let mode = agreed.as_ref().and_then(|o| modes.get(o)).and_then(|m| TradeMode::from_db(m));
        let holds = ["agreed", "contracted", "registered", "completed"].contains(&status.as_str());
        if holds && mode.is_some_and(TradeMode::is_exclusive) {
            sold.entry(listing.clone()).or_default().push(id.clone());
        }
        let mine = all_payments.iter().filter(|p| &p.0 == id);
        let paid: i64 = mine.clone().filter(|p| p.1 == "confirmed" || p.1 == "refunded").map(|p| p.2 - p.3).sum();
        let unconfirmed = mine.clone().any(|p| p.1 == "pending_confirmation");
        let total = totals.get(id).copied();
        if let Some(total) = total
            && paid > total
        {
            found.push(format!("deal {id} is paid {paid} on a total of {total}"));
        }
        let full = total.is_some_and(|t| paid >= t);
        match status.as_str() {
            "completed" if !(registered_at.is_some() && full) => {
                found.push(format!("deal {id} completed without being registered and paid"))
            }
            "registered" if full => found.push(format!("deal {id} is registered and paid in full but not completed")),
            "cancelled" | "terminated" if paid != 0 || unconfirmed => {
                found.push(format!("deal {id} ended {status} holding {paid} (unconfirmed: {unconfirmed})"))
            }
            _ => {}
        }
    }
    for (listing, holders) in &sold {
        if holders.len() > 1 {
            found.push(format!("listing {listing}'s exclusive rights are held by {holders:?}"));
        }
        let reserved: Option<String> = listing_reservations::table
            .find(listing)
            .select(listing_reservations::deal_id)
            .first(&mut conn)
            .optional()
            .unwrap();
        if reserved.as_ref() != holders.first() {
            found.push(format!("listing {listing} is reserved by {reserved:?}, held by {holders:?}"));
        }
    }
    let rounds: Vec<(String, String, i32, Option<i64>, i64)> = subsidy_rounds::table
        .select((
            subsidy_rounds::id,
            subsidy_rounds::program_id,
            subsidy_rounds::year,
            subsidy_rounds::budget_fen,
            subsidy_rounds::total_final_fen,
        ))
        .load(&mut conn)
        .unwrap();
    for (id, program, year, budget, total) in &rounds {
        let paid_out: i64 = disbursements::table
            .filter(disbursements::round_id.eq(id))
            .select(disbursements::amount_fen)
            .load::<i64>(&mut conn)
            .unwrap()
            .iter()
            .sum();
        if paid_out != *total || budget.is_some_and(|b| *total > b) {
            found.push(format!("round {id}: disbursed {paid_out}, total {total}, budget {budget:?}"));
        }
        let stranded: i64 = subsidy_claims::table
            .filter(subsidy_claims::program_id.eq(program))
            .filter(subsidy_claims::year.eq(year))
            .filter(subsidy_claims::status.eq_any(["submitted", "first_approved"]))
            .count()
            .get_result(&mut conn)
            .unwrap();
        if stranded > 0 {
            found.push(format!("round {id} closed {program} {year} with {stranded} claims still under review"));
        }
    }
    if let Err(error) = techtrade_db::audit::verify(&mut conn, &techtrade_db::testing::test_audit_key(), &[]) {
        found.push(format!("the audit chain: {error}"));
    }
    app.sync_search().await;
    let last = techtrade_db::outbox::last_id(&mut conn).unwrap();
    let cursor = app.search.cursor().await.unwrap();
    if cursor != last {
        found.push(format!("the indexer stopped at {cursor} of {last}"));
    }
    for (listing, _, _) in &world.listings {
        let status: String = techtrade_db::schema::listings::table
            .find(listing)
            .select(techtrade_db::schema::listings::status)
            .first(&mut conn)
            .unwrap();
        let query = SearchQuery { id: Some(listing.clone()), ..SearchQuery::default() };
        let indexed = app.search.search(&query).await.unwrap().total > 0;
        if indexed != (status == "published") {
            found.push(format!("listing {listing} is {status} but indexed: {indexed}"));
        }
    }
    found
}

async fn run(app: TestApp) {
    // The server's errors in the test's output, to say what a 5xx was.
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    let seed = std::env::var("MODEL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    let operations = setting("MODEL_OPS", 10_000);
    let clients = setting("MODEL_CLIENTS", 16);
    let backend = app.state.db.backend().as_str();
    println!(
        "model ({backend}): seed {seed}, {operations} operations, {clients} clients (MODEL_SEED={seed} replays it)"
    );
    let fake = FakeStripe::start().await;
    let app = app.with_stripe(fake.settings());
    let base = app.serve().await;
    let world = Arc::new(build_world(&app, base).await);
    // The search indexer consumes the outbox all along, as the server's does.
    let stop = Arc::new(AtomicBool::new(false));
    let indexer = {
        let (db, index, stop) = (app.state.db.clone(), app.search.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                techtrade_search::indexer::sync_once(&db, index.as_ref()).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    let started = world.operations.load(Ordering::Relaxed);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let world = world.clone();
        tasks.push(tokio::spawn(async move {
            let mut dice =
                Dice(techtrade_listings::seed::Dice::from_seed(seed ^ client.wrapping_mul(0x2545_F491_4F6C_DD1D)));
            while world.operations.load(Ordering::Relaxed) - started < operations {
                operate(&world, &mut dice).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    indexer.await.unwrap();
    let done = world.operations.load(Ordering::Relaxed) - started;
    let known = world.known.lock().await;
    println!(
        "model ({backend}): {done} requests; {} deals, {} payments, {} Stripe events, {} claims",
        known.deals.len(),
        known.payments.len(),
        known.events.len(),
        known.claims.len()
    );
    drop(known);
    let failures = world.failures.lock().await.clone();
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failed requests, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let violations = violations(&app, &world).await;
    assert!(violations.is_empty(), "seed {seed}: {violations:#?}");
}

on_both_databases! {
    async fn the_money_paths_keep_their_invariants_under_concurrent_clients(app: TestApp) {
        run(app).await;
    }
}

//! The money and rights paths under attack: the same rights sold twice,
//! money taken that no one can give back, concurrent payments past the
//! total, a request cut off at its deadline, a deadlock, a burst of
//! guesses — each reproduced over HTTP on both databases.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use diesel::connection::SimpleConnection;
use futures_util::future::join_all;
use serde_json::{Value, json};
use techtrade_db::Backend;
use techtrade_tests::market::*;
use techtrade_tests::stripe::FakeStripe;
use techtrade_tests::{TestApp, on_both_databases};

fn statuses(responses: &[techtrade_tests::TestResponse]) -> Vec<u16> {
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    statuses
}

on_both_databases! {
    async fn an_assignment_is_sold_once(app: TestApp) {
        let m = market(&app, &["assignment", "nonexclusive_license"]).await;
        let second = app.register_org("enterprise").await;
        let third = app.register_org("enterprise").await;
        let first_deal = open_deal_as(&app, &m, &m.buyer, "assignment").await;
        let second_deal = open_deal_as(&app, &m, &second, "assignment").await;
        let licence = open_deal_as(&app, &m, &third, "nonexclusive_license").await;

        accept(&app, &m, &first_deal).await.assert_status(200);
        // The rights are reserved: neither another assignment nor a licence
        // can be agreed while the first deal is alive.
        accept(&app, &m, &second_deal).await.assert_problem(409, "rights_reserved");
        accept(&app, &m, &licence).await.assert_problem(409, "rights_reserved");
        assert_eq!(deal(&app, &second.token, &second_deal).await["status"], "negotiating");

        // Cancelled, the first deal gives the rights back.
        app.post(&format!("/api/v1/deals/{first_deal}/cancel"), Some(&m.buyer.token), json!({})).await.assert_status(200);
        accept(&app, &m, &second_deal).await.assert_status(200);
        sign(&app, &m, &second_deal, 1_000_000).await;
        register(&app, &m, &second_deal, 800_000).await.assert_status(200);
        let paid = app
            .post(
                &format!("/api/v1/deals/{second_deal}/payments"),
                Some(&second.token),
                json!({"method": "offline", "amount_fen": 1_000_000, "paid_on": "2026-11-21", "reference": "BOC-1"}),
            )
            .await;
        paid.assert_status(201);
        let payment_id = paid.json["id"].as_str().unwrap();
        app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), json!({})).await.assert_status(200);
        assert_eq!(deal(&app, &second.token, &second_deal).await["status"], "completed");
        let listing = app.get(&format!("/api/v1/listings/{}", m.listing_id), None).await;
        assert_eq!(listing.json["status"], "traded");
        // Sold: the licence can never be agreed, and nobody opens a new deal.
        accept(&app, &m, &licence).await.assert_problem(409, "rights_reserved");
        let fourth = app.register_org("enterprise").await;
        let late = app
            .post("/api/v1/deals", Some(&fourth.token), json!({"listing_id": m.listing_id, "offer": offer(1, "assignment")}))
            .await;
        late.assert_problem(409, "invalid_state");
    }
}

on_both_databases! {
    async fn an_exclusive_licence_is_granted_once_and_not_over_other_licences(app: TestApp) {
        let m = market(&app, &["exclusive_license", "sole_license", "nonexclusive_license"]).await;
        let licensee = app.register_org("enterprise").await;
        let exclusive = app.register_org("enterprise").await;
        let sole = app.register_org("enterprise").await;
        let ordinary = open_deal_as(&app, &m, &licensee, "nonexclusive_license").await;
        let exclusive_deal = open_deal_as(&app, &m, &exclusive, "exclusive_license").await;
        let sole_deal = open_deal_as(&app, &m, &sole, "sole_license").await;

        accept(&app, &m, &ordinary).await.assert_status(200);
        // An ordinary licence is in force: no exclusive or sole licence.
        let refused = accept(&app, &m, &exclusive_deal).await;
        refused.assert_problem(409, "rights_reserved");
        assert!(refused.json["detail"].as_str().unwrap().contains("already licensed"), "{}", refused.text);
        accept(&app, &m, &sole_deal).await.assert_problem(409, "rights_reserved");

        // Once the ordinary licence is cancelled, the exclusive one can be
        // agreed — and then nothing else.
        app.post(&format!("/api/v1/deals/{ordinary}/cancel"), Some(&m.seller.token), json!({})).await.assert_status(200);
        accept(&app, &m, &exclusive_deal).await.assert_status(200);
        accept(&app, &m, &sole_deal).await.assert_problem(409, "rights_reserved");
        let again = open_deal_as(&app, &m, &licensee, "nonexclusive_license").await;
        accept(&app, &m, &again).await.assert_problem(409, "rights_reserved");
    }
}

on_both_databases! {
    async fn of_concurrent_accepts_on_one_listing_one_takes_the_rights(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let mut buyers = vec![m.buyer.clone()];
        for _ in 0..5 {
            buyers.push(app.register_org("enterprise").await);
        }
        let mut deals = Vec::new();
        for buyer in &buyers {
            deals.push(open_deal_as(&app, &m, buyer, "assignment").await);
        }
        let responses = join_all(deals.iter().map(|id| accept(&app, &m, id))).await;
        assert_eq!(statuses(&responses), [200, 409, 409, 409, 409, 409], "{responses:?}");
        for refused in responses.iter().filter(|r| r.status.as_u16() == 409) {
            assert_eq!(refused.code(), "rights_reserved", "{}", refused.text);
        }
    }
}

on_both_databases! {
    async fn one_open_deal_per_buyer_and_listing_even_when_racing(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let body = json!({"listing_id": m.listing_id, "offer": offer(1_000, "assignment")});
        let responses = join_all((0..6).map(|_| app.post("/api/v1/deals", Some(&m.buyer.token), body.clone()))).await;
        assert_eq!(statuses(&responses), [201, 409, 409, 409, 409, 409], "{responses:?}");
    }
}

on_both_databases! {
    async fn a_wrong_offline_record_is_rejected_by_the_payee_or_withdrawn_by_the_payer(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000_000).await;
        // A mistyped record of the full amount...
        let wrong = pay_offline(&app, &m, &id, 1_000_000, None).await;
        wrong.assert_status(201);
        let wrong_id = wrong.json["id"].as_str().unwrap().to_string();
        // ...holds the whole total until someone closes it.
        pay_offline(&app, &m, &id, 1, None).await.assert_problem(422, "validation_failed");
        assert_eq!(deal(&app, &m.buyer.token, &id).await["payable_amount_fen"], 0);

        let reject = |token: String, body: Value| {
            let (app, path) = (&app, format!("/api/v1/payments/{wrong_id}/reject"));
            async move { app.post(&path, Some(&token), body).await }
        };
        reject(m.buyer.token.clone(), json!({"reason": "写错了"})).await.assert_problem(403, "wrong_party");
        let blank = reject(m.seller.token.clone(), json!({"reason": "  "})).await;
        blank.assert_problem(422, "validation_failed");
        assert_eq!(blank.error_fields(), ["reason"]);
        let rejected = reject(m.seller.token.clone(), json!({"reason": "未收到该笔汇款，流水号不存在"})).await;
        rejected.assert_status(200);
        assert_eq!(rejected.json["status"], "rejected");
        assert_eq!(rejected.json["failure_reason"], "未收到该笔汇款，流水号不存在");
        // Rejected once is rejected: it cannot be confirmed or rejected again.
        reject(m.seller.token.clone(), json!({"reason": "again"})).await.assert_problem(409, "invalid_state");
        app.post(&format!("/api/v1/payments/{wrong_id}/confirm"), Some(&m.seller.token), json!({}))
            .await
            .assert_problem(409, "invalid_state");
        assert_eq!(deal(&app, &m.buyer.token, &id).await["payable_amount_fen"], 1_000_000);

        // The payer withdraws a record of its own before it is confirmed.
        let second = pay_offline(&app, &m, &id, 600_000, None).await;
        let second_id = second.json["id"].as_str().unwrap().to_string();
        let cancel = |token: String| {
            let (app, path) = (&app, format!("/api/v1/payments/{second_id}/cancel"));
            async move { app.post(&path, Some(&token), json!({})).await }
        };
        cancel(m.seller.token.clone()).await.assert_problem(403, "wrong_party");
        let withdrawn = cancel(m.buyer.token.clone()).await;
        withdrawn.assert_status(200);
        assert_eq!(withdrawn.json["status"], "cancelled");

        // The right record goes through and completes the deal.
        let right = pay_offline(&app, &m, &id, 1_000_000, None).await;
        right.assert_status(201);
        let right_id = right.json["id"].as_str().unwrap().to_string();
        cancel_is_refused_once_confirmed(&app, &m, &right_id).await;
        register(&app, &m, &id, 800_000).await.assert_status(200);
        let completed = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["paid_amount_fen"], 1_000_000);
        let events = event_types(&app, &wrong_id);
        assert_eq!(events, ["payment.recorded", "payment.rejected"]);
        assert_eq!(event_types(&app, &second_id), ["payment.recorded", "payment.cancelled"]);
    }
}

async fn cancel_is_refused_once_confirmed(app: &TestApp, m: &Market, payment_id: &str) {
    app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), json!({}))
        .await
        .assert_status(200);
    app.post(&format!("/api/v1/payments/{payment_id}/cancel"), Some(&m.buyer.token), json!({}))
        .await
        .assert_problem(409, "invalid_state");
}

on_both_databases! {
    async fn concurrent_payments_never_pass_the_contract_total(app: TestApp) {
        // Unlocked, PostgreSQL let two of eight through about one time in three.
        for _ in 0..4 {
            let m = market(&app, &["assignment"]).await;
            let id = contracted_deal(&app, &m, 1_000_000).await;
            let responses = join_all((0..8).map(|_| pay_offline(&app, &m, &id, 1_000_000, None))).await;
            assert_eq!(statuses(&responses), [201, 422, 422, 422, 422, 422, 422, 422], "{responses:?}");
            let after = deal(&app, &m.buyer.token, &id).await;
            assert_eq!(after["payments"].as_array().unwrap().len(), 1);
        }
    }
}

on_both_databases! {
    async fn open_stripe_intents_hold_their_amount_and_excess_money_is_held_for_refund(app: TestApp) {
        let fake = FakeStripe::start().await;
        let app = app.with_stripe(fake.settings());
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000_000).await;
        let pay = |method: &str| {
            let (app, path, token) = (&app, format!("/api/v1/deals/{id}/payments"), m.buyer.token.clone());
            let body = if method == "stripe" {
                json!({"method": "stripe", "amount_fen": 1_000_000})
            } else {
                json!({"method": "offline", "amount_fen": 1_000_000, "paid_on": "2026-11-21", "reference": "ICBC-1"})
            };
            async move { app.post(&path, Some(&token), body).await }
        };
        let first = pay("stripe").await;
        first.assert_status(201);
        let (first_id, first_intent) =
            (first.json["id"].as_str().unwrap().to_string(), first.json["stripe_payment_intent_id"].as_str().unwrap().to_string());
        // An intent not yet paid holds the total: no second one, no transfer.
        pay("stripe").await.assert_problem(422, "validation_failed");
        pay("offline").await.assert_problem(422, "validation_failed");

        // The buyer gives it up: cancelled at Stripe, the total is free.
        let cancelled = app.post(&format!("/api/v1/payments/{first_id}/cancel"), Some(&m.buyer.token), json!({})).await;
        cancelled.assert_status(200);
        assert_eq!(cancelled.json["status"], "cancelled");
        assert_eq!(fake.status(&first_intent).as_deref(), Some("canceled"));
        let second = pay("stripe").await;
        second.assert_status(201);
        let (second_id, second_intent) =
            (second.json["id"].as_str().unwrap().to_string(), second.json["stripe_payment_intent_id"].as_str().unwrap().to_string());

        // The cancelled intent was paid after all (a race at Stripe): the
        // money fits the contract, so it counts...
        intent_succeeded(&app, "evt_late_1", &first_id, &first_intent, 1_000_000).await.assert_status(200);
        let after = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(after["paid_amount_fen"], 1_000_000);
        // ...and the second intent, paid too, would exceed the total: it is
        // held for a refund and never counted.
        fake.pay(&second_intent);
        let refused = app.post(&format!("/api/v1/payments/{second_id}/cancel"), Some(&m.buyer.token), json!({})).await;
        refused.assert_problem(409, "invalid_state");
        intent_succeeded(&app, "evt_late_2", &second_id, &second_intent, 1_000_000).await.assert_status(200);
        let after = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(after["paid_amount_fen"], 1_000_000);
        let held = after["payments"].as_array().unwrap().iter().find(|p| p["id"] == second_id.as_str()).unwrap().clone();
        assert_eq!(held["status"], "needs_refund");
        assert!(held["failure_reason"].as_str().unwrap().contains("exceed"), "{held}");

        // Refunded at Stripe, it is settled.
        let refund = techtrade_tests::stripe::event(
            "charge.refunded",
            "evt_refund_2",
            json!({"payment_intent": second_intent, "amount": 1_000_000, "amount_refunded": 1_000_000, "refunded": true}),
        );
        webhook(&app, &refund).await.assert_status(200);
        let after = deal(&app, &m.buyer.token, &id).await;
        let refunded = after["payments"].as_array().unwrap().iter().find(|p| p["id"] == second_id.as_str()).unwrap().clone();
        assert_eq!(refunded["status"], "refunded");
        assert_eq!(after["paid_amount_fen"], 1_000_000);
    }
}

on_both_databases! {
    async fn a_transfer_confirmed_after_a_given_up_intent_was_paid_cannot_pay_twice(app: TestApp) {
        let fake = FakeStripe::start().await;
        let app = app.with_stripe(fake.settings());
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000_000).await;
        let path = format!("/api/v1/deals/{id}/payments");
        let intent = app.post(&path, Some(&m.buyer.token), json!({"method": "stripe", "amount_fen": 1_000_000})).await;
        intent.assert_status(201);
        let (intent_id, stripe_id) =
            (intent.json["id"].as_str().unwrap().to_string(), intent.json["stripe_payment_intent_id"].as_str().unwrap().to_string());
        app.post(&format!("/api/v1/payments/{intent_id}/cancel"), Some(&m.buyer.token), json!({})).await.assert_status(200);
        // The total is free again: the buyer records a bank transfer for it.
        let body = json!({"method": "offline", "amount_fen": 1_000_000, "paid_on": "2026-11-21", "reference": "ICBC-2"});
        let transfer = app.post(&path, Some(&m.buyer.token), body).await;
        transfer.assert_status(201);
        let transfer_id = transfer.json["id"].as_str().unwrap().to_string();
        // The given-up intent is paid after all: that money counts...
        intent_succeeded(&app, "evt_paid_after_all", &intent_id, &stripe_id, 1_000_000).await.assert_status(200);
        assert_eq!(deal(&app, &m.buyer.token, &id).await["paid_amount_fen"], 1_000_000);
        // ...so the transfer cannot be confirmed on top of it.
        let confirm = app.post(&format!("/api/v1/payments/{transfer_id}/confirm"), Some(&m.seller.token), json!({})).await;
        confirm.assert_problem(409, "conflict");
        let after = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(after["paid_amount_fen"], 1_000_000, "paid once");
        // The seller says it did not arrive (or refunds it): settled.
        app.post(&format!("/api/v1/payments/{transfer_id}/reject"), Some(&m.seller.token), json!({"reason": "已经通过在线支付付清"}))
            .await
            .assert_status(200);
    }
}

on_both_databases! {
    async fn money_arriving_on_a_cancelled_deal_is_held_for_refund(app: TestApp) {
        let fake = FakeStripe::start().await;
        let app = app.with_stripe(fake.settings());
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000_000).await;
        let started = app
            .post(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), json!({"method": "stripe", "amount_fen": 400_000}))
            .await;
        started.assert_status(201);
        let payment_id = started.json["id"].as_str().unwrap().to_string();
        let intent = started.json["stripe_payment_intent_id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/deals/{id}/cancel"), Some(&m.seller.token), json!({})).await.assert_status(200);
        intent_succeeded(&app, "evt_after_cancel", &payment_id, &intent, 400_000).await.assert_status(200);
        let after = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(after["status"], "cancelled");
        assert_eq!(after["paid_amount_fen"], 0);
        assert_eq!(after["payments"][0]["status"], "needs_refund");
        assert!(after["payments"][0]["failure_reason"].as_str().unwrap().contains("cancelled"), "{after}");
        assert_eq!(event_types(&app, &payment_id), ["payment.started", "payment.needs_refund"]);
    }
}

on_both_databases! {
    async fn completing_a_sale_and_editing_its_listing_at_once_do_not_deadlock(app: TestApp) {
        // Completion marks the listing traded; an edit of the listing
        // writes it and the audit log. Before one lock order they could
        // wait on each other (PostgreSQL broke the deadlock with a 500).
        for round in 0..8 {
            let m = market(&app, &["assignment"]).await;
            let id = contracted_deal(&app, &m, 1_000_000).await;
            register(&app, &m, &id, 800_000).await.assert_status(200);
            let payment = pay_offline(&app, &m, &id, 1_000_000, None).await;
            let payment_id = payment.json["id"].as_str().unwrap().to_string();
            let edit = json!({"title": format!("退役动力锂电池正极材料再生技术（第{round}版）")});
            let (confirm_path, edit_path) =
                (format!("/api/v1/payments/{payment_id}/confirm"), format!("/api/v1/listings/{}", m.listing_id));
            let (confirmed, edited) = tokio::join!(
                app.post(&confirm_path, Some(&m.seller.token), json!({})),
                app.request(axum::http::Method::PATCH, &edit_path, Some(&m.seller.token), Some(edit)),
            );
            confirmed.assert_status(200);
            assert!(edited.status.as_u16() < 500, "round {round}: {}", edited.text);
            assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "completed");
            // Sold, whatever the edit did to the listing's review state.
            let listing = app.get(&format!("/api/v1/listings/{}", m.listing_id), Some(&m.seller.token)).await;
            assert_eq!(listing.json["status"], "traded", "round {round}");
        }
    }
}

/// Holds the lock a request on deal `deal_id` will wait for, for `hold`,
/// from a connection of its own (SQLite: the database's write lock).
fn hold_lock(app: &TestApp, deal_id: &str, hold: Duration) -> std::thread::JoinHandle<()> {
    let mut conn = app.database.connect();
    let sql = match app.state.db.backend() {
        Backend::Postgres => format!("BEGIN; SELECT 1 FROM deals WHERE id = '{deal_id}' FOR UPDATE;"),
        Backend::Sqlite => "BEGIN IMMEDIATE;".to_string(),
    };
    conn.batch_execute(&sql).unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(hold);
        conn.batch_execute("COMMIT").unwrap();
    })
}

on_both_databases! {
    async fn a_request_cut_off_at_its_deadline_never_commits(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let id = open_deal(&app, &m).await;
        let app = app.with_request_timeout(Duration::from_millis(500));
        let holder = hold_lock(&app, &id, Duration::from_millis(1_500));
        // The accept waits for the lock, the deadline passes: 503...
        accept(&app, &m, &id).await.assert_problem(503, "unavailable");
        holder.join().unwrap();
        // ...and the accept, running on once the lock is free, rolls back.
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "negotiating");
        assert!(!event_types(&app, &id).contains(&"deal.agreed".to_string()));
        // The client's retry is the one that takes effect.
        accept(&app, &m, &id).await.assert_status(200);
        assert_eq!(event_types(&app, &id), ["deal.opened", "deal.agreed"]);
    }
}

on_both_databases! {
    async fn a_burst_of_wrong_passwords_is_checked_at_most_the_limit(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let body = json!({"email": org.email, "password": "not the password"});
        let responses = join_all((0..50).map(|_| app.post("/api/v1/auth/login", None, body.clone()))).await;
        let checked = responses.iter().filter(|r| r.status.as_u16() == 401).count();
        let locked = responses.iter().filter(|r| r.status.as_u16() == 423).count();
        assert_eq!(checked, 5, "{:?}", statuses(&responses));
        assert_eq!(locked, 45);
        // The right password is refused too while the account is locked,
        // and its owner is told once.
        let right = app.post("/api/v1/auth/login", None, json!({"email": org.email, "password": org.password})).await;
        right.assert_problem(423, "account_locked");
        let mut conn = app.database.connect();
        let events = techtrade_db::outbox::events_after(&mut conn, 0, 10_000).unwrap();
        assert_eq!(events.iter().filter(|e| e.event_type == "account.locked").count(), 1);
        let history = techtrade_db::audit::history(&mut conn, "user", &org.user_id).unwrap();
        let denied = |reason: &str| {
            history
                .iter()
                .filter(|e| e.action == "session.denied" && e.after_state.as_deref().unwrap_or_default().contains(reason))
                .count()
        };
        assert_eq!(denied("\"wrong_password\""), 5, "each checked guess is audited");
        assert_eq!(denied("\"locked\""), 46, "so is each attempt refused while locked, the right password's too");
        assert_eq!(history.iter().filter(|e| e.action == "user.lock").count(), 1);
    }
}

on_both_databases! {
    async fn calendar_dates_are_beijing_dates(app: TestApp) {
        // The market's today, not UTC's: between 00:00 and 08:00 in Xining
        // they differ, and a contract signed this morning is not "in the future".
        let today = techtrade_db::today();
        let beijing = (chrono::Utc::now() + chrono::TimeDelta::hours(8)).date_naive();
        assert_eq!(today, beijing);
        let m = market(&app, &["assignment"]).await;
        let id = agreed_deal(&app, &m).await;
        let mut signed = contract(1_000_000, 0);
        signed["signed_on"] = json!(today.succ_opt().unwrap());
        let future = app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), signed.clone()).await;
        future.assert_problem(422, "validation_failed");
        signed["signed_on"] = json!(today);
        app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), signed).await.assert_status(200);
        let paid = app
            .post(
                &format!("/api/v1/deals/{id}/payments"),
                Some(&m.buyer.token),
                json!({"method": "offline", "amount_fen": 1_000, "paid_on": today, "reference": "ICBC-today"}),
            )
            .await;
        paid.assert_status(201);
        let registered = register(&app, &m, &id, 1_000_000).await;
        registered.assert_status(200);
        let number = registered.json["registration_number"].as_str().unwrap();
        assert_eq!(&number[..4], chrono::Datelike::year(&today).to_string(), "{number}");
    }
}

/// A deal of the market's buyer naming `agency`, agreed and contracted.
async fn deal_with_agency(app: &TestApp, m: &Market, agency: &techtrade_tests::TestOrg) -> String {
    let opened = app
        .post(
            "/api/v1/deals",
            Some(&m.buyer.token),
            json!({"listing_id": m.listing_id, "agency_organization_id": agency.id,
                   "offer": offer(1_000_000, "nonexclusive_license")}),
        )
        .await;
    opened.assert_status(201);
    let id = opened.json["id"].as_str().unwrap().to_string();
    accept(app, m, &id).await.assert_status(200);
    sign(app, m, &id, 1_000_000).await;
    id
}

/// Registers deal `id` and pays it in full: completed.
async fn complete(app: &TestApp, m: &Market, id: &str) {
    register(app, m, id, 800_000).await.assert_status(200);
    let paid = pay_offline(app, m, id, 1_000_000, None).await;
    let payment = paid.json["id"].as_str().unwrap();
    app.post(&format!("/api/v1/payments/{payment}/confirm"), Some(&m.seller.token), json!({})).await.assert_status(200);
    assert_eq!(deal(app, &m.buyer.token, id).await["status"], "completed");
}

on_both_databases! {
    async fn an_agency_sees_and_counts_only_once_it_accepted(app: TestApp) {
        let m = market(&app, &["nonexclusive_license"]).await;
        let agency = app.register_org("agency").await;
        let id = deal_with_agency(&app, &m, &agency).await;

        // Named but not yet accepted: the agency does not see the deal...
        app.get(&format!("/api/v1/deals/{id}"), Some(&agency.token)).await.assert_problem(404, "not_found");
        assert_eq!(app.get("/api/v1/deals", Some(&agency.token)).await.json["total"], 0);
        // ...only the invitation; the seller sees who was named.
        let invitations = app.get("/api/v1/agency-invitations", Some(&agency.token)).await;
        invitations.assert_status(200);
        let items = invitations.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", invitations.text);
        assert_eq!(items[0]["deal_id"], id.as_str());
        assert_eq!(items[0]["seller"]["id"], m.seller.id.as_str());
        let seen = deal(&app, &m.seller.token, &id).await;
        assert_eq!((seen["agency"]["id"].as_str(), seen["agency_status"].as_str()), (Some(agency.id.as_str()), Some("invited")));

        // An official of the named agency may not register the deal, accepted or not.
        let agency_official = app.official_of(&agency).await;
        let registration = json!({"decision": "register", "registered_technology_amount_fen": 800_000});
        app.post(&format!("/api/v1/deals/{id}/registration"), Some(&agency_official), registration.clone())
            .await
            .assert_problem(403, "own_organization");
        let buyer_official = app.official_of(&m.buyer).await;
        app.post(&format!("/api/v1/deals/{id}/registration"), Some(&buyer_official), registration)
            .await
            .assert_problem(403, "own_organization");

        // Not counted for a subsidy while invited...
        complete(&app, &m, &id).await;
        let claim = json!({"program_id": "qinghai", "year": 2026, "role": "agency"});
        let before = app.post("/api/v1/subsidy/claims/preview", Some(&agency.token), claim.clone()).await;
        assert_eq!(before.json["eligible"], false, "{}", before.text);
        // ...and an answer on a finished deal comes too late.
        let late = app.post(&format!("/api/v1/deals/{id}/agency"), Some(&agency.token), json!({"decision": "accept"})).await;
        late.assert_problem(409, "invalid_state");

        // On a second deal the agency accepts: it sees it and it counts.
        let second_buyer = app.register_org("enterprise").await;
        let m2 = Market { buyer: second_buyer, ..m.clone() };
        let second = deal_with_agency(&app, &m2, &agency).await;
        let stranger = app.register_org("agency").await;
        let answer = |token: String, decision: &'static str| {
            let (app, path) = (&app, format!("/api/v1/deals/{second}/agency"));
            async move { app.post(&path, Some(&token), json!({"decision": decision})).await }
        };
        answer(stranger.token.clone(), "accept").await.assert_problem(404, "not_found");
        let accepted = answer(agency.token.clone(), "accept").await;
        accepted.assert_status(200);
        assert_eq!(accepted.json["agency_status"], "accepted");
        answer(agency.token.clone(), "decline").await.assert_problem(409, "invalid_state");
        assert_eq!(deal(&app, &agency.token, &second).await["agency_status"], "accepted");
        complete(&app, &m2, &second).await;
        let after = app.post("/api/v1/subsidy/claims/preview", Some(&agency.token), claim).await;
        assert_eq!(after.json["eligible"], true, "{}", after.text);
        let counted: Vec<&str> = after.json["lines"].as_array().unwrap().iter().filter_map(|l| l["explanation"].as_str()).collect();
        assert!(counted.iter().any(|e| e.contains(&second)) && !counted.iter().any(|e| e.contains(&id)), "{counted:?}");
        assert_eq!(event_types(&app, &second)[..3], ["deal.opened", "deal.agreed", "deal.contracted"]);
        assert!(event_types(&app, &second).contains(&"deal.agency_accepted".to_string()));
    }
}

/// The seller refunds `amount` of offline payment `payment` (a transfer back).
async fn refund_offline(app: &TestApp, m: &Market, payment: &str, amount: i64) -> techtrade_tests::TestResponse {
    app.post(
        &format!("/api/v1/payments/{payment}/refund"),
        Some(&m.seller.token),
        json!({"amount_fen": amount, "refunded_on": "2026-11-25", "reference": "ICBC-REFUND-1"}),
    )
    .await
}

/// An offline payment of `amount` recorded by the buyer and confirmed by the seller; its id.
async fn paid(app: &TestApp, m: &Market, id: &str, amount: i64) -> String {
    let payment = pay_offline(app, m, id, amount, None).await;
    payment.assert_status(201);
    let payment_id = payment.json["id"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), json!({}))
        .await
        .assert_status(200);
    payment_id
}

on_both_databases! {
    async fn a_cancelled_deal_keeps_no_money(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000_000).await;
        let first = paid(&app, &m, &id, 600_000).await;
        let pending = pay_offline(&app, &m, &id, 100_000, None).await;
        let pending = pending.json["id"].as_str().unwrap().to_string();

        // Cancelled with money held: it waits for the refunds; the rights are free at once.
        let cancelled = app.post(&format!("/api/v1/deals/{id}/cancel"), Some(&m.buyer.token), json!({"reason": "项目调整"})).await;
        cancelled.assert_status(200);
        assert_eq!(cancelled.json["status"], "cancelling");
        assert_eq!(cancelled.json["refund_owed_fen"], 600_000);
        let other = app.register_org("enterprise").await;
        let other_deal = open_deal_as(&app, &m, &other, "assignment").await;
        accept(&app, &m, &other_deal).await.assert_status(200);
        // No new money on an ending deal.
        pay_offline(&app, &m, &id, 1, None).await.assert_problem(409, "invalid_state");

        // The refunds: the payee only, within what was paid, with its date and reference.
        app.post(&format!("/api/v1/payments/{first}/refund"), Some(&m.buyer.token), json!({"amount_fen": 1}))
            .await
            .assert_problem(403, "wrong_party");
        refund_offline(&app, &m, &first, 600_001).await.assert_problem(422, "validation_failed");
        let bare = app.post(&format!("/api/v1/payments/{first}/refund"), Some(&m.seller.token), json!({"amount_fen": 1})).await;
        bare.assert_problem(422, "validation_failed");
        assert_eq!(bare.error_fields(), ["refunded_on", "reference"]);
        refund_offline(&app, &m, &first, 400_000).await.assert_status(200);
        assert_eq!(deal(&app, &m.buyer.token, &id).await["refund_owed_fen"], 200_000);
        let refunded = refund_offline(&app, &m, &first, 200_000).await;
        refunded.assert_status(200);
        assert_eq!(refunded.json["status"], "refunded");
        // A transfer that may have arrived still holds it open...
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "cancelling");
        // ...until the payee settles it: rejected, nothing is held, the deal is cancelled.
        app.post(&format!("/api/v1/payments/{pending}/reject"), Some(&m.seller.token), json!({"reason": "未到账"}))
            .await
            .assert_status(200);
        // A rejection settles too: the deal ends on the next look at its money.
        let after = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(after["status"], "cancelled", "{after}");
        assert_eq!(after["paid_amount_fen"], 0);
        assert_eq!(after["refunds"].as_array().unwrap().len(), 2);
        let events = event_types(&app, &id);
        assert!(events.ends_with(&["deal.cancelling".to_string(), "deal.cancelled".to_string()]), "{events:?}");
    }
}

on_both_databases! {
    async fn a_refund_below_the_total_reopens_a_completed_sale(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000_000).await;
        register(&app, &m, &id, 800_000).await.assert_status(200);
        let payment = paid(&app, &m, &id, 1_000_000).await;
        assert_eq!(app.get(&format!("/api/v1/listings/{}", m.listing_id), None).await.json["status"], "traded");

        refund_offline(&app, &m, &payment, 1).await.assert_status(200);
        let after = deal(&app, &m.buyer.token, &id).await;
        assert_eq!((after["status"].as_str(), after["paid_amount_fen"].as_i64()), (Some("registered"), Some(999_999)));
        assert_eq!(app.get(&format!("/api/v1/listings/{}", m.listing_id), None).await.json["status"], "published");
        // Still this deal's rights: nobody else can agree them.
        let other = app.register_org("enterprise").await;
        let other_deal = open_deal_as(&app, &m, &other, "assignment").await;
        accept(&app, &m, &other_deal).await.assert_problem(409, "rights_reserved");
        // Paid again in full: completed, traded.
        paid(&app, &m, &id, 1).await;
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "completed");
        assert_eq!(app.get(&format!("/api/v1/listings/{}", m.listing_id), None).await.json["status"], "traded");
        assert!(event_types(&app, &id).contains(&"deal.completion_reversed".to_string()));
    }
}

on_both_databases! {
    async fn a_terminated_contract_gives_the_rights_and_the_money_back(app: TestApp) {
        let fake = FakeStripe::start().await;
        let app = app.with_stripe(fake.settings());
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000_000).await;
        let terminate = |token: String, body: Value| {
            let (app, path) = (&app, format!("/api/v1/deals/{id}/terminate"));
            async move { app.post(&path, Some(&token), body).await }
        };
        let body = json!({"terminated_on": "2026-11-30", "reason": "双方协商一致解除合同"});
        // Only a registered contract is terminated; before, it is cancelled.
        terminate(m.buyer.token.clone(), body.clone()).await.assert_problem(409, "invalid_state");
        register(&app, &m, &id, 800_000).await.assert_status(200);
        let started = app
            .post(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), json!({"method": "stripe", "amount_fen": 1_000_000}))
            .await;
        let (payment, intent) =
            (started.json["id"].as_str().unwrap().to_string(), started.json["stripe_payment_intent_id"].as_str().unwrap().to_string());
        intent_succeeded(&app, "evt_paid", &payment, &intent, 1_000_000).await.assert_status(200);
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "completed");

        let future = terminate(m.buyer.token.clone(), json!({"terminated_on": "2999-01-01", "reason": "x"})).await;
        future.assert_problem(422, "validation_failed");
        assert_eq!(future.error_fields(), ["terminated_on"]);
        let terminated = terminate(m.buyer.token.clone(), body.clone()).await;
        terminated.assert_status(200);
        assert_eq!(terminated.json["status"], "terminating");
        assert_eq!(terminated.json["refund_owed_fen"], 1_000_000);
        assert_eq!(terminated.json["termination_reason"], "双方协商一致解除合同");
        // The rights are the seller's again.
        assert_eq!(app.get(&format!("/api/v1/listings/{}", m.listing_id), None).await.json["status"], "published");
        let other = app.register_org("enterprise").await;
        let other_deal = open_deal_as(&app, &m, &other, "assignment").await;
        accept(&app, &m, &other_deal).await.assert_status(200);

        // The seller refunds through Stripe; Stripe's own report of it later changes nothing.
        let refunded = app
            .post(&format!("/api/v1/payments/{payment}/refund"), Some(&m.seller.token), json!({"amount_fen": 1_000_000}))
            .await;
        refunded.assert_status(200);
        assert_eq!(refunded.json["status"], "refunded");
        assert_eq!(fake.refunds(), [(intent.clone(), 1_000_000)]);
        let after = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(after["status"], "terminated");
        assert_eq!(after["refunds"][0]["stripe_refund_id"], "re_test_0001");
        let report = techtrade_tests::stripe::event(
            "charge.refunded",
            "evt_refund",
            json!({"payment_intent": intent, "amount": 1_000_000, "amount_refunded": 1_000_000, "refunded": true}),
        );
        let receipt = webhook(&app, &report).await;
        receipt.assert_status(200);
        assert_eq!(receipt.json["applied"], false);
        assert_eq!(deal(&app, &m.buyer.token, &id).await["payments"][0]["refunded_amount_fen"], 1_000_000);
        terminate(m.seller.token.clone(), body).await.assert_problem(409, "invalid_state");
    }
}

on_both_databases! {
    async fn an_amended_contract_cannot_fall_below_what_is_paid(app: TestApp) {
        // Found by the model test: a contract amended after a payment could
        // leave more paid than its total.
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000_000).await;
        paid(&app, &m, &id, 600_000).await;
        pay_offline(&app, &m, &id, 300_000, None).await.assert_status(201);
        let lower = app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract(800_000, 0)).await;
        lower.assert_problem(422, "validation_failed");
        assert_eq!(lower.json["errors"][0]["code"], "below_paid");
        app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract(900_000, 0)).await.assert_status(200);
    }
}

on_both_databases! {
    async fn a_fen_refunded_and_paid_again_is_counted_once_for_a_subsidy(app: TestApp) {
        // Paid in full last year; this year 30% refunded and paid again.
        // Counting payments net of refunds on their own dates gave this
        // year 30% of base again.
        let year = chrono::Datelike::year(&techtrade_db::today());
        let m = market(&app, &["nonexclusive_license"]).await;
        let id = open_deal_as(&app, &m, &m.buyer, "nonexclusive_license").await;
        accept(&app, &m, &id).await.assert_status(200);
        let mut signed = contract(10_000_000, 0);
        signed["signed_on"] = json!(format!("{}-03-01", year - 1));
        app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), signed).await.assert_status(200);
        register(&app, &m, &id, 10_000_000).await.assert_status(200);
        let last_year = json!({"method": "offline", "amount_fen": 10_000_000, "paid_on": format!("{}-06-30", year - 1), "reference": "ICBC-1"});
        let payment = app.post(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), last_year).await;
        let payment = payment.json["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/payments/{payment}/confirm"), Some(&m.seller.token), json!({})).await.assert_status(200);
        let refund = json!({"amount_fen": 3_000_000, "refunded_on": techtrade_db::today(), "reference": "ICBC-R"});
        app.post(&format!("/api/v1/payments/{payment}/refund"), Some(&m.seller.token), refund).await.assert_status(200);
        paid(&app, &m, &id, 3_000_000).await;
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "completed");
        let preview = |year: i32| {
            let (app, token) = (&app, m.buyer.token.clone());
            async move {
                let body = json!({"program_id": "nanjing-2021", "year": year, "role": "buyer"});
                app.post("/api/v1/subsidy/claims/preview", Some(&token), body).await
            }
        };
        let before = preview(year - 1).await;
        assert_eq!(before.json["lines"][0]["base_fen"], 10_000_000, "{}", before.text);
        let now = preview(year).await;
        let counted: i64 = now.json["lines"].as_array().unwrap().iter().map(|l| l["base_fen"].as_i64().unwrap()).sum();
        assert_eq!(counted, 0, "{}", now.text);
    }
}

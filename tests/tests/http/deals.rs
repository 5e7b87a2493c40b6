//! Deals over HTTP: negotiation, contract, registration, offline and Stripe
//! payments, completion — and every refusal on the way.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use techtrade_db::{audit, deals as db, outbox};
use techtrade_tests::market::*;
use techtrade_tests::on_both_databases;
use techtrade_tests::stripe::{self, FakeStripe};

on_both_databases! {
    async fn an_offline_deal_goes_from_offer_to_completed(app: TestApp) {
        let m = market(&app, &["assignment", "exclusive_license"]).await;
        let id = open_deal(&app, &m).await;
        let opened = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(opened["status"], "negotiating");
        assert_eq!(opened["seller"]["id"], m.seller.id.as_str());
        assert_eq!(opened["buyer"]["id"], m.buyer.id.as_str());
        assert_eq!(opened["awaiting"], "seller");
        assert_eq!(opened["listing"]["title"], "退役动力锂电池正极材料再生技术");

        // The seller counters; now the buyer must answer.
        // One open deal per buyer and listing.
        let twice = app
            .post("/api/v1/deals", Some(&m.buyer.token), json!({"listing_id": m.listing_id, "offer": offer(1, "assignment")}))
            .await;
        twice.assert_problem(409, "conflict");
        let countered = app.post(&format!("/api/v1/deals/{id}/offers"), Some(&m.seller.token), offer(95_000_000, "assignment")).await;
        countered.assert_status(201);
        assert_eq!(countered.json["awaiting"], "buyer");
        assert_eq!(countered.json["offers"].as_array().unwrap().len(), 2);
        let agreed = app.post(&format!("/api/v1/deals/{id}/accept"), Some(&m.buyer.token), json!({})).await;
        agreed.assert_status(200);
        assert_eq!(agreed.json["status"], "agreed");
        assert_eq!(agreed.json["agreed_offer_id"], countered.json["offers"][1]["id"]);

        let contracted = app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract(1_000_000, 200_000)).await;
        contracted.assert_status(200);
        assert_eq!(contracted.json["status"], "contracted");
        assert_eq!(contracted.json["contract"]["technology_amount_fen"], 800_000);
        assert_eq!(contracted.json["contract"]["trade_mode"], "assignment");
        assert_eq!(contracted.json["outstanding_amount_fen"], 1_000_000);

        // A first instalment, retried with the same Idempotency-Key: one payment.
        let first = pay_offline(&app, &m, &id, 600_000, Some("pay-1")).await;
        first.assert_status(201);
        assert_eq!(first.json["status"], "pending_confirmation");
        let again = pay_offline(&app, &m, &id, 600_000, Some("pay-1")).await;
        again.assert_status(201);
        assert_eq!(again.json["id"], first.json["id"]);
        pay_offline(&app, &m, &id, 500_000, Some("pay-1")).await.assert_problem(422, "idempotency_key_reused");
        // More than is left to pay (600,000 pending of 1,000,000).
        let too_much = pay_offline(&app, &m, &id, 400_001, None).await;
        too_much.assert_problem(422, "validation_failed");
        assert_eq!(too_much.json["errors"][0]["code"], "exceeds_outstanding");
        let payment_id = first.json["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), json!({})).await.assert_status(200);
        assert_eq!(deal(&app, &m.buyer.token, &id).await["paid_amount_fen"], 600_000);

        let registered = register(&app, &m, &id, 750_000).await;
        registered.assert_status(200);
        assert_eq!(registered.json["status"], "registered");
        let number = registered.json["registration_number"].as_str().unwrap();
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(number.len(), 16);
        // The registration form's layout: year, the seller's prefecture, the office, a serial.
        assert!(number.starts_with(&format!("{year}630101")), "{number}");
        assert_eq!(registered.json["registrations"][0]["registered_technology_amount_fen"], 750_000);

        // The rest, confirmed: paid in full and registered, so completed.
        let rest = pay_offline(&app, &m, &id, 400_000, None).await;
        rest.assert_status(201);
        let rest_id = rest.json["id"].as_str().unwrap();
        app.post(&format!("/api/v1/payments/{rest_id}/confirm"), Some(&m.seller.token), json!({})).await.assert_status(200);
        let done = deal(&app, &m.seller.token, &id).await;
        assert_eq!(done["status"], "completed");
        assert_eq!(done["paid_amount_fen"], 1_000_000);
        assert_eq!(done["outstanding_amount_fen"], 0);
        // An assignment: the listing has been traded.
        let listing = app.get(&format!("/api/v1/listings/{}", m.listing_id), None).await;
        assert_eq!(listing.json["status"], "traded");

        assert_eq!(
            event_types(&app, &id),
            ["deal.opened", "deal.offered", "deal.agreed", "deal.contracted", "deal.registered", "deal.completed"]
        );
        assert_eq!(event_types(&app, &payment_id), ["payment.recorded", "payment.confirmed"]);
        let mut conn = app.database.connect();
        assert!(audit::verify(&mut conn, &techtrade_db::testing::test_audit_key(), &[]).unwrap().entries > 0);
        let payload: Value = serde_json::from_str(
            &outbox::events_after(&mut conn, 0, 10_000).unwrap().into_iter().find(|e| e.event_type == "deal.registered").unwrap().payload,
        )
        .unwrap();
        assert_eq!(payload["registration_number"], number);
        assert_eq!(payload["listing_title"], "退役动力锂电池正极材料再生技术");
        assert_eq!(payload["seller_organization_id"], m.seller.id.as_str());
    }
}

on_both_databases! {
    async fn a_licence_completes_without_taking_the_listing_off_the_market(app: TestApp) {
        let m = market(&app, &["nonexclusive_license"]).await;
        let response = app
            .post("/api/v1/deals", Some(&m.buyer.token), json!({"listing_id": m.listing_id, "offer": offer(300_000, "nonexclusive_license")}))
            .await;
        response.assert_status(201);
        let id = response.json["id"].as_str().unwrap();
        app.post(&format!("/api/v1/deals/{id}/accept"), Some(&m.seller.token), json!({})).await.assert_status(200);
        app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract(300_000, 0)).await.assert_status(200);
        // Registered before any payment: completes on the payment.
        register(&app, &m, id, 300_000).await.assert_status(200);
        let payment = pay_offline(&app, &m, id, 300_000, None).await;
        let payment_id = payment.json["id"].as_str().unwrap();
        let confirmed = app.post(&format!("/api/v1/payments/{payment_id}/confirm"), Some(&m.seller.token), json!({})).await;
        confirmed.assert_status(200);
        assert_eq!(confirmed.json["status"], "confirmed");
        assert_eq!(deal(&app, &m.buyer.token, id).await["status"], "completed");
        assert_eq!(app.get(&format!("/api/v1/listings/{}", m.listing_id), None).await.json["status"], "published");
    }
}

on_both_databases! {
    async fn wrong_parties_and_wrong_states_are_refused_at_every_step(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let outsider = app.register_org("enterprise").await;
        let id = open_deal(&app, &m).await;
        let path = |action: &str| format!("/api/v1/deals/{id}/{action}");

        // Negotiating: the buyer made the latest offer.
        app.post(&path("offers"), Some(&m.buyer.token), offer(1, "assignment")).await.assert_problem(403, "wrong_party");
        app.post(&path("accept"), Some(&m.buyer.token), json!({})).await.assert_problem(403, "wrong_party");
        app.post(&path("accept"), Some(&m.official), json!({})).await.assert_problem(403, "not_a_party");
        app.post(&path("contract"), Some(&m.seller.token), contract(100, 0)).await.assert_problem(409, "invalid_state");
        app.post(&path("contract"), Some(&m.buyer.token), contract(100, 0)).await.assert_problem(403, "wrong_party");
        register(&app, &m, &id, 1).await.assert_problem(409, "invalid_state");
        pay_offline(&app, &m, &id, 1, None).await.assert_problem(409, "invalid_state");
        // An outsider does not even see the deal.
        app.post(&path("accept"), Some(&outsider.token), json!({})).await.assert_problem(404, "not_found");
        app.get(&format!("/api/v1/deals/{id}"), Some(&outsider.token)).await.assert_problem(404, "not_found");
        app.get(&format!("/api/v1/deals/{id}"), Some(&m.official)).await.assert_status(200);

        // Agreed.
        app.post(&path("accept"), Some(&m.seller.token), json!({})).await.assert_status(200);
        app.post(&path("accept"), Some(&m.seller.token), json!({})).await.assert_problem(409, "invalid_state");
        app.post(&path("offers"), Some(&m.seller.token), offer(1, "assignment")).await.assert_problem(409, "invalid_state");
        register(&app, &m, &id, 1).await.assert_problem(409, "invalid_state");

        // Contracted: only an official registers; only the buyer pays; only the seller confirms.
        app.post(&path("contract"), Some(&m.seller.token), contract(1_000, 0)).await.assert_status(200);
        let member_registers = app
            .post(&path("registration"), Some(&m.seller.token), json!({"decision": "register", "registered_technology_amount_fen": 1}))
            .await;
        member_registers.assert_problem(403, "forbidden");
        pay_offline(&app, &m, &id, 1_000, None).await.assert_status(201);
        let seller_pays = app
            .post(&path("payments"), Some(&m.seller.token), json!({"method": "offline", "amount_fen": 1, "paid_on": "2026-11-01", "reference": "x"}))
            .await;
        seller_pays.assert_problem(403, "wrong_party");
        let payment_id = deal(&app, &m.buyer.token, &id).await["payments"][0]["id"].as_str().unwrap().to_string();
        let confirm = format!("/api/v1/payments/{payment_id}/confirm");
        app.post(&confirm, Some(&m.buyer.token), json!({})).await.assert_problem(403, "wrong_party");
        app.post(&confirm, Some(&outsider.token), json!({})).await.assert_problem(404, "not_found");
        app.post(&confirm, Some(&m.seller.token), json!({})).await.assert_status(200);
        app.post(&confirm, Some(&m.seller.token), json!({})).await.assert_problem(409, "invalid_state");

        // A rejected registration keeps the deal contracted; then it is registered.
        let rejected = app
            .post(&path("registration"), Some(&m.official), json!({"decision": "reject", "reason": "合同技术内容不明确"}))
            .await;
        rejected.assert_status(200);
        assert_eq!(rejected.json["status"], "contracted");
        assert_eq!(rejected.json["registration_number"], Value::Null);
        register(&app, &m, &id, 1_000).await.assert_status(200);
        // Registered and paid in full: completed; nothing more can happen.
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "completed");
        app.post(&path("cancel"), Some(&m.buyer.token), json!({})).await.assert_problem(409, "invalid_state");
        register(&app, &m, &id, 1_000).await.assert_problem(409, "invalid_state");
        pay_offline(&app, &m, &id, 1, None).await.assert_problem(409, "invalid_state");

        // Cancelling: either party before registration, nobody after.
        let other = open_deal(&app, &market(&app, &["assignment"]).await).await;
        let _ = other;
        let m2 = market(&app, &["assignment"]).await;
        let cancelled_id = agreed_deal(&app, &m2).await;
        let cancel = app
            .post(&format!("/api/v1/deals/{cancelled_id}/cancel"), Some(&m2.seller.token), json!({"reason": "买方资金未落实"}))
            .await;
        cancel.assert_status(200);
        assert_eq!(cancel.json["status"], "cancelled");
        assert_eq!(cancel.json["cancel_reason"], "买方资金未落实");
        app.post(&format!("/api/v1/deals/{cancelled_id}/accept"), Some(&m2.seller.token), json!({})).await.assert_problem(409, "invalid_state");
        app.post(&format!("/api/v1/deals/{cancelled_id}/cancel"), Some(&m2.official), json!({})).await.assert_problem(403, "not_a_party");
    }
}

on_both_databases! {
    async fn bad_input_is_refused_field_by_field(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let agency = app.register_org("agency").await;
        let enterprise = app.register_org("enterprise").await;
        let deal_with = |body: Value| async { app.post("/api/v1/deals", Some(&m.buyer.token), body).await };

        let own = app.post("/api/v1/deals", Some(&m.seller.token), json!({"listing_id": m.listing_id, "offer": offer(1, "assignment")})).await;
        own.assert_problem(422, "validation_failed");
        assert_eq!(own.error_fields(), ["listing_id"]);
        assert_eq!(own.json["errors"][0]["code"], "own_listing");

        let bad = deal_with(json!({
            "listing_id": "nope",
            "agency_organization_id": enterprise.id,
            "offer": {"amount_fen": 0, "trade_mode": "equity"},
        }))
        .await;
        bad.assert_problem(422, "validation_failed");
        assert_eq!(bad.error_fields(), ["listing_id", "agency_organization_id", "offer.amount_fen"]);

        let wrong_mode = deal_with(json!({"listing_id": m.listing_id, "offer": offer(10, "equity")})).await;
        assert_eq!(wrong_mode.json["errors"][0]["code"], "not_offered");
        let unknown_mode = deal_with(json!({"listing_id": m.listing_id, "offer": offer(10, "barter")})).await;
        unknown_mode.assert_problem(422, "validation_failed");

        let with_agency = deal_with(json!({"listing_id": m.listing_id, "agency_organization_id": agency.id, "offer": offer(10, "assignment")})).await;
        with_agency.assert_status(201);
        assert_eq!(with_agency.json["agency"]["id"], agency.id.as_str());
        // The agency sees the deal it is credited with once it accepted
        // (money_paths.rs tests the consent), but does not negotiate.
        let id = with_agency.json["id"].as_str().unwrap();
        app.get(&format!("/api/v1/deals/{id}"), Some(&agency.token)).await.assert_problem(404, "not_found");
        app.post(&format!("/api/v1/deals/{id}/agency"), Some(&agency.token), json!({"decision": "accept"}))
            .await
            .assert_status(200);
        app.get(&format!("/api/v1/deals/{id}"), Some(&agency.token)).await.assert_status(200);
        app.post(&format!("/api/v1/deals/{id}/accept"), Some(&agency.token), json!({})).await.assert_problem(403, "not_a_party");

        app.post(&format!("/api/v1/deals/{id}/accept"), Some(&m.seller.token), json!({})).await.assert_status(200);
        let contract_bad = app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), json!({
            "category": "transfer", "total_amount_fen": 100, "non_technical_amount_fen": 101,
            "signed_on": "2999-01-01", "related_party": false,
        })).await;
        contract_bad.assert_problem(422, "validation_failed");
        assert_eq!(contract_bad.error_fields(), ["non_technical_amount_fen", "signed_on"]);
        app.post(&format!("/api/v1/deals/{id}/contract"), Some(&m.seller.token), contract(1_000, 400)).await.assert_status(200);

        let over = register(&app, &m, id, 601).await;
        over.assert_problem(422, "validation_failed");
        assert_eq!(over.json["errors"][0]["code"], "exceeds_technology_amount");
        let no_reason = app.post(&format!("/api/v1/deals/{id}/registration"), Some(&m.official), json!({"decision": "reject"})).await;
        assert_eq!(no_reason.error_fields(), ["reason"]);

        let future = app.post(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token),
            json!({"method": "offline", "amount_fen": 0, "paid_on": "2999-01-01", "reference": ""})).await;
        future.assert_problem(422, "validation_failed");
        let bad_key = app.post_with(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), &[("Idempotency-Key", "")], "{}").await;
        bad_key.assert_problem(400, "invalid_header");
    }
}

on_both_databases! {
    async fn of_two_concurrent_accepts_one_wins(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let id = open_deal(&app, &m).await;
        let path = format!("/api/v1/deals/{id}/accept");
        let (a, b) = tokio::join!(
            app.post(&path, Some(&m.seller.token), json!({})),
            app.post(&path, Some(&m.seller.token), json!({})),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
        let loser = if a.status == 409 { &a } else { &b };
        assert_eq!(loser.code(), "invalid_state");
        assert_eq!(event_types(&app, &id).iter().filter(|t| *t == "deal.agreed").count(), 1);
    }
}

on_both_databases! {
    async fn registration_numbers_are_never_reused(app: TestApp) {
        // Ordinary licences: one listing, many licensees.
        let mut m = market(&app, &["nonexclusive_license"]).await;
        let mut numbers = Vec::new();
        for _ in 0..3 {
            // A buyer negotiates a listing in one deal at a time: a new buyer each time.
            m.buyer = app.register_org("enterprise").await;
            let id = open_deal_as(&app, &m, &m.buyer, "nonexclusive_license").await;
            accept(&app, &m, &id).await.assert_status(200);
            sign(&app, &m, &id, 1_000).await;
            let registered = register(&app, &m, &id, 800).await;
            registered.assert_status(200);
            numbers.push(registered.json["registration_number"].as_str().unwrap().to_string());
        }
        let serials: Vec<i64> = numbers.iter().map(|n| n[10..].parse().unwrap()).collect();
        assert_eq!(serials, [1, 2, 3], "{numbers:?}");
        let page = app.get("/api/v1/deals?status=registered", Some(&m.official)).await;
        assert_eq!(page.json["total"], 3);
        let mine = app.get("/api/v1/deals", Some(&m.buyer.token)).await;
        assert_eq!(mine.json["total"], 1);
        let sellers = app.get("/api/v1/deals", Some(&m.seller.token)).await;
        assert_eq!(sellers.json["total"], 3);
        let stranger = app.register_org("enterprise").await;
        assert_eq!(app.get("/api/v1/deals", Some(&stranger.token)).await.json["total"], 0);
    }
}

on_both_databases! {
    async fn without_stripe_keys_stripe_routes_say_so(app: TestApp) {
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000).await;
        let response = app.post(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), json!({"method": "stripe", "amount_fen": 100})).await;
        response.assert_problem(409, "stripe_not_configured");
        assert_eq!(response.error_fields(), ["method"]);
        let body = stripe::event("payment_intent.succeeded", "evt_1", json!({}));
        let webhook = app.post_with("/api/v1/webhooks/stripe", None, &[("Stripe-Signature", &stripe::signature(&body, None))], &body).await;
        webhook.assert_problem(409, "stripe_not_configured");
    }
}

on_both_databases! {
    async fn a_stripe_payment_is_confirmed_by_its_signed_webhook_once(app: TestApp) {
        let fake = FakeStripe::start().await;
        let app = app.with_stripe(fake.settings());
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 500_000).await;
        register(&app, &m, &id, 300_000).await.assert_status(200);

        let body = json!({"method": "stripe", "amount_fen": 500_000}).to_string();
        let path = format!("/api/v1/deals/{id}/payments");
        let created = app.post_with(&path, Some(&m.buyer.token), &[("Idempotency-Key", "stripe-1")], &body).await;
        created.assert_status(201);
        assert_eq!(created.json["status"], "awaiting_payment");
        let intent_id = created.json["stripe_payment_intent_id"].as_str().unwrap().to_string();
        assert!(created.json["client_secret"].as_str().unwrap().starts_with(&intent_id));
        let payment_id = created.json["id"].as_str().unwrap().to_string();
        // The PaymentIntent Stripe was asked for: CNY, the amount in fen, our ids, our key.
        let requests = fake.requests();
        assert_eq!(requests.len(), 1);
        let form = &requests[0].form;
        assert_eq!((form["amount"].as_str(), form["currency"].as_str()), ("500000", "cny"));
        assert_eq!(form["metadata[payment_id]"], payment_id);
        assert_eq!(form["metadata[deal_id]"], id);
        assert_eq!(requests[0].idempotency_key.as_deref(), Some(format!("techtrade-payment-{payment_id}").as_str()));
        assert_eq!(requests[0].authorization.as_deref(), Some(format!("Bearer {}", stripe::SECRET_KEY).as_str()));
        // A retry with the same key replays the answer without asking Stripe again.
        let replay = app.post_with(&path, Some(&m.buyer.token), &[("Idempotency-Key", "stripe-1")], &body).await;
        replay.assert_status(201);
        assert_eq!(replay.json, created.json);
        assert_eq!(fake.requests().len(), 1);

        let succeeded = stripe::event("payment_intent.succeeded", "evt_succeeded_1", json!({
            "id": intent_id, "amount": 500_000, "amount_received": 500_000, "currency": "cny", "status": "succeeded",
            "metadata": {"payment_id": payment_id, "deal_id": id},
        }));
        let webhook = |body: String, signature: String| {
            let app = &app;
            async move { app.post_with("/api/v1/webhooks/stripe", None, &[("Stripe-Signature", &signature)], &body).await }
        };
        // Tampered: the amount changed after signing.
        let tampered = succeeded.replace("\"amount_received\":500000", "\"amount_received\":900000");
        assert_ne!(tampered, succeeded);
        webhook(tampered, stripe::signature(&succeeded, None)).await.assert_problem(400, "invalid_signature");
        // Signed too long ago: a replayed capture.
        let stale = chrono::Utc::now().timestamp() - 3_600;
        webhook(succeeded.clone(), stripe::signature(&succeeded, Some(stale))).await.assert_problem(400, "invalid_signature");
        webhook(succeeded.clone(), "t=1,v1=00".into()).await.assert_problem(400, "invalid_signature");
        assert_eq!(deal(&app, &m.buyer.token, &id).await["status"], "registered");

        let applied = webhook(succeeded.clone(), stripe::signature(&succeeded, None)).await;
        applied.assert_status(200);
        assert_eq!(applied.json, json!({"received": true, "applied": true}));
        let done = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(done["status"], "completed");
        assert_eq!(done["payments"][0]["status"], "confirmed");
        assert_eq!(done["paid_amount_fen"], 500_000);
        let events_before = event_types(&app, &payment_id);

        // The same event again (Stripe retries): nothing changes.
        let again = webhook(succeeded.clone(), stripe::signature(&succeeded, None)).await;
        again.assert_status(200);
        assert_eq!(again.json["applied"], false);
        assert_eq!(event_types(&app, &payment_id), events_before);
        assert_eq!(deal(&app, &m.buyer.token, &id).await, done);

        // A partial refund, then the rest.
        let refund = |event_id: &str, refunded: i64| {
            stripe::event("charge.refunded", event_id, json!({
                "payment_intent": intent_id, "amount": 500_000, "amount_refunded": refunded, "currency": "cny",
                "refunded": refunded == 500_000,
            }))
        };
        let partial = refund("evt_refund_1", 100_000);
        webhook(partial.clone(), stripe::signature(&partial, None)).await.assert_status(200);
        let after = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(after["payments"][0]["refunded_amount_fen"], 100_000);
        assert_eq!(after["payments"][0]["status"], "confirmed");
        assert_eq!(after["paid_amount_fen"], 400_000);
        let full = refund("evt_refund_2", 500_000);
        webhook(full.clone(), stripe::signature(&full, None)).await.assert_status(200);
        let refunded = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(refunded["payments"][0]["status"], "refunded");
        assert_eq!(refunded["paid_amount_fen"], 0);
        assert_eq!(event_types(&app, &payment_id), ["payment.started", "payment.confirmed", "payment.refunded", "payment.refunded"]);

        // An event about something that is not ours is acknowledged and ignored.
        let foreign = stripe::event("payment_intent.succeeded", "evt_foreign", json!({"id": "pi_elsewhere", "metadata": {}}));
        let ignored = webhook(foreign.clone(), stripe::signature(&foreign, None)).await;
        assert_eq!(ignored.json["applied"], false);
        let mut conn = app.database.connect();
        assert_eq!(db::stripe_event_count(&mut conn).unwrap(), 4);
    }
}

on_both_databases! {
    async fn a_failed_stripe_payment_is_recorded_and_can_be_retried(app: TestApp) {
        let fake = FakeStripe::start().await;
        let app = app.with_stripe(fake.settings());
        let m = market(&app, &["assignment"]).await;
        let id = contracted_deal(&app, &m, 1_000).await;
        let created = app.post(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), json!({"method": "stripe", "amount_fen": 1_000})).await;
        created.assert_status(201);
        let payment_id = created.json["id"].as_str().unwrap();
        let intent_id = created.json["stripe_payment_intent_id"].as_str().unwrap();
        let failed = stripe::event("payment_intent.payment_failed", "evt_failed", json!({
            "id": intent_id, "amount": 1_000, "currency": "cny", "status": "requires_payment_method",
            "metadata": {"payment_id": payment_id}, "last_payment_error": {"type": "card_error", "message": "Your card was declined."},
        }));
        let response = app.post_with("/api/v1/webhooks/stripe", None, &[("Stripe-Signature", &stripe::signature(&failed, None))], &failed).await;
        response.assert_status(200);
        let view = deal(&app, &m.buyer.token, &id).await;
        assert_eq!(view["payments"][0]["status"], "failed");
        assert_eq!(view["payments"][0]["failure_reason"], "Your card was declined.");
        // An abandoned or failed intent does not block paying again.
        let second = app.post(&format!("/api/v1/deals/{id}/payments"), Some(&m.buyer.token), json!({"method": "stripe", "amount_fen": 1_000})).await;
        second.assert_status(201);
        assert_ne!(second.json["stripe_payment_intent_id"], created.json["stripe_payment_intent_id"]);
    }
}

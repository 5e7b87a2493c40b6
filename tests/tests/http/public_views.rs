//! The cache of published items' public views (issue #21): every change
//! that alters a public view reaches every replica's cache through the
//! outbox, the replica that served the write at once, the others at their
//! follower's next pass; owners and officials always read the database;
//! `If-None-Match` answers 304. The terms matching weighs are kept and
//! evicted alongside.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_tests::{TestApp, TestOrg, TestResponse, on_both_databases};
use techtrade_web::published::{Capacities, PublishedCache};

fn listing_body() -> Value {
    json!({
        "kind": "achievement",
        "title": "高原光伏组件积灰在线监测系统",
        "summary": "基于图像识别的组件积灰监测，已在格尔木电站试运行。",
        "ipc": ["H02S50/10"],
        "maturity": "pilot",
        "trade_modes": ["exclusive_license"],
        "price_fen": 30_000_000,
        "negotiable": true,
        "region_code": "632801",
        "patents": [],
    })
}

fn demand_body() -> Value {
    json!({
        "title": "枸杞鲜果保鲜与冷链技术",
        "description": "寻求枸杞鲜果采后保鲜、预冷与冷链运输的成熟技术。",
        "ipc": ["A23B7/04"],
        "budget_min_fen": 10_000_000,
        "budget_max_fen": 80_000_000,
        "negotiable": true,
        "trade_modes": ["assignment"],
        "region_code": "632800",
        "deadline": "2030-12-31",
    })
}

/// Creates, submits and approves an item through `app`; its id.
async fn published(app: &TestApp, collection: &str, body: Value, org: &TestOrg, official: &str) -> String {
    let created = app.post(&format!("/api/v1/{collection}"), Some(&org.token), body).await;
    created.assert_status(201);
    let id = created.json["id"].as_str().unwrap().to_string();
    app.request(Method::POST, &format!("/api/v1/{collection}/{id}/submit"), Some(&org.token), None)
        .await
        .assert_status(200);
    app.post(&format!("/api/v1/{collection}/{id}/review"), Some(official), json!({"decision": "approve"}))
        .await
        .assert_status(200);
    id
}

/// What an anonymous visitor gets.
async fn anonymous(app: &TestApp, path: &str) -> TestResponse {
    app.get(path, None).await
}

/// A demand for what [`listing_body`] offers, its budget around its price.
fn matching_demand_body() -> Value {
    json!({
        "title": "光伏组件积灰监测技术",
        "description": "寻求光伏电站组件积灰在线监测与清洗决策技术。",
        "ipc": ["H02S50/10"],
        "budget_min_fen": 10_000_000,
        "budget_max_fen": 50_000_000,
        "negotiable": false,
        "trade_modes": ["exclusive_license"],
        "region_code": "632800",
        "deadline": "2030-12-31",
    })
}

/// The price reason's detail of `listing` among the matches of `demand`
/// as `process` ranks them; `None` when it is not among them.
async fn price_reason(process: &TestApp, demand: &str, listing: &str) -> Option<String> {
    let response = anonymous(process, &format!("/api/v1/demands/{demand}/matches")).await;
    response.assert_status(200);
    let items = response.json["items"].as_array().unwrap();
    let item = items.iter().find(|item| item["listing"]["id"] == listing)?;
    let reasons = item["reasons"].as_array().unwrap();
    let price = reasons.iter().find(|reason| reason["factor"] == "price").unwrap();
    Some(price["detail"].as_str().unwrap().to_string())
}

/// Changes a row behind every process's back (no event): what a replica
/// then serves shows whether it answered from its cache.
fn retitle_quietly(app: &TestApp, table: &str, id: &str, title: &str) {
    use diesel::RunQueryDsl;
    let mut conn = app.database.connect();
    let sql = format!("UPDATE {table} SET title = '{title}' WHERE id = '{id}'");
    diesel::sql_query(sql).execute(&mut conn).unwrap();
}

on_both_databases! {
    async fn a_replica_serves_a_published_listing_from_memory_until_the_outbox_says_it_changed(app: TestApp) {
        let other = app.replica();
        let org = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let id = published(&app, "listings", listing_body(), &org, &official).await;
        let path = format!("/api/v1/listings/{id}");
        // The other process has seen the publication go by.
        assert!(other.follow_outbox().await >= 3);

        let first = anonymous(&other, &path).await;
        first.assert_status(200);
        assert_eq!(first.json["title"], "高原光伏组件积灰在线监测系统");
        assert_eq!(first.header("etag"), "\"3\"");
        assert_eq!(first.header("cache-control"), "no-cache");
        assert_eq!(other.state.published.len(), 1, "a public view read once is kept");

        // A change without an event is invisible to a cache: the second
        // read comes from memory, byte for byte.
        retitle_quietly(&app, "listings", &id, "悄悄改过的标题");
        let second = anonymous(&other, &path).await;
        assert_eq!(second.bytes, first.bytes);
        assert_eq!(other.follow_outbox().await, 0);
        assert_eq!(anonymous(&other, &path).await.json["title"], "高原光伏组件积灰在线监测系统");
        // The owner's members read the database.
        assert_eq!(other.get(&path, Some(&org.token)).await.json["title"], "悄悄改过的标题");

        // The owner edits it through the first process: the edit sends it
        // back to review. That process answers from the database at once.
        let edit = app.request(Method::PATCH, &path, Some(&org.token), Some(json!({"price_fen": 25_000_000}))).await;
        edit.assert_status(200);
        assert_eq!(edit.json["status"], "pending_review");
        anonymous(&app, &path).await.assert_problem(404, "not_found");
        // The other still has the old view until its follower runs...
        anonymous(&other, &path).await.assert_status(200);
        // ...but never for the owner, who sees the change everywhere at once.
        assert_eq!(other.get(&path, Some(&org.token)).await.json["status"], "pending_review");
        assert!(other.follow_outbox().await >= 1);
        anonymous(&other, &path).await.assert_problem(404, "not_found");
        assert!(other.state.published.is_empty());
    }
}

on_both_databases! {
    async fn every_event_that_changes_a_public_view_reaches_every_replica(app: TestApp) {
        let replicas = [app.replica(), app.replica()];
        let org = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;
        let listing = published(&app, "listings", listing_body(), &org, &official).await;
        let demand = published(&app, "demands", demand_body(), &org, &official).await;
        let listing_path = format!("/api/v1/listings/{listing}");
        let demand_path = format!("/api/v1/demands/{demand}");

        // Each step changes the public view by one event; after it every
        // process (the writer included) shows the new state once followed.
        let check = |status: Option<&'static str>, path: String| {
            let processes = [&app, &replicas[0], &replicas[1]];
            async move {
                for process in processes {
                    // Warm the cache first, then follow: the follow must evict.
                    let _ = anonymous(process, &path).await;
                }
                for process in processes {
                    process.follow_outbox().await;
                    let read = anonymous(process, &path).await;
                    match status {
                        Some(status) => assert_eq!(read.json["status"], status, "{path}: {}", read.text),
                        None => {
                            read.assert_problem(404, "not_found");
                        }
                    };
                }
            }
        };
        check(Some("published"), listing_path.clone()).await;
        for process in [&replicas[0], &replicas[1]] {
            anonymous(process, &listing_path).await.assert_status(200);
        }

        // listing.traded, by a deal completed in another process (a worker
        // or a payment provider's notification)
        let run = |f: fn(&mut techtrade_db::AnyConnection, &str) -> bool, id: String| {
            let mut conn = app.database.connect();
            techtrade_db::write_transaction(&mut conn, |conn| Ok::<_, diesel::result::Error>(f(conn, &id))).unwrap()
        };
        assert!(run(|conn, id| techtrade_listings::mark_listing_traded(conn, id, None, None).unwrap(), listing.clone()));
        for process in [&replicas[0], &replicas[1]] {
            assert_eq!(anonymous(process, &listing_path).await.json["status"], "published", "not followed yet");
        }
        check(Some("traded"), listing_path.clone()).await;
        // listing.reopened
        assert!(run(|conn, id| techtrade_listings::reopen_traded_listing(conn, id, None, None).unwrap(), listing.clone()));
        check(Some("published"), listing_path.clone()).await;
        // listing.withdrawn
        app.request(Method::POST, &format!("{listing_path}/withdraw"), Some(&org.token), None).await.assert_status(200);
        check(None, listing_path.clone()).await;

        // demand.unpublished (an edit of a published demand), then published again
        check(Some("published"), demand_path.clone()).await;
        let edit = app.request(Method::PATCH, &demand_path, Some(&org.token), Some(json!({"budget_max_fen": 90_000_000}))).await;
        edit.assert_status(200);
        check(None, demand_path.clone()).await;
        app.post(&format!("{demand_path}/review"), Some(&official), json!({"decision": "approve"})).await.assert_status(200);
        check(Some("published"), demand_path.clone()).await;
        assert_eq!(anonymous(&replicas[1], &demand_path).await.json["budget_max_fen"], 90_000_000);
        // demand.withdrawn
        app.request(Method::POST, &format!("{demand_path}/withdraw"), Some(&org.token), None).await.assert_status(200);
        check(None, demand_path).await;
    }
}

on_both_databases! {
    async fn a_client_with_the_current_version_gets_304_and_a_changed_item_in_full(app: TestApp) {
        let org = app.register_org("institute").await;
        let (_, official) = app.staff(Role::Official).await;
        let id = published(&app, "listings", listing_body(), &org, &official).await;
        let path = format!("/api/v1/listings/{id}");
        let conditional = |tag: &str| {
            Request::builder().method(Method::GET).uri(&path).header("if-none-match", tag).body(Body::empty()).unwrap()
        };

        let full = anonymous(&app, &path).await;
        let etag = full.header("etag").to_string();
        // Once from the database, once from the cache: both 304.
        for _ in 0..2 {
            let unchanged = app.send(conditional(&etag)).await;
            unchanged.assert_status(304);
            assert!(unchanged.bytes.is_empty());
            assert_eq!(unchanged.header("etag"), etag);
        }
        app.send(conditional("\"1\"")).await.assert_status(200);

        // The owner's draft answers 304 too, kept only by its reader.
        let draft = app.post("/api/v1/listings", Some(&org.token), listing_body()).await;
        let draft_path = format!("/api/v1/listings/{}", draft.json["id"].as_str().unwrap());
        let read = app.get(&draft_path, Some(&org.token)).await;
        assert_eq!(read.header("cache-control"), "private, no-cache");
        let request = Request::builder()
            .uri(&draft_path)
            .header("authorization", format!("Bearer {}", org.token))
            .header("if-none-match", "\"1\"")
            .body(Body::empty())
            .unwrap();
        app.send(request).await.assert_status(304);

        // A change makes the old tag stale.
        let edit = json!({"summary": "基于图像识别的组件积灰监测，已在格尔木、德令哈电站试运行。"});
        app.request(Method::PATCH, &path, Some(&org.token), Some(edit)).await.assert_status(200);
        app.post(&format!("{path}/review"), Some(&official), json!({"decision": "approve"})).await.assert_status(200);
        let changed = app.send(conditional(&etag)).await;
        changed.assert_status(200);
        assert_ne!(changed.header("etag"), etag);
    }
}

on_both_databases! {
    async fn the_web_front_reads_listings_through_the_same_cache(app: TestApp) {
        let other = app.replica();
        let org = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let id = published(&app, "listings", listing_body(), &org, &official).await;
        // The public page fills the cache; the API then reads the same view.
        let page = other.get(&format!("/listings/{id}"), None).await;
        page.assert_status(200);
        assert!(page.text.contains("高原光伏组件积灰在线监测系统"));
        retitle_quietly(&app, "listings", &id, "悄悄改过的标题");
        assert!(other.get(&format!("/listings/{id}"), None).await.text.contains("高原光伏组件积灰在线监测系统"));
        assert_eq!(anonymous(&other, &format!("/api/v1/listings/{id}")).await.json["title"], "高原光伏组件积灰在线监测系统");
        app.request(Method::POST, &format!("/api/v1/listings/{id}/withdraw"), Some(&org.token), None)
            .await
            .assert_status(200);
        other.follow_outbox().await;
        other.get(&format!("/listings/{id}"), None).await.assert_status(404);
    }
}

on_both_databases! {
    async fn a_replica_scores_matches_on_the_terms_it_keeps_until_the_outbox_says_they_changed(app: TestApp) {
        let other = app.replica();
        let (seller, buyer) = (app.register_org("university").await, app.register_org("enterprise").await);
        let (_, official) = app.staff(Role::Official).await;
        let listing = published(&app, "listings", listing_body(), &seller, &official).await;
        let demand = published(&app, "demands", matching_demand_body(), &buyer, &official).await;
        app.sync_search().await;
        other.follow_outbox().await;
        let within = "价格 ¥300,000.00 在预算 ¥100,000.00–¥500,000.00内";
        assert_eq!(price_reason(&other, &demand, &listing).await.as_deref(), Some(within));
        assert_eq!(other.state.published.terms_len(), 1, "the candidate's terms are kept");
        assert_eq!(price_reason(&app, &demand, &listing).await.as_deref(), Some(within));

        // A change without an event is invisible to what is kept: the
        // listing shown is read afresh, its score is not.
        let mut conn = app.database.connect();
        let sql = format!("UPDATE listings SET price_fen = 90000000 WHERE id = '{listing}'");
        diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).unwrap();
        assert_eq!(price_reason(&other, &demand, &listing).await.as_deref(), Some(within));
        assert_eq!(other.follow_outbox().await, 0);
        assert_eq!(price_reason(&other, &demand, &listing).await.as_deref(), Some(within));

        // The owner's edit (back to review) through the first process: it
        // no longer matches there at once...
        let path = format!("/api/v1/listings/{listing}");
        let edit = app.request(Method::PATCH, &path, Some(&seller.token), Some(json!({"price_fen": 25_000_000}))).await;
        edit.assert_status(200);
        assert_eq!(price_reason(&app, &demand, &listing).await, None);
        assert_eq!(app.state.published.terms_len(), 0, "evicted before the edit was answered");
        // ...nor in the other, whose kept terms say published but whose
        // rows decide what is shown; its follower then forgets them.
        assert_eq!(price_reason(&other, &demand, &listing).await, None);
        assert!(other.follow_outbox().await >= 1);
        assert_eq!(other.state.published.terms_len(), 0);

        // Published again: both score the new price.
        app.post(&format!("{path}/review"), Some(&official), json!({"decision": "approve"})).await.assert_status(200);
        app.sync_search().await;
        other.follow_outbox().await;
        let cheaper = "价格 ¥250,000.00 在预算 ¥100,000.00–¥500,000.00内";
        for process in [&app, &other] {
            assert_eq!(price_reason(process, &demand, &listing).await.as_deref(), Some(cheaper));
            assert_eq!(process.state.published.terms_len(), 1);
        }
    }
}

on_both_databases! {
    async fn only_a_follower_pass_that_evicts_refuses_what_was_read_across_it(app: TestApp) {
        let other = app.replica();
        let cache = &other.state.published;
        let terms = |id: &str| techtrade_db::listings::ListingTerms {
            id: id.to_string(),
            status: "published".into(),
            published_at: None,
            ipc_codes: r#"["H02S50/10"]"#.into(),
            maturity: "pilot".into(),
            trade_modes: r#"["assignment"]"#.into(),
            price_fen: Some(1),
            negotiable: false,
            region_code: "630100".into(),
        };
        let (quiet, busy) = ("0193a0b4-7c2e-7d3a-9f00-00000000000a", "0193a0b4-7c2e-7d3a-9f00-00000000000b");
        // A pass that reads no event: what a slow reader read across it is kept.
        let ticket = cache.ticket();
        assert_eq!(other.follow_outbox().await, 0);
        cache.put_terms(ticket, "listing", vec![(quiet, terms(quiet).pack().unwrap())]);
        assert_eq!(cache.terms_len(), 1);
        // A pass that reads one refuses it, whatever item the event names.
        let ticket = cache.ticket();
        app.register_org("university").await;
        assert!(other.follow_outbox().await >= 1);
        cache.put_terms(ticket, "listing", vec![(busy, terms(busy).pack().unwrap())]);
        assert_eq!(cache.terms_len(), 1);
    }
}

on_both_databases! {
    async fn a_process_that_starts_serving_reads_every_published_items_terms(app: TestApp) {
        let (seller, buyer) = (app.register_org("university").await, app.register_org("enterprise").await);
        let (_, official) = app.staff(Role::Official).await;
        let listing = published(&app, "listings", listing_body(), &seller, &official).await;
        let demand = published(&app, "demands", matching_demand_body(), &buyer, &official).await;
        let second = published(&app, "listings", listing_body(), &seller, &official).await;
        // Neither a draft nor a withdrawn listing is kept.
        app.post("/api/v1/listings", Some(&seller.token), listing_body()).await.assert_status(201);
        let withdrawn = published(&app, "listings", listing_body(), &seller, &official).await;
        app.request(Method::POST, &format!("/api/v1/listings/{withdrawn}/withdraw"), Some(&seller.token), None)
            .await
            .assert_status(200);
        app.sync_search().await;

        let other = app.replica();
        let cache = &other.state.published;
        assert_eq!(cache.terms_len(), 0);
        assert_eq!(cache.warm(&other.state.db).await.unwrap(), 3);
        assert_eq!(cache.terms_len(), 3);
        // What matching then weighs is what was read: a quiet change is
        // not seen.
        let mut conn = app.database.connect();
        let sql = format!("UPDATE listings SET price_fen = 90000000 WHERE id IN ('{listing}', '{second}')");
        diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).unwrap();
        let within = "价格 ¥300,000.00 在预算 ¥100,000.00–¥500,000.00内";
        assert_eq!(price_reason(&other, &demand, &listing).await.as_deref(), Some(within));
        assert_eq!(price_reason(&other, &demand, &second).await.as_deref(), Some(within));

        // A cache with room for one keeps one; one not serving reads nothing.
        let small = PublishedCache::new(Capacities { views: 0, terms: 1 });
        assert_eq!(small.warm(&other.state.db).await.unwrap(), 0, "not serving yet");
        small.catch_up(&other.state.db).await.unwrap();
        assert_eq!(small.warm(&other.state.db).await.unwrap(), 1);
    }
}

//! Matching over HTTP: listings for a demand and demands for a listing,
//! ranked with reasons (on hand-made items and on the demo data), the
//! visibility of the subject, and saved searches with their alerts.

#![allow(clippy::unwrap_used)]

use axum::http::Method;
use diesel::prelude::*;
use serde_json::{Value, json};
use techtrade_db::outbox;
use techtrade_domain::Role;
use techtrade_listings::seed::PatentRecord;
use techtrade_tests::{TestApp, TestOrg, on_both_databases};

const FACTORS: [&str; 6] = ["text", "ipc", "price", "trade_mode", "region", "maturity"];

#[allow(clippy::too_many_arguments)]
fn listing(title: &str, ipc: &[&str], price_fen: Option<i64>, modes: &[&str], maturity: &str, region: &str) -> Value {
    json!({
        "kind": "achievement", "title": title, "summary": format!("{title}，已完成验证。"),
        "ipc": ipc, "maturity": maturity, "trade_modes": modes,
        "price_fen": price_fen, "negotiable": price_fen.is_none(), "region_code": region,
    })
}

fn battery_demand() -> Value {
    json!({
        "title": "废旧锂电池回收技术",
        "description": "寻求退役动力锂电池的拆解与正极材料回收技术。",
        "ipc": ["H01M10/54"],
        "budget_min_fen": 50_000_000, "budget_max_fen": 100_000_000, "negotiable": false,
        "trade_modes": ["assignment"], "region_code": "630105",
    })
}

/// Creates, submits and (when `official` is given) publishes an item; returns its id.
async fn item(app: &TestApp, kind: &str, org: &TestOrg, official: Option<&str>, body: Value) -> String {
    let created = app.post(&format!("/api/v1/{kind}"), Some(&org.token), body).await;
    created.assert_status(201);
    let id = created.json["id"].as_str().unwrap().to_string();
    if let Some(official) = official {
        app.request(Method::POST, &format!("/api/v1/{kind}/{id}/submit"), Some(&org.token), None)
            .await
            .assert_status(200);
        app.post(&format!("/api/v1/{kind}/{id}/review"), Some(official), json!({"decision": "approve"}))
            .await
            .assert_status(200);
    }
    id
}

fn reason<'a>(item: &'a Value, factor: &str) -> &'a Value {
    item["reasons"].as_array().unwrap().iter().find(|r| r["factor"] == factor).unwrap()
}

#[track_caller]
fn assert_explained(item: &Value) {
    let reasons = item["reasons"].as_array().unwrap();
    let factors: Vec<&str> = reasons.iter().map(|r| r["factor"].as_str().unwrap()).collect();
    assert_eq!(factors, FACTORS, "{item}");
    let mut total = 0.0;
    for r in reasons {
        let (weight, value) = (r["weight"].as_f64().unwrap(), r["value"].as_f64().unwrap());
        assert!((0.0..=1.0).contains(&weight) && (0.0..=1.0).contains(&value), "{r}");
        assert!(!r["detail"].as_str().unwrap().is_empty(), "{r}");
        total += weight * value;
    }
    let score = item["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score) && (total - score).abs() < 1e-9, "{item}");
}

#[track_caller]
fn assert_descending(items: &[Value]) {
    let scores: Vec<f64> = items.iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

on_both_databases! {
    async fn listings_for_a_demand_are_ranked_with_reasons(app: TestApp) {
        let (seller, buyer) = (app.register_org("university").await, app.register_org("enterprise").await);
        let (_, official) = app.staff(Role::Official).await;
        let best = item(&app, "listings", &seller, Some(&official),
            listing("锂电池正极材料回收方法", &["H01M10/54"], Some(80_000_000), &["assignment"], "industrial", "630102")).await;
        let near = item(&app, "listings", &seller, Some(&official),
            listing("动力锂电池热管理系统", &["H01M10/60"], Some(300_000_000), &["exclusive_license"], "lab", "320100")).await;
        let unrelated = item(&app, "listings", &seller, Some(&official),
            listing("一种青稞酒酿造设备", &["C12G3/02"], Some(5_000_000), &["assignment"], "pilot", "630121")).await;
        let draft = item(&app, "listings", &seller, None,
            listing("锂电池回收破碎分选装置", &["H01M10/54"], Some(80_000_000), &["assignment"], "industrial", "630102")).await;
        let demand = item(&app, "demands", &buyer, Some(&official), battery_demand()).await;
        app.sync_search().await;

        let response = app.get(&format!("/api/v1/demands/{demand}/matches"), None).await;
        response.assert_status(200);
        let items = response.json["items"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i["listing"]["id"].as_str().unwrap()).collect();
        assert_eq!(ids[..2], [best.as_str(), near.as_str()], "{}", response.text);
        assert!(!ids.contains(&unrelated.as_str()), "no shared word, so no candidate: {ids:?}");
        assert!(!ids.contains(&draft.as_str()), "only published listings: {ids:?}");
        assert_descending(items);
        items.iter().for_each(assert_explained);

        let top = &items[0];
        assert_eq!(top["listing"]["title"], "锂电池正极材料回收方法");
        assert_eq!(top["listing"]["status"], "published", "the listing view as GET shows it");
        assert_eq!(top["listing"]["price_fen"], 80_000_000);
        assert_eq!(reason(top, "text")["value"], 1.0, "the best text match sets the scale");
        assert_eq!(reason(top, "ipc")["value"], 1.0);
        assert_eq!(reason(top, "ipc")["detail"], "IPC 同大组 H01M10/00（成果 H01M10/54，需求 H01M10/54）");
        assert_eq!(reason(top, "price")["detail"], "价格 ¥800,000.00 在预算 ¥500,000.00–¥1,000,000.00内");
        assert_eq!(reason(top, "trade_mode")["value"], 1.0);
        assert_eq!(reason(top, "region")["detail"], "同一地市（630102 与 630105）");
        assert_eq!(reason(top, "maturity")["detail"], "技术成熟度：产业化");
        assert!((top["score"].as_f64().unwrap() - 1.0).abs() < 1e-9);

        let second = &items[1];
        assert_eq!(reason(second, "ipc")["value"], 1.0, "H01M10/60 shares main group 10");
        assert_eq!(reason(second, "price")["value"], 0.0, "three times the ceiling");
        assert_eq!(reason(second, "region")["detail"], "不同省份（320100 与 630105）");
        assert_eq!(reason(second, "trade_mode")["value"], 0.0);

        let one = app.get(&format!("/api/v1/demands/{demand}/matches?limit=1"), None).await;
        assert_eq!(one.json["items"].as_array().unwrap().len(), 1);
        assert_eq!(one.json["items"][0]["listing"]["id"], best.as_str());
    }
}

on_both_databases! {
    async fn demands_for_a_listing_are_ranked_with_reasons(app: TestApp) {
        let (seller, buyer) = (app.register_org("university").await, app.register_org("enterprise").await);
        let (_, official) = app.staff(Role::Official).await;
        let listing_id = item(&app, "listings", &seller, Some(&official),
            listing("锂电池正极材料回收方法", &["H01M10/54"], Some(80_000_000), &["assignment"], "pilot", "630102")).await;
        let battery = item(&app, "demands", &buyer, Some(&official), battery_demand()).await;
        let mut other = battery_demand();
        other["title"] = json!("锂电池储能柜散热方案");
        other["description"] = json!("储能电站用锂电池柜的液冷散热。");
        other["ipc"] = json!(["F28D"]);
        other["region_code"] = json!("110108");
        let cooling = item(&app, "demands", &buyer, Some(&official), other).await;
        let mut unrelated = battery_demand();
        unrelated["title"] = json!("牦牛乳制品发酵工艺");
        unrelated["description"] = json!("菌种选育与保鲜。");
        unrelated["ipc"] = json!(["A23C9/12"]);
        item(&app, "demands", &buyer, Some(&official), unrelated).await;
        app.sync_search().await;

        let response = app.get(&format!("/api/v1/listings/{listing_id}/matches?limit=5"), None).await;
        response.assert_status(200);
        let items = response.json["items"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i["demand"]["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [battery.as_str(), cooling.as_str()], "{}", response.text);
        assert_eq!(items[0]["demand"]["budget_max_fen"], 100_000_000, "the demand view as GET shows it");
        assert_descending(items);
        items.iter().for_each(assert_explained);
        assert_eq!(reason(&items[1], "ipc")["detail"], "IPC 无共同分类（成果 H01M10/54，需求 F28D）");
    }
}

on_both_databases! {
    async fn the_subject_must_be_visible_to_the_caller(app: TestApp) {
        let (owner, stranger) = (app.register_org("enterprise").await, app.register_org("enterprise").await);
        let (_, official) = app.staff(Role::Official).await;
        let draft = item(&app, "demands", &owner, None, battery_demand()).await;
        let pending = item(&app, "listings", &owner, None,
            listing("锂电池回收", &["H01M10/54"], Some(1_000), &["assignment"], "lab", "630102")).await;
        app.request(Method::POST, &format!("/api/v1/listings/{pending}/submit"), Some(&owner.token), None).await.assert_status(200);
        app.sync_search().await;

        for (path, token) in [
            (format!("/api/v1/demands/{draft}/matches"), None),
            (format!("/api/v1/demands/{draft}/matches"), Some(stranger.token.as_str())),
            (format!("/api/v1/listings/{pending}/matches"), None),
            (format!("/api/v1/listings/{pending}/matches"), Some(stranger.token.as_str())),
            ("/api/v1/demands/no-such-demand/matches".to_string(), None),
            ("/api/v1/listings/no-such-listing/matches".to_string(), Some(official.as_str())),
        ] {
            app.get(&path, token).await.assert_problem(404, "not_found");
        }
        for token in [&owner.token, &official] {
            app.get(&format!("/api/v1/demands/{draft}/matches"), Some(token)).await.assert_status(200);
            app.get(&format!("/api/v1/listings/{pending}/matches"), Some(token)).await.assert_status(200);
        }
    }
}

on_both_databases! {
    async fn limit_is_one_to_a_hundred(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let (_, official) = app.staff(Role::Official).await;
        let demand = item(&app, "demands", &org, Some(&official), battery_demand()).await;
        app.sync_search().await;
        for limit in ["0", "101", "-3", "abc", "1.5"] {
            let response = app.get(&format!("/api/v1/demands/{demand}/matches?limit={limit}"), None).await;
            response.assert_problem(422, "validation_failed");
            assert_eq!(response.error_fields(), ["limit"], "{limit}");
        }
        // Empty is the same as not given (as an HTML form sends it).
        app.get(&format!("/api/v1/demands/{demand}/matches?limit="), None).await.assert_status(200);
        let listing = item(&app, "listings", &org, Some(&official),
            listing("锂电池回收", &["H01M10/54"], Some(1_000), &["assignment"], "lab", "630102")).await;
        app.get(&format!("/api/v1/listings/{listing}/matches?limit=0"), None).await.assert_problem(422, "validation_failed");
        app.get(&format!("/api/v1/listings/{listing}/matches?limit=100"), None).await.assert_status(200);
    }
}

/// The demo records about batteries, lithium and recycling, and a tenth of
/// the rest, so that the battery demand has look-alikes to rank below.
fn demo_records() -> Vec<PatentRecord> {
    let all = techtrade_tests::demo_records();
    let (topical, rest): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|r| ["锂", "电池", "回收"].iter().any(|w| r.title.contains(w)));
    topical.into_iter().chain(rest.into_iter().step_by(10)).collect()
}

on_both_databases! {
    async fn the_demo_battery_recycling_demand_finds_lithium_battery_listings(app: TestApp) {
        app.seed_demo(&demo_records()).await;
        app.seed_demo_demands().await;
        app.sync_search().await;

        let demand = "demo-demand-battery-recycling";
        let response = app.get(&format!("/api/v1/demands/{demand}/matches?limit=10"), None).await;
        response.assert_status(200);
        let items = response.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 10);
        assert_descending(items);
        for item in items {
            assert_explained(item);
            let listing = &item["listing"];
            let title = listing["title"].as_str().unwrap();
            let h01m = listing["ipc"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("H01M"));
            assert!(title.contains('锂') || h01m, "not a lithium-battery listing: {title} {}", listing["ipc"]);
        }

        // The listing whose text matches best recycles lithium batteries.
        let best_text = items.iter().find(|i| reason(i, "text")["value"] == 1.0).unwrap();
        let title = best_text["listing"]["title"].as_str().unwrap();
        assert!(title.contains("锂电池") && title.contains("回收"), "{title}");

        // And the other way round: that listing finds the demand first.
        let listing = best_text["listing"]["id"].as_str().unwrap();
        let back = app.get(&format!("/api/v1/listings/{listing}/matches?limit=3"), None).await;
        back.assert_status(200);
        assert_eq!(back.json["items"][0]["demand"]["id"], demand, "{}", back.text);
        assert_explained(&back.json["items"][0]);
    }
}

on_both_databases! {
    async fn saved_searches_are_each_users_own(app: TestApp) {
        let (alice, bob) = (app.register_org("enterprise").await, app.register_org("enterprise").await);
        let body = json!({"query": {"q": "锂电池", "type": "listing", "ipc": "H01M"}, "notify": "email"});
        app.post("/api/v1/saved-searches", None, body.clone()).await.assert_problem(401, "unauthenticated");
        app.get("/api/v1/saved-searches", None).await.assert_problem(401, "unauthenticated");

        let created = app.post("/api/v1/saved-searches", Some(&alice.token), body.clone()).await;
        created.assert_status(201);
        let id = created.json["id"].as_str().unwrap().to_string();
        assert_eq!(created.json["query"], json!({"q": "锂电池", "type": "listing", "ipc": "H01M", "include_negotiable": false}));
        assert_eq!(created.json["notify"], "email");
        app.post("/api/v1/saved-searches", Some(&alice.token), json!({"query": {"region": "63"}, "notify": "email"}))
            .await
            .assert_status(201);

        for (bad, field) in [
            (json!({"query": {"ipc": "Z99"}, "notify": "email"}), "query.ipc"),
            (json!({"query": {"type": "patent"}, "notify": "email"}), "query.type"),
            (json!({"query": {"qq": "锂"}, "notify": "email"}), "query.qq"),
            (json!({"query": "锂电池", "notify": "email"}), "query"),
            (json!({"query": {}, "notify": "sms"}), "notify"),
            (json!({"query": {}}), "notify"),
        ] {
            let response = app.post("/api/v1/saved-searches", Some(&alice.token), bad.clone()).await;
            response.assert_problem(422, "validation_failed");
            assert_eq!(response.error_fields(), [field], "{bad}");
        }

        let mine = app.get("/api/v1/saved-searches?per_page=1", Some(&alice.token)).await;
        mine.assert_status(200);
        assert_eq!((mine.json["total"].as_i64(), mine.json["items"].as_array().unwrap().len()), (Some(2), 1));
        app.get("/api/v1/saved-searches?per_page=0", Some(&alice.token)).await.assert_problem(400, "invalid_query");
        let theirs = app.get("/api/v1/saved-searches", Some(&bob.token)).await;
        assert_eq!(theirs.json["total"], 0);

        app.request(Method::DELETE, &format!("/api/v1/saved-searches/{id}"), Some(&bob.token), None)
            .await
            .assert_problem(404, "not_found");
        app.request(Method::DELETE, &format!("/api/v1/saved-searches/{id}"), None, None)
            .await
            .assert_problem(401, "unauthenticated");
        app.request(Method::DELETE, &format!("/api/v1/saved-searches/{id}"), Some(&alice.token), None)
            .await
            .assert_status(204);
        app.request(Method::DELETE, &format!("/api/v1/saved-searches/{id}"), Some(&alice.token), None)
            .await
            .assert_problem(404, "not_found");
        assert_eq!(app.get("/api/v1/saved-searches", Some(&alice.token)).await.json["total"], 1);
    }
}

fn alerts(app: &TestApp) -> Vec<Value> {
    let mut conn = app.database.connect();
    outbox::events_after(&mut conn, 0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "saved_search.matched")
        .map(|e| {
            assert_eq!(e.aggregate_type, "saved_search");
            let payload: Value = serde_json::from_str(&e.payload).unwrap();
            assert_eq!(payload["saved_search_id"], e.aggregate_id.as_str());
            payload
        })
        .collect()
}

/// Saves the search for 锂电池 listings; returns its id.
async fn save(app: &TestApp, org: &TestOrg) -> String {
    let body = json!({"query": {"q": "锂电池", "type": "listing"}, "notify": "email"});
    let response = app.post("/api/v1/saved-searches", Some(&org.token), body).await;
    response.assert_status(201);
    response.json["id"].as_str().unwrap().to_string()
}

on_both_databases! {
    async fn a_saved_search_alerts_once_for_a_matching_publication(app: TestApp) {
        let (buyer, seller) = (app.register_org("enterprise").await, app.register_org("university").await);
        let (_, official) = app.staff(Role::Official).await;
        let watching = save(&app, &buyer).await;
        // The seller's own saved search never hears of the seller's own listings.
        save(&app, &seller).await;

        let matching = item(&app, "listings", &seller, Some(&official),
            listing("锂电池正极材料回收方法", &["H01M10/54"], Some(80_000_000), &["assignment"], "pilot", "630102")).await;
        item(&app, "listings", &seller, Some(&official),
            listing("一种青稞酒酿造设备", &["C12G3/02"], Some(5_000_000), &["assignment"], "pilot", "630121")).await;
        let mut demand = battery_demand();
        demand["title"] = json!("求购锂电池检测设备");
        item(&app, "demands", &seller, Some(&official), demand).await;
        app.sync_alerts().await;
        assert!(alerts(&app).is_empty(), "nothing before the index has the items");

        app.sync_search().await;
        app.sync_alerts().await;
        let raised = alerts(&app);
        assert_eq!(raised, [json!({
            "saved_search_id": watching, "user_id": buyer.user_id, "item_type": "listing",
            "item_id": matching, "title": "锂电池正极材料回收方法",
        })]);

        // Replaying the consumer from the start raises nothing new.
        {
            use techtrade_db::schema::outbox_cursors;
            let mut conn = app.database.connect();
            diesel::delete(outbox_cursors::table.filter(outbox_cursors::consumer.eq(techtrade_matching::alerts::CONSUMER)))
                .execute(&mut conn)
                .unwrap();
        }
        app.sync_alerts().await;
        assert_eq!(alerts(&app).len(), 1, "replayed, not doubled");

        // Published again after an edit: still the one alert.
        let edited = app.request(Method::PATCH, &format!("/api/v1/listings/{matching}"), Some(&seller.token),
            Some(json!({"summary": "回收率更高。"}))).await;
        edited.assert_status(200);
        assert_eq!(edited.json["status"], "pending_review");
        app.post(&format!("/api/v1/listings/{matching}/review"), Some(&official), json!({"decision": "approve"}))
            .await
            .assert_status(200);
        // A search saved now hears only of what is published after it.
        let late = save(&app, &buyer).await;
        app.sync_search().await;
        app.sync_alerts().await;
        let raised = alerts(&app);
        assert_eq!(raised.len(), 1, "{raised:?}");
        assert!(raised.iter().all(|a| a["saved_search_id"] != late.as_str()));

        let another = item(&app, "listings", &seller, Some(&official),
            listing("磷酸铁锂电池包", &["H01M50/20"], None, &["equity"], "industrial", "632801")).await;
        app.sync_search().await;
        app.sync_alerts().await;
        let raised = alerts(&app);
        let about_another: Vec<&str> = raised.iter().filter(|a| a["item_id"] == another.as_str())
            .map(|a| a["saved_search_id"].as_str().unwrap()).collect();
        assert_eq!(about_another.len(), 2, "{raised:?}");
        assert!(about_another.contains(&watching.as_str()) && about_another.contains(&late.as_str()));
    }
}

/// The demo demands (`techtrade seed --demo`), by key.
const DEMO_DEMANDS: [&str; 5] = ["battery-recycling", "brine-lithium", "government-qa", "solar-cleaning", "yak-dairy"];

/// Where the top ten of each demo demand is held: the order matching gave
/// before issue 21 made it faster, so that the faster one ranks the same.
/// `TECHTRADE_RECORD_MATCHING=1` writes it anew (a change of ranking is a
/// decision, reviewed in the file's diff).
fn held_order_file() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/matching_top10.json")
}

on_both_databases! {
    async fn the_demo_demands_rank_the_held_top_ten_on_the_whole_demo_market(app: TestApp) {
        app.seed_demo(&techtrade_tests::demo_records()).await;
        app.seed_demo_demands().await;
        // The first sync rebuilds the index, replays what the rebuild may
        // have missed and compacts: the same index however the replay went
        // (see `indexer::rebuild`).
        app.sync_search().await;
        let mut found = std::collections::BTreeMap::new();
        for key in DEMO_DEMANDS {
            let response = app.get(&format!("/api/v1/demands/demo-demand-{key}/matches?limit=10"), None).await;
            response.assert_status(200);
            let ids: Vec<String> = response.json["items"].as_array().unwrap().iter()
                .map(|item| item["listing"]["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(ids.len(), 10, "{key}: {}", response.text);
            found.insert(key.to_string(), ids);
        }
        let file = held_order_file();
        if std::env::var("TECHTRADE_RECORD_MATCHING").as_deref() == Ok("1") {
            std::fs::write(&file, serde_json::to_string_pretty(&found).unwrap() + "\n").unwrap();
        }
        let held: std::collections::BTreeMap<String, Vec<String>> =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(found, held, "the demo demands' top ten moved (TECHTRADE_RECORD_MATCHING=1 records the new order)");
    }
}

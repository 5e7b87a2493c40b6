//! Search over HTTP on the real patent records: Chinese full text,
//! highlights, facets checked against counts computed from the data,
//! filters, sorts, suggestions, and the index following the lifecycle.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use axum::http::Method;
use serde_json::{Value, json};
use techtrade_domain::Role;
use techtrade_listings::seed::PatentRecord;
use techtrade_tests::on_both_databases;

/// The records the search tests load: every title about lithium batteries
/// or motors, and a slice of the rest so that filters have something to drop.
fn records() -> Vec<PatentRecord> {
    let all = techtrade_tests::demo_records();
    let (topical, rest): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|r| r.title.contains("锂电池") || r.title.contains("电机"));
    topical.into_iter().chain(rest.into_iter().step_by(40)).collect()
}

fn sections(record: &PatentRecord) -> Vec<String> {
    let mut sections: Vec<String> = record.codes.iter().filter_map(|c| c.get(..1).map(str::to_string)).collect();
    sections.sort();
    sections.dedup();
    sections
}

fn titles(response: &Value) -> Vec<String> {
    response["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect()
}

on_both_databases! {
    async fn chinese_terms_find_their_titles_with_highlights_and_facets(app: TestApp) {
        let records = records();
        app.seed_demo(&records).await;
        app.sync_search().await;

        let response = app.get("/api/v1/search?q=%E9%94%82%E7%94%B5%E6%B1%A0&per_page=100", None).await;
        response.assert_status(200);
        let expected: Vec<&PatentRecord> = records.iter().filter(|r| r.title.contains("锂电池")).collect();
        assert!(expected.len() >= 5, "the data has lithium-battery patents");
        assert_eq!(response.json["total"].as_u64().unwrap() as usize, expected.len());
        for item in response.json["items"].as_array().unwrap() {
            assert!(item["title"].as_str().unwrap().contains("锂电池"), "{item}");
            assert!(item["highlight"]["title"].as_str().unwrap().contains("<em>锂电池</em>"), "{item}");
            assert_eq!(item["type"], "listing");
        }

        let mut by_section: BTreeMap<String, u64> = BTreeMap::new();
        for record in &expected {
            for section in sections(record) {
                *by_section.entry(section).or_default() += 1;
            }
        }
        let facets: BTreeMap<String, u64> = serde_json::from_value(response.json["facets"]["ipc_section"].clone()).unwrap();
        assert_eq!(facets, by_section);
        for facet in ["ipc_class", "ipc_subclass", "region", "trade_mode", "maturity", "patent_type"] {
            assert!(response.json["facets"][facet].is_object(), "{facet}");
        }
        let by_type: u64 = response.json["facets"]["patent_type"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(by_type as usize, expected.len(), "each listing has one patent type here");
    }
}

on_both_databases! {
    async fn words_inside_words_and_single_characters_are_found(app: TestApp) {
        let records = records();
        app.seed_demo(&records).await;
        app.sync_search().await;
        let motor = app.get("/api/v1/search?q=%E7%94%B5%E6%9C%BA&per_page=100", None).await;
        let expected = records.iter().filter(|r| r.title.contains("电机")).count();
        assert_eq!(motor.json["total"].as_u64().unwrap() as usize, expected, "电机 inside 发电机 and 电动机 too");
        let single = app.get("/api/v1/search?q=%E9%94%82", None).await;
        assert!(single.json["total"].as_u64().unwrap() > 0, "a single character finds something");
    }
}

on_both_databases! {
    async fn filters_and_sorts(app: TestApp) {
        let records = records();
        app.seed_demo(&records).await;
        app.sync_search().await;

        let all = app.get("/api/v1/search?per_page=100", None).await;
        assert_eq!(all.json["total"].as_u64().unwrap() as usize, records.len());

        let h01m = app.get("/api/v1/search?ipc=H01M&per_page=100", None).await;
        let expected = records.iter().filter(|r| r.codes.iter().any(|c| c.starts_with("H01M"))).count();
        assert_eq!(h01m.json["total"].as_u64().unwrap() as usize, expected);
        let h01 = app.get("/api/v1/search?ipc=H01", None).await;
        assert!(h01.json["total"].as_u64() >= h01m.json["total"].as_u64());
        let section = app.get("/api/v1/search?ipc=h&per_page=1", None).await;
        assert_eq!(section.json["total"], all.json["facets"]["ipc_section"]["H"]);

        let xining = app.get("/api/v1/search?region=6301&per_page=100", None).await;
        let xining_total = xining.json["total"].as_u64().unwrap();
        assert!(xining_total > 0);
        for item in xining.json["items"].as_array().unwrap() {
            assert!(item["region_code"].as_str().unwrap().starts_with("6301"));
        }
        let by_region: u64 = all.json["facets"]["region"].as_object().unwrap().iter()
            .filter(|(code, _)| code.starts_with("6301")).map(|(_, n)| n.as_u64().unwrap()).sum();
        assert_eq!(xining_total, by_region);

        let priced = app.get("/api/v1/search?price_min_fen=100000000&price_max_fen=200000000&per_page=100", None).await;
        for item in priced.json["items"].as_array().unwrap() {
            let price = item["price_fen"].as_i64().unwrap();
            assert!((100_000_000..=200_000_000).contains(&price), "{price}");
        }
        let with_negotiable = app.get("/api/v1/search?price_min_fen=100000000&price_max_fen=200000000&include_negotiable=true", None).await;
        let negotiable_only = all.json["items"].as_array().unwrap().len(); // page bound only; compare totals below
        assert!(negotiable_only > 0);
        assert!(with_negotiable.json["total"].as_u64() > priced.json["total"].as_u64());

        let asc = app.get("/api/v1/search?sort=price_asc&price_min_fen=1&per_page=50", None).await;
        let prices: Vec<i64> = asc.json["items"].as_array().unwrap().iter().map(|i| i["price_fen"].as_i64().unwrap()).collect();
        assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
        let desc = app.get("/api/v1/search?sort=price_desc&price_min_fen=1&per_page=50", None).await;
        let prices: Vec<i64> = desc.json["items"].as_array().unwrap().iter().map(|i| i["price_fen"].as_i64().unwrap()).collect();
        assert!(prices.windows(2).all(|w| w[0] >= w[1]), "{prices:?}");
        let newest = app.get("/api/v1/search?sort=newest&per_page=50", None).await;
        let times: Vec<chrono::DateTime<chrono::Utc>> = newest.json["items"].as_array().unwrap().iter()
            .map(|i| i["published_at"].as_str().unwrap().parse().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

        let utility = app.get("/api/v1/search?patent_type=utility_model&per_page=1", None).await;
        assert_eq!(utility.json["total"], all.json["facets"]["patent_type"]["utility_model"]);
        let granted = app.get("/api/v1/search?legal_status=granted&per_page=1", None).await;
        let grants = records.iter().filter(|r| !r.publication_number.ends_with('A')).count();
        assert_eq!(granted.json["total"].as_u64().unwrap() as usize, grants);
        let demands = app.get("/api/v1/search?type=demand", None).await;
        assert_eq!(demands.json["total"], 0);

        let page2 = app.get("/api/v1/search?per_page=10&page=2&sort=newest", None).await;
        assert_eq!(page2.json["items"].as_array().unwrap().len(), 10);
        assert_eq!((page2.json["page"].as_u64(), page2.json["per_page"].as_u64()), (Some(2), Some(10)));
        assert_eq!(titles(&page2.json)[0], titles(&newest.json)[10]);
    }
}

on_both_databases! {
    async fn bad_parameters_name_the_field(app: TestApp) {
        for (query, field) in [
            ("ipc=Z99", "ipc"),
            ("region=630", "region"),
            ("sort=cheapest", "sort"),
            ("price_min_fen=-1", "price_min_fen"),
            ("price_min_fen=abc", "price_min_fen"),
            ("type=patent", "type"),
            ("trade_mode=lease", "trade_mode"),
            ("per_page=101", "per_page"),
        ] {
            let response = app.get(&format!("/api/v1/search?{query}"), None).await;
            response.assert_problem(400, "invalid_query");
            assert_eq!(response.error_fields(), [field], "{query}");
        }
        app.get("/api/v1/search/suggest?q=x&limit=0", None).await.assert_problem(400, "invalid_query");
        // Accepted: an empty filter (as a form sends it), a reversed price
        // range (it matches nothing), a well-formed IPC code the scheme
        // lacks (likewise), nothing typed yet.
        for query in ["search?kind=&trade_mode=&page=", "search?price_min_fen=10&price_max_fen=5", "search?ipc=G06Z", "search/suggest"] {
            let response = app.get(&format!("/api/v1/{query}"), None).await;
            response.assert_status(200);
            assert_eq!(response.json["items"], json!([]), "{query}");
        }
    }
}

on_both_databases! {
    async fn the_index_follows_the_lifecycle(app: TestApp) {
        let owner = app.register_org("university").await;
        let (_, official) = app.staff(Role::Official).await;
        let body = json!({
            "kind": "achievement", "title": "高原光伏组件防沙尘涂层", "summary": "适用于柴达木盆地的光伏电站。",
            "ipc": ["H02S40/10"], "maturity": "pilot", "trade_modes": ["nonexclusive_license"],
            "negotiable": true, "region_code": "632801",
        });
        let id = app.post("/api/v1/listings", Some(&owner.token), body).await.json["id"].as_str().unwrap().to_string();
        let find = || app.get("/api/v1/search?q=%E5%85%89%E4%BC%8F%E7%BB%84%E4%BB%B6", None);
        app.sync_search().await;
        assert_eq!(find().await.json["total"], 0, "drafts are not searchable");

        app.request(Method::POST, &format!("/api/v1/listings/{id}/submit"), Some(&owner.token), None).await.assert_status(200);
        app.post(&format!("/api/v1/listings/{id}/review"), Some(&official), json!({"decision": "approve"})).await.assert_status(200);
        app.sync_search().await;
        let found = find().await;
        assert_eq!(found.json["total"], 1);
        assert_eq!(found.json["items"][0]["id"], id.as_str());
        assert_eq!(found.json["items"][0]["kind"], "achievement");
        assert_eq!(found.json["items"][0]["negotiable"], true);
        let suggestions = app.get("/api/v1/search/suggest?q=%E9%AB%98%E5%8E%9F%E5%85%89", None).await;
        assert_eq!(suggestions.json["items"], json!(["高原光伏组件防沙尘涂层"]));

        app.request(Method::POST, &format!("/api/v1/listings/{id}/withdraw"), Some(&owner.token), None).await.assert_status(200);
        app.sync_search().await;
        assert_eq!(find().await.json["total"], 0, "withdrawn items leave the index");

        // A demand is found too, by its own type.
        let demand = json!({
            "title": "光伏组件回收技术", "description": "寻求退役光伏组件的拆解与材料回收技术。",
            "negotiable": true, "trade_modes": ["joint_development"], "region_code": "630100",
        });
        let demand_id = app.post("/api/v1/demands", Some(&owner.token), demand).await.json["id"].as_str().unwrap().to_string();
        app.request(Method::POST, &format!("/api/v1/demands/{demand_id}/submit"), Some(&owner.token), None).await.assert_status(200);
        app.post(&format!("/api/v1/demands/{demand_id}/review"), Some(&official), json!({"decision": "approve"})).await.assert_status(200);
        app.sync_search().await;
        let demands = app.get("/api/v1/search?q=%E5%85%89%E4%BC%8F&type=demand", None).await;
        assert_eq!(demands.json["total"], 1);
        assert_eq!(demands.json["items"][0]["type"], "demand");
    }
}

on_both_databases! {
    async fn patent_numbers_are_found_exactly(app: TestApp) {
        let records = records();
        app.seed_demo(&records).await;
        app.sync_search().await;
        let listing = app.get(&format!("/api/v1/listings/demo-{}", records[3].publication_number), None).await;
        listing.assert_status(200);
        let number = listing.json["patents"][0]["application_number"].as_str().unwrap().to_string();
        for query in [number.clone(), number.replace('.', ""), records[3].publication_number.to_lowercase()] {
            let found = app.get(&format!("/api/v1/search?q={query}"), None).await;
            assert_eq!(found.json["items"][0]["id"], format!("demo-{}", records[3].publication_number), "{query}");
        }
    }
}

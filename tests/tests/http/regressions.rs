//! Inputs that once crashed a handler, found by the fuzz harness and by
//! Schemathesis, kept so they never return: each must get a clear 4xx.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use techtrade_tests::on_both_databases;

on_both_databases! {
    async fn patent_numbers_ending_in_a_wide_character_are_422_not_500(app: TestApp) {
        let seller = app.register_org("university").await;
        for (field, value) in [("application_number", "2017106018623。"), ("publication_number", "CN107442071Ｂ")] {
            let mut patent = json!({"application_number": "201710601862.3", "patent_type": "invention",
                "title": "一种盐湖卤水提锂的铝系吸附剂", "filing_date": "2017-07-27", "legal_status": "granted",
                "grant_date": "2019-05-10"});
            patent[field] = json!(value);
            let body = json!({"kind": "patent", "title": "盐湖提锂", "summary": "吸附剂", "ipc": ["C22B26/12"],
                "maturity": "pilot", "trade_modes": ["assignment"], "price_fen": null, "negotiable": true,
                "region_code": "630100", "patents": [patent]});
            let response = app.post("/api/v1/listings", Some(&seller.token), body).await;
            response.assert_problem(422, "validation_failed");
            assert_eq!(response.error_fields(), [format!("patents[0].{field}")], "{}", response.text);
        }
    }
}

on_both_databases! {
    /// Found by Schemathesis: `page=2147483648` made the search engine
    /// allocate a terabyte for its top-hits collector and aborted the whole
    /// server. Pages past 1,000,000 are a 400 naming `page`; a page past the
    /// first 10,000 results is empty (as Meilisearch answers it).
    async fn a_huge_search_page_is_400_not_an_abort(app: TestApp) {
        for path in ["/api/v1/search?page=2147483648", "/api/v1/search?page=4294967295&per_page=100"] {
            let response = app.get(path, None).await;
            response.assert_problem(400, "invalid_query");
            assert_eq!(response.error_fields(), ["page"], "{path}");
        }
        for path in ["/api/v1/search?page=101&per_page=100", "/api/v1/search?page=1000000&per_page=100"] {
            let response = app.get(path, None).await;
            response.assert_status(200);
            assert_eq!(response.json["items"], serde_json::json!([]), "{path}");
        }
        app.get("/api/v1/search?page=100&per_page=100", None).await.assert_status(200);
    }
}

on_both_databases! {
    /// Schemathesis (ST101 on PostgreSQL): a title holding `\u0000` was a 500
    /// there (its `text` cannot hold NUL). NUL characters are dropped from
    /// every JSON string before any field is checked.
    async fn a_nul_character_in_a_string_is_dropped_not_a_500(app: TestApp) {
        let org = app.register_org("enterprise").await;
        let mut body = techtrade_tests::market::listing_body(&["assignment"]);
        body["title"] = serde_json::json!("\u{0}锂电池\u{0}回收");
        let created = app.post("/api/v1/listings", Some(&org.token), body).await;
        created.assert_status(201);
        assert_eq!(created.json["title"], "锂电池回收");
    }
}

on_both_databases! {
    /// Found by Schemathesis: a termination's reason of one U+0085 (NEL)
    /// matched the document's `\S` (ECMAScript's white space lacks NEL) but
    /// is blank to the server, which trims it away. The document now says
    /// what the server counts as blank, and the server still answers 422.
    async fn a_reason_of_white_space_only_is_blank_in_the_document_too(app: TestApp) {
        let document = app.get("/api/openapi.json", None).await;
        document.assert_status(200);
        let mut patterns = Vec::new();
        fn collect(value: &serde_json::Value, found: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(pattern)) = map.get("pattern") {
                        found.push(pattern.clone());
                    }
                    map.values().for_each(|v| collect(v, found));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
                _ => {}
            }
        }
        collect(&document.json, &mut patterns);
        assert!(!patterns.iter().any(|p| p == r"\S"), "{patterns:?}");
        let reason = &document.json["components"]["schemas"]["TerminateRequest"]["properties"]["reason"];
        assert_eq!(reason["pattern"], r"[^\s\u0085]");

        let m = techtrade_tests::market::market(&app, &["assignment"]).await;
        let id = techtrade_tests::market::contracted_deal(&app, &m, 1_000_000).await;
        techtrade_tests::market::register(&app, &m, &id, 800_000).await.assert_status(200);
        let today = techtrade_db::today().to_string();
        let body = json!({"terminated_on": today, "reason": "\u{85}"});
        let response = app.post(&format!("/api/v1/deals/{id}/terminate"), Some(&m.seller.token), body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), ["reason"]);
    }
}

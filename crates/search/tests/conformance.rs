//! One set of search cases, run on every backend: the embedded index
//! always, and Meilisearch when `MEILI_URL` names a server (its key, if
//! any, in `MEILI_KEY`). Each backend must give the same answers.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use techtrade_db::testing::TestDatabase;
use techtrade_search::embedded::EmbeddedIndex;
use techtrade_search::meili::MeiliIndex;
use techtrade_search::{DocType, IndexBatch, NEVER_BUILT, SearchDocument, SearchIndex, SearchQuery, Sort};

#[allow(clippy::too_many_arguments)]
fn doc(
    id: &str,
    doc_type: DocType,
    title: &str,
    ipc: &[&str],
    region: &str,
    price: Option<i64>,
    negotiable: bool,
    published_at: i64,
) -> SearchDocument {
    SearchDocument {
        id: id.into(),
        doc_type,
        kind: (doc_type == DocType::Listing).then(|| if id.starts_with('a') { "achievement" } else { "patent" }.into()),
        title: title.into(),
        summary: format!("{title}，技术成熟，可转让。"),
        body: String::new(),
        numbers: if id == "p1" { vec!["201710601862.3".into(), "CN107442071B".into()] } else { vec![] },
        ipc: ipc.iter().map(|s| s.to_string()).collect(),
        region_code: region.into(),
        trade_modes: vec![if price.is_some() { "assignment" } else { "joint_development" }.into()],
        maturity: (doc_type == DocType::Listing).then(|| if published_at % 2 == 0 { "pilot" } else { "lab" }.into()),
        patent_types: if id.starts_with('p') { vec!["invention".into()] } else { vec![] },
        legal_statuses: if id.starts_with('p') { vec!["granted".into()] } else { vec![] },
        price_fen: price,
        negotiable,
        owner_organization_id: "org".into(),
        published_at,
    }
}

/// Twelve documents whose every expected answer is known by hand.
fn corpus() -> Vec<SearchDocument> {
    use DocType::{Demand, Listing};
    vec![
        doc(
            "p1",
            Listing,
            "一种盐湖卤水提锂的吸附剂",
            &["C22B26/12", "B01J20/08"],
            "632801",
            Some(150_000_000),
            false,
            1,
        ),
        doc("p2", Listing, "锂电池正极材料回收方法", &["H01M10/54", "C22B7/00"], "630102", Some(80_000_000), false, 2),
        doc("p3", Listing, "动力锂电池热管理系统", &["H01M10/60"], "630104", None, true, 3),
        doc("p4", Listing, "风力发电机叶片除冰装置", &["F03D80/40"], "632802", Some(30_000_000), true, 4),
        doc(
            "p5",
            Listing,
            "基于自然语言处理的问答方法",
            &["G06F16/33", "G06F40/30"],
            "110108",
            Some(200_000_000),
            false,
            5,
        ),
        doc("p6", Listing, "Lithium Battery Recycling Process", &["H01M10/54"], "320100", Some(50_000_000), false, 6),
        doc("a1", Listing, "高原光伏组件防沙尘涂层", &["H02S40/10"], "632801", None, true, 7),
        doc("a2", Listing, "牦牛乳制品发酵工艺", &["A23C9/12"], "630202", Some(10_000_000), false, 8),
        doc("d1", Demand, "求购锂电池回收技术", &["H01M10/54"], "630100", Some(300_000_000), true, 9),
        doc("d2", Demand, "征集光伏电站运维机器人方案", &["H02S"], "632800", None, true, 10),
        doc("d3", Demand, "智能问答客服系统开发", &["G06F16/33"], "630105", Some(100_000_000), false, 11),
        doc("p7", Listing, "一种青稞酒酿造设备", &["C12G3/02"], "630121", Some(5_000_000), false, 12),
    ]
}

async fn backends() -> Vec<(Arc<dyn SearchIndex>, Option<TestDatabase>)> {
    let mut backends: Vec<(Arc<dyn SearchIndex>, Option<TestDatabase>)> =
        vec![(Arc::new(EmbeddedIndex::in_memory().unwrap()), None)];
    if let Ok(url) = std::env::var("MEILI_URL") {
        let database = TestDatabase::sqlite();
        let key = std::env::var("MEILI_KEY").ok();
        let uid = format!("conformance_{}", techtrade_domain::ids::new_id().replace('-', ""));
        let index = MeiliIndex::connect(&url, key.as_deref(), &uid, database.db.clone()).await.unwrap();
        backends.push((Arc::new(index), Some(database)));
    }
    backends
}

fn query() -> SearchQuery {
    SearchQuery { limit: 20, ..SearchQuery::default() }
}

async fn ids(index: &dyn SearchIndex, query: SearchQuery) -> Vec<String> {
    let mut ids: Vec<String> = index.search(&query).await.unwrap().hits.into_iter().map(|h| h.document.id).collect();
    if query.sort == Sort::Relevance {
        ids.sort();
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_answers_alike() {
    for (index, _database) in backends().await {
        let name = index.backend();
        let index = index.as_ref();
        index.reset(NEVER_BUILT).await.unwrap();
        assert_eq!(index.cursor().await.unwrap(), NEVER_BUILT, "{name}");
        index.apply(IndexBatch { upserts: corpus(), deletes: vec![], cursor: 12 }).await.unwrap();
        assert_eq!(index.cursor().await.unwrap(), 12, "{name}");

        // Chinese and English text, with highlights.
        let text = |t: &str| SearchQuery { text: Some(t.into()), ..query() };
        assert_eq!(ids(index, text("锂电池")).await, ["d1", "p2", "p3"], "{name}");
        let results = index.search(&text("锂电池")).await.unwrap();
        assert!(results.hits.iter().all(|h| h.highlight.title.contains("<em>锂电池</em>")), "{name}: {results:?}");
        assert_eq!(ids(index, text("battery")).await, ["p6"], "{name}");
        assert_eq!(ids(index, text("光伏")).await, ["a1", "d2"], "{name}");
        assert_eq!(ids(index, text("201710601862.3")).await, ["p1"], "{name}");

        // Filters.
        let with = |f: fn(&mut SearchQuery)| {
            let mut q = query();
            f(&mut q);
            q
        };
        assert_eq!(ids(index, with(|q| q.doc_type = Some(DocType::Demand))).await, ["d1", "d2", "d3"], "{name}");
        assert_eq!(ids(index, with(|q| q.kind = Some("achievement".into()))).await, ["a1", "a2"], "{name}");
        assert_eq!(ids(index, with(|q| q.ipc_prefix = Some("H".into()))).await.len(), 6, "{name}");
        assert_eq!(ids(index, with(|q| q.ipc_prefix = Some("H01M".into()))).await, ["d1", "p2", "p3", "p6"], "{name}");
        assert_eq!(
            ids(index, with(|q| q.ipc_prefix = Some("H01M10/00".into()))).await,
            ["d1", "p2", "p3", "p6"],
            "{name}"
        );
        assert_eq!(ids(index, with(|q| q.ipc_prefix = Some("H01M10/54".into()))).await, ["d1", "p2", "p6"], "{name}");
        assert_eq!(ids(index, with(|q| q.ipc_prefix = Some("G06".into()))).await, ["d3", "p5"], "{name}");
        assert_eq!(
            ids(index, with(|q| q.region_prefix = Some("6301".into()))).await,
            ["d1", "d3", "p2", "p3", "p7"],
            "{name}"
        );
        assert_eq!(
            ids(index, with(|q| q.region_prefix = Some("6328".into()))).await,
            ["a1", "d2", "p1", "p4"],
            "{name}"
        );
        assert_eq!(ids(index, with(|q| q.region_prefix = Some("63".into()))).await.len(), 10, "{name}");
        assert_eq!(
            ids(index, with(|q| q.trade_mode = Some("joint_development".into()))).await,
            ["a1", "d2", "p3"],
            "{name}"
        );
        assert_eq!(
            ids(index, with(|q| q.maturity = Some("pilot".into()))).await,
            ["a2", "p2", "p4", "p6", "p7"],
            "{name}"
        );
        assert_eq!(ids(index, with(|q| q.patent_type = Some("invention".into()))).await.len(), 7, "{name}");
        assert_eq!(ids(index, with(|q| q.legal_status = Some("granted".into()))).await.len(), 7, "{name}");
        let price = |q: &mut SearchQuery| {
            q.price_min_fen = Some(50_000_000);
            q.price_max_fen = Some(150_000_000);
        };
        assert_eq!(ids(index, with(price)).await, ["d3", "p1", "p2", "p6"], "{name}");
        let price_or_negotiable = |q: &mut SearchQuery| {
            q.price_min_fen = Some(50_000_000);
            q.price_max_fen = Some(150_000_000);
            q.include_negotiable = true;
        };
        assert_eq!(ids(index, with(price_or_negotiable)).await, ["a1", "d2", "d3", "p1", "p2", "p3", "p6"], "{name}");
        let combined = |q: &mut SearchQuery| {
            q.text = Some("锂电池".into());
            q.doc_type = Some(DocType::Listing);
            q.region_prefix = Some("63".into());
        };
        assert_eq!(ids(index, with(combined)).await, ["p2", "p3"], "{name}");
        // One item by id: does it match the rest of the query?
        let by_id = |id: &str, t: Option<&str>| SearchQuery { id: Some(id.into()), text: t.map(Into::into), ..query() };
        assert_eq!(ids(index, by_id("p2", None)).await, ["p2"], "{name}");
        assert_eq!(ids(index, by_id("d1", Some("锂电池"))).await, ["d1"], "{name}");
        assert!(ids(index, by_id("p4", Some("锂电池"))).await.is_empty(), "{name}");
        let demand_p2 = SearchQuery { doc_type: Some(DocType::Demand), ..by_id("p2", None) };
        assert!(ids(index, demand_p2).await.is_empty(), "{name}: p2 is a listing");
        assert!(ids(index, by_id("nothing", None)).await.is_empty(), "{name}");

        // Any word: a whole demand's text as the query finds what shares its telling words.
        let any_word =
            SearchQuery { any_word: true, doc_type: Some(DocType::Listing), ..text("求购 锂电池 回收") };
        let found = index.search(&any_word).await.unwrap();
        let found_ids: Vec<&str> = found.hits.iter().map(|h| h.document.id.as_str()).collect();
        assert_eq!(found_ids.first(), Some(&"p2"), "{name}: the most words first: {found_ids:?}");
        assert!(found_ids.contains(&"p3"), "{name}: one word is enough: {found_ids:?}");
        assert!(!found_ids.contains(&"p5"), "{name}: no shared word, not found: {found_ids:?}");
        assert!(found.facets.values().all(|counts| counts.is_empty()), "{name}: any-word searches count no facets");
        // Matching's lookup: the same hits by id and score, in the same order.
        for candidates_of in
            [any_word.clone(), SearchQuery { sort: Sort::Newest, ..with(|q| q.ipc_prefix = Some("H01M".into())) }]
        {
            let searched: Vec<(String, f32)> = index
                .search(&candidates_of)
                .await
                .unwrap()
                .hits
                .into_iter()
                .map(|h| (h.document.id, h.score))
                .collect();
            let ranked: Vec<(String, f32)> =
                index.candidates(&candidates_of).await.unwrap().into_iter().map(|r| (r.id, r.score)).collect();
            assert!(!ranked.is_empty(), "{name}: {candidates_of:?}");
            assert_eq!(ranked, searched, "{name}");
        }

        // A value is a value, never filter syntax.
        assert!(
            ids(index, with(|q| q.ipc_prefix = Some("G06\" OR doc_type = \"demand".into()))).await.is_empty(),
            "{name}"
        );
        assert!(
            ids(index, with(|q| q.kind = Some("patent\\\" OR kind = \"achievement".into()))).await.is_empty(),
            "{name}"
        );

        // Sorts and pages.
        let newest = with(|q| q.sort = Sort::Newest);
        assert_eq!(ids(index, newest.clone()).await[..3], ["p7", "d3", "d2"], "{name}");
        let cheap = with(|q| {
            q.sort = Sort::PriceAsc;
            q.price_min_fen = Some(1);
        });
        assert_eq!(ids(index, cheap).await[..3], ["p7", "a2", "p4"], "{name}");
        let dear = with(|q| {
            q.sort = Sort::PriceDesc;
            q.price_min_fen = Some(1);
        });
        assert_eq!(ids(index, dear).await[..3], ["d1", "p5", "p1"], "{name}");
        let page = SearchQuery { offset: 10, limit: 5, ..newest };
        let second = index.search(&page).await.unwrap();
        assert_eq!(second.total, 12, "{name}");
        assert_eq!(second.hits.iter().map(|h| h.document.id.as_str()).collect::<Vec<_>>(), ["p2", "p1"], "{name}");

        // Facets count every match.
        let all = index.search(&query()).await.unwrap();
        assert_eq!(all.total, 12, "{name}");
        let facet = |facet: &str, value: &str| all.facets.get(facet).and_then(|f| f.get(value)).copied().unwrap_or(0);
        assert_eq!(
            (facet("ipc_section", "H"), facet("ipc_section", "C"), facet("ipc_section", "G")),
            (6, 3, 2),
            "{name}"
        );
        assert_eq!(
            (facet("ipc_class", "H01"), facet("ipc_subclass", "H01M"), facet("ipc_subclass", "C22B")),
            (4, 4, 2),
            "{name}"
        );
        assert_eq!(
            (facet("region", "632801"), facet("trade_mode", "assignment"), facet("maturity", "lab")),
            (2, 9, 4),
            "{name}"
        );
        assert_eq!(facet("patent_type", "invention"), 7, "{name}");

        // Suggestions complete titles.
        let suggestions = index.suggest("锂电池", 5).await.unwrap();
        assert_eq!(suggestions.first().map(String::as_str), Some("锂电池正极材料回收方法"), "{name}: {suggestions:?}");

        // Replacing and deleting.
        let mut renamed = corpus()[1].clone();
        renamed.title = "钠离子电池正极材料".into();
        renamed.summary = "以钠代锂的正极材料。".into();
        index
            .apply(IndexBatch { upserts: vec![renamed], deletes: vec!["demand:d1".into()], cursor: 14 })
            .await
            .unwrap();
        assert_eq!(ids(index, text("锂电池")).await, ["p3"], "{name}");
        assert_eq!(ids(index, text("钠离子")).await, ["p2"], "{name}");
        assert_eq!(index.search(&query()).await.unwrap().total, 11, "{name}");
        assert_eq!(index.cursor().await.unwrap(), 14, "{name}");

        index.reset(NEVER_BUILT).await.unwrap();
        assert_eq!(index.search(&query()).await.unwrap().total, 0, "{name}");
        index.health().await.unwrap();
    }
}

/// A browse's facet counts (kept per index generation by the embedded
/// engine) follow every change to the index: an upsert, a move, a delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_counts_follow_the_index() {
    for (index, _database) in backends().await {
        let name = index.backend();
        let index = index.as_ref();
        index.reset(NEVER_BUILT).await.unwrap();
        index.apply(IndexBatch { upserts: corpus(), deletes: vec![], cursor: 12 }).await.unwrap();
        let browse = SearchQuery { doc_type: Some(DocType::Listing), region_prefix: Some("63".into()), ..query() };
        let region_count = |results: &techtrade_search::SearchResults, region: &str| {
            results.facets["region"].get(region).copied().unwrap_or(0)
        };
        let before = index.search(&browse).await.unwrap();
        let again = index.search(&SearchQuery { offset: 1, sort: Sort::Newest, ..browse.clone() }).await.unwrap();
        assert_eq!(again.facets, before.facets, "{name}: another page counts alike");
        let in_xining = region_count(&before, "630102");

        let mut moved =
            doc("p9", DocType::Listing, "高原牦牛乳制品加工", &["A23C9/00"], "630102", Some(1_000_000), false, 20);
        index.apply(IndexBatch { upserts: vec![moved.clone()], deletes: vec![], cursor: 13 }).await.unwrap();
        let added = index.search(&browse).await.unwrap();
        assert_eq!(region_count(&added, "630102"), in_xining + 1, "{name}");
        assert_eq!(added.total, before.total + 1, "{name}");

        moved.region_code = "632801".into();
        index.apply(IndexBatch { upserts: vec![moved], deletes: vec![], cursor: 14 }).await.unwrap();
        let changed = index.search(&browse).await.unwrap();
        assert_eq!(region_count(&changed, "630102"), in_xining, "{name}");
        assert_eq!(region_count(&changed, "632801"), region_count(&before, "632801") + 1, "{name}");

        index.apply(IndexBatch { upserts: vec![], deletes: vec!["listing:p9".into()], cursor: 15 }).await.unwrap();
        assert_eq!(index.search(&browse).await.unwrap().facets, before.facets, "{name}");
    }
}

/// Writes sent ahead (`enqueue`) take effect in order, count towards the
/// position the next batch starts from at once, and are searchable, with
/// their position stored, after `flush`. A batch that fails loses every
/// position not yet confirmed, so the indexer sends those batches again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueued_batches_take_effect_in_order() {
    for (index, _database) in backends().await {
        let name = index.backend();
        let index = index.as_ref();
        let text = |t: &str| SearchQuery { text: Some(t.into()), ..query() };
        index.reset(NEVER_BUILT).await.unwrap();
        // A rebuild: pages without a position, then the position.
        for page in corpus().chunks(5) {
            index.enqueue(IndexBatch { upserts: page.to_vec(), deletes: vec![], cursor: NEVER_BUILT }).await.unwrap();
        }
        index.enqueue(IndexBatch { cursor: 12, ..IndexBatch::default() }).await.unwrap();
        assert_eq!(index.cursor().await.unwrap(), 12, "{name}: the next pass starts after what was sent");

        // The same key added, removed and added again, in three batches.
        let p9 = |title| doc("p9", DocType::Listing, title, &["A23C9/00"], "630102", None, true, 20);
        index
            .enqueue(IndexBatch { upserts: vec![p9("高原牦牛乳制品加工")], deletes: vec![], cursor: 13 })
            .await
            .unwrap();
        index.enqueue(IndexBatch { upserts: vec![], deletes: vec!["listing:p9".into()], cursor: 14 }).await.unwrap();
        let p9 = p9("牦牛绒分梳工艺");
        index.enqueue(IndexBatch { upserts: vec![p9], deletes: vec!["demand:d1".into()], cursor: 15 }).await.unwrap();
        assert_eq!(index.cursor().await.unwrap(), 15, "{name}");
        index.flush().await.unwrap();
        assert_eq!(index.cursor().await.unwrap(), 15, "{name}: stored once confirmed");
        assert_eq!(index.search(&query()).await.unwrap().total, 12, "{name}: twelve, less d1, plus p9");
        assert_eq!(ids(index, text("分梳")).await, ["p9"], "{name}: the last write of p9 won");
        assert!(ids(index, text("加工")).await.is_empty(), "{name}: p9's first title is gone");

        if name == "meilisearch" {
            // Meilisearch refuses this id when it runs the task, after `enqueue` returned.
            let refused = doc("bad id!", DocType::Listing, "无效编号", &[], "630102", None, true, 21);
            let valid = doc("p10", DocType::Listing, "有效编号", &[], "630102", None, true, 22);
            index.enqueue(IndexBatch { upserts: vec![valid], deletes: vec![], cursor: 16 }).await.unwrap();
            index.enqueue(IndexBatch { upserts: vec![refused], deletes: vec![], cursor: 17 }).await.unwrap();
            assert_eq!(index.cursor().await.unwrap(), 17, "{name}");
            assert!(index.flush().await.is_err(), "{name}: the refused task is reported");
            assert_eq!(index.cursor().await.unwrap(), 15, "{name}: back to the last confirmed position");
        }
    }
}

//! Search benchmark: indexing throughput, query latency (p50/p99) with and
//! without filters, facet-only latency, and relevance (nDCG@10) on
//! judgments derived from the data, for the embedded backend.
//!
//! The corpus is the real patent records that come with the repository, resampled with
//! a fixed seed to the requested size: each copy keeps a real title and its
//! real IPC codes and gets made-up region, price and dates. Run it in
//! release mode:
//!
//! ```sh
//! cargo bench -p techtrade-search --bench search -- --docs 100000
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use techtrade_listings::seed::{Dice, PatentRecord, read_records};
use techtrade_search::embedded::EmbeddedIndex;
use techtrade_search::{DocType, IndexBatch, SearchDocument, SearchIndex, SearchQuery, Sort};

struct Args {
    data: PathBuf,
    docs: usize,
    queries: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { data: techtrade_listings::seed::bundled_dir(), docs: 100_000, queries: 1_000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => args.data = PathBuf::from(value()?),
            "--docs" => args.docs = value()?.parse().map_err(|e| format!("--docs: {e}"))?,
            "--queries" => args.queries = value()?.parse().map_err(|e| format!("--queries: {e}"))?,
            "--help" | "-h" => {
                return Err("usage: search-bench [--data DIR] [--docs N] [--queries N]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// A number in `0..n` from the fixed-seed stream.
fn roll(dice: &mut Dice, n: usize) -> usize {
    dice.below(n as u64) as usize
}

const REGIONS: [&str; 8] = ["630102", "630103", "630104", "630105", "630202", "632801", "632802", "110108"];
const MODES: [&str; 6] =
    ["assignment", "exclusive_license", "sole_license", "nonexclusive_license", "equity", "joint_development"];
const MATURITY: [&str; 4] = ["concept", "lab", "pilot", "industrial"];

fn corpus(records: &[PatentRecord], size: usize) -> Vec<SearchDocument> {
    let mut dice = Dice::for_key("search-bench corpus");
    (0..size)
        .map(|i| {
            let record = &records[if i < records.len() { i } else { roll(&mut dice, records.len()) }];
            let utility = record.publication_number.ends_with('U');
            let price = (roll(&mut dice, 4) != 0).then(|| (50 + roll(&mut dice, 4_950) as i64) * 100_000);
            SearchDocument {
                id: format!("bench-{i}"),
                doc_type: if roll(&mut dice, 10) == 0 { DocType::Demand } else { DocType::Listing },
                kind: Some("patent".into()),
                title: record.title.clone(),
                summary: record.abstract_text.clone().unwrap_or_else(|| record.title.clone()),
                body: String::new(),
                numbers: vec![format!("{}{:08}", 2015 + roll(&mut dice, 7), i)],
                ipc: record.codes.clone(),
                region_code: REGIONS[roll(&mut dice, REGIONS.len())].into(),
                trade_modes: vec![MODES[roll(&mut dice, MODES.len())].into()],
                maturity: Some(MATURITY[roll(&mut dice, MATURITY.len())].into()),
                patent_types: vec![if utility { "utility_model" } else { "invention" }.into()],
                legal_statuses: vec![
                    if record.publication_number.ends_with('A') { "pending" } else { "granted" }.into(),
                ],
                negotiable: price.is_none() || roll(&mut dice, 5) == 0,
                price_fen: price,
                owner_organization_id: format!("org-{}", roll(&mut dice, 500)),
                published_at: 1_600_000_000_000 + (i as i64) * 60_000,
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn time_queries(index: &EmbeddedIndex, queries: &[SearchQuery]) -> (Duration, Duration, f64) {
    let mut times = Vec::with_capacity(queries.len());
    let mut total_hits = 0u64;
    for query in queries {
        let started = Instant::now();
        let results = index.search(query).await.unwrap_or_default_results();
        times.push(started.elapsed());
        total_hits += results.total;
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99), total_hits as f64 / queries.len().max(1) as f64)
}

trait OrDefault {
    fn unwrap_or_default_results(self) -> techtrade_search::SearchResults;
}

impl OrDefault for Result<techtrade_search::SearchResults, techtrade_search::SearchError> {
    fn unwrap_or_default_results(self) -> techtrade_search::SearchResults {
        match self {
            Ok(results) => results,
            Err(error) => {
                eprintln!("query failed: {error}");
                techtrade_search::SearchResults::default()
            }
        }
    }
}

/// A 2–4 character Chinese word from inside `title`, if it has one.
fn word_in(title: &str, dice: &mut Dice) -> Option<String> {
    let chars: Vec<char> = title.chars().collect();
    if chars.len() < 6 {
        return None;
    }
    let len = 2 + roll(dice, 3);
    let start = 2 + roll(dice, chars.len() - len - 1);
    let word: String = chars[start..start + len].iter().collect();
    word.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)).then_some(word)
}

/// Words taken from the titles with a fixed seed: the "typical queries".
fn query_words(documents: &[SearchDocument], count: usize) -> Vec<String> {
    let mut dice = Dice::for_key("search-bench queries");
    let mut words = Vec::with_capacity(count);
    while words.len() < count {
        let title = &documents[roll(&mut dice, documents.len())].title;
        words.extend(word_in(title, &mut dice));
    }
    words
}

/// nDCG@10 where a result's gain is the IPC subclasses it shares with the
/// record the query was taken from (at most 2), and the ideal ranking is
/// the best 10 gains among all documents containing the query word.
async fn relevance(index: &EmbeddedIndex, documents: &[SearchDocument], samples: usize) -> f64 {
    let mut dice = Dice::for_key("search-bench relevance");
    let mut total = 0.0;
    let mut measured = 0;
    while measured < samples {
        let source = &documents[roll(&mut dice, documents.len().min(9_740))];
        let Some(word) = word_in(&source.title, &mut dice) else { continue };
        let subclasses: Vec<String> = source.ipc_level(4);
        let gain =
            |doc: &SearchDocument| doc.ipc_level(4).iter().filter(|s| subclasses.contains(s)).count().min(2) as f64;
        let query = SearchQuery { text: Some(word.clone()), limit: 10, ..SearchQuery::default() };
        let word = &word;
        let Ok(results) = index.search(&query).await else { continue };
        let dcg: f64 = results.hits.iter().enumerate().map(|(i, h)| gain(&h.document) / (i as f64 + 2.0).log2()).sum();
        let mut ideal: Vec<f64> = documents.iter().filter(|d| d.title.contains(word.as_str())).map(gain).collect();
        ideal.sort_by(|a, b| b.total_cmp(a));
        let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, g)| g / (i as f64 + 2.0).log2()).sum();
        if idcg > 0.0 {
            total += dcg / idcg;
            measured += 1;
        }
    }
    total / samples as f64
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let records = match read_records(&args.data) {
        Ok(records) => records,
        Err(message) => {
            eprintln!("reading the patent records: {message}");
            std::process::exit(2);
        }
    };
    let documents = corpus(&records, args.docs);
    let dir = std::env::temp_dir().join(format!("techtrade-search-bench-{}", std::process::id()));
    let index = match EmbeddedIndex::open(&dir) {
        Ok(index) => index,
        Err(error) => {
            eprintln!("opening the index: {error}");
            std::process::exit(1);
        }
    };

    let started = Instant::now();
    for (i, chunk) in documents.chunks(5_000).enumerate() {
        let batch = IndexBatch { upserts: chunk.to_vec(), deletes: vec![], cursor: i as i64 + 1 };
        if let Err(error) = index.apply(batch).await {
            eprintln!("indexing failed: {error}");
            std::process::exit(1);
        }
    }
    let indexing = started.elapsed();
    println!(
        "indexed {} documents in {:.2?}: {:.0} docs/s",
        documents.len(),
        indexing,
        documents.len() as f64 / indexing.as_secs_f64()
    );

    let words = query_words(&documents, args.queries);
    let text: Vec<SearchQuery> =
        words.iter().map(|w| SearchQuery { text: Some(w.clone()), limit: 20, ..SearchQuery::default() }).collect();
    let filtered: Vec<SearchQuery> = words
        .iter()
        .enumerate()
        .map(|(i, w)| SearchQuery {
            text: Some(w.clone()),
            ipc_prefix: Some(["G", "H01", "A01", "B"][i % 4].into()),
            region_prefix: Some("63".into()),
            price_max_fen: Some(200_000_000),
            include_negotiable: true,
            sort: if i % 2 == 0 { Sort::Relevance } else { Sort::Newest },
            limit: 20,
            ..SearchQuery::default()
        })
        .collect();
    let facets_only: Vec<SearchQuery> = (0..args.queries / 10)
        .map(|i| SearchQuery {
            region_prefix: Some(["63", "6301", "6328", "11"][i % 4].into()),
            limit: 20,
            ..SearchQuery::default()
        })
        .collect();

    // One untimed pass warms the page cache and the jieba dictionary.
    let _ = time_queries(&index, &text[..text.len().min(100)]).await;
    for (name, queries) in
        [("text + facets", &text), ("text + filters + facets", &filtered), ("facets only (no text)", &facets_only)]
    {
        let (p50, p99, hits) = time_queries(&index, queries).await;
        println!("{name:<26} {:>5} queries  p50 {:>8.2?}  p99 {:>8.2?}  mean hits {hits:.0}", queries.len(), p50, p99);
    }
    let ndcg = relevance(&index, &documents, 200).await;
    println!("nDCG@10 (gain = IPC subclasses shared with the query's source, 200 queries): {ndcg:.3}");
    drop(index);
    let _ = std::fs::remove_dir_all(&dir);
}

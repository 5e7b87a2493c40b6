//! The embedded backend: a tantivy index under the data directory, Chinese
//! segmented with jieba, with a character n-gram twin of the title so that
//! one-character queries and words inside longer words (电机 in 发电机) are
//! found too.
//!
//! The outbox position the index reflects is the payload of its last
//! commit, so the documents and the cursor can never disagree: after a
//! crash the index reopens at its last commit and the indexer resumes from
//! the cursor stored with it.

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Count, TopDocs};
use tantivy::columnar::StrColumn;
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{LowerCaser, NgramTokenizer, RawTokenizer, TextAnalyzer, TokenStream, TokenizerManager};
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, Term,
};
use tokio::sync::Semaphore;

mod any_word;
mod clause;
mod keys;
mod max_score;
mod ngrams;
mod segment_tables;

use crate::facets;
use crate::index::{BoxFuture, IndexBatch, Ranked, SearchError, SearchIndex};
use crate::model::{
    DocType, FACETS, Highlight, SearchDocument, SearchHit, SearchQuery, SearchResults, Sort, document_key,
    highlight_ranges,
};

const WRITER_HEAP: usize = 50_000_000;

/// How much a word found in each field counts towards relevance: the title
/// tells most, the body least, a patent number is decisive. (The title's
/// n-grams count once.)
const TITLE_BOOST: f32 = 4.0;
const SUMMARY_BOOST: f32 = 1.5;
const BODY_BOOST: f32 = 0.5;
const NUMBERS_BOOST: f32 = 10.0;

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    source: Field,
    doc_type: Field,
    kind: Field,
    title: Field,
    title_ngram: Field,
    summary: Field,
    body: Field,
    numbers: Field,
    ipc_path: Field,
    region_path: Field,
    trade_mode: Field,
    maturity: Field,
    patent_type: Field,
    legal_status: Field,
    price_fen: Field,
    has_price: Field,
    negotiable: Field,
    published_at: Field,
    facets: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str, stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let numbers = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer("number").set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        // Fast as well: matching reads its candidates' ids from the column.
        key: b.add_text_field("key", STRING | FAST),
        source: b.add_text_field("source", STORED),
        doc_type: b.add_text_field("doc_type", STRING),
        kind: b.add_text_field("kind", STRING),
        title: b.add_text_field("title", text("jieba", false)),
        title_ngram: b.add_text_field("title_ngram", text("ngram", false)),
        summary: b.add_text_field("summary", text("jieba", false)),
        body: b.add_text_field("body", text("jieba", false)),
        numbers: b.add_text_field("numbers", numbers),
        ipc_path: b.add_text_field("ipc_path", STRING),
        region_path: b.add_text_field("region_path", STRING),
        trade_mode: b.add_text_field("trade_mode", STRING),
        maturity: b.add_text_field("maturity", STRING),
        patent_type: b.add_text_field("patent_type", STRING),
        legal_status: b.add_text_field("legal_status", STRING),
        price_fen: b.add_i64_field("price_fen", INDEXED | FAST),
        has_price: b.add_text_field("has_price", STRING),
        negotiable: b.add_text_field("negotiable", STRING),
        published_at: b.add_i64_field("published_at", FAST),
        facets: b.add_text_field(facets::FIELD, STRING | FAST),
    };
    (b.build(), fields)
}

/// The analyzers the index is written with; queries use the same except
/// for the n-gram field ([`query_tokenizers`]).
fn register_tokenizers(index: &Index) -> Result<(), SearchError> {
    let ngram = NgramTokenizer::new(1, 2, false).map_err(index_error)?;
    register_words(index.tokenizers());
    index.tokenizers().register("ngram", TextAnalyzer::builder(ngram).filter(LowerCaser).build());
    Ok(())
}

/// The analyzers of the word fields: jieba for texts, whole values for
/// patent numbers.
fn register_words(tokenizers: &TokenizerManager) {
    let jieba = TextAnalyzer::builder(tantivy_jieba::JiebaTokenizer::new()).filter(LowerCaser).build();
    tokenizers.register("jieba", jieba);
    tokenizers.register("number", TextAnalyzer::builder(RawTokenizer::default()).filter(LowerCaser).build());
}

/// The analyzers the all-words query is parsed with: the index's, but a
/// word's bigrams alone for the n-gram field ([`ngrams::WordBigrams`]).
fn query_tokenizers() -> TokenizerManager {
    let tokenizers = TokenizerManager::default();
    register_words(&tokenizers);
    tokenizers.register("ngram", TextAnalyzer::builder(ngrams::WordBigrams).filter(LowerCaser).build());
    tokenizers
}

/// The text of `query`, when it has any.
fn search_text(query: &SearchQuery) -> Option<&str> {
    query.text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// A segment's column of document keys (`<type>:<id>`).
fn key_column(reader: &tantivy::SegmentReader) -> Result<StrColumn, SearchError> {
    reader
        .fast_fields()
        .str("key")
        .map_err(index_error)?
        .ok_or_else(|| SearchError::Index("the key column is missing".into()))
}

/// Reads `doc`'s key from `column` into `key`; false when it has none.
/// (Searches read keys from [`keys::KeyTables`]; tests check those against this.)
#[cfg(test)]
fn read_key(column: &StrColumn, doc: tantivy::DocId, key: &mut String) -> bool {
    key.clear();
    column.term_ords(doc).next().is_some_and(|ord| column.ord_to_str(ord, key).unwrap_or(false))
}

fn index_error(error: impl std::fmt::Display) -> SearchError {
    SearchError::Index(error.to_string())
}

struct Inner {
    index: Index,
    reader: IndexReader,
    /// `None` only while [`Inner::compact`] replaces it (or after that
    /// failed midway: the next write opens a new one).
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    /// What the all-words query is parsed with ([`query_tokenizers`]).
    query_tokenizers: TokenizerManager,
    browse_counts: facets::BrowseCounts,
    keys: keys::KeyTables,
    /// The any-word search's bounds ([`clause`]), by segment.
    frontiers: segment_tables::SegmentTables<clause::SegmentFrontiers>,
}

/// How many distinct browse filters keep their facet counts.
const BROWSE_COUNTS: usize = 1_024;

/// The tantivy index. Cheap to clone; work runs on the blocking pool.
#[derive(Clone)]
pub struct EmbeddedIndex {
    inner: Arc<Inner>,
    /// How many searches run at once ([`Self::reading`]): one per core and
    /// one more.
    readers: Arc<Semaphore>,
}

/// The index's settings, fixed when it is created: stored documents in
/// 4 KB blocks rather than tantivy's 16 KB, since every result page loads
/// its 20 hits' documents one by one and each load decompresses a whole
/// block (a tenth of a text search's time at 100k with 16 KB blocks).
fn settings() -> IndexSettings {
    IndexSettings { docstore_blocksize: 4_096, ..IndexSettings::default() }
}

/// How the index's files are written, recorded with each commit beside the
/// outbox position: an index of another format is rebuilt, not read.
/// Format 2 has its column dictionaries uncompressed (tantivy without zstd,
/// see Cargo.toml); tantivy cannot read format 1's without zstd.
const FORMAT: &str = "2";

fn payload(cursor: i64) -> String {
    format!("{FORMAT}:{cursor}")
}

/// The outbox position in a commit's payload, if it is of this format.
fn stored_cursor(payload: &str) -> Option<i64> {
    payload.strip_prefix(FORMAT)?.strip_prefix(':')?.parse().ok()
}

/// Ok for a new index or one whose last commit was written in [`FORMAT`].
fn written_in_this_format(index: &Index) -> Result<(), SearchError> {
    match index.load_metas().map_err(index_error)?.payload {
        Some(payload) if stored_cursor(&payload).is_none() => {
            Err(SearchError::Index(format!("written in another format (commit payload {payload:?})")))
        }
        _ => Ok(()),
    }
}

/// A page of hits (score, address) in order, the number of matches, and
/// the facet counts when they were asked for.
type Ranking = (Vec<(f32, DocAddress)>, usize, Option<std::collections::HashMap<String, u64>>);

impl EmbeddedIndex {
    /// Opens the index in `dir`, creating it when absent. An index written
    /// with another schema (an older version of techtrade) is discarded and
    /// rebuilt from the database by the indexer.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir).map_err(index_error)?;
        let (schema, _) = schema();
        let open = |dir: &Path| {
            let directory = MmapDirectory::open(dir).map_err(index_error)?;
            Index::builder().schema(schema.clone()).settings(settings()).open_or_create(directory).map_err(index_error)
        };
        let index = match open(dir).and_then(|index| written_in_this_format(&index).map(|()| index)) {
            Ok(index) => index,
            Err(error) => {
                tracing::warn!(%error, dir = %dir.display(), "search index unreadable or of another schema; rebuilding");
                std::fs::remove_dir_all(dir).map_err(index_error)?;
                std::fs::create_dir_all(dir).map_err(index_error)?;
                open(dir)?
            }
        };
        Self::with_index(index)
    }

    /// An index in memory (tests).
    pub fn in_memory() -> Result<Self, SearchError> {
        Self::with_index(Index::builder().schema(schema().0).settings(settings()).create_in_ram().map_err(index_error)?)
    }

    fn with_index(index: Index) -> Result<Self, SearchError> {
        register_tokenizers(&index)?;
        let (_, fields) = schema();
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(index_error)?;
        let writer = Mutex::new(Some(new_writer(&index)?));
        let browse_counts = facets::BrowseCounts::new(BROWSE_COUNTS);
        let query_tokenizers = query_tokenizers();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            inner: Arc::new(Inner {
                index,
                reader,
                writer,
                fields,
                query_tokenizers,
                browse_counts,
                keys: keys::KeyTables::default(),
                frontiers: segment_tables::SegmentTables::default(),
            }),
            readers: Arc::new(Semaphore::new(cores + 1)),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, SearchError> + Send + 'static,
    ) -> Result<T, SearchError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner)).await.map_err(index_error)?
    }

    /// Runs a search once a permit is free, in the order they were asked for.
    ///
    /// A search is CPU work from start to end. Started all at once, eight
    /// searches on two cores share them, and each takes four times its own
    /// time; a search that is long by itself (a demand whose words are
    /// common) is then stretched the most, which is what a 99th percentile
    /// measures. Queued, a search waits for those ahead of it and then runs
    /// (nearly) alone on its core, and a long one costs the others only its
    /// own time. The one permit more than the cores keeps a core busy while
    /// a search is handed from one thread to the next; with one per core
    /// alone, text search lost 7–13 % of its throughput.
    async fn reading<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, SearchError> + Send + 'static,
    ) -> Result<T, SearchError> {
        // The semaphore is never closed, so acquiring fails only in theory.
        let permit = self.readers.clone().acquire_owned().await.map_err(index_error)?;
        self.blocking(move |inner| {
            let result = work(inner);
            drop(permit);
            result
        })
        .await
    }
}

fn new_writer(index: &Index) -> Result<IndexWriter, SearchError> {
    index.writer_with_num_threads(1, WRITER_HEAP).map_err(index_error)
}

impl Inner {
    fn document(&self, doc: &SearchDocument) -> Result<TantivyDocument, SearchError> {
        let f = &self.fields;
        let mut d = TantivyDocument::default();
        d.add_text(f.key, doc.key());
        d.add_text(f.source, serde_json::to_string(doc).map_err(index_error)?);
        d.add_text(f.doc_type, doc.doc_type.as_str());
        let mut facet = |name: &str, value: &str| {
            if !value.is_empty() && !value.contains('/') {
                d.add_text(f.facets, facets::entry(name, value));
            }
        };
        for value in doc.ipc_level(1) {
            facet("ipc_section", &value);
        }
        for value in doc.ipc_level(3) {
            facet("ipc_class", &value);
        }
        for value in doc.ipc_level(4) {
            facet("ipc_subclass", &value);
        }
        facet("region", &doc.region_code);
        for value in &doc.trade_modes {
            facet("trade_mode", value);
        }
        if let Some(maturity) = &doc.maturity {
            facet("maturity", maturity);
        }
        for value in &doc.patent_types {
            facet("patent_type", value);
        }
        if let Some(kind) = &doc.kind {
            d.add_text(f.kind, kind);
        }
        d.add_text(f.title, &doc.title);
        d.add_text(f.title_ngram, &doc.title);
        d.add_text(f.summary, &doc.summary);
        d.add_text(f.body, &doc.body);
        for number in &doc.numbers {
            d.add_text(f.numbers, number);
            // Also without the dot before the check digit: people type both.
            if number.contains('.') {
                d.add_text(f.numbers, number.replace('.', ""));
            }
        }
        for path in doc.ipc_paths() {
            d.add_text(f.ipc_path, path);
        }
        for path in doc.region_paths() {
            d.add_text(f.region_path, path);
        }
        for mode in &doc.trade_modes {
            d.add_text(f.trade_mode, mode);
        }
        if let Some(maturity) = &doc.maturity {
            d.add_text(f.maturity, maturity);
        }
        for value in &doc.patent_types {
            d.add_text(f.patent_type, value);
        }
        for value in &doc.legal_statuses {
            d.add_text(f.legal_status, value);
        }
        if let Some(price) = doc.price_fen {
            d.add_i64(f.price_fen, price);
        }
        d.add_text(f.has_price, if doc.price_fen.is_some() { "true" } else { "false" });
        d.add_text(f.negotiable, if doc.negotiable { "true" } else { "false" });
        d.add_i64(f.published_at, doc.published_at);
        Ok(d)
    }

    fn commit(&self, writer: &mut IndexWriter, cursor: i64) -> Result<(), SearchError> {
        let mut prepared = writer.prepare_commit().map_err(index_error)?;
        prepared.set_payload(&payload(cursor));
        prepared.commit().map_err(index_error)?;
        self.reader.reload().map_err(index_error)
    }

    /// The index's one writer, opened again if [`Inner::compact`] lost it.
    fn writer<'a>(&self, slot: &'a mut Option<IndexWriter>) -> Result<&'a mut IndexWriter, SearchError> {
        match slot {
            Some(writer) => Ok(writer),
            None => Ok(slot.insert(new_writer(&self.index)?)),
        }
    }

    fn apply(&self, batch: IndexBatch) -> Result<(), SearchError> {
        let mut slot = self.writer.lock().map_err(index_error)?;
        let writer = self.writer(&mut slot)?;
        for key in &batch.deletes {
            writer.delete_term(Term::from_field_text(self.fields.key, key));
        }
        for doc in &batch.upserts {
            writer.delete_term(Term::from_field_text(self.fields.key, &doc.key()));
            writer.add_document(self.document(doc)?).map_err(index_error)?;
        }
        self.commit(writer, batch.cursor)
    }

    fn reset(&self, cursor: i64) -> Result<(), SearchError> {
        let mut slot = self.writer.lock().map_err(index_error)?;
        let writer = self.writer(&mut slot)?;
        writer.delete_all_documents().map_err(index_error)?;
        self.commit(writer, cursor)
    }

    /// Merges every segment into one. A rebuild commits page by page and
    /// leaves a tail of small segments that the merge policy would merge
    /// only after more commits (or never, when the `reindex` command
    /// exits first); each segment costs every search its own term lookups
    /// and scorers. The merges the policy started are waited for first:
    /// a segment being merged cannot be merged again.
    fn compact(&self) -> Result<(), SearchError> {
        let mut slot = self.writer.lock().map_err(index_error)?;
        if let Some(writer) = slot.take() {
            writer.wait_merging_threads().map_err(index_error)?;
        }
        let writer = self.writer(&mut slot)?;
        let segments = self.index.searchable_segment_metas().map_err(index_error)?;
        // A lone segment is rewritten only to drop replaced documents,
        // which BM25 would otherwise go on counting.
        if segments.len() > 1 || segments.iter().any(|segment| segment.has_deletes()) {
            let ids: Vec<_> = segments.iter().map(|segment| segment.id()).collect();
            writer.merge(&ids).wait().map_err(index_error)?;
        }
        self.reader.reload().map_err(index_error)
    }

    fn cursor(&self) -> Result<i64, SearchError> {
        let metas = self.index.load_metas().map_err(index_error)?;
        Ok(metas.payload.as_deref().and_then(stored_cursor).unwrap_or(crate::index::NEVER_BUILT))
    }

    /// The free-text part: every word must match somewhere (title, summary,
    /// body, the title's n-grams or the patent numbers); with `any_word`,
    /// one is enough ([`any_word::AnyWord`]).
    fn text_query(&self, text: &str, any_word: bool) -> Box<dyn Query> {
        if any_word {
            return any_word::AnyWord::new(&self.index, &self.fields, text).query();
        }
        let f = &self.fields;
        let mut parser = QueryParser::new(
            self.index.schema(),
            vec![f.title, f.title_ngram, f.summary, f.body, f.numbers],
            self.query_tokenizers.clone(),
        );
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.title, TITLE_BOOST);
        parser.set_field_boost(f.summary, SUMMARY_BOOST);
        parser.set_field_boost(f.body, BODY_BOOST);
        parser.set_field_boost(f.numbers, NUMBERS_BOOST);
        // Query syntax characters typed by people are words to them, not operators.
        let cleaned: String = text.chars().map(|c| if "+-:^\"'()[]{}<>!*~\\".contains(c) { ' ' } else { c }).collect();
        parser.parse_query_lenient(&cleaned).0
    }

    fn query(&self, query: &SearchQuery) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            match search_text(query) {
                Some(text) => self.text_query(text, query.any_word),
                None => Box::new(AllQuery),
            },
        )];
        // A filter must match but adds nothing to relevance.
        clauses.extend(
            self.filters(query)
                .into_iter()
                .map(|q| (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>)),
        );
        Box::new(BooleanQuery::new(clauses))
    }

    /// What `query` narrows the documents to besides its text.
    fn filters(&self, query: &SearchQuery) -> Vec<Box<dyn Query>> {
        let f = &self.fields;
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
        };
        let by_value = [
            (f.doc_type, query.doc_type.map(|t| t.as_str().to_string())),
            (f.kind, query.kind.clone()),
            (f.ipc_path, query.ipc_prefix.clone()),
            (f.region_path, query.region_prefix.clone()),
            (f.trade_mode, query.trade_mode.clone()),
            (f.maturity, query.maturity.clone()),
            (f.patent_type, query.patent_type.clone()),
            (f.legal_status, query.legal_status.clone()),
        ];
        for (field, value) in by_value {
            if let Some(value) = value {
                filters.push(term(field, &value));
            }
        }
        if let Some(id) = &query.id {
            // The key is `<type>:<id>`; either type may carry the id.
            let keys: Vec<(Occur, Box<dyn Query>)> = [DocType::Listing, DocType::Demand]
                .into_iter()
                .map(|t| (Occur::Should, term(f.key, &document_key(t, id))))
                .collect();
            filters.push(Box::new(BooleanQuery::new(keys)));
        }
        if query.has_price_filter() {
            let bound =
                |v: Option<i64>| v.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(f.price_fen, v)));
            let range: Box<dyn Query> =
                Box::new(RangeQuery::new(bound(query.price_min_fen), bound(query.price_max_fen)));
            let price = if query.include_negotiable {
                let negotiable_only: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
                    (Occur::Must, term(f.negotiable, "true")),
                    (Occur::Must, term(f.has_price, "false")),
                ]));
                Box::new(BooleanQuery::new(vec![(Occur::Should, range), (Occur::Should, negotiable_only)]))
            } else {
                range
            };
            filters.push(price);
        }
        filters
    }

    /// The best hits of an any-word search by relevance (see [`any_word`]),
    /// up to the end of the page asked for; `None` for any other search.
    fn any_word_top(
        &self,
        searcher: &Searcher,
        query: &SearchQuery,
    ) -> Result<Option<Vec<any_word::Hit>>, SearchError> {
        let Some(text) = search_text(query).filter(|_| query.any_word && query.sort == Sort::Relevance) else {
            return Ok(None);
        };
        let filters = self.filters(query);
        let filter: Option<Box<dyn Query>> = match filters.len() {
            0 => None,
            1 => filters.into_iter().next(),
            _ => Some(Box::new(BooleanQuery::new(filters.into_iter().map(|q| (Occur::Must, q)).collect()))),
        };
        let keys = self.keys.of(searcher, keys::SegmentKeys::read)?;
        let frontiers = self.frontiers.of(searcher, |_| Ok(clause::SegmentFrontiers::default()))?;
        let hits = any_word::top(
            searcher,
            &any_word::AnyWord::new(&self.index, &self.fields, text),
            filter.as_deref(),
            query.offset + query.limit,
            &keys,
            &frontiers,
        )?;
        Ok(Some(hits))
    }

    /// The page of hits `query` asks for, in its order, with the total and
    /// (when `facet_collector` is given) the facet counts.
    fn ranked(
        &self,
        searcher: &Searcher,
        query: &SearchQuery,
        facet_collector: Option<facets::FacetCounts>,
    ) -> Result<Ranking, SearchError> {
        let built = self.query(query);
        if let Some(hits) = self.any_word_top(searcher, query)? {
            // Matching's lookup never counts facets (see `search`).
            let total = searcher.search(&built, &Count).map_err(index_error)?;
            let addresses = hits.into_iter().skip(query.offset).map(|hit| (hit.score, hit.address)).collect();
            return Ok((addresses, total, None));
        }
        let page = TopDocs::with_limit(query.limit.max(1)).and_offset(query.offset);
        let (addresses, total, facet_counts): (Vec<(f32, DocAddress)>, usize, _) = match query.sort {
            Sort::Relevance => {
                searcher.search(&built, &(page.order_by_score(), Count, facet_collector)).map_err(index_error)?
            }
            Sort::Newest => {
                let (top, total, facets) = searcher
                    .search(
                        &built,
                        &(page.order_by_fast_field::<i64>("published_at", Order::Desc), Count, facet_collector),
                    )
                    .map_err(index_error)?;
                (top.into_iter().map(|(_, a)| (0.0, a)).collect(), total, facets)
            }
            Sort::PriceAsc | Sort::PriceDesc => {
                let order = if query.sort == Sort::PriceAsc { Order::Asc } else { Order::Desc };
                let (top, total, facets) = searcher
                    .search(&built, &(page.order_by_fast_field::<i64>("price_fen", order), Count, facet_collector))
                    .map_err(index_error)?;
                (top.into_iter().map(|(_, a)| (0.0, a)).collect(), total, facets)
            }
        };
        // A page past the result window asks for none (the collector needs at least one).
        let addresses = addresses.into_iter().take(query.limit).collect();
        Ok((addresses, total, facet_counts))
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let searcher = self.reader.searcher();
        // An any-word search is matching's candidate lookup: it wants the
        // best hits only, and counting facets over every document that
        // shares one word with a whole demand was most of its cost
        // (BENCHMARKS.md, "matches"). Meilisearch leaves them empty too.
        // A browse counts facets once per index generation.
        let generation = searcher.generation().generation_id();
        let browse = facets::BrowseCounts::key(query);
        let counted = browse.as_deref().and_then(|key| self.browse_counts.get(generation, key));
        let facet_collector = (!query.any_word && counted.is_none()).then_some(facets::FacetCounts);
        let (addresses, total, facet_counts) = self.ranked(&searcher, query, facet_collector)?;
        let words = self.highlight_words(query.text.as_deref().unwrap_or_default());
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let stored: TantivyDocument = searcher.doc(address).map_err(index_error)?;
            let source = stored.get_first(self.fields.source).and_then(|v| v.as_str()).unwrap_or_default();
            let document: SearchDocument = serde_json::from_str(source).map_err(index_error)?;
            let highlight = Highlight {
                title: highlight_ranges(&document.title, &matches(&document.title, &words)),
                summary: highlight_ranges(&document.summary, &matches(&document.summary, &words)),
            };
            hits.push(SearchHit { document, highlight, score });
        }
        let facets = match counted {
            Some(facets) => facets,
            None => {
                let facets = facets::group(facet_counts.unwrap_or_default(), &FACETS);
                if let Some(key) = browse {
                    self.browse_counts.put(generation, key, facets.clone());
                }
                facets
            }
        };
        Ok(SearchResults { hits, total: total as u64, facets })
    }

    /// The hits' ids read from the `key` column (a fast field) rather than
    /// from their stored documents, which would each cost a block of the
    /// document store to decompress and a JSON document to parse.
    fn candidates(&self, query: &SearchQuery) -> Result<Vec<Ranked>, SearchError> {
        let searcher = self.reader.searcher();
        let ranked =
            |score: f32, key: &str| Ranked { id: key.split_once(':').map_or(key, |(_, id)| id).to_string(), score };
        if let Some(hits) = self.any_word_top(&searcher, query)? {
            return Ok(hits.iter().skip(query.offset).map(|hit| ranked(hit.score, &hit.key)).collect());
        }
        let (addresses, _, _) = self.ranked(&searcher, query, None)?;
        let keys = self.keys.of(&searcher, keys::SegmentKeys::read)?;
        addresses
            .into_iter()
            .map(|(score, address)| {
                let key = keys.get(address.segment_ord as usize).and_then(|keys| keys.get(address.doc_id));
                let key = key.ok_or_else(|| SearchError::Index(format!("a hit without a key ({address:?})")))?;
                Ok(ranked(score, key))
            })
            .collect()
    }

    /// The words to mark in results: the query's jieba tokens and its
    /// whitespace-separated words, longest first.
    fn highlight_words(&self, text: &str) -> Vec<String> {
        let mut words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        if let Some(mut analyzer) = self.index.tokenizers().get("jieba") {
            let mut stream = analyzer.token_stream(text);
            while stream.advance() {
                words.push(stream.token().text.clone());
            }
        }
        words.retain(|w| !w.trim().is_empty());
        words.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        words.dedup();
        words
    }

    fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        let prefix = prefix.trim();
        if prefix.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let parser = QueryParser::for_index(&self.index, vec![self.fields.title_ngram]);
        let cleaned: String = prefix.chars().filter(|c| c.is_alphanumeric() || c.is_whitespace()).collect();
        let (query, _) = parser.parse_query_lenient(&format!("\"{cleaned}\""));
        let top = searcher.search(&query, &TopDocs::with_limit(limit * 5).order_by_score()).map_err(index_error)?;
        let mut titles: Vec<String> = Vec::new();
        for (_, address) in top {
            let stored: TantivyDocument = searcher.doc(address).map_err(index_error)?;
            let source = stored.get_first(self.fields.source).and_then(|v| v.as_str()).unwrap_or_default();
            let document: SearchDocument = serde_json::from_str(source).map_err(index_error)?;
            if !titles.contains(&document.title) {
                titles.push(document.title);
            }
        }
        // Titles that start with what was typed complete it best.
        let lowered = prefix.to_lowercase();
        titles.sort_by_key(|t| !t.to_lowercase().starts_with(&lowered));
        titles.truncate(limit);
        Ok(titles)
    }
}

/// Byte ranges of `words` in `text` (case-insensitive for ASCII), longest
/// words first, never overlapping, in text order.
fn matches(text: &str, words: &[String]) -> Vec<std::ops::Range<usize>> {
    let lowered = text.to_ascii_lowercase();
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for word in words {
        let needle = word.to_ascii_lowercase();
        let mut from = 0;
        while let Some(found) = lowered[from..].find(&needle) {
            let range = from + found..from + found + needle.len();
            if !ranges.iter().any(|r| r.start < range.end && range.start < r.end) {
                ranges.push(range.clone());
            }
            from = range.end;
        }
    }
    ranges.sort_by_key(|r| r.start);
    ranges
}

impl SearchIndex for EmbeddedIndex {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn cursor(&self) -> BoxFuture<'_, Result<i64, SearchError>> {
        Box::pin(self.blocking(|inner| inner.cursor()))
    }

    fn apply(&self, batch: IndexBatch) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(self.blocking(move |inner| inner.apply(batch)))
    }

    fn reset(&self, cursor: i64) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(self.blocking(move |inner| inner.reset(cursor)))
    }

    fn compact(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(self.blocking(Inner::compact))
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<SearchResults, SearchError>> {
        let query = query.clone();
        Box::pin(self.reading(move |inner| inner.search(&query)))
    }

    fn candidates<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<Vec<Ranked>, SearchError>> {
        let query = query.clone();
        Box::pin(self.reading(move |inner| inner.candidates(&query)))
    }

    fn suggest<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>, SearchError>> {
        let prefix = prefix.to_string();
        Box::pin(self.reading(move |inner| inner.suggest(&prefix, limit)))
    }

    fn health(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index written by an older techtrade (here: without the `key`
    /// column matching reads) is discarded on open and left for the
    /// indexer to rebuild, rather than failing the first match.
    /// At most one search per permit runs at once; the others wait their
    /// turn, and every one finishes and gives its permit back, a failed
    /// one too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn searches_take_turns_on_the_cores() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

        let index = EmbeddedIndex::in_memory().unwrap();
        let permits = index.readers.available_permits();
        assert!(permits >= 1);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let searches: Vec<_> = (0..permits * 4)
            .map(|n| {
                let (index, running, most) = (index.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    index
                        .reading(move |_| {
                            let now = running.fetch_add(1, SeqCst) + 1;
                            most.fetch_max(now, SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            running.fetch_sub(1, SeqCst);
                            if n % 3 == 0 { Err(SearchError::Index("failed".into())) } else { Ok(n) }
                        })
                        .await
                })
            })
            .collect();
        let mut finished = 0;
        for search in searches {
            let _ = search.await.unwrap();
            finished += 1;
        }
        assert_eq!(finished, permits * 4);
        assert_eq!(most.load(SeqCst), permits, "as many at once as there are permits, no more");
        assert_eq!(index.readers.available_permits(), permits, "every permit is back");
    }

    #[tokio::test]
    async fn an_index_of_an_older_schema_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let (_, fields) = schema();
        let mut older = Schema::builder();
        for (_, entry) in schema().0.fields() {
            let mut entry = entry.clone();
            if entry.name() == "key" {
                entry = tantivy::schema::FieldEntry::new_text("key".into(), STRING);
            }
            older.add_field(entry);
        }
        let written = Index::create_in_dir(dir.path(), older.build()).unwrap();
        register_tokenizers(&written).unwrap();
        let mut writer: IndexWriter = written.writer_with_num_threads(1, WRITER_HEAP).unwrap();
        writer.add_document(tantivy::doc!(fields.key => "listing:old")).unwrap();
        writer.prepare_commit().unwrap().set_payload("42");
        writer.commit().unwrap();
        drop(writer);

        let index = EmbeddedIndex::open(dir.path()).unwrap();
        assert_eq!(index.cursor().await.unwrap(), crate::index::NEVER_BUILT);
        let query = SearchQuery { limit: 10, ..SearchQuery::default() };
        assert!(index.candidates(&query).await.unwrap().is_empty());
    }

    /// An index written in an older format (format 1: compressed column
    /// dictionaries, a bare cursor as the commit payload) with today's
    /// schema is discarded on open too: this tantivy could not read its keys.
    #[tokio::test]
    async fn an_index_of_an_older_format_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let written = Index::create_in_dir(dir.path(), schema().0).unwrap();
        register_tokenizers(&written).unwrap();
        let mut writer: IndexWriter = written.writer_with_num_threads(1, WRITER_HEAP).unwrap();
        writer.add_document(tantivy::doc!(schema().1.key => "listing:old")).unwrap();
        let mut prepared = writer.prepare_commit().unwrap();
        prepared.set_payload("42");
        prepared.commit().unwrap();
        drop(writer);

        let index = EmbeddedIndex::open(dir.path()).unwrap();
        assert_eq!(index.cursor().await.unwrap(), crate::index::NEVER_BUILT);
        assert!(index.candidates(&SearchQuery { limit: 10, ..SearchQuery::default() }).await.unwrap().is_empty());

        // What this version writes, it opens again as it left it.
        index.apply(IndexBatch { upserts: vec![], deletes: vec![], cursor: 7 }).await.unwrap();
        drop(index);
        assert_eq!(EmbeddedIndex::open(dir.path()).unwrap().cursor().await.unwrap(), 7);
    }

    /// After a rebuild's page-by-page commits, compacting leaves one
    /// segment with every document, the same answers and the cursor, and
    /// the index takes writes again.
    #[tokio::test]
    async fn compacting_merges_a_rebuilds_segments_into_one() {
        let dir = tempfile::tempdir().unwrap();
        let index = EmbeddedIndex::open(dir.path()).unwrap();
        let page = |from: usize, cursor: i64| IndexBatch {
            upserts: (from..from + 5)
                .map(|n| SearchDocument { id: format!("l{n}"), ..crate::model::tests::doc() })
                .collect(),
            deletes: vec![],
            cursor,
        };
        for n in (0..30).step_by(5) {
            index.apply(page(n, crate::index::NEVER_BUILT)).await.unwrap();
        }
        index
            .apply(IndexBatch { deletes: vec!["listing:l3".into()], cursor: 41, ..IndexBatch::default() })
            .await
            .unwrap();
        let segments = |index: &EmbeddedIndex| index.inner.reader.searcher().segment_readers().len();
        assert!(segments(&index) > 1, "each commit wrote a segment");
        let query = SearchQuery { text: Some("锂电池".into()), limit: 100, ..SearchQuery::default() };
        let ids = |hits: Vec<Ranked>| hits.into_iter().map(|h| h.id).collect::<std::collections::BTreeSet<_>>();
        let before = ids(index.candidates(&query).await.unwrap());
        assert_eq!(before.len(), 29);

        index.compact().await.unwrap();
        assert_eq!(segments(&index), 1);
        assert_eq!(ids(index.candidates(&query).await.unwrap()), before);
        assert_eq!(index.cursor().await.unwrap(), 41);
        let deleted = |index: &EmbeddedIndex| index.inner.reader.searcher().segment_reader(0).num_deleted_docs();
        assert_eq!(deleted(&index), 0, "the replaced and deleted documents are gone");

        // One segment with a deletion is rewritten without it.
        index
            .apply(IndexBatch { deletes: vec!["listing:l4".into()], cursor: 41, ..IndexBatch::default() })
            .await
            .unwrap();
        assert_eq!(deleted(&index), 1);
        index.compact().await.unwrap();
        assert_eq!((segments(&index), deleted(&index)), (1, 0));

        index.apply(page(100, 42)).await.unwrap();
        assert_eq!(index.candidates(&query).await.unwrap().len(), 33);
        drop(index);
        let reopened = EmbeddedIndex::open(dir.path()).unwrap();
        assert_eq!(reopened.cursor().await.unwrap(), 42);
        assert_eq!(reopened.candidates(&query).await.unwrap().len(), 33);
    }

    /// Looking a word up in the n-gram field by its bigrams alone finds
    /// the same titles as by all its 1- and 2-grams (as the index holds
    /// them), for words of every length found in the titles and a few
    /// that are not.
    #[tokio::test]
    async fn the_ngram_field_finds_the_same_titles_by_bigrams_alone() {
        let titles = [
            "风力发电机叶片除冰装置",
            "一种电动机控制电路",
            "机电一体化实训平台",
            "发电厂用机组冷却系统",
            "盐湖卤水提锂吸附剂",
            "锂电池回收与梯次利用",
            "电池管理系统",
            "Lithium battery pack",
        ];
        let index = EmbeddedIndex::in_memory().unwrap();
        let upserts = titles
            .iter()
            .enumerate()
            .map(|(n, title)| SearchDocument {
                id: format!("l{n}"),
                title: title.to_string(),
                ..crate::model::tests::doc()
            })
            .collect();
        index.apply(IndexBatch { upserts, deletes: vec![], cursor: 1 }).await.unwrap();
        let inner = &index.inner;
        let searcher = inner.reader.searcher();
        let ngram = vec![inner.fields.title_ngram];
        let by_all_grams = QueryParser::for_index(&inner.index, ngram.clone());
        let by_bigrams = QueryParser::new(inner.index.schema(), ngram, query_tokenizers());
        let found = |parser: &QueryParser, word: &str| {
            let (query, errors) = parser.parse_query_lenient(word);
            assert!(errors.is_empty(), "{word}: {errors:?}");
            searcher.search(&query, &tantivy::collector::DocSetCollector).unwrap()
        };
        let mut words: Vec<String> =
            ["电机", "发电机", "机电", "锂", "电池回", "池回收", "提锂吸附", "battery", "电厂机", "冰箱"]
                .iter()
                .map(|w| w.to_string())
                .collect();
        for title in titles {
            let chars: Vec<char> = title.chars().collect();
            for length in 1..=4 {
                words.extend(chars.windows(length).map(|w| w.iter().collect::<String>()));
            }
        }
        for word in words.iter().filter(|w| !w.trim().is_empty()) {
            assert_eq!(found(&by_bigrams, word), found(&by_all_grams, word), "{word}");
        }
        assert_eq!(
            found(&by_bigrams, "电机").len(),
            1,
            "电机 in 发电机; 电动机 and 机电 hold the characters, not the word"
        );
    }

    #[test]
    fn matches_longest_words_without_overlap() {
        let words = vec!["锂电池".to_string(), "电池".to_string(), "abc".to_string()];
        let text = "锂电池与电池 ABC";
        let ranges = matches(text, &words);
        let marked: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(marked, ["锂电池", "电池", "ABC"]);
    }
}

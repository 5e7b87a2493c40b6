//! The Meilisearch backend: the shape documents take in a Meilisearch index,
//! the index settings, the translation of [`SearchQuery`] into a Meilisearch
//! search (filter expression, sort, facets, highlights) and back, and the
//! outbox cursor, which Meilisearch cannot hold, so it lives in the
//! database and moves only after Meilisearch confirms a batch.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use diesel::prelude::*;
use meilisearch_sdk::client::Client;
use meilisearch_sdk::errors::{Error as SdkError, ErrorCode};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{SearchResult, Selectors};
use meilisearch_sdk::settings::{FacetingSettings, LocalizedAttributes, PaginationSetting, Settings};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use techtrade_db::schema::outbox_cursors;
use techtrade_db::{Database, DbError, outbox};

use self::tasks::Pipeline;
use crate::index::{BoxFuture, IndexBatch, NEVER_BUILT, Ranked, SearchError, SearchIndex};
use crate::model::{
    DocType, FACETS, Facets, Highlight, SearchDocument, SearchHit, SearchQuery, SearchResults, Sort, highlight_ranges,
};

mod tasks;

/// The outbox consumer whose cursor records what the index reflects.
const CONSUMER: &str = "search-meilisearch";

const PRIMARY_KEY: &str = "key";

/// Meilisearch applies writes asynchronously; we poll the task until it
/// settles. The SDK's default timeout (5 s) is too short for a large batch
/// or for the re-indexing a settings change triggers.
const TASK_POLL: Duration = Duration::from_millis(100);
const TASK_TIMEOUT: Duration = Duration::from_secs(300);

/// How many write tasks [`SearchIndex::enqueue`] leaves in flight before it
/// waits for the oldest. Meilisearch merges queued document tasks into one
/// batch, so several in flight keep it indexing while the next pages are
/// read from the database.
const MAX_IN_FLIGHT: usize = 8;

/// How many documents of a rebuild go in one task. The indexer reads pages
/// of [`crate::indexer::BATCH`]; Meilisearch indexed 110k documents at 3.1–3.8k
/// docs/s sent as such pages, at 5.7–6.2k docs/s as one payload.
const PAYLOAD_DOCUMENTS: usize = 10_000;

/// Meilisearch itself reads at most ten words of a query.
const MAX_ANY_WORDS: usize = 10;

const HIGHLIGHT_PRE: &str = "<em>";
const HIGHLIGHT_POST: &str = "</em>";

/// Titles and descriptions are mostly Chinese, with English words and
/// model numbers mixed in. Left to detect the language itself, Meilisearch
/// can take a short all-Han text for Japanese and segment it wrongly.
const LOCALES: [&str; 2] = ["cmn", "eng"];
const LOCALIZED_ATTRIBUTES: [&str; 3] = ["title", "summary", "body"];

/// In order of importance: a match in the title outranks one in the body.
const SEARCHABLE_ATTRIBUTES: [&str; 4] = ["title", "summary", "body", "numbers"];

const FILTERABLE_ATTRIBUTES: [&str; 16] = [
    "id",
    "doc_type",
    "kind",
    "ipc_paths",
    "region_paths",
    "trade_mode",
    "maturity",
    "patent_type",
    "legal_statuses",
    "price_fen",
    "has_price",
    "negotiable",
    "ipc_section",
    "ipc_class",
    "ipc_subclass",
    "region",
];

const SORTABLE_ATTRIBUTES: [&str; 2] = ["published_at", "price_fen"];

/// Meilisearch's default rules with `sort` moved first: someone who asks for
/// the cheapest or the newest expects exactly that order, as the embedded
/// backend gives, with relevance only breaking ties. Without a `sort`
/// parameter the rule does nothing, so relevance order is unchanged.
const RANKING_RULES: [&str; 6] = ["sort", "words", "typo", "proximity", "attribute", "exactness"];

/// A document as stored in Meilisearch: every [`SearchDocument`] field, the
/// primary key, and the fields derived for filtering and faceting (a
/// Meilisearch filter matches values, not prefixes, so prefixes are stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredDocument {
    /// [`meili_id`] of the document key.
    key: String,
    id: String,
    doc_type: DocType,
    kind: Option<String>,
    title: String,
    summary: String,
    body: String,
    numbers: Vec<String>,
    ipc: Vec<String>,
    region_code: String,
    trade_modes: Vec<String>,
    maturity: Option<String>,
    patent_types: Vec<String>,
    legal_statuses: Vec<String>,
    price_fen: Option<i64>,
    negotiable: bool,
    owner_organization_id: String,
    published_at: i64,
    ipc_paths: Vec<String>,
    region_paths: Vec<String>,
    ipc_section: Vec<String>,
    ipc_class: Vec<String>,
    ipc_subclass: Vec<String>,
    region: String,
    trade_mode: Vec<String>,
    patent_type: Vec<String>,
    /// Filters cannot test for a missing field portably; this can be.
    has_price: bool,
}

impl From<&SearchDocument> for StoredDocument {
    fn from(doc: &SearchDocument) -> Self {
        Self {
            key: meili_id(&doc.key()),
            id: doc.id.clone(),
            doc_type: doc.doc_type,
            kind: doc.kind.clone(),
            title: doc.title.clone(),
            summary: doc.summary.clone(),
            body: doc.body.clone(),
            numbers: doc.numbers.clone(),
            ipc: doc.ipc.clone(),
            region_code: doc.region_code.clone(),
            trade_modes: doc.trade_modes.clone(),
            maturity: doc.maturity.clone(),
            patent_types: doc.patent_types.clone(),
            legal_statuses: doc.legal_statuses.clone(),
            price_fen: doc.price_fen,
            negotiable: doc.negotiable,
            owner_organization_id: doc.owner_organization_id.clone(),
            published_at: doc.published_at,
            ipc_paths: doc.ipc_paths(),
            region_paths: doc.region_paths(),
            ipc_section: doc.ipc_level(1),
            ipc_class: doc.ipc_level(3),
            ipc_subclass: doc.ipc_level(4),
            region: doc.region_code.clone(),
            trade_mode: doc.trade_modes.clone(),
            patent_type: doc.patent_types.clone(),
            has_price: doc.price_fen.is_some(),
        }
    }
}

impl From<StoredDocument> for SearchDocument {
    fn from(stored: StoredDocument) -> Self {
        Self {
            id: stored.id,
            doc_type: stored.doc_type,
            kind: stored.kind,
            title: stored.title,
            summary: stored.summary,
            body: stored.body,
            numbers: stored.numbers,
            ipc: stored.ipc,
            region_code: stored.region_code,
            trade_modes: stored.trade_modes,
            maturity: stored.maturity,
            patent_types: stored.patent_types,
            legal_statuses: stored.legal_statuses,
            price_fen: stored.price_fen,
            negotiable: stored.negotiable,
            owner_organization_id: stored.owner_organization_id,
            published_at: stored.published_at,
        }
    }
}

/// What an any-word merge orders by, and all a candidate search retrieves.
#[derive(Debug, Deserialize)]
struct RankFields {
    key: String,
    id: String,
    published_at: i64,
    price_fen: Option<i64>,
}

impl RankFields {
    const ATTRIBUTES: [&'static str; 4] = ["key", "id", "published_at", "price_fen"];
}

/// A document as far as ordering merged hits goes: its key, when it was
/// published, its price.
trait Ordered {
    fn rank(&self) -> (&str, i64, Option<i64>);
}

impl Ordered for RankFields {
    fn rank(&self) -> (&str, i64, Option<i64>) {
        (&self.key, self.published_at, self.price_fen)
    }
}

impl Ordered for StoredDocument {
    fn rank(&self) -> (&str, i64, Option<i64>) {
        (&self.key, self.published_at, self.price_fen)
    }
}

/// Merges the hits of one search per word: each document once, scored by
/// the sum of its scores, ordered by `sort` (by score for relevance, the
/// newest first among equals).
fn merge_any_word<T: Ordered>(
    per_word: impl IntoIterator<Item = Vec<SearchResult<T>>>,
    sort: Sort,
) -> Vec<(SearchResult<T>, f32)> {
    let mut merged: Vec<(SearchResult<T>, f32)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for hit in per_word.into_iter().flatten() {
        let score = hit.ranking_score.unwrap_or(0.0) as f32;
        match seen.get(hit.result.rank().0) {
            Some(&at) => merged[at].1 += score,
            None => {
                seen.insert(hit.result.rank().0.to_string(), merged.len());
                merged.push((hit, score));
            }
        }
    }
    let newest = |h: &(SearchResult<T>, f32)| std::cmp::Reverse(h.0.result.rank().1);
    match sort {
        Sort::Relevance => merged.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| newest(a).cmp(&newest(b)))),
        Sort::Newest => merged.sort_by_key(newest),
        Sort::PriceAsc => merged.sort_by_key(|h| (h.0.result.rank().2.is_none(), h.0.result.rank().2)),
        Sort::PriceDesc => merged.sort_by_key(|h| std::cmp::Reverse(h.0.result.rank().2)),
    }
    merged
}

/// What a suggestion search retrieves.
#[derive(Debug, Deserialize)]
struct TitleOnly {
    title: String,
}

/// The Meilisearch id of a document key: ids allow only `[A-Za-z0-9_-]`,
/// so `listing:<id>` is stored as `listing_<id>`.
pub fn meili_id(key: &str) -> String {
    key.replace(':', "_")
}

/// A Meilisearch search backed by one index, with its outbox cursor in the database.
pub struct MeiliIndex {
    client: Client,
    index_uid: String,
    db: Database,
    /// Held across the awaits of a write, so writes are sent and confirmed in order.
    pipeline: tokio::sync::Mutex<Pipeline<TaskInfo, StoredDocument>>,
}

impl MeiliIndex {
    /// Connects, creates the index if missing and applies the settings,
    /// waiting until Meilisearch has done both, so that the first search
    /// already filters and sorts as expected.
    pub async fn connect(url: &str, key: Option<&str>, index_uid: &str, db: Database) -> Result<Self, SearchError> {
        if let Some(key) = key {
            check_api_key(key)?;
        }
        // The SDK builds URLs as `{host}/indexes/...`; a trailing slash would double up.
        let client = Client::new(url.trim_end_matches('/'), key).map_err(sdk_error)?;
        let this = Self { client, index_uid: index_uid.to_string(), db, pipeline: Default::default() };
        this.ensure_index().await?;
        let wanted = settings();
        // Meilisearch re-indexes on every settings update, even one that
        // changes nothing: 6 s at 110k documents, on each start and reindex.
        let current = this.index().get_settings().await.ok();
        let same = current.is_some_and(|current| {
            matches!(
                (serde_json::to_value(&wanted), serde_json::to_value(current)),
                (Ok(wanted), Ok(current)) if !settings_differ(&wanted, &current, true)
            )
        });
        if !same {
            let task = this.index().set_settings(&wanted).await.map_err(sdk_error)?;
            this.wait(task).await?;
        }
        Ok(this)
    }

    fn index(&self) -> Index {
        self.client.index(self.index_uid.as_str())
    }

    async fn ensure_index(&self) -> Result<(), SearchError> {
        match self.client.get_index(&self.index_uid).await {
            Ok(index) => match index.primary_key.as_deref() {
                // An index without a primary key yet gets ours with the first documents.
                None | Some(PRIMARY_KEY) => Ok(()),
                Some(other) => Err(SearchError::Index(format!(
                    "index {} has primary key {other}, expected {PRIMARY_KEY}",
                    self.index_uid
                ))),
            },
            Err(SdkError::Meilisearch(error)) if error.error_code == ErrorCode::IndexNotFound => {
                let task = self.client.create_index(&self.index_uid, Some(PRIMARY_KEY)).await.map_err(sdk_error)?;
                match self.settle(task).await? {
                    // Another instance starting at the same time created it first.
                    Task::Failed { content } if content.error.error_code == ErrorCode::IndexAlreadyExists => Ok(()),
                    task => succeeded(task),
                }
            }
            Err(error) => Err(sdk_error(error)),
        }
    }

    /// Waits for a task to finish, however it ended.
    async fn settle(&self, task: TaskInfo) -> Result<Task, SearchError> {
        task.wait_for_completion(&self.client, Some(TASK_POLL), Some(TASK_TIMEOUT)).await.map_err(sdk_error)
    }

    /// Waits for a task and fails unless it succeeded.
    async fn wait(&self, task: TaskInfo) -> Result<(), SearchError> {
        succeeded(self.settle(task).await?)
    }

    /// Where the next batch starts: past what is in flight, else the stored position.
    async fn read_cursor(&self) -> Result<i64, SearchError> {
        if let Some(position) = self.pipeline.lock().await.position() {
            return Ok(position);
        }
        self.stored_cursor().await
    }

    async fn stored_cursor(&self) -> Result<i64, SearchError> {
        // No stored position means the index was never rebuilt from the database.
        self.db
            .run(|conn| outbox::stored_cursor(conn, CONSUMER).map_err(DbError::from))
            .await
            .map_err(db_error)
            .map(|cursor| cursor.unwrap_or(NEVER_BUILT))
    }

    async fn store_cursor(&self, cursor: i64) -> Result<(), SearchError> {
        self.db
            .run(move |conn| outbox::advance_cursor(conn, CONSUMER, cursor).map_err(DbError::from))
            .await
            .map_err(db_error)
    }

    /// Sends a batch's tasks, then waits until at most `keep` are in flight.
    async fn send_batch(&self, batch: IndexBatch, keep: usize) -> Result<(), SearchError> {
        let mut pipeline = self.pipeline.lock().await;
        let result = match self.send(&mut pipeline, batch).await {
            Ok(()) => self.confirm(&mut pipeline, keep).await,
            Err(error) => Err(error),
        };
        forget_on_error(&mut pipeline, result)
    }

    async fn send(
        &self,
        pipeline: &mut Pipeline<TaskInfo, StoredDocument>,
        batch: IndexBatch,
    ) -> Result<(), SearchError> {
        let index = self.index();
        if batch.cursor == NEVER_BUILT && batch.deletes.is_empty() {
            // A rebuild's page: held until a payload's worth.
            if pipeline.hold(batch.upserts.iter().map(StoredDocument::from)) >= PAYLOAD_DOCUMENTS {
                self.send_held(pipeline).await?;
            }
            return Ok(());
        }
        self.send_held(pipeline).await?;
        // Deletes are queued before upserts: Meilisearch runs an index's
        // tasks in order, so a key both removed and re-added ends up present.
        if !batch.deletes.is_empty() {
            let ids: Vec<String> = batch.deletes.iter().map(|key| meili_id(key)).collect();
            pipeline.push(index.delete_documents(&ids).await.map_err(sdk_error)?);
        }
        if !batch.upserts.is_empty() {
            let docs: Vec<StoredDocument> = batch.upserts.iter().map(StoredDocument::from).collect();
            pipeline.push(index.add_or_replace(&docs, Some(PRIMARY_KEY)).await.map_err(sdk_error)?);
        }
        if batch.cursor != NEVER_BUILT && !pipeline.reach(batch.cursor) {
            // Nothing of it, nor before it, is in flight: it is reached already.
            self.store_cursor(batch.cursor).await?;
        }
        Ok(())
    }

    /// Sends the documents held, if any, as one task.
    async fn send_held(&self, pipeline: &mut Pipeline<TaskInfo, StoredDocument>) -> Result<(), SearchError> {
        let held = pipeline.take_held();
        if !held.is_empty() {
            pipeline.push(self.index().add_or_replace(&held, Some(PRIMARY_KEY)).await.map_err(sdk_error)?);
        }
        Ok(())
    }

    /// Waits for the oldest tasks until at most `keep` are in flight, then
    /// stores the furthest position they reached. If we stop before the
    /// position is stored, the batches are sent again, which is harmless.
    async fn confirm(&self, pipeline: &mut Pipeline<TaskInfo, StoredDocument>, keep: usize) -> Result<(), SearchError> {
        let mut reached = None;
        while pipeline.len() > keep {
            let Some(oldest) = pipeline.oldest() else { break };
            succeeded(self.settle(oldest.clone()).await?)?;
            reached = pipeline.succeeded_oldest().or(reached);
        }
        match reached {
            Some(position) => self.store_cursor(position).await,
            None => Ok(()),
        }
    }

    async fn reset_index(&self, cursor: i64) -> Result<(), SearchError> {
        let mut pipeline = self.pipeline.lock().await;
        // Whatever is in flight runs before the deletion, and is deleted by it.
        pipeline.clear();
        let task = self.index().delete_all_documents().await.map_err(sdk_error)?;
        self.wait(task).await?;
        // `advance_cursor` never moves backwards, so the row goes first.
        self.db
            .run(move |conn| {
                techtrade_db::write_transaction(conn, |conn| {
                    diesel::delete(outbox_cursors::table.find(CONSUMER)).execute(conn)?;
                    outbox::advance_cursor(conn, CONSUMER, cursor)
                })
                .map_err(DbError::from)
            })
            .await
            .map_err(db_error)
    }

    async fn run_search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let words: Vec<&str> = query.text.as_deref().unwrap_or_default().split_whitespace().collect();
        if query.any_word && words.len() > 1 {
            self.search_any_word(query, &words).await
        } else {
            self.search_all_words(query).await
        }
    }

    /// Meilisearch has no OR of words (its matching strategies drop words
    /// from the end or by frequency, never leaving "any one of them"), so
    /// an any-word search is one search per word, sent together as one
    /// multi-search request and merged: a document's score is the sum of
    /// its scores for the words it matches, as in the embedded backend.
    /// Totals count the merged pool; facets are left empty (matching, the
    /// one user, needs neither).
    async fn search_any_word(&self, query: &SearchQuery, words: &[&str]) -> Result<SearchResults, SearchError> {
        let merged = self.any_word_hits::<StoredDocument>(query, words, None).await?;
        let total = merged.len() as u64;
        let hits = merged
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|(result, score)| SearchHit { score, ..hit(result) })
            .collect();
        Ok(SearchResults { hits, total, facets: facets(None) })
    }

    /// [`Self::search_any_word`]'s hits, best first, with their summed
    /// scores, retrieving only `retrieve` of each document (all if `None`).
    async fn any_word_hits<T>(
        &self,
        query: &SearchQuery,
        words: &[&str],
        retrieve: Option<&[&str]>,
    ) -> Result<Vec<(SearchResult<T>, f32)>, SearchError>
    where
        T: Ordered + DeserializeOwned + Send + Sync + 'static,
    {
        let index = self.index();
        let filter = filter_expression(query);
        let pool = query.offset.saturating_add(query.limit);
        let mut multi = self.client.multi_search();
        for word in words.iter().take(MAX_ANY_WORDS) {
            let mut search = index.search();
            search.with_query(word).with_limit(pool).with_show_ranking_score(true).with_locales(&LOCALES);
            match retrieve {
                Some(fields) => {
                    search.with_attributes_to_retrieve(Selectors::Some(fields));
                }
                None => {
                    search
                        .with_attributes_to_highlight(Selectors::Some(&["title", "summary"]))
                        .with_highlight_pre_tag(HIGHLIGHT_PRE)
                        .with_highlight_post_tag(HIGHLIGHT_POST);
                }
            }
            if let Some(filter) = &filter {
                search.with_filter(filter);
            }
            multi.with_search_query(search);
        }
        let response = multi.execute::<T>().await.map_err(sdk_error)?;
        Ok(merge_any_word(response.results.into_iter().map(|r| r.hits), query.sort))
    }

    /// The any-word pool by id and score only, for matching.
    async fn any_word_candidates(&self, query: &SearchQuery, words: &[&str]) -> Result<Vec<Ranked>, SearchError> {
        let merged = self.any_word_hits::<RankFields>(query, words, Some(&RankFields::ATTRIBUTES)).await?;
        Ok(merged
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|(result, score)| Ranked { id: result.result.id, score })
            .collect())
    }

    async fn search_all_words(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let index = self.index();
        let filter = filter_expression(query);
        let text = query.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let mut search = index.search();
        // Paging by page number makes Meilisearch count every match (totals
        // that agree with the facets); by offset it only estimates.
        if query.limit > 0 && query.offset.is_multiple_of(query.limit) {
            search.with_page(query.offset / query.limit + 1).with_hits_per_page(query.limit);
        } else {
            search.with_offset(query.offset).with_limit(query.limit);
        }
        search
            .with_facets(Selectors::Some(&FACETS))
            .with_attributes_to_highlight(Selectors::Some(&["title", "summary"]))
            .with_highlight_pre_tag(HIGHLIGHT_PRE)
            .with_highlight_post_tag(HIGHLIGHT_POST)
            .with_show_ranking_score(true)
            .with_locales(&LOCALES);
        if let Some(text) = text {
            search.with_query(text);
        }
        if let Some(filter) = &filter {
            search.with_filter(filter);
        }
        if let Some(sort) = sort_criteria(query.sort) {
            search.with_sort(sort);
        }
        let results = index.execute_query::<StoredDocument>(&search).await.map_err(sdk_error)?;
        let total = results.total_hits.or(results.estimated_total_hits).unwrap_or(0) as u64;
        Ok(SearchResults {
            hits: results.hits.into_iter().map(hit).collect(),
            total,
            facets: facets(results.facet_distribution),
        })
    }

    async fn run_suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        let prefix = prefix.trim();
        if prefix.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let index = self.index();
        let mut search = index.search();
        search
            .with_query(prefix)
            .with_attributes_to_retrieve(Selectors::Some(&["title"]))
            // Several documents can share a title; ask for more to fill `limit` distinct ones.
            .with_limit(limit.saturating_mul(3))
            .with_locales(&LOCALES);
        let results = index.execute_query::<TitleOnly>(&search).await.map_err(sdk_error)?;
        let titles = results.hits.into_iter().map(|hit| hit.result.title).collect();
        Ok(rank_suggestions(prefix, titles, limit))
    }

    async fn check_health(&self) -> Result<(), SearchError> {
        let health = self.client.health().await.map_err(|error| SearchError::Unavailable(error.to_string()))?;
        if health.status == "available" {
            Ok(())
        } else {
            Err(SearchError::Unavailable(format!("status {}", health.status)))
        }
    }
}

impl SearchIndex for MeiliIndex {
    fn backend(&self) -> &'static str {
        "meilisearch"
    }

    fn cursor(&self) -> BoxFuture<'_, Result<i64, SearchError>> {
        Box::pin(async move { self.read_cursor().await })
    }

    fn apply(&self, batch: IndexBatch) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move { self.send_batch(batch, 0).await })
    }

    fn enqueue(&self, batch: IndexBatch) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move { self.send_batch(batch, MAX_IN_FLIGHT).await })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move {
            let mut pipeline = self.pipeline.lock().await;
            let result = match self.send_held(&mut pipeline).await {
                Ok(()) => self.confirm(&mut pipeline, 0).await,
                Err(error) => Err(error),
            };
            forget_on_error(&mut pipeline, result)
        })
    }

    fn reset(&self, cursor: i64) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move { self.reset_index(cursor).await })
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<SearchResults, SearchError>> {
        Box::pin(async move { self.run_search(query).await })
    }

    fn candidates<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<Vec<Ranked>, SearchError>> {
        Box::pin(async move {
            let words: Vec<&str> = query.text.as_deref().unwrap_or_default().split_whitespace().collect();
            if query.any_word && words.len() > 1 {
                return self.any_word_candidates(query, &words).await;
            }
            let hits = self.search_all_words(query).await?.hits;
            Ok(hits.into_iter().map(|hit| Ranked { id: hit.document.id, score: hit.score }).collect())
        })
    }

    fn suggest<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>, SearchError>> {
        Box::pin(async move { self.run_suggest(prefix, limit).await })
    }

    fn health(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async move { self.check_health().await })
    }
}

fn settings() -> Settings {
    Settings::new()
        .with_searchable_attributes(SEARCHABLE_ATTRIBUTES)
        .with_filterable_attributes(FILTERABLE_ATTRIBUTES)
        .with_sortable_attributes(SORTABLE_ATTRIBUTES)
        .with_ranking_rules(RANKING_RULES)
        // The defaults (1,000 hits, 100 values per facet) would cut totals
        // and the IPC subclass and region facets short.
        .with_pagination(PaginationSetting { max_total_hits: 1_000_000 })
        .with_faceting(FacetingSettings { max_values_per_facet: 10_000, sort_facet_values_by: None })
        .with_localized_attributes([LocalizedAttributes {
            locales: LOCALES.iter().map(|l| l.to_string()).collect(),
            attribute_patterns: LOCALIZED_ATTRIBUTES.iter().map(|a| a.to_string()).collect(),
        }])
}

/// Settings whose order means something (importance, rule order); every
/// other list is a set, which Meilisearch may return in its own order.
const ORDERED_SETTINGS: [&str; 2] = ["searchableAttributes", "rankingRules"];

/// Whether `current` (an index's settings) differs from `wanted` in
/// anything `wanted` sets. Both as Meilisearch's JSON; `null` in `wanted`
/// is a setting left alone.
fn settings_differ(wanted: &serde_json::Value, current: &serde_json::Value, top: bool) -> bool {
    use serde_json::Value;
    match (wanted, current) {
        (Value::Null, _) => false,
        (Value::Object(wanted), current) => wanted.iter().any(|(key, value)| {
            let theirs = current.get(key).unwrap_or(&Value::Null);
            match (value, theirs) {
                (Value::Array(ours), Value::Array(theirs)) if !(top && ORDERED_SETTINGS.contains(&key.as_str())) => {
                    let sorted = |list: &[Value]| {
                        let mut list: Vec<String> = list.iter().map(Value::to_string).collect();
                        list.sort();
                        list
                    };
                    sorted(ours) != sorted(theirs)
                }
                _ => settings_differ(value, theirs, false),
            }
        }),
        (wanted, current) => wanted != current,
    }
}

/// The Meilisearch filter for a query's filters, `None` when it has none.
/// Every user value goes in as a quoted string literal, so none of it can be
/// read as filter syntax.
pub(crate) fn filter_expression(query: &SearchQuery) -> Option<String> {
    let equals = [
        ("id", query.id.as_deref()),
        ("doc_type", query.doc_type.map(DocType::as_str)),
        ("kind", query.kind.as_deref()),
        ("ipc_paths", query.ipc_prefix.as_deref()),
        ("region_paths", query.region_prefix.as_deref()),
        ("trade_mode", query.trade_mode.as_deref()),
        ("maturity", query.maturity.as_deref()),
        ("patent_type", query.patent_type.as_deref()),
        ("legal_statuses", query.legal_status.as_deref()),
    ];
    let mut clauses: Vec<String> =
        equals.into_iter().filter_map(|(field, value)| value.map(|v| format!("{field} = {}", quote(v)))).collect();
    let range: Vec<String> = [
        query.price_min_fen.map(|n| format!("price_fen >= {n}")),
        query.price_max_fen.map(|n| format!("price_fen <= {n}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !range.is_empty() {
        if query.include_negotiable {
            // Parenthesised as a whole: AND binds tighter than OR.
            clauses.push(format!("(({}) OR (negotiable = true AND has_price = false))", range.join(" AND ")));
        } else {
            clauses.extend(range);
        }
    }
    (!clauses.is_empty()).then(|| clauses.join(" AND "))
}

/// A Meilisearch filter string literal. Inside double quotes the parser
/// takes `\"` as a quote and `\\` as a backslash, and a backslash always
/// pairs with the next character, so escaping both leaves no way out of
/// the literal.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn sort_criteria(sort: Sort) -> Option<&'static [&'static str]> {
    match sort {
        Sort::Relevance => None,
        Sort::Newest => Some(&["published_at:desc"]),
        Sort::PriceAsc => Some(&["price_fen:asc"]),
        Sort::PriceDesc => Some(&["price_fen:desc"]),
    }
}

fn hit(result: SearchResult<StoredDocument>) -> SearchHit {
    let document = SearchDocument::from(result.result);
    let formatted =
        |field: &str| result.formatted_result.as_ref().and_then(|f| f.get(field)).and_then(serde_json::Value::as_str);
    let highlight = Highlight {
        title: highlight(&document.title, formatted("title")),
        summary: highlight(&document.summary, formatted("summary")),
    };
    SearchHit { document, highlight, score: result.ranking_score.unwrap_or(0.0) as f32 }
}

/// Every facet of [`FACETS`], empty when Meilisearch counted none.
fn facets(distribution: Option<HashMap<String, HashMap<String, usize>>>) -> Facets {
    let mut distribution = distribution.unwrap_or_default();
    FACETS
        .iter()
        .map(|&name| {
            let counts = distribution
                .remove(name)
                .unwrap_or_default()
                .into_iter()
                .map(|(value, count)| (value, count as u64))
                .collect();
            (name.to_string(), counts)
        })
        .collect()
}

/// `text` HTML-escaped with the matches Meilisearch marked in `formatted`
/// wrapped in `<em>`. Meilisearch inserts the tags into the raw text without
/// escaping it, so the marked ranges are located in `text` and the result is
/// built from `text` itself.
fn highlight(text: &str, formatted: Option<&str>) -> String {
    let ranges = formatted.and_then(|formatted| marked_ranges(text, formatted)).unwrap_or_default();
    highlight_ranges(text, &ranges)
}

/// The byte ranges of `text` that `formatted` (the text with highlight tags
/// inserted) marks. `None` when that cannot be told for sure: if the text
/// itself contains a tag, a tag in `formatted` might be the text's own; and
/// if `formatted` is not the text plus tags, it is not ours to trust.
fn marked_ranges(text: &str, formatted: &str) -> Option<Vec<Range<usize>>> {
    if text.contains(HIGHLIGHT_PRE) || text.contains(HIGHLIGHT_POST) {
        return None;
    }
    let mut ranges = Vec::new();
    let mut at = 0; // position in `text`
    let mut open: Option<usize> = None;
    let mut rest = formatted;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(HIGHLIGHT_PRE) {
            if open.is_some() {
                return None;
            }
            open = Some(at);
            rest = after;
        } else if let Some(after) = rest.strip_prefix(HIGHLIGHT_POST) {
            let start = open.take()?;
            if start < at {
                ranges.push(start..at);
            }
            rest = after;
        } else {
            // Plain text up to the next tag, which must be the same text as ours.
            let end =
                [rest.find(HIGHLIGHT_PRE), rest.find(HIGHLIGHT_POST)].into_iter().flatten().min().unwrap_or(rest.len());
            let segment = &rest[..end];
            if !text[at..].starts_with(segment) {
                return None;
            }
            at += segment.len();
            rest = &rest[end..];
        }
    }
    (open.is_none() && at == text.len()).then_some(ranges)
}

/// Distinct titles, those starting with `prefix` first, each group in
/// Meilisearch's order, at most `limit`.
fn rank_suggestions(prefix: &str, titles: Vec<String>, limit: usize) -> Vec<String> {
    let prefix = prefix.to_lowercase();
    let mut distinct: Vec<String> = Vec::new();
    for title in titles {
        if !distinct.contains(&title) {
            distinct.push(title);
        }
    }
    let (mut ranked, others): (Vec<String>, Vec<String>) =
        distinct.into_iter().partition(|title| title.to_lowercase().starts_with(&prefix));
    ranked.extend(others);
    ranked.truncate(limit);
    ranked
}

/// The SDK puts the key in an HTTP header and panics when a header cannot
/// hold it; a mistyped key should be a start-up error instead.
fn check_api_key(key: &str) -> Result<(), SearchError> {
    if key.chars().any(|c| c.is_control() && c != '\t') {
        return Err(SearchError::Index("the Meilisearch API key contains control characters".into()));
    }
    Ok(())
}

/// Failing to reach Meilisearch (or to hear back in time) is `Unavailable`:
/// retrying later may help. Anything Meilisearch itself rejected is `Index`.
fn sdk_error(error: SdkError) -> SearchError {
    match error {
        SdkError::HttpError(_) | SdkError::MeilisearchCommunication(_) | SdkError::Timeout => {
            SearchError::Unavailable(error.to_string())
        }
        error => SearchError::Index(error.to_string()),
    }
}

/// After a failed write, or one whose outcome is unknown, nothing in flight
/// can be counted on: the indexer starts again from the stored position.
fn forget_on_error<T, D>(pipeline: &mut Pipeline<T, D>, result: Result<(), SearchError>) -> Result<(), SearchError> {
    if result.is_err() {
        pipeline.clear();
    }
    result
}

fn succeeded(task: Task) -> Result<(), SearchError> {
    match task {
        Task::Succeeded { .. } => Ok(()),
        Task::Failed { content } => Err(SearchError::Index(format!(
            "task {} failed: {} ({})",
            content.task.uid, content.error.error_message, content.error.error_code
        ))),
        // `wait_for_completion` returns only settled tasks or a timeout.
        Task::Enqueued { .. } | Task::Processing { .. } => {
            Err(SearchError::Unavailable(format!("task {} still pending", task.get_uid())))
        }
    }
}

/// The database holding the cursor being unreachable is as good as the
/// index being unreachable; a failing query is not.
fn db_error(error: DbError) -> SearchError {
    match error {
        DbError::Pool(_) | DbError::Task(_) => SearchError::Unavailable(error.to_string()),
        DbError::Query(_) => SearchError::Index(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::document_key;

    fn document() -> SearchDocument {
        SearchDocument {
            id: "9f1c-77".into(),
            doc_type: DocType::Listing,
            kind: Some("patent".into()),
            title: "锂电池回收方法".into(),
            summary: "一种<高效>回收 & 再利用".into(),
            body: "说明".into(),
            numbers: vec!["201710601862.3".into(), "CN114081026A".into()],
            ipc: vec!["H01M10/54".into(), "G06F16/33".into()],
            region_code: "630102".into(),
            trade_modes: vec!["transfer".into(), "license".into()],
            maturity: Some("mass_production".into()),
            patent_types: vec!["invention".into()],
            legal_statuses: vec!["granted".into()],
            price_fen: Some(1_500_000),
            negotiable: false,
            owner_organization_id: "org-1".into(),
            published_at: 1_700_000_000_000,
        }
    }

    /// Reads a double-quoted literal at the start of `s` the way the
    /// Meilisearch filter parser does; returns its value and what follows.
    fn read_literal(s: &str) -> (String, &str) {
        let body = s.strip_prefix('"').expect("a literal starts with a quote");
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return (value, &body[i + 1..]),
                '\\' => value.push(chars.next().expect("an escape is followed by a character").1),
                c => value.push(c),
            }
        }
        panic!("unterminated literal in {s}");
    }

    #[test]
    fn filter_expression_is_none_without_filters() {
        assert_eq!(filter_expression(&SearchQuery::default()), None);
        let text_only =
            SearchQuery { text: Some("锂电池".into()), include_negotiable: true, ..SearchQuery::default() };
        assert_eq!(filter_expression(&text_only), None);
    }

    #[test]
    fn filter_expression_covers_each_filter() {
        let cases = [
            (SearchQuery { doc_type: Some(DocType::Demand), ..SearchQuery::default() }, r#"doc_type = "demand""#),
            (SearchQuery { id: Some("d-1".into()), ..SearchQuery::default() }, r#"id = "d-1""#),
            (SearchQuery { kind: Some("patent".into()), ..SearchQuery::default() }, r#"kind = "patent""#),
            (
                SearchQuery { ipc_prefix: Some("G06F16/00".into()), ..SearchQuery::default() },
                r#"ipc_paths = "G06F16/00""#,
            ),
            (SearchQuery { region_prefix: Some("6301".into()), ..SearchQuery::default() }, r#"region_paths = "6301""#),
            (SearchQuery { trade_mode: Some("license".into()), ..SearchQuery::default() }, r#"trade_mode = "license""#),
            (SearchQuery { maturity: Some("pilot".into()), ..SearchQuery::default() }, r#"maturity = "pilot""#),
            (
                SearchQuery { patent_type: Some("utility_model".into()), ..SearchQuery::default() },
                r#"patent_type = "utility_model""#,
            ),
            (
                SearchQuery { legal_status: Some("granted".into()), ..SearchQuery::default() },
                r#"legal_statuses = "granted""#,
            ),
            (SearchQuery { price_min_fen: Some(100), ..SearchQuery::default() }, "price_fen >= 100"),
            (SearchQuery { price_max_fen: Some(-5), ..SearchQuery::default() }, "price_fen <= -5"),
        ];
        for (query, expected) in cases {
            assert_eq!(filter_expression(&query).as_deref(), Some(expected));
        }
    }

    #[test]
    fn filter_expression_joins_clauses_with_and() {
        let query = SearchQuery {
            doc_type: Some(DocType::Listing),
            ipc_prefix: Some("H01M".into()),
            region_prefix: Some("63".into()),
            price_min_fen: Some(100),
            price_max_fen: Some(2_000),
            ..SearchQuery::default()
        };
        assert_eq!(
            filter_expression(&query).as_deref(),
            Some(
                r#"doc_type = "listing" AND ipc_paths = "H01M" AND region_paths = "63" AND price_fen >= 100 AND price_fen <= 2000"#
            )
        );
    }

    #[test]
    fn filter_expression_keeps_negotiable_items_in_one_group() {
        let query = SearchQuery {
            doc_type: Some(DocType::Listing),
            price_min_fen: Some(100),
            price_max_fen: Some(2_000),
            include_negotiable: true,
            ..SearchQuery::default()
        };
        assert_eq!(
            filter_expression(&query).as_deref(),
            Some(
                r#"doc_type = "listing" AND ((price_fen >= 100 AND price_fen <= 2000) OR (negotiable = true AND has_price = false))"#
            )
        );
        let max_only = SearchQuery { price_max_fen: Some(2_000), include_negotiable: true, ..SearchQuery::default() };
        assert_eq!(
            filter_expression(&max_only).as_deref(),
            Some("((price_fen <= 2000) OR (negotiable = true AND has_price = false))")
        );
    }

    #[test]
    fn filter_expression_keeps_hostile_values_inside_one_literal() {
        let hostile = [
            r#"G06" OR doc_type = "demand"#,
            r"G06\",
            r#"G06\" OR doc_type = \"demand"#,
            r"\\",
            r#"a\\"b"#,
            "\"",
            "",
            "锂\u{0}电池\n",
        ];
        for value in hostile {
            let query = SearchQuery {
                ipc_prefix: Some(value.to_string()),
                legal_status: Some("granted".into()),
                ..SearchQuery::default()
            };
            let filter = filter_expression(&query).expect("a filter");
            let literal = filter.strip_prefix("ipc_paths = ").expect("the IPC clause first");
            let (parsed, rest) = read_literal(literal);
            assert_eq!(parsed, value, "in {filter}");
            assert_eq!(rest, r#" AND legal_statuses = "granted""#, "in {filter}");
        }
        assert_eq!(quote(r#"G06" OR doc_type = "demand"#), r#""G06\" OR doc_type = \"demand""#);
        assert_eq!(quote(r"a\b"), r#""a\\b""#);
    }

    #[test]
    fn meili_id_uses_only_allowed_characters() {
        assert_eq!(meili_id("listing:9f1c-77"), "listing_9f1c-77");
        assert_eq!(meili_id(&document_key(DocType::Demand, "d_1")), "demand_d_1");
        let id = meili_id(&document().key());
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }

    #[test]
    fn stored_document_round_trips() {
        let doc = document();
        let stored = StoredDocument::from(&doc);
        assert_eq!(stored.key, "listing_9f1c-77");
        assert_eq!(stored.ipc_paths, doc.ipc_paths());
        assert_eq!(stored.region_paths, ["63", "6301", "630102"]);
        assert_eq!(stored.ipc_section, ["G", "H"]);
        assert_eq!(stored.ipc_class, ["G06", "H01"]);
        assert_eq!(stored.ipc_subclass, ["G06F", "H01M"]);
        assert_eq!(stored.region, "630102");
        assert_eq!(stored.trade_mode, doc.trade_modes);
        assert_eq!(stored.patent_type, doc.patent_types);
        assert!(stored.has_price);

        // Through JSON, as Meilisearch stores and returns it.
        let json = serde_json::to_value(&stored).expect("serialises");
        assert_eq!(json["doc_type"], "listing");
        let back: StoredDocument = serde_json::from_value(json).expect("deserialises");
        assert_eq!(SearchDocument::from(back), doc);

        let unpriced = SearchDocument { price_fen: None, negotiable: true, maturity: None, kind: None, ..doc };
        let stored = StoredDocument::from(&unpriced);
        assert!(!stored.has_price);
        let json = serde_json::to_string(&stored).expect("serialises");
        let back: StoredDocument = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(SearchDocument::from(back), unpriced);
    }

    #[test]
    fn highlight_escapes_text_and_keeps_marks() {
        let text = "一种<高效>回收 & 再利用 \"A\" 'B'";
        let formatted = "一种<高效><em>回收</em> & 再<em>利用</em> \"A\" 'B'";
        assert_eq!(
            highlight(text, Some(formatted)),
            "一种&lt;高效&gt;<em>回收</em> &amp; 再<em>利用</em> &quot;A&quot; &#39;B&#39;"
        );
        // Markup that arrives in the stored text is escaped, never passed through.
        assert_eq!(
            highlight("<script>x</script>", Some("<script><em>x</em></script>")),
            "&lt;script&gt;<em>x</em>&lt;/script&gt;"
        );
    }

    #[test]
    fn highlight_falls_back_to_escaped_text() {
        // No formatted text.
        assert_eq!(highlight("a & b", None), "a &amp; b");
        // The text contains a tag itself: which tags are Meilisearch's cannot be told.
        assert_eq!(highlight("<em>x</em> y", Some("<em>x</em> <em>y</em>")), "&lt;em&gt;x&lt;/em&gt; y");
        // Formatted text that is not the text plus tags.
        assert_eq!(highlight("abc", Some("<em>abd</em>")), "abc");
        assert_eq!(highlight("abc", Some("<em>ab")), "abc");
        assert_eq!(highlight("abc", Some("ab")), "abc");
    }

    #[test]
    fn marked_ranges_are_byte_ranges_of_the_text() {
        let text = "锂电池回收";
        // Each Han character is three bytes in UTF-8.
        assert_eq!(marked_ranges(text, "<em>锂电池</em>回<em>收</em>"), Some(vec![0..9, 12..15]));
        assert_eq!(marked_ranges(text, text), Some(vec![]));
        assert_eq!(marked_ranges(text, "<em></em>锂电池回收"), Some(vec![]));
    }

    #[test]
    fn suggestions_are_distinct_prefix_first_and_limited() {
        let titles = vec![
            "高效锂电池".to_string(),
            "锂电池回收".to_string(),
            "高效锂电池".to_string(),
            "锂电池隔膜".to_string(),
            "Lithium cell".to_string(),
        ];
        assert_eq!(rank_suggestions("锂电池", titles.clone(), 3), ["锂电池回收", "锂电池隔膜", "高效锂电池"]);
        assert_eq!(rank_suggestions("lith", titles, 2), ["Lithium cell", "高效锂电池"]);
    }

    #[test]
    fn facets_list_every_facet() {
        let mut distribution = HashMap::new();
        distribution.insert("region".to_string(), HashMap::from([("630102".to_string(), 3usize)]));
        let counted = facets(Some(distribution));
        assert_eq!(counted.len(), FACETS.len());
        assert_eq!(counted["region"]["630102"], 3);
        assert!(counted["ipc_section"].is_empty());
        assert_eq!(facets(None).len(), FACETS.len());
    }

    fn ranked(id: &str, published_at: i64, price_fen: Option<i64>, score: f64) -> SearchResult<RankFields> {
        serde_json::from_value(serde_json::json!({
            "key": format!("listing_{id}"),
            "id": id,
            "published_at": published_at,
            "price_fen": price_fen,
            "_rankingScore": score,
        }))
        .expect("a hit as Meilisearch returns it")
    }

    #[test]
    fn any_word_hits_merge_by_summed_score() {
        let per_word = || {
            vec![
                // 锂电池
                vec![ranked("a", 1, Some(300), 0.75), ranked("b", 2, None, 0.5), ranked("c", 3, Some(100), 0.25)],
                // 回收
                vec![ranked("c", 3, Some(100), 0.5), ranked("d", 4, Some(200), 0.5)],
                // 隔膜
                vec![ranked("d", 4, Some(200), 0.5)],
            ]
        };
        let order = |sort: Sort| -> Vec<(String, f32)> {
            merge_any_word(per_word(), sort).into_iter().map(|(hit, score)| (hit.result.id, score)).collect()
        };
        let by_relevance = order(Sort::Relevance);
        let ids: Vec<&str> = by_relevance.iter().map(|(id, _)| id.as_str()).collect();
        // d = 0.5 + 0.5; c = 0.25 + 0.5 ties with a, and c is the newer.
        assert_eq!(ids, ["d", "c", "a", "b"]);
        assert_eq!(by_relevance[0].1, 1.0);
        assert_eq!(by_relevance[1].1, 0.75);
        let ids = |sort| order(sort).into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(Sort::Newest), ["d", "c", "b", "a"]);
        assert_eq!(ids(Sort::PriceAsc), ["c", "d", "a", "b"], "unpriced last");
        assert_eq!(ids(Sort::PriceDesc), ["a", "d", "c", "b"]);
    }

    #[test]
    fn settings_differ_only_in_what_we_set() {
        let wanted = serde_json::to_value(settings()).expect("serialises");
        // As Meilisearch returns them: every setting, sets in its own order.
        let mut current = wanted.clone();
        current["sortableAttributes"] = serde_json::json!(["price_fen", "published_at"]);
        current["stopWords"] = serde_json::json!([]);
        current["faceting"]["sortFacetValuesBy"] = serde_json::json!({"*": "alpha"});
        assert!(!settings_differ(&wanted, &current, true));
        // Order matters for searchable attributes and ranking rules.
        let mut reordered = current.clone();
        reordered["searchableAttributes"] = serde_json::json!(["summary", "title", "body", "numbers"]);
        assert!(settings_differ(&wanted, &reordered, true));
        let mut missing = current.clone();
        missing["filterableAttributes"] = serde_json::json!(["id"]);
        assert!(settings_differ(&wanted, &missing, true));
        let mut smaller = current;
        smaller["pagination"]["maxTotalHits"] = serde_json::json!(1000);
        assert!(settings_differ(&wanted, &smaller, true));
        assert!(settings_differ(&wanted, &serde_json::json!({}), true), "a new index has none of ours");
    }

    #[test]
    fn sdk_errors_map_by_kind() {
        assert!(matches!(sdk_error(SdkError::Timeout), SearchError::Unavailable(_)));
        assert!(matches!(sdk_error(SdkError::InvalidRequest), SearchError::Index(_)));
        assert!(check_api_key("masterKey").is_ok());
        assert!(check_api_key("bad\nkey").is_err());
    }
}

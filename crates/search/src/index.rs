//! The one interface every search backend implements.

use std::future::Future;
use std::pin::Pin;

use crate::model::{SearchDocument, SearchQuery, SearchResults};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(String),
    #[error("search backend unavailable: {0}")]
    Unavailable(String),
}

/// A hit by id: what [`SearchIndex::candidates`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub id: String,
    pub score: f32,
}

/// The cursor of an index that was never rebuilt from the database.
pub const NEVER_BUILT: i64 = -1;

/// Changes to apply together, and the outbox position they bring the index to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexBatch {
    pub upserts: Vec<SearchDocument>,
    /// Document keys (`listing:<id>`) to remove.
    pub deletes: Vec<String>,
    /// The last outbox event this batch accounts for.
    pub cursor: i64,
}

/// A search backend. Implementations keep their own outbox cursor, stored
/// atomically with (embedded) or right after (Meilisearch) the documents,
/// so that the indexer can resume where the index really is.
pub trait SearchIndex: Send + Sync + 'static {
    /// `embedded` or `meilisearch`, for /readyz and logs.
    fn backend(&self) -> &'static str;
    /// The outbox position the index reflects: the last event applied, 0
    /// before any event, [`NEVER_BUILT`] for an index never filled from
    /// the database.
    fn cursor(&self) -> BoxFuture<'_, Result<i64, SearchError>>;
    /// Applies a batch: deletes, then upserts (replacing same keys), then
    /// the cursor; returns once the batch is searchable.
    fn apply(&self, batch: IndexBatch) -> BoxFuture<'_, Result<(), SearchError>>;
    /// Applies a batch like [`SearchIndex::apply`], but may return before
    /// it is searchable, so that a backend whose writes are asynchronous
    /// (Meilisearch) can keep several in flight. Batches still take effect
    /// in the order given. [`SearchIndex::cursor`] counts an enqueued batch
    /// at once; the cursor stored, which a restart reads, moves only when
    /// the backend has confirmed the batch. Errors of an earlier batch may
    /// surface here or at [`SearchIndex::flush`]; after one, `cursor`
    /// falls back to the stored position, so the batches not confirmed are
    /// read again.
    fn enqueue(&self, batch: IndexBatch) -> BoxFuture<'_, Result<(), SearchError>> {
        self.apply(batch)
    }
    /// Waits until every enqueued batch is searchable and its cursor stored.
    fn flush(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async { Ok(()) })
    }
    /// After a rebuild: lays the index out for reading (embedded: one
    /// segment). Meilisearch arranges its own storage: nothing to do.
    fn compact(&self) -> BoxFuture<'_, Result<(), SearchError>> {
        Box::pin(async { Ok(()) })
    }
    /// Removes every document and resets the cursor to `cursor`.
    fn reset(&self, cursor: i64) -> BoxFuture<'_, Result<(), SearchError>>;
    fn search<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<SearchResults, SearchError>>;
    /// The ids and scores of the hits [`SearchIndex::search`] would give,
    /// in its order, without the documents, highlights or facets:
    /// matching's candidate lookup, which reads the rows itself.
    fn candidates<'a>(&'a self, query: &'a SearchQuery) -> BoxFuture<'a, Result<Vec<Ranked>, SearchError>> {
        Box::pin(async move {
            let hits = self.search(query).await?.hits;
            Ok(hits.into_iter().map(|hit| Ranked { id: hit.document.id, score: hit.score }).collect())
        })
    }
    /// Up to `limit` published titles completing `prefix`, best first.
    fn suggest<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>, SearchError>>;
    /// Whether the backend answers.
    fn health(&self) -> BoxFuture<'_, Result<(), SearchError>>;
}

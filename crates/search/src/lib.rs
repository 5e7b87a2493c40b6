//! The search service: full-text (Chinese and English) and faceted search
//! over published listings and demands, behind one [`SearchIndex`] trait —
//! tantivy with jieba embedded by default, Meilisearch for deployments that
//! run one — kept in step with the database by the outbox indexer.

pub mod documents;
pub mod embedded;
mod facets;
mod handlers;
pub mod index;
pub mod indexer;
pub mod keywords;
pub mod meili;
pub mod model;

pub use handlers::{
    MAX_RESULT_WINDOW, SearchItem, SearchParams, SearchResponse, SharedIndex, router, run_search, search_error,
};
pub use index::{BoxFuture, IndexBatch, NEVER_BUILT, Ranked, SearchError, SearchIndex};
pub use model::{DocType, SearchDocument, SearchQuery, SearchResults, Sort};

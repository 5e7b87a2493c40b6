//! Keeps a search index equal to the published listings and demands of the
//! database, from the outbox.
//!
//! Every event about a listing or demand makes the indexer look at the
//! item's current row: published → (re)indexed, anything else → removed.
//! Reading the row rather than trusting the event makes replays harmless,
//! so delivery is at-least-once and idempotent. The position reached is
//! stored by the index itself with the documents it covers.
//!
//! On PostgreSQL an event id can become visible after a larger one (ids
//! come from a sequence, transactions commit in any order). The indexer
//! therefore stops at a gap in the ids until the database says no open
//! transaction can fill it ([`outbox::ready_after`](techtrade_db::outbox::ready_after)),
//! and a rebuild resumes from a position below every id still to commit.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use techtrade_db::listings as db;
use techtrade_db::outbox::{self, OutboxEvent};
use techtrade_db::{AnyConnection, Database, DbError};

use crate::documents::{demand_document, listing_document};
use crate::index::{IndexBatch, NEVER_BUILT, SearchError, SearchIndex};
use crate::model::{DocType, SearchDocument, document_key};

/// How many events one pass reads.
pub const BATCH: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for IndexerError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(DbError::Query(error))
    }
}

/// The index batch for the items named by `events`, as they are now.
fn batch_for(
    conn: &mut techtrade_db::AnyConnection,
    events: &[OutboxEvent],
    cursor: i64,
) -> Result<IndexBatch, IndexerError> {
    let mut listing_ids = BTreeSet::new();
    let mut demand_ids = BTreeSet::new();
    for event in events {
        match DocType::parse(&event.aggregate_type) {
            Some(DocType::Listing) => listing_ids.insert(event.aggregate_id.clone()),
            Some(DocType::Demand) => demand_ids.insert(event.aggregate_id.clone()),
            None => false,
        };
    }
    let mut batch = IndexBatch { cursor, ..IndexBatch::default() };
    let listing_ids: Vec<String> = listing_ids.into_iter().collect();
    let listings = db::find_listings(conn, &listing_ids)?;
    let patents = db::patents_of_many(conn, &listing_ids)?;
    for id in &listing_ids {
        match listings.iter().find(|l| &l.id == id && l.status == "published") {
            Some(listing) => {
                let own: Vec<_> = patents.iter().filter(|p| &p.listing_id == id).cloned().collect();
                batch.upserts.push(listing_document(listing, &own));
            }
            None => batch.deletes.push(document_key(DocType::Listing, id)),
        }
    }
    let demand_ids: Vec<String> = demand_ids.into_iter().collect();
    let demands = db::find_demands(conn, &demand_ids)?;
    for id in &demand_ids {
        match demands.iter().find(|d| &d.id == id && d.status == "published") {
            Some(demand) => batch.upserts.push(demand_document(demand)),
            None => batch.deletes.push(document_key(DocType::Demand, id)),
        }
    }
    Ok(batch)
}

/// One pass: applies the next ready events; returns how many were consumed.
/// A new (or discarded) index is rebuilt from the database instead.
pub async fn sync_once(db: &Database, index: &dyn SearchIndex) -> Result<usize, IndexerError> {
    let cursor = index.cursor().await?;
    if cursor == NEVER_BUILT {
        return rebuild(db, index, &mut |_| {}).await;
    }
    Ok(apply_next(db, index, cursor).await?.0)
}

/// Applies the ready events after `cursor`, one batch of them; returns how
/// many were consumed and the cursor after them.
async fn apply_next(db: &Database, index: &dyn SearchIndex, cursor: i64) -> Result<(usize, i64), IndexerError> {
    let batch = db
        .run(move |conn| {
            let events = outbox::ready_after(conn, cursor, BATCH)?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok::<_, IndexerError>(None);
            };
            Ok(Some((events.len(), batch_for(conn, &events, last)?)))
        })
        .await?;
    let (consumed, after) = match batch {
        Some((consumed, batch)) => {
            let after = batch.cursor;
            index.enqueue(batch).await?;
            (consumed, after)
        }
        None => (0, cursor),
    };
    // A full pass means more is waiting: read on while the backend works.
    // Otherwise the backlog is gone, and what was sent is confirmed before
    // the pass reports, so that a caught-up indexer means a searchable index.
    if consumed < BATCH as usize {
        index.flush().await?;
    }
    Ok((consumed, after))
}

/// Rebuilds the index from the published rows; returns the documents indexed.
///
/// The cursor stays [`NEVER_BUILT`] until the last page is in, so a rebuild
/// cut short starts again rather than leaving a partial index that looks
/// complete.
/// Events that arrive during the rebuild are replayed from the position
/// read first (which re-adds some documents unchanged), and only then is
/// the index compacted: BM25 counts a replaced document's old version until
/// a merge drops it, and how many there are depends on what was replayed
/// (on PostgreSQL, on other transactions of the whole server). So a fresh
/// index scores the same however its rebuild went.
/// `progress` hears the number of documents indexed so far.
pub async fn rebuild(
    db: &Database,
    index: &dyn SearchIndex,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<usize, IndexerError> {
    // Not the newest id: an older one may still commit, and must be replayed.
    let position = db.run(|conn| Ok::<_, IndexerError>(outbox::settled_position(conn)?)).await?;
    index.reset(NEVER_BUILT).await?;
    let mut indexed = 0;
    index_pages(db, index, &mut indexed, progress, published_listing_documents).await?;
    index_pages(db, index, &mut indexed, progress, published_demand_documents).await?;
    index.enqueue(IndexBatch { cursor: position, ..IndexBatch::default() }).await?;
    index.flush().await?;
    let mut cursor = position;
    loop {
        let (consumed, after) = apply_next(db, index, cursor).await?;
        if consumed < BATCH as usize {
            break;
        }
        cursor = after;
    }
    index.compact().await?;
    Ok(indexed)
}

/// A page of published documents after an id, and the page's last id.
type Page = (Vec<SearchDocument>, Option<String>);

fn published_listing_documents(conn: &mut AnyConnection, after: &str) -> Result<Page, IndexerError> {
    let listings = db::published_listings_after(conn, after, BATCH)?;
    let ids: Vec<String> = listings.iter().map(|l| l.id.clone()).collect();
    let patents = db::patents_of_many(conn, &ids)?;
    let documents = listings
        .iter()
        .map(|l| listing_document(l, &patents.iter().filter(|p| p.listing_id == l.id).cloned().collect::<Vec<_>>()))
        .collect();
    Ok((documents, ids.last().cloned()))
}

fn published_demand_documents(conn: &mut AnyConnection, after: &str) -> Result<Page, IndexerError> {
    let demands = db::published_demands_after(conn, after, BATCH)?;
    Ok((demands.iter().map(demand_document).collect(), demands.last().map(|d| d.id.clone())))
}

/// Indexes every page `load` gives, in id order, without moving the cursor.
async fn index_pages(
    db: &Database,
    index: &dyn SearchIndex,
    indexed: &mut usize,
    progress: &mut (dyn FnMut(usize) + Send),
    load: fn(&mut AnyConnection, &str) -> Result<Page, IndexerError>,
) -> Result<(), IndexerError> {
    let mut after = String::new();
    loop {
        let from = after.clone();
        let (upserts, last) = db.run(move |conn| load(conn, &from)).await?;
        *indexed += upserts.len();
        index.enqueue(IndexBatch { upserts, deletes: Vec::new(), cursor: NEVER_BUILT }).await?;
        progress(*indexed);
        match last {
            Some(id) => after = id,
            None => return Ok(()),
        }
    }
}

/// Runs until `shutdown` resolves: a pass whenever the last one found
/// work, else every `idle` (a change is searchable within about that).
pub async fn run(
    db: Database,
    index: Arc<dyn SearchIndex>,
    idle: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut backoff = idle;
    loop {
        let wait = match sync_once(&db, index.as_ref()).await {
            Ok(0) => {
                backoff = idle;
                idle
            }
            Ok(_) => Duration::ZERO,
            Err(error) => {
                tracing::warn!(%error, "search indexing failed; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(30));
                backoff
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

//! Saved-search alerts: an outbox consumer that, for every `listing.published`
//! and `demand.published` event, asks the search backend whether each saved
//! search would find the new item, and emits `saved_search.matched` for each
//! one that would (the mailer turns those into e-mails).
//!
//! Protocol:
//! - The consumer's cursor is `saved_search_alerts` in `outbox_cursors`.
//!   Events are taken in id order, stopping at a gap in the ids an open
//!   transaction may still fill (`techtrade_db::outbox::ready_after`).
//! - An event is handled only once the search index has applied it
//!   (`SearchIndex::cursor` ≥ its id), so "matches" means exactly what the
//!   search API would answer for the saved query: the saved query plus a
//!   filter on the item's id. An item unpublished again before that is no
//!   longer in the index and alerts nobody.
//! - A saved search alerts only about items published after it was saved,
//!   and never about its owner's own organisation's items.
//! - The alerts of a batch and the new cursor are written in one
//!   transaction; each alert is also recorded per (saved search, item), so a
//!   replay (a crash before the commit, two replicas, an item published
//!   again after an edit) never alerts twice.
//! - Run by N workers, the consumer runs under a lease (see
//!   `techtrade_db::leases`); with a [`Fence`] the batch's transaction
//!   also checks that lease, so a worker that lost it commits nothing.

use std::sync::Arc;
use std::time::Duration;

use techtrade_db::leases::Fence;
use techtrade_db::listings as items;
use techtrade_db::outbox::{self, OutboxEvent};
use techtrade_db::saved_searches::{self as db, Subscriber};
use techtrade_db::{AnyConnection, Database, DbError};
use techtrade_search::{DocType, NEVER_BUILT, SearchError, SearchIndex, SearchQuery};

/// The consumer's name in `outbox_cursors`.
pub const CONSUMER: &str = "saved_search_alerts";
/// The event this consumer emits.
pub const MATCHED: &str = "saved_search.matched";
/// How many events one pass reads.
const BATCH: i64 = 100;
/// Saved searches are read this many at a time.
const PAGE: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("the lease on {0} is held by another worker now; the batch was not committed")]
    LeaseLost(&'static str),
}

impl From<diesel::result::Error> for AlertError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(DbError::Query(error))
    }
}

/// A newly published item, as the alert names it.
#[derive(Debug, Clone)]
struct Published {
    item_type: DocType,
    id: String,
    title: String,
    owner_organization_id: String,
    /// When the publication event was written.
    at: chrono::NaiveDateTime,
}

/// An alert to raise.
#[derive(Debug, Clone)]
struct Alert {
    saved_search_id: String,
    user_id: String,
    item: Published,
}

/// The item an event announces, if it is a publication and the item is
/// still published now.
fn published(conn: &mut AnyConnection, event: &OutboxEvent) -> Result<Option<Published>, AlertError> {
    let item = match event.event_type.as_str() {
        "listing.published" => items::find_listing(conn, &event.aggregate_id)?
            .filter(|l| l.status == "published")
            .map(|l| (DocType::Listing, l.id, l.title, l.owner_organization_id)),
        "demand.published" => items::find_demand(conn, &event.aggregate_id)?
            .filter(|d| d.status == "published")
            .map(|d| (DocType::Demand, d.id, d.title, d.owner_organization_id)),
        _ => None,
    };
    Ok(item.map(|(item_type, id, title, owner_organization_id)| Published {
        item_type,
        id,
        title,
        owner_organization_id,
        at: event.created_at,
    }))
}

fn all_subscribers(conn: &mut AnyConnection) -> Result<Vec<Subscriber>, AlertError> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map(|s: &Subscriber| s.search.id.clone()).unwrap_or_default();
        let page = db::subscribers_after(conn, &after, PAGE)?;
        let done = page.len() < PAGE as usize;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// Whether the search API would find `item` for the saved query.
async fn finds(index: &dyn SearchIndex, subscriber: &Subscriber, item: &Published) -> Result<bool, SearchError> {
    let query = match crate::saved::stored_query(&subscriber.search.query) {
        Ok(query) => query,
        Err(error) => {
            // Saved queries passed the same check when saved; one that no
            // longer does cannot match anything until its owner saves it anew.
            tracing::warn!(saved_search = %subscriber.search.id, %error, "saved search no longer valid; skipped");
            return Ok(false);
        }
    };
    let query = SearchQuery { id: Some(item.id.clone()), offset: 0, limit: 1, ..query };
    Ok(!index.search(&query).await?.hits.is_empty())
}

/// Writes the alerts not yet raised and moves the cursor, in one transaction.
fn commit(conn: &mut AnyConnection, alerts: &[Alert], cursor: i64, fence: Option<&Fence>) -> Result<usize, AlertError> {
    techtrade_db::write_transaction(conn, |conn| {
        if let Some(fence) = fence
            && !fence.check(conn)?
        {
            return Err(AlertError::LeaseLost(fence.consumer));
        }
        let mut raised = 0;
        for alert in alerts {
            let item_type = alert.item.item_type.as_str();
            if db::alerted(conn, &alert.saved_search_id, item_type, &alert.item.id)? {
                continue;
            }
            let payload = serde_json::json!({
                "saved_search_id": alert.saved_search_id,
                "user_id": alert.user_id,
                "item_type": item_type,
                "item_id": alert.item.id,
                "title": alert.item.title,
            });
            let event_id = outbox::emit(conn, MATCHED, "saved_search", &alert.saved_search_id, &payload)?;
            db::record_alert(conn, &alert.saved_search_id, item_type, &alert.item.id, event_id)?;
            raised += 1;
        }
        outbox::advance_cursor(conn, CONSUMER, cursor)?;
        Ok(raised)
    })
}

/// One pass: handles the next events the search index has caught up
/// with; returns how many events were consumed.
pub async fn sync_once(db: &Database, index: &dyn SearchIndex) -> Result<usize, AlertError> {
    sync_once_fenced(db, index, None).await
}

/// [`sync_once`], committing only while `fence` holds.
pub async fn sync_once_fenced(
    db: &Database,
    index: &dyn SearchIndex,
    fence: Option<&Fence>,
) -> Result<usize, AlertError> {
    let indexed = index.cursor().await?;
    if indexed == NEVER_BUILT {
        return Ok(0);
    }
    let cursor = db.run(|conn| Ok::<_, AlertError>(outbox::cursor(conn, CONSUMER)?)).await?;
    let (events, publications, subscribers) = db
        .run(move |conn| {
            let events: Vec<OutboxEvent> =
                outbox::ready_after(conn, cursor, BATCH)?.into_iter().take_while(|e| e.id <= indexed).collect();
            let mut publications = Vec::new();
            for event in &events {
                publications.extend(published(conn, event)?);
            }
            let subscribers = if publications.is_empty() { Vec::new() } else { all_subscribers(conn)? };
            Ok::<_, AlertError>((events, publications, subscribers))
        })
        .await?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok(0);
    };
    let mut alerts = Vec::new();
    for item in &publications {
        for subscriber in &subscribers {
            // Only what is new to the subscriber, and never their own.
            let own = subscriber.organization_id.as_deref() == Some(item.owner_organization_id.as_str());
            if own || item.at < subscriber.search.created_at {
                continue;
            }
            if finds(index, subscriber, item).await? {
                alerts.push(Alert {
                    saved_search_id: subscriber.search.id.clone(),
                    user_id: subscriber.search.user_id.clone(),
                    item: item.clone(),
                });
            }
        }
    }
    let consumed = events.len();
    let fence = fence.cloned();
    let raised = db.run(move |conn| commit(conn, &alerts, last, fence.as_ref())).await?;
    if raised > 0 {
        tracing::info!(raised, through_event = last, "saved-search alerts raised");
    }
    Ok(consumed)
}

/// Runs until `shutdown` resolves: a pass whenever the last one found
/// work, else every `idle`.
pub async fn run(
    db: Database,
    index: Arc<dyn SearchIndex>,
    idle: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    run_fenced(db, index, idle, shutdown, None).await;
}

/// [`run`], committing only while `fence` holds (a worker among N).
pub async fn run_fenced(
    db: Database,
    index: Arc<dyn SearchIndex>,
    idle: Duration,
    shutdown: impl std::future::Future<Output = ()>,
    fence: Option<Fence>,
) {
    tokio::pin!(shutdown);
    let mut backoff = idle;
    loop {
        let wait = match sync_once_fenced(&db, index.as_ref(), fence.as_ref()).await {
            Ok(0) => {
                backoff = idle;
                idle
            }
            Ok(_) => Duration::ZERO,
            Err(error) => {
                tracing::warn!(%error, "saved-search alerting failed; retrying");
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

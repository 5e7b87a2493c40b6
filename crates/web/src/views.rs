//! The public views of published items (listings, demands), serialised
//! once and served from this process's memory: published items are read
//! far more often than they change, and a hit costs no pool checkout, no
//! query and no serialisation.
//!
//! Correctness rests on the outbox: every change to an item emits an event
//! naming it (aggregate type and id) in the transaction that makes the
//! change. Each process follows the outbox itself ([`PublicViews::follow`],
//! every replica, no lease) and evicts what an event names; a process that
//! served a write catches up before answering it ([`PublicViews::catch_up`]),
//! so its own clients never read their change undone. Three rules keep a
//! stale view out:
//! - a reader takes a [`Ticket`] before it reads the database, and its view
//!   is kept only if nothing was evicted since (otherwise a view read before
//!   a change could be stored after the change's eviction);
//! - the cache serves nothing until the follower has fixed its starting
//!   position in the outbox (a view read before that could miss an event);
//! - when the follower cannot read the outbox, the cache empties and serves
//!   nothing until it can again (an eviction could be missed meanwhile).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use lru::LruCache;
use techtrade_db::{Database, DbError, outbox};

/// How often a process looks for changes made elsewhere: how long another
/// replica's change may take to show in this one's public views.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// How many events one catch-up reads at most.
const BATCH: i64 = 1_000;

/// One item's public view, as served to anyone.
#[derive(Debug)]
pub struct PublicView {
    /// The owning organisation: its members and officials read the item
    /// from the database (their view must be their latest change).
    pub owner: String,
    /// The item's version, its `ETag`.
    pub version: i64,
    /// The serialised JSON body.
    pub body: Bytes,
}

/// Permission to store a view read from the database after it was taken;
/// refused when anything was evicted in between.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

/// The cache of a process, shared by its handlers (cloning shares it).
#[derive(Clone)]
pub struct PublicViews {
    shelf: Arc<Mutex<Shelf>>,
}

struct Shelf {
    entries: LruCache<String, Arc<PublicView>>,
    /// False when configured with no room: it never starts serving.
    enabled: bool,
    /// Bumped by every eviction, clear and start: tickets older than it
    /// are refused.
    generation: u64,
    /// The outbox position every eviction up to has been applied; `None`
    /// until the follower starts and while it cannot read the outbox.
    position: Option<i64>,
}

fn key(aggregate: &str, id: &str) -> String {
    format!("{aggregate}/{id}")
}

impl PublicViews {
    /// An empty cache of at most `capacity` views (0 turns it off), serving
    /// nothing until it is followed.
    pub fn new(capacity: usize) -> Self {
        let entries = LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN));
        let shelf = Shelf { entries, enabled: capacity > 0, generation: 0, position: None };
        Self { shelf: Arc::new(Mutex::new(shelf)) }
    }

    fn shelf(&self) -> MutexGuard<'_, Shelf> {
        // Nothing in the critical sections can panic half-way; a poisoned
        // lock still holds a whole map.
        self.shelf.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached view of the item, if any.
    pub fn get(&self, aggregate: &str, id: &str) -> Option<Arc<PublicView>> {
        let mut shelf = self.shelf();
        shelf.position?;
        shelf.entries.get(&key(aggregate, id)).cloned()
    }

    /// Taken before reading an item from the database, to store its view
    /// after; `None` while the cache serves nothing.
    pub fn ticket(&self) -> Option<Ticket> {
        let shelf = self.shelf();
        shelf.position.map(|_| Ticket(shelf.generation))
    }

    /// Stores a view read under `ticket`, unless something was evicted
    /// since the ticket was taken.
    pub fn put(&self, ticket: Option<Ticket>, aggregate: &str, id: &str, view: PublicView) {
        let Some(Ticket(generation)) = ticket else {
            return;
        };
        let mut shelf = self.shelf();
        if shelf.generation == generation && shelf.position.is_some() {
            shelf.entries.put(key(aggregate, id), Arc::new(view));
        }
    }

    /// Forgets the view of an item that changed.
    pub fn evict(&self, aggregate: &str, id: &str) {
        let mut shelf = self.shelf();
        shelf.generation += 1;
        shelf.entries.pop(&key(aggregate, id));
    }

    /// How many views are cached.
    pub fn len(&self) -> usize {
        self.shelf().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the cache serves views (its follower has a position).
    pub fn is_serving(&self) -> bool {
        self.shelf().position.is_some()
    }

    /// Starts serving from outbox position `position`: every change after
    /// it will be read by [`PublicViews::catch_up`].
    pub fn start_at(&self, position: i64) {
        let mut shelf = self.shelf();
        if shelf.enabled {
            shelf.generation += 1;
            shelf.position = Some(position);
        }
    }

    /// Stops serving and forgets every view, until the next catch-up.
    fn go_dark(&self) {
        let mut shelf = self.shelf();
        shelf.generation += 1;
        shelf.entries.clear();
        shelf.position = None;
    }

    /// Applies the outbox's events since the last catch-up (the first one
    /// fixes the starting position); returns how many it read. An error
    /// leaves the cache serving nothing until a later catch-up succeeds.
    pub async fn catch_up(&self, db: &Database) -> Result<usize, DbError> {
        let position = self.shelf().position;
        let read = db
            .run(move |conn| {
                let read = match position {
                    None => outbox::settled_position(conn).map(|start| (start, Vec::new())),
                    Some(after) => outbox::ready_after(conn, after, BATCH)
                        .map(|events| (events.last().map_or(after, |e| e.id), events)),
                };
                read.map_err(DbError::from)
            })
            .await;
        let (reached, events) = match read {
            Ok(read) => read,
            Err(error) => {
                self.go_dark();
                return Err(error);
            }
        };
        let mut shelf = self.shelf();
        if !shelf.enabled {
            return Ok(events.len());
        }
        shelf.generation += 1;
        for event in &events {
            shelf.entries.pop(&key(&event.aggregate_type, &event.aggregate_id));
        }
        // Two catch-ups may run at once (a write's and the follower's):
        // the position only moves forward.
        shelf.position = Some(shelf.position.map_or(reached, |p| p.max(reached)));
        Ok(events.len())
    }

    /// Follows the outbox every [`FOLLOW_EVERY`] until the task is dropped
    /// or aborted; every process that serves the API runs one.
    pub async fn follow(self, db: Database) {
        let mut failing = false;
        loop {
            // A full batch means more is waiting: read on at once.
            let pause = match self.catch_up(&db).await {
                Ok(read) => {
                    if failing {
                        tracing::info!("public view cache: following the outbox again");
                        failing = false;
                    }
                    if read as i64 >= BATCH { Duration::ZERO } else { FOLLOW_EVERY }
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "public view cache: cannot read the outbox; serving from the database");
                        failing = true;
                    }
                    FOLLOW_EVERY
                }
            };
            tokio::time::sleep(pause).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(version: i64) -> PublicView {
        PublicView { owner: "org".into(), version, body: Bytes::from(format!("{{\"version\":{version}}}")) }
    }

    #[test]
    fn nothing_is_served_or_kept_before_the_follower_has_a_position() {
        let views = PublicViews::new(10);
        assert!(views.ticket().is_none());
        views.put(views.ticket(), "listing", "a", view(1));
        assert!(views.get("listing", "a").is_none());
        views.start_at(0);
        views.put(views.ticket(), "listing", "a", view(1));
        assert_eq!(views.get("listing", "a").map(|v| v.version), Some(1));
    }

    #[test]
    fn a_view_read_before_an_eviction_is_not_kept_after_it() {
        let views = PublicViews::new(10);
        views.start_at(0);
        // A reader takes its ticket and reads version 1; meanwhile the
        // item changes and its eviction runs before the reader stores.
        let ticket = views.ticket();
        views.evict("listing", "a");
        views.put(ticket, "listing", "a", view(1));
        assert!(views.get("listing", "a").is_none(), "the stale read is dropped");
        // A read that began after the eviction is kept.
        views.put(views.ticket(), "listing", "a", view(2));
        assert_eq!(views.get("listing", "a").map(|v| v.version), Some(2));
    }

    #[test]
    fn kinds_are_apart_and_the_least_recently_read_goes_first() {
        let views = PublicViews::new(2);
        views.start_at(0);
        views.put(views.ticket(), "listing", "a", view(1));
        views.put(views.ticket(), "demand", "a", view(7));
        assert_eq!(views.get("listing", "a").map(|v| v.version), Some(1));
        views.put(views.ticket(), "listing", "b", view(3));
        assert!(views.get("demand", "a").is_none(), "the demand was read least recently");
        assert_eq!(views.len(), 2);
        views.evict("listing", "a");
        assert!(views.get("listing", "a").is_none());
        assert!(views.get("listing", "b").is_some());
    }

    #[test]
    fn no_room_means_every_read_goes_to_the_database() {
        let views = PublicViews::new(0);
        views.start_at(0);
        assert!(!views.is_serving());
        views.put(views.ticket(), "listing", "a", view(1));
        assert!(views.get("listing", "a").is_none());
    }

    #[test]
    fn going_dark_forgets_everything_until_the_next_position() {
        let views = PublicViews::new(10);
        views.start_at(5);
        let ticket = views.ticket();
        views.put(views.ticket(), "listing", "a", view(1));
        views.go_dark();
        assert!(!views.is_serving());
        assert!(views.get("listing", "a").is_none());
        views.start_at(9);
        views.put(ticket, "listing", "b", view(1));
        assert!(views.is_empty(), "a ticket from before the outage is refused");
    }
}

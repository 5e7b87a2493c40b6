//! What this process keeps in memory of published items (listings,
//! demands): their public views, serialised once, and the terms matching
//! weighs of them. Published items are read far more often than they
//! change: a cached view costs no pool checkout, no query and no
//! serialisation, and a match's hundred candidates cost no row reads.
//!
//! Correctness rests on the outbox: every change to an item emits an event
//! naming it (aggregate type and id) in the transaction that makes the
//! change. Each process follows the outbox itself ([`PublishedCache::follow`],
//! every replica, no lease) and evicts what an event names, its view and its
//! terms alike; a process that served a write catches up before answering it
//! ([`PublishedCache::catch_up`]), so its own clients never read their change
//! undone. Three rules keep a stale entry out:
//! - a reader takes a [`Ticket`] before it reads the database, and what it
//!   read is kept only if nothing was evicted since (otherwise a row read
//!   before a change could be stored after the change's eviction);
//! - the cache serves nothing until the follower has fixed its starting
//!   position in the outbox (a row read before that could miss an event);
//! - when the follower cannot read the outbox, the cache empties and serves
//!   nothing until it can again (an eviction could be missed meanwhile).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use lru::LruCache;
use techtrade_db::listings::{self, DemandTerms, ListingTerms, PackedTerms};
use techtrade_db::{Database, DbError, outbox};

/// How often a process looks for changes made elsewhere: how long another
/// replica's change may take to show in this one's cache.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// How many events one catch-up reads at most.
const BATCH: i64 = 1_000;

/// How many items' terms [`PublishedCache::warm`] reads at once.
const WARM_PAGE: i64 = 5_000;

/// How often [`PublishedCache::warm`] reads a page again when an eviction
/// came between its read and its keeping.
const WARM_RETRIES: u32 = 3;

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

/// Permission to store what was read from the database after it was
/// taken; refused when anything was evicted in between.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

/// How many entries of each kind a process keeps at most (0: none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Capacities {
    pub views: usize,
    pub terms: usize,
}

/// The cache of a process, shared by its handlers (cloning shares it).
#[derive(Clone)]
pub struct PublishedCache {
    shelf: Arc<Mutex<Shelf>>,
}

struct Shelf {
    /// `None` when configured with no room.
    views: Option<LruCache<String, Arc<PublicView>>>,
    /// Keyed by what [`terms_key`] makes of an item; `None` with no room.
    terms: Option<LruCache<TermsKey, PackedTerms>>,
    /// Bumped by every eviction, clear and start: tickets older than it
    /// are refused.
    generation: u64,
    /// The outbox position every eviction up to has been applied; `None`
    /// until the follower starts and while it cannot read the outbox.
    position: Option<i64>,
}

impl Shelf {
    /// Forgets the view and the terms of the item `aggregate`/`id`.
    fn forget(&mut self, aggregate: &str, id: &str) {
        self.generation += 1;
        if let Some(views) = &mut self.views {
            views.pop(&view_key(aggregate, id));
        }
        if let (Some(terms), Some(key)) = (&mut self.terms, terms_key(aggregate, id)) {
            terms.pop(&key);
        }
    }

    fn clear(&mut self) {
        self.generation += 1;
        if let Some(views) = &mut self.views {
            views.clear();
        }
        if let Some(terms) = &mut self.terms {
            terms.clear();
        }
    }
}

fn view_key(aggregate: &str, id: &str) -> String {
    format!("{aggregate}/{id}")
}

/// The kinds of item whose terms are kept, by their outbox aggregate type.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Listing,
    Demand,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Listing, Kind::Demand];

    fn of(aggregate: &str) -> Option<Self> {
        match aggregate {
            "listing" => Some(Self::Listing),
            "demand" => Some(Self::Demand),
            _ => None,
        }
    }

    fn aggregate(self) -> &'static str {
        match self {
            Self::Listing => "listing",
            Self::Demand => "demand",
        }
    }

    /// The published items of this kind after `after` in id order (a page
    /// of [`WARM_PAGE`]), each with its terms packed.
    fn published_after(
        self,
        conn: &mut techtrade_db::AnyConnection,
        after: &str,
    ) -> Result<Vec<(String, PackedTerms)>, DbError> {
        fn packed<T>(
            rows: Vec<T>,
            id: impl Fn(&T) -> &str,
            pack: impl Fn(&T) -> Option<PackedTerms>,
        ) -> Vec<(String, PackedTerms)> {
            rows.iter().filter_map(|row| Some((id(row).to_string(), pack(row)?))).collect()
        }
        let page = match self {
            Self::Listing => listings::published_listing_terms_after(conn, after, WARM_PAGE)
                .map(|rows| packed(rows, |row| &row.id, ListingTerms::pack)),
            Self::Demand => listings::published_demand_terms_after(conn, after, WARM_PAGE)
                .map(|rows| packed(rows, |row| &row.id, DemandTerms::pack)),
        };
        page.map_err(DbError::from)
    }
}

/// The longest id whose terms are kept: a UUID's text.
const ID_BYTES: usize = 36;

/// The item's kind and its id, inline: no allocation for a key, where one
/// is kept per published item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TermsKey {
    kind: u8,
    len: u8,
    id: [u8; ID_BYTES],
}

/// `None` for anything but a listing or demand with an id of at most
/// [`ID_BYTES`]: such an item is never kept, and read from the database
/// every time.
fn terms_key(aggregate: &str, id: &str) -> Option<TermsKey> {
    let bytes = id.as_bytes();
    let mut key =
        TermsKey { kind: Kind::of(aggregate)? as u8, len: u8::try_from(bytes.len()).ok()?, id: [0; ID_BYTES] };
    key.id.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(key)
}

fn lru<K: std::hash::Hash + Eq, V>(capacity: usize) -> Option<LruCache<K, V>> {
    NonZeroUsize::new(capacity).map(LruCache::new)
}

impl PublishedCache {
    /// An empty cache with room for `capacities`, serving nothing until it
    /// is followed.
    pub fn new(capacities: Capacities) -> Self {
        let shelf = Shelf { views: lru(capacities.views), terms: lru(capacities.terms), generation: 0, position: None };
        Self { shelf: Arc::new(Mutex::new(shelf)) }
    }

    fn shelf(&self) -> MutexGuard<'_, Shelf> {
        // Nothing in the critical sections can panic half-way; a poisoned
        // lock still holds whole maps.
        self.shelf.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached view of the item, if any.
    pub fn get(&self, aggregate: &str, id: &str) -> Option<Arc<PublicView>> {
        let mut shelf = self.shelf();
        shelf.position?;
        shelf.views.as_mut()?.get(&view_key(aggregate, id)).cloned()
    }

    /// The kept terms of each of the items `aggregate`/`ids`, in their
    /// order (`None` where not kept), under one lock.
    pub fn terms(&self, aggregate: &str, ids: &[String]) -> Vec<Option<PackedTerms>> {
        let mut shelf = self.shelf();
        let serving = shelf.position.is_some();
        match &mut shelf.terms {
            Some(terms) if serving => {
                ids.iter().map(|id| terms_key(aggregate, id).and_then(|key| terms.get(&key)).cloned()).collect()
            }
            _ => vec![None; ids.len()],
        }
    }

    /// Taken before reading items from the database, to store what was
    /// read after; `None` while the cache serves nothing.
    pub fn ticket(&self) -> Option<Ticket> {
        let shelf = self.shelf();
        shelf.position.map(|_| Ticket(shelf.generation))
    }

    /// Whether what was read under `ticket` may be stored now; `false`
    /// when something was evicted since the ticket was taken.
    fn admits(shelf: &Shelf, ticket: Option<Ticket>) -> bool {
        ticket.is_some_and(|Ticket(generation)| shelf.generation == generation && shelf.position.is_some())
    }

    /// Stores a view read under `ticket`, unless something was evicted
    /// since the ticket was taken.
    pub fn put(&self, ticket: Option<Ticket>, aggregate: &str, id: &str, view: PublicView) {
        let mut shelf = self.shelf();
        if Self::admits(&shelf, ticket)
            && let Some(views) = &mut shelf.views
        {
            views.put(view_key(aggregate, id), Arc::new(view));
        }
    }

    /// Stores the terms of published items read under `ticket`, unless
    /// something was evicted since the ticket was taken; whether it did.
    pub fn put_terms<I: AsRef<str>>(
        &self,
        ticket: Option<Ticket>,
        aggregate: &str,
        read: impl IntoIterator<Item = (I, PackedTerms)>,
    ) -> bool {
        let mut shelf = self.shelf();
        if !Self::admits(&shelf, ticket) {
            return false;
        }
        let Some(terms) = &mut shelf.terms else {
            return false;
        };
        for (id, packed) in read {
            if let Some(key) = terms_key(aggregate, id.as_ref()) {
                terms.put(key, packed);
            }
        }
        true
    }

    /// Reads the terms of every published item into the cache, listings
    /// first, page by page in id order, until it is full; how many items'
    /// terms it then holds. Run when the cache starts serving, so that matches find what
    /// they weigh in memory from the first: a page an eviction raced is
    /// read again (up to [`WARM_RETRIES`] times in all for a kind), and
    /// otherwise left to be read by the matches that need it.
    pub async fn warm(&self, db: &Database) -> Result<usize, DbError> {
        let room = self.shelf().terms.as_ref().map_or(0, |terms| terms.cap().get());
        let mut stored = 0;
        for kind in Kind::ALL {
            let mut after = String::new();
            let mut retries = 0;
            while stored < room {
                let ticket = self.ticket();
                if ticket.is_none() {
                    return Ok(self.terms_len());
                }
                let from = after.clone();
                let page = db.run(move |conn| kind.published_after(conn, &from)).await?;
                let (read, last) = (page.len(), page.last().map(|(id, _)| id.clone()));
                if self.put_terms(ticket, kind.aggregate(), page) {
                    stored += read;
                } else if retries < WARM_RETRIES {
                    retries += 1;
                    continue;
                }
                match last {
                    Some(last) if read as i64 == WARM_PAGE => after = last,
                    _ => break,
                }
            }
        }
        Ok(self.terms_len())
    }

    /// Forgets the view and terms of an item that changed.
    pub fn evict(&self, aggregate: &str, id: &str) {
        self.shelf().forget(aggregate, id);
    }

    /// How many views are cached.
    pub fn len(&self) -> usize {
        self.shelf().views.as_ref().map_or(0, LruCache::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many items' terms are kept.
    pub fn terms_len(&self) -> usize {
        self.shelf().terms.as_ref().map_or(0, LruCache::len)
    }

    /// Whether the cache serves (its follower has a position).
    pub fn is_serving(&self) -> bool {
        self.shelf().position.is_some()
    }

    /// Starts serving from outbox position `position`: every change after
    /// it will be read by [`PublishedCache::catch_up`]. A cache with no
    /// room for anything never starts.
    pub fn start_at(&self, position: i64) {
        let mut shelf = self.shelf();
        if shelf.views.is_some() || shelf.terms.is_some() {
            shelf.generation += 1;
            shelf.position = Some(position);
        }
    }

    /// Stops serving and forgets everything, until the next catch-up.
    fn go_dark(&self) {
        let mut shelf = self.shelf();
        shelf.clear();
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
        if shelf.views.is_none() && shelf.terms.is_none() {
            return Ok(events.len());
        }
        // Each eviction refuses the tickets taken before it; a pass that
        // read nothing refuses none, so a match or a read slower than
        // the follower's pause may still keep what it read.
        for event in &events {
            shelf.forget(&event.aggregate_type, &event.aggregate_id);
        }
        // Two catch-ups may run at once (a write's and the follower's):
        // the position only moves forward.
        shelf.position = Some(shelf.position.map_or(reached, |p| p.max(reached)));
        Ok(events.len())
    }

    /// Follows the outbox every [`FOLLOW_EVERY`] until the task is dropped
    /// or aborted; every process that serves the API runs one. Each time
    /// the cache starts serving (at start, and after an outage emptied it)
    /// the follower first fills it with matching's terms
    /// ([`PublishedCache::warm`]: about a second for 100k items).
    pub async fn follow(self, db: Database) {
        let mut failing = false;
        loop {
            let starting = !self.is_serving();
            // A full batch means more is waiting: read on at once.
            let pause = match self.catch_up(&db).await {
                Ok(read) => {
                    if failing {
                        tracing::info!("published cache: following the outbox again");
                        failing = false;
                    }
                    if starting && self.is_serving() {
                        match self.warm(&db).await {
                            Ok(kept) => tracing::info!(kept, "published cache: matching terms read"),
                            Err(error) => tracing::warn!(%error, "published cache: reading matching terms failed"),
                        }
                    }
                    if read as i64 >= BATCH { Duration::ZERO } else { FOLLOW_EVERY }
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "published cache: cannot read the outbox; serving from the database");
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

    fn cache(views: usize, terms: usize) -> PublishedCache {
        PublishedCache::new(Capacities { views, terms })
    }

    fn view(version: i64) -> PublicView {
        PublicView { owner: "org".into(), version, body: Bytes::from(format!("{{\"version\":{version}}}")) }
    }

    #[test]
    fn nothing_is_served_or_kept_before_the_follower_has_a_position() {
        let views = cache(10, 10);
        assert!(views.ticket().is_none());
        views.put(views.ticket(), "listing", "a", view(1));
        assert!(views.get("listing", "a").is_none());
        views.start_at(0);
        views.put(views.ticket(), "listing", "a", view(1));
        assert_eq!(views.get("listing", "a").map(|v| v.version), Some(1));
    }

    #[test]
    fn a_view_read_before_an_eviction_is_not_kept_after_it() {
        let views = cache(10, 10);
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
        let views = cache(2, 2);
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
        let views = cache(0, 0);
        views.start_at(0);
        assert!(!views.is_serving());
        views.put(views.ticket(), "listing", "a", view(1));
        assert!(views.get("listing", "a").is_none());
    }

    #[test]
    fn going_dark_forgets_everything_until_the_next_position() {
        let views = cache(10, 10);
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

    /// Terms as a test reads them back: the packed price.
    fn terms(price_fen: i64) -> PackedTerms {
        let row = techtrade_db::listings::ListingTerms {
            id: String::new(),
            status: "published".into(),
            published_at: None,
            ipc_codes: "[]".into(),
            maturity: "pilot".into(),
            trade_modes: "[]".into(),
            price_fen: Some(price_fen),
            negotiable: false,
            region_code: "630100".into(),
        };
        row.pack().expect("published terms pack")
    }

    const A: &str = "0193a0b4-7c2e-7d3a-9f00-000000000001";
    const B: &str = "0193a0b4-7c2e-7d3a-9f00-000000000002";

    fn kept(cache: &PublishedCache, aggregate: &str, ids: &[&str]) -> Vec<Option<PackedTerms>> {
        cache.terms(aggregate, &ids.iter().map(|id| (*id).to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn terms_follow_the_rules_of_views() {
        let cache = cache(10, 10);
        // Nothing is kept before the follower has a position.
        cache.put_terms(cache.ticket(), "listing", vec![(A, terms(1))]);
        assert_eq!(kept(&cache, "listing", &[A]), [None]);
        cache.start_at(0);
        cache.put_terms(cache.ticket(), "listing", vec![(A, terms(1)), (B, terms(2))]);
        assert_eq!(kept(&cache, "listing", &[B, "absent", A]), [Some(terms(2)), None, Some(terms(1))]);
        assert_eq!(cache.terms_len(), 2);
        // Terms read before an eviction are not kept after it.
        let ticket = cache.ticket();
        cache.evict("listing", A);
        assert_eq!(kept(&cache, "listing", &[A, B]), [None, Some(terms(2))]);
        cache.put_terms(ticket, "listing", vec![(A, terms(1))]);
        assert_eq!(kept(&cache, "listing", &[A]), [None], "the stale read is dropped");
        // Going dark forgets them.
        cache.go_dark();
        assert_eq!(cache.terms_len(), 0);
    }

    #[test]
    fn terms_of_kinds_are_apart_and_only_listings_and_demands_with_short_ids_are_kept() {
        let cache = cache(10, 10);
        cache.start_at(0);
        let long = format!("{A}-");
        cache.put_terms(cache.ticket(), "listing", vec![(A, terms(1)), ("l-1", terms(3)), (long.as_str(), terms(5))]);
        cache.put_terms(cache.ticket(), "deal", vec![(B, terms(4))]);
        assert_eq!(cache.terms_len(), 2, "neither a longer id than a UUID's nor another aggregate is kept");
        assert_eq!(kept(&cache, "listing", &["l-1", "l-", "l-10", &long]), [Some(terms(3)), None, None, None]);
        assert_eq!(kept(&cache, "demand", &[A]), [None]);
        cache.put_terms(cache.ticket(), "demand", vec![(A, terms(2))]);
        assert_eq!(kept(&cache, "listing", &[A]), [Some(terms(1))]);
        assert_eq!(kept(&cache, "demand", &[A]), [Some(terms(2))]);
        cache.evict("demand", A);
        assert_eq!(kept(&cache, "listing", &[A]), [Some(terms(1))]);
        assert_eq!(kept(&cache, "demand", &[A]), [None]);
    }

    #[test]
    fn views_and_terms_each_have_their_own_room() {
        let views_only = cache(10, 0);
        views_only.start_at(0);
        assert!(views_only.is_serving());
        views_only.put_terms(views_only.ticket(), "listing", vec![(A, terms(1))]);
        assert_eq!(kept(&views_only, "listing", &[A]), [None]);
        views_only.put(views_only.ticket(), "listing", A, view(1));
        assert!(views_only.get("listing", A).is_some());

        let terms_only = cache(0, 1);
        terms_only.start_at(0);
        terms_only.put(terms_only.ticket(), "listing", A, view(1));
        assert!(terms_only.get("listing", A).is_none());
        terms_only.put_terms(terms_only.ticket(), "listing", vec![(A, terms(1)), (B, terms(2))]);
        assert_eq!(kept(&terms_only, "listing", &[A, B]), [None, Some(terms(2))], "the least recent goes first");
    }
}

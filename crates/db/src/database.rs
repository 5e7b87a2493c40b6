//! The pool and the bridge from async handlers to sync diesel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::r2d2::{self, ManageConnection, R2D2Connection};

use crate::connection::{AnyConnection, Backend, DatabaseUrl};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        self.url.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

thread_local! {
    /// The flag of the [`Database::run`] call this thread is working for.
    static ABANDONED: std::cell::RefCell<Option<Arc<AtomicBool>>> = const { std::cell::RefCell::new(None) };
}

/// Whether nobody waits any more for the work this thread is doing (its
/// request was cut off at the deadline). A write transaction checks it
/// before committing.
pub fn abandoned() -> bool {
    ABANDONED.with(|flag| flag.borrow().as_ref().is_some_and(|flag| flag.load(Ordering::SeqCst)))
}

/// Sets the flag when the future of a [`Database::run`] is dropped before
/// the work finished.
#[derive(Default)]
struct Waiter {
    flag: Arc<AtomicBool>,
    done: bool,
}

impl Waiter {
    fn finished(mut self) {
        self.done = true;
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if !self.done {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

/// The flag of the current call, installed on the blocking thread for the
/// duration of the work.
struct AbandonScope;

impl AbandonScope {
    fn enter(flag: Arc<AtomicBool>) -> Self {
        ABANDONED.with(|slot| *slot.borrow_mut() = Some(flag));
        Self
    }
}

impl Drop for AbandonScope {
    fn drop(&mut self) {
        ABANDONED.with(|slot| *slot.borrow_mut() = None);
    }
}

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a request waits for a connection when all are in use (or
    /// for a new one to connect) before it is refused: a saturated server
    /// answers 503 at once rather than letting a queue grow for minutes.
    pub wait: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_size: 10, wait: Duration::from_secs(5) }
    }
}

/// The database as handlers see it: a pool, and a way to run sync diesel
/// code off the async runtime.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
}

impl Database {
    /// Builds the pool without connecting; the first use connects.
    pub fn new(url: &DatabaseUrl, options: &PoolOptions) -> Self {
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(0))
            .connection_timeout(options.wait)
            .build_unchecked(Manager { url: url.clone() });
        Self { pool, backend: url.backend() }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for sync code (the command line, migrations, tests).
    pub fn get(&self) -> Result<r2d2::PooledConnection<impl ManageConnection<Connection = AnyConnection>>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    ///
    /// When the caller stops waiting (the request's deadline passed and
    /// its future was dropped), `f` runs on, but the write transaction it
    /// is in rolls back instead of committing ([`abandoned`]): a client
    /// told 503 can retry without duplicating what it asked for.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let waiter = Waiter::default();
        let flag = waiter.flag.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            let _scope = AbandonScope::enter(flag);
            f(&mut conn)
        })
        .await;
        waiter.finished();
        result.map_err(DbError::from)?
    }
}

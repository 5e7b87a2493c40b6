//! The pool and the bridge from async handlers to sync diesel.

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

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_size: 10, connect_timeout: Duration::from_secs(5) }
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
            .connection_timeout(options.connect_timeout)
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
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(DbError::from)?
    }
}

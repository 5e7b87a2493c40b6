//! The database of techtrade: one diesel schema over SQLite (embedded
//! default) and PostgreSQL (scale), the connection pool, embedded
//! migrations for both dialects, and the shared tables every service writes
//! through: the outbox and the hash-chained audit log.
//!
//! Query functions take `&mut AnyConnection` so that a handler can compose
//! several of them inside one transaction.
//!
//! Each connection prepares a statement once and keeps it, as long as the
//! statement's text and plan do not depend on the values bound to it:
//! - a lookup of one row by its key ends in `get_result`, not `first`:
//!   `first` binds `LIMIT ?`, and the SQLite built in (3.53) plans with the value
//!   of a bound LIMIT, so it prepared such a statement again on every call;
//! - a list of ids goes through [`one_of`]: one bound value rather than one
//!   per id.

pub mod accounts;
pub mod audit;
mod connection;
mod database;
pub mod deals;
pub mod emails;
pub mod idempotency;
pub mod leases;
pub mod listings;
pub mod migrations;
mod one_of;
pub mod outbox;
pub mod registry;
pub mod saved_searches;
pub mod schema;
pub mod second_factor;
pub mod statistics;
pub mod subsidy;
pub mod testing;
mod time;

pub use connection::{AnyConnection, Backend, DatabaseUrl, MultiBackend, UrlError, write_transaction};
pub use database::{Database, DbError, PoolOptions};
pub use one_of::{OneOf, one_of};
pub use time::{BEIJING, market_date, market_offset, now, parse_offset, set_market_offset, today};

/// A stored time: naive UTC, to the microsecond (see [`now`]).
pub type Timestamp = chrono::NaiveDateTime;

/// Whether a diesel error is a unique-constraint violation. Both backends
/// report the kind; SQLite gives no constraint name, so callers decide which
/// field clashed from what they inserted, not from the message.
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

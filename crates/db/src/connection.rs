//! One connection type over both databases, chosen by URL scheme.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A database URL whose backend is known from its scheme.
///
/// SQLite accepts any string as a file name, so trying backends in order
/// would turn a mistyped PostgreSQL URL into a new empty SQLite file. The
/// scheme decides instead: `postgres://` or `postgresql://`, else `sqlite://`
/// (or `sqlite:`) followed by a path.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("database.url must start with postgres://, postgresql:// or sqlite://, got '{0}'")]
pub struct UrlError(String);

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() { Err(UrlError(url.to_string())) } else { Ok(Self::Sqlite(PathBuf::from(path))) }
        } else {
            Err(UrlError(redact(url)))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub fn establish(&self) -> Result<AnyConnection, ConnectionError> {
        match self {
            Self::Postgres(url) => PgConnection::establish(url).map(AnyConnection::Postgresql),
            Self::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // busy_timeout first, so that switching to WAL waits for other
                // connections instead of failing.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

/// The URL with any password replaced, fit for logs and error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _password)) => {
                    format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
                }
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres(url) => f.write_str(&redact(url)),
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
        }
    }
}

/// Runs `f` in a transaction that may write.
///
/// On SQLite the transaction begins `IMMEDIATE`, taking the write lock up
/// front: a deferred transaction that reads and then writes fails at once
/// with SQLITE_BUSY when another writer committed in between, whatever the
/// busy timeout. On PostgreSQL it is an ordinary transaction. Inside an
/// outer transaction it becomes a savepoint.
///
/// The outermost transaction rolls back instead of committing when its
/// request was abandoned at the deadline ([`crate::database::abandoned`]).
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let AnyConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(|conn| unless_abandoned(f(conn)));
    };
    let nested = AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth()?.is_some();
    if nested {
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match unless_abandoned(f(conn)) {
        Ok(value) => {
            <AnyConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The caller's error is the one worth reporting; a failed rollback
            // leaves the connection marked broken and the pool discards it.
            let _ = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(error)
        }
    }
}

/// `result`, or a rollback when nobody waits for it any more. (A nested
/// PostgreSQL savepoint checks too; its error then rolls back the whole.)
fn unless_abandoned<T, E: From<diesel::result::Error>>(result: Result<T, E>) -> Result<T, E> {
    if result.is_ok() && crate::database::abandoned() {
        tracing::warn!("a request past its deadline rolls back instead of committing");
        return Err(diesel::result::Error::RollbackTransaction.into());
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_decides_the_backend() {
        assert_eq!(DatabaseUrl::parse("postgres://u:p@127.0.0.1/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgresql://h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/x.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("./data/x.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/tt.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/tt.db"))
        );
        assert_eq!(DatabaseUrl::parse("sqlite:x.db").unwrap(), DatabaseUrl::Sqlite(PathBuf::from("x.db")));
        assert!(DatabaseUrl::parse("./data/x.db").is_err());
        assert!(DatabaseUrl::parse("postgress://h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::parse("postgres://techtrade:s3cret@db:5432/tt").unwrap();
        assert_eq!(url.to_string(), "postgres://techtrade:***@db:5432/tt");
        assert_eq!(format!("{url:?}"), "postgres://techtrade:***@db:5432/tt");
        let err = DatabaseUrl::parse("mysql://root:s3cret@db/tt").unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
    }
}

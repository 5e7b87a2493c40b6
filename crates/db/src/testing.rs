//! Throw-away databases for tests: a temporary SQLite file, or a fresh
//! database on the PostgreSQL server named by `TECHTRADE_TEST_POSTGRES_URL`.
//! Each is migrated and dropped when its handle goes.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::{AnyConnection, Database, DatabaseUrl, PoolOptions, migrations};

/// A URL of the PostgreSQL server for tests (any database on it; tests make their own).
pub const POSTGRES_URL_VAR: &str = "TECHTRADE_TEST_POSTGRES_URL";
/// When set to 1, a missing PostgreSQL URL fails the PostgreSQL half of the
/// suite instead of skipping it (CI sets it).
pub const REQUIRE_POSTGRES_VAR: &str = "TECHTRADE_TEST_REQUIRE_POSTGRES";

/// The audit key of every test process, hex (32 bytes): what a test gives
/// `techtrade` as `TECHTRADE__AUDIT__KEY` to read a test database's chain.
pub const TEST_AUDIT_KEY: &str = "7465636874726164652d746573742d61756469742d6b65792d33322d62797465";

pub struct TestDatabase {
    pub url: DatabaseUrl,
    pub db: Database,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

fn scratch_name() -> String {
    format!("techtrade_test_{}", uuid_simple())
}

fn uuid_simple() -> String {
    techtrade_domain::ids::new_id().replace('-', "")
}

fn options() -> PoolOptions {
    PoolOptions { max_size: 4, ..PoolOptions::default() }
}

impl TestDatabase {
    /// A migrated SQLite database in its own temporary directory.
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(scratch_name());
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let url = DatabaseUrl::Sqlite(dir.join("techtrade.sqlite3"));
        Self::migrated(url, Cleanup::SqliteDir(dir))
    }

    /// A migrated database of its own on the test PostgreSQL server, or
    /// `None` when no server is configured (and none is required).
    pub fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            if std::env::var(REQUIRE_POSTGRES_VAR).as_deref() == Ok("1") {
                panic!("{REQUIRE_POSTGRES_VAR}=1 but {POSTGRES_URL_VAR} is not set");
            }
            eprintln!("skipped: set {POSTGRES_URL_VAR} to run the PostgreSQL half");
            return None;
        };
        let name = scratch_name();
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL server: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let url = DatabaseUrl::Postgres(with_database(&admin_url, &name));
        Some(Self::migrated(url, Cleanup::PostgresDatabase { admin_url, name }))
    }

    fn migrated(url: DatabaseUrl, cleanup: Cleanup) -> Self {
        install_test_key();
        let db = Database::new(&url, &options());
        let mut conn = url.establish().unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        migrations::run_pending(&mut conn).unwrap_or_else(|e| panic!("migrating {url}: {e}"));
        Self { url, db, cleanup }
    }

    /// A direct connection (outside the pool) for assertions and set-up.
    pub fn connect(&self) -> AnyConnection {
        self.url.establish().unwrap_or_else(|e| panic!("connecting to {}: {e}", self.url))
    }
}

/// [`TEST_AUDIT_KEY`] as a key.
pub fn test_audit_key() -> crate::audit::AuditKey {
    crate::audit::AuditKey::new(hex::decode(TEST_AUDIT_KEY).unwrap_or_default())
        .unwrap_or_else(|e| panic!("the test audit key: {e}"))
}

/// Installs [`TEST_AUDIT_KEY`] (again, harmlessly, for every database).
pub fn install_test_key() {
    crate::audit::install_key(test_audit_key()).unwrap_or_else(|e| panic!("installing the test audit key: {e}"));
}

/// `postgres://user@host:5432/postgres?x=y` with the database replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{host_part}/{database}?{query}"),
        None => format!("{host_part}/{database}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                // FORCE ends the pool's idle connections still open on it.
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_in_a_url() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "t2"), "postgres://u:p@h/t2?sslmode=disable");
        assert_eq!(with_database("postgres://h:5432", "t3"), "postgres://h:5432/t3");
    }
}

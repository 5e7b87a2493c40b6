//! Embedded migrations, one tree per dialect with identical names.

use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::AnyConnection;

pub const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration; returns the names applied.
pub fn run_pending(conn: &mut AnyConnection) -> Result<Vec<String>, MigrationError> {
    // The harness reports versions only; the names are what people read.
    let names = pending(conn)?;
    match conn {
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES)?,
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE)?,
    };
    Ok(names)
}

/// The migrations not yet applied, in the order they would run.
pub fn pending(conn: &mut AnyConnection) -> Result<Vec<String>, MigrationError> {
    let names = match conn {
        AnyConnection::Postgresql(c) => names(c.pending_migrations(POSTGRES)?),
        AnyConnection::Sqlite(c) => names(c.pending_migrations(SQLITE)?),
    };
    Ok(names)
}

/// Reverts every applied migration, newest first (for the round-trip test
/// and for operators who really mean it).
pub fn revert_all(conn: &mut AnyConnection) -> Result<Vec<String>, MigrationError> {
    let reverted = match conn {
        AnyConnection::Postgresql(c) => c.revert_all_migrations(POSTGRES)?,
        AnyConnection::Sqlite(c) => c.revert_all_migrations(SQLITE)?,
    };
    Ok(reverted.iter().map(ToString::to_string).collect())
}

/// The names of each dialect's migrations, for the check that both trees match.
pub fn names_by_dialect() -> Result<(Vec<String>, Vec<String>), MigrationError> {
    let postgres = names(MigrationSource::<Pg>::migrations(&POSTGRES)?);
    let sqlite = names(MigrationSource::<Sqlite>::migrations(&SQLITE)?);
    Ok((postgres, sqlite))
}

fn names<DB: diesel::backend::Backend>(migrations: Vec<Box<dyn Migration<DB>>>) -> Vec<String> {
    migrations.iter().map(|m| m.name().to_string()).collect()
}

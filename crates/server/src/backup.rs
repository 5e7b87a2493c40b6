//! `techtrade backup`: an online copy of a SQLite database.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is
//! consistent as of one instant while the server keeps reading and writing
//! (WAL mode lets writers go on), and it is written compacted, as a plain
//! database file a fresh server can start from. PostgreSQL has pg_dump.

use std::path::Path;
use std::time::Instant;

use diesel::RunQueryDsl;
use techtrade_db::DatabaseUrl;

use crate::cli::{Failure, open_database};
use crate::config::Config;

pub(crate) fn run(config: &Config, to: &Path) -> Result<(), Failure> {
    let url = config.database_url().map_err(Failure::usage)?;
    let DatabaseUrl::Sqlite(from) = &url else {
        return Err(Failure::usage(
            "backup copies SQLite databases; for PostgreSQL use pg_dump \
             (pg_dump --format=custom --file=techtrade.dump \"$DATABASE_URL\"; restore with pg_restore)",
        ));
    };
    if !from.exists() {
        return Err(Failure::failed(format!("no database at {}", from.display())));
    }
    if to.exists() {
        return Err(Failure::failed(format!("{} exists; give a new file name", to.display())));
    }
    let Some(target) = to.to_str() else {
        return Err(Failure::usage(format!("{}: the file name must be UTF-8", to.display())));
    };
    let started = Instant::now();
    let db = open_database(config)?;
    let mut conn = db.get().map_err(Failure::failed)?;
    // A file name is not a bindable parameter of VACUUM INTO on every SQLite;
    // a string literal with its quotes doubled is.
    let statement = format!("VACUUM INTO '{}'", target.replace('\'', "''"));
    diesel::sql_query(statement)
        .execute(&mut *conn)
        .map_err(|e| Failure::failed(format!("backing up to {}: {e}", to.display())))?;
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    println!("backed up {url} to {} ({bytes} bytes) in {:.1?}", to.display(), started.elapsed());
    Ok(())
}

//! `techtrade audit verify`: walks the hash-chained audit log from its first
//! entry and says whether any row was edited, removed or inserted since it
//! was written (see `techtrade_db::audit`).

use crate::cli::{AuditCommand, Failure, open_database};
use crate::config::Config;

pub(crate) async fn run(config: Config, command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::Verify => verify(config).await,
    }
}

async fn verify(config: Config) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let db = open_database(&config)?;
    // Read-only: verifying must not migrate or otherwise write to the
    // database it is judging.
    let checked = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().map_err(Failure::failed)?;
        techtrade_db::audit::verify(&mut conn).map_err(|error| match error {
            techtrade_db::audit::ChainError::Query(e) => Failure::failed(format!("reading the audit log: {e}")),
            broken => Failure::failed(format!("audit log BROKEN: {broken}")),
        })
    })
    .await
    .map_err(Failure::failed)??;
    println!("audit log intact: {checked} entries verified in {:.1?}", started.elapsed());
    Ok(())
}

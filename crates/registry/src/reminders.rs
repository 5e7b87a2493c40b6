//! Reminders to the office as a deadline nears: every application waiting
//! for a decision whose deadline is at most `REMIND_WITHIN` working days
//! away is announced once per deadline (a deadline moved by a request for
//! more material is a new one). The `reminders` worker runs this under a
//! lease every few minutes; the database's note of the deadline reminded
//! of keeps it to one e-mail even so.

use techtrade_db::registry;
use techtrade_domain::registration::DecisionClock;
use techtrade_web::{ApiError, ApiResult};

use crate::RegistrySettings;
use crate::events::announce_due;

/// How near a deadline is when the office is reminded of it, in working days.
pub const REMIND_WITHIN: i64 = 3;

/// How often the `reminders` worker looks.
pub const REMIND_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The `reminders` worker: looks now and every [`REMIND_EVERY`] until `shutdown`.
pub async fn run(
    db: techtrade_db::Database,
    settings: RegistrySettings,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    loop {
        match remind_due(&db, &settings).await {
            Ok(0) => {}
            Ok(reminded) => tracing::info!(reminded, "registration deadlines announced to the office"),
            Err(error) => tracing::warn!(?error, "registration reminders failed; trying again later"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(REMIND_EVERY) => {}
        }
    }
}

/// Announces the deadlines that near; how many.
pub async fn remind_due(db: &techtrade_db::Database, settings: &RegistrySettings) -> ApiResult<usize> {
    let settings = settings.clone();
    db.run(move |conn| {
        techtrade_db::write_transaction(conn, |conn| {
            let today = settings.clock.today();
            let mut reminded = 0;
            for application in registry::awaiting_reminder(conn)? {
                let Some(decide_by) = application.decide_by else { continue };
                let clock =
                    DecisionClock { decide_by, stopped_on: None, provisional: application.deadline_provisional };
                let Some(left) = clock.working_days_left(&settings.calendar, today) else { continue };
                if left > REMIND_WITHIN {
                    // Ordered by deadline: the rest are further away.
                    break;
                }
                if registry::mark_reminded(conn, &application.id, decide_by)? {
                    announce_due(conn, &application, left)?;
                    reminded += 1;
                }
            }
            Ok::<_, ApiError>(reminded)
        })
    })
    .await
}

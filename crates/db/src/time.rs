use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time as stored: naive, to the microsecond.
///
/// PostgreSQL keeps microseconds and SQLite keeps what it is given; cutting
/// to microseconds here means a value reads back exactly as it was written
/// on both, which the audit hash chain relies on.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

//! A program's year held open for a change: every write that must not land
//! in a closed year (a claim submitted, a claim reviewed, the round closed)
//! takes the year's lock first and then finds the round still open. Two
//! such writes of one year never interleave, so a level-2 approval cannot
//! commit into a year whose round a concurrent close has just published,
//! nor a new claim slip in behind it.

use techtrade_db::AnyConnection;
use techtrade_db::subsidy as db;
use techtrade_web::{ApiError, ErrorCode};

/// Takes the lock of `program_id`'s `year` (held until the transaction
/// ends) and refuses when the year's round is closed.
pub(crate) fn lock_open_year(conn: &mut AnyConnection, program_id: &str, year: i32) -> Result<(), ApiError> {
    db::lock_program_year(conn, program_id, year)?;
    if db::round_of(conn, program_id, year)?.is_some() {
        return Err(round_closed());
    }
    Ok(())
}

/// 409 `round_closed`.
pub(crate) fn round_closed() -> ApiError {
    ApiError::new(ErrorCode::RoundClosed, "this program's round for the year is closed")
}

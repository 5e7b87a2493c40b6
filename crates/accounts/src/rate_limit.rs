//! Login rate limiting, per account and per client address, counted in the
//! database so that it holds across replicas.
//!
//! Only failures count: a person who signs in successfully is never slowed.
//! The count and the attempt are not atomic, so a burst of parallel guesses
//! may overshoot the limit by the number in flight; the limit still bounds
//! guessing to a handful per window.

use chrono::{NaiveDateTime, TimeDelta};
use techtrade_db::{AnyConnection, accounts};
use techtrade_web::{ApiError, AuthSettings, ErrorCode};

/// 429 when the account or the address has used up its failures.
pub(crate) fn check(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    email: &str,
    ip: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let window = TimeDelta::from_std(settings.login_window).unwrap_or(TimeDelta::minutes(15));
    let since = now - window;
    let by_account = accounts::failed_logins_for_email(conn, email, since)?;
    let by_address = accounts::failed_logins_from_ip(conn, ip, since)?;
    if by_account >= i64::from(settings.max_failures_per_account)
        || by_address >= i64::from(settings.max_failures_per_ip)
    {
        return Err(ApiError::new(ErrorCode::RateLimited, "too many failed logins; wait and try again")
            .retry_after(settings.login_window.as_secs()));
    }
    Ok(())
}

/// Records the attempt and, now and then, forgets attempts older than the window.
pub(crate) fn record(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    email: &str,
    ip: &str,
    succeeded: bool,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    accounts::record_login_attempt(conn, email, ip, succeeded, now)?;
    if succeeded {
        let window = TimeDelta::from_std(settings.login_window).unwrap_or(TimeDelta::minutes(15));
        accounts::prune_login_attempts(conn, now - window)?;
    }
    Ok(())
}

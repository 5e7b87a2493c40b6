//! Login rate limiting, per account and per client address, and
//! registration rate limiting per client address, counted in the database
//! so that they hold across replicas.
//!
//! Only failures count: a person who signs in successfully is never slowed.
//! An attempt is reserved — counted as a failure — before its password is
//! checked, in the transaction that counts the earlier ones, with the
//! account and the address locked; a right password turns it into a
//! success. So a burst of parallel guesses cannot pass the limit: the
//! sixth waits for the fifth's reservation and is refused.

use chrono::{NaiveDateTime, TimeDelta};
use techtrade_db::{AnyConnection, accounts};
use techtrade_web::{ApiError, AuthSettings, ErrorCode};

/// 429 when the account or the address has used up its failures;
/// otherwise reserves this attempt (counted as failed) and returns its id
/// for [`succeeded`].
pub(crate) fn reserve(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    email: &str,
    ip: &str,
    now: NaiveDateTime,
) -> Result<i64, ApiError> {
    techtrade_db::write_transaction(conn, |conn| {
        accounts::lock_login_keys(conn, email, ip)?;
        let since = now - window(settings);
        let by_account = accounts::failed_logins_for_email(conn, email, since)?;
        let by_address = accounts::failed_logins_from_ip(conn, ip, since)?;
        if by_account >= i64::from(settings.max_failures_per_account)
            || by_address >= i64::from(settings.max_failures_per_ip)
        {
            return Err(ApiError::new(ErrorCode::RateLimited, "too many failed logins; wait and try again")
                .retry_after(settings.login_window.as_secs()));
        }
        Ok(accounts::record_login_attempt(conn, email, ip, now)?)
    })
}

/// The reserved attempt had the right password; now and then, forgets
/// attempts older than the window.
pub(crate) fn succeeded(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    attempt_id: i64,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    accounts::login_attempt_succeeded(conn, attempt_id)?;
    accounts::prune_login_attempts(conn, now - window(settings))?;
    Ok(())
}

fn window(settings: &AuthSettings) -> TimeDelta {
    TimeDelta::from_std(settings.login_window).unwrap_or(TimeDelta::minutes(15))
}

/// 429 when `ip` has used up its registrations for the window; otherwise
/// counts this one. Every attempt counts, valid or not: each costs a
/// password hash, which is what the limit protects.
pub(crate) fn register_attempt(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    ip: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let window = TimeDelta::from_std(settings.registration_window).unwrap_or(TimeDelta::hours(1));
    if accounts::registrations_from_ip(conn, ip, now - window)? >= i64::from(settings.max_registrations_per_ip) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many registrations from this address; wait and try again",
        )
        .retry_after(settings.registration_window.as_secs()));
    }
    accounts::record_registration_attempt(conn, ip, now)?;
    accounts::prune_registration_attempts(conn, now - window)?;
    Ok(())
}

//! Login rate limiting and lock-out, per account and per client address,
//! and registration rate limiting per client address, counted in the
//! database so that they hold across replicas.
//!
//! Only failures count: a person who signs in successfully is never slowed.
//! An attempt is reserved — counted as a failure — before its password is
//! checked, in the transaction that counts the earlier ones, with the
//! account and the address locked; a right password turns it into a
//! success. So a burst of parallel guesses cannot pass the limit: the
//! sixth waits for the fifth's reservation and is refused.
//!
//! `auth.max_failures_per_account` failures within `auth.login_window`
//! lock the account for `auth.lockout` from the last of them: 423
//! `account_locked`, the right password too (等保2.0 level 3). An address
//! that fails `auth.max_failures_per_ip` times within the window gets 429.
//! An e-mail no account has locks the same way, so that the answers do not
//! tell which accounts exist.

use chrono::{NaiveDateTime, TimeDelta};
use techtrade_db::{AnyConnection, accounts};
use techtrade_web::{ApiError, AuthSettings, ErrorCode};

/// When a lock-out ends, if one holds at `now`: `max` failures (in time
/// order) within `window` lock for `lockout` from the last of them.
fn locked_until(
    failures: &[NaiveDateTime],
    max: usize,
    window: TimeDelta,
    lockout: TimeDelta,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    if max == 0 || failures.len() < max {
        return None;
    }
    (max - 1..failures.len())
        .filter(|&last| failures[last] - failures[last + 1 - max] <= window)
        .map(|last| failures[last] + lockout)
        .filter(|&end| end > now)
        .max()
}

/// How far back failures can matter: a lock's window and its length.
fn memory(settings: &AuthSettings) -> TimeDelta {
    window(settings) + lockout(settings)
}

fn lockout(settings: &AuthSettings) -> TimeDelta {
    TimeDelta::from_std(settings.lockout).unwrap_or(TimeDelta::minutes(30))
}

/// 423 while the account is locked, 429 when the address has used up its
/// failures; otherwise reserves this attempt (counted as failed) and
/// returns its id for [`succeeded`] or [`failed`].
pub(crate) fn reserve(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    email: &str,
    ip: &str,
    now: NaiveDateTime,
) -> Result<i64, ApiError> {
    techtrade_db::write_transaction(conn, |conn| {
        accounts::lock_login_keys(conn, email, ip)?;
        let failures = accounts::failed_login_times(conn, email, now - memory(settings), None)?;
        let max = settings.max_failures_per_account as usize;
        if let Some(until) = locked_until(&failures, max, window(settings), lockout(settings), now) {
            let seconds = (until - now).num_seconds().max(1).unsigned_abs();
            return Err(ApiError::new(
                ErrorCode::AccountLocked,
                format!("too many failed sign-ins: the account is locked for {} more minutes", seconds.div_ceil(60)),
            )
            .retry_after(seconds));
        }
        let by_address = accounts::failed_logins_from_ip(conn, ip, now - window(settings))?;
        if by_address >= i64::from(settings.max_failures_per_ip) {
            return Err(ApiError::new(ErrorCode::RateLimited, "too many failed logins; wait and try again")
                .retry_after(settings.login_window.as_secs()));
        }
        Ok(accounts::record_login_attempt(conn, email, ip, now)?)
    })
}

/// The reserved attempt `attempt_id` (at `at`) had a wrong password: when
/// the lock-out it completes starts with it, when it ends — the caller
/// tells the owner. Runs under the account's lock, so that of two failures
/// finishing together only the one that completes the count says so.
pub(crate) fn failed(
    conn: &mut AnyConnection,
    settings: &AuthSettings,
    email: &str,
    ip: &str,
    attempt_id: i64,
    at: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, ApiError> {
    accounts::lock_login_keys(conn, email, ip)?;
    let failures = accounts::failed_login_times(conn, email, at - memory(settings), Some(attempt_id))?;
    let max = settings.max_failures_per_account as usize;
    let (window, lockout) = (window(settings), lockout(settings));
    let Some((last, earlier)) = failures.split_last() else { return Ok(None) };
    let locked_before = locked_until(earlier, max, window, lockout, *last).is_some();
    let locked_now = locked_until(&failures, max, window, lockout, *last);
    Ok(if locked_before { None } else { locked_now })
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
    accounts::prune_login_attempts(conn, now - memory(settings))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> NaiveDateTime {
        NaiveDateTime::default() + TimeDelta::minutes(minute)
    }

    #[test]
    fn five_failures_within_the_window_lock_for_thirty_minutes_from_the_fifth() {
        let (window, lockout) = (TimeDelta::minutes(15), TimeDelta::minutes(30));
        let five = [at(0), at(1), at(2), at(3), at(10)];
        assert_eq!(locked_until(&five, 5, window, lockout, at(10)), Some(at(40)));
        assert_eq!(locked_until(&five, 5, window, lockout, at(39)), Some(at(40)));
        assert_eq!(locked_until(&five, 5, window, lockout, at(40)), None, "over at its end");
        assert_eq!(locked_until(&five[..4], 5, window, lockout, at(10)), None, "four do not lock");
        // Five failures spread over more than the window do not lock.
        let spread = [at(0), at(5), at(10), at(15), at(16)];
        assert_eq!(locked_until(&spread, 5, window, lockout, at(16)), None);
        // A later run of five locks from its own last failure.
        let again = [at(0), at(5), at(10), at(15), at(16), at(17), at(18), at(19)];
        assert_eq!(locked_until(&again, 5, window, lockout, at(19)), Some(at(49)));
        assert_eq!(locked_until(&[], 5, window, lockout, at(0)), None);
        assert_eq!(locked_until(&five, 0, window, lockout, at(10)), None, "0 switches it off");
    }
}

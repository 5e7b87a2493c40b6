//! The clock: instants stored in UTC, calendar dates in the market's time.
//!
//! A provincial market runs on Beijing time: a contract signed at 07:00 on
//! 1 January in Xining was signed in the new year, although it was still
//! 31 December in UTC. Every "today", every year of a registration number
//! and every "not in the future" is therefore taken in the market's zone
//! ([`today`]), while stored instants stay naive UTC ([`now`]).
//!
//! The zone is a fixed offset: China has one time zone and no daylight
//! saving time since 1991, so `+08:00` is exact for every date the market
//! records. It is set once at start-up ([`set_market_offset`], from
//! `market.utc_offset`) and defaults to Beijing time.

use std::sync::OnceLock;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, SubsecRound, Utc};

/// Beijing time, UTC+8.
pub const BEIJING: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

static MARKET_OFFSET: OnceLock<FixedOffset> = OnceLock::new();

/// Sets the market's offset from UTC; the first call wins (start-up), so
/// a date never changes zone while the process runs. Returns whether this
/// call set it.
pub fn set_market_offset(offset: FixedOffset) -> bool {
    MARKET_OFFSET.set(offset).is_ok()
}

/// The market's offset from UTC (Beijing time unless configured otherwise).
pub fn market_offset() -> FixedOffset {
    MARKET_OFFSET.get().copied().unwrap_or(BEIJING)
}

/// The current UTC time as stored: naive, to the microsecond.
///
/// PostgreSQL keeps microseconds and SQLite keeps what it is given; cutting
/// to microseconds here means a value reads back exactly as it was written
/// on both, which the audit hash chain relies on.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Today's date in the market's time zone.
pub fn today() -> NaiveDate {
    market_date(now())
}

/// The market's calendar date of a stored (naive UTC) instant.
pub fn market_date(instant: NaiveDateTime) -> NaiveDate {
    instant.and_utc().with_timezone(&market_offset()).date_naive()
}

/// Parses `+08:00`, `-05:30` or `Z` as an offset from UTC.
pub fn parse_offset(text: &str) -> Result<FixedOffset, String> {
    if text == "Z" || text == "UTC" {
        return FixedOffset::east_opt(0).ok_or_else(|| "UTC".to_string());
    }
    let invalid = || format!("{text:?} is not an offset like +08:00");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(invalid()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(invalid)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(invalid());
    }
    let hours: i32 = hours.parse().map_err(|_| invalid())?;
    let minutes: i32 = minutes.parse().map_err(|_| invalid())?;
    if hours > 14 || minutes > 59 {
        return Err(invalid());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_small_hours_of_beijing_are_already_tomorrow() {
        let utc = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        // 23:30 UTC on New Year's Eve is 07:30 on 1 January in Xining.
        assert_eq!(market_date(utc("2025-12-31 23:30:00")), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!(market_date(utc("2025-12-31 15:59:59")), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
        assert_eq!(market_date(utc("2025-12-31 16:00:00")), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+08:00"), Ok(BEIJING));
        assert_eq!(parse_offset("-05:30").unwrap().local_minus_utc(), -(5 * 3600 + 30 * 60));
        assert_eq!(parse_offset("Z").unwrap().local_minus_utc(), 0);
        for bad in ["8", "+8:00", "+08", "+15:00", "+08:60", "", "Asia/Shanghai"] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }
}

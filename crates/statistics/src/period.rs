//! What a report covers: a period of market dates (Beijing time, both ends
//! included) and a region (a GB/T 2260 prefix: a province, a prefecture or
//! a county), with the defaults an official expects — this year so far,
//! the whole market.

use chrono::{Datelike, Months, NaiveDate};
use serde::Deserialize;
use techtrade_db::statistics::Span;
use techtrade_web::{ApiError, ErrorCode};
use utoipa::IntoParams;

/// The longest period a report covers: ten years, by month (120 rows).
pub const MAX_MONTHS: u32 = 120;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsQuery {
    /// The period's first day (Beijing time); default: 1 January of this year.
    pub from: Option<NaiveDate>,
    /// The period's last day, included; default: today. Not before `from`,
    /// and at most 120 months after it.
    pub to: Option<NaiveDate>,
    /// Only this region: a GB/T 2260 province (`63`), prefecture (`6301`)
    /// or county (`630102`) code. Listings and demands count by their own
    /// region, deals and contracts by the seller's, subsidies by the
    /// claimant's. A code no organisation has matches nothing.
    #[param(pattern = "^([0-9]{2}|[0-9]{4}|[0-9]{6})$")]
    pub region: Option<String>,
}

/// A checked period and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub region: Option<String>,
}

fn query_error(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, format!("{field}: {message}")).with_field(field, code, message)
}

impl StatisticsQuery {
    /// The scope asked for, with defaults taken as of `today`.
    pub fn scope(self, today: NaiveDate) -> Result<Scope, ApiError> {
        let to = self.to.unwrap_or(today);
        let from = self.from.unwrap_or_else(|| NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to));
        if to < from {
            return Err(query_error("to", "before_from", "the period ends before it starts"));
        }
        if from.checked_add_months(Months::new(MAX_MONTHS)).is_none_or(|limit| to >= limit) {
            return Err(query_error("to", "too_long", "a report covers at most 120 months"));
        }
        let region = self.region.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
        if let Some(region) = &region
            && (![2, 4, 6].contains(&region.len()) || !region.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(query_error(
                "region",
                "bad_format",
                "a region is a GB/T 2260 code of 2, 4 or 6 digits (63, 6301, 630102)",
            ));
        }
        Ok(Scope { from, to, region })
    }
}

impl Scope {
    /// The stored instants of the period: from the first day's midnight in
    /// the market's zone to the midnight after the last day.
    pub fn span(&self) -> Span {
        let midnight = |day: NaiveDate| {
            let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
            local - techtrade_db::market_offset()
        };
        Span { start: midnight(self.from), end: midnight(self.to.succ_opt().unwrap_or(self.to)) }
    }

    /// The months the period touches, first to last, as (year, month).
    pub fn months(&self) -> Vec<(i32, u32)> {
        let mut months = Vec::new();
        let mut day = self.from.with_day(1).unwrap_or(self.from);
        while day <= self.to {
            months.push((day.year(), day.month()));
            match day.checked_add_months(Months::new(1)) {
                Some(next) => day = next,
                None => break,
            }
        }
        months
    }

    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    fn asked(from: Option<&str>, to: Option<&str>, region: Option<&str>) -> Result<Scope, ApiError> {
        StatisticsQuery { from: from.map(day), to: to.map(day), region: region.map(str::to_string) }
            .scope(day("2026-12-06"))
    }

    #[test]
    fn defaults_to_this_year_so_far_and_the_whole_market() {
        let scope = asked(None, None, None).expect("valid");
        assert_eq!((scope.from, scope.to, scope.region), (day("2026-01-01"), day("2026-12-06"), None));
        // A period that ends in another year starts in that year.
        assert_eq!(asked(None, Some("2025-03-31"), None).expect("valid").from, day("2025-01-01"));
        assert_eq!(asked(None, None, Some(" ")).expect("valid").region, None);
    }

    #[test]
    fn refuses_reversed_overlong_periods_and_malformed_regions() {
        let code = |result: Result<Scope, ApiError>| {
            let error = result.expect_err("refused");
            assert_eq!(error.code(), ErrorCode::InvalidQuery);
            let field = &error.errors()[0];
            (field.field.clone(), field.code.clone())
        };
        assert_eq!(code(asked(Some("2026-02-01"), Some("2026-01-31"), None)), ("to".into(), "before_from".into()));
        assert_eq!(code(asked(Some("2016-01-01"), Some("2026-01-01"), None)), ("to".into(), "too_long".into()));
        assert!(asked(Some("2016-01-02"), Some("2026-01-01"), None).is_ok(), "120 months exactly");
        for region in ["6", "630", "63010", "6301020", "63a1"] {
            assert_eq!(code(asked(None, None, Some(region))), ("region".into(), "bad_format".into()), "{region}");
        }
        assert!(asked(None, None, Some("99")).is_ok(), "a well-formed code no one has matches nothing");
    }

    #[test]
    fn a_period_is_beijing_days() {
        let scope = asked(Some("2026-01-01"), Some("2026-01-31"), None).expect("valid");
        let span = scope.span();
        // 1 January 00:00 in Beijing is 31 December 16:00 UTC.
        assert_eq!(span.start.to_string(), "2025-12-31 16:00:00");
        assert_eq!(span.end.to_string(), "2026-01-31 16:00:00");
    }

    #[test]
    fn lists_every_month_it_touches() {
        let scope = asked(Some("2025-11-15"), Some("2026-02-01"), None).expect("valid");
        assert_eq!(scope.months(), vec![(2025, 11), (2025, 12), (2026, 1), (2026, 2)]);
        let one_day = asked(Some("2026-03-31"), Some("2026-03-31"), None).expect("valid");
        assert_eq!(one_day.months(), vec![(2026, 3)]);
    }
}

//! When claims for a year may be submitted. A post-trade subsidy rewards a
//! year's trading, so a claim for year Y waits for Y to end: a claim made
//! mid-year would be computed on half a year's payments and, one per
//! organisation, program, year and role, would shut out the rest of the
//! year's deals. Claims for Y open on 1 January of Y+1 (market date), or on
//! the day of Y+1 the program names (`claims_open_on = "03-01"`).

use std::fmt;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

use super::program::Program;
use crate::violations::Coded;

/// A day of the year after the claim year, written `MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningDay {
    month: u32,
    day: u32,
}

impl OpeningDay {
    /// The default: claims for a year open as soon as it has ended.
    pub const NEW_YEAR: Self = Self { month: 1, day: 1 };

    /// `MM-DD`, a day that every year has (so not `02-29`: a program's
    /// claims would not open at all in three years out of four).
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("\"{text}\" is not a day of the year: write MM-DD, e.g. \"03-01\" for 1 March");
        let (month, day) = text.split_once('-').ok_or_else(invalid)?;
        if month.len() != 2 || day.len() != 2 {
            return Err(invalid());
        }
        let month: u32 = month.parse().map_err(|_| invalid())?;
        let day: u32 = day.parse().map_err(|_| invalid())?;
        if (month, day) == (2, 29) {
            return Err("02-29 is not in every year; use 02-28 or 03-01".to_string());
        }
        // 2025 is not a leap year: every day it has, every year has.
        NaiveDate::from_ymd_opt(2025, month, day).ok_or_else(invalid)?;
        Ok(Self { month, day })
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn day(self) -> u32 {
        self.day
    }

    /// This day in `year`; `None` only past chrono's range of years.
    pub fn in_year(self, year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, self.month, self.day)
    }
}

impl fmt::Display for OpeningDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// As in the file: `"03-01"`.
impl Serialize for OpeningDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A claim for a year whose claims have not opened yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct ClaimsNotOpen {
    pub year: i32,
    /// `None` for a year so far ahead that it has no opening date.
    pub opens_on: Option<NaiveDate>,
}

impl fmt::Display for ClaimsNotOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.opens_on {
            Some(day) => write!(f, "claims for {} open on {day}, once the year has ended", self.year),
            None => write!(f, "claims for {} cannot be made", self.year),
        }
    }
}

impl Coded for ClaimsNotOpen {
    fn code(&self) -> &'static str {
        "claims_not_open"
    }
}

impl Program {
    /// The day of the year after a claim year from which claims open.
    pub fn claims_open_on(&self) -> OpeningDay {
        self.claims_open_on.unwrap_or(OpeningDay::NEW_YEAR)
    }

    /// The first day (market date) on which claims for `year` may be submitted.
    pub fn claims_open(&self, year: i32) -> Option<NaiveDate> {
        self.claims_open_on().in_year(year.checked_add(1)?)
    }

    /// Whether claims for `year` may be submitted on `today` (market date).
    pub fn accepts_claims(&self, year: i32, today: NaiveDate) -> Result<(), ClaimsNotOpen> {
        match self.claims_open(year) {
            Some(opens_on) if opens_on <= today => Ok(()),
            opens_on => Err(ClaimsNotOpen { year, opens_on }),
        }
    }
}

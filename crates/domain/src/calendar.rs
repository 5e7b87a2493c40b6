//! Working days as the national holiday calendar has them: Monday to
//! Friday, less the public holidays, plus the weekend days worked in their
//! place (调休). Each year's arrangement is announced by the State
//! Council's General Office the November before, so it is data — a file a
//! year under `config/calendars/` (`2026.toml`), loaded at start-up like
//! the subsidy policies — never code.
//!
//! Time limits counted in working days (a registration office decides
//! within 15 of them) start the day after the event: [`Calendar::add_working_days`].
//! A year no file covers is counted by weekends alone, and the answer says
//! so ([`Counted::provisional`]), so that a deadline running into a year
//! not yet announced is shown as provisional rather than refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

/// One year's arrangement, as its file states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Year {
    pub year: i32,
    /// The announcement it comes from.
    pub source: String,
    /// Days off that would otherwise be worked (and weekend days inside a holiday).
    holidays: BTreeSet<NaiveDate>,
    /// Weekend days worked (调休).
    working_weekends: BTreeSet<NaiveDate>,
    /// Each holiday's name and days, for showing the calendar.
    pub named: Vec<(String, NaiveDate, NaiveDate)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    source: String,
    #[serde(default)]
    holidays: Vec<HolidayFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    name: String,
    from: toml::value::Datetime,
    to: toml::value::Datetime,
    #[serde(default)]
    working: Vec<toml::value::Datetime>,
}

/// What is wrong with a calendar file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct CalendarError {
    pub file: PathBuf,
    pub message: String,
}

fn date_of(value: &toml::value::Datetime, what: &str) -> Result<NaiveDate, String> {
    match (value.date, value.time, value.offset) {
        (Some(d), None, None) => NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
            .ok_or_else(|| format!("{what}: {value} is not a date")),
        _ => Err(format!("{what}: {value} is not a plain date like 2026-10-01")),
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Year {
    /// Reads one year's file, checking what a typing slip would break: the
    /// dates are of that year (a 调休 day may fall in the days around
    /// New Year), a holiday runs forwards, a worked day is a weekend day
    /// and no day is both.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: YearFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if !(2000..=2100).contains(&file.year) {
            return Err(format!("year: {} is not a year this calendar can hold", file.year));
        }
        if file.source.trim().is_empty() {
            return Err("source: name the announcement the dates come from".to_string());
        }
        let near_year = |date: NaiveDate| {
            date.year() == file.year
                || (date.year() == file.year - 1 && date.month() == 12)
                || (date.year() == file.year + 1 && date.month() == 1)
        };
        let mut year = Year {
            year: file.year,
            source: file.source,
            holidays: BTreeSet::new(),
            working_weekends: BTreeSet::new(),
            named: Vec::new(),
        };
        for holiday in file.holidays {
            let what = format!("holiday \"{}\"", holiday.name);
            let from = date_of(&holiday.from, &format!("{what} from"))?;
            let to = date_of(&holiday.to, &format!("{what} to"))?;
            if to < from || (to - from).num_days() > 14 {
                return Err(format!("{what}: {from} to {to} is not a holiday's span"));
            }
            if from.year() != file.year || to.year() != file.year {
                return Err(format!("{what}: {from} to {to} is not in {}", file.year));
            }
            for day in from.iter_days().take_while(|d| *d <= to) {
                if !year.holidays.insert(day) {
                    return Err(format!("{what}: {day} is in another holiday too"));
                }
            }
            for worked in &holiday.working {
                let day = date_of(worked, &format!("{what} working"))?;
                if !is_weekend(day) {
                    return Err(format!("{what}: {day} is a {}, worked anyway", day.weekday()));
                }
                if !near_year(day) {
                    return Err(format!("{what}: the worked day {day} is not around {}", file.year));
                }
                if !year.working_weekends.insert(day) {
                    return Err(format!("{what}: {day} is listed as worked twice"));
                }
            }
            year.named.push((holiday.name, from, to));
        }
        if let Some(day) = year.holidays.intersection(&year.working_weekends).next() {
            return Err(format!("{day} is both a holiday and a worked day"));
        }
        Ok(year)
    }
}

/// Every year loaded, by year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

/// A count of working days, and whether a year it crossed had no calendar
/// (counted by weekends alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted<T> {
    pub value: T,
    pub provisional: bool,
}

impl Calendar {
    pub fn new(years: impl IntoIterator<Item = Year>) -> Self {
        Self { years: years.into_iter().map(|y| (y.year, y)).collect() }
    }

    /// The calendar of every `*.toml` in `dir`; a year given twice is an error.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, CalendarError> {
        let dir = dir.as_ref();
        let failed = |file: &Path, message: String| CalendarError { file: file.to_path_buf(), message };
        let entries = std::fs::read_dir(dir).map_err(|e| failed(dir, e.to_string()))?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| failed(dir, e.to_string()))?.path();
            if path.is_file() && path.extension().is_some_and(|ext| ext == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut years = BTreeMap::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| failed(&path, e.to_string()))?;
            let year = Year::from_toml(&text).map_err(|message| failed(&path, message))?;
            if years.contains_key(&year.year) {
                return Err(failed(&path, format!("{} is given by another file too", year.year)));
            }
            years.insert(year.year, year);
        }
        Ok(Self { years })
    }

    pub fn years(&self) -> impl Iterator<Item = &Year> {
        self.years.values()
    }

    /// Whether `day` is worked, and whether that is known or only a guess
    /// (its year has no calendar: weekdays are worked).
    pub fn is_working_day(&self, day: NaiveDate) -> Counted<bool> {
        // A 调休 day around New Year can be listed by the neighbouring year.
        let listed_worked = [day.year() - 1, day.year(), day.year() + 1]
            .iter()
            .filter_map(|y| self.years.get(y))
            .any(|year| year.working_weekends.contains(&day));
        match self.years.get(&day.year()) {
            Some(year) => Counted {
                value: listed_worked || (!is_weekend(day) && !year.holidays.contains(&day)),
                provisional: false,
            },
            None => Counted { value: listed_worked || !is_weekend(day), provisional: true },
        }
    }

    /// The `n`th working day after `start` (`start` itself does not count:
    /// a time limit runs from the day after the event). `n` = 0 is `start`.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Counted<NaiveDate> {
        let mut day = start;
        let mut left = n;
        let mut provisional = false;
        while left > 0 {
            day = day.succ_opt().unwrap_or(day);
            let working = self.is_working_day(day);
            provisional |= working.provisional;
            if working.value {
                left -= 1;
            }
        }
        Counted { value: day, provisional }
    }

    /// The working days after `from` up to and including `to` (0 when `to`
    /// is not after `from`): how long a clock stood still.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Counted<u32> {
        let mut count = 0;
        let mut provisional = false;
        for day in from.iter_days().skip(1).take_while(|d| *d <= to) {
            let working = self.is_working_day(day);
            provisional |= working.provisional;
            count += u32::from(working.value);
        }
        Counted { value: count, provisional }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn shipped() -> Calendar {
        Calendar::load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/calendars")).unwrap()
    }

    #[test]
    fn the_shipped_calendars_load() {
        let calendar = shipped();
        let years: Vec<i32> = calendar.years().map(|y| y.year).collect();
        assert!(years.contains(&2025) && years.contains(&2026), "{years:?}");
        let y2026 = calendar.years().find(|y| y.year == 2026).unwrap();
        assert_eq!(y2026.named.len(), 7);
        // 2026: seven holidays, six weekend days worked in their place.
        assert_eq!(y2026.working_weekends.len(), 6);
    }

    #[test]
    fn national_day_2026_and_its_saturday() {
        let calendar = shipped();
        assert!(!calendar.is_working_day(date(2026, 10, 1)).value);
        assert!(!calendar.is_working_day(date(2026, 10, 7)).value);
        assert!(calendar.is_working_day(date(2026, 10, 10)).value, "调休: Saturday 10 October is worked");
        assert!(calendar.is_working_day(date(2026, 9, 20)).value, "Sunday 20 September too");
        assert!(!calendar.is_working_day(date(2026, 10, 11)).value, "an ordinary Sunday");
        // Submitted Monday 28 September: the 29th and 30th, then 8, 9, 10
        // (the Saturday), 12–16 and 19–23 October: the 15th is the 23rd.
        let due = calendar.add_working_days(date(2026, 9, 28), 15);
        assert_eq!(due, Counted { value: date(2026, 10, 23), provisional: false });
        // Thirty working days: 23 October plus 15 more, to 13 November.
        assert_eq!(calendar.add_working_days(date(2026, 9, 28), 30).value, date(2026, 11, 13));
        assert_eq!(calendar.add_working_days(date(2026, 9, 28), 0).value, date(2026, 9, 28));
        assert_eq!(calendar.working_days_between(date(2026, 9, 28), date(2026, 10, 23)).value, 15);
        assert_eq!(calendar.working_days_between(date(2026, 10, 1), date(2026, 10, 7)).value, 0);
        assert_eq!(calendar.working_days_between(date(2026, 10, 9), date(2026, 10, 8)).value, 0);
    }

    #[test]
    fn a_year_without_a_calendar_counts_weekends_only_and_says_so() {
        let calendar = shipped();
        // From Friday 18 December 2026 into 2027, which no file covers yet.
        let due = calendar.add_working_days(date(2026, 12, 18), 15);
        assert!(due.provisional);
        assert_eq!(due.value, date(2027, 1, 8), "Mon–Fri only: 21–25, 28–31 Dec, 1, 4–8 Jan");
        assert!(!calendar.add_working_days(date(2026, 12, 1), 5).provisional);
    }

    #[test]
    fn slips_in_a_file_are_named() {
        let refused = |text: &str| Year::from_toml(text).unwrap_err();
        let base = "year = 2026\nsource = \"通知\"\n";
        let with = |holiday: &str| format!("{base}[[holidays]]\n{holiday}");
        assert!(refused(&with("name = \"x\"\nfrom = 2026-10-07\nto = 2026-10-01\n")).contains("not a holiday's span"));
        assert!(
            refused(&with("name = \"x\"\nfrom = 2026-10-01\nto = 2026-10-02\nworking = [2026-10-09]\n"))
                .contains("Fri")
        );
        assert!(refused(&with("name = \"x\"\nfrom = 2027-10-01\nto = 2027-10-02\n")).contains("not in 2026"));
        assert!(
            refused(&with("name = \"x\"\nfrom = 2026-10-01\nto = 2026-10-04\nworking = [2026-10-03]\n"))
                .contains("both")
        );
        let twice = format!(
            "{}[[holidays]]\nname = \"y\"\nfrom = 2026-10-02\nto = 2026-10-03\n",
            with("name = \"x\"\nfrom = 2026-10-01\nto = 2026-10-02\n")
        );
        assert!(refused(&twice).contains("another holiday"));
        assert!(refused("year = 2026\nsource = \" \"\n").contains("source"));
        assert!(refused(&with("name = \"x\"\nfrom = 2026-10-01T08:00:00\nto = 2026-10-02\n")).contains("plain date"));
        assert!(refused(&format!("{base}extra = 1\n")).contains("extra"));
    }
}

//! When a year's claims open: 1 January of the next year (market date), or
//! the day of the next year the program names. Before, a claim for the
//! current year could be made at once.

use super::*;
use crate::policy::{ClaimsNotOpen, Lang, OpeningDay};
use crate::violations::Coded;

const HEAD: &str = "id = \"open\"\nname = \"Open\"\n";
const RULE: &str = "[[rules]]\nid = \"r\"\nrole = \"buyer\"\nrate = \"5%\"\n";

#[test]
fn claims_for_a_year_open_when_it_has_ended() {
    let program = program(&format!("{HEAD}{RULE}"));
    assert_eq!(program.claims_open_on(), OpeningDay::NEW_YEAR);
    assert_eq!(program.claims_open(2025), Some(date(2026, 1, 1)));
    let refused = program.accepts_claims(2025, date(2025, 12, 31)).unwrap_err();
    assert_eq!(refused, ClaimsNotOpen { year: 2025, opens_on: Some(date(2026, 1, 1)) });
    assert_eq!(refused.code(), "claims_not_open");
    assert_eq!(refused.to_string(), "claims for 2025 open on 2026-01-01, once the year has ended");
    assert_eq!(program.accepts_claims(2025, date(2026, 1, 1)), Ok(()));
    assert_eq!(program.accepts_claims(2020, date(2026, 1, 1)), Ok(()));
    assert!(program.accepts_claims(2026, date(2026, 12, 2)).is_err(), "the current year is still running");
    assert_eq!(program.accepts_claims(i32::MAX, date(2026, 1, 1)).unwrap_err().opens_on, None);
}

#[test]
fn a_program_may_open_its_claims_later() {
    let program = program(&format!("{HEAD}claims_open_on = \"03-01\"\n{RULE}"));
    assert_eq!(program.claims_open_on().to_string(), "03-01");
    assert_eq!(program.claims_open(2025), Some(date(2026, 3, 1)));
    assert!(program.accepts_claims(2025, date(2026, 2, 28)).is_err());
    assert_eq!(program.accepts_claims(2025, date(2026, 3, 1)), Ok(()));
    assert_eq!(program.describe(Lang::Zh).last().unwrap(), "每年度的补助申请自次年 3 月 1 日起受理。");
    assert_eq!(program.describe(Lang::En).last().unwrap(), "Claims for a year open on 1 March of the following year.");
    let shown = toml::Value::try_from(&program).unwrap();
    assert_eq!(shown.get("claims_open_on").and_then(toml::Value::as_str), Some("03-01"));
}

#[test]
fn the_opening_day_is_a_day_of_every_year() {
    for (value, fragment) in [
        ("\"3-1\"", "write MM-DD"),
        ("\"13-01\"", "write MM-DD"),
        ("\"04-31\"", "write MM-DD"),
        ("\"02-29\"", "not in every year"),
        ("\"2026-03-01\"", "write MM-DD"),
        ("301", "expected a string"),
    ] {
        let error = Program::from_toml(&format!("{HEAD}claims_open_on = {value}\n{RULE}")).unwrap_err();
        assert_eq!(error.path, "claims_open_on", "{value}");
        assert!(error.message.contains(fragment), "{value} → {error}");
    }
}

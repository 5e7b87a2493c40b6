//! Rates: percent strings with up to four decimals, held exactly.
//!
//! `"5%"` is stored as 50,000 millionths and `"0.0001%"` as one, so applying
//! a rate is integer arithmetic: base × millionths / 1,000,000, rounded half
//! up to the fen. No floating point: a subsidy must come out the same on
//! every machine and to the fen an official computes by hand.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::money::Money;

/// Millionths of the base per one percent: four decimals of a percent.
const PER_PERCENT: u32 = 10_000;
/// Millionths in the whole base (100%).
const WHOLE: u32 = 100 * PER_PERCENT;

/// A share of a base between 0% and 100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate {
    millionths: u32,
}

impl Rate {
    pub const ZERO: Self = Self { millionths: 0 };

    /// Parses `"5%"`, `"0.05%"`, `"12.3456%"`; the message says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(number) = text.strip_suffix('%') else {
            return Err(format!("a rate is a percent string such as \"5%\" or \"0.05%\", not \"{text}\""));
        };
        if number.starts_with('-') {
            return Err(format!("a rate cannot be negative (\"{text}\")"));
        }
        let (whole, decimals) = number.split_once('.').unwrap_or((number, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(decimals) || number.ends_with('.') {
            return Err(format!("a rate is a percent string such as \"5%\" or \"0.05%\", not \"{text}\""));
        }
        if decimals.len() > 4 {
            return Err(format!("a rate has at most four decimals (\"{text}\")"));
        }
        // Leading zeros aside, anything longer than three digits is over 100%.
        let whole = whole.trim_start_matches('0');
        if whole.len() > 3 {
            return Err(format!("a rate cannot exceed 100% (\"{text}\")"));
        }
        let whole: u32 =
            if whole.is_empty() { 0 } else { whole.parse().map_err(|_| format!("bad rate \"{text}\""))? };
        let fraction: u32 = if decimals.is_empty() {
            0
        } else {
            format!("{decimals:0<4}").parse().map_err(|_| format!("bad rate \"{text}\""))?
        };
        let millionths = whole * PER_PERCENT + fraction;
        if millionths > WHOLE {
            return Err(format!("a rate cannot exceed 100% (\"{text}\")"));
        }
        Ok(Self { millionths })
    }

    /// Millionths of the base: 50,000 for 5%.
    pub fn millionths(self) -> u32 {
        self.millionths
    }

    /// base × rate, rounded half up to the fen. Never more than the base, so
    /// it cannot overflow.
    pub fn apply(self, base: Money) -> Money {
        let product = i128::from(base.fen()) * i128::from(self.millionths);
        let rounded = (product + i128::from(WHOLE / 2)) / i128::from(WHOLE);
        // rounded ≤ base because the rate is at most 100%.
        Money::from_fen(i64::try_from(rounded).unwrap_or(base.fen())).unwrap_or(base)
    }
}

/// The shortest percent string: `5%`, `0.05%`, `12.3456%`.
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.millionths / PER_PERCENT;
        let fraction = self.millionths % PER_PERCENT;
        if fraction == 0 {
            write!(f, "{whole}%")
        } else {
            let decimals = format!("{fraction:04}");
            write!(f, "{whole}.{}%", decimals.trim_end_matches('0'))
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(n: i64) -> Money {
        Money::from_fen(n).unwrap()
    }

    #[test]
    fn parses_exactly() {
        let cases =
            [("5%", 50_000), ("0.05%", 500), ("0.0001%", 1), ("100%", 1_000_000), ("0%", 0), ("12.3456%", 123_456)];
        for (text, millionths) in cases {
            let rate = Rate::parse(text).unwrap();
            assert_eq!(rate.millionths(), millionths, "{text}");
            assert_eq!(rate.to_string(), text);
        }
        assert_eq!(Rate::parse("007.50%").unwrap().to_string(), "7.5%");
        assert_eq!(Rate::parse("100.0000%").unwrap().millionths(), 1_000_000);
    }

    #[test]
    fn rejects_what_is_not_an_exact_percent() {
        let cases = [
            ("5", "percent string"),
            ("0.05", "percent string"),
            ("%", "percent string"),
            (".5%", "percent string"),
            ("5.%", "percent string"),
            ("5 %", "percent string"),
            ("+5%", "percent string"),
            ("1e2%", "percent string"),
            ("-1%", "negative"),
            ("0.00001%", "four decimals"),
            ("100.0001%", "exceed 100%"),
            ("101%", "exceed 100%"),
            ("99999999999%", "exceed 100%"),
        ];
        for (text, expected) in cases {
            let message = Rate::parse(text).unwrap_err();
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn applies_rounding_half_up_to_the_fen() {
        let five = Rate::parse("5%").unwrap();
        assert_eq!(five.apply(fen(80_000_000_000)), fen(4_000_000_000));
        assert_eq!(five.apply(fen(10)), fen(1)); // 0.5 fen rounds up
        assert_eq!(five.apply(fen(9)), fen(0)); // 0.45 fen rounds down
        assert_eq!(Rate::parse("0.0001%").unwrap().apply(fen(5_000_000)), fen(5));
        assert_eq!(Rate::parse("100%").unwrap().apply(fen(i64::MAX)), fen(i64::MAX));
        assert_eq!(Rate::parse("33.3333%").unwrap().apply(fen(i64::MAX)).fen(), 3_074_454_271_160_912_984);
    }
}

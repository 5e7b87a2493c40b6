//! Money: a whole number of fen (分), never a float.
//!
//! Arithmetic is checked: an overflow is an error the caller must handle,
//! not a wrapped amount.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::violations::Coded;

/// A non-negative amount in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("an amount cannot be negative")]
    Negative,
    #[error("the amount is too large")]
    Overflow,
}

impl Coded for MoneyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Negative => "negative_amount",
            Self::Overflow => "amount_overflow",
        }
    }
}

impl Money {
    pub const ZERO: Self = Self(0);

    pub fn from_fen(fen: i64) -> Result<Self, MoneyError> {
        if fen < 0 { Err(MoneyError::Negative) } else { Ok(Self(fen)) }
    }

    pub fn fen(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.0.checked_add(other.0).map(Self).ok_or(MoneyError::Overflow)
    }

    /// `self − other`; an error when it would go below zero.
    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        match self.0.checked_sub(other.0) {
            Some(fen) if fen >= 0 => Ok(Self(fen)),
            _ => Err(MoneyError::Negative),
        }
    }

    pub fn sum(amounts: impl IntoIterator<Item = Self>) -> Result<Self, MoneyError> {
        amounts.into_iter().try_fold(Self::ZERO, Self::checked_add)
    }
}

/// Yuan with two decimals and thousands separators: `1,500,000.00`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yuan = (self.0 / 100).to_string();
        let mut grouped = String::with_capacity(yuan.len() + yuan.len() / 3);
        for (i, digit) in yuan.chars().enumerate() {
            if i > 0 && (yuan.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        write!(f, "{grouped}.{:02}", self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::from_fen(150).unwrap();
        let b = Money::from_fen(50).unwrap();
        assert_eq!(a.checked_add(b).unwrap().fen(), 200);
        assert_eq!(a.checked_sub(b).unwrap().fen(), 100);
        assert_eq!(b.checked_sub(a), Err(MoneyError::Negative));
        assert_eq!(Money::from_fen(i64::MAX).unwrap().checked_add(b), Err(MoneyError::Overflow));
        assert_eq!(Money::from_fen(-1), Err(MoneyError::Negative));
        assert_eq!(Money::sum([a, b, b]).unwrap().fen(), 250);
    }

    #[test]
    fn displays_yuan() {
        let shown: Vec<String> =
            [0, 5, 100, 123_456, 10_000_000_000].into_iter().map(|f| Money::from_fen(f).unwrap().to_string()).collect();
        assert_eq!(shown, ["0.00", "0.05", "1.00", "1,234.56", "100,000,000.00"]);
    }
}

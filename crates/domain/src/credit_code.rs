//! 统一社会信用代码 (unified social credit identifier), GB 32100-2015.
//!
//! Eighteen characters: registration authority (1), organisation category (1),
//! the registering authority's GB/T 2260 region code (6), the GB 11714
//! organisation code (9) and a check character (1). The check character is
//! `31 − (Σ value(cᵢ)·wᵢ mod 31)` over the first 17, with 31 written `0`.

use std::fmt;

use serde::Serialize;

use crate::violations::Coded;

/// The 31 characters of the code: digits and upper-case letters without
/// I, O, S, V and Z (too easily confused with digits).
pub(crate) const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A credit code whose format and check character are right, upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CreditCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("a credit code has 18 characters, this one has {0}")]
    Length(usize),
    #[error("'{0}' is not allowed in a credit code (digits and A–Y without I, O, S, V, Z)")]
    Character(char),
    #[error("characters 3–8 must be the registering authority's 6-digit region code")]
    Region,
    #[error("the check character should be '{expected}', not '{found}'")]
    CheckCharacter { expected: char, found: char },
}

impl Coded for CreditCodeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Length(_) => "bad_length",
            Self::Character(_) => "bad_character",
            Self::Region => "bad_region",
            Self::CheckCharacter { .. } => "bad_check_character",
        }
    }
}

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

impl CreditCode {
    /// Parses a code, accepting lower case and surrounding spaces.
    pub fn parse(input: &str) -> Result<Self, CreditCodeError> {
        let code = input.trim().to_ascii_uppercase();
        let count = code.chars().count();
        if count != 18 {
            return Err(CreditCodeError::Length(count));
        }
        let bytes = code.as_bytes();
        let mut values = [0u32; 18];
        for (slot, (i, ch)) in values.iter_mut().zip(code.char_indices()) {
            *slot = value_of(bytes[i]).ok_or(CreditCodeError::Character(ch))?;
        }
        if !bytes[2..8].iter().all(u8::is_ascii_digit) {
            return Err(CreditCodeError::Region);
        }
        let sum: u32 = values[..17].iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
        let expected = ALPHABET[((31 - sum % 31) % 31) as usize] as char;
        let found = bytes[17] as char;
        if expected != found {
            return Err(CreditCodeError::CheckCharacter { expected, found });
        }
        Ok(Self(code))
    }

    /// Completes the first 17 characters of a code with their check
    /// character (for demo data and tests, which need many valid codes).
    pub fn complete(first_17: &str) -> Result<Self, CreditCodeError> {
        let sum = first_17
            .bytes()
            .zip(WEIGHTS)
            .map(|(c, w)| value_of(c.to_ascii_uppercase()).map(|v| v * w))
            .sum::<Option<u32>>()
            .ok_or(CreditCodeError::Length(first_17.chars().count()))?;
        let check = ALPHABET[((31 - sum % 31) % 31) as usize] as char;
        Self::parse(&format!("{first_17}{check}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The registering authority's region code (characters 3–8).
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Codes of registered organisations: enterprises (91…) and a public institution (12…).
    const REAL: [&str; 5] =
        ["914403001922038216", "91330100799655058B", "12100000400000624D", "91110108551385082Q", "91350100M000100Y43"];

    #[test]
    fn accepts_real_codes() {
        for code in REAL {
            assert_eq!(CreditCode::parse(code).map(|c| c.to_string()), Ok(code.to_string()), "{code}");
        }
    }

    #[test]
    fn normalises_case_and_spaces() {
        let code = CreditCode::parse(" 91330100799655058b ").unwrap();
        assert_eq!(code.as_str(), "91330100799655058B");
        assert_eq!(code.region_code(), "330100");
    }

    #[test]
    fn rejects_a_wrong_check_character() {
        let err = CreditCode::parse("914403001922038217").unwrap_err();
        assert_eq!(err, CreditCodeError::CheckCharacter { expected: '6', found: '7' });
        assert_eq!(err.code(), "bad_check_character");
    }

    #[test]
    fn every_single_character_change_is_caught() {
        // The weights are all coprime with 31, so any one substitution changes the sum.
        let good = REAL[0].as_bytes();
        for pos in 0..17 {
            for &c in ALPHABET {
                if c == good[pos] {
                    continue;
                }
                let mut bad = good.to_vec();
                bad[pos] = c;
                let bad = String::from_utf8(bad).unwrap();
                assert!(CreditCode::parse(&bad).is_err(), "{bad} should fail");
            }
        }
    }

    #[test]
    fn completes_prefixes() {
        assert_eq!(CreditCode::complete("91440300192203821").unwrap().as_str(), REAL[0]);
        assert_eq!(CreditCode::complete("91630100MA7000001").unwrap().region_code(), "630100");
        assert!(CreditCode::complete("9144030019220382").is_err());
        assert!(CreditCode::complete("9144030019220382I").is_err());
    }

    #[test]
    fn rejects_length_and_alphabet() {
        assert_eq!(CreditCode::parse("91440300192203821").unwrap_err().code(), "bad_length");
        assert_eq!(CreditCode::parse("").unwrap_err().code(), "bad_length");
        assert_eq!(CreditCode::parse("9144030019220382I6").unwrap_err(), CreditCodeError::Character('I'));
        assert_eq!(CreditCode::parse("91440300192203821中").unwrap_err().code(), "bad_character");
        assert_eq!(CreditCode::parse("91A403001922038216").unwrap_err().code(), "bad_region");
    }
}

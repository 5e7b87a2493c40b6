//! Chinese patents: application numbers with their check digit, publication
//! numbers, patent types, legal status and the term of protection.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::violations::Coded;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PatentType {
    /// 发明
    Invention,
    /// 实用新型
    UtilityModel,
    /// 外观设计
    Design,
}

impl PatentType {
    pub const ALL: [Self; 3] = [Self::Invention, Self::UtilityModel, Self::Design];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invention => "invention",
            Self::UtilityModel => "utility_model",
            Self::Design => "design",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The type an application number's type digit stands for: 1 and 8
    /// (a PCT application entering China) invention, 2 and 9 utility model,
    /// 3 design.
    fn from_type_digit(digit: u8) -> Option<Self> {
        match digit {
            b'1' | b'8' => Some(Self::Invention),
            b'2' | b'9' => Some(Self::UtilityModel),
            b'3' => Some(Self::Design),
            _ => None,
        }
    }

    /// The last day of protection for an application filed on `filed`:
    /// invention 20 years, utility model 10, design 10 (15 when filed from
    /// 2021-06-01, when the amended Patent Law took effect). The term runs
    /// from the filing date, so it ends the day before the anniversary; a
    /// term from 29 February ends on the last day of February.
    pub fn expires_on(self, filed: NaiveDate) -> Option<NaiveDate> {
        let years = match self {
            Self::Invention => 20,
            Self::UtilityModel => 10,
            Self::Design if filed >= NaiveDate::from_ymd_opt(2021, 6, 1)? => 15,
            Self::Design => 10,
        };
        let year = filed.year() + years;
        match NaiveDate::from_ymd_opt(year, filed.month(), filed.day()) {
            Some(anniversary) => anniversary.pred_opt(),
            None => NaiveDate::from_ymd_opt(year, 2, 28),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LegalStatus {
    Pending,
    Granted,
    Lapsed,
    Expired,
    Invalidated,
}

impl LegalStatus {
    pub const ALL: [Self; 5] = [Self::Pending, Self::Granted, Self::Lapsed, Self::Expired, Self::Invalidated];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Granted => "granted",
            Self::Lapsed => "lapsed",
            Self::Expired => "expired",
            Self::Invalidated => "invalidated",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// A CN patent application number (申请号) in canonical form:
/// `201710601862.3` (from 2003: year, type digit, 7-digit serial) or
/// `95115608.X` (before 2003: two-digit year, type digit, 5-digit serial),
/// with its check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ApplicationNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplicationNumberError {
    #[error("'{0}' is not an application number like 201710601862.3 or 95115608.X")]
    Format(String),
    #[error("type digit {0} is none of 1, 2, 3, 8, 9")]
    TypeDigit(char),
    #[error("the check digit should be {expected}, not {found}")]
    CheckDigit { expected: char, found: char },
}

impl Coded for ApplicationNumberError {
    fn code(&self) -> &'static str {
        match self {
            Self::Format(_) => "bad_format",
            Self::TypeDigit(_) => "bad_type_digit",
            Self::CheckDigit { .. } => "bad_check_digit",
        }
    }
}

/// Σ digitᵢ × weightᵢ mod 11, weights 2–9 repeating from the left; 10 is X.
fn check_digit(digits: &str) -> char {
    const WEIGHTS: [u32; 8] = [2, 3, 4, 5, 6, 7, 8, 9];
    let sum: u32 = digits.bytes().zip(WEIGHTS.iter().cycle()).map(|(d, w)| u32::from(d - b'0') * w).sum();
    match sum % 11 {
        10 => 'X',
        r => char::from_digit(r, 10).unwrap_or('0'),
    }
}

impl ApplicationNumber {
    /// Parses `ZL201710601862.3`, `CN 2017 1060 1862.3`, `201710601862.3`
    /// and the like.
    pub fn parse(input: &str) -> Result<Self, ApplicationNumberError> {
        let bad = || ApplicationNumberError::Format(input.trim().to_string());
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let number = compact.strip_prefix("ZL").or_else(|| compact.strip_prefix("CN")).unwrap_or(&compact);
        let (digits, check) = match number.split_once('.') {
            Some((digits, check)) => (digits, check),
            // Without the dot, the last character is the check digit (split
            // on its boundary: it may be any character, not just ASCII).
            None => match number.char_indices().next_back() {
                Some((last, _)) if last > 0 => number.split_at(last),
                _ => return Err(bad()),
            },
        };
        let well_formed = matches!(digits.len(), 8 | 12)
            && digits.bytes().all(|b| b.is_ascii_digit())
            && check.len() == 1
            && check.bytes().all(|b| b.is_ascii_digit() || b == b'X');
        if !well_formed {
            return Err(bad());
        }
        let type_digit = digits.as_bytes()[if digits.len() == 12 { 4 } else { 2 }];
        if PatentType::from_type_digit(type_digit).is_none() {
            return Err(ApplicationNumberError::TypeDigit(type_digit as char));
        }
        let expected = check_digit(digits);
        let found = check.chars().next().unwrap_or(' ');
        if expected != found {
            return Err(ApplicationNumberError::CheckDigit { expected, found });
        }
        Ok(Self(format!("{digits}.{check}")))
    }

    /// Completes digits with their check digit (demo data, tests).
    /// Anything but 8 or 12 ASCII digits is a format error (the check digit
    /// is only defined over digits).
    pub fn complete(digits: &str) -> Result<Self, ApplicationNumberError> {
        if !matches!(digits.len(), 8 | 12) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApplicationNumberError::Format(digits.trim().to_string()));
        }
        Self::parse(&format!("{digits}.{}", check_digit(digits)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The patent type the number's type digit stands for.
    pub fn patent_type(&self) -> PatentType {
        let digits = self.0.split('.').next().unwrap_or_default().as_bytes();
        let digit = digits.get(if digits.len() == 12 { 4 } else { 2 }).copied().unwrap_or(b'1');
        PatentType::from_type_digit(digit).unwrap_or(PatentType::Invention)
    }

    /// The filing year the number encodes.
    pub fn year(&self) -> i32 {
        let digits = &self.0;
        if digits.find('.') == Some(12) {
            digits[..4].parse().unwrap_or(0)
        } else {
            let yy: i32 = digits[..2].parse().unwrap_or(0);
            if yy >= 85 { 1900 + yy } else { 2000 + yy }
        }
    }
}

impl fmt::Display for ApplicationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CN publication number (公开/公告号): `CN114081026A`, `CN111504366B`,
/// `CN215834123U`; kind codes A, B, C (inventions), U, Y (utility models),
/// S (designs), optionally followed by one digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PublicationNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a publication number like CN114081026A")]
pub struct PublicationNumberError(String);

impl Coded for PublicationNumberError {
    fn code(&self) -> &'static str {
        "bad_format"
    }
}

impl PublicationNumber {
    pub fn parse(input: &str) -> Result<Self, PublicationNumberError> {
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let bad = || PublicationNumberError(input.trim().to_string());
        let body = compact.strip_prefix("CN").ok_or_else(bad)?;
        let body = body
            .strip_suffix(|c: char| c.is_ascii_digit())
            .filter(|b| b.ends_with(char::is_alphabetic))
            .unwrap_or(body);
        // The kind code is the last character, whatever its width.
        let last = body.char_indices().next_back().map_or(0, |(at, _)| at);
        let (serial, kind) = body.split_at(last);
        let valid = matches!(kind, "A" | "B" | "C" | "U" | "Y" | "S")
            && (6..=10).contains(&serial.len())
            && serial.bytes().all(|b| b.is_ascii_digit());
        if valid { Ok(Self(compact)) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the kind code says the document is.
    pub fn patent_type(&self) -> PatentType {
        let kind = self.0.trim_end_matches(|c: char| c.is_ascii_digit()).chars().last();
        match kind {
            Some('U' | 'Y') => PatentType::UtilityModel,
            Some('S') => PatentType::Design,
            _ => PatentType::Invention,
        }
    }

    /// Whether the document is a grant (B, C, U, Y, S) rather than an
    /// application published before examination (A).
    pub fn is_grant(&self) -> bool {
        !self.0.trim_end_matches(|c: char| c.is_ascii_digit()).ends_with('A')
    }
}

impl fmt::Display for PublicationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn accepts_both_formats_and_prefixes() {
        for (input, canonical) in [
            ("201710601862.3", "201710601862.3"),
            ("ZL201710601862.3", "201710601862.3"),
            ("CN 2017 1060 1862.3", "201710601862.3"),
            ("2017106018623", "201710601862.3"),
            ("95115608.X", "95115608.X"),
            ("zl95115608.x", "95115608.X"),
        ] {
            assert_eq!(ApplicationNumber::parse(input).unwrap().as_str(), canonical, "{input}");
        }
    }

    #[test]
    fn the_check_digit_catches_typos() {
        assert_eq!(
            ApplicationNumber::parse("201710601862.4").unwrap_err(),
            ApplicationNumberError::CheckDigit { expected: '3', found: '4' }
        );
        assert_eq!(ApplicationNumber::parse("95115608.1").unwrap_err().code(), "bad_check_digit");
        // Swapping two adjacent digits changes the sum (different weights).
        assert_eq!(ApplicationNumber::parse("201710610862.3").unwrap_err().code(), "bad_check_digit");
    }

    /// Found by the fuzz harness: `complete` on non-digits computed a check
    /// digit from them and overflowed (a panic in debug builds).
    #[test]
    fn completing_anything_but_digits_is_a_format_error() {
        for bad in ["201710601862.3", "2017106018X2", "abcdefgh", "", "20171060186", "２０１７１０６０１８６２"]
        {
            let error = ApplicationNumber::complete(bad).unwrap_err();
            assert!(matches!(error, ApplicationNumberError::Format(_)), "{bad}: {error:?}");
        }
        assert_eq!(ApplicationNumber::complete("201710601862").unwrap().as_str(), "201710601862.3");
    }

    /// Found by the fuzz harness: a number without its dot and ending in a
    /// multi-byte character was split inside that character (a panic).
    #[test]
    fn a_multibyte_last_character_is_a_format_error() {
        for bad in ["CN2017106018623\u{fffd}", "2017106018623。", "201710601862３", "é", "ZL号"] {
            let error = ApplicationNumber::parse(bad).unwrap_err();
            assert!(matches!(error, ApplicationNumberError::Format(_)), "{bad}: {error:?}");
        }
    }

    /// Found by the fuzz harness, like the application number's case.
    #[test]
    fn a_publication_number_ending_in_a_multibyte_character_is_refused() {
        for bad in ["CN20175106010601862\u{fffd}", "CN107442071Ｂ", "CN号", "CN"] {
            assert!(PublicationNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PublicationNumber::parse("CN107442071B").unwrap().as_str(), "CN107442071B");
    }

    #[test]
    fn rejects_malformed_numbers() {
        for bad in ["", "2017106018.3", "20171060186A.3", "201710601862.", "201710601862.33", "US201710601862.3", "."] {
            assert_eq!(ApplicationNumber::parse(bad).unwrap_err().code(), "bad_format", "{bad}");
        }
        let five = ApplicationNumber::complete("201750601862").unwrap_err();
        assert_eq!(five.code(), "bad_type_digit");
    }

    #[test]
    fn the_type_digit_gives_the_patent_type() {
        let kind = |digits: &str| ApplicationNumber::complete(digits).unwrap().patent_type();
        assert_eq!(kind("201710601862"), PatentType::Invention);
        assert_eq!(kind("201780601862"), PatentType::Invention);
        assert_eq!(kind("201920601862"), PatentType::UtilityModel);
        assert_eq!(kind("201990601862"), PatentType::UtilityModel);
        assert_eq!(kind("202130601862"), PatentType::Design);
        assert_eq!(ApplicationNumber::parse("95115608.X").unwrap().patent_type(), PatentType::Invention);
        assert_eq!(ApplicationNumber::parse("95115608.X").unwrap().year(), 1995);
        assert_eq!(ApplicationNumber::parse("201710601862.3").unwrap().year(), 2017);
    }

    #[test]
    fn terms_of_protection() {
        assert_eq!(PatentType::Invention.expires_on(date(2017, 7, 27)), Some(date(2037, 7, 26)));
        assert_eq!(PatentType::UtilityModel.expires_on(date(2019, 1, 1)), Some(date(2028, 12, 31)));
        assert_eq!(PatentType::Design.expires_on(date(2021, 5, 31)), Some(date(2031, 5, 30)));
        assert_eq!(PatentType::Design.expires_on(date(2021, 6, 1)), Some(date(2036, 5, 31)));
        assert_eq!(PatentType::Invention.expires_on(date(2020, 2, 29)), Some(date(2040, 2, 28)));
        assert_eq!(PatentType::UtilityModel.expires_on(date(2020, 2, 29)), Some(date(2030, 2, 28)));
    }

    #[test]
    fn publication_numbers() {
        for (input, kind, grant) in [
            ("CN114081026A", PatentType::Invention, false),
            ("CN111504366B", PatentType::Invention, true),
            ("cn 215834123 u", PatentType::UtilityModel, true),
            ("CN306123456S", PatentType::Design, true),
            ("CN1234567C", PatentType::Invention, true),
            ("CN2345678Y", PatentType::UtilityModel, true),
            ("CN114081026A1", PatentType::Invention, false),
        ] {
            let number = PublicationNumber::parse(input).unwrap();
            assert_eq!((number.patent_type(), number.is_grant()), (kind, grant), "{input}");
        }
        for bad in ["", "CN", "CNA", "US114081026A", "CN114081026", "CN114081026Z", "CN12345A"] {
            assert!(PublicationNumber::parse(bad).is_err(), "{bad}");
        }
    }
}

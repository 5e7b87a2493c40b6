//! Administrative division codes, GB/T 2260: six digits, province (2),
//! prefecture (2), county (2); `630000` is Qinghai, `630100` Xining.

use std::fmt;

use serde::Serialize;

use crate::violations::Coded;

/// Province-level prefixes of GB/T 2260 (including Taiwan, Hong Kong and Macao).
pub(crate) const PROVINCES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44",
    "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RegionCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionCodeError {
    #[error("a region code is six digits (GB/T 2260), e.g. 630100")]
    Format,
    #[error("'{0}' is not a province-level prefix of GB/T 2260")]
    UnknownProvince(String),
}

impl Coded for RegionCodeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Format => "bad_format",
            Self::UnknownProvince(_) => "unknown_province",
        }
    }
}

impl RegionCode {
    pub fn parse(input: &str) -> Result<Self, RegionCodeError> {
        let code = input.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionCodeError::Format);
        }
        let province = &code[..2];
        if !PROVINCES.contains(&province) {
            return Err(RegionCodeError::UnknownProvince(province.to_string()));
        }
        Ok(Self(code.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-digit province prefix (`63` for Qinghai).
    pub fn province(&self) -> &str {
        &self.0[..2]
    }

    /// The four-digit prefecture prefix (`6301` for Xining).
    pub fn prefecture(&self) -> &str {
        &self.0[..4]
    }
}

/// Names of the divisions in `data/regions.tsv`: `code → (Chinese, English)`.
const NAMES: &str = include_str!("../data/regions.tsv");

/// The name of a division, in Chinese or English, with the names of the
/// divisions above it: `青海省 西宁市 城西区`. A county the table does not
/// name is shown under its prefecture or province with its code, so that
/// every valid code reads as something.
pub fn region_name(code: &str, english: bool) -> String {
    // Read once: a search page names a region for every hit and facet value.
    static TABLE: std::sync::LazyLock<std::collections::HashMap<&'static str, (&'static str, &'static str)>> =
        std::sync::LazyLock::new(|| {
            NAMES
                .lines()
                .filter(|line| !line.starts_with('#'))
                .filter_map(|line| {
                    let mut fields = line.split('\t');
                    Some((fields.next()?, (fields.next()?, fields.next()?)))
                })
                .collect()
        });
    let lookup = |code: &str| TABLE.get(code).map(|&(zh, en)| if english { en } else { zh });
    let mut parts: Vec<String> = Vec::new();
    let province = code.get(..2).map(|p| format!("{p}0000"));
    let prefecture = code.get(..4).filter(|p| !p.ends_with("00")).map(|p| format!("{p}00"));
    let county = code.get(..6).filter(|c| !c.ends_with("00")).map(str::to_string);
    for (level, division) in [province, prefecture, county].into_iter().enumerate() {
        let Some(division) = division else { continue };
        match lookup(&division) {
            Some(name) => parts.push(name.to_string()),
            // An unnamed county keeps its code; an unnamed level above is left out.
            None if level == 2 => parts.push(division),
            None => {}
        }
    }
    if parts.is_empty() {
        return code.to_string();
    }
    parts.join(if english { ", " } else { " " })
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_divisions_with_the_levels_above() {
        assert_eq!(region_name("630104", false), "青海省 西宁市 城西区");
        assert_eq!(region_name("632801", true), "Qinghai, Haixi Prefecture, Golmud");
        assert_eq!(region_name("630100", false), "青海省 西宁市");
        assert_eq!(region_name("630000", false), "青海省");
        assert_eq!(region_name("110108", false), "北京市 110108", "a county the table lacks keeps its code");
        assert_eq!(region_name("63", false), "青海省");
        assert_eq!(region_name("6301", false), "青海省 西宁市");
    }

    #[test]
    fn accepts_real_divisions() {
        for code in ["630000", "630100", "632800", "110108", "320100", "820000"] {
            assert_eq!(RegionCode::parse(code).unwrap().as_str(), code);
        }
        let xining = RegionCode::parse("630102").unwrap();
        assert_eq!((xining.province(), xining.prefecture()), ("63", "6301"));
    }

    #[test]
    fn rejects_bad_format_and_provinces() {
        for bad in ["", "63010", "6301000", "63010a", "６３０１００"] {
            assert_eq!(RegionCode::parse(bad).unwrap_err().code(), "bad_format", "{bad}");
        }
        for bad in ["000000", "100000", "660100", "990000", "240000"] {
            assert_eq!(RegionCode::parse(bad).unwrap_err().code(), "unknown_province", "{bad}");
        }
    }
}

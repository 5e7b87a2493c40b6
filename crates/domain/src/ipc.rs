//! IPC (International Patent Classification) codes, checked against the
//! official scheme in Chinese (IPC 2026.01, with the supplement for codes
//! that real patents still carry, H01L above all).
//!
//! `G06F16/33`, `G06F 16/33` and `G06F0016330000` are one code, written
//! `G06F16/33`. A code is valid when its subclass is in the scheme (deleted
//! ones included); its main group and subgroup are checked wherever the
//! scheme lists the groups of that subclass or main group, and otherwise a
//! well-formed group is accepted. The scheme is compiled in (derived from
//! the shared data by `tools/derive_ipc.py`) and indexed once.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;

use crate::violations::Coded;

const TITLES: &str = include_str!("../data/ipc_titles.tsv");
const GROUPS: &str = include_str!("../data/ipc_groups.txt");

/// A valid IPC code at subclass level or finer, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IpcCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpcError {
    #[error("'{0}' is not an IPC code like G06F16/33")]
    Format(String),
    #[error("'{0}' is a section or class; give a subclass (e.g. G06F) or a group")]
    TooCoarse(String),
    #[error("there is no IPC subclass {0}")]
    UnknownSubclass(String),
    #[error("there is no IPC group {0}")]
    UnknownGroup(String),
}

impl Coded for IpcError {
    fn code(&self) -> &'static str {
        match self {
            Self::Format(_) => "bad_format",
            Self::TooCoarse(_) => "too_coarse",
            Self::UnknownSubclass(_) => "unknown_subclass",
            Self::UnknownGroup(_) => "unknown_group",
        }
    }
}

/// The parts of a well-formed code: `G06F`, then `16` and `33` when finer.
#[derive(Debug, PartialEq, Eq)]
struct Parts {
    subclass: String,
    group: Option<(u32, String)>,
}

fn is_subclass(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 4
        && (b'A'..=b'H').contains(&b[0])
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3].is_ascii_uppercase()
}

fn split(input: &str) -> Result<Parts, IpcError> {
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let bad = || IpcError::Format(input.trim().to_string());
    if compact.len() < 4 {
        let coarse = compact.len() == 1 && (b'A'..=b'H').contains(&compact.as_bytes()[0])
            || compact.len() == 3 && is_subclass(&format!("{compact}A"));
        return Err(if coarse { IpcError::TooCoarse(compact) } else { bad() });
    }
    if !compact.is_char_boundary(4) || !is_subclass(&compact[..4]) {
        return Err(bad());
    }
    let (subclass, rest) = compact.split_at(4);
    if rest.is_empty() {
        return Ok(Parts { subclass: subclass.to_string(), group: None });
    }
    let (main, sub) = match rest.split_once('/') {
        Some((main, sub)) => (main.to_string(), sub.to_string()),
        // The 14-character form: main group in 4 digits, subgroup in 6.
        None if rest.len() == 10 && rest.bytes().all(|b| b.is_ascii_digit()) => {
            let sub = rest[4..].trim_end_matches('0');
            let sub = format!("{sub:0<2}");
            (rest[..4].to_string(), sub)
        }
        None => return Err(bad()),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(&main) || main.len() > 4 || !digits(&sub) || sub.len() < 2 || sub.len() > 6 {
        return Err(bad());
    }
    let main: u32 = main.parse().map_err(|_| bad())?;
    if main == 0 {
        return Err(bad());
    }
    Ok(Parts { subclass: subclass.to_string(), group: Some((main, sub)) })
}

struct Subclass {
    title: String,
    deleted: bool,
    /// Groups as written after the subclass: `16/00`, `16/33`.
    groups: HashSet<String>,
    /// Main groups for which the scheme lists subgroups.
    mains_with_subgroups: HashSet<u32>,
}

/// The scheme, indexed once.
pub struct IpcScheme {
    titles: HashMap<String, String>,
    subclasses: HashMap<String, Subclass>,
}

impl IpcScheme {
    /// The compiled-in scheme.
    pub fn get() -> &'static IpcScheme {
        static SCHEME: OnceLock<IpcScheme> = OnceLock::new();
        SCHEME.get_or_init(IpcScheme::build)
    }

    fn build() -> Self {
        let mut titles = HashMap::new();
        let mut subclasses = HashMap::new();
        for line in TITLES.lines() {
            let mut fields = line.splitn(4, '\t');
            let (Some(code), Some(level), Some(deleted), Some(title)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            titles.insert(code.to_string(), title.to_string());
            if level == "subclass" {
                let entry = Subclass {
                    title: title.to_string(),
                    deleted: deleted == "deleted",
                    groups: HashSet::new(),
                    mains_with_subgroups: HashSet::new(),
                };
                subclasses.insert(code.to_string(), entry);
            }
        }
        for line in GROUPS.lines() {
            let mut fields = line.split(' ');
            let Some(entry) = fields.next().and_then(|code| subclasses.get_mut(code)) else {
                continue;
            };
            for group in fields {
                if let Some((main, sub)) = group.split_once('/')
                    && sub != "00"
                    && let Ok(main) = main.parse()
                {
                    entry.mains_with_subgroups.insert(main);
                }
                entry.groups.insert(group.to_string());
            }
        }
        Self { titles, subclasses }
    }

    /// The Chinese title of a section, class or subclass.
    pub fn title(&self, code: &str) -> Option<&str> {
        self.titles.get(code).map(String::as_str)
    }

    /// Whether the subclass was removed from the current edition (H01L).
    pub fn is_deleted(&self, subclass: &str) -> bool {
        self.subclasses.get(subclass).is_some_and(|s| s.deleted)
    }

    pub fn parse(&self, input: &str) -> Result<IpcCode, IpcError> {
        let parts = split(input)?;
        let subclass =
            self.subclasses.get(&parts.subclass).ok_or_else(|| IpcError::UnknownSubclass(parts.subclass.clone()))?;
        let Some((main, sub)) = parts.group else {
            return Ok(IpcCode(parts.subclass));
        };
        let group = format!("{main}/{sub}");
        let code = format!("{}{group}", parts.subclass);
        if !subclass.groups.is_empty() {
            let main_listed = subclass.groups.contains(&format!("{main}/00"));
            let sub_checked = sub != "00" && subclass.mains_with_subgroups.contains(&main);
            if !main_listed || (sub_checked && !subclass.groups.contains(&group)) {
                return Err(IpcError::UnknownGroup(code));
            }
        }
        Ok(IpcCode(code))
    }

    /// The title of the subclass a code is in.
    pub fn subclass_title(&self, code: &IpcCode) -> &str {
        self.subclasses.get(code.subclass()).map_or("", |s| s.title.as_str())
    }
}

impl IpcCode {
    /// Parses against the compiled-in scheme.
    pub fn parse(input: &str) -> Result<Self, IpcError> {
        IpcScheme::get().parse(input)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `G`
    pub fn section(&self) -> &str {
        &self.0[..1]
    }

    /// `G06`
    pub fn class(&self) -> &str {
        &self.0[..3]
    }

    /// `G06F`
    pub fn subclass(&self) -> &str {
        &self.0[..4]
    }

    /// `G06F16/00` for any code in main group 16; `None` at subclass level.
    pub fn main_group(&self) -> Option<String> {
        Some(format!("{}{}/00", self.subclass(), self.main_group_number()?))
    }

    /// Whether both codes lie in one main group (`G06F16/33` and
    /// `G06F16/00`), as `main_group` would say without writing it out.
    pub fn same_main_group(&self, other: &IpcCode) -> bool {
        self.subclass() == other.subclass()
            && self.main_group_number().is_some_and(|main| other.main_group_number() == Some(main))
    }

    /// `16` of `G06F16/33`; `None` at subclass level.
    fn main_group_number(&self) -> Option<&str> {
        self.0[4..].split_once('/').map(|(main, _)| main)
    }
}

impl fmt::Display for IpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_spellings_are_one_code() {
        for input in ["G06F16/33", "G06F 16/33", "g06f16/33", "G06F0016330000", " G06F  16/33 "] {
            assert_eq!(IpcCode::parse(input).unwrap().as_str(), "G06F16/33", "{input}");
        }
        assert_eq!(IpcCode::parse("G06F0016000000").unwrap().as_str(), "G06F16/00");
        assert_eq!(IpcCode::parse("A01B0001025000").unwrap_err(), IpcError::UnknownGroup("A01B1/025".into()));
        assert_eq!(IpcCode::parse("G06F0001025000").unwrap().as_str(), "G06F1/025");
    }

    #[test]
    fn hierarchy() {
        let code = IpcCode::parse("H02J7/00").unwrap();
        assert_eq!((code.section(), code.class(), code.subclass()), ("H", "H02", "H02J"));
        assert_eq!(code.main_group().as_deref(), Some("H02J7/00"));
        assert_eq!(IpcCode::parse("H02J").unwrap().main_group(), None);
        // One main group exactly when `main_group` is the same, and present.
        let codes = ["H01M10/54", "H01M10/60", "H01M4/36", "H01M", "H02J7/00", "G06F16/33"];
        for a in codes {
            for b in codes {
                let (a, b) = (IpcCode::parse(a).unwrap(), IpcCode::parse(b).unwrap());
                let expected = a.main_group().is_some() && a.main_group() == b.main_group();
                assert_eq!(a.same_main_group(&b), expected, "{a} {b}");
            }
        }
        let scheme = IpcScheme::get();
        assert_eq!(scheme.title("G"), Some("物理"));
        assert!(scheme.subclass_title(&code).contains("电"));
    }

    #[test]
    fn real_patent_codes_are_valid() {
        // From the shared patent records: subclasses of all ages, H01L included.
        for code in ["A01M", "G06F", "H02G", "G01D", "H01L", "H01M", "C01B", "A24F", "F25D"] {
            assert!(IpcCode::parse(code).is_ok(), "{code}");
        }
        assert!(IpcScheme::get().is_deleted("H01L"));
        // A subclass the scheme lists no groups for accepts well-formed groups.
        assert!(IpcCode::parse("H01L21/02").is_ok());
    }

    #[test]
    fn unknown_and_malformed_codes_say_why() {
        let code = |s: &str| IpcCode::parse(s).unwrap_err().code();
        assert_eq!(code("G06Z"), "unknown_subclass");
        assert_eq!(code("I01B"), "bad_format");
        assert_eq!(code("G06F9999/00"), "unknown_group");
        assert_eq!(code("G06F16/9999"), "unknown_group");
        assert_eq!(code("G06"), "too_coarse");
        assert_eq!(code("G"), "too_coarse");
        assert_eq!(code(""), "bad_format");
        assert_eq!(code("G06F16"), "bad_format");
        assert_eq!(code("G06F16/3"), "bad_format");
        assert_eq!(code("G06F/33"), "bad_format");
        assert_eq!(code("G06F0/00"), "bad_format");
        assert_eq!(code("G06F16/33/1"), "bad_format");
        assert_eq!(code("锂电池"), "bad_format");
    }
}

//! Reading one TOML table of a policy file key by key, so that every error
//! names the exact key path (`rules[1].tiers[0].rate`).
//!
//! A table is checked for unknown keys before anything else: a misspelt key
//! (`rat = "5%"`) is the real mistake, not the "missing rate" that follows
//! from it.

use toml::{Table, Value};

use super::error::PolicyError;
use crate::money::Money;

/// One table of the file and where it sits.
pub(super) struct Fields<'a> {
    path: String,
    table: &'a Table,
}

impl<'a> Fields<'a> {
    /// `path` is empty for the top level. Rejects keys outside `allowed`.
    pub(super) fn new(path: impl Into<String>, table: &'a Table, allowed: &[&str]) -> Result<Self, PolicyError> {
        let fields = Self { path: path.into(), table };
        if let Some(unknown) = table.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(fields.error(unknown, format!("unknown key `{unknown}`; allowed here: {}", allowed.join(", "))));
        }
        Ok(fields)
    }

    /// The path of the table itself (`rules[1]`).
    pub(super) fn path(&self) -> &str {
        &self.path
    }

    /// The path of one of its keys (`rules[1].rate`).
    pub(super) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    pub(super) fn error(&self, key: &str, message: impl Into<String>) -> PolicyError {
        PolicyError::new(self.path_of(key), message)
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub(super) fn value(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    pub(super) fn str(&self, key: &str) -> Result<Option<&'a str>, PolicyError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str())),
            Some(other) => Err(self.error(key, format!("expected a string, found {}", describe(other)))),
        }
    }

    /// A string that must be present and not blank.
    pub(super) fn required_text(&self, key: &str) -> Result<&'a str, PolicyError> {
        self.optional_text(key)?.ok_or_else(|| self.error(key, "missing"))
    }

    /// A string that, when present, is not blank.
    pub(super) fn optional_text(&self, key: &str) -> Result<Option<&'a str>, PolicyError> {
        match self.str(key)? {
            Some(text) if text.trim().is_empty() => Err(self.error(key, "must not be blank")),
            other => Ok(other),
        }
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, PolicyError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Boolean(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.error(key, format!("expected true or false, found {}", describe(other)))),
        }
    }

    /// A whole, non-negative number of fen.
    pub(super) fn fen(&self, key: &str) -> Result<Option<Money>, PolicyError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Integer(fen)) => Money::from_fen(*fen)
                .map(Some)
                .map_err(|_| self.error(key, format!("an amount cannot be negative ({fen})"))),
            Some(other) => {
                Err(self
                    .error(key, format!("expected a whole number of fen (1 yuan = 100), found {}", describe(other))))
            }
        }
    }

    /// A cap: 0 or absent means no cap.
    pub(super) fn cap(&self, key: &str) -> Result<Option<Money>, PolicyError> {
        Ok(self.fen(key)?.filter(|cap| *cap != Money::ZERO))
    }

    /// One word of a vocabulary (`role = "buyer"`).
    pub(super) fn word<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, PolicyError> {
        match self.str(key)? {
            None => Ok(None),
            Some(text) => parse(text)
                .map(Some)
                .ok_or_else(|| self.error(key, format!("unknown value \"{text}\"; expected one of: {expected}"))),
        }
    }

    /// A non-empty list of strings, each read by `item`, which gets the
    /// element's path; no element may appear twice.
    pub(super) fn list<T: PartialEq>(
        &self,
        key: &str,
        item: impl Fn(&str, &str) -> Result<T, PolicyError>,
    ) -> Result<Option<Vec<T>>, PolicyError> {
        let Some(value) = self.value(key) else { return Ok(None) };
        let Value::Array(elements) = value else {
            return Err(self.error(key, format!("expected a list of strings, found {}", describe(value))));
        };
        if elements.is_empty() {
            // An empty condition would match nothing; leaving the key out allows all.
            return Err(self.error(key, "an empty list matches nothing; leave the key out to allow all"));
        }
        let mut items = Vec::with_capacity(elements.len());
        for (index, element) in elements.iter().enumerate() {
            let path = format!("{}[{index}]", self.path_of(key));
            let Value::String(text) = element else {
                return Err(PolicyError::new(path, format!("expected a string, found {}", describe(element))));
            };
            let parsed = item(&path, text)?;
            if items.contains(&parsed) {
                return Err(PolicyError::new(path, format!("\"{text}\" is listed twice")));
            }
            items.push(parsed);
        }
        Ok(Some(items))
    }

    /// An array of tables (`[[rules]]`), each with its path; `None` when absent.
    pub(super) fn tables(&self, key: &str) -> Result<Option<Vec<(String, &'a Table)>>, PolicyError> {
        let Some(value) = self.value(key) else { return Ok(None) };
        let Value::Array(elements) = value else {
            return Err(self.error(key, format!("expected an array of tables ([[{key}]]), found {}", describe(value))));
        };
        let mut tables = Vec::with_capacity(elements.len());
        for (index, element) in elements.iter().enumerate() {
            let path = format!("{}[{index}]", self.path_of(key));
            let Value::Table(table) = element else {
                return Err(PolicyError::new(path, format!("expected a table, found {}", describe(element))));
            };
            tables.push((path, table));
        }
        Ok(Some(tables))
    }
}

/// `an integer (5)`, `a string ("5")`: what was found, for messages.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("a string (\"{text}\")"),
        Value::Integer(n) => format!("an integer ({n})"),
        Value::Float(x) => format!("a decimal number ({x})"),
        Value::Boolean(flag) => format!("a boolean ({flag})"),
        Value::Datetime(when) => format!("a date-time ({when})"),
        Value::Array(_) => "a list".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

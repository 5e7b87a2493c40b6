//! The one error of reading a policy file: where (a key path) and what.

use std::fmt;

use crate::violations::Coded;

/// A policy file that cannot be used. `path` names the offending key the way
/// an official would find it in the file (`rules[1].tiers[0].rate`, `id`,
/// `budget_fen`); `(file)` when the file itself is not valid TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub path: String,
    pub message: String,
}

impl PolicyError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }

    /// A TOML syntax error. The parser knows no key path for those, only a
    /// position, so the position goes into the message.
    pub(crate) fn syntax(text: &str, error: &toml::de::Error) -> Self {
        let message = match error.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("line {line}, column {column}: {}", error.message().trim_end())
            }
            None => error.message().trim_end().to_string(),
        };
        Self::new("(file)", message)
    }
}

/// One-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for PolicyError {}

impl Coded for PolicyError {
    fn code(&self) -> &'static str {
        "invalid_policy"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_path_then_message() {
        let error = PolicyError::new("rules[1].tiers[0].rate", "a rate cannot exceed 100%");
        assert_eq!(error.to_string(), "rules[1].tiers[0].rate: a rate cannot exceed 100%");
    }

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(line_and_column("a = 1\nb = 二x", 13), (2, 6));
        assert_eq!(line_and_column("abc", 0), (1, 1));
    }
}

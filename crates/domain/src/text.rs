//! Free-text fields: names, titles, summaries.

use crate::violations::Coded;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("at most {max} characters, this has {len}")]
    TooLong { max: usize, len: usize },
}

impl Coded for TextError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            Self::TooLong { .. } => "too_long",
        }
    }
}

/// Trims `input` and checks it is non-empty and at most `max` characters
/// (characters, not bytes: a Chinese title of 100 characters is 300 bytes).
///
/// The OpenAPI document marks such a field with the pattern
/// `[^\s\u0085]`: a character that is not white space as `str::trim`
/// counts it. JSON Schema's `\s` is ECMAScript's, which lacks U+0085 (NEL),
/// so a plain `\S` let Schemathesis send a reason of one NEL as valid.
pub fn required(input: &str, max: usize) -> Result<String, TextError> {
    let text = input.trim();
    let len = text.chars().count();
    if len == 0 {
        Err(TextError::Empty)
    } else if len > max {
        Err(TextError::TooLong { max, len })
    } else {
        Ok(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(required("  青海大学  ", 4).unwrap(), "青海大学");
        assert_eq!(required("青海大学", 3), Err(TextError::TooLong { max: 3, len: 4 }));
        assert_eq!(required(" \t", 3), Err(TextError::Empty));
    }
}

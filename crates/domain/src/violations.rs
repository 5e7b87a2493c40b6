//! Collecting every invalid field of a request at once, each with its path.

use std::fmt;

/// One invalid field: where it is (`patents[1].application_number`), a stable
/// code (`bad_check_digit`) and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

/// A parse error that knows its stable code. Implemented by every domain
/// parse error so that callers can turn any of them into a [`Violation`].
pub trait Coded: fmt::Display {
    fn code(&self) -> &'static str;
}

/// The violations found while parsing one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.0.push(Violation { field: field.into(), code, message: message.into() });
    }

    /// Parses one field, recording its error under `field`; `None` when invalid.
    pub fn check<T, E: Coded>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(field, error.code(), error.to_string());
                None
            }
        }
    }

    /// A nested check's outcome: its violations recorded under `prefix`
    /// (`contract.` + `total_amount_fen`); `None` when it failed.
    pub fn nested<T>(&mut self, prefix: &str, checked: Result<T, Violations>) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(inner) => {
                self.0.extend(inner.0.into_iter().map(|v| Violation { field: format!("{prefix}{}", v.field), ..v }));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<Violation> {
        self.0
    }

    pub fn as_slice(&self) -> &[Violation] {
        &self.0
    }

    /// `Ok(value)` when nothing was recorded, else every violation.
    ///
    /// The value is built only when it can be: callers pass a closure that
    /// unwraps the `Option`s returned by [`Violations::check`].
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Violations> {
        if self.is_empty() {
            // Every check passed, so every Option the closure reads is Some.
            build().ok_or(self)
        } else {
            Err(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct TooShort;
    impl fmt::Display for TooShort {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("too short")
        }
    }
    impl Coded for TooShort {
        fn code(&self) -> &'static str {
            "too_short"
        }
    }

    #[test]
    fn collects_every_failure_with_its_path() {
        let mut v = Violations::new();
        let a: Option<u8> = v.check("a", Ok::<u8, TooShort>(1));
        let b: Option<u8> = v.check("b.c", Err(TooShort));
        let d: Option<u8> = v.check("d[0]", Err(TooShort));
        assert_eq!(a, Some(1));
        assert!(b.is_none() && d.is_none());
        let all = v.finish(|| Some((a?, b?, d?))).unwrap_err().into_vec();
        let fields: Vec<_> = all.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["b.c", "d[0]"]);
        assert!(all.iter().all(|x| x.code == "too_short"));
    }

    #[test]
    fn finish_builds_when_clean() {
        let mut v = Violations::new();
        let a = v.check("a", Ok::<u8, TooShort>(7));
        assert_eq!(v.finish(|| Some(a? + 1)), Ok(8));
    }
}

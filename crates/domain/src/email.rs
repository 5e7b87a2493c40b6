//! E-mail addresses as accounts use them: trimmed, lower-cased, one `@`.
//!
//! Deliberately not RFC 5322 in full: the address must work as a login name
//! and as an SMTP recipient, and the mailer proves deliverability.

use std::fmt;

use serde::Serialize;

use crate::violations::Coded;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an e-mail address")]
pub struct EmailError(String);

impl Coded for EmailError {
    fn code(&self) -> &'static str {
        "bad_email"
    }
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let address = input.trim().to_lowercase();
        let bad = || EmailError(input.to_string());
        let (local, domain) = address.split_once('@').ok_or_else(bad)?;
        let valid = !local.is_empty()
            && local.len() <= 64
            && address.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@')
            && !address.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c));
        if valid { Ok(Self(address)) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(Email::parse(" Zhang.San@Example.CN ").unwrap().as_str(), "zhang.san@example.cn");
        assert!(Email::parse("ip-office+tt@qhu.edu.cn").is_ok());
    }

    #[test]
    fn rejects_non_addresses() {
        for bad in ["", "a", "a@b", "@b.cn", "a@.cn", "a@b.cn.", "a b@c.cn", "a@b@c.cn", "<a@b.cn>", "a@b..cn"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}

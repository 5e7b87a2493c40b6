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
        // The local part in the characters RFC 5322 allows unquoted (ASCII
        // only: an address is also a login name typed anywhere); the domain
        // as host names are, letters, digits and hyphens in at least two
        // labels (an internationalised domain in its `xn--` form). This is
        // exactly the document's `EMAIL_PATTERN` (openapi.rs tests hold them
        // together), so the API refuses what its contract says it refuses.
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let mut labels = domain.split('.');
        let label_ok = |label: &str| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let domain_ok = domain.contains('.') && labels.all(label_ok);
        if local_ok && domain_ok && address.len() <= 254 { Ok(Self(address)) } else { Err(bad()) }
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
        for bad in [
            "",
            "a",
            "a@b",
            "@b.cn",
            "a@.cn",
            "a@b.cn.",
            "a b@c.cn",
            "a@b@c.cn",
            "<a@b.cn>",
            "a@b..cn",
            "a@b.c*",
            "a@b_c.cn",
            "张三@example.cn",
            "a@例子.中国",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Passwords: argon2id hashes in PHC string form, checked with the
//! parameters stored in each hash (so raising the cost later keeps old
//! hashes valid).

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version};
use techtrade_domain::violations::Coded;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password has at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("a password has at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("this password is among the most common ones; choose another")]
    Common,
    #[error(
        "a password mixes at least three of: lower-case letters, capitals, digits, and other characters (spaces, punctuation, Chinese)"
    )]
    TooSimple,
}

/// The kinds of character a password mixes (等保2.0 level 3: 口令复杂度).
/// Spaces, punctuation and any letter outside ASCII (Chinese) are "other".
const CLASSES: usize = 4;
/// How many of the [`CLASSES`] a new password needs.
pub const MIN_CLASSES: usize = 3;

fn classes(password: &str) -> usize {
    let mut seen = [false; CLASSES];
    for c in password.chars() {
        let class = if c.is_ascii_lowercase() {
            0
        } else if c.is_ascii_uppercase() {
            1
        } else if c.is_ascii_digit() {
            2
        } else {
            3
        };
        seen[class] = true;
    }
    seen.iter().filter(|s| **s).count()
}

/// The passwords of at least eight characters that lead every published
/// list of leaked passwords (including the Chinese ones): the first a
/// guesser tries, so refused outright (NIST SP 800-63B 5.1.1.2). Compared
/// without regard to case.
const COMMON: &[&str] = &[
    "00000000",
    "11111111",
    "12341234",
    "12344321",
    "12345678",
    "123456789",
    "1234567890",
    "123123123",
    "1q2w3e4r",
    "1qaz2wsx",
    "5201314520",
    "66666666",
    "88888888",
    "987654321",
    "a1234567",
    "a123456!",
    "a12345678",
    "aa123456",
    "abc12345",
    "abcd1234",
    "admin123",
    "admin@123",
    "p@ssw0rd",
    "p@ssword1",
    "password@123",
    "baseball",
    "football",
    "iloveyou",
    "password",
    "password1",
    "password123",
    "qwerty123",
    "qwertyuiop",
    "sunshine",
    "woaini1314",
    "zxcvbnm123",
];

impl Coded for PasswordError {
    fn code(&self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::Common => "too_common",
            Self::TooSimple => "too_simple",
        }
    }
}

/// Checks a new password: its length (in characters; spaces count), that
/// it is not one of the [`COMMON`] ones, and that it mixes at least
/// [`MIN_CLASSES`] kinds of character.
pub fn check_new(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        n if n < MIN_LENGTH => Err(PasswordError::TooShort),
        n if n > MAX_LENGTH => Err(PasswordError::TooLong),
        _ if COMMON.iter().any(|common| common.eq_ignore_ascii_case(password)) => Err(PasswordError::Common),
        _ if classes(password) < MIN_CLASSES => Err(PasswordError::TooSimple),
        _ => Ok(()),
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of nothing anyone knows, verified against when the account
    /// does not exist, so that a login for an unknown e-mail takes as long
    /// as one with a wrong password.
    decoy: String,
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, 1, None).map_err(|e| format!("argon2 parameters: {e}"))?;
        let mut hasher = Self { params, decoy: String::new() };
        let secret = crate::users::random_token().map_err(|e| e.to_string())?;
        hasher.decoy = hasher.hash(&secret).map_err(|e| e.to_string())?;
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=…`) with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, argon2::password_hash::Error> {
        use argon2::PasswordHasher as _;
        self.argon2().hash_password(password.as_bytes()).map(|h| h.to_string())
    }

    /// Whether `password` matches `stored`; a malformed stored hash never matches.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let target = stored.unwrap_or(&self.decoy);
        let matches = PasswordHash::new(target)
            .map(|hash| self.argon2().verify_password(password.as_bytes(), &hash).is_ok())
            .unwrap_or(false);
        matches && stored.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(1024, 1).unwrap()
    }

    #[test]
    fn hashes_verify_and_salt_differs() {
        let h = hasher();
        let a = h.hash("青海湖 correct horse").unwrap();
        let b = h.hash("青海湖 correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_ne!(a, b);
        assert!(h.verify("青海湖 correct horse", Some(&a)));
        assert!(!h.verify("青海湖 correct horse!", Some(&a)));
        assert!(!h.verify("anything", Some("not a phc string")));
    }

    #[test]
    fn unknown_accounts_never_match() {
        let h = hasher();
        assert!(!h.verify("", None));
        assert!(!h.verify("password", None));
    }

    #[test]
    fn stored_parameters_win() {
        let old = PasswordHasher::new(2048, 2).unwrap().hash("long enough").unwrap();
        assert!(hasher().verify("long enough", Some(&old)));
    }

    #[test]
    fn length_rules() {
        assert_eq!(check_new("1234567"), Err(PasswordError::TooShort));
        assert_eq!(check_new("1234567a!"), Ok(()));
        assert_eq!(check_new(&format!("{}a1", "长".repeat(254))), Ok(()));
        assert_eq!(check_new(&"x".repeat(257)), Err(PasswordError::TooLong));
    }

    #[test]
    fn three_kinds_of_character() {
        for simple in ["12345679", "abcdefghij", "ABCDEFGHIJ", "long passphrase", "Passphrase", "青海盐湖提锂技术转让"]
        {
            assert_eq!(check_new(simple), Err(PasswordError::TooSimple), "{simple}");
        }
        for mixed in ["long passphrase 7", "Passphrase7", "Pass phrase", "青海盐湖2026abc", "盐湖Lithium"] {
            assert_eq!(check_new(mixed), Ok(()), "{mixed}");
        }
        assert_eq!(PasswordError::TooSimple.code(), "too_simple");
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in ["12345678", "PassWord", "woaini1314", "QWERTYUIOP", "P@ssw0rd", "Admin@123"] {
            assert_eq!(check_new(common), Err(PasswordError::Common), "{common}");
        }
        assert_eq!(check_new("password-7"), Ok(()));
    }
}

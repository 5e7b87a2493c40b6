//! How the identifiers read in the OpenAPI document. Each schema is built
//! from the tables its parser uses, so the document cannot drift from the
//! rule. What a pattern cannot say (a check character, membership of the
//! IPC scheme) is named by a `format`, which a client or a test generator
//! that knows it can honour (`.ci/schemathesis_hooks.py` does).
//!
//! The patterns are the canonical spelling; the parsers also accept
//! surrounding whitespace, lower case and the like.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::{ApplicationNumber, CreditCode, Email, IpcCode, PublicationNumber, RegionCode};

/// A string schema with a pattern, a format when a pattern cannot say it
/// all, a description and an example.
fn text(pattern: String, format: Option<&str>, description: &str, example: &str) -> ObjectBuilder {
    let mut builder = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([example]);
    if let Some(format) = format {
        builder = builder.format(Some(utoipa::openapi::SchemaFormat::Custom(format.to_string())));
    }
    builder
}

/// The pattern of a region code: six digits under a known province.
pub fn region_code_pattern() -> String {
    format!("^({})[0-9]{{4}}$", crate::region::PROVINCES.join("|"))
}

/// The characters of a credit code (GB 32100: digits and capitals without I, O, S, V, Z).
pub fn credit_code_pattern() -> String {
    let alphabet = std::str::from_utf8(crate::credit_code::ALPHABET).unwrap_or_default();
    format!("^[{alphabet}]{{2}}[0-9]{{6}}[{alphabet}]{{10}}$")
}

/// An application number with or without its dot before the check digit:
/// 12 digits from 2003 (the fifth the type), 8 before (the third the type).
pub const APPLICATION_NUMBER_PATTERN: &str = r"^([0-9]{4}[12389][0-9]{7}|[0-9]{2}[12389][0-9]{5})\.?[0-9X]$";

/// `CN`, 6 to 10 digits, a kind code, optionally its digit.
pub const PUBLICATION_NUMBER_PATTERN: &str = "^CN[0-9]{6,10}[ABCUYS][0-9]?$";

/// A subclass, or a group in either spelling (`G06F16/33`, `G06F0016330000`).
pub const IPC_CODE_PATTERN: &str = r"^[A-H][0-9]{2}[A-Z]([0-9]{1,4}/[0-9]{2,6}|[0-9]{10})?$";

/// What [`Email::parse`] accepts, in ASCII: a local part of at most 64
/// characters and a domain of at least two labels.
pub const EMAIL_PATTERN: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$";

macro_rules! described {
    ($type:ty, $name:literal, $schema:expr) => {
        impl utoipa::PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                $schema.build().into()
            }
        }
        impl utoipa::ToSchema for $type {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

described!(
    RegionCode,
    "RegionCode",
    text(region_code_pattern(), None, "GB/T 2260 administrative division code, six digits.", "630100")
);
described!(
    CreditCode,
    "CreditCode",
    text(
        credit_code_pattern(),
        Some("credit-code"),
        "统一社会信用代码 (GB 32100): 18 characters, the last a check character over the first 17.",
        "91630100MA752C4W52"
    )
);
described!(
    ApplicationNumber,
    "ApplicationNumber",
    text(
        APPLICATION_NUMBER_PATTERN.to_string(),
        Some("cn-application-number"),
        "申请号: year, type digit (1 invention, 2 utility model, 3 design, 8 or 9 PCT), serial, \
         then the check digit (Σ digit × weight 2–9 mod 11, 10 written X); a ZL or CN prefix and spaces are accepted.",
        "201710601862.3"
    )
);
described!(
    PublicationNumber,
    "PublicationNumber",
    text(PUBLICATION_NUMBER_PATTERN.to_string(), None, "公开/公告号.", "CN114081026A")
);
described!(
    IpcCode,
    "IpcCode",
    text(
        IPC_CODE_PATTERN.to_string(),
        Some("ipc-code"),
        "An IPC code of the scheme (IPC 2026.01, with codes deleted since 2015), at subclass level or finer.",
        "G06F16/33"
    )
);
described!(
    Email,
    "Email",
    text(EMAIL_PATTERN.to_string(), None, "An e-mail address; compared in lower case.", "ip@example.cn")
        .max_length(Some(254))
);

#[cfg(test)]
mod tests {
    use super::*;

    fn regex(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    /// Random strings over `alphabet`, `len` characters long.
    fn samples(alphabet: &str, lengths: std::ops::RangeInclusive<usize>, count: usize) -> Vec<String> {
        let chars: Vec<char> = alphabet.chars().collect();
        let mut generator = crate::fuzzing::Generator(0x5eed);
        (0..count)
            .map(|_| {
                let len = *lengths.start() + generator.below(lengths.end() - lengths.start() + 1);
                (0..len).map(|_| *generator.pick(&chars)).collect()
            })
            .collect()
    }

    #[test]
    fn a_region_code_matches_the_pattern_exactly_when_it_parses() {
        let pattern = regex(&region_code_pattern());
        for code in samples("0123456789", 5..=7, 20_000) {
            assert_eq!(pattern.is_match(&code), RegionCode::parse(&code).is_ok(), "{code}");
        }
    }

    #[test]
    fn a_credit_code_matching_the_pattern_fails_only_on_its_check_character() {
        let pattern = regex(&credit_code_pattern());
        let matching = samples("0123456789ABCDEFGHJKLMNPQRTUWXY", 18..=18, 5_000);
        for code in matching.iter().filter(|c| pattern.is_match(c)) {
            match CreditCode::parse(code) {
                Ok(_) | Err(crate::credit_code::CreditCodeError::CheckCharacter { .. }) => {}
                Err(other) => panic!("{code}: {other}"),
            }
        }
        assert!(pattern.is_match("91630100MA752C4W52") && !pattern.is_match("91630100MA752C4W5"));
    }

    #[test]
    fn an_application_number_matching_the_pattern_fails_only_on_its_check_digit() {
        let pattern = regex(APPLICATION_NUMBER_PATTERN);
        let mut matched = 0;
        for number in samples("0123456789.X", 9..=14, 50_000) {
            let parsed = ApplicationNumber::parse(&number);
            if pattern.is_match(&number) {
                matched += 1;
                assert!(
                    matches!(parsed, Ok(_) | Err(crate::patent::ApplicationNumberError::CheckDigit { .. })),
                    "{number}: {parsed:?}"
                );
            } else {
                assert!(parsed.is_err() || number.contains(char::is_whitespace), "{number} parses: {parsed:?}");
            }
        }
        assert!(matched > 0);
        assert!(pattern.is_match("201710601862.3") && pattern.is_match("95115608X"));
    }

    #[test]
    fn the_other_patterns_accept_only_what_parses() {
        let publication = regex(PUBLICATION_NUMBER_PATTERN);
        for number in ["CN114081026A", "CN111504366B", "CN215834123U", "CN1234567B1"] {
            assert!(publication.is_match(number) && PublicationNumber::parse(number).is_ok(), "{number}");
        }
        for number in samples("CN0123456789ABUXS", 8..=14, 20_000).iter().filter(|n| publication.is_match(n)) {
            assert!(PublicationNumber::parse(number).is_ok(), "{number}");
        }
        let ipc = regex(IPC_CODE_PATTERN);
        for code in ["G06F", "G06F16/33", "A01B1/02", "G06F0016330000"] {
            assert!(ipc.is_match(code) && IpcCode::parse(code).is_ok(), "{code}");
        }
        let email = regex(EMAIL_PATTERN);
        // Both ways: what the pattern allows parses, and what it refuses
        // (a `*` in a domain, say) is refused, so that the API refuses what
        // its document says it refuses.
        for address in samples("ab.@-_+1*张", 3..=12, 20_000) {
            assert_eq!(email.is_match(&address), Email::parse(&address).is_ok(), "{address}");
        }
        assert!(email.is_match("ip@example.cn") && !email.is_match("ip@example") && !email.is_match("a b@x.cn"));
    }
}

//! Fuzz targets for the parsers of untrusted text: what each must hold for
//! any input. The same functions are driven two ways:
//!
//! - by `cargo fuzz` (nightly, libFuzzer) from the `fuzz/` directory, with
//!   the `fuzzing` feature (see the README);
//! - on stable Rust in every `cargo test`, by the deterministic generator of
//!   the tests below: a fixed seed and a bounded number of cases, mutating
//!   valid inputs and the shipped policy files.
//!
//! Each target panics when a property fails; a crash found either way
//! becomes a unit test of the parser it hit.

use crate::policy::{Lang, PartyRole, Program};
use crate::{ApplicationNumber, CreditCode, IpcCode, Money, PublicationNumber};

/// A parser's canonical form parses again to itself.
macro_rules! round_trips {
    ($parsed:expr, $parse:path) => {
        if let Ok(value) = $parsed {
            let text = value.to_string();
            assert_eq!($parse(&text).as_ref().ok(), Some(&value), "canonical form {text:?} does not round-trip");
        }
    };
}

pub fn credit_code(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    round_trips!(CreditCode::parse(&text), CreditCode::parse);
    if let Ok(completed) = CreditCode::complete(&text) {
        assert_eq!(CreditCode::parse(&completed.to_string()).ok(), Some(completed));
    }
}

pub fn patent_numbers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    round_trips!(ApplicationNumber::parse(&text), ApplicationNumber::parse);
    round_trips!(PublicationNumber::parse(&text), PublicationNumber::parse);
    if let Ok(completed) = ApplicationNumber::complete(&text) {
        assert_eq!(ApplicationNumber::parse(&completed.to_string()).ok(), Some(completed));
    }
}

pub fn ipc_code(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(code) = IpcCode::parse(&text) {
        // The accessors slice the canonical form: they must not panic.
        let _ = (code.section(), code.class(), code.subclass(), code.main_group());
        assert_eq!(IpcCode::parse(code.as_str()).as_ref().ok(), Some(&code));
    }
}

/// A policy file: parsing never panics, and a program that parses can be
/// described, explained on any base, and written back canonically.
pub fn policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(program) = Program::from_toml(&text) else { return };
    let _ = (program.describe(Lang::Zh), program.describe(Lang::En));
    for fen in [0, 1, 99, 1_000_000, 123_456_789_012, i64::MAX / 2, i64::MAX] {
        let Ok(base) = Money::from_fen(fen) else { continue };
        for role in [PartyRole::Buyer, PartyRole::Seller, PartyRole::Agency] {
            let _ = program.explain(role, base);
        }
    }
    let canonical = program.canonical_toml();
    let again = Program::from_toml(&canonical)
        .unwrap_or_else(|e| panic!("the canonical form does not parse: {e}\n{canonical}"));
    assert_eq!(again.canonical_toml(), canonical);
}

/// SplitMix64: tiny, fixed and the same on every machine; the stream of
/// the tests that sample inputs (here and in `openapi`).
#[cfg(test)]
pub(crate) struct Generator(pub(crate) u64);

#[cfg(test)]
impl Generator {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `seed` changed in a few places: bytes replaced by ones from
    /// `alphabet` or random, removed, duplicated, or the input cut.
    pub(crate) fn mutate(&mut self, seed: &[u8], alphabet: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        for _ in 0..=self.below(4) {
            let at = if out.is_empty() { 0 } else { self.below(out.len() + 1) };
            match self.below(6) {
                0 if at < out.len() => out[at] = *self.pick(alphabet),
                1 if at < out.len() => out[at] = self.next() as u8,
                2 if at < out.len() => {
                    out.remove(at);
                }
                3 => out.insert(at, *self.pick(alphabet)),
                4 if at < out.len() => {
                    let end = (at + 1 + self.below(8)).min(out.len());
                    let copy = out[at..end].to_vec();
                    out.splice(at..at, copy);
                }
                _ => out.truncate(at),
            }
        }
        out
    }

    pub(crate) fn random(&mut self, alphabet: &[u8], max_len: usize) -> Vec<u8> {
        (0..self.below(max_len + 1)).map(|_| *self.pick(alphabet)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `target` on `cases` inputs: mutations of `seeds` and random
    /// strings over `alphabet`; names the input on a panic.
    fn drive(name: &str, target: fn(&[u8]), seeds: &[&[u8]], alphabet: &[u8], cases: usize) {
        let mut generator = Generator(0x7EC4_7AD3 ^ name.len() as u64);
        for seed in seeds {
            run(name, target, seed);
        }
        for case in 0..cases {
            let input = if case % 4 == 0 {
                generator.random(alphabet, 40)
            } else {
                let seed = generator.pick(seeds).to_vec();
                generator.mutate(&seed, alphabet)
            };
            run(name, target, &input);
        }
    }

    fn run(name: &str, target: fn(&[u8]), input: &[u8]) {
        if let Err(panic) = std::panic::catch_unwind(|| target(input)) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("?");
            panic!("fuzz target {name} failed on {:?}: {message}", String::from_utf8_lossy(input));
        }
    }

    const CASES: usize = 20_000;

    #[test]
    fn credit_codes() {
        let seeds: &[&[u8]] = &[b"91630100MA752C4W5R", b"91630100MA0000001", b"12100000400000624D", b""];
        drive("credit_code", credit_code, seeds, b"0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZ -\xe4\xb8\x80", CASES);
    }

    #[test]
    fn patent_number_forms() {
        let seeds: &[&[u8]] = &[
            b"201710601862.3",
            b"ZL201710601862.3",
            b"CN201710601862.3",
            b"CN107442071B",
            b"CN2017106018623",
            b"03123456.7",
            b"2017106018623",
            b"200810012345X",
        ];
        drive("patent_numbers", patent_numbers, seeds, b"0123456789.XxZLCNABUSY -", CASES);
    }

    #[test]
    fn ipc_codes() {
        let seeds: &[&[u8]] = &[b"G06F16/33", b"G06F", b"H01M10/54", b"C22B26/12", b"A01B1/00", b"G06F 16/33"];
        drive("ipc_code", ipc_code, seeds, b"ABCDEFGHXYZ0123456789/ .-", CASES);
    }

    fn shipped_policies() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/policies");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            files.push(std::fs::read(entry.unwrap().path()).unwrap());
        }
        files.sort();
        files
    }

    /// Every number of every shipped policy file replaced, one at a time,
    /// by values at and past the limits of the types behind them.
    #[test]
    fn policy_numbers_at_their_limits() {
        const EXTREMES: &[&str] =
            &["0", "-1", "9223372036854775807", "9223372036854775808", "99999999999999999999", "1e308", "0.000000001"];
        for file in shipped_policies() {
            let text = String::from_utf8(file).unwrap();
            let bytes = text.as_bytes();
            let mut at = 0;
            while at < bytes.len() {
                if !bytes[at].is_ascii_digit() {
                    at += 1;
                    continue;
                }
                let end = (at..bytes.len()).find(|&i| !bytes[i].is_ascii_digit()).unwrap_or(bytes.len());
                for extreme in EXTREMES {
                    let changed = format!("{}{extreme}{}", &text[..at], &text[end..]);
                    run("policy", policy, changed.as_bytes());
                }
                at = end;
            }
        }
    }

    #[test]
    fn policy_files() {
        let files = shipped_policies();
        let seeds: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        // Fewer cases: each is a whole file. The alphabet leans to what
        // moves numbers, rates and tables.
        drive("policy", policy, &seeds, b"0123456789%.-_ e+\"[]=\n#abcyz", CASES / 10);
    }
}

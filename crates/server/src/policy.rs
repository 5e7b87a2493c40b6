//! `techtrade policy check` and `techtrade policy explain`: what officials
//! who write subsidy policy files run before a file goes live.

use std::path::Path;

use techtrade_domain::Money;
use techtrade_domain::policy::{Lang, PartyRole, Program};

use crate::cli::{ClaimRole, Failure, PolicyCommand};

pub fn run(command: PolicyCommand) -> Result<(), Failure> {
    match command {
        PolicyCommand::Check { files, lang } => check(&files, parse_lang(&lang)?),
        PolicyCommand::Explain { file, base_fen, role } => explain(&file, base_fen, role),
    }
}

fn parse_lang(tag: &str) -> Result<Lang, Failure> {
    Lang::parse(tag).ok_or_else(|| Failure::usage(format!("--lang: '{tag}' is neither zh nor en")))
}

/// Reads and validates one file; the error names the file, the key and the problem.
fn load(file: &Path) -> Result<Program, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    Program::from_toml(&text).map_err(|e| format!("{}: {e}", file.display()))
}

fn check(files: &[std::path::PathBuf], lang: Lang) -> Result<(), Failure> {
    let mut invalid = 0;
    for file in files {
        match load(file) {
            Ok(program) => {
                println!(
                    "{}: {} — {} ({})",
                    file.display(),
                    program.id(),
                    program.name(),
                    program.authority().unwrap_or("-")
                );
                for line in program.describe(lang) {
                    println!("  - {line}");
                }
            }
            Err(message) => {
                invalid += 1;
                eprintln!("{message}");
            }
        }
    }
    let valid = files.len() - invalid;
    println!("{valid} valid, {invalid} invalid");
    if invalid > 0 { Err(Failure::failed(format!("{invalid} invalid policy file(s)"))) } else { Ok(()) }
}

fn explain(file: &Path, base_fen: i64, role: ClaimRole) -> Result<(), Failure> {
    let base = Money::from_fen(base_fen).map_err(|e| Failure::usage(format!("--base-fen: {e}")))?;
    let program = load(file).map_err(Failure::failed)?;
    let role = match role {
        ClaimRole::Buyer => PartyRole::Buyer,
        ClaimRole::Seller => PartyRole::Seller,
        ClaimRole::Agency => PartyRole::Agency,
    };
    println!("{} — {}, {} on a yearly base of {} yuan:", program.id(), program.name(), role.as_str(), base);
    for line in program.explain(role, base) {
        println!("  {line}");
    }
    Ok(())
}

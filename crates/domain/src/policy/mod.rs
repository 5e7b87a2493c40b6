//! Post-trade subsidy programs as data: the policy files of
//! `config/policies/` (format and semantics in POLICY.md) and the pure engine
//! that turns a claimant's deals into an amount, with reasons and
//! explanations.
//!
//! Nothing here knows a particular province: every rule set is a [`Program`]
//! read from TOML. The only I/O is [`Program::load_dir`], which start-up uses
//! to read the policy directory; everything else is a function of its inputs.
//!
//! - [`Program::from_toml`] parses and strictly validates one file;
//! - [`Program::calculate`] qualifies a claimant's deals and computes the claim;
//! - [`Program::accepts_claims`] says whether a year's claims are open;
//! - [`prorate`] and [`Program::final_amounts`] close a round against the budget;
//! - [`Program::describe`] and [`Program::explain`] say in plain words what a
//!   program pays, for operators.

mod budget;
mod calculate;
mod claims_open;
mod conditions;
mod describe;
mod error;
mod explain;
mod facts;
mod fields;
mod load;
mod outcome;
mod overrides;
mod parse;
mod program;
mod rate;
mod reason;
mod schedule;
mod vocabulary;

#[cfg(test)]
mod tests;

pub use budget::{ProrationError, prorate};
pub use claims_open::{ClaimsNotOpen, OpeningDay};
pub use describe::Lang;
pub use error::PolicyError;
pub use facts::{Claim, DealFacts, Party, Payment, Refund, YearBase};
pub use outcome::{Calculation, Ineligible, Line};
pub use program::{Program, Rule, Schedule, Tier};
pub use rate::Rate;
pub use reason::{Reason, ReasonCode};
pub use vocabulary::{Aggregate, BaseKind, ContractCategory, PartyRole, Proration, TierMode};

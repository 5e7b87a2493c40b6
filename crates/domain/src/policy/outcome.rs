//! What a calculation returns: the shape behind `POST
//! /subsidy/claims/preview` (API.md "Subsidy"), also stored with each claim.

use serde::{Deserialize, Serialize};

use super::reason::Reason;
use crate::money::Money;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calculation {
    /// Some deal qualifies under some rule (the amount may still be zero,
    /// for example when a rate rounds to nothing).
    pub eligible: bool,
    #[serde(rename = "amount_fen")]
    pub amount: Money,
    pub lines: Vec<Line>,
    pub ineligible: Vec<Ineligible>,
    pub explanation: String,
}

/// What one rule pays on one deal, or on the year's sum of deals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// `None` for a rule with `aggregate = "annual"`: its line covers the
    /// year's qualifying deals, named in the explanation.
    pub deal_id: Option<String>,
    pub rule_id: String,
    #[serde(rename = "base_fen")]
    pub base: Money,
    #[serde(rename = "amount_fen")]
    pub amount: Money,
    pub explanation: String,
}

/// A deal of the claimant that earns nothing under any rule, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ineligible {
    pub deal_id: String,
    pub reasons: Vec<Reason>,
}

impl Ineligible {
    /// The reason codes, in order: handy for callers and tests.
    pub fn codes(&self) -> Vec<&'static str> {
        self.reasons.iter().map(Reason::code).collect()
    }
}

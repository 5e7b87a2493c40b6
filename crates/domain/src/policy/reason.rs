//! Why a deal earns nothing: a stable code for programs and a sentence for
//! people. A deal that fails several conditions gets one reason for each.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::calculate::base_label;
use super::facts::Party;
use super::vocabulary::{BaseKind, ContractCategory, PartyRole};
use crate::listing::TradeMode;
use crate::money::Money;
use crate::organization::OrganizationKind;
use crate::violations::Coded;

/// The stable codes, serialised snake_case (`related_party`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The program has no rule paying the claimant's role.
    RoleNotCovered,
    NotRegistered,
    NoPaymentInYear,
    RelatedParty,
    NotCompleted,
    CategoryNotCovered,
    TradeModeNotCovered,
    ClaimantRegion,
    BuyerRegion,
    SellerRegion,
    ClaimantKind,
    BuyerKind,
    SellerKind,
    BelowMinimum,
    /// Earlier years counted the deal's whole base already.
    CountedInEarlierYears,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoleNotCovered => "role_not_covered",
            Self::NotRegistered => "not_registered",
            Self::NoPaymentInYear => "no_payment_in_year",
            Self::RelatedParty => "related_party",
            Self::NotCompleted => "not_completed",
            Self::CategoryNotCovered => "category_not_covered",
            Self::TradeModeNotCovered => "trade_mode_not_covered",
            Self::ClaimantRegion => "claimant_region",
            Self::BuyerRegion => "buyer_region",
            Self::SellerRegion => "seller_region",
            Self::ClaimantKind => "claimant_kind",
            Self::BuyerKind => "buyer_kind",
            Self::SellerKind => "seller_kind",
            Self::BelowMinimum => "below_minimum",
            Self::CountedInEarlierYears => "counted_in_earlier_years",
        }
    }
}

/// One failed condition. `rule_id` is set when the condition is a rule's
/// (the deal may still qualify under another rule); deal-wide conditions
/// such as registration have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    #[serde(rename = "code")]
    pub kind: ReasonCode,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rule_id: Option<String>,
    pub message: String,
}

impl Reason {
    pub fn code(&self) -> &'static str {
        self.kind.as_str()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    fn deal(kind: ReasonCode, message: String) -> Self {
        Self { kind, rule_id: None, message }
    }

    fn rule(kind: ReasonCode, rule_id: &str, message: String) -> Self {
        Self { kind, rule_id: Some(rule_id.to_string()), message: format!("rule {rule_id}: {message}") }
    }

    pub(super) fn role_not_covered(role: PartyRole) -> Self {
        Self::deal(ReasonCode::RoleNotCovered, format!("the program pays no {role}"))
    }

    pub(super) fn not_registered() -> Self {
        Self::deal(ReasonCode::NotRegistered, "the contract is not registered (技术合同认定登记)".to_string())
    }

    pub(super) fn no_payment_in_year(year: i32) -> Self {
        Self::deal(ReasonCode::NoPaymentInYear, format!("no confirmed payment dated in {year}"))
    }

    pub(super) fn related_party(rule_id: &str) -> Self {
        Self::rule(ReasonCode::RelatedParty, rule_id, "related-party deals are excluded".to_string())
    }

    pub(super) fn not_completed(rule_id: &str) -> Self {
        let message = "the deal is not completed (registered and paid in full)".to_string();
        Self::rule(ReasonCode::NotCompleted, rule_id, message)
    }

    pub(super) fn category(rule_id: &str, category: ContractCategory, covered: &[ContractCategory]) -> Self {
        let covered = covered.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
        let message = format!("{category} contracts are not covered (covered: {covered})");
        Self::rule(ReasonCode::CategoryNotCovered, rule_id, message)
    }

    pub(super) fn trade_mode(rule_id: &str, mode: Option<TradeMode>, covered: &[TradeMode]) -> Self {
        let covered = covered.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
        let message = match mode {
            Some(mode) => format!("trade mode {mode} is not covered (covered: {covered})"),
            None => format!("the deal has no agreed trade mode (covered: {covered})"),
        };
        Self::rule(ReasonCode::TradeModeNotCovered, rule_id, message)
    }

    /// `who` is `claimant`, `buyer` or `seller`.
    pub(super) fn region(kind: ReasonCode, rule_id: &str, who: &str, party: &Party, prefixes: &[String]) -> Self {
        let message = format!("the {who}'s region {} is not under {}", party.region_code, prefixes.join(", "));
        Self::rule(kind, rule_id, message)
    }

    pub(super) fn organization_kind(
        kind: ReasonCode,
        rule_id: &str,
        who: &str,
        party: &Party,
        kinds: &[OrganizationKind],
    ) -> Self {
        let kinds = kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
        let message = format!("the {who} is {}; the rule covers {kinds}", party.kind.as_str());
        Self::rule(kind, rule_id, message)
    }

    /// `of_year`: the minimum applied to the year's total rather than the deal.
    pub(super) fn below_minimum(rule_id: &str, base: Money, minimum: Money, of_year: bool) -> Self {
        let what = if of_year { "the year's total base" } else { "the base" };
        Self::rule(ReasonCode::BelowMinimum, rule_id, format!("{what} {base} is below the minimum {minimum}"))
    }

    pub(super) fn counted_in_earlier_years(rule_id: &str, base: BaseKind, earlier: Money, year: i32) -> Self {
        let message =
            format!("years before {year} counted the deal's whole {} ({earlier}); nothing is left", base_label(base));
        Self::rule(ReasonCode::CountedInEarlierYears, rule_id, message)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Coded for Reason {
    fn code(&self) -> &'static str {
        self.kind.as_str()
    }
}

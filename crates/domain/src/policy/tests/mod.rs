//! Tests of the engine as a whole: POLICY.md's worked examples, the shipped
//! policy files, validation messages and the finer points of calculation.
//! Money in test names and comments is yuan, as in POLICY.md; code uses fen.

mod calculation;
mod claims_open;
mod describe;
mod files;
mod overrides;
mod validation;
mod worked_examples;
mod years;

use chrono::NaiveDate;

use super::{Calculation, Claim, ContractCategory, DealFacts, Party, PartyRole, Payment, Program, YearBase};
use crate::listing::TradeMode;
use crate::money::Money;
use crate::organization::OrganizationKind;

pub(super) const YEAR: i32 = 2024;
pub(super) const BUYER: &str = "org-buyer";
pub(super) const SELLER: &str = "org-seller";
pub(super) const AGENCY: &str = "org-agency";

pub(super) fn fen(n: i64) -> Money {
    Money::from_fen(n).unwrap()
}

pub(super) fn yuan(n: i64) -> Money {
    fen(n * 100)
}

/// 万 yuan.
pub(super) fn wan(n: i64) -> Money {
    yuan(n * 10_000)
}

pub(super) fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

pub(super) fn party(id: &str, region: &str, kind: OrganizationKind) -> Party {
    Party { organization_id: id.to_string(), region_code: region.to_string(), kind }
}

pub(super) fn paid(on: NaiveDate, amount: Money) -> Payment {
    Payment { paid_on: on, amount, confirmed: true }
}

/// A registered development deal between a Nanjing enterprise (buyer) and a
/// Qinghai university (seller) through a Xining agency, with `paid` received
/// in mid-2024 and a registered technology amount of `registered`.
pub(super) fn deal(id: &str, registered: Money, paid_in_year: Money) -> DealFacts {
    DealFacts {
        deal_id: id.to_string(),
        category: ContractCategory::Development,
        trade_mode: Some(TradeMode::Assignment),
        related_party: false,
        registered: true,
        completed: true,
        registered_technology_amount: registered,
        contract_total: registered,
        buyer: party(BUYER, "320102", OrganizationKind::Enterprise),
        seller: party(SELLER, "630102", OrganizationKind::University),
        agency: Some(party(AGENCY, "630103", OrganizationKind::Agency)),
        payments: vec![paid(date(YEAR, 6, 30), paid_in_year)],
        refunds: Vec::new(),
    }
}

pub(super) fn claim(role: PartyRole, organization_id: &str) -> Claim {
    Claim { role, organization_id: organization_id.to_string(), year: YEAR }
}

pub(super) fn program(text: &str) -> Program {
    match Program::from_toml(text) {
        Ok(program) => program,
        Err(error) => panic!("{error}\n{text}"),
    }
}

/// The amounts of the lines, in order.
pub(super) fn line_amounts(calculation: &Calculation) -> Vec<Money> {
    calculation.lines.iter().map(|line| line.amount).collect()
}

/// (deal id, reason codes) of the ineligible deals.
pub(super) fn ineligible(calculation: &Calculation) -> Vec<(String, Vec<&'static str>)> {
    calculation.ineligible.iter().map(|i| (i.deal_id.clone(), i.codes())).collect()
}

//! What the engine is told about a claim and its deals. The caller gathers
//! these from the deal, contract, registration and payment records; the
//! engine reads nothing else.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::vocabulary::{BaseKind, ContractCategory, PartyRole};
use crate::listing::TradeMode;
use crate::money::Money;
use crate::organization::OrganizationKind;

/// One organisation's claim on one program, for one year and one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub role: PartyRole,
    pub organization_id: String,
    pub year: i32,
}

/// One deal as the subsidy rules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealFacts {
    pub deal_id: String,
    pub category: ContractCategory,
    /// The agreed trade mode; `None` when none was agreed.
    pub trade_mode: Option<TradeMode>,
    pub related_party: bool,
    /// Whether the contract passed 技术合同认定登记.
    pub registered: bool,
    /// Whether the deal is completed: registered and paid in full (交易完成).
    /// Absent in facts frozen before the field existed: read as not completed.
    #[serde(default)]
    pub completed: bool,
    /// 核定技术交易额 (zero when not registered).
    pub registered_technology_amount: Money,
    pub contract_total: Money,
    pub buyer: Party,
    pub seller: Party,
    pub agency: Option<Party>,
    pub payments: Vec<Payment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub organization_id: String,
    /// The organisation's GB/T 2260 code (`630102`).
    pub region_code: String,
    pub kind: OrganizationKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub paid_on: NaiveDate,
    pub amount: Money,
    /// Only confirmed payments count; pending or failed ones are listed for
    /// completeness and ignored.
    pub confirmed: bool,
}

impl DealFacts {
    /// The party that plays `role`, if the deal has one.
    pub fn party(&self, role: PartyRole) -> Option<&Party> {
        match role {
            PartyRole::Buyer => Some(&self.buyer),
            PartyRole::Seller => Some(&self.seller),
            PartyRole::Agency => self.agency.as_ref(),
        }
    }

    /// Confirmed payments dated in `year`.
    pub fn paid_in(&self, year: i32) -> Money {
        self.payments
            .iter()
            .filter(|payment| payment.confirmed && payment.paid_on.year() == year)
            .fold(Money::ZERO, |total, payment| saturating_add(total, payment.amount))
    }

    /// The deal's base of `kind` for `year` (POLICY.md "What is computed", 2).
    pub fn base(&self, kind: BaseKind, year: i32) -> Money {
        match kind {
            BaseKind::PaidAmount => self.paid_in(year),
            BaseKind::RegisteredTechnologyAmount => self.registered_technology_amount,
            BaseKind::PaidTechnologyAmount => self.paid_in(year).min(self.registered_technology_amount),
            BaseKind::ContractTotal => self.contract_total,
        }
    }
}

/// Sums of amounts that are each a valid `Money` could only pass i64::MAX fen
/// (92 trillion yuan) with corrupt data; saturating keeps the engine total
/// and the caps still apply on top of it.
pub(super) fn saturating_add(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap_or_else(|_| Money::from_fen(i64::MAX).unwrap_or(a))
}

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
    /// Money given back on the confirmed payments, each in the year it went
    /// back (absent in facts frozen before refunds were recorded).
    #[serde(default)]
    pub refunds: Vec<Refund>,
}

/// Money a payee gave back of a confirmed payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub refunded_on: NaiveDate,
    pub amount: Money,
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
        self.paid_where(|paid_year| paid_year == year)
    }

    /// Confirmed payments dated in `year` or before, less what was refunded
    /// in those years: a refund lowers the year it was made in, never an
    /// earlier one (whose claim may be paid already).
    fn paid_through(&self, year: i32) -> Money {
        let refunded = self
            .refunds
            .iter()
            .filter(|refund| refund.refunded_on.year() <= year)
            .fold(Money::ZERO, |total, refund| saturating_add(total, refund.amount));
        self.paid_where(|paid_year| paid_year <= year).checked_sub(refunded).unwrap_or(Money::ZERO)
    }

    fn paid_where(&self, counts: impl Fn(i32) -> bool) -> Money {
        self.payments
            .iter()
            .filter(|payment| payment.confirmed && counts(payment.paid_on.year()))
            .fold(Money::ZERO, |total, payment| saturating_add(total, payment.amount))
    }

    /// What a base of `kind` counts of the deal over every year up to and
    /// including `year`. A whole-contract amount (the registered technology
    /// amount, the contract total) counts once, in the first year with a
    /// confirmed payment; the paid technology amount never passes the
    /// registered amount, however many years the payments span.
    fn counted_through(&self, kind: BaseKind, year: i32) -> Money {
        let paid = self.paid_through(year);
        let once_paid = |amount: Money| if paid > Money::ZERO { amount } else { Money::ZERO };
        match kind {
            BaseKind::PaidAmount => paid,
            BaseKind::PaidTechnologyAmount => paid.min(self.registered_technology_amount),
            BaseKind::RegisteredTechnologyAmount => once_paid(self.registered_technology_amount),
            BaseKind::ContractTotal => once_paid(self.contract_total),
        }
    }

    /// The deal's base of `kind` for `year` (POLICY.md "What is computed",
    /// 2): what is counted through the year less what earlier years counted,
    /// so that each fen of a deal's base is counted in one year only.
    pub fn base(&self, kind: BaseKind, year: i32) -> YearBase {
        let through = self.counted_through(kind, year);
        let earlier = self.counted_through(kind, year.saturating_sub(1));
        // A refund can make the count through a year fall below the count
        // before it: that year counts nothing, and the earlier years' counts
        // stand (a refunded fen paid again is then not counted twice).
        YearBase { amount: through.checked_sub(earlier).unwrap_or(Money::ZERO), earlier }
    }
}

/// A deal's base for one year, with what the years before it counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearBase {
    /// What this year counts.
    pub amount: Money,
    /// What earlier years counted: subtracted from what is counted through
    /// this year to give `amount`.
    pub earlier: Money,
}

impl YearBase {
    /// What is counted through this year, earlier years included.
    pub fn through(self) -> Money {
        saturating_add(self.amount, self.earlier)
    }
}

/// Sums of amounts that are each a valid `Money` could only pass i64::MAX fen
/// (92 trillion yuan) with corrupt data; saturating keeps the engine total
/// and the caps still apply on top of it.
pub(super) fn saturating_add(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap_or_else(|_| Money::from_fen(i64::MAX).unwrap_or(a))
}

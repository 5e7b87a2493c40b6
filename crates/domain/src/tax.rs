//! Tax guidance on a registered technology contract — guidance only, for
//! the parties to take to their tax office, never a ruling:
//!
//! - **VAT** (财税〔2016〕36号, 附件3 第一条第(二十六)项): technology
//!   transfer (its ownership or its use: transfers and licences) and
//!   technology development are exempt; consulting and services only when
//!   related to such a transfer or development and invoiced with it.
//! - **Corporate income tax** on technology-transfer income (企业所得税法
//!   第二十七条, 实施条例第九十条; 财税〔2010〕111号, 国家税务总局公告2015年
//!   第82号): of a resident enterprise's technology-transfer income in a
//!   year, the first 500万 yuan is exempt and the excess taxed at half,
//!   for transfers and for licences of five years or more; not between
//!   parties that hold 100% of each other (directly or indirectly).
//!
//! The income-tax figures are those of this contract alone: the 500万 is
//! counted over the seller's whole year, so the office's figures show the
//! most this contract can be exempt, not what the seller's year gives.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::Money;
use crate::deal::ContractCategory;

/// 500万 yuan, in fen.
pub const ANNUAL_EXEMPT_FEN: i64 = 500_000_000;
/// A licence counts for the income-tax relief at five years or more.
pub const LICENCE_YEARS: u32 = 5;

/// Whether a relief applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Relief {
    Applies,
    /// Applies only under a condition the platform cannot see (stated in `note`).
    Conditional,
    DoesNotApply,
}

/// What the registration suggests for VAT and for income tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaxGuidance {
    /// Always: guidance, not a ruling of the tax office.
    pub notice: String,
    pub vat: Relief,
    pub vat_note: String,
    pub income_tax: Relief,
    pub income_tax_note: String,
    /// Of this contract's 技术交易额 as registered: at most this much of the
    /// seller's year is exempt from income tax…
    pub income_tax_exempt_fen: i64,
    /// …and the rest is taxed at half the rate.
    pub income_tax_halved_fen: i64,
}

/// What a registration says that the guidance reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisteredContract {
    pub category: ContractCategory,
    /// 技术交易额 as registered.
    pub technology_amount: Money,
    pub signed_on: NaiveDate,
    pub valid_until: NaiveDate,
    /// The parties declared themselves related (关联交易).
    pub related_party: bool,
}

/// The guidance for `contract`.
pub fn guidance(contract: &RegisteredContract) -> TaxGuidance {
    use ContractCategory as C;
    let (vat, vat_note) = match contract.category {
        C::Transfer | C::License | C::Development => (
            Relief::Applies,
            "技术转让（含许可）、技术开发收入免征增值税（财税〔2016〕36号），须持本登记证明向主管税务机关备查"
                .to_string(),
        ),
        C::Consulting | C::Service => (
            Relief::Conditional,
            "技术咨询、技术服务仅在与技术转让或技术开发相关且价款开具在同一张发票上时免征增值税（财税〔2016〕36号）"
                .to_string(),
        ),
    };
    let five_years = contract
        .signed_on
        .checked_add_months(Months::new(LICENCE_YEARS * 12))
        .is_some_and(|five| contract.valid_until >= five);
    let technology = contract.technology_amount.fen();
    let (income_tax, income_tax_note) = match contract.category {
        C::Transfer => (Relief::Applies, "技术所有权转让所得".to_string()),
        C::License if five_years => (Relief::Applies, "五年以上（含）许可使用权转让所得".to_string()),
        C::License => {
            (Relief::DoesNotApply, "许可期限不足五年，不适用技术转让所得减免（财税〔2015〕116号）".to_string())
        }
        C::Development | C::Consulting | C::Service => {
            (Relief::DoesNotApply, "技术转让所得减免仅适用于技术转让及五年以上许可".to_string())
        }
    };
    let (income_tax, income_tax_note) = match income_tax {
        Relief::Applies if contract.related_party => (
            Relief::Conditional,
            format!("{income_tax_note}；双方申报为关联方：100%直接或间接控股关联方之间的技术转让所得不享受减免"),
        ),
        Relief::Applies => (
            Relief::Applies,
            format!(
                "{income_tax_note}：一个纳税年度内不超过500万元的部分免征、超过部分减半征收企业所得税（按全年合计）"
            ),
        ),
        other => (other, income_tax_note),
    };
    let (exempt, halved) = match income_tax {
        Relief::DoesNotApply => (0, 0),
        _ => (technology.min(ANNUAL_EXEMPT_FEN), technology.saturating_sub(ANNUAL_EXEMPT_FEN).max(0)),
    };
    TaxGuidance {
        notice: "以下为税收政策提示，仅供参考，不构成税务机关的认定；以主管税务机关的认定为准。".to_string(),
        vat,
        vat_note,
        income_tax,
        income_tax_note,
        income_tax_exempt_fen: exempt,
        income_tax_halved_fen: halved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a day")
    }

    fn contract(category: ContractCategory, yuan: i64, until: &str, related: bool) -> RegisteredContract {
        RegisteredContract {
            category,
            technology_amount: Money::from_fen(yuan * 100).expect("money"),
            signed_on: day("2026-03-01"),
            valid_until: day(until),
            related_party: related,
        }
    }

    #[test]
    fn a_transfer_is_exempt_from_vat_and_its_first_five_million_from_income_tax() {
        let g = guidance(&contract(ContractCategory::Transfer, 8_000_000, "2027-03-01", false));
        assert_eq!((g.vat, g.income_tax), (Relief::Applies, Relief::Applies));
        assert_eq!((g.income_tax_exempt_fen, g.income_tax_halved_fen), (500_000_000, 300_000_000));
        let small = guidance(&contract(ContractCategory::Transfer, 1_000_000, "2027-03-01", false));
        assert_eq!((small.income_tax_exempt_fen, small.income_tax_halved_fen), (100_000_000, 0));
    }

    #[test]
    fn a_licence_needs_five_years_for_the_income_tax_relief() {
        let five = guidance(&contract(ContractCategory::License, 100, "2031-03-01", false));
        assert_eq!(five.income_tax, Relief::Applies);
        let short = guidance(&contract(ContractCategory::License, 100, "2031-02-28", false));
        assert_eq!(
            (short.vat, short.income_tax, short.income_tax_exempt_fen),
            (Relief::Applies, Relief::DoesNotApply, 0)
        );
    }

    #[test]
    fn services_are_conditional_and_related_parties_are_warned() {
        let service = guidance(&contract(ContractCategory::Service, 100, "2027-03-01", false));
        assert_eq!((service.vat, service.income_tax), (Relief::Conditional, Relief::DoesNotApply));
        let development = guidance(&contract(ContractCategory::Development, 100, "2027-03-01", false));
        assert_eq!((development.vat, development.income_tax), (Relief::Applies, Relief::DoesNotApply));
        let related = guidance(&contract(ContractCategory::Transfer, 100, "2027-03-01", true));
        assert_eq!(related.income_tax, Relief::Conditional);
        assert!(related.income_tax_note.contains("100%"));
        assert!(related.notice.contains("仅供参考"));
    }
}

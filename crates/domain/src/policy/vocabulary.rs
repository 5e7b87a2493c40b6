//! The words of a policy file: roles, contract categories, bases,
//! aggregation, tier modes and pro-rating. Each has one spelling in files,
//! in JSON and in the database.

use serde::{Deserialize, Serialize};

/// Contract categories are the deal's vocabulary; policies condition on them.
pub use crate::deal::ContractCategory;

vocabulary! {
    /// The claimant's part in a deal. `agency` is the deal's technology
    /// transfer agency (技术转移机构).
    PartyRole { Buyer = "buyer", Seller = "seller", Agency = "agency" }
}

vocabulary! {
    /// What a rule's rate applies to, for one deal and one year.
    BaseKind {
        /// min(paid_amount, registered_technology_amount).
        PaidTechnologyAmount = "paid_technology_amount",
        /// Confirmed payments dated in the year.
        PaidAmount = "paid_amount",
        /// 核定技术交易额 from the registration.
        RegisteredTechnologyAmount = "registered_technology_amount",
        /// The contract's total amount.
        ContractTotal = "contract_total",
    }
}

vocabulary! {
    /// Whether rate, minimum and tiers apply to each contract or to the year's sum.
    Aggregate { PerContract = "per_contract", Annual = "annual" }
}

vocabulary! {
    /// How tiers apply: each slice at its own rate, or the whole base at its bracket's rate.
    TierMode { Marginal = "marginal", Bracket = "bracket" }
}

vocabulary! {
    /// What closing a round does when approved claims exceed the budget.
    Proration {
        /// Each claim shrinks in proportion, so the round pays exactly the budget.
        Proportional = "proportional",
        /// Closing is refused; officials must lower approved amounts first.
        None = "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for &category in ContractCategory::ALL {
            assert_eq!(ContractCategory::from_db(category.as_str()), Some(category));
        }
        assert_eq!(BaseKind::from_db("paid_technology_amount"), Some(BaseKind::PaidTechnologyAmount));
        assert_eq!(PartyRole::spellings(), "buyer, seller, agency");
        assert_eq!(Proration::from_db("pro-rata"), None);
    }
}

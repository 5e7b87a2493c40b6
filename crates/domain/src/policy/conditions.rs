//! Qualification: whether a deal counts for a claim at all (registered,
//! paid in the year), whether it meets a rule's conditions, and whether
//! earlier years left anything of its base to count. Every failed condition
//! becomes a [`Reason`]; nothing stops at the first.

use super::facts::{DealFacts, Party, YearBase};
use super::program::Rule;
use super::reason::{Reason, ReasonCode};
use super::vocabulary::PartyRole;
use crate::money::Money;

/// Conditions of every program (POLICY.md "What is computed", 1).
pub(super) fn deal_reasons(deal: &DealFacts, year: i32) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if !deal.registered {
        reasons.push(Reason::not_registered());
    }
    if deal.paid_in(year) == Money::ZERO {
        reasons.push(Reason::no_payment_in_year(year));
    }
    reasons
}

impl Rule {
    /// The rule's conditions that `deal` fails when claimed in `role`.
    pub(super) fn failed_conditions(&self, deal: &DealFacts, role: PartyRole) -> Vec<Reason> {
        let id = self.id.as_str();
        let mut failed = Vec::new();
        if self.exclude_related_party && deal.related_party {
            failed.push(Reason::related_party(id));
        }
        if self.require_completed && !deal.completed {
            failed.push(Reason::not_completed(id));
        }
        if !self.contract_categories.contains(&deal.category) {
            failed.push(Reason::category(id, deal.category, &self.contract_categories));
        }
        if let Some(modes) = &self.trade_modes
            && !deal.trade_mode.is_some_and(|mode| modes.contains(&mode))
        {
            failed.push(Reason::trade_mode(id, deal.trade_mode, modes));
        }
        use ReasonCode::{BuyerKind, BuyerRegion, ClaimantKind, ClaimantRegion, SellerKind, SellerRegion};
        let parties = [
            (deal.party(role), "claimant", &self.claimant_region, ClaimantRegion, &self.claimant_kinds, ClaimantKind),
            (Some(&deal.buyer), "buyer", &self.buyer_region, BuyerRegion, &self.buyer_kinds, BuyerKind),
            (Some(&deal.seller), "seller", &self.seller_region, SellerRegion, &self.seller_kinds, SellerKind),
        ];
        for (party, who, regions, region_code, kinds, kind_code) in parties {
            let Some(party) = party else { continue };
            if let Some(prefixes) = regions
                && !in_region(party, prefixes)
            {
                failed.push(Reason::region(region_code, id, who, party, prefixes));
            }
            if let Some(kinds) = kinds
                && !kinds.contains(&party.kind)
            {
                failed.push(Reason::organization_kind(kind_code, id, who, party, kinds));
            }
        }
        failed
    }

    /// The deal's base under this rule for `year`, or why nothing is left of
    /// it. A payment in the year is not enough: a deal whose base earlier
    /// years already counted in full (its registered amount reached, its
    /// contract total counted) would otherwise qualify again with nothing,
    /// or, for a whole-contract base, with everything a second time.
    pub(super) fn year_base(&self, deal: &DealFacts, year: i32) -> Result<YearBase, Reason> {
        let base = deal.base(self.base, year);
        if base.amount == Money::ZERO && base.earlier > Money::ZERO {
            return Err(Reason::counted_in_earlier_years(&self.id, self.base, base.earlier, year));
        }
        Ok(base)
    }
}

fn in_region(party: &Party, prefixes: &[String]) -> bool {
    prefixes.iter().any(|prefix| party.region_code.starts_with(prefix.as_str()))
}

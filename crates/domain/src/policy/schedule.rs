//! Turning one base into an amount: a flat rate, marginal tiers (each slice
//! at its own rate, like income tax) or bracket tiers (the whole base at the
//! rate of its bracket, under that bracket's cap). The explanation says what
//! was applied so that an official can redo the sum by hand.

use super::program::{Schedule, Tier};
use super::vocabulary::TierMode;
use crate::money::Money;

/// An amount and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Applied {
    pub amount: Money,
    pub explanation: String,
}

impl Schedule {
    pub(super) fn apply(&self, base: Money) -> Applied {
        match self {
            Self::Rate(rate) => {
                let amount = rate.apply(base);
                Applied { amount, explanation: format!("{rate} of {base} = {amount}") }
            }
            Self::Tiers { mode: TierMode::Marginal, tiers } => marginal(tiers, base),
            Self::Tiers { mode: TierMode::Bracket, tiers } => bracket(tiers, base),
        }
    }
}

/// Each slice is rounded to the fen on its own, so the slices shown add up
/// to the total shown.
fn marginal(tiers: &[Tier], base: Money) -> Applied {
    let mut lower = Money::ZERO;
    let mut total = Money::ZERO;
    let mut parts = Vec::new();
    for tier in tiers {
        if base <= lower {
            break;
        }
        let top = tier.up_to_fen.map_or(base, |upper| upper.min(base));
        // top > lower: base > lower, and validated bounds increase.
        let slice = top.checked_sub(lower).unwrap_or(Money::ZERO);
        let amount = tier.rate.apply(slice);
        // The slices' amounts add up to at most the base: no overflow.
        total = total.checked_add(amount).unwrap_or(total);
        parts.push(format!("{} of {slice} (from {lower} to {top}) = {amount}", tier.rate));
        match tier.up_to_fen {
            Some(upper) => lower = upper,
            None => break,
        }
    }
    let explanation = match parts.len() {
        0 => format!("marginal tiers: nothing on a base of {base}"),
        1 => format!("marginal tiers: {}", parts.join("")),
        _ => format!("marginal tiers: {}; total {total}", parts.join(" + ")),
    };
    Applied { amount: total, explanation }
}

/// A base equal to a bracket's `up_to_fen` belongs to the next bracket.
fn bracket(tiers: &[Tier], base: Money) -> Applied {
    let index = tiers.iter().position(|tier| tier.up_to_fen.is_none_or(|upper| base < upper)).unwrap_or(0);
    let Some(tier) = tiers.get(index) else {
        return Applied { amount: Money::ZERO, explanation: "no tiers".to_string() };
    };
    let lower = index.checked_sub(1).and_then(|i| tiers.get(i)).and_then(|t| t.up_to_fen);
    let range = bracket_range(lower, tier.up_to_fen);
    let computed = tier.rate.apply(base);
    let mut explanation = format!("bracket {} ({range}): {} of {base} = {computed}", index + 1, tier.rate);
    let amount = match tier.cap_fen {
        Some(cap) if computed > cap => {
            explanation.push_str(&format!(", capped at the bracket's {cap}"));
            cap
        }
        _ => computed,
    };
    Applied { amount, explanation }
}

fn bracket_range(lower: Option<Money>, upper: Option<Money>) -> String {
    match (lower, upper) {
        (None, None) => "any base".to_string(),
        (None, Some(upper)) => format!("below {upper}"),
        (Some(lower), Some(upper)) => format!("{lower} to below {upper}"),
        (Some(lower), None) => format!("{lower} and above"),
    }
}

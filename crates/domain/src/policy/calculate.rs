//! The claim computation: qualify each of the claimant's deals, compute the
//! bases, apply each rule per contract or to the year's sum, then the caps,
//! and add the rules up (POLICY.md "What is computed").
//!
//! A deal's base for the year is what it counts through the year less what
//! earlier years counted (`DealFacts::base`), and a line that subtracts
//! something says so, so that a claimant can see why a year's base is
//! smaller than the year's payments.
//!
//! Caps that bind on several lines (a rule's yearly cap, the program's cap
//! per claimant) are taken from the lines in order: earlier lines keep their
//! amount and the line that crosses the cap is cut. Callers pass deals in a
//! stable order (oldest first), so the same claim always splits the same way.

use super::conditions::deal_reasons;
use super::facts::{Claim, DealFacts, YearBase, saturating_add};
use super::outcome::{Calculation, Ineligible, Line};
use super::program::{Program, Rule};
use super::reason::Reason;
use super::vocabulary::{Aggregate, BaseKind};
use crate::money::Money;

/// The claimant's deals and what has been found about them so far.
struct Work<'a> {
    year: i32,
    deals: Vec<&'a DealFacts>,
    /// Per deal: the reasons it earns nothing (deal-wide ones first).
    reasons: Vec<Vec<Reason>>,
    /// Per deal: whether a deal-wide condition already rules it out.
    excluded: Vec<bool>,
    /// Per deal: whether some line pays on it.
    paid: Vec<bool>,
    lines: Vec<Line>,
}

impl Program {
    /// What `claim` earns from `deals`. Only deals in which the claimant
    /// plays the claimed role are looked at; the others are ignored.
    pub fn calculate(&self, claim: &Claim, deals: &[DealFacts]) -> Calculation {
        let deals: Vec<&DealFacts> = deals
            .iter()
            .filter(|deal| deal.party(claim.role).is_some_and(|party| party.organization_id == claim.organization_id))
            .collect();
        let reasons: Vec<Vec<Reason>> = deals.iter().map(|deal| deal_reasons(deal, claim.year)).collect();
        let excluded = reasons.iter().map(|reasons| !reasons.is_empty()).collect();
        let paid = vec![false; deals.len()];
        let mut work = Work { year: claim.year, deals, reasons, excluded, paid, lines: Vec::new() };

        let rules: Vec<&Rule> = self.rules_for(claim.role).collect();
        if rules.is_empty() {
            for reasons in &mut work.reasons {
                reasons.push(Reason::role_not_covered(claim.role));
            }
        }
        for rule in rules {
            work.apply(rule, claim);
        }
        let claimant_capped = self
            .cap_per_claimant_year_fen
            .is_some_and(|cap| apply_cap(&mut work.lines, cap, "the program's cap per claimant and year"));

        let amount = work.lines.iter().fold(Money::ZERO, |total, line| saturating_add(total, line.amount));
        let qualifying = work.paid.iter().filter(|paid| **paid).count();
        let mut explanation = format!("{} {} claim for {}: ", self.id, claim.role, claim.year);
        if work.deals.is_empty() {
            explanation.push_str(&format!("the claimant has no deals as {}", claim.role));
        } else {
            explanation.push_str(&format!("{qualifying} of {} deals qualify; total {amount}", work.deals.len()));
            if let Some(cap) = self.cap_per_claimant_year_fen.filter(|_| claimant_capped) {
                explanation.push_str(&format!(" after the program's cap of {cap} per claimant and year"));
            }
        }

        let ineligible = work
            .deals
            .iter()
            .zip(work.reasons)
            .zip(&work.paid)
            .filter(|(_, paid)| !**paid)
            .map(|((deal, reasons), _)| Ineligible { deal_id: deal.deal_id.clone(), reasons })
            .collect();
        Calculation { eligible: !work.lines.is_empty(), amount, lines: work.lines, ineligible, explanation }
    }
}

impl Work<'_> {
    fn apply(&mut self, rule: &Rule, claim: &Claim) {
        let mut qualifying = Vec::new();
        for (index, deal) in self.deals.iter().enumerate() {
            let failed = rule.failed_conditions(deal, claim.role);
            if failed.is_empty() && !self.excluded[index] {
                match rule.year_base(deal, self.year) {
                    Ok(base) => qualifying.push((index, base)),
                    Err(reason) => self.reasons[index].push(reason),
                }
            }
            self.reasons[index].extend(failed);
        }
        match rule.aggregate {
            Aggregate::PerContract => self.per_contract(rule, &qualifying),
            Aggregate::Annual => self.annual(rule, &qualifying),
        }
    }

    fn per_contract(&mut self, rule: &Rule, qualifying: &[(usize, YearBase)]) {
        let first = self.lines.len();
        for &(index, year_base) in qualifying {
            let base = year_base.amount;
            if base < rule.min_base_fen {
                self.reasons[index].push(Reason::below_minimum(&rule.id, base, rule.min_base_fen, false));
                continue;
            }
            let applied = rule.schedule.apply(base);
            let mut amount = applied.amount;
            let mut explanation = format!(
                "{}: {} {}; {}",
                rule.id,
                base_label(rule.base),
                base_text(year_base, self.year),
                applied.explanation
            );
            if let Some(cap) = rule.cap_per_contract_fen
                && amount > cap
            {
                explanation.push_str(&format!("; capped at {cap} per contract"));
                amount = cap;
            }
            let deal_id = Some(self.deals[index].deal_id.clone());
            self.lines.push(Line { deal_id, rule_id: rule.id.clone(), base, amount, explanation });
            self.paid[index] = true;
        }
        if let Some(cap) = rule.cap_per_year_fen {
            apply_cap(&mut self.lines[first..], cap, "the rule's yearly cap");
        }
    }

    /// Rate, minimum and tiers on the year's sum: one line for the rule.
    fn annual(&mut self, rule: &Rule, qualifying: &[(usize, YearBase)]) {
        if qualifying.is_empty() {
            return;
        }
        let base = qualifying.iter().fold(Money::ZERO, |total, &(_, base)| saturating_add(total, base.amount));
        if base < rule.min_base_fen {
            for &(index, _) in qualifying {
                self.reasons[index].push(Reason::below_minimum(&rule.id, base, rule.min_base_fen, true));
            }
            return;
        }
        let parts: Vec<String> = qualifying
            .iter()
            .map(|&(index, base)| format!("{} {}", self.deals[index].deal_id, base_text(base, self.year)))
            .collect();
        let applied = rule.schedule.apply(base);
        let explanation = format!(
            "{}: year's total {} {base} ({}); {}",
            rule.id,
            base_label(rule.base),
            parts.join(" + "),
            applied.explanation
        );
        let mut line = Line { deal_id: None, rule_id: rule.id.clone(), base, amount: applied.amount, explanation };
        if let Some(cap) = rule.cap_per_year_fen {
            apply_cap(std::slice::from_mut(&mut line), cap, "the rule's yearly cap");
        }
        self.lines.push(line);
        for &(index, _) in qualifying {
            self.paid[index] = true;
        }
    }
}

/// Cuts `lines`, in order, so that they add up to at most `cap`; true when
/// something was cut.
pub(super) fn apply_cap(lines: &mut [Line], cap: Money, what: &str) -> bool {
    let mut used = Money::ZERO;
    let mut cut = false;
    for line in lines {
        let room = cap.checked_sub(used).unwrap_or(Money::ZERO);
        if line.amount > room {
            line.explanation.push_str(&format!("; reduced from {} to {room} by {what} of {cap}", line.amount));
            line.amount = room;
            cut = true;
        }
        used = saturating_add(used, line.amount);
    }
    cut
}

/// A deal's base for `year` as a line shows it: the amount, and when
/// earlier years counted part of the deal, what is counted through the year
/// and what they counted (`250,000.00 (1,000,000.00 through 2025 less
/// 750,000.00 counted in earlier years)`).
fn base_text(base: YearBase, year: i32) -> String {
    if base.earlier == Money::ZERO {
        return base.amount.to_string();
    }
    format!("{} ({} through {year} less {} counted in earlier years)", base.amount, base.through(), base.earlier)
}

pub(super) fn base_label(base: BaseKind) -> &'static str {
    match base {
        BaseKind::PaidTechnologyAmount => "paid technology amount",
        BaseKind::PaidAmount => "paid amount",
        BaseKind::RegisteredTechnologyAmount => "registered technology amount",
        BaseKind::ContractTotal => "contract total",
    }
}

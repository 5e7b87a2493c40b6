//! `techtrade policy explain FILE --base-fen N --role buyer`: what each rule
//! for a role pays on a given yearly base, as if one qualifying deal had that
//! base (so per-contract and annual rules agree), step by step.

use super::calculate::apply_cap;
use super::facts::saturating_add;
use super::outcome::Line;
use super::program::{Program, Rule};
use super::vocabulary::PartyRole;
use crate::money::Money;

impl Program {
    /// One line per rule paying `role`, then the total.
    pub fn explain(&self, role: PartyRole, base: Money) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut total = Money::ZERO;
        for rule in self.rules_for(role) {
            let line = rule.explain(base);
            total = saturating_add(total, line.amount);
            lines.push(line.explanation);
        }
        if lines.is_empty() {
            return vec![format!("{}: no rule pays the {role}", self.id)];
        }
        let mut summary = Line {
            deal_id: None,
            rule_id: String::new(),
            base,
            amount: total,
            explanation: format!("total for the {role} on a base of {base}: {total}"),
        };
        if let Some(cap) = self.cap_per_claimant_year_fen
            && apply_cap(std::slice::from_mut(&mut summary), cap, "the program's cap per claimant and year")
        {
            summary.explanation.push_str(&format!(" → {}", summary.amount));
        }
        lines.push(summary.explanation);
        lines
    }
}

impl Rule {
    fn explain(&self, base: Money) -> Line {
        let mut line =
            Line { deal_id: None, rule_id: self.id.clone(), base, amount: Money::ZERO, explanation: String::new() };
        if base < self.min_base_fen {
            line.explanation =
                format!("{}: nothing: the base {base} is below the minimum {}", self.id, self.min_base_fen);
            return line;
        }
        let applied = self.schedule.apply(base);
        line.amount = applied.amount;
        line.explanation = format!("{}: {}", self.id, applied.explanation);
        if let Some(cap) = self.cap_per_contract_fen
            && line.amount > cap
        {
            line.explanation.push_str(&format!("; capped at {cap} per contract"));
            line.amount = cap;
        }
        if let Some(cap) = self.cap_per_year_fen {
            apply_cap(std::slice::from_mut(&mut line), cap, "the rule's yearly cap");
        }
        line.explanation.push_str(&format!(" → {}", line.amount));
        line
    }
}

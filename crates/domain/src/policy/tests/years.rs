//! A deal paid over several years: each fen of its base is counted in one
//! year only. Before, each year's base was capped on its own, so a
//! registration of 100万 paid 75万 in 2024 and 75万 in 2025 gave a paid
//! technology amount of 75万 in each year (150万 of base on 100万
//! registered), and whole-contract bases (registered amount, contract total)
//! counted again in every year with a payment.

use super::*;
use crate::policy::{BaseKind, ReasonCode};

/// A deal registered at `registered` with these payments, per year.
fn paid_over_years(id: &str, registered: Money, payments: &[(i32, Money)]) -> DealFacts {
    let mut facts = deal(id, registered, Money::ZERO);
    facts.payments = payments.iter().map(|&(year, amount)| paid(date(year, 6, 30), amount)).collect();
    facts
}

fn claim_for(year: i32) -> Claim {
    Claim { year, ..claim(PartyRole::Buyer, BUYER) }
}

fn rule(base: BaseKind, aggregate: &str) -> Program {
    program(&format!(
        "id = \"years\"\nname = \"Years\"\n[[rules]]\nid = \"r\"\nrole = \"buyer\"\nbase = \"{base}\"\n\
         aggregate = \"{aggregate}\"\nrate = \"5%\"\n"
    ))
}

#[test]
fn a_registration_paid_over_two_years_counts_its_registered_amount_once() {
    // 100万 registered, 75万 paid in 2024 and 75万 in 2025: 75万 then 25万.
    let facts = paid_over_years("d", wan(100), &[(2024, wan(75)), (2025, wan(75))]);
    let base = |year| facts.base(BaseKind::PaidTechnologyAmount, year);
    assert_eq!(base(2024), YearBase { amount: wan(75), earlier: Money::ZERO });
    assert_eq!(base(2025), YearBase { amount: wan(25), earlier: wan(75) });
    assert_eq!(base(2025).through(), wan(100));
    assert_eq!(base(2026), YearBase { amount: Money::ZERO, earlier: wan(100) });

    for aggregate in ["per_contract", "annual"] {
        let program = rule(BaseKind::PaidTechnologyAmount, aggregate);
        let first = program.calculate(&claim_for(2024), std::slice::from_ref(&facts));
        assert_eq!((first.lines[0].base, first.amount), (wan(75), yuan(37_500)), "{aggregate}");
        assert!(!first.lines[0].explanation.contains("earlier years"), "{}", first.lines[0].explanation);

        let second = program.calculate(&claim_for(2025), std::slice::from_ref(&facts));
        assert_eq!((second.lines[0].base, second.amount), (wan(25), yuan(12_500)), "{aggregate}");
        // The line says what it subtracted and why.
        assert!(
            second.lines[0]
                .explanation
                .contains("250,000.00 (1,000,000.00 through 2025 less 750,000.00 counted in earlier years)"),
            "{}",
            second.lines[0].explanation
        );
    }
}

#[test]
fn a_base_counted_in_full_by_earlier_years_earns_nothing_and_says_why() {
    // 100万 registered, all paid in 2024; 50万 more paid in 2025 (beyond the registered amount).
    let facts = paid_over_years("d", wan(100), &[(2024, wan(100)), (2025, wan(50))]);
    let program = rule(BaseKind::PaidTechnologyAmount, "per_contract");
    let result = program.calculate(&claim_for(2025), std::slice::from_ref(&facts));
    assert!(!result.eligible);
    assert_eq!(ineligible(&result), [("d".to_string(), vec!["counted_in_earlier_years"])]);
    let reason = &result.ineligible[0].reasons[0];
    assert_eq!(reason.kind, ReasonCode::CountedInEarlierYears);
    assert_eq!(reason.rule_id.as_deref(), Some("r"));
    assert_eq!(
        reason.message,
        "rule r: years before 2025 counted the deal's whole paid technology amount (1,000,000.00); nothing is left"
    );
}

#[test]
fn whole_contract_bases_count_in_the_first_year_paid_only() {
    let mut facts = paid_over_years("d", wan(100), &[(2024, wan(50)), (2025, wan(50))]);
    facts.contract_total = wan(120);
    for (kind, whole) in [(BaseKind::RegisteredTechnologyAmount, wan(100)), (BaseKind::ContractTotal, wan(120))] {
        assert_eq!(facts.base(kind, 2023), YearBase { amount: Money::ZERO, earlier: Money::ZERO }, "{kind}");
        assert_eq!(facts.base(kind, 2024), YearBase { amount: whole, earlier: Money::ZERO }, "{kind}");
        assert_eq!(facts.base(kind, 2025), YearBase { amount: Money::ZERO, earlier: whole }, "{kind}");
        let program = rule(kind, "annual");
        // 5% of the whole amount, once.
        let first = program.calculate(&claim_for(2024), std::slice::from_ref(&facts));
        assert_eq!(first.amount, fen(whole.fen() / 20), "{kind}");
        let later = program.calculate(&claim_for(2025), std::slice::from_ref(&facts));
        assert_eq!(ineligible(&later), [("d".to_string(), vec!["counted_in_earlier_years"])], "{kind}");
    }
}

#[test]
fn paid_amounts_count_each_payment_in_its_own_year() {
    let facts = paid_over_years("d", wan(100), &[(2024, wan(75)), (2025, wan(75))]);
    assert_eq!(facts.base(BaseKind::PaidAmount, 2024).amount, wan(75));
    assert_eq!(facts.base(BaseKind::PaidAmount, 2025), YearBase { amount: wan(75), earlier: wan(75) });
}

#[test]
fn over_any_span_of_years_a_deal_counts_each_base_once() {
    let mut facts =
        paid_over_years("d", wan(100), &[(2022, wan(30)), (2023, wan(0)), (2024, wan(45)), (2026, wan(60))]);
    facts.contract_total = wan(140);
    let expected_totals = [
        (BaseKind::PaidAmount, wan(135)),
        (BaseKind::PaidTechnologyAmount, wan(100)),
        (BaseKind::RegisteredTechnologyAmount, wan(100)),
        (BaseKind::ContractTotal, wan(140)),
    ];
    for (kind, total) in expected_totals {
        let counted =
            (2015..=2035).map(|year| facts.base(kind, year).amount).fold(Money::ZERO, |a, b| a.checked_add(b).unwrap());
        assert_eq!(counted, total, "{kind}");
    }
}

#[test]
fn a_refund_lowers_the_year_it_was_made_in_and_a_fen_paid_again_counts_once() {
    // 100万 registered, paid in full in 2024 (claimed then); 30万 refunded
    // and paid again in 2025: 2025 counts nothing more.
    let mut facts = paid_over_years("d1", wan(100), &[(2024, wan(100)), (2025, wan(30))]);
    facts.refunds = vec![super::super::Refund { refunded_on: date(2025, 3, 1), amount: wan(30) }];
    assert_eq!(facts.base(BaseKind::PaidTechnologyAmount, 2024).amount, wan(100));
    assert_eq!(facts.base(BaseKind::PaidTechnologyAmount, 2025).amount, Money::ZERO);
    assert_eq!(facts.base(BaseKind::PaidAmount, 2025).amount, Money::ZERO);
    // Refunded in 2025 and not paid again: 2025 counts nothing, 2024 stands.
    let mut refunded = paid_over_years("d2", wan(100), &[(2024, wan(100))]);
    refunded.refunds = vec![super::super::Refund { refunded_on: date(2025, 3, 1), amount: wan(40) }];
    assert_eq!(refunded.base(BaseKind::PaidTechnologyAmount, 2024).amount, wan(100));
    assert_eq!(refunded.base(BaseKind::PaidTechnologyAmount, 2025).amount, Money::ZERO);
    // A refund in the year of the payment lowers that year.
    let mut same_year = paid_over_years("d3", wan(100), &[(2025, wan(100))]);
    same_year.refunds = vec![super::super::Refund { refunded_on: date(2025, 9, 1), amount: wan(25) }];
    assert_eq!(same_year.base(BaseKind::PaidTechnologyAmount, 2025).amount, wan(75));
}

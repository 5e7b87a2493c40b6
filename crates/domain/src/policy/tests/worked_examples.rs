//! POLICY.md "Worked examples", with the programs written inline; `files.rs`
//! runs the same checks on the shipped files.

use super::*;

pub(super) const NANJING: &str = r#"
id = "nanjing-2021"
name = "南京市技术交易奖补"
authority = "南京市科学技术局"
budget_fen = 5000000000
proration = "proportional"

[[rules]]
id = "buyer-local"
role = "buyer"
contract_categories = ["development", "transfer", "license"]
exclude_related_party = true
aggregate = "annual"
rate = "5%"
cap_per_year_fen = 100000000
"#;

pub(super) const SANMING: &str = r#"
id = "sanming"
name = "三明市技术交易奖补"

[[rules]]
id = "seller-tiers"
role = "seller"
aggregate = "annual"
tier_mode = "marginal"
cap_per_year_fen = 5000000

[[rules.tiers]]
up_to_fen = 10000000
rate = "1%"

[[rules.tiers]]
up_to_fen = 100000000
rate = "0.5%"

[[rules.tiers]]
rate = "0.1%"
"#;

/// Nanjing, buyer: 800万 paid on 800万 registered → 40万.
pub(super) fn nanjing_one_deal(program: &Program) {
    let result = program.calculate(&claim(PartyRole::Buyer, BUYER), &[deal("d1", wan(800), wan(800))]);
    assert!(result.eligible);
    assert_eq!(result.amount, wan(40));
    assert_eq!(result.lines.len(), 1);
    let line = &result.lines[0];
    assert_eq!((line.deal_id.as_deref(), line.base), (None, wan(800)));
    assert_eq!(
        line.explanation,
        "buyer-local: year's total paid technology amount 8,000,000.00 (d1 8,000,000.00); \
         5% of 8,000,000.00 = 400,000.00"
    );
    assert!(result.ineligible.is_empty());
}

/// Nanjing, buyer: 3000万 contract with 2000万 registered and 1500万 paid → 75万;
/// with a second deal of 800万 → 115万, capped at 100万.
pub(super) fn nanjing_yearly_cap(program: &Program) {
    let mut big = deal("d2", wan(2000), wan(1000));
    big.contract_total = wan(3000);
    big.payments.push(paid(date(YEAR, 11, 2), wan(500)));
    // Neither last year's payment nor an unconfirmed one counts.
    big.payments.push(paid(date(YEAR - 1, 12, 31), wan(300)));
    big.payments.push(Payment { confirmed: false, ..paid(date(YEAR, 12, 1), wan(400)) });
    let buyer = claim(PartyRole::Buyer, BUYER);

    let alone = program.calculate(&buyer, std::slice::from_ref(&big));
    assert_eq!((alone.amount, alone.lines[0].base), (wan(75), wan(1500)));

    let both = program.calculate(&buyer, &[big, deal("d3", wan(800), wan(800))]);
    assert_eq!(both.amount, wan(100));
    assert_eq!(line_amounts(&both), [wan(100)]);
    assert_eq!(both.lines[0].base, wan(2300));
    assert!(
        both.lines[0].explanation.ends_with(
            "5% of 23,000,000.00 = 1,150,000.00; \
             reduced from 1,150,000.00 to 1,000,000.00 by the rule's yearly cap of 1,000,000.00"
        ),
        "{}",
        both.lines[0].explanation
    );
    assert_eq!(both.explanation, "nanjing-2021 buyer claim for 2024: 2 of 2 deals qualify; total 1,000,000.00");
}

/// Nanjing, buyer: a related-party deal is excluded with reason `related_party`.
pub(super) fn nanjing_related_party(program: &Program) {
    let mut related = deal("d4", wan(100), wan(100));
    related.related_party = true;
    let result = program.calculate(&claim(PartyRole::Buyer, BUYER), &[related, deal("d5", wan(10), wan(10))]);
    assert_eq!(result.amount, yuan(5_000));
    assert_eq!(ineligible(&result), [("d4".to_string(), vec!["related_party"])]);
    assert_eq!(result.ineligible[0].reasons[0].message, "rule buyer-local: related-party deals are excluded");
    assert_eq!(result.ineligible[0].reasons[0].rule_id.as_deref(), Some("buyer-local"));

    let mut only_related = deal("d6", wan(100), wan(100));
    only_related.related_party = true;
    let none = program.calculate(&claim(PartyRole::Buyer, BUYER), &[only_related]);
    assert!(!none.eligible);
    assert_eq!(none.amount, Money::ZERO);
}

/// Sanming, seller: marginal tiers 1% to 10万, 0.5% to 100万, 0.1% above; capped at 5万.
pub(super) fn sanming_tiers(program: &Program) {
    let seller = claim(PartyRole::Seller, SELLER);
    let cases = [(wan(8), yuan(800)), (wan(50), yuan(3_000)), (wan(500), yuan(9_500)), (wan(5_000), yuan(50_000))];
    for (received, expected) in cases {
        let result = program.calculate(&seller, &[deal("s1", received, received)]);
        assert_eq!(result.amount, expected, "{received}");
    }
    let fifty = program.calculate(&seller, &[deal("s1", wan(50), wan(50))]);
    assert!(fifty.lines[0].explanation.ends_with(
        "marginal tiers: 1% of 100,000.00 (from 0.00 to 100,000.00) = 1,000.00 + \
         0.5% of 400,000.00 (from 100,000.00 to 500,000.00) = 2,000.00; total 3,000.00"
    ));
    let capped = program.calculate(&seller, &[deal("s1", wan(5_000), wan(5_000))]);
    assert!(capped.lines[0].explanation.ends_with(
        "0.1% of 49,000,000.00 (from 1,000,000.00 to 50,000,000.00) = 49,000.00; total 54,500.00; \
         reduced from 54,500.00 to 50,000.00 by the rule's yearly cap of 50,000.00"
    ));
}

#[test]
fn nanjing_buyer_one_deal_of_8_million_earns_400_thousand() {
    nanjing_one_deal(&program(NANJING));
}

#[test]
fn nanjing_buyer_1_15_million_in_a_year_is_capped_at_1_million() {
    nanjing_yearly_cap(&program(NANJING));
}

#[test]
fn nanjing_buyer_related_party_deal_is_excluded() {
    nanjing_related_party(&program(NANJING));
}

#[test]
fn sanming_seller_marginal_tiers() {
    sanming_tiers(&program(SANMING));
}

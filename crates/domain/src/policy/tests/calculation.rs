//! The calculation beyond the worked examples: brackets, caps, minimums,
//! several rules, conditions, bases and which deals count.

use super::*;
use crate::policy::BaseKind;

fn one_rule(rule: &str) -> Program {
    program(&format!("id = \"test\"\nname = \"Test\"\n\n[[rules]]\nid = \"r\"\n{rule}"))
}

const BRACKETS: &str = r#"
role = "buyer"
tier_mode = "bracket"

[[rules.tiers]]
up_to_fen = 10000000       # below 10万: 1%, at most 800
rate = "1%"
cap_fen = 80000

[[rules.tiers]]
up_to_fen = 100000000      # 10万 to below 100万: 2%
rate = "2%"

[[rules.tiers]]
rate = "3%"                # 100万 and above: 3%
"#;

#[test]
fn bracket_tiers_apply_one_rate_to_the_whole_base() {
    let rules = one_rule(BRACKETS);
    let buyer = claim(PartyRole::Buyer, BUYER);
    let cases = [
        (wan(5), yuan(500)),
        (fen(9_999_999), yuan(800)), // 1% would be 999.99: the bracket's cap
        (wan(10), yuan(2_000)),      // equal to up_to_fen: the next bracket
        (wan(50), yuan(10_000)),
        (wan(100), yuan(30_000)),
    ];
    for (base, expected) in cases {
        let result = rules.calculate(&buyer, &[deal("b1", base, base)]);
        assert_eq!(result.amount, expected, "{base}");
    }
    let capped = rules.calculate(&buyer, &[deal("b1", fen(9_999_999), fen(9_999_999))]);
    assert_eq!(
        capped.lines[0].explanation,
        "r: paid technology amount 99,999.99; bracket 1 (below 100,000.00): 1% of 99,999.99 = 1,000.00, \
         capped at the bracket's 800.00"
    );
    let boundary = rules.calculate(&buyer, &[deal("b1", wan(10), wan(10))]);
    assert!(boundary.lines[0].explanation.contains("bracket 2 (100,000.00 to below 1,000,000.00): 2%"));
    let top = rules.calculate(&buyer, &[deal("b1", wan(100), wan(100))]);
    assert!(top.lines[0].explanation.contains("bracket 3 (1,000,000.00 and above): 3% of 1,000,000.00"));
}

#[test]
fn per_contract_caps_then_the_yearly_cap_in_deal_order() {
    let capped = one_rule("role = \"buyer\"\nrate = \"10%\"\ncap_per_contract_fen = 5000000\n");
    let deals = [deal("a", wan(100), wan(100)), deal("b", wan(30), wan(30))];
    let result = capped.calculate(&claim(PartyRole::Buyer, BUYER), &deals);
    assert_eq!(line_amounts(&result), [wan(5), wan(3)]);
    assert_eq!(result.lines[0].deal_id.as_deref(), Some("a"));
    assert!(
        result.lines[0].explanation.ends_with("10% of 1,000,000.00 = 100,000.00; capped at 50,000.00 per contract")
    );

    let yearly =
        one_rule("role = \"buyer\"\nrate = \"10%\"\ncap_per_contract_fen = 5000000\ncap_per_year_fen = 7000000\n");
    let deals = [deal("a", wan(100), wan(100)), deal("b", wan(30), wan(30)), deal("c", wan(1), wan(1))];
    let result = yearly.calculate(&claim(PartyRole::Buyer, BUYER), &deals);
    assert_eq!(line_amounts(&result), [wan(5), wan(2), Money::ZERO]);
    assert_eq!(result.amount, wan(7));
    assert!(
        result.lines[1]
            .explanation
            .ends_with("reduced from 30,000.00 to 20,000.00 by the rule's yearly cap of 70,000.00")
    );
    assert!(
        result.lines[2].explanation.ends_with("reduced from 1,000.00 to 0.00 by the rule's yearly cap of 70,000.00")
    );
    // Every deal qualified, even the one the cap left nothing for.
    assert!(result.ineligible.is_empty());
}

#[test]
fn below_the_minimum_base_pays_nothing() {
    let per_contract = one_rule("role = \"buyer\"\nrate = \"5%\"\nmin_base_fen = 10000000\n");
    let deals = [deal("small", wan(5), wan(5)), deal("large", wan(20), wan(20)), deal("exact", wan(10), wan(10))];
    let result = per_contract.calculate(&claim(PartyRole::Buyer, BUYER), &deals);
    assert_eq!(line_amounts(&result), [wan(1), yuan(5_000)]);
    assert_eq!(ineligible(&result), [("small".to_string(), vec!["below_minimum"])]);
    assert_eq!(result.ineligible[0].reasons[0].message, "rule r: the base 50,000.00 is below the minimum 100,000.00");

    let annual = one_rule("role = \"buyer\"\naggregate = \"annual\"\nrate = \"5%\"\nmin_base_fen = 10000000\n");
    let short =
        annual.calculate(&claim(PartyRole::Buyer, BUYER), &[deal("a", wan(4), wan(4)), deal("b", wan(5), wan(5))]);
    assert!(!short.eligible);
    assert_eq!(
        ineligible(&short),
        [("a".to_string(), vec!["below_minimum"]), ("b".to_string(), vec!["below_minimum"])]
    );
    assert!(short.ineligible[0].reasons[0].message.contains("the year's total base 90,000.00 is below the minimum"));
    let enough =
        annual.calculate(&claim(PartyRole::Buyer, BUYER), &[deal("a", wan(4), wan(4)), deal("b", wan(6), wan(6))]);
    assert_eq!(enough.amount, yuan(5_000));
}

const TWO_RULES: &str = r#"
id = "two-rules"
name = "Two rules"
cap_per_claimant_year_fen = 6000000       # 6万

[[rules]]
id = "base-award"
role = "buyer"
rate = "5%"

[[rules]]
id = "assignment-bonus"
role = "buyer"
trade_modes = ["assignment"]
claimant_kinds = ["enterprise"]
rate = "1%"

[[rules]]
id = "seller-award"
role = "seller"
rate = "50%"
"#;

#[test]
fn rules_for_a_role_add_up_under_the_claimant_cap() {
    let mut equity = deal("equity", wan(50), wan(50));
    equity.trade_mode = Some(TradeMode::Equity);
    let deals = [deal("assigned", wan(100), wan(100)), equity];
    let result = program(TWO_RULES).calculate(&claim(PartyRole::Buyer, BUYER), &deals);
    let lines: Vec<(&str, Option<&str>, Money)> =
        result.lines.iter().map(|l| (l.rule_id.as_str(), l.deal_id.as_deref(), l.amount)).collect();
    // 5万 + 2.5万 + 1万 = 8.5万, cut to 6万 in line order.
    assert_eq!(
        lines,
        [
            ("base-award", Some("assigned"), wan(5)),
            ("base-award", Some("equity"), wan(1)),
            ("assignment-bonus", Some("assigned"), Money::ZERO),
        ]
    );
    assert_eq!(result.amount, wan(6));
    assert!(
        result.lines[1]
            .explanation
            .ends_with("reduced from 25,000.00 to 10,000.00 by the program's cap per claimant and year of 60,000.00")
    );
    assert_eq!(
        result.explanation,
        "two-rules buyer claim for 2024: 2 of 2 deals qualify; total 60,000.00 \
         after the program's cap of 60,000.00 per claimant and year"
    );

    let small = program(TWO_RULES).calculate(&claim(PartyRole::Buyer, BUYER), &[deal("assigned", wan(10), wan(10))]);
    assert_eq!(line_amounts(&small), [yuan(5_000), yuan(1_000)]);
    assert_eq!(small.amount, yuan(6_000));
}

const EVERY_CONDITION: &str = r#"
role = "seller"
contract_categories = ["transfer", "license"]
trade_modes = ["exclusive_license", "sole_license"]
claimant_region = ["6301"]
claimant_kinds = ["institute"]
buyer_region = ["63"]
buyer_kinds = ["enterprise"]
seller_region = ["630102"]
seller_kinds = ["institute", "university"]
rate = "5%"
"#;

#[test]
fn every_failed_condition_is_a_reason() {
    let rules = one_rule(EVERY_CONDITION);
    let seller = claim(PartyRole::Seller, SELLER);

    let mut fits = deal("fits", wan(10), wan(10));
    fits.category = ContractCategory::License;
    fits.trade_mode = Some(TradeMode::SoleLicense);
    fits.buyer = party(BUYER, "632801", OrganizationKind::Enterprise);
    fits.seller = party(SELLER, "630102", OrganizationKind::Institute);

    let mut fails = deal("fails", wan(10), wan(10));
    fails.related_party = true;
    fails.category = ContractCategory::Consulting;
    fails.trade_mode = Some(TradeMode::Equity);
    fails.buyer = party(BUYER, "320102", OrganizationKind::University);
    fails.seller = party(SELLER, "110108", OrganizationKind::Enterprise);

    let mut no_mode = fits.clone();
    no_mode.deal_id = "no-mode".to_string();
    no_mode.trade_mode = None;

    let result = rules.calculate(&seller, &[fits, fails, no_mode]);
    assert_eq!(line_amounts(&result), [yuan(5_000)]);
    assert_eq!(
        ineligible(&result),
        [
            (
                "fails".to_string(),
                vec![
                    "related_party",
                    "category_not_covered",
                    "trade_mode_not_covered",
                    "claimant_region",
                    "claimant_kind",
                    "buyer_region",
                    "buyer_kind",
                    "seller_region",
                    "seller_kind",
                ]
            ),
            ("no-mode".to_string(), vec!["trade_mode_not_covered"]),
        ]
    );
    let messages: Vec<&str> = result.ineligible[0].reasons.iter().map(|r| r.message()).collect();
    assert_eq!(messages[1], "rule r: consulting contracts are not covered (covered: transfer, license)");
    assert_eq!(messages[3], "rule r: the claimant's region 110108 is not under 6301");
    assert_eq!(messages[6], "rule r: the buyer is university; the rule covers enterprise");
    assert_eq!(
        result.ineligible[1].reasons[0].message,
        "rule r: the deal has no agreed trade mode (covered: exclusive_license, sole_license)"
    );
}

#[test]
fn only_registered_deals_paid_in_the_year_count() {
    let rules = one_rule("role = \"buyer\"\nrate = \"10%\"\n");
    let mut mixed = deal("mixed", wan(100), wan(1));
    mixed.payments.push(paid(date(YEAR - 1, 12, 31), wan(20)));
    mixed.payments.push(paid(date(YEAR + 1, 1, 1), wan(30)));
    mixed.payments.push(Payment { confirmed: false, ..paid(date(YEAR, 3, 1), wan(40)) });
    let mut last_year = deal("last-year", wan(100), wan(100));
    last_year.payments[0].paid_on = date(YEAR - 1, 6, 1);
    let mut unconfirmed = deal("unconfirmed", wan(100), wan(100));
    unconfirmed.payments[0].confirmed = false;
    let mut unregistered = deal("unregistered", wan(100), wan(100));
    unregistered.registered = false;
    unregistered.payments.clear();

    let result = rules.calculate(&claim(PartyRole::Buyer, BUYER), &[mixed, last_year, unconfirmed, unregistered]);
    assert_eq!((result.lines.len(), result.lines[0].base, result.amount), (1, wan(1), yuan(1_000)));
    assert_eq!(
        ineligible(&result),
        [
            ("last-year".to_string(), vec!["no_payment_in_year"]),
            ("unconfirmed".to_string(), vec!["no_payment_in_year"]),
            ("unregistered".to_string(), vec!["not_registered", "no_payment_in_year"]),
        ]
    );
    assert_eq!(result.ineligible[0].reasons[0].message, "no confirmed payment dated in 2024");
    assert_eq!(result.ineligible[0].reasons[0].rule_id, None);
}

#[test]
fn each_base_reads_its_own_amount() {
    let mut facts = deal("d", wan(200), wan(150));
    facts.contract_total = wan(300);
    facts.payments.push(paid(date(YEAR, 9, 1), wan(100)));
    // Paid 250万 in the year on 200万 registered, of a 300万 contract.
    let expected = [
        (BaseKind::PaidTechnologyAmount, wan(200)),
        (BaseKind::PaidAmount, wan(250)),
        (BaseKind::RegisteredTechnologyAmount, wan(200)),
        (BaseKind::ContractTotal, wan(300)),
    ];
    for (base, amount) in expected {
        let rules = one_rule(&format!("role = \"buyer\"\nbase = \"{base}\"\nrate = \"100%\"\n"));
        let result = rules.calculate(&claim(PartyRole::Buyer, BUYER), std::slice::from_ref(&facts));
        assert_eq!((result.lines[0].base, result.amount), (amount, amount), "{base}");
    }
}

#[test]
fn only_deals_where_the_claimant_has_the_role_count() {
    let rules = program(TWO_RULES);
    let mut elsewhere = deal("elsewhere", wan(10), wan(10));
    elsewhere.buyer.organization_id = "someone-else".to_string();
    let deals = [deal("mine", wan(10), wan(10)), elsewhere];

    let buyer = rules.calculate(&claim(PartyRole::Buyer, BUYER), &deals);
    assert_eq!(buyer.lines.iter().filter_map(|l| l.deal_id.as_deref()).collect::<Vec<_>>(), ["mine", "mine"]);

    // Both deals have the same seller: 50% of 10万 twice, under the 6万 cap.
    let seller = rules.calculate(&claim(PartyRole::Seller, SELLER), &deals);
    assert_eq!(line_amounts(&seller), [wan(5), wan(1)]);

    // The program pays no agency: the agency's deals say so.
    let agency = rules.calculate(&claim(PartyRole::Agency, AGENCY), &deals);
    assert!(!agency.eligible);
    assert_eq!(agency.ineligible.len(), 2);
    assert_eq!(agency.ineligible[0].codes(), ["role_not_covered"]);

    let stranger = rules.calculate(&claim(PartyRole::Buyer, "nobody"), &deals);
    assert!(!stranger.eligible && stranger.lines.is_empty() && stranger.ineligible.is_empty());
    assert_eq!(stranger.explanation, "two-rules buyer claim for 2024: the claimant has no deals as buyer");
}

#[test]
fn a_deal_needs_only_one_rule_to_be_eligible() {
    let rules = program(
        r#"
id = "either"
name = "Either"
[[rules]]
id = "local"
role = "buyer"
buyer_region = ["63"]
rate = "2%"
[[rules]]
id = "licences"
role = "buyer"
contract_categories = ["license"]
rate = "1%"
"#,
    );
    let mut licence = deal("licence", wan(10), wan(10));
    licence.category = ContractCategory::License;
    let result = rules.calculate(&claim(PartyRole::Buyer, BUYER), &[licence, deal("neither", wan(10), wan(10))]);
    assert_eq!(result.lines.iter().map(|l| l.rule_id.as_str()).collect::<Vec<_>>(), ["licences"]);
    assert_eq!(ineligible(&result), [("neither".to_string(), vec!["buyer_region", "category_not_covered"])]);
    assert_eq!(result.ineligible[0].reasons[1].rule_id.as_deref(), Some("licences"));
}

#[test]
fn outputs_serialise_in_the_preview_shape() {
    let rules = one_rule("role = \"buyer\"\nrate = \"5%\"\n");
    let result = rules.calculate(&claim(PartyRole::Buyer, BUYER), &[deal("d", wan(10), wan(10))]);
    let line = toml::Value::try_from(&result.lines[0]).unwrap();
    assert_eq!(line.get("base_fen").and_then(toml::Value::as_integer), Some(10_000_000));
    assert_eq!(line.get("amount_fen").and_then(toml::Value::as_integer), Some(500_000));
    assert_eq!(line.get("deal_id").and_then(toml::Value::as_str), Some("d"));

    let mut unregistered = deal("u", wan(1), wan(1));
    unregistered.registered = false;
    let refused = rules.calculate(&claim(PartyRole::Buyer, BUYER), &[unregistered]);
    let reason = toml::Value::try_from(&refused.ineligible[0].reasons[0]).unwrap();
    assert_eq!(reason.get("code").and_then(toml::Value::as_str), Some("not_registered"));
    assert!(reason.get("message").is_some());
}

//! What-if overrides: merged into the file and validated like a file.

use super::worked_examples::{NANJING, SANMING};
use super::*;

fn toml_value(text: &str) -> toml::Value {
    toml::Value::Table(text.parse().unwrap())
}

#[test]
fn a_changed_rate_and_cap_change_the_amount() {
    let nanjing = program(NANJING);
    let what_if = nanjing
        .with_overrides(&toml_value("[[rules]]\nid = \"buyer-local\"\nrate = \"6%\"\ncap_per_year_fen = 0\n"))
        .unwrap();
    let deals = [deal("d1", wan(2000), wan(2000))];
    assert_eq!(nanjing.calculate(&claim(PartyRole::Buyer, BUYER), &deals).amount, wan(100));
    assert_eq!(what_if.calculate(&claim(PartyRole::Buyer, BUYER), &deals).amount, wan(120));
    // The original is untouched.
    assert_eq!(nanjing, program(NANJING));
}

#[test]
fn a_new_schedule_replaces_the_old_and_new_rules_are_added() {
    let overrides = toml_value(
        "budget_fen = 100\n\
         [[rules]]\nid = \"seller-tiers\"\nrate = \"2%\"\n\
         [[rules]]\nid = \"buyer-new\"\nrole = \"buyer\"\nrate = \"1%\"\n",
    );
    let what_if = program(SANMING).with_overrides(&overrides).unwrap();
    assert_eq!(what_if.budget(), Some(fen(100)));
    let ids: Vec<&str> = what_if.rules().iter().map(|r| r.id()).collect();
    assert_eq!(ids, ["seller-tiers", "buyer-new"]);
    let result = what_if.calculate(&claim(PartyRole::Seller, SELLER), &[deal("s", wan(50), wan(50))]);
    assert_eq!(result.amount, wan(1));
}

#[test]
fn bad_overrides_are_refused_with_their_path() {
    let nanjing = program(NANJING);
    let cases = [
        ("[[rules]]\nid = \"buyer-local\"\nrate = \"150%\"\n", "rules[0].rate", "cannot exceed 100%"),
        ("[[rules]]\nrate = \"1%\"\n", "rules[0].id", "names the rule"),
        ("[[rules]]\nid = \"new\"\nrate = \"1%\"\n", "rules[1].role", "missing"),
        ("id = \"other\"\n", "id", "keeps the program's id"),
        ("budgets = 5\n", "budgets", "unknown key"),
    ];
    for (text, path, fragment) in cases {
        let error = nanjing.with_overrides(&toml_value(text)).unwrap_err();
        assert_eq!(error.path, path, "{text}\n→ {error}");
        assert!(error.message.contains(fragment), "{text}\n→ {error}");
    }
    let error = nanjing.with_overrides(&toml::Value::Integer(5)).unwrap_err();
    assert_eq!(error.path, "(overrides)");
}

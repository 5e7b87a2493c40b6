//! Bad policy files: each is refused with the exact key path and a message
//! that says what to write instead.

use super::*;
use crate::policy::PolicyError;

const HEAD: &str = "id = \"test\"\nname = \"Test\"\n";

/// The error for a program made of `HEAD` and `body`.
fn error(body: &str) -> PolicyError {
    let text = format!("{HEAD}{body}");
    match Program::from_toml(&text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error,
    }
}

/// (path, a fragment of the message) for each body.
fn assert_errors(cases: &[(&str, &str, &str)]) {
    for (body, path, fragment) in cases {
        let error = error(body);
        assert_eq!(error.path, *path, "{body}\n→ {error}");
        assert!(error.message.contains(fragment), "{body}\n→ {error}\n(expected \"{fragment}\")");
    }
}

const RULE: &str = "[[rules]]\nid = \"r\"\nrole = \"buyer\"\n";

#[test]
fn unknown_keys_are_named() {
    assert_errors(&[
        ("budget = 5\n[[rules]]\nid = \"r\"\nrole = \"buyer\"\nrate = \"5%\"\n", "budget", "unknown key `budget`"),
        (&format!("{RULE}rat = \"5%\"\n"), "rules[0].rat", "unknown key `rat`; allowed here: id, role"),
        (
            &format!("{RULE}tier_mode = \"marginal\"\n[[rules.tiers]]\nrate = \"1%\"\nupto_fen = 5\n"),
            "rules[0].tiers[0].upto_fen",
            "unknown key `upto_fen`; allowed here: up_to_fen, rate, cap_fen",
        ),
    ]);
    assert_eq!(
        error(&format!("{RULE}rat = \"5%\"\n")).to_string(),
        "rules[0].rat: unknown key `rat`; allowed here: id, role, contract_categories, trade_modes, claimant_region, \
         buyer_region, seller_region, claimant_kinds, buyer_kinds, seller_kinds, exclude_related_party, require_completed, base, \
         aggregate, min_base_fen, rate, tier_mode, tiers, cap_per_contract_fen, cap_per_year_fen"
    );
}

#[test]
fn rates_are_exact_percent_strings_up_to_100() {
    let tiered = |rate: &str| {
        format!(
            "{RULE}rate = \"1%\"\n[[rules]]\nid = \"t\"\nrole = \"seller\"\ntier_mode = \"marginal\"\n\
             [[rules.tiers]]\nrate = \"{rate}\"\n"
        )
    };
    assert_errors(&[
        (&format!("{RULE}rate = \"100.5%\"\n"), "rules[0].rate", "cannot exceed 100%"),
        (&tiered("120%"), "rules[1].tiers[0].rate", "cannot exceed 100%"),
        (&format!("{RULE}rate = \"-1%\"\n"), "rules[0].rate", "cannot be negative"),
        (&format!("{RULE}rate = \"5\"\n"), "rules[0].rate", "percent string such as \"5%\""),
        (&format!("{RULE}rate = 0.05\n"), "rules[0].rate", "found a decimal number (0.05)"),
        (&format!("{RULE}rate = 5\n"), "rules[0].rate", "found an integer (5)"),
        (&format!("{RULE}rate = \"0.00001%\"\n"), "rules[0].rate", "at most four decimals"),
    ]);
}

#[test]
fn a_rule_has_either_a_rate_or_tiers() {
    let tiers = "[[rules.tiers]]\nrate = \"1%\"\n";
    assert_errors(&[
        (RULE, "rules[0]", "needs either `rate` or `tiers`"),
        (&format!("{RULE}rate = \"1%\"\ntier_mode = \"marginal\"\n{tiers}"), "rules[0]", "not both"),
        (
            &format!("{RULE}{tiers}"),
            "rules[0].tier_mode",
            "missing; `tiers` need a tier_mode, one of: marginal, bracket",
        ),
        (&format!("{RULE}rate = \"1%\"\ntier_mode = \"bracket\"\n"), "rules[0].tier_mode", "goes with `tiers`"),
        (&format!("{RULE}tier_mode = \"steps\"\n{tiers}"), "rules[0].tier_mode", "unknown value \"steps\""),
        (&format!("{RULE}tier_mode = \"bracket\"\ntiers = []\n"), "rules[0].tiers", "at least one"),
    ]);
}

#[test]
fn tiers_go_up_and_only_the_last_is_open() {
    let tier = |up_to: Option<i64>, extra: &str| match up_to {
        Some(bound) => format!("[[rules.tiers]]\nup_to_fen = {bound}\nrate = \"1%\"\n{extra}"),
        None => format!("[[rules.tiers]]\nrate = \"1%\"\n{extra}"),
    };
    let marginal = format!("{RULE}tier_mode = \"marginal\"\n");
    let bracket = format!("{RULE}tier_mode = \"bracket\"\n");
    assert_errors(&[
        (
            &format!("{marginal}{}{}{}", tier(Some(500), ""), tier(Some(500), ""), tier(None, "")),
            "rules[0].tiers[1].up_to_fen",
            "must be greater than the previous tier's up_to_fen (500)",
        ),
        (
            &format!("{marginal}{}{}{}", tier(Some(500), ""), tier(Some(100), ""), tier(None, "")),
            "rules[0].tiers[1].up_to_fen",
            "tiers go from low to high",
        ),
        (
            &format!("{marginal}{}{}", tier(None, ""), tier(None, "")),
            "rules[0].tiers[0].up_to_fen",
            "only the last tier",
        ),
        (
            &format!("{marginal}{}{}", tier(Some(5), ""), tier(Some(9), "")),
            "rules[0].tiers[1].up_to_fen",
            "the last tier has no",
        ),
        (
            &format!("{marginal}{}{}", tier(Some(0), ""), tier(None, "")),
            "rules[0].tiers[0].up_to_fen",
            "greater than 0",
        ),
        (
            &format!("{marginal}{}{}", tier(Some(5), "cap_fen = 100\n"), tier(None, "")),
            "rules[0].tiers[0].cap_fen",
            "cap_fen is for tier_mode = \"bracket\" only",
        ),
        (
            &format!("{bracket}{}{}", tier(Some(5), "cap_fen = -1\n"), tier(None, "")),
            "rules[0].tiers[0].cap_fen",
            "negative",
        ),
        (&format!("{bracket}[[rules.tiers]]\nup_to_fen = 5\n"), "rules[0].tiers[0].rate", "missing"),
    ]);
    // The same bracket tiers are fine, with a cap.
    program(&format!("{HEAD}{bracket}{}{}", tier(Some(5), "cap_fen = 100\n"), tier(None, "cap_fen = 0\n")));
}

#[test]
fn conditions_use_the_known_words() {
    assert_errors(&[
        (
            &format!("{RULE}rate = \"1%\"\nclaimant_region = [\"32\", \"320\"]\n"),
            "rules[0].claimant_region[1]",
            "2, 4 or 6 digits",
        ),
        (
            &format!("{RULE}rate = \"1%\"\nbuyer_region = [\"63a1\"]\n"),
            "rules[0].buyer_region[0]",
            "not a region prefix",
        ),
        (&format!("{RULE}rate = \"1%\"\nseller_region = [6301]\n"), "rules[0].seller_region[0]", "expected a string"),
        (&format!("{RULE}rate = \"1%\"\nseller_region = []\n"), "rules[0].seller_region", "empty list matches nothing"),
        (&format!("{RULE}rate = \"1%\"\nseller_region = \"63\"\n"), "rules[0].seller_region", "expected a list"),
        (
            &format!("{RULE}rate = \"1%\"\nbuyer_region = [\"63\", \"63\"]\n"),
            "rules[0].buyer_region[1]",
            "listed twice",
        ),
        (
            &format!("{RULE}rate = \"1%\"\ncontract_categories = [\"development\", \"sale\"]\n"),
            "rules[0].contract_categories[1]",
            "unknown value \"sale\"; expected one of: development, transfer, license, consulting, service",
        ),
        (
            &format!("{RULE}rate = \"1%\"\ntrade_modes = [\"license\"]\n"),
            "rules[0].trade_modes[0]",
            "exclusive_license",
        ),
        (
            &format!("{RULE}rate = \"1%\"\nclaimant_kinds = [\"authority\"]\n"),
            "rules[0].claimant_kinds[0]",
            "expected one of: enterprise, university, institute, agency",
        ),
        (
            &format!("{RULE}rate = \"1%\"\nexclude_related_party = \"yes\"\n"),
            "rules[0].exclude_related_party",
            "true or false",
        ),
        (&format!("{RULE}rate = \"1%\"\nbase = \"paid\"\n"), "rules[0].base", "paid_technology_amount, paid_amount"),
        (&format!("{RULE}rate = \"1%\"\naggregate = \"yearly\"\n"), "rules[0].aggregate", "per_contract, annual"),
        ("[[rules]]\nid = \"r\"\nrole = \"broker\"\nrate = \"1%\"\n", "rules[0].role", "buyer, seller, agency"),
        ("[[rules]]\nid = \"r\"\nrate = \"1%\"\n", "rules[0].role", "missing"),
    ]);
}

#[test]
fn amounts_are_whole_non_negative_fen() {
    let rule = format!("{RULE}rate = \"1%\"\n");
    assert_errors(&[
        (&format!("budget_fen = -1\n{rule}"), "budget_fen", "cannot be negative"),
        (&format!("budget_fen = 1.5\n{rule}"), "budget_fen", "whole number of fen"),
        (&format!("cap_per_claimant_year_fen = \"100\"\n{rule}"), "cap_per_claimant_year_fen", "found a string"),
        (&format!("{rule}min_base_fen = -5\n"), "rules[0].min_base_fen", "cannot be negative"),
        (&format!("{rule}cap_per_year_fen = 1.0\n"), "rules[0].cap_per_year_fen", "whole number"),
        (
            &format!("{rule}aggregate = \"annual\"\ncap_per_contract_fen = 100\n"),
            "rules[0].cap_per_contract_fen",
            "needs aggregate = \"per_contract\"",
        ),
    ]);
    // Zero means "no cap", also with an annual aggregate (as POLICY.md's example writes it).
    program(&format!("{HEAD}{rule}aggregate = \"annual\"\ncap_per_contract_fen = 0\n"));
}

#[test]
fn the_program_itself() {
    let rule = format!("{RULE}rate = \"1%\"\n");
    let cases: [(String, &str, &str); 9] = [
        (format!("id = \"Nanjing_2021\"\nname = \"N\"\n{rule}"), "id", "lowercase letters, digits and '-'"),
        (format!("name = \"N\"\n{rule}"), "id", "missing"),
        (format!("id = \"n\"\n{rule}"), "name", "missing"),
        (format!("id = \"n\"\nname = \"  \"\n{rule}"), "name", "blank"),
        ("id = \"n\"\nname = \"N\"\n".to_string(), "rules", "at least one [[rules]]"),
        (format!("id = \"n\"\nname = \"N\"\nproration = \"pro-rata\"\n{rule}"), "proration", "proportional, none"),
        (format!("id = \"n\"\nname = \"N\"\n{rule}{rule}"), "rules[1].id", "already used by rules[0]"),
        (format!("id = \"n\"\nname = \"N\"\n{RULE}id = \"x\"\n"), "(file)", "line 6"),
        ("id = \"n\"\nname = \"N\"\nrules = 5\n".to_string(), "rules", "array of tables"),
    ];
    for (text, path, fragment) in cases {
        let error = Program::from_toml(&text).unwrap_err();
        assert_eq!(error.path, path, "{text}\n→ {error}");
        assert!(error.message.contains(fragment), "{text}\n→ {error}");
    }
    let syntax = Program::from_toml("id = \"n\"\nname = \"N\n").unwrap_err();
    assert_eq!(syntax.path, "(file)");
    assert!(syntax.message.starts_with("line 2, column"), "{syntax}");
}

#[test]
fn a_minimal_program_gets_the_defaults() {
    let minimal = program(&format!("{HEAD}{RULE}rate = \"5%\"\n"));
    assert_eq!((minimal.id(), minimal.name(), minimal.authority()), ("test", "Test", None));
    assert_eq!((minimal.budget(), minimal.proration()), (None, crate::policy::Proration::Proportional));
    let rule = &minimal.rules()[0];
    assert_eq!(rule.contract_categories, ContractCategory::ALL);
    assert!(rule.exclude_related_party);
    assert_eq!(
        (rule.base(), rule.aggregate()),
        (crate::policy::BaseKind::PaidTechnologyAmount, crate::policy::Aggregate::PerContract)
    );
    assert_eq!((rule.min_base_fen, rule.cap_per_contract_fen, rule.cap_per_year_fen), (Money::ZERO, None, None));
}

#[test]
fn load_dir_names_the_file_and_refuses_duplicate_ids() {
    let dir = std::env::temp_dir().join(format!("techtrade-policies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rule = format!("{RULE}rate = \"1%\"\n");
    std::fs::write(dir.join("a.toml"), format!("id = \"same\"\nname = \"A\"\n{rule}")).unwrap();
    std::fs::write(dir.join("b.toml"), format!("id = \"same\"\nname = \"B\"\n{rule}")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a policy").unwrap();
    let (path, error) = Program::load_dir(&dir).unwrap_err();
    assert_eq!(path, dir.join("b.toml"));
    assert_eq!(error.path, "id");
    assert!(error.message.contains("already used by") && error.message.contains("a.toml"), "{error}");

    std::fs::write(dir.join("b.toml"), format!("id = \"other\"\nname = \"B\"\nbudget_fen = -1\n{rule}")).unwrap();
    let (path, error) = Program::load_dir(&dir).unwrap_err();
    assert_eq!((path, error.path.as_str()), (dir.join("b.toml"), "budget_fen"));

    std::fs::write(dir.join("b.toml"), format!("id = \"other\"\nname = \"B\"\n{rule}")).unwrap();
    let ids: Vec<String> = Program::load_dir(&dir).unwrap().iter().map(|p| p.id().to_string()).collect();
    assert_eq!(ids, ["same", "other"]);
    std::fs::remove_dir_all(&dir).unwrap();

    let (path, error) = Program::load_dir(&dir).unwrap_err();
    assert_eq!((path, error.path.as_str()), (dir, "(dir)"));
}

//! The shipped policy files: all load, the two POLICY.md examples reproduce
//! the worked examples, and Qinghai encodes the known conditions with its
//! unknown values marked.

use super::worked_examples::{nanjing_one_deal, nanjing_related_party, nanjing_yearly_cap, sanming_tiers};
use super::*;

fn shipped() -> Vec<Program> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/policies");
    match Program::load_dir(&dir) {
        Ok(programs) => programs,
        Err((path, error)) => panic!("{}: {error}", path.display()),
    }
}

fn shipped_program(id: &str) -> Program {
    shipped().into_iter().find(|p| p.id() == id).unwrap_or_else(|| panic!("no program {id} in config/policies"))
}

#[test]
fn every_shipped_policy_file_loads() {
    let ids: Vec<String> = shipped().iter().map(|p| p.id().to_string()).collect();
    for expected in ["nanjing-2021", "qinghai", "sanming"] {
        assert!(ids.iter().any(|id| id == expected), "{expected} missing from {ids:?}");
    }
}

#[test]
fn shipped_nanjing_reproduces_the_worked_examples() {
    let nanjing = shipped_program("nanjing-2021");
    nanjing_one_deal(&nanjing);
    nanjing_yearly_cap(&nanjing);
    nanjing_related_party(&nanjing);
    assert_eq!(nanjing.budget(), Some(wan(5_000)));
}

#[test]
fn shipped_sanming_reproduces_the_worked_examples() {
    sanming_tiers(&shipped_program("sanming"));
}

/// A Qinghai deal: buyer and seller in Xining, through a Xining agency.
fn qinghai_deal(id: &str) -> DealFacts {
    let mut facts = deal(id, wan(100), wan(100));
    facts.buyer.region_code = "630104".to_string();
    facts
}

#[test]
fn qinghai_marks_its_placeholders() {
    let qinghai = shipped_program("qinghai");
    let note = qinghai.placeholder_note().unwrap();
    assert!(note.contains("占位值") && note.contains("青海省科学技术厅"), "{note}");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/policies/qinghai.toml"),
    )
    .unwrap();
    // Every rate and cap line says it is a placeholder.
    for line in text.lines().filter(|l| l.starts_with("rate") || l.starts_with("cap_") || l.starts_with("budget_fen")) {
        assert!(line.contains("PLACEHOLDER"), "{line}");
    }
}

#[test]
fn qinghai_buyer_is_paid_when_converted_in_qinghai() {
    let qinghai = shipped_program("qinghai");
    let mut outside = qinghai_deal("outside");
    outside.buyer.region_code = "320102".to_string();
    let mut consulting = qinghai_deal("consulting");
    consulting.category = ContractCategory::Consulting;
    let mut related = qinghai_deal("related");
    related.related_party = true;
    let mut from_beijing = qinghai_deal("from-beijing");
    from_beijing.seller.region_code = "110108".to_string();
    // 交易完成: a registered deal still being paid does not count yet.
    let mut unfinished = qinghai_deal("unfinished");
    unfinished.completed = false;

    let result = qinghai.calculate(
        &claim(PartyRole::Buyer, BUYER),
        &[qinghai_deal("local"), outside, consulting, related, from_beijing, unfinished],
    );
    // Converted in Qinghai, wherever the technology comes from.
    assert_eq!(result.lines.len(), 1);
    assert!(result.lines[0].explanation.contains("(local 1,000,000.00 + from-beijing 1,000,000.00)"));
    assert_eq!(
        ineligible(&result),
        [
            ("outside".to_string(), vec!["buyer_region"]),
            ("consulting".to_string(), vec!["category_not_covered"]),
            ("related".to_string(), vec!["related_party"]),
            ("unfinished".to_string(), vec!["not_completed"]),
        ]
    );
    assert!(
        qinghai.describe(crate::policy::Lang::Zh)[0].contains("须交易完成"),
        "{:?}",
        qinghai.describe(crate::policy::Lang::Zh)
    );
}

#[test]
fn qinghai_seller_only_from_qinghai_and_converted_in_qinghai() {
    let qinghai = shipped_program("qinghai");
    let mut sold_out_of_province = qinghai_deal("sold-out");
    sold_out_of_province.buyer.region_code = "320102".to_string();
    let mut licence = qinghai_deal("licence");
    licence.category = ContractCategory::License;
    let result = qinghai.calculate(&claim(PartyRole::Seller, SELLER), &[licence, sold_out_of_province]);
    assert!(result.eligible);
    assert_eq!(ineligible(&result), [("sold-out".to_string(), vec!["buyer_region"])]);

    let mut outsider = qinghai_deal("outsider");
    outsider.seller.region_code = "110108".to_string();
    let result = qinghai.calculate(&claim(PartyRole::Seller, SELLER), &[outsider]);
    assert!(!result.eligible);
    assert_eq!(ineligible(&result), [("outsider".to_string(), vec!["seller_region"])]);
}

#[test]
fn qinghai_agency_only_when_registered_in_qinghai() {
    let qinghai = shipped_program("qinghai");
    let mut outside_buyer = qinghai_deal("outside-buyer");
    outside_buyer.buyer.region_code = "320102".to_string();
    let local = qinghai.calculate(&claim(PartyRole::Agency, AGENCY), &[qinghai_deal("a"), outside_buyer]);
    // The agency's own registration counts, not where the parties are.
    assert!(local.eligible && local.ineligible.is_empty());

    let mut elsewhere = qinghai_deal("b");
    elsewhere.agency = Some(party(AGENCY, "320102", OrganizationKind::Agency));
    let result = qinghai.calculate(&claim(PartyRole::Agency, AGENCY), &[elsewhere]);
    assert_eq!(ineligible(&result), [("b".to_string(), vec!["claimant_region"])]);
}

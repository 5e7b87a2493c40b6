//! Plain-language descriptions and the `policy explain` helper.

use super::worked_examples::{NANJING, SANMING};
use super::*;
use crate::policy::Lang;

#[test]
fn describes_a_rate_rule_in_chinese_and_english() {
    let nanjing = program(NANJING);
    assert_eq!(
        nanjing.describe(Lang::default()),
        [
            "规则 buyer-local：向买方支付；基数为当年实付技术交易额（当年已确认付款，且不超过核定技术交易额）；\
             按全年合计计算（费率、起付线和分档作用于全年合计）；费率 5%；每年上限 1,000,000.00 元；\
             合同类别：技术开发、技术转让、技术许可；关联交易不予支付。",
            "年度预算 50,000,000.00 元；核准总额超出预算时按比例核减，分后余额按最大余数逐分分配，合计恰为预算。",
        ]
    );
    assert_eq!(
        nanjing.describe(Lang::En),
        [
            "Rule buyer-local: pays the buyer; base: paid technology amount (confirmed payments in the year, \
             at most the registered technology amount); computed on the year's total (rate, minimum and tiers \
             apply to the sum); rate 5%; at most 1,000,000.00 a year; categories: development, transfer, license; \
             related-party deals excluded.",
            "Budget 50,000,000.00 a year; when approved claims exceed it, each is reduced in proportion and the \
             round pays exactly the budget.",
        ]
    );
}

#[test]
fn describes_tiers_with_their_slices() {
    let sanming = program(SANMING);
    let zh = sanming.describe(Lang::Zh);
    assert!(
        zh[0].contains(
            "超额累进：不超过 100,000.00 元的部分 1%，100,000.00 元至 1,000,000.00 元的部分 0.5%，\
             超过 1,000,000.00 元的部分 0.1%；每年上限 50,000.00 元；合同类别不限"
        ),
        "{}",
        zh[0]
    );
    assert_eq!(zh[1], "未设年度预算：核准金额全额支付。");
    let en = sanming.describe(Lang::En);
    assert!(en[0].contains(
        "marginal tiers: 1% up to 100,000.00, 0.5% from 100,000.00 to 1,000,000.00, 0.1% above 1,000,000.00"
    ));

    let bracket = program(
        r#"
id = "b"
name = "B"
budget_fen = 100
proration = "none"
cap_per_claimant_year_fen = 500
placeholder_note = "比例待定"
[[rules]]
id = "agency"
role = "agency"
trade_modes = ["assignment", "exclusive_license"]
claimant_region = ["63"]
seller_kinds = ["university", "institute"]
exclude_related_party = false
aggregate = "per_contract"
min_base_fen = 1000
cap_per_contract_fen = 300
tier_mode = "bracket"
[[rules.tiers]]
up_to_fen = 10000
rate = "1%"
cap_fen = 50
[[rules.tiers]]
rate = "2%"
"#,
    );
    assert_eq!(
        bracket.describe(Lang::Zh),
        [
            "规则 agency：向技术转移机构支付；基数为当年实付技术交易额（当年已确认付款，且不超过核定技术交易额）；\
             按每份合同计算；分档计算（全额按所在档费率）：低于 100.00 元 1%（本档上限 0.50 元），100.00 元及以上 2%；\
             基数低于 10.00 元的不予支付；每份合同上限 3.00 元；合同类别不限；交易方式：转让、独占许可；\
             申请单位所在地区代码以 63 开头；卖方须为高校或科研院所；关联交易也可支付。",
            "年度预算 1.00 元；核准总额超出预算时不予结项，须先调整核准金额。",
            "每个申请单位每年在本计划中合计不超过 5.00 元。",
            "注意：比例待定",
        ]
    );
    assert_eq!(
        bracket.describe(Lang::En)[0],
        "Rule agency: pays the agency; base: paid technology amount (confirmed payments in the year, at most the \
         registered technology amount); computed per contract; bracket tiers (the whole base at its bracket's rate): \
         1% below 100.00 (at most 0.50), 2% from 100.00 up; nothing on a base below 10.00; at most 3.00 per contract; \
         any contract category; trade modes: assignment, exclusive_license; the claimant in region 63; \
         the seller a university or institute; related-party deals included."
    );
}

#[test]
fn explains_what_each_rule_pays_on_a_base() {
    let sanming = program(SANMING);
    assert_eq!(
        sanming.explain(PartyRole::Seller, wan(50)),
        [
            "seller-tiers: marginal tiers: 1% of 100,000.00 (from 0.00 to 100,000.00) = 1,000.00 + \
             0.5% of 400,000.00 (from 100,000.00 to 500,000.00) = 2,000.00; total 3,000.00 → 3,000.00",
            "total for the seller on a base of 500,000.00: 3,000.00",
        ]
    );
    let capped = sanming.explain(PartyRole::Seller, wan(5_000));
    assert!(
        capped[0].ends_with("reduced from 54,500.00 to 50,000.00 by the rule's yearly cap of 50,000.00 → 50,000.00")
    );
    assert_eq!(sanming.explain(PartyRole::Buyer, wan(1)), ["sanming: no rule pays the buyer"]);

    let capped_claimant = program(
        "id = \"c\"\nname = \"C\"\ncap_per_claimant_year_fen = 1000\n\
         [[rules]]\nid = \"a\"\nrole = \"buyer\"\nrate = \"10%\"\n\
         [[rules]]\nid = \"b\"\nrole = \"buyer\"\nrate = \"5%\"\nmin_base_fen = 100000\n",
    );
    assert_eq!(
        capped_claimant.explain(PartyRole::Buyer, yuan(100)),
        [
            "a: 10% of 100.00 = 10.00 → 10.00",
            "b: nothing: the base 100.00 is below the minimum 1,000.00",
            "total for the buyer on a base of 100.00: 10.00",
        ]
    );
    assert_eq!(
        capped_claimant.explain(PartyRole::Buyer, yuan(1_000))[2],
        "total for the buyer on a base of 1,000.00: 150.00; \
         reduced from 150.00 to 10.00 by the program's cap per claimant and year of 10.00 → 10.00"
    );
}

#[test]
fn lang_tags() {
    assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
    assert_eq!(Lang::parse("EN"), Some(Lang::En));
    assert_eq!(Lang::parse("fr"), None);
}

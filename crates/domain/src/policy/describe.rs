//! A program in plain words for operators and officials: one line per rule
//! (who is paid, on what base, at what rate or tiers, minimum, caps,
//! conditions), then budget and pro-rating. Chinese by default.

use super::claims_open::OpeningDay;
use super::program::{Program, Rule, Schedule, Tier};
use super::vocabulary::{Aggregate, BaseKind, ContractCategory, PartyRole, Proration, TierMode};
use crate::listing::TradeMode;
use crate::money::Money;
use crate::organization::OrganizationKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// `zh` or `en`, as a command-line flag or `Accept-Language` tag.
    pub fn parse(tag: &str) -> Option<Self> {
        match tag.trim().to_ascii_lowercase().split(['-', '_']).next() {
            Some("zh") => Some(Self::Zh),
            Some("en") => Some(Self::En),
            _ => None,
        }
    }
}

impl Program {
    pub fn describe(&self, lang: Lang) -> Vec<String> {
        let mut lines: Vec<String> = self.rules.iter().map(|rule| describe_rule(rule, lang)).collect();
        lines.push(budget_line(self.budget_fen, self.proration, lang));
        if let Some(cap) = self.cap_per_claimant_year_fen {
            lines.push(match lang {
                Lang::Zh => format!("每个申请单位每年在本计划中合计不超过 {cap} 元。"),
                Lang::En => format!("Each claimant receives at most {cap} a year from the program."),
            });
        }
        if let Some(day) = self.claims_open_on {
            lines.push(opening_line(day, lang));
        }
        if let Some(note) = &self.placeholder_note {
            lines.push(match lang {
                Lang::Zh => format!("注意：{note}"),
                Lang::En => format!("Note: {note}"),
            });
        }
        lines
    }
}

impl Program {
    /// The plain-language line of the rule `rule_id`, as [`Program::describe`]
    /// words it: what a claim's line for that rule applied.
    pub fn describe_rule(&self, rule_id: &str, lang: Lang) -> Option<String> {
        self.rules.iter().find(|rule| rule.id == rule_id).map(|rule| describe_rule(rule, lang))
    }
}

fn describe_rule(rule: &Rule, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut parts: Vec<String> = Vec::new();
    parts.push(if zh { format!("向{}支付", role_zh(rule.role)) } else { format!("pays the {}", rule.role) });
    parts.push(if zh { format!("基数为{}", base_zh(rule.base)) } else { format!("base: {}", base_en(rule.base)) });
    parts.push(
        match (rule.aggregate, zh) {
            (Aggregate::PerContract, true) => "按每份合同计算",
            (Aggregate::PerContract, false) => "computed per contract",
            (Aggregate::Annual, true) => "按全年合计计算（费率、起付线和分档作用于全年合计）",
            (Aggregate::Annual, false) => "computed on the year's total (rate, minimum and tiers apply to the sum)",
        }
        .to_string(),
    );
    parts.push(schedule_text(&rule.schedule, lang));
    if rule.min_base_fen > Money::ZERO {
        let min = rule.min_base_fen;
        parts.push(if zh {
            format!("基数低于 {min} 元的不予支付")
        } else {
            format!("nothing on a base below {min}")
        });
    }
    if let Some(cap) = rule.cap_per_contract_fen {
        parts.push(if zh { format!("每份合同上限 {cap} 元") } else { format!("at most {cap} per contract") });
    }
    if let Some(cap) = rule.cap_per_year_fen {
        parts.push(if zh { format!("每年上限 {cap} 元") } else { format!("at most {cap} a year") });
    }
    parts.extend(conditions(rule, lang));
    match lang {
        Lang::Zh => format!("规则 {}：{}。", rule.id, parts.join("；")),
        Lang::En => format!("Rule {}: {}.", rule.id, parts.join("; ")),
    }
}

fn conditions(rule: &Rule, lang: Lang) -> Vec<String> {
    let zh = lang == Lang::Zh;
    let mut parts = Vec::new();
    let all_categories = rule.contract_categories.len() == ContractCategory::ALL.len();
    let categories: Vec<&str> = rule.contract_categories.iter().map(|c| if zh { c.zh() } else { c.as_str() }).collect();
    parts.push(match (all_categories, zh) {
        (true, true) => "合同类别不限".to_string(),
        (true, false) => "any contract category".to_string(),
        (false, true) => format!("合同类别：{}", categories.join("、")),
        (false, false) => format!("categories: {}", categories.join(", ")),
    });
    if let Some(modes) = &rule.trade_modes {
        let modes: Vec<&str> = modes.iter().map(|&m| if zh { trade_mode_zh(m) } else { m.as_str() }).collect();
        parts.push(if zh {
            format!("交易方式：{}", modes.join("、"))
        } else {
            format!("trade modes: {}", modes.join(", "))
        });
    }
    let regions = [
        (&rule.claimant_region, "申请单位", "the claimant"),
        (&rule.buyer_region, "买方", "the buyer"),
        (&rule.seller_region, "卖方", "the seller"),
    ];
    for (prefixes, who_zh, who_en) in regions {
        if let Some(prefixes) = prefixes {
            parts.push(if zh {
                format!("{who_zh}所在地区代码以 {} 开头", prefixes.join("、"))
            } else {
                format!("{who_en} in region {}", prefixes.join(", "))
            });
        }
    }
    let kinds = [
        (&rule.claimant_kinds, "申请单位", "the claimant"),
        (&rule.buyer_kinds, "买方", "the buyer"),
        (&rule.seller_kinds, "卖方", "the seller"),
    ];
    for (kinds, who_zh, who_en) in kinds {
        if let Some(kinds) = kinds {
            let names: Vec<&str> = kinds.iter().map(|&k| if zh { kind_zh(k) } else { k.as_str() }).collect();
            parts.push(if zh {
                format!("{who_zh}须为{}", names.join("或"))
            } else {
                format!("{who_en} a {}", names.join(" or "))
            });
        }
    }
    if rule.require_completed {
        parts.push(
            if zh {
                "须交易完成（已登记且全额付款）"
            } else {
                "completed deals only (registered, paid in full)"
            }
            .to_string(),
        );
    }
    parts.push(
        match (rule.exclude_related_party, zh) {
            (true, true) => "关联交易不予支付",
            (true, false) => "related-party deals excluded",
            (false, true) => "关联交易也可支付",
            (false, false) => "related-party deals included",
        }
        .to_string(),
    );
    parts
}

fn schedule_text(schedule: &Schedule, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    match schedule {
        Schedule::Rate(rate) => {
            if zh {
                format!("费率 {rate}")
            } else {
                format!("rate {rate}")
            }
        }
        Schedule::Tiers { mode, tiers } => {
            let mut lower: Option<Money> = None;
            let mut slices = Vec::with_capacity(tiers.len());
            for tier in tiers {
                slices.push(tier_text(*mode, lower, tier, lang));
                lower = tier.up_to_fen;
            }
            match (mode, zh) {
                (TierMode::Marginal, true) => format!("超额累进：{}", slices.join("，")),
                (TierMode::Marginal, false) => format!("marginal tiers: {}", slices.join(", ")),
                (TierMode::Bracket, true) => format!("分档计算（全额按所在档费率）：{}", slices.join("，")),
                (TierMode::Bracket, false) => {
                    format!("bracket tiers (the whole base at its bracket's rate): {}", slices.join(", "))
                }
            }
        }
    }
}

fn tier_text(mode: TierMode, lower: Option<Money>, tier: &Tier, lang: Lang) -> String {
    let rate = tier.rate;
    let mut text = match (mode, lang, lower, tier.up_to_fen) {
        (_, Lang::Zh, None, None) => format!("全部 {rate}"),
        (_, Lang::En, None, None) => format!("{rate} of any base"),
        (TierMode::Marginal, Lang::Zh, None, Some(up)) => format!("不超过 {up} 元的部分 {rate}"),
        (TierMode::Marginal, Lang::Zh, Some(low), Some(up)) => format!("{low} 元至 {up} 元的部分 {rate}"),
        (TierMode::Marginal, Lang::Zh, Some(low), None) => format!("超过 {low} 元的部分 {rate}"),
        (TierMode::Marginal, Lang::En, None, Some(up)) => format!("{rate} up to {up}"),
        (TierMode::Marginal, Lang::En, Some(low), Some(up)) => format!("{rate} from {low} to {up}"),
        (TierMode::Marginal, Lang::En, Some(low), None) => format!("{rate} above {low}"),
        (TierMode::Bracket, Lang::Zh, None, Some(up)) => format!("低于 {up} 元 {rate}"),
        (TierMode::Bracket, Lang::Zh, Some(low), Some(up)) => format!("{low} 元至低于 {up} 元 {rate}"),
        (TierMode::Bracket, Lang::Zh, Some(low), None) => format!("{low} 元及以上 {rate}"),
        (TierMode::Bracket, Lang::En, None, Some(up)) => format!("{rate} below {up}"),
        (TierMode::Bracket, Lang::En, Some(low), Some(up)) => format!("{rate} from {low} to below {up}"),
        (TierMode::Bracket, Lang::En, Some(low), None) => format!("{rate} from {low} up"),
    };
    if let Some(cap) = tier.cap_fen {
        text.push_str(&match lang {
            Lang::Zh => format!("（本档上限 {cap} 元）"),
            Lang::En => format!(" (at most {cap})"),
        });
    }
    text
}

fn budget_line(budget: Option<Money>, proration: Proration, lang: Lang) -> String {
    match (budget, proration, lang) {
        (None, _, Lang::Zh) => "未设年度预算：核准金额全额支付。".to_string(),
        (None, _, Lang::En) => "No budget: approved amounts are paid in full.".to_string(),
        (Some(b), Proration::Proportional, Lang::Zh) => {
            format!("年度预算 {b} 元；核准总额超出预算时按比例核减，分后余额按最大余数逐分分配，合计恰为预算。")
        }
        (Some(b), Proration::Proportional, Lang::En) => format!(
            "Budget {b} a year; when approved claims exceed it, each is reduced in proportion and the round pays exactly the budget."
        ),
        (Some(b), Proration::None, Lang::Zh) => {
            format!("年度预算 {b} 元；核准总额超出预算时不予结项，须先调整核准金额。")
        }
        (Some(b), Proration::None, Lang::En) => {
            format!("Budget {b} a year; a round whose approved claims exceed it cannot be closed (no pro-rating).")
        }
    }
}

fn opening_line(day: OpeningDay, lang: Lang) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (month, dom) = (day.month(), day.day());
    match lang {
        Lang::Zh => format!("每年度的补助申请自次年 {month} 月 {dom} 日起受理。"),
        Lang::En => {
            let name = month.checked_sub(1).and_then(|index| MONTHS.get(index as usize)).copied().unwrap_or_default();
            format!("Claims for a year open on {dom} {name} of the following year.")
        }
    }
}

fn role_zh(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Buyer => "买方",
        PartyRole::Seller => "卖方",
        PartyRole::Agency => "技术转移机构",
    }
}

fn base_zh(base: BaseKind) -> &'static str {
    match base {
        BaseKind::PaidTechnologyAmount => "当年实付技术交易额（当年已确认付款，且不超过核定技术交易额）",
        BaseKind::PaidAmount => "当年已确认付款金额",
        BaseKind::RegisteredTechnologyAmount => "核定技术交易额",
        BaseKind::ContractTotal => "合同总金额",
    }
}

fn base_en(base: BaseKind) -> &'static str {
    match base {
        BaseKind::PaidTechnologyAmount => {
            "paid technology amount (confirmed payments in the year, at most the registered technology amount)"
        }
        BaseKind::PaidAmount => "confirmed payments in the year",
        BaseKind::RegisteredTechnologyAmount => "registered technology amount",
        BaseKind::ContractTotal => "contract total",
    }
}

fn trade_mode_zh(mode: TradeMode) -> &'static str {
    match mode {
        TradeMode::Assignment => "转让",
        TradeMode::ExclusiveLicense => "独占许可",
        TradeMode::SoleLicense => "排他许可",
        TradeMode::NonexclusiveLicense => "普通许可",
        TradeMode::Equity => "作价入股",
        TradeMode::JointDevelopment => "合作开发",
    }
}

fn kind_zh(kind: OrganizationKind) -> &'static str {
    match kind {
        OrganizationKind::Enterprise => "企业",
        OrganizationKind::University => "高校",
        OrganizationKind::Institute => "科研院所",
        OrganizationKind::Agency => "技术转移机构",
        OrganizationKind::Authority => "主管部门",
    }
}

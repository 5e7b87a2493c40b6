//! The matching score between a supply listing (an [`Offer`]) and a
//! technology demand (a [`Need`]): a transparent weighted mean of six
//! factors, each with a value in 0..=1 and a plain-language reason.
//!
//! | factor | value |
//! |---|---|
//! | `text` | the search backend's relevance, normalised by the caller to 0..=1 |
//! | `ipc` | the deepest IPC level any code of one side shares with any code of the other: main group 1.0, subclass 0.75, class 0.5, section 0.25, none (or no codes on a side) 0 |
//! | `price` | price within the budget 1.0; above the ceiling falls linearly to 0 at twice the ceiling; below the floor falls linearly to 0.5 at a price of 0; when either side is negotiable (面议) it never falls below 0.3; a price or a budget missing (negotiable) 0.6 |
//! | `trade_mode` | a mode both sides name 1.0; both accept some licence but not the same kind 0.5; else 0 |
//! | `region` | same prefecture (first four digits of GB/T 2260) 1.0, same province (first two) 0.5, else 0 |
//! | `maturity` | the listing's maturity, riper is better: concept 0.25, lab 0.5, pilot 0.75, industrial 1.0 |
//!
//! The score is `Σ wᵢ·vᵢ / Σ wᵢ` with the configured [`Weights`], so it is in
//! 0..=1 and raising any factor's value never lowers it. Each reason reports
//! the normalised weight (`wᵢ / Σ w`), so the reasons' `weight × value` add
//! up to the score. Details are in Chinese, the language of the platform's
//! users; money is shown in yuan from integer fen.

use serde::{Deserialize, Serialize};

use crate::ipc::IpcCode;
use crate::listing::{Maturity, TradeMode};
use crate::money::Money;
use crate::region::RegionCode;

vocabulary! {
    /// What a reason is about.
    Factor {
        Text = "text",
        Ipc = "ipc",
        Price = "price",
        TradeMode = "trade_mode",
        Region = "region",
        Maturity = "maturity",
    }
}

/// Value of a shared IPC main group, subclass, class and section.
pub const IPC_GROUP: f64 = 1.0;
pub const IPC_SUBCLASS: f64 = 0.75;
pub const IPC_CLASS: f64 = 0.5;
pub const IPC_SECTION: f64 = 0.25;
/// Price value when the listing names no price or the demand no budget.
pub const PRICE_UNKNOWN: f64 = 0.6;
/// The least a negotiable side's price can score: there is room to talk.
pub const PRICE_NEGOTIABLE_FLOOR: f64 = 0.3;
/// Trade-mode value when both sides accept a licence, of different kinds.
pub const TRADE_MODE_LICENCE: f64 = 0.5;
pub const REGION_PREFECTURE: f64 = 1.0;
pub const REGION_PROVINCE: f64 = 0.5;

/// How much each factor counts. Any non-negative numbers, not all zero;
/// they are normalised, so only their ratios matter. The defaults sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub text: f64,
    pub ipc: f64,
    pub price: f64,
    pub trade_mode: f64,
    pub region: f64,
    pub maturity: f64,
}

impl Default for Weights {
    fn default() -> Self {
        // What the text says and where it sits in the IPC tree decide what a
        // technology is; money, terms, place and ripeness refine the order.
        Self { text: 0.35, ipc: 0.25, price: 0.15, trade_mode: 0.10, region: 0.10, maturity: 0.05 }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    #[error("weights.{0} must be a finite number of at least 0")]
    Invalid(&'static str),
    #[error("at least one weight must be more than 0")]
    AllZero,
}

impl Weights {
    pub fn get(&self, factor: Factor) -> f64 {
        match factor {
            Factor::Text => self.text,
            Factor::Ipc => self.ipc,
            Factor::Price => self.price,
            Factor::TradeMode => self.trade_mode,
            Factor::Region => self.region,
            Factor::Maturity => self.maturity,
        }
    }

    /// Checks the weights can be normalised.
    pub fn validate(&self) -> Result<(), WeightsError> {
        for &factor in Factor::ALL {
            let weight = self.get(factor);
            if !weight.is_finite() || weight < 0.0 {
                return Err(WeightsError::Invalid(factor.as_str()));
            }
        }
        if self.total() <= 0.0 {
            return Err(WeightsError::AllZero);
        }
        Ok(())
    }

    fn total(&self) -> f64 {
        Factor::ALL.iter().map(|&f| self.get(f)).sum()
    }
}

/// What a supply listing brings to a match.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub ipc: Vec<IpcCode>,
    /// The asking price; `None` when only negotiable.
    pub price: Option<Money>,
    pub negotiable: bool,
    pub trade_modes: Vec<TradeMode>,
    pub maturity: Maturity,
    pub region: RegionCode,
}

/// What a technology demand asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub ipc: Vec<IpcCode>,
    pub budget_min: Option<Money>,
    pub budget_max: Option<Money>,
    pub negotiable: bool,
    pub trade_modes: Vec<TradeMode>,
    pub region: RegionCode,
}

/// Why a pair scored what it did, one factor at a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    pub factor: Factor,
    /// The factor's share of the score, normalised so that the weights sum to 1.
    pub weight: f64,
    /// How well the pair does on this factor, 0..=1.
    pub value: f64,
    /// In plain Chinese, e.g. `IPC 同大组 H01M10/00（H01M10/54 与 H01M10/60）`.
    pub detail: String,
}

/// A score in 0..=1 and its reasons, one per factor in [`Factor::ALL`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// Scores a listing against a demand. `text_relevance` is the search
/// relevance already normalised to 0..=1 (out-of-range values are clamped,
/// NaN counts as 0). `weights` must have passed [`Weights::validate`];
/// otherwise every weight counts equally.
pub fn score(offer: &Offer, need: &Need, text_relevance: f64, weights: &Weights) -> Scored {
    scored(offer, need, text_relevance, weights, Details(true))
}

/// The score [`score`] gives, without writing the reasons' details: for
/// ranking many candidates of which only the best are shown.
pub fn score_value(offer: &Offer, need: &Need, text_relevance: f64, weights: &Weights) -> f64 {
    scored(offer, need, text_relevance, weights, Details(false)).score
}

fn scored(offer: &Offer, need: &Need, text_relevance: f64, weights: &Weights, details: Details) -> Scored {
    let weights = if weights.validate().is_ok() {
        *weights
    } else {
        Weights { text: 1.0, ipc: 1.0, price: 1.0, trade_mode: 1.0, region: 1.0, maturity: 1.0 }
    };
    let total = weights.total();
    let factors = [
        (Factor::Text, text(text_relevance, details)),
        (Factor::Ipc, ipc(&offer.ipc, &need.ipc, details)),
        (Factor::Price, price(offer, need, details)),
        (Factor::TradeMode, trade_mode(&offer.trade_modes, &need.trade_modes, details)),
        (Factor::Region, region(&offer.region, &need.region, details)),
        (Factor::Maturity, maturity(offer.maturity, details)),
    ];
    let reasons: Vec<Reason> = factors
        .into_iter()
        .map(|(factor, (value, detail))| Reason { factor, weight: weights.get(factor) / total, value, detail })
        .collect();
    let score = reasons.iter().map(|r| r.weight * r.value).sum::<f64>().clamp(0.0, 1.0);
    Scored { score, reasons }
}

/// Whether the factors write their details (plain-language text, a few
/// allocations each): matching ranks a hundred candidates by value alone
/// and writes the details of the twenty it shows.
#[derive(Debug, Clone, Copy)]
struct Details(bool);

impl Details {
    fn write(self, detail: impl FnOnce() -> String) -> String {
        if self.0 { detail() } else { String::new() }
    }
}

type Valued = (f64, String);

fn text(relevance: f64, details: Details) -> Valued {
    let value = if relevance.is_nan() { 0.0 } else { relevance.clamp(0.0, 1.0) };
    let detail = if value > 0.0 {
        details.write(|| format!("文本相关度 {value:.2}（以最相关的候选为 1）"))
    } else {
        details.write(|| "文本无相关词".to_string())
    };
    (value, detail)
}

/// How deep two codes share the IPC tree.
#[derive(Debug, Clone, Copy)]
enum Shared {
    Group,
    Subclass,
    Class,
    Section,
}

impl Shared {
    fn of(a: &IpcCode, b: &IpcCode) -> Option<Self> {
        if a.same_main_group(b) {
            return Some(Self::Group);
        }
        if a.subclass() == b.subclass() {
            return Some(Self::Subclass);
        }
        if a.class() == b.class() {
            return Some(Self::Class);
        }
        (a.section() == b.section()).then_some(Self::Section)
    }

    fn value(self) -> f64 {
        match self {
            Self::Group => IPC_GROUP,
            Self::Subclass => IPC_SUBCLASS,
            Self::Class => IPC_CLASS,
            Self::Section => IPC_SECTION,
        }
    }

    /// The level's name and the node `code` shares at it (only for the
    /// detail: ranking needs the level alone).
    fn described(self, code: &IpcCode) -> (&'static str, String) {
        match self {
            Self::Group => ("同大组", code.main_group().unwrap_or_default()),
            Self::Subclass => ("同小类", code.subclass().to_string()),
            Self::Class => ("同大类", code.class().to_string()),
            Self::Section => ("同部", code.section().to_string()),
        }
    }
}

fn ipc(offered: &[IpcCode], needed: &[IpcCode], details: Details) -> Valued {
    if offered.is_empty() {
        return (0.0, details.write(|| "成果未标注 IPC 分类".to_string()));
    }
    if needed.is_empty() {
        return (0.0, details.write(|| "需求未标注 IPC 分类".to_string()));
    }
    let mut best: Option<(Shared, &IpcCode, &IpcCode)> = None;
    for a in offered {
        for b in needed {
            if let Some(shared) = Shared::of(a, b)
                && best.as_ref().is_none_or(|(kept, ..)| shared.value() > kept.value())
            {
                best = Some((shared, a, b));
            }
        }
    }
    match best {
        Some((shared, a, b)) => (
            shared.value(),
            details.write(|| {
                let (level, node) = shared.described(a);
                format!("IPC {level} {node}（成果 {a}，需求 {b}）")
            }),
        ),
        None => (0.0, details.write(|| format!("IPC 无共同分类（成果 {}，需求 {}）", join(offered), join(needed)))),
    }
}

fn join(codes: &[IpcCode]) -> String {
    codes.iter().map(IpcCode::as_str).collect::<Vec<_>>().join("、")
}

fn yuan(money: Money) -> String {
    format!("¥{money}")
}

fn budget_text(min: Option<Money>, max: Option<Money>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("预算 {}–{}", yuan(min), yuan(max)),
        (Some(min), None) => format!("预算不低于 {}", yuan(min)),
        (None, Some(max)) => format!("预算不超过 {}", yuan(max)),
        (None, None) => "预算面议".to_string(),
    }
}

/// Fen as a float, only for ratios between amounts (never for money itself).
fn ratio(numerator: i64, denominator: i64) -> f64 {
    if denominator <= 0 { f64::INFINITY } else { numerator as f64 / denominator as f64 }
}

fn price(offer: &Offer, need: &Need, details: Details) -> Valued {
    let budget = || budget_text(need.budget_min, need.budget_max);
    let Some(asked) = offer.price else {
        return (PRICE_UNKNOWN, details.write(|| format!("价格面议，{}", budget())));
    };
    if need.budget_min.is_none() && need.budget_max.is_none() {
        return (PRICE_UNKNOWN, details.write(|| format!("价格 {}，需求预算面议", yuan(asked))));
    }
    let (value, mut detail) = match (need.budget_min, need.budget_max) {
        (_, Some(max)) if asked > max => {
            let over = ratio(asked.fen() - max.fen(), max.fen());
            ((1.0 - over).max(0.0), details.write(|| format!("价格 {} 高于{}", yuan(asked), budget())))
        }
        (Some(min), _) if asked < min => {
            let under = ratio(min.fen() - asked.fen(), min.fen());
            (1.0 - 0.5 * under.min(1.0), details.write(|| format!("价格 {} 低于{}", yuan(asked), budget())))
        }
        _ => (1.0, details.write(|| format!("价格 {} 在{}内", yuan(asked), budget()))),
    };
    if value < PRICE_NEGOTIABLE_FLOOR && (offer.negotiable || need.negotiable) {
        if details.0 {
            detail.push_str("，可面议");
        }
        return (PRICE_NEGOTIABLE_FLOOR, detail);
    }
    (value, detail)
}

fn mode_name(mode: TradeMode) -> &'static str {
    match mode {
        TradeMode::Assignment => "转让",
        TradeMode::ExclusiveLicense => "独占许可",
        TradeMode::SoleLicense => "排他许可",
        TradeMode::NonexclusiveLicense => "普通许可",
        TradeMode::Equity => "作价入股",
        TradeMode::JointDevelopment => "合作开发",
    }
}

fn is_licence(mode: &TradeMode) -> bool {
    matches!(mode, TradeMode::ExclusiveLicense | TradeMode::SoleLicense | TradeMode::NonexclusiveLicense)
}

fn mode_names(modes: &[TradeMode]) -> String {
    modes.iter().map(|&m| mode_name(m)).collect::<Vec<_>>().join("、")
}

fn trade_mode(offered: &[TradeMode], wanted: &[TradeMode], details: Details) -> Valued {
    let common: Vec<TradeMode> = offered.iter().copied().filter(|m| wanted.contains(m)).collect();
    if !common.is_empty() {
        return (1.0, details.write(|| format!("交易方式一致：{}", mode_names(&common))));
    }
    if offered.iter().any(is_licence) && wanted.iter().any(is_licence) {
        return (
            TRADE_MODE_LICENCE,
            details
                .write(|| format!("均接受许可，方式不同（成果 {}，需求 {}）", mode_names(offered), mode_names(wanted))),
        );
    }
    (0.0, details.write(|| format!("交易方式不同（成果 {}，需求 {}）", mode_names(offered), mode_names(wanted))))
}

fn region(offered: &RegionCode, wanted: &RegionCode, details: Details) -> Valued {
    if offered.prefecture() == wanted.prefecture() {
        (REGION_PREFECTURE, details.write(|| format!("同一地市（{} 与 {}）", offered, wanted)))
    } else if offered.province() == wanted.province() {
        (REGION_PROVINCE, details.write(|| format!("同省不同地市（{} 与 {}）", offered, wanted)))
    } else {
        (0.0, details.write(|| format!("不同省份（{} 与 {}）", offered, wanted)))
    }
}

fn maturity(maturity: Maturity, details: Details) -> Valued {
    let name = match maturity {
        Maturity::Concept => "概念",
        Maturity::Lab => "小试",
        Maturity::Pilot => "中试",
        Maturity::Industrial => "产业化",
    };
    let steps = Maturity::ALL.len() as f64;
    let value = (f64::from(maturity.rank()) + 1.0) / steps;
    (value, details.write(|| format!("技术成熟度：{name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Vec<IpcCode> {
        list.iter().map(|c| IpcCode::parse(c).unwrap()).collect()
    }

    fn fen(yuan: i64) -> Option<Money> {
        Some(Money::from_fen(yuan * 100).unwrap())
    }

    fn offer() -> Offer {
        Offer {
            ipc: codes(&["H01M10/54"]),
            price: fen(80_000),
            negotiable: false,
            trade_modes: vec![TradeMode::Assignment],
            maturity: Maturity::Pilot,
            region: RegionCode::parse("630102").unwrap(),
        }
    }

    fn need() -> Need {
        Need {
            ipc: codes(&["H01M10/54"]),
            budget_min: fen(50_000),
            budget_max: fen(100_000),
            negotiable: false,
            trade_modes: vec![TradeMode::Assignment, TradeMode::JointDevelopment],
            region: RegionCode::parse("630105").unwrap(),
        }
    }

    fn reason(scored: &Scored, factor: Factor) -> &Reason {
        scored.reasons.iter().find(|r| r.factor == factor).unwrap()
    }

    #[test]
    fn default_weights_sum_to_one_and_validate() {
        let w = Weights::default();
        assert!((w.total() - 1.0).abs() < 1e-12);
        assert_eq!(w.validate(), Ok(()));
        assert_eq!(Weights { price: -0.1, ..w }.validate(), Err(WeightsError::Invalid("price")));
        assert_eq!(Weights { text: f64::NAN, ..w }.validate(), Err(WeightsError::Invalid("text")));
        assert_eq!(Weights { region: f64::INFINITY, ..w }.validate(), Err(WeightsError::Invalid("region")));
        let zero = Weights { text: 0.0, ipc: 0.0, price: 0.0, trade_mode: 0.0, region: 0.0, maturity: 0.0 };
        assert_eq!(zero.validate(), Err(WeightsError::AllZero));
        assert_eq!(Weights { maturity: 2.0, ..zero }.validate(), Ok(()));
    }

    #[test]
    fn weights_deserialise_with_defaults_and_refuse_unknown_keys() {
        let w: Weights = toml::from_str("text = 0.5\nipc = 0.5").unwrap();
        assert_eq!((w.text, w.ipc, w.price), (0.5, 0.5, 0.15));
        assert!(toml::from_str::<Weights>("txt = 1.0").is_err());
    }

    #[test]
    fn a_perfect_pair_explains_every_factor() {
        let scored = score(&offer(), &need(), 1.0, &Weights::default());
        let factors: Vec<Factor> = scored.reasons.iter().map(|r| r.factor).collect();
        assert_eq!(factors, Factor::ALL);
        assert_eq!(reason(&scored, Factor::Ipc).detail, "IPC 同大组 H01M10/00（成果 H01M10/54，需求 H01M10/54）");
        assert_eq!(reason(&scored, Factor::Price).detail, "价格 ¥80,000.00 在预算 ¥50,000.00–¥100,000.00内");
        assert_eq!(reason(&scored, Factor::TradeMode).detail, "交易方式一致：转让");
        assert_eq!(reason(&scored, Factor::Region).detail, "同一地市（630102 与 630105）");
        assert_eq!(reason(&scored, Factor::Maturity).detail, "技术成熟度：中试");
        assert_eq!(reason(&scored, Factor::Maturity).value, 0.75);
        // Everything but maturity is perfect: 1 − 0.05 × 0.25.
        assert!((scored.score - 0.9875).abs() < 1e-12, "{}", scored.score);
        let recomputed: f64 = scored.reasons.iter().map(|r| r.weight * r.value).sum();
        assert!((recomputed - scored.score).abs() < 1e-12);
        let weights: f64 = scored.reasons.iter().map(|r| r.weight).sum();
        assert!((weights - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ipc_counts_the_deepest_shared_level_of_the_best_pair() {
        let value = |a: &[&str], b: &[&str]| ipc(&codes(a), &codes(b), Details(true)).0;
        assert_eq!(value(&["H01M10/54"], &["H01M10/60"]), IPC_GROUP);
        assert_eq!(value(&["H01M10/54"], &["H01M4/36"]), IPC_SUBCLASS);
        assert_eq!(value(&["H01M"], &["H01M10/54"]), IPC_SUBCLASS, "a subclass alone names no group");
        assert_eq!(value(&["H01M"], &["H01M"]), IPC_SUBCLASS);
        assert_eq!(value(&["H01M10/54"], &["H01G11/00"]), IPC_CLASS);
        assert_eq!(value(&["H01M10/54"], &["H02J7/00"]), IPC_SECTION);
        assert_eq!(value(&["H01M10/54"], &["G06F16/33"]), 0.0);
        assert_eq!(value(&["G06F16/33", "C22B7/00", "H01M"], &["A01B", "H01M10/54"]), IPC_SUBCLASS);
        assert_eq!(value(&["C22B7/00", "H01M10/54"], &["H01M10/60", "C22B26/12"]), IPC_GROUP);
        assert_eq!(value(&[], &["H01M"]), 0.0);
        assert_eq!(ipc(&[], &codes(&["H01M"]), Details(true)).1, "成果未标注 IPC 分类");
        assert_eq!(ipc(&codes(&["H01M"]), &[], Details(true)).1, "需求未标注 IPC 分类");
        assert_eq!(
            ipc(&codes(&["H01M10/54"]), &codes(&["H01M4/36"]), Details(true)).1,
            "IPC 同小类 H01M（成果 H01M10/54，需求 H01M4/36）"
        );
        assert_eq!(
            ipc(&codes(&["A01B", "G06F"]), &codes(&["H01M"]), Details(true)).1,
            "IPC 无共同分类（成果 A01B、G06F，需求 H01M）"
        );
    }

    fn price_of(asked: Option<i64>, negotiable: bool, min: Option<i64>, max: Option<i64>, open: bool) -> Valued {
        let offer = Offer { price: asked.and_then(fen), negotiable, ..offer() };
        let need = Need { budget_min: min.and_then(fen), budget_max: max.and_then(fen), negotiable: open, ..need() };
        price(&offer, &need, Details(true))
    }

    #[test]
    fn price_within_above_and_below_the_budget() {
        let value = |asked, min, max| price_of(Some(asked), false, min, max, false).0;
        assert_eq!(value(50_000, Some(50_000), Some(100_000)), 1.0, "the bounds are inside");
        assert_eq!(value(100_000, Some(50_000), Some(100_000)), 1.0);
        assert_eq!(value(150_000, Some(50_000), Some(100_000)), 0.5);
        assert_eq!(value(200_000, Some(50_000), Some(100_000)), 0.0);
        assert_eq!(value(900_000, None, Some(100_000)), 0.0);
        assert_eq!(value(25_000, Some(50_000), Some(100_000)), 0.75);
        assert_eq!(value(1, Some(50_000), None), 1.0 - 0.5 * (49_999.0 / 50_000.0));
        assert_eq!(value(70_000, Some(50_000), None), 1.0);
        assert_eq!(value(70_000, None, Some(100_000)), 1.0);
        assert_eq!(
            price_of(Some(150_000), false, None, Some(100_000), false).1,
            "价格 ¥150,000.00 高于预算不超过 ¥100,000.00"
        );
        assert_eq!(
            price_of(Some(20_000), false, Some(50_000), None, false).1,
            "价格 ¥20,000.00 低于预算不低于 ¥50,000.00"
        );
    }

    #[test]
    fn negotiable_prices_score_partially() {
        assert_eq!(
            price_of(None, true, Some(50_000), Some(100_000), false),
            (PRICE_UNKNOWN, "价格面议，预算 ¥50,000.00–¥100,000.00".into())
        );
        assert_eq!(
            price_of(Some(80_000), false, None, None, true),
            (PRICE_UNKNOWN, "价格 ¥80,000.00，需求预算面议".into())
        );
        assert_eq!(price_of(None, true, None, None, true).0, PRICE_UNKNOWN);
        // Far above the budget, but one side will talk.
        let (value, detail) = price_of(Some(900_000), true, None, Some(100_000), false);
        assert_eq!(value, PRICE_NEGOTIABLE_FLOOR);
        assert!(detail.ends_with("，可面议"), "{detail}");
        assert_eq!(price_of(Some(900_000), false, None, Some(100_000), true).0, PRICE_NEGOTIABLE_FLOOR);
        assert_eq!(price_of(Some(150_000), true, None, Some(100_000), false).0, 0.5, "the floor only lifts");
    }

    #[test]
    fn trade_modes_match_exactly_or_as_licences() {
        use TradeMode::*;
        assert_eq!(trade_mode(&[Assignment, Equity], &[Equity], Details(true)).0, 1.0);
        let licences = trade_mode(&[ExclusiveLicense], &[NonexclusiveLicense, JointDevelopment], Details(true));
        assert_eq!(
            licences,
            (TRADE_MODE_LICENCE, "均接受许可，方式不同（成果 独占许可，需求 普通许可、合作开发）".into())
        );
        assert_eq!(trade_mode(&[Assignment], &[JointDevelopment], Details(true)).0, 0.0);
        assert_eq!(trade_mode(&[], &[JointDevelopment], Details(true)).0, 0.0);
    }

    #[test]
    fn regions_by_prefecture_and_province() {
        let r =
            |a: &str, b: &str| region(&RegionCode::parse(a).unwrap(), &RegionCode::parse(b).unwrap(), Details(true));
        assert_eq!(r("630102", "630105").0, REGION_PREFECTURE);
        assert_eq!(r("630102", "632801"), (REGION_PROVINCE, "同省不同地市（630102 与 632801）".into()));
        assert_eq!(r("630102", "320100"), (0.0, "不同省份（630102 与 320100）".into()));
    }

    #[test]
    fn riper_technology_scores_higher() {
        let values: Vec<f64> = Maturity::ALL.iter().map(|&m| maturity(m, Details(true)).0).collect();
        assert_eq!(values, [0.25, 0.5, 0.75, 1.0]);
        assert_eq!(maturity(Maturity::Industrial, Details(true)).1, "技术成熟度：产业化");
    }

    #[test]
    fn text_relevance_is_clamped() {
        assert_eq!(text(1.7, Details(true)).0, 1.0);
        assert_eq!(text(-1.0, Details(true)), (0.0, "文本无相关词".into()));
        assert_eq!(text(f64::NAN, Details(true)).0, 0.0);
        assert_eq!(text(0.5, Details(true)).1, "文本相关度 0.50（以最相关的候选为 1）");
    }

    #[test]
    fn weights_change_the_balance_not_the_range() {
        let only_region = Weights { text: 0.0, ipc: 0.0, price: 0.0, trade_mode: 0.0, region: 3.0, maturity: 0.0 };
        let far = Offer { region: RegionCode::parse("320100").unwrap(), ..offer() };
        assert_eq!(score(&far, &need(), 1.0, &only_region).score, 0.0);
        assert_eq!(score(&offer(), &need(), 0.0, &only_region).score, 1.0);
        assert_eq!(reason(&score(&offer(), &need(), 0.0, &only_region), Factor::Region).weight, 1.0);
        // Invalid weights (never past config validation) count every factor alike.
        let invalid = Weights { text: -1.0, ..Weights::default() };
        assert!(score(&offer(), &need(), 1.0, &invalid).reasons.iter().all(|r| (r.weight - 1.0 / 6.0).abs() < 1e-12));
    }

    /// A tiny deterministic generator (SplitMix64), so the properties below
    /// run over the same thousands of cases everywhere without a dependency.
    struct Dice(u64);

    impl Dice {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn chance(&mut self) -> bool {
            self.below(2) == 0
        }

        fn unit(&mut self) -> f64 {
            self.below(1_000_001) as f64 / 1_000_000.0
        }

        fn pick<T: Clone>(&mut self, items: &[T]) -> T {
            items[self.below(items.len() as u64) as usize].clone()
        }

        fn money(&mut self) -> Option<Money> {
            self.chance().then(|| Money::from_fen(1 + self.below(1_000_000_000) as i64).unwrap())
        }

        fn codes(&mut self) -> Vec<IpcCode> {
            const POOL: [&str; 10] = [
                "H01M",
                "H01M10/54",
                "H01M10/60",
                "H01M4/36",
                "H01G11/00",
                "H02J7/00",
                "G06F16/33",
                "G06F",
                "C22B7/00",
                "A01B",
            ];
            (0..self.below(4)).map(|_| IpcCode::parse(self.pick(&POOL)).unwrap()).collect()
        }

        fn modes(&mut self) -> Vec<TradeMode> {
            (0..1 + self.below(3)).map(|_| self.pick(TradeMode::ALL)).collect()
        }

        fn region(&mut self) -> RegionCode {
            RegionCode::parse(self.pick(&["630102", "630105", "632801", "320100", "110108"])).unwrap()
        }

        fn offer(&mut self) -> Offer {
            Offer {
                ipc: self.codes(),
                price: self.money(),
                negotiable: self.chance(),
                trade_modes: self.modes(),
                maturity: self.pick(Maturity::ALL),
                region: self.region(),
            }
        }

        fn need(&mut self) -> Need {
            let (a, b) = (self.money(), self.money());
            let (budget_min, budget_max) = match (a, b) {
                (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                other => other,
            };
            Need {
                ipc: self.codes(),
                budget_min,
                budget_max,
                negotiable: self.chance(),
                trade_modes: self.modes(),
                region: self.region(),
            }
        }

        fn weights(&mut self) -> Weights {
            let mut w = || if self.below(4) == 0 { 0.0 } else { self.unit() * 10.0 };
            let weights = Weights { text: w(), ipc: w(), price: w(), trade_mode: w(), region: w(), maturity: w() };
            if weights.validate().is_ok() { weights } else { Weights::default() }
        }
    }

    #[test]
    fn property_scores_and_values_stay_within_zero_and_one() {
        let mut dice = Dice(7);
        for _ in 0..5_000 {
            let (offer, need, weights) = (dice.offer(), dice.need(), dice.weights());
            let relevance = dice.unit() * 3.0 - 1.0;
            let scored = score(&offer, &need, relevance, &weights);
            assert!((0.0..=1.0).contains(&scored.score), "{scored:?}");
            assert_eq!(scored.reasons.len(), Factor::ALL.len());
            for r in &scored.reasons {
                assert!((0.0..=1.0).contains(&r.value) && (0.0..=1.0).contains(&r.weight), "{r:?}");
                assert!(!r.detail.is_empty());
            }
            let sum: f64 = scored.reasons.iter().map(|r| r.weight * r.value).sum();
            assert!((sum - scored.score).abs() < 1e-9);
        }
    }

    #[test]
    fn property_a_better_factor_never_lowers_the_score() {
        let mut dice = Dice(11);
        for _ in 0..5_000 {
            let (offer, need, weights) = (dice.offer(), dice.need(), dice.weights());
            let relevance = dice.unit();
            let base = score(&offer, &need, relevance, &weights).score;
            let at_least = |better: f64, what: &str| assert!(better >= base - 1e-12, "{what}: {better} < {base}");

            at_least(score(&offer, &need, (relevance + dice.unit()).min(1.0), &weights).score, "more relevant text");
            let riper = Maturity::ALL[(offer.maturity.rank() as usize + 1).min(3)];
            at_least(score(&Offer { maturity: riper, ..offer.clone() }, &need, relevance, &weights).score, "riper");
            let local = Offer { region: need.region.clone(), ..offer.clone() };
            at_least(score(&local, &need, relevance, &weights).score, "same region");
            let mut shared = offer.clone();
            shared.ipc.extend(need.ipc.iter().cloned());
            at_least(score(&shared, &need, relevance, &weights).score, "a shared IPC code");
            let mut modes = offer.clone();
            modes.trade_modes.extend(need.trade_modes.iter().copied());
            at_least(score(&modes, &need, relevance, &weights).score, "a shared trade mode");
            if let Some(max) = need.budget_max {
                let fits = Offer { price: Some(need.budget_min.unwrap_or(max)), ..offer.clone() };
                at_least(score(&fits, &need, relevance, &weights).score, "a price within the budget");
            }
            let open = Need { negotiable: true, ..need.clone() };
            at_least(score(&offer, &open, relevance, &weights).score, "a negotiable budget");
        }
    }

    /// Ranking by value alone orders candidates as the full score would.
    #[test]
    fn property_the_value_alone_is_the_scores_value() {
        let mut dice = Dice(13);
        for _ in 0..5_000 {
            let (offer, need, weights) = (dice.offer(), dice.need(), dice.weights());
            let relevance = dice.unit();
            let scored = score(&offer, &need, relevance, &weights);
            assert_eq!(score_value(&offer, &need, relevance, &weights).to_bits(), scored.score.to_bits());
        }
    }

    #[test]
    fn property_price_falls_as_the_price_climbs_above_the_ceiling() {
        let need = Need { budget_min: None, budget_max: fen(100_000), ..need() };
        let mut last = f64::INFINITY;
        for yuan in (100_000..=260_000).step_by(5_000) {
            let value = price(&Offer { price: fen(yuan), ..offer() }, &need, Details(true)).0;
            assert!(value <= last && (0.0..=1.0).contains(&value), "{yuan}: {value}");
            last = value;
        }
        assert_eq!(last, 0.0);
    }
}

//! Policy file → [`Program`]: strict validation with the key path of the
//! first problem, so that an official can fix a file from the message alone.

use toml::{Table, Value};

use super::claims_open::OpeningDay;
use super::error::PolicyError;
use super::fields::{Fields, describe};
use super::program::{Program, Rule, Schedule, Tier};
use super::rate::Rate;
use super::vocabulary::{Aggregate, BaseKind, ContractCategory, PartyRole, Proration, TierMode};
use crate::listing::TradeMode;
use crate::money::Money;
use crate::organization::OrganizationKind;

const PROGRAM_KEYS: &[&str] = &[
    "id",
    "name",
    "authority",
    "budget_fen",
    "proration",
    "cap_per_claimant_year_fen",
    "claims_open_on",
    "placeholder_note",
    "rules",
];

const RULE_KEYS: &[&str] = &[
    "id",
    "role",
    "contract_categories",
    "trade_modes",
    "claimant_region",
    "buyer_region",
    "seller_region",
    "claimant_kinds",
    "buyer_kinds",
    "seller_kinds",
    "exclude_related_party",
    "require_completed",
    "base",
    "aggregate",
    "min_base_fen",
    "rate",
    "tier_mode",
    "tiers",
    "cap_per_contract_fen",
    "cap_per_year_fen",
];

const TIER_KEYS: &[&str] = &["up_to_fen", "rate", "cap_fen"];

/// Kinds a rule may name: every kind that takes part in deals (an
/// `authority` never does).
const PARTY_KINDS: [OrganizationKind; 4] =
    [OrganizationKind::Enterprise, OrganizationKind::University, OrganizationKind::Institute, OrganizationKind::Agency];

impl Program {
    /// Parses and validates one policy file.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let table: Table = text.parse().map_err(|error| PolicyError::syntax(text, &error))?;
        Self::from_table(table)
    }

    /// Validates an already parsed file (the what-if path starts here).
    pub(crate) fn from_table(source: Table) -> Result<Self, PolicyError> {
        let top = Fields::new("", &source, PROGRAM_KEYS)?;
        let id = identifier(&top, "id")?;
        let name = top.required_text("name")?.to_string();
        let authority = top.optional_text("authority")?.map(str::to_string);
        let budget_fen = top.fen("budget_fen")?;
        let proration =
            top.word("proration", Proration::from_db, &Proration::spellings())?.unwrap_or(Proration::Proportional);
        let cap_per_claimant_year_fen = top.cap("cap_per_claimant_year_fen")?;
        let claims_open_on = top
            .str("claims_open_on")?
            .map(|text| OpeningDay::parse(text).map_err(|message| top.error("claims_open_on", message)))
            .transpose()?;
        let placeholder_note = top.optional_text("placeholder_note")?.map(str::to_string);

        let tables = top.tables("rules")?.unwrap_or_default();
        if tables.is_empty() {
            return Err(top.error("rules", "a program needs at least one [[rules]] table"));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(tables.len());
        for (path, table) in tables {
            let rule = parse_rule(&path, table)?;
            if let Some(first) = rules.iter().position(|earlier| earlier.id == rule.id) {
                return Err(PolicyError::new(
                    format!("{path}.id"),
                    format!("rule id \"{}\" is already used by rules[{first}]", rule.id),
                ));
            }
            rules.push(rule);
        }

        Ok(Self {
            id,
            name,
            authority,
            budget_fen,
            proration,
            cap_per_claimant_year_fen,
            claims_open_on,
            placeholder_note,
            rules,
            source,
        })
    }
}

fn parse_rule(path: &str, table: &Table) -> Result<Rule, PolicyError> {
    let fields = Fields::new(path, table, RULE_KEYS)?;
    let id = identifier(&fields, "id")?;
    let role = fields
        .word("role", PartyRole::from_db, &PartyRole::spellings())?
        .ok_or_else(|| fields.error("role", format!("missing; one of: {}", PartyRole::spellings())))?;
    let contract_categories = fields
        .list("contract_categories", |path, text| {
            word(path, text, ContractCategory::from_db, &ContractCategory::spellings())
        })?
        .unwrap_or_else(|| ContractCategory::ALL.to_vec());
    let trade_modes = fields.list("trade_modes", |path, text| {
        let expected = TradeMode::ALL.iter().map(|mode| mode.as_str()).collect::<Vec<_>>().join(", ");
        word(path, text, TradeMode::from_db, &expected)
    })?;
    let kinds = |key: &str| {
        fields.list(key, |path, text| {
            let expected = PARTY_KINDS.map(OrganizationKind::as_str).join(", ");
            word(path, text, |s| PARTY_KINDS.into_iter().find(|kind| kind.as_str() == s), &expected)
        })
    };
    let aggregate =
        fields.word("aggregate", Aggregate::from_db, &Aggregate::spellings())?.unwrap_or(Aggregate::PerContract);
    let cap_per_contract_fen = fields.cap("cap_per_contract_fen")?;
    if aggregate == Aggregate::Annual && cap_per_contract_fen.is_some() {
        // With an annual aggregate no amount is computed per contract, so a
        // per-contract cap would have nothing to cap.
        return Err(fields.error(
            "cap_per_contract_fen",
            "a per-contract cap needs aggregate = \"per_contract\"; with \"annual\" use cap_per_year_fen",
        ));
    }

    Ok(Rule {
        id,
        role,
        contract_categories,
        trade_modes,
        claimant_region: fields.list("claimant_region", region_prefix)?,
        buyer_region: fields.list("buyer_region", region_prefix)?,
        seller_region: fields.list("seller_region", region_prefix)?,
        claimant_kinds: kinds("claimant_kinds")?,
        buyer_kinds: kinds("buyer_kinds")?,
        seller_kinds: kinds("seller_kinds")?,
        exclude_related_party: fields.bool("exclude_related_party")?.unwrap_or(true),
        require_completed: fields.bool("require_completed")?.unwrap_or(false),
        base: fields.word("base", BaseKind::from_db, &BaseKind::spellings())?.unwrap_or(BaseKind::PaidTechnologyAmount),
        aggregate,
        min_base_fen: fields.fen("min_base_fen")?.unwrap_or(Money::ZERO),
        schedule: parse_schedule(&fields)?,
        cap_per_contract_fen,
        cap_per_year_fen: fields.cap("cap_per_year_fen")?,
    })
}

/// Exactly one of `rate` or `tiers` (with `tier_mode`).
fn parse_schedule(fields: &Fields<'_>) -> Result<Schedule, PolicyError> {
    match (fields.value("rate"), fields.has("tiers")) {
        (None, false) => Err(PolicyError::new(fields.path(), "a rule needs either `rate` or `tiers`")),
        (Some(_), true) => Err(PolicyError::new(fields.path(), "a rule has either `rate` or `tiers`, not both")),
        (Some(value), false) => {
            if fields.has("tier_mode") {
                return Err(fields.error("tier_mode", "`tier_mode` goes with `tiers`, not with `rate`"));
            }
            Ok(Schedule::Rate(rate(&fields.path_of("rate"), value)?))
        }
        (None, true) => {
            let mode = fields.word("tier_mode", TierMode::from_db, &TierMode::spellings())?.ok_or_else(|| {
                fields
                    .error("tier_mode", format!("missing; `tiers` need a tier_mode, one of: {}", TierMode::spellings()))
            })?;
            let tables = fields.tables("tiers")?.unwrap_or_default();
            if tables.is_empty() {
                return Err(fields.error("tiers", "needs at least one [[rules.tiers]] table"));
            }
            let last = tables.len() - 1;
            let mut tiers: Vec<Tier> = Vec::with_capacity(tables.len());
            for (index, (path, table)) in tables.into_iter().enumerate() {
                let previous = tiers.last().and_then(|tier| tier.up_to_fen);
                tiers.push(parse_tier(&path, table, mode, index == last, previous)?);
            }
            Ok(Schedule::Tiers { mode, tiers })
        }
    }
}

fn parse_tier(
    path: &str,
    table: &Table,
    mode: TierMode,
    is_last: bool,
    previous: Option<Money>,
) -> Result<Tier, PolicyError> {
    let fields = Fields::new(path, table, TIER_KEYS)?;
    let rate = match fields.value("rate") {
        Some(value) => rate(&fields.path_of("rate"), value)?,
        None => return Err(fields.error("rate", "missing; every tier has a rate")),
    };
    let up_to_fen = fields.fen("up_to_fen")?;
    match (up_to_fen, is_last) {
        (None, false) => return Err(fields.error("up_to_fen", "missing; only the last tier has no up_to_fen")),
        (Some(_), true) => {
            return Err(fields.error("up_to_fen", "the last tier has no up_to_fen: it covers everything above"));
        }
        (Some(bound), false) => {
            let floor = previous.unwrap_or(Money::ZERO);
            if bound <= floor {
                let message = match previous {
                    Some(previous) => format!(
                        "must be greater than the previous tier's up_to_fen ({}); tiers go from low to high",
                        previous.fen()
                    ),
                    None => "must be greater than 0".to_string(),
                };
                return Err(fields.error("up_to_fen", message));
            }
        }
        (None, true) => {}
    }
    let cap_fen = fields.cap("cap_fen")?;
    if fields.has("cap_fen") && mode == TierMode::Marginal {
        return Err(fields.error(
            "cap_fen",
            "cap_fen is for tier_mode = \"bracket\" only; cap a marginal rule with cap_per_contract_fen or cap_per_year_fen",
        ));
    }
    Ok(Tier { up_to_fen, rate, cap_fen })
}

fn rate(path: &str, value: &Value) -> Result<Rate, PolicyError> {
    match value {
        Value::String(text) => Rate::parse(text).map_err(|message| PolicyError::new(path, message)),
        other => Err(PolicyError::new(
            path,
            format!("a rate is a percent string such as \"5%\" or \"0.05%\", found {}", describe(other)),
        )),
    }
}

/// Program and rule ids: `[a-z0-9-]+`, stable in URLs and the database.
fn identifier(fields: &Fields<'_>, key: &str) -> Result<String, PolicyError> {
    let id = fields.str(key)?.ok_or_else(|| fields.error(key, "missing"))?;
    let valid = !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(fields.error(key, format!("\"{id}\" is not an id: use lowercase letters, digits and '-'")));
    }
    Ok(id.to_string())
}

fn word<T>(path: &str, text: &str, parse: impl Fn(&str) -> Option<T>, expected: &str) -> Result<T, PolicyError> {
    parse(text).ok_or_else(|| PolicyError::new(path, format!("unknown value \"{text}\"; expected one of: {expected}")))
}

/// A GB/T 2260 prefix: province (2 digits), prefecture (4) or county (6).
fn region_prefix(path: &str, text: &str) -> Result<String, PolicyError> {
    let digits = text.bytes().all(|b| b.is_ascii_digit());
    if digits && matches!(text.len(), 2 | 4 | 6) {
        Ok(text.to_string())
    } else {
        Err(PolicyError::new(
            path,
            format!("\"{text}\" is not a region prefix: 2, 4 or 6 digits of a GB/T 2260 code (63, 6301, 630102)"),
        ))
    }
}

//! A subsidy program as read from its policy file: the validated form that
//! the engine computes with. Built only by parsing (see `parse.rs`), so a
//! `Program` in hand always satisfies POLICY.md.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::claims_open::OpeningDay;
use super::rate::Rate;
use super::vocabulary::{Aggregate, BaseKind, ContractCategory, PartyRole, Proration, TierMode};
use crate::listing::TradeMode;
use crate::money::Money;
use crate::organization::OrganizationKind;

/// One program: who pays, its budget and its rules. Serialises in the shape
/// of the file (keys as in POLICY.md), for `GET /subsidy/programs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Program {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) authority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) budget_fen: Option<Money>,
    pub(crate) proration: Proration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cap_per_claimant_year_fen: Option<Money>,
    /// The day of the following year from which claims for a year open;
    /// `None`: 1 January.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) claims_open_on: Option<OpeningDay>,
    /// Values the authority still has to set, in words for users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) placeholder_note: Option<String>,
    pub(crate) rules: Vec<Rule>,
    /// The file as parsed, so that what-if overrides re-validate the whole
    /// program instead of patching the validated form.
    #[serde(skip)]
    pub(crate) source: toml::Table,
}

/// One rule: what it pays one role, on which deals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub(crate) id: String,
    pub(crate) role: PartyRole,
    pub(crate) contract_categories: Vec<ContractCategory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trade_modes: Option<Vec<TradeMode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) claimant_region: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) buyer_region: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) seller_region: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) claimant_kinds: Option<Vec<OrganizationKind>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) buyer_kinds: Option<Vec<OrganizationKind>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) seller_kinds: Option<Vec<OrganizationKind>>,
    pub(crate) exclude_related_party: bool,
    /// Only completed deals (registered and paid in full) count.
    pub(crate) require_completed: bool,
    pub(crate) base: BaseKind,
    pub(crate) aggregate: Aggregate,
    pub(crate) min_base_fen: Money,
    #[serde(flatten)]
    pub(crate) schedule: Schedule,
    /// `None` when the file says 0 or nothing: no cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cap_per_contract_fen: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cap_per_year_fen: Option<Money>,
}

/// How a rule turns a base into an amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Rate(Rate),
    /// Validated: at least one tier; upper bounds strictly increasing; only
    /// the last tier unbounded; caps only in bracket mode.
    Tiers {
        mode: TierMode,
        tiers: Vec<Tier>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tier {
    /// Exclusive upper bound of the slice or bracket; `None` on the last tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) up_to_fen: Option<Money>,
    pub(crate) rate: Rate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cap_fen: Option<Money>,
}

/// `rate = "5%"`, or `tier_mode` and `tiers`, as in the file.
impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Self::Rate(rate) => map.serialize_entry("rate", rate)?,
            Self::Tiers { mode, tiers } => {
                map.serialize_entry("tier_mode", mode)?;
                map.serialize_entry("tiers", tiers)?;
            }
        }
        map.end()
    }
}

impl Program {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn authority(&self) -> Option<&str> {
        self.authority.as_deref()
    }

    /// The year's budget; `None`: approved amounts are paid in full.
    pub fn budget(&self) -> Option<Money> {
        self.budget_fen
    }

    pub fn proration(&self) -> Proration {
        self.proration
    }

    /// The cap on one claimant's total in the program and year.
    pub fn cap_per_claimant_year(&self) -> Option<Money> {
        self.cap_per_claimant_year_fen
    }

    /// Set when the file holds values the authority has yet to decide.
    /// The program as TOML, normalised: equal programs give equal text, so
    /// its digest identifies the rules a claim was computed under.
    pub fn canonical_toml(&self) -> String {
        toml::to_string(&self.source).unwrap_or_default()
    }

    pub fn placeholder_note(&self) -> Option<&str> {
        self.placeholder_note.as_deref()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rules that pay `role`, in file order.
    pub fn rules_for(&self, role: PartyRole) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |rule| rule.role == role)
    }
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn role(&self) -> PartyRole {
        self.role
    }

    pub fn base(&self) -> BaseKind {
        self.base
    }

    pub fn aggregate(&self) -> Aggregate {
        self.aggregate
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

impl Tier {
    pub fn up_to(&self) -> Option<Money> {
        self.up_to_fen
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    pub fn cap(&self) -> Option<Money> {
        self.cap_fen
    }
}

//! Request bodies of the deal routes and their parsing into checked values;
//! every invalid field is reported at once, with its path.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use techtrade_domain::deal::{self, ContractAmounts};
use techtrade_domain::text;
use techtrade_domain::{ContractCategory, Money, TradeMode, Violations};
use utoipa::ToSchema;

pub const MAX_TERMS: usize = 5_000;
pub const MAX_REASON: usize = 1_000;

/// An offer or counter-offer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfferRequest {
    /// The price offered, in fen.
    #[schema(example = 50_000_000, minimum = 1)]
    pub amount_fen: i64,
    /// One of the modes the listing offers.
    pub trade_mode: TradeMode,
    /// What else is proposed: scope, milestones, support.
    #[serde(default)]
    #[schema(max_length = 5_000)]
    pub terms: String,
}

/// An offer whose fields are checked.
#[derive(Debug, Clone)]
pub struct ValidOffer {
    pub amount: Money,
    pub trade_mode: TradeMode,
    pub terms: String,
}

impl OfferRequest {
    /// Checks the offer; `prefix` is its path in the body (`offer.` or empty).
    pub fn validate(&self, prefix: &str, offered_modes: &[TradeMode]) -> Result<ValidOffer, Violations> {
        let mut violations = Violations::new();
        let amount = violations.check(&format!("{prefix}amount_fen"), deal::positive(self.amount_fen));
        if !offered_modes.is_empty() && !offered_modes.contains(&self.trade_mode) {
            let offered: Vec<&str> = offered_modes.iter().map(|m| m.as_str()).collect();
            violations.push(
                format!("{prefix}trade_mode"),
                "not_offered",
                format!("the listing offers {}", offered.join(", ")),
            );
        }
        let terms = self.terms.trim().to_string();
        if terms.chars().count() > MAX_TERMS {
            violations.push(format!("{prefix}terms"), "too_long", format!("at most {MAX_TERMS} characters"));
        }
        violations.finish(|| Some(ValidOffer { amount: amount?, trade_mode: self.trade_mode, terms }))
    }
}

/// Opens a deal on a published listing, with the buyer's first offer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateDealRequest {
    pub listing_id: String,
    /// The buyer's own demand this deal answers, if any.
    #[serde(default)]
    pub demand_id: Option<String>,
    /// The technology transfer agency (技术转移服务机构) credited with the deal.
    #[serde(default)]
    pub agency_organization_id: Option<String>,
    pub offer: OfferRequest,
}

/// The technology contract as signed, recorded by the seller.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContractRequest {
    pub category: ContractCategory,
    #[schema(minimum = 1)]
    pub total_amount_fen: i64,
    /// Equipment, materials and other non-technical parts of the total:
    /// less than the total.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub non_technical_amount_fen: i64,
    /// Today or earlier.
    pub signed_on: NaiveDate,
    /// Whether buyer and seller are related parties (关联交易), as declared.
    pub related_party: bool,
}

#[derive(Debug, Clone)]
pub struct ValidContract {
    pub category: ContractCategory,
    pub amounts: ContractAmounts,
    pub signed_on: NaiveDate,
    pub related_party: bool,
}

impl ContractRequest {
    pub fn validate(&self, today: NaiveDate) -> Result<ValidContract, Violations> {
        let amounts = ContractAmounts::new(self.total_amount_fen, self.non_technical_amount_fen);
        let mut violations = match &amounts {
            Err(violations) => violations.clone(),
            Ok(_) => Violations::new(),
        };
        let signed_on = violations.check("signed_on", deal::not_in_future(self.signed_on, today));
        violations.finish(|| {
            Some(ValidContract {
                category: self.category,
                amounts: amounts.ok()?,
                signed_on: signed_on?,
                related_party: self.related_party,
            })
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationDecision {
    Register,
    Reject,
}

/// An official's decision on registering the contract (技术合同认定登记).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContractRegistrationRequest {
    pub decision: RegistrationDecision,
    /// 核定技术交易额: at most the contract's technology amount. Required to register.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub registered_technology_amount_fen: Option<i64>,
    /// Required to reject.
    #[serde(default)]
    #[schema(max_length = 1_000)]
    pub reason: Option<String>,
    /// To reject when the seller applied for the registration (`POST
    /// /registrations` with the deal): the catalogued reasons the office's
    /// refusal gives, as `POST /registrations/{id}/decision` takes them.
    #[serde(default)]
    pub reasons: Vec<techtrade_domain::registration::RefusalReason>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidRegistration {
    Register { amount: Money, note: Option<String> },
    Reject { reason: String },
}

impl ContractRegistrationRequest {
    pub fn validate(&self, technology_amount: Money) -> Result<ValidRegistration, Violations> {
        let mut violations = Violations::new();
        let reason = self.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > MAX_REASON) {
            violations.push("reason", "too_long", format!("at most {MAX_REASON} characters"));
        }
        match self.decision {
            RegistrationDecision::Register => {
                let amount = match self.registered_technology_amount_fen {
                    None => {
                        violations.push(
                            "registered_technology_amount_fen",
                            "required",
                            "registering needs the 核定 technology amount",
                        );
                        None
                    }
                    Some(fen) => violations.check("registered_technology_amount_fen", deal::positive(fen)),
                };
                if let Some(amount) = amount
                    && amount > technology_amount
                {
                    violations.push(
                        "registered_technology_amount_fen",
                        "exceeds_technology_amount",
                        format!("at most the contract's technology amount, {technology_amount}"),
                    );
                }
                violations
                    .finish(|| Some(ValidRegistration::Register { amount: amount?, note: reason.map(String::from) }))
            }
            RegistrationDecision::Reject => {
                if reason.is_none() {
                    violations.push("reason", "required", "a rejection needs a reason the parties can act on");
                }
                violations.finish(|| Some(ValidRegistration::Reject { reason: reason?.to_string() }))
            }
        }
    }
}

/// Ends a deal before registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CancelRequest {
    #[serde(default)]
    #[schema(max_length = 1_000)]
    pub reason: Option<String>,
}

impl CancelRequest {
    pub fn validate(&self) -> Result<Option<String>, Violations> {
        let mut violations = Violations::new();
        let reason = match self.reason.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(reason) => violations.check("reason", text::required(reason, MAX_REASON)),
        };
        violations.finish(|| Some(reason))
    }
}

/// 合同解除: when the registered contract ended, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TerminateRequest {
    /// The day the contract ended (not in the future).
    pub terminated_on: NaiveDate,
    /// Why: 1–1000 characters, kept with the registration record.
    #[schema(min_length = 1, max_length = 1_000, pattern = r"[^\s\u0085]")]
    pub reason: String,
}

impl TerminateRequest {
    pub fn validate(&self, today: NaiveDate) -> Result<(NaiveDate, String), Violations> {
        let mut violations = Violations::new();
        let terminated_on = violations.check("terminated_on", deal::not_in_future(self.terminated_on, today));
        let reason = violations.check("reason", text::required(&self.reason, MAX_REASON));
        violations.finish(|| Some((terminated_on?, reason?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Violations) -> Vec<(String, &'static str)> {
        v.into_vec().into_iter().map(|v| (v.field, v.code)).collect()
    }

    #[test]
    fn an_offer_must_be_positive_and_in_an_offered_mode() {
        let offer = OfferRequest { amount_fen: 0, trade_mode: TradeMode::Equity, terms: String::new() };
        let error = offer.validate("offer.", &[TradeMode::Assignment]).unwrap_err();
        assert_eq!(
            fields(error),
            [("offer.amount_fen".to_string(), "not_positive"), ("offer.trade_mode".to_string(), "not_offered")]
        );
        let offer = OfferRequest { amount_fen: 10, trade_mode: TradeMode::Assignment, terms: " 含培训 ".into() };
        let valid = offer.validate("", &[TradeMode::Assignment]).unwrap();
        assert_eq!((valid.amount.fen(), valid.terms.as_str()), (10, "含培训"));
    }

    #[test]
    fn a_contract_is_dated_and_adds_up() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let request = ContractRequest {
            category: ContractCategory::Transfer,
            total_amount_fen: 100,
            non_technical_amount_fen: 200,
            signed_on: today.succ_opt().unwrap(),
            related_party: false,
        };
        assert_eq!(
            fields(request.validate(today).unwrap_err()),
            [("non_technical_amount_fen".to_string(), "exceeds_total"), ("signed_on".to_string(), "in_future")]
        );
    }

    #[test]
    fn registration_needs_an_amount_within_the_contract_or_a_reason() {
        let technology = Money::from_fen(1_000).unwrap();
        let register = |amount| ContractRegistrationRequest {
            decision: RegistrationDecision::Register,
            registered_technology_amount_fen: amount,
            reason: None,
            reasons: Vec::new(),
        };
        assert_eq!(
            register(Some(1_000)).validate(technology),
            Ok(ValidRegistration::Register { amount: technology, note: None })
        );
        assert_eq!(fields(register(Some(1_001)).validate(technology).unwrap_err())[0].1, "exceeds_technology_amount");
        assert_eq!(fields(register(None).validate(technology).unwrap_err())[0].1, "required");
        let reject = ContractRegistrationRequest {
            decision: RegistrationDecision::Reject,
            registered_technology_amount_fen: None,
            reason: Some("  ".into()),
            reasons: Vec::new(),
        };
        assert_eq!(fields(reject.validate(technology).unwrap_err()), [("reason".to_string(), "required")]);
    }
}

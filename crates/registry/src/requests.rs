//! What the registration routes take, and their checks.

use chrono::NaiveDate;
use serde::Deserialize;
use techtrade_domain::deal::{ContractAmounts, ContractCategory, not_in_future, positive};
use techtrade_domain::registration::{ContractSubcategory, IpType, RefusalReason, TechnologyField};
use techtrade_domain::{CreditCode, Money, OrganizationKind, RegionCode, Violations, text};
use utoipa::ToSchema;

/// The buyer: an organisation on the platform, or one named by its credit code.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct BuyerRequest {
    /// A registered organisation; its name, credit code and region are taken from it.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// The buyer's name as the contract writes it (required without `organization_id`).
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"[^\s\u0085]")]
    pub name: Option<String>,
    /// 统一社会信用代码 (required without `organization_id`).
    #[serde(default)]
    #[schema(value_type = Option<techtrade_domain::CreditCode>)]
    pub credit_code: Option<String>,
    /// GB/T 2260 region code (required without `organization_id`).
    #[serde(default)]
    #[schema(value_type = Option<techtrade_domain::RegionCode>)]
    pub region_code: Option<String>,
    /// What kind of organisation an outside buyer is (seller kinds and
    /// subsidy rules tell them apart). Default: an enterprise when the
    /// credit code says so (it starts with 9, 工商 registration); otherwise required.
    #[serde(default)]
    pub kind: Option<OrganizationKind>,
}

/// The technology contract to register, as signed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ContractToRegister {
    pub category: ContractCategory,
    /// 委托开发 / 合作开发 within development; 技术培训 / 技术中介 within service.
    #[serde(default)]
    pub subcategory: Option<ContractSubcategory>,
    pub buyer: BuyerRequest,
    /// 成交额: the contract's whole amount, in fen.
    #[schema(minimum = 1)]
    pub total_amount_fen: i64,
    /// Equipment, parts, raw materials and other non-technical parts of it.
    #[schema(minimum = 0)]
    pub non_technical_amount_fen: i64,
    /// Today or earlier.
    pub signed_on: NaiveDate,
    /// The end of the contract's period of validity: an application is
    /// made before it.
    pub valid_until: NaiveDate,
    #[serde(default)]
    pub technology_field: Option<TechnologyField>,
    #[serde(default)]
    pub ip_type: Option<IpType>,
    /// Whether the technology comes from a government-funded project.
    #[serde(default)]
    pub government_project: bool,
    /// Whether buyer and seller are related parties (关联交易), as declared.
    pub related_party: bool,
}

/// A seller's application: for a contract signed off the platform
/// (`contract`), or for a platform deal's (`deal_id`, with the `terms` its
/// contract does not say).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ApplicationRequest {
    /// A deal of the caller's organisation as seller, its contract signed
    /// and not yet registered: the parties, category, amounts, signing day
    /// and related-party flag are taken from its contract.
    #[serde(default)]
    pub deal_id: Option<String>,
    /// The contract as signed: required without `deal_id`, left out with it.
    #[serde(default)]
    pub contract: Option<ContractToRegister>,
    /// With `deal_id` (and required with it): what the deal's contract does not say.
    #[serde(default)]
    pub terms: Option<DealContractTerms>,
}

/// What registering a platform deal's contract needs besides the contract
/// the platform holds.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DealContractTerms {
    /// The end of the contract's period of validity.
    pub valid_until: NaiveDate,
    #[serde(default)]
    pub subcategory: Option<ContractSubcategory>,
    #[serde(default)]
    pub technology_field: Option<TechnologyField>,
    #[serde(default)]
    pub ip_type: Option<IpType>,
    #[serde(default)]
    pub government_project: bool,
}

/// An application as checked: which contract it is for.
#[derive(Debug, Clone)]
pub enum ValidApplication {
    /// A contract signed elsewhere, as the seller entered it.
    OffPlatform(ValidContract),
    /// A platform deal's contract, checked against the deal when it is read.
    Deal { deal_id: String, terms: DealContractTerms },
}

impl ApplicationRequest {
    pub fn validate(&self, today: NaiveDate) -> Result<ValidApplication, Violations> {
        let mut violations = Violations::new();
        match (&self.deal_id, &self.contract) {
            (Some(deal_id), contract) => {
                if contract.is_some() {
                    violations.push("contract", "taken_from_deal", "the deal's contract is registered: leave it out");
                }
                if self.terms.is_none() {
                    violations.push("terms", "required", "give the contract's period of validity");
                }
                violations
                    .finish(|| Some(ValidApplication::Deal { deal_id: deal_id.clone(), terms: self.terms.clone()? }))
            }
            (None, Some(contract)) => {
                if self.terms.is_some() {
                    violations.push("terms", "only_with_deal", "terms go with deal_id; put them in the contract");
                }
                let contract = violations.nested("", contract.validate(today));
                violations.finish(|| contract.map(ValidApplication::OffPlatform))
            }
            (None, None) => {
                violations.push("contract", "required", "the contract to register, or the deal_id of a platform deal");
                Err(violations)
            }
        }
    }
}

impl DealContractTerms {
    /// The deal's contract with these terms added, checked as an
    /// off-platform contract is (under `terms.…`).
    pub fn complete(&self, mut contract: ValidContract) -> Result<ValidContract, Violations> {
        let mut violations = Violations::new();
        if self.valid_until < contract.signed_on {
            violations.push("terms.valid_until", "before_signing", "the contract ends before it was signed");
        }
        if let Some(sub) = self.subcategory
            && sub.category() != contract.category
        {
            violations.push(
                "terms.subcategory",
                "wrong_category",
                format!("{sub} is a kind of {}, not of {}", sub.category(), contract.category),
            );
        }
        contract.subcategory = self.subcategory;
        contract.valid_until = self.valid_until;
        contract.technology_field = self.technology_field;
        contract.ip_type = self.ip_type;
        contract.government_project = self.government_project;
        violations.finish(|| Some(contract))
    }
}

/// The buyer as checked: either an organisation to look up, or named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidBuyer {
    Registered(String),
    Named { name: String, credit_code: CreditCode, region_code: RegionCode, kind: OrganizationKind },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidContract {
    pub category: ContractCategory,
    pub subcategory: Option<ContractSubcategory>,
    pub buyer: ValidBuyer,
    pub amounts: ContractAmounts,
    pub signed_on: NaiveDate,
    pub valid_until: NaiveDate,
    pub technology_field: Option<TechnologyField>,
    pub ip_type: Option<IpType>,
    pub government_project: bool,
    pub related_party: bool,
}

impl ContractToRegister {
    /// Every field checked at once, under `contract.…`.
    pub fn validate(&self, today: NaiveDate) -> Result<ValidContract, Violations> {
        let mut violations = Violations::new();
        let amounts =
            violations.nested("contract.", ContractAmounts::new(self.total_amount_fen, self.non_technical_amount_fen));
        let signed_on = violations.check("contract.signed_on", not_in_future(self.signed_on, today));
        if self.valid_until < self.signed_on {
            violations.push("contract.valid_until", "before_signing", "the contract ends before it was signed");
        }
        if let Some(sub) = self.subcategory
            && sub.category() != self.category
        {
            violations.push(
                "contract.subcategory",
                "wrong_category",
                format!("{sub} is a kind of {}, not of {}", sub.category(), self.category),
            );
        }
        let buyer = self.buyer_checked(&mut violations);
        violations.finish(|| {
            Some(ValidContract {
                category: self.category,
                subcategory: self.subcategory,
                buyer: buyer?,
                amounts: amounts?,
                signed_on: signed_on?,
                valid_until: self.valid_until,
                technology_field: self.technology_field,
                ip_type: self.ip_type,
                government_project: self.government_project,
                related_party: self.related_party,
            })
        })
    }

    fn buyer_checked(&self, violations: &mut Violations) -> Option<ValidBuyer> {
        let buyer = &self.buyer;
        if let Some(id) = &buyer.organization_id {
            return Some(ValidBuyer::Registered(id.clone()));
        }
        let required = |value: &Option<String>| value.clone().unwrap_or_default();
        let name = violations.check("contract.buyer.name", text::required(&required(&buyer.name), 200));
        let credit_code =
            violations.check("contract.buyer.credit_code", CreditCode::parse(&required(&buyer.credit_code)));
        let region_code =
            violations.check("contract.buyer.region_code", RegionCode::parse(&required(&buyer.region_code)));
        // 统一社会信用代码 begin with the registering authority: 9 is 工商
        // (market regulation), where enterprises register.
        let kind = buyer.kind.or_else(|| {
            let code = credit_code.as_ref()?;
            code.as_str().starts_with('9').then_some(OrganizationKind::Enterprise)
        });
        if kind.is_none() && credit_code.is_some() {
            violations.push(
                "contract.buyer.kind",
                "required",
                "the credit code does not say what kind of organisation the buyer is",
            );
        }
        Some(ValidBuyer::Named { name: name?, credit_code: credit_code?, region_code: region_code?, kind: kind? })
    }
}

/// The office's decision on a submitted application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfficeDecision {
    Register,
    Refuse,
    RequestMore,
}

/// An official's decision: register (the amounts as registered, by default
/// the contract's), refuse (one or more catalogued reasons), or ask for
/// more material (补正, with what is missing), which stops the clock.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DecisionRequest {
    pub decision: OfficeDecision,
    /// With `refuse`: why, from the catalogue.
    #[serde(default)]
    pub reasons: Vec<RefusalReason>,
    /// With `register`: the 成交额 as registered (the contract's by default).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub registered_total_fen: Option<i64>,
    /// With `register`: the 技术交易额 as registered (核定; the contract's
    /// total less its non-technical part by default), at most the registered total.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub registered_technology_amount_fen: Option<i64>,
    /// With `request_more`: what to supply (required); otherwise a note.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub message: Option<String>,
}

/// A decision as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidDecision {
    Register { total: Money, technology: Money, note: Option<String> },
    Refuse { reasons: Vec<RefusalReason>, note: Option<String> },
    RequestMore { message: String },
}

const MAX_MESSAGE: usize = 2000;

impl DecisionRequest {
    /// Checks the decision against the contract's own amounts.
    pub fn validate(&self, contract: &ContractAmounts) -> Result<ValidDecision, Violations> {
        let mut violations = Violations::new();
        let note = match self.message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            Some(message) if message.chars().count() > MAX_MESSAGE => {
                violations.push("message", "too_long", format!("at most {MAX_MESSAGE} characters"));
                None
            }
            other => other.map(str::to_string),
        };
        let decision = match self.decision {
            OfficeDecision::Register => {
                let total_fen = self.registered_total_fen.unwrap_or(contract.total.fen());
                let technology_fen = self.registered_technology_amount_fen.unwrap_or(contract.technology.fen());
                let total = violations.check("registered_total_fen", positive(total_fen));
                let technology = violations.check("registered_technology_amount_fen", Money::from_fen(technology_fen));
                if let Some(total) = total
                    && total > contract.total
                {
                    let message = format!("the contract's total is {}", contract.total);
                    violations.push("registered_total_fen", "exceeds_contract", message);
                }
                if let (Some(total), Some(technology)) = (total, technology)
                    && technology > total
                {
                    let message = "the technology amount cannot exceed the registered total";
                    violations.push("registered_technology_amount_fen", "exceeds_total", message);
                }
                total.zip(technology).map(|(total, technology)| ValidDecision::Register {
                    total,
                    technology,
                    note: note.clone(),
                })
            }
            OfficeDecision::Refuse => {
                let mut reasons = self.reasons.clone();
                reasons.sort();
                reasons.dedup();
                if reasons.is_empty() {
                    violations.push("reasons", "required", "name at least one reason from the catalogue");
                }
                Some(ValidDecision::Refuse { reasons, note: note.clone() })
            }
            OfficeDecision::RequestMore => match &note {
                Some(message) => Some(ValidDecision::RequestMore { message: message.clone() }),
                None => {
                    violations.push("message", "required", "say what material is missing");
                    None
                }
            },
        };
        violations.finish(|| decision)
    }
}

/// The seller's answer to a request for more material.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct AnswerRequest {
    /// What was supplied.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub message: Option<String>,
}

/// The seller asks the office to amend a registered contract (变更): new
/// amounts or a new period of validity, with the reason (a supplementary
/// agreement among the documents, as a rule).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AmendmentRequest {
    /// The new 成交额 (unset: unchanged).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub total_amount_fen: Option<i64>,
    /// The new non-technical part (unset: unchanged).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub non_technical_amount_fen: Option<i64>,
    /// The new end of the period of validity (unset: unchanged).
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// Why the contract changed.
    #[schema(min_length = 1, max_length = 2000, pattern = r"[^\s\u0085]")]
    pub reason: String,
}

/// An amendment as checked: the contract as it will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAmendment {
    pub amounts: ContractAmounts,
    pub valid_until: NaiveDate,
    pub reason: String,
}

impl AmendmentRequest {
    /// Checks the amendment against the contract as registered: something
    /// must change, and the amounts must still hold together.
    pub fn validate(
        &self,
        current: &ContractAmounts,
        signed_on: NaiveDate,
        valid_until: NaiveDate,
    ) -> Result<ValidAmendment, Violations> {
        let mut violations = Violations::new();
        let reason = violations.check("reason", text::required(&self.reason, MAX_MESSAGE));
        let amounts = violations.nested(
            "",
            ContractAmounts::new(
                self.total_amount_fen.unwrap_or(current.total.fen()),
                self.non_technical_amount_fen.unwrap_or(current.non_technical.fen()),
            ),
        );
        let new_valid_until = self.valid_until.unwrap_or(valid_until);
        if new_valid_until < signed_on {
            violations.push("valid_until", "before_signing", "the contract ends before it was signed");
        }
        if let Some(amounts) = &amounts
            && amounts == current
            && new_valid_until == valid_until
        {
            violations.push("total_amount_fen", "unchanged", "an amendment changes an amount or the validity");
        }
        violations.finish(|| Some(ValidAmendment { amounts: amounts?, valid_until: new_valid_until, reason: reason? }))
    }
}

/// The seller asks the office to cancel a registration (注销): the
/// contract was terminated or rescinded.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CancellationRequest {
    #[schema(min_length = 1, max_length = 2000, pattern = r"[^\s\u0085]")]
    pub reason: String,
}

impl CancellationRequest {
    pub fn validate(&self) -> Result<String, Violations> {
        required_reason(&self.reason)
    }
}

/// A `reason` that must say something, within the message length.
fn required_reason(reason: &str) -> Result<String, Violations> {
    let mut violations = Violations::new();
    let reason = violations.check("reason", text::required(reason, MAX_MESSAGE));
    violations.finish(|| reason)
}

/// The office finds the contract in dispute (a party contests it, or a
/// third party claims the technology): why, for the record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DisputeRequest {
    #[schema(min_length = 1, max_length = 2000, pattern = r"[^\s\u0085]")]
    pub reason: String,
}

impl DisputeRequest {
    pub fn validate(&self) -> Result<String, Violations> {
        required_reason(&self.reason)
    }
}

/// A payment on an off-platform contract, declared by the seller with a
/// proof (a bank slip or an invoice uploaded as a document of the application).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PaymentDeclaration {
    #[schema(minimum = 1)]
    pub amount_fen: i64,
    /// The day the buyer paid; today or earlier, not before signing.
    pub paid_on: NaiveDate,
    /// A `proof` or `invoice` document of this application.
    pub proof_document_id: String,
}

impl PaymentDeclaration {
    pub fn validate(&self, today: NaiveDate, signed_on: NaiveDate) -> Result<(Money, NaiveDate), Violations> {
        let mut violations = Violations::new();
        let amount = violations.check("amount_fen", positive(self.amount_fen));
        let paid_on = violations.check("paid_on", not_in_future(self.paid_on, today));
        if self.paid_on < signed_on {
            violations.push("paid_on", "before_signing", "paid before the contract was signed");
        }
        violations.finish(|| amount.zip(paid_on))
    }
}

/// An official confirms a declared payment (it then counts for subsidies)
/// or rejects it, with a note.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PaymentDecision {
    pub confirmed: bool,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

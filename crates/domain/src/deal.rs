//! Deals: from a buyer's first offer to a registered, paid technology
//! contract — who may do what, and in which state.
//!
//! ```text
//! negotiating ──accept──▶ agreed ──sign──▶ contracted ──register──▶ registered ◀──paid in full──▶ completed
//!   │  ▲ offer              │                 │  ▲ sign again (amend)   │      refund below total    │
//!   │  └─────┘              │                 │  └ reject registration   └────────terminate──────────┤
//!   └───────────cancel──────┴────────cancel───┘                                                      ▼
//!                 │ no money held                │ money held            money held ◀───────────── terminate
//!                 ▼                              ▼                            │                      │ none held
//!             cancelled ◀──refunds settled── cancelling          terminating ─┴─refunds settled──▶ terminated
//! ```
//!
//! Offers alternate between the two parties: whoever made the latest offer
//! waits for the other to accept or counter. Payments may be recorded once
//! there is a contract; the deal completes when it is registered and the
//! confirmed payments reach the contract total, whichever comes last, and
//! falls back to registered when a refund takes it below the total.
//!
//! Money is never kept by a deal that ended: a deal cancelled (before
//! registration) or terminated (合同解除, after it) while it holds
//! confirmed money, or transfers awaiting the payee's confirmation, waits
//! in `cancelling` or `terminating` until the payee has refunded every fen
//! and settled every record.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::listing::TradeMode;
use crate::money::{Money, MoneyError};
use crate::violations::{Coded, Violations};

vocabulary! {
    /// 技术合同 categories of the 民法典: 技术开发, 技术转让, 技术许可, 技术咨询, 技术服务.
    ContractCategory {
        Development = "development",
        Transfer = "transfer",
        License = "license",
        Consulting = "consulting",
        Service = "service",
    }
}

impl ContractCategory {
    /// The 民法典 name of the category.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Development => "技术开发",
            Self::Transfer => "技术转让",
            Self::License => "技术许可",
            Self::Consulting => "技术咨询",
            Self::Service => "技术服务",
        }
    }
}

vocabulary! {
    /// Where a deal is.
    DealStatus {
        Negotiating = "negotiating",
        Agreed = "agreed",
        Contracted = "contracted",
        Registered = "registered",
        Completed = "completed",
        /// Cancelled while money is held: waits for the refunds.
        Cancelling = "cancelling",
        Cancelled = "cancelled",
        /// Terminated (合同解除) while money is held: waits for the refunds.
        Terminating = "terminating",
        /// The registered contract was terminated and nothing is held.
        Terminated = "terminated",
    }
}

vocabulary! {
    /// Where the agency (技术转移机构) the buyer named on a deal stands: it
    /// sees the deal and counts for a subsidy only once it accepted.
    AgencyStatus { Invited = "invited", Accepted = "accepted", Declined = "declined" }
}

vocabulary! {
    /// The two sides of a deal.
    DealParty { Buyer = "buyer", Seller = "seller" }
}

impl DealParty {
    pub fn other(self) -> Self {
        match self {
            Self::Buyer => Self::Seller,
            Self::Seller => Self::Buyer,
        }
    }
}

vocabulary! {
    /// How a payment is made.
    PaymentMethod {
        /// A bank transfer the buyer records and the seller confirms.
        Offline = "offline",
        /// A Stripe PaymentIntent, confirmed by Stripe's webhook.
        Stripe = "stripe",
    }
}

vocabulary! {
    /// Where a payment is.
    PaymentStatus {
        /// Offline: recorded by the buyer, waiting for the seller.
        PendingConfirmation = "pending_confirmation",
        /// Stripe: the PaymentIntent exists; the buyer has not paid yet.
        AwaitingPayment = "awaiting_payment",
        Confirmed = "confirmed",
        Failed = "failed",
        /// Refunded in full (a partial refund leaves it `confirmed`).
        Refunded = "refunded",
        /// Offline: the payee says the transfer never arrived (or not as recorded).
        Rejected = "rejected",
        /// Stripe: the payer gave the payment up before paying.
        Cancelled = "cancelled",
        /// Money arrived that the deal cannot take (more than the contract
        /// total, a different amount or currency, a cancelled deal): held
        /// for a person to refund, never counted as paid.
        NeedsRefund = "needs_refund",
    }
}

/// What a payment contributes to the deal: its confirmed amount net of
/// refunds; nothing unless confirmed (or refunded, which nets to zero or
/// the part kept).
pub fn net_paid(status: PaymentStatus, amount: Money, refunded: Money) -> Money {
    use PaymentStatus::*;
    match status {
        Confirmed | Refunded => amount.checked_sub(refunded).unwrap_or(Money::ZERO),
        PendingConfirmation | AwaitingPayment | Failed | Rejected | Cancelled | NeedsRefund => Money::ZERO,
    }
}

/// What a payment takes of the contract total: the money it brought in
/// (net of refunds), or all of it while it is open — a transfer awaiting
/// the payee's confirmation, an intent awaiting the payer — so that open
/// payments together can never promise more than the contract total.
pub fn committed(status: PaymentStatus, amount: Money, refunded: Money) -> Money {
    match status {
        PaymentStatus::PendingConfirmation | PaymentStatus::AwaitingPayment => amount,
        other => net_paid(other, amount, refunded),
    }
}

/// Who is acting on a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealActor {
    Party(DealParty),
    /// An official of the market (registration).
    Official,
    /// Anyone else, including the agency organisation, which is attributed
    /// the deal but does not negotiate it.
    Outsider,
}

/// Something done to a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealAction {
    /// A counter-offer.
    Offer,
    Accept,
    /// The seller records the signed contract (again, to amend it before registration).
    SignContract,
    Register,
    RejectRegistration,
    RecordPayment,
    ConfirmPayment,
    /// The payee says a recorded transfer did not arrive.
    RejectPayment,
    /// The payer withdraws a payment not yet made or confirmed.
    WithdrawPayment,
    /// The payee gives money back.
    RefundPayment,
    Cancel,
    /// A party ends a registered contract (合同解除).
    Terminate,
}

impl DealAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offer => "offer",
            Self::Accept => "accept",
            Self::SignContract => "sign the contract of",
            Self::Register => "register",
            Self::RejectRegistration => "reject the registration of",
            Self::RecordPayment => "record a payment for",
            Self::ConfirmPayment => "confirm a payment for",
            Self::RejectPayment => "reject a payment for",
            Self::WithdrawPayment => "withdraw a payment for",
            Self::RefundPayment => "refund a payment of",
            Self::Cancel => "cancel",
            Self::Terminate => "terminate",
        }
    }

    /// Who may take this action, given who made the latest offer.
    fn allowed(self, actor: DealActor, latest_offer_by: Option<DealParty>) -> Result<(), Refusal> {
        use DealActor::*;
        use DealParty::*;
        let party = match actor {
            Official if matches!(self, Self::Register | Self::RejectRegistration) => return Ok(()),
            Official | Outsider => {
                return Err(match self {
                    Self::Register | Self::RejectRegistration => Refusal::NotOfficial,
                    _ => Refusal::NotAParty,
                });
            }
            Party(party) => party,
        };
        let must_be = match self {
            // It is the turn of whoever did not make the latest offer.
            Self::Offer | Self::Accept => latest_offer_by.map(DealParty::other),
            Self::SignContract | Self::ConfirmPayment | Self::RejectPayment | Self::RefundPayment => Some(Seller),
            Self::RecordPayment | Self::WithdrawPayment => Some(Buyer),
            Self::Cancel | Self::Terminate => None,
            Self::Register | Self::RejectRegistration => return Err(Refusal::NotOfficial),
        };
        match must_be {
            Some(expected) if expected != party => Err(Refusal::WrongParty { action: self, expected }),
            _ => Ok(()),
        }
    }
}

/// Why an actor may not act on a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only the buyer and the seller act on a deal")]
    NotAParty,
    #[error("only an official may decide on a registration")]
    NotOfficial,
    #[error("only the {expected} may {} this deal now", .action.as_str())]
    WrongParty { action: DealAction, expected: DealParty },
    #[error("cannot {} a deal that is {from}", .action.as_str())]
    WrongState { action: DealAction, from: DealStatus },
}

impl Refusal {
    /// The stable error code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAParty => "not_a_party",
            Self::NotOfficial => "forbidden",
            Self::WrongParty { .. } => "wrong_party",
            Self::WrongState { .. } => "invalid_state",
        }
    }
}

impl DealStatus {
    /// Whether `actor` may take `action` now, and the status after it.
    /// The actor is checked first: someone who may never act gets told
    /// so, whatever the state.
    pub fn decide(
        self,
        action: DealAction,
        actor: DealActor,
        latest_offer_by: Option<DealParty>,
    ) -> Result<DealStatus, Refusal> {
        action.allowed(actor, latest_offer_by)?;
        self.apply(action)
    }

    /// The status after `action`, regardless of who takes it.
    pub fn apply(self, action: DealAction) -> Result<DealStatus, Refusal> {
        use DealAction::*;
        use DealStatus::*;
        let next = match (self, action) {
            (Negotiating, Offer) => Negotiating,
            (Negotiating, Accept) => Agreed,
            (Agreed | Contracted, SignContract) => Contracted,
            (Contracted, Register) => Registered,
            (Contracted, RejectRegistration) => Contracted,
            (Contracted | Registered, RecordPayment) => self,
            // A transfer recorded before the deal ended may still be
            // confirmed: then it is money to refund.
            (Contracted | Registered | Cancelling | Terminating, ConfirmPayment) => self,
            // Whatever became of the deal, an open payment can be closed
            // (the payment's own state decides whether it is open), and
            // money it holds can be given back.
            (_, RejectPayment | WithdrawPayment | RefundPayment) => self,
            // Where a cancellation or termination ends up depends on the
            // money held: see [`DealStatus::settle`].
            (Negotiating | Agreed | Contracted, Cancel) => Cancelling,
            (Registered | Completed, Terminate) => Terminating,
            _ => return Err(Refusal::WrongState { action, from: self }),
        };
        Ok(next)
    }

    /// Whether a deal in this status counts as a live negotiation or contract.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Completed | Self::Cancelling | Self::Cancelled | Self::Terminating | Self::Terminated)
    }

    /// Whether the deal ended without a sale (cancelled or terminated, with
    /// or without refunds still owed): it earns no subsidy and holds no rights.
    pub fn is_ended(self) -> bool {
        matches!(self, Self::Cancelling | Self::Cancelled | Self::Terminating | Self::Terminated)
    }

    /// The status once the money is looked at again (after a cancellation,
    /// a termination, a refund or a confirmation): a deal that is ending
    /// ends when it holds nothing; a completed deal paid below its total
    /// is registered again.
    pub fn settle(self, held: Held, contract_total: Money) -> DealStatus {
        match self {
            Self::Cancelling if held.is_nothing() => Self::Cancelled,
            Self::Terminating if held.is_nothing() => Self::Terminated,
            Self::Completed if held.paid < contract_total => Self::Registered,
            other => other,
        }
    }
}

/// What a deal holds of the buyer's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Confirmed payments net of refunds.
    pub paid: Money,
    /// Transfers recorded and not yet confirmed or rejected: money that may
    /// have arrived.
    pub unconfirmed: Money,
}

impl Held {
    pub fn is_nothing(self) -> bool {
        self.paid == Money::ZERO && self.unconfirmed == Money::ZERO
    }
}

/// Whether a registered deal is settled: confirmed payments (net of
/// refunds) reach the contract total.
pub fn is_settled(status: DealStatus, paid: Money, contract_total: Money) -> bool {
    status == DealStatus::Registered && paid >= contract_total
}

/// Why a deal cannot agree the rights it negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RightsConflict {
    /// Another deal agreed an exclusive mode on the listing and has not
    /// been cancelled (or has completed: the rights are gone).
    #[error("another deal holds this listing's exclusive rights ({0})")]
    Reserved(TradeMode),
    /// An exclusive or sole licence cannot be granted over licences
    /// already in force.
    #[error("the listing is already licensed to others; an exclusive or sole licence is no longer possible")]
    AlreadyLicensed,
}

/// Whether a deal may agree `mode` on a listing whose exclusive rights are
/// `reserved_by_other` (the mode another deal reserved them for) and on
/// which other deals agreed `others` and are still in force.
///
/// An exclusive mode (assignment, exclusive or sole licence, equity) can
/// be sold once, and while one is agreed nothing else can be. Licences
/// already granted survive an assignment (the assignee takes the patent
/// subject to them, 专利法 and 民法典 §§ 862–866), so they block only an
/// exclusive or sole licence.
pub fn rights_available(
    mode: TradeMode,
    reserved_by_other: Option<TradeMode>,
    others: &[TradeMode],
) -> Result<(), RightsConflict> {
    if let Some(held) = reserved_by_other {
        return Err(RightsConflict::Reserved(held));
    }
    let exclusive_licence = matches!(mode, TradeMode::ExclusiveLicense | TradeMode::SoleLicense);
    if exclusive_licence && others.iter().any(|other| other.is_license()) {
        return Err(RightsConflict::AlreadyLicensed);
    }
    Ok(())
}

/// The amounts of a technology contract, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractAmounts {
    pub total: Money,
    pub non_technical: Money,
    /// 技术交易额: total − non-technical (equipment, materials, ...).
    pub technology: Money,
}

impl ContractAmounts {
    /// Checks `total > 0` and `0 ≤ non_technical ≤ total`, reporting each
    /// violation under its request field.
    pub fn new(total_fen: i64, non_technical_fen: i64) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let total = violations.check("total_amount_fen", positive(total_fen));
        let non_technical = violations.check("non_technical_amount_fen", Money::from_fen(non_technical_fen));
        if let (Some(total), Some(non_technical)) = (total, non_technical)
            && non_technical > total
        {
            violations.push(
                "non_technical_amount_fen",
                "exceeds_total",
                format!("the non-technical part ({non_technical}) exceeds the total ({total})"),
            );
        }
        violations.finish(|| {
            let (total, non_technical) = (total?, non_technical?);
            let technology = total.checked_sub(non_technical).ok()?;
            Some(Self { total, non_technical, technology })
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be more than zero")]
    NotPositive,
    #[error("the amount is too large")]
    Overflow,
}

impl Coded for AmountError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotPositive => "not_positive",
            Self::Overflow => "amount_overflow",
        }
    }
}

impl From<MoneyError> for AmountError {
    fn from(error: MoneyError) -> Self {
        match error {
            MoneyError::Negative => Self::NotPositive,
            MoneyError::Overflow => Self::Overflow,
        }
    }
}

/// An amount that must be more than zero: an offer, a payment, a contract total.
pub fn positive(fen: i64) -> Result<Money, AmountError> {
    match Money::from_fen(fen)? {
        Money::ZERO => Err(AmountError::NotPositive),
        money => Ok(money),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("is in the future")]
    InFuture,
}

impl Coded for DateError {
    fn code(&self) -> &'static str {
        "in_future"
    }
}

/// A date something already happened on (signing, paying): not after `today` (the market's date).
pub fn not_in_future(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, DateError> {
    if date > today { Err(DateError::InFuture) } else { Ok(date) }
}

/// 技术合同登记号: 16 digits, laid out as [`NumberFormat`] says, e.g.
/// `2026` `6301` `01` `000042` (year first, the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationNumber(String);

/// How a registration number's 16 digits are laid out
/// (`registration.number_format`). Either way the prefix names the year,
/// the seller's prefecture and the office, and a serial is counted under
/// it; the two layouts never produce the same number, since a year starts
/// with 20 and no province code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// The registration form's (技术合同登记表) 16 digits: year (4),
    /// province and prefecture (4), office (2), serial (6) — the layout the
    /// model contracts' 填写说明 give for their 14-digit 合同登记编号, with
    /// the year written in full. The default for a new office.
    #[default]
    YearFirst,
    /// Prefecture (4), office (2), year (4), serial (6): the numbers this
    /// platform issued first, kept for an office that already uses them.
    RegionFirst,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationNumberError {
    #[error("the region part must be 4 digits, not {0:?}")]
    BadRegion(String),
    #[error("the office code must be 2 digits, not {0:?}")]
    BadOffice(String),
    #[error("serial {0} does not fit in 6 digits: this office's numbers for the year are used up")]
    SerialExhausted(i64),
}

impl RegistrationNumber {
    /// The prefix serials are counted under: one sequence per region, office and year.
    pub fn prefix(
        format: NumberFormat,
        region: &str,
        office: &str,
        date: NaiveDate,
    ) -> Result<String, RegistrationNumberError> {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(region, 4) {
            return Err(RegistrationNumberError::BadRegion(region.to_string()));
        }
        if !digits(office, 2) {
            return Err(RegistrationNumberError::BadOffice(office.to_string()));
        }
        let year = date.year();
        Ok(match format {
            NumberFormat::YearFirst => format!("{year:04}{region}{office}"),
            NumberFormat::RegionFirst => format!("{region}{office}{year:04}"),
        })
    }

    pub fn new(prefix: &str, serial: i64) -> Result<Self, RegistrationNumberError> {
        if !(1..=999_999).contains(&serial) {
            return Err(RegistrationNumberError::SerialExhausted(serial));
        }
        Ok(Self(format!("{prefix}{serial:06}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::DealAction::*;
    use super::DealActor::*;
    use super::DealParty::*;
    use super::DealStatus::*;
    use super::*;

    const ACTIONS: [DealAction; 12] = [
        Offer,
        Accept,
        SignContract,
        Register,
        RejectRegistration,
        RecordPayment,
        ConfirmPayment,
        RejectPayment,
        WithdrawPayment,
        RefundPayment,
        Cancel,
        Terminate,
    ];

    #[test]
    fn the_happy_path() {
        let agreed = Negotiating.decide(Accept, Party(Seller), Some(Buyer)).unwrap();
        assert_eq!(agreed, Agreed);
        let contracted = agreed.decide(SignContract, Party(Seller), Some(Buyer)).unwrap();
        assert_eq!(contracted, Contracted);
        assert_eq!(contracted.decide(RecordPayment, Party(Buyer), None), Ok(Contracted));
        assert_eq!(contracted.decide(Register, Official, None), Ok(Registered));
        assert!(is_settled(Registered, Money::from_fen(100).unwrap(), Money::from_fen(100).unwrap()));
        assert!(!is_settled(Registered, Money::from_fen(99).unwrap(), Money::from_fen(100).unwrap()));
        assert!(!is_settled(Contracted, Money::from_fen(100).unwrap(), Money::from_fen(100).unwrap()));
    }

    #[test]
    fn offers_alternate() {
        assert_eq!(Negotiating.decide(Offer, Party(Seller), Some(Buyer)), Ok(Negotiating));
        let twice = Negotiating.decide(Offer, Party(Buyer), Some(Buyer)).unwrap_err();
        assert_eq!(twice, Refusal::WrongParty { action: Offer, expected: Seller });
        assert_eq!(twice.code(), "wrong_party");
        let own = Negotiating.decide(Accept, Party(Seller), Some(Seller)).unwrap_err();
        assert_eq!(own.to_string(), "only the buyer may accept this deal now");
    }

    #[test]
    fn outsiders_and_officials_cannot_negotiate() {
        for action in ACTIONS {
            let outsider = Negotiating.decide(action, Outsider, Some(Buyer)).unwrap_err();
            let expected = if matches!(action, Register | RejectRegistration) { "forbidden" } else { "not_a_party" };
            assert_eq!(outsider.code(), expected, "{action:?}");
            if !matches!(action, Register | RejectRegistration) {
                assert_eq!(Negotiating.decide(action, Official, Some(Buyer)).unwrap_err().code(), "not_a_party");
            }
        }
        for party in [Buyer, Seller] {
            assert_eq!(Contracted.decide(Register, Party(party), None).unwrap_err().code(), "forbidden");
        }
    }

    #[test]
    fn the_right_party_for_each_step() {
        assert_eq!(Agreed.decide(SignContract, Party(Buyer), None).unwrap_err().code(), "wrong_party");
        assert_eq!(Contracted.decide(RecordPayment, Party(Seller), None).unwrap_err().code(), "wrong_party");
        assert_eq!(Contracted.decide(ConfirmPayment, Party(Buyer), None).unwrap_err().code(), "wrong_party");
        assert_eq!(Contracted.decide(RejectPayment, Party(Buyer), None).unwrap_err().code(), "wrong_party");
        assert_eq!(Contracted.decide(WithdrawPayment, Party(Seller), None).unwrap_err().code(), "wrong_party");
        assert_eq!(Cancelled.decide(WithdrawPayment, Party(Buyer), None), Ok(Cancelled));
        assert_eq!(Agreed.decide(Cancel, Party(Buyer), None), Ok(Cancelling));
        assert_eq!(Agreed.decide(Cancel, Party(Seller), None), Ok(Cancelling));
        assert_eq!(Completed.decide(Terminate, Party(Buyer), None), Ok(Terminating));
        assert_eq!(Registered.decide(RefundPayment, Party(Buyer), None).unwrap_err().code(), "wrong_party");
    }

    #[test]
    fn every_move_outside_the_diagram_is_refused() {
        let allowed = [
            (Negotiating, Offer),
            (Negotiating, Accept),
            (Negotiating, Cancel),
            (Agreed, SignContract),
            (Agreed, Cancel),
            (Contracted, SignContract),
            (Contracted, Register),
            (Contracted, RejectRegistration),
            (Contracted, RecordPayment),
            (Contracted, ConfirmPayment),
            (Contracted, Cancel),
            (Registered, RecordPayment),
            (Registered, ConfirmPayment),
            (Cancelling, ConfirmPayment),
            (Terminating, ConfirmPayment),
            (Registered, Terminate),
            (Completed, Terminate),
        ];
        for &from in DealStatus::ALL {
            for action in ACTIONS {
                let result = from.apply(action);
                let closes_a_payment = matches!(action, RejectPayment | WithdrawPayment | RefundPayment);
                let expected = allowed.contains(&(from, action)) || closes_a_payment;
                assert_eq!(result.is_ok(), expected, "{from:?} {action:?}");
                if closes_a_payment {
                    assert_eq!(result, Ok(from));
                }
                if let Err(refusal) = result {
                    assert_eq!(refusal, Refusal::WrongState { action, from });
                    assert_eq!(refusal.code(), "invalid_state");
                }
            }
        }
        assert_eq!(Registered.apply(Cancel).unwrap_err().to_string(), "cannot cancel a deal that is registered");
    }

    #[test]
    fn exclusive_rights_are_sold_once() {
        use TradeMode::*;
        let modes = [Assignment, ExclusiveLicense, SoleLicense, NonexclusiveLicense, Equity, JointDevelopment];
        // Nothing agreed yet: every mode is available.
        for mode in modes {
            assert_eq!(rights_available(mode, None, &[]), Ok(()));
        }
        // While an exclusive mode is reserved, nothing else can be agreed.
        for held in modes.into_iter().filter(|m| m.is_exclusive()) {
            for mode in modes {
                assert_eq!(rights_available(mode, Some(held), &[]), Err(RightsConflict::Reserved(held)), "{mode:?}");
            }
        }
        // Licences in force block exclusive and sole licences, not an
        // assignment (they survive it) nor further ordinary licences.
        let licensed = [NonexclusiveLicense];
        assert_eq!(rights_available(ExclusiveLicense, None, &licensed), Err(RightsConflict::AlreadyLicensed));
        assert_eq!(rights_available(SoleLicense, None, &licensed), Err(RightsConflict::AlreadyLicensed));
        assert_eq!(rights_available(Assignment, None, &licensed), Ok(()));
        assert_eq!(rights_available(NonexclusiveLicense, None, &licensed), Ok(()));
        assert_eq!(rights_available(ExclusiveLicense, None, &[JointDevelopment]), Ok(()));
        assert!(Assignment.is_exclusive() && Equity.is_exclusive() && !NonexclusiveLicense.is_exclusive());
    }

    #[test]
    fn an_ending_deal_ends_when_it_holds_nothing() {
        let fen = |f| Money::from_fen(f).unwrap();
        let total = fen(1_000);
        let held = |paid, unconfirmed| Held { paid: fen(paid), unconfirmed: fen(unconfirmed) };
        assert_eq!(Cancelling.settle(held(0, 0), total), Cancelled);
        assert_eq!(Cancelling.settle(held(1, 0), total), Cancelling);
        // A transfer that may have arrived keeps it open until settled.
        assert_eq!(Cancelling.settle(held(0, 500), total), Cancelling);
        assert_eq!(Terminating.settle(held(0, 0), total), Terminated);
        assert_eq!(Terminating.settle(held(999, 0), total), Terminating);
        // A refund below the total takes a completed deal back to registered.
        assert_eq!(Completed.settle(held(999, 0), total), Registered);
        assert_eq!(Completed.settle(held(1_000, 0), total), Completed);
        for status in [Negotiating, Agreed, Contracted, Registered, Cancelled, Terminated] {
            assert_eq!(status.settle(held(0, 0), total), status, "{status:?}");
        }
        assert!(Cancelling.is_ended() && Terminated.is_ended() && !Completed.is_ended() && !Completed.is_open());
    }

    #[test]
    fn contract_amounts() {
        let amounts = ContractAmounts::new(1_000_000, 200_000).unwrap();
        assert_eq!(amounts.technology.fen(), 800_000);
        assert_eq!(ContractAmounts::new(500, 500).unwrap().technology, Money::ZERO);
        let fields = |v: Violations| v.into_vec().into_iter().map(|v| (v.field, v.code)).collect::<Vec<_>>();
        assert_eq!(
            fields(ContractAmounts::new(100, 101).unwrap_err()),
            [("non_technical_amount_fen".to_string(), "exceeds_total")]
        );
        assert_eq!(
            fields(ContractAmounts::new(0, -1).unwrap_err()),
            [
                ("total_amount_fen".to_string(), "not_positive"),
                ("non_technical_amount_fen".to_string(), "negative_amount")
            ]
        );
    }

    #[test]
    fn dates_and_positive_amounts() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        assert!(not_in_future(today, today).is_ok());
        assert_eq!(not_in_future(today.succ_opt().unwrap(), today), Err(DateError::InFuture));
        assert_eq!(positive(0), Err(AmountError::NotPositive));
        assert_eq!(positive(-5), Err(AmountError::NotPositive));
        assert_eq!(positive(1).map(Money::fen), Ok(1));
    }

    #[test]
    fn only_confirmed_money_counts_net_of_refunds() {
        let fen = |f| Money::from_fen(f).unwrap();
        assert_eq!(net_paid(PaymentStatus::Confirmed, fen(100), fen(30)), fen(70));
        assert_eq!(net_paid(PaymentStatus::Refunded, fen(100), fen(100)), Money::ZERO);
        for status in [PaymentStatus::PendingConfirmation, PaymentStatus::AwaitingPayment, PaymentStatus::Failed] {
            assert_eq!(net_paid(status, fen(100), Money::ZERO), Money::ZERO);
        }
    }

    #[test]
    fn open_payments_hold_their_amount() {
        let fen = |f| Money::from_fen(f).unwrap();
        for status in [PaymentStatus::PendingConfirmation, PaymentStatus::AwaitingPayment] {
            assert_eq!(committed(status, fen(100), Money::ZERO), fen(100));
        }
        assert_eq!(committed(PaymentStatus::Confirmed, fen(100), fen(40)), fen(60));
        for status in
            [PaymentStatus::Failed, PaymentStatus::Rejected, PaymentStatus::Cancelled, PaymentStatus::NeedsRefund]
        {
            assert_eq!(committed(status, fen(100), Money::ZERO), Money::ZERO, "{status:?}");
            assert_eq!(net_paid(status, fen(100), Money::ZERO), Money::ZERO, "{status:?}");
        }
    }

    #[test]
    fn registration_numbers() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let prefix = RegistrationNumber::prefix(NumberFormat::RegionFirst, "6301", "01", date).unwrap();
        assert_eq!(RegistrationNumber::new(&prefix, 42).unwrap().as_str(), "6301012026000042");
        let prefix = RegistrationNumber::prefix(NumberFormat::YearFirst, "6301", "01", date).unwrap();
        assert_eq!(RegistrationNumber::new(&prefix, 42).unwrap().as_str(), "2026630101000042");
        assert_eq!(RegistrationNumber::new(&prefix, 999_999).unwrap().as_str().len(), 16);
        assert_eq!(
            RegistrationNumber::new(&prefix, 1_000_000),
            Err(RegistrationNumberError::SerialExhausted(1_000_000))
        );
        for format in [NumberFormat::YearFirst, NumberFormat::RegionFirst] {
            assert!(matches!(
                RegistrationNumber::prefix(format, "63010", "01", date),
                Err(RegistrationNumberError::BadRegion(_))
            ));
            assert!(matches!(
                RegistrationNumber::prefix(format, "6301", "1", date),
                Err(RegistrationNumberError::BadOffice(_))
            ));
        }
    }
}

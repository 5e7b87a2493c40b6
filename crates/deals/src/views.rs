//! What `GET /api/v1/deals/{id}` returns: the deal with its offers,
//! contract, registration decisions and payments, and the derived amounts.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use techtrade_db::deals::{self as db, Contract, Deal, Offer, Payment, Registration};
use techtrade_db::{AnyConnection, listings};
use techtrade_domain::deal::{self, AgencyStatus, PaymentMethod, PaymentStatus};
use techtrade_domain::{ContractCategory, DealParty, DealStatus, Money, TradeMode};
use techtrade_web::ApiError;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListingRef {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferView {
    pub id: String,
    /// 1 for the opening offer.
    pub sequence: i32,
    /// Which side made it.
    pub party: DealParty,
    pub organization_id: String,
    pub amount_fen: i64,
    pub trade_mode: TradeMode,
    pub terms: String,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractView {
    pub category: ContractCategory,
    pub trade_mode: TradeMode,
    pub total_amount_fen: i64,
    pub non_technical_amount_fen: i64,
    /// total − non-technical.
    pub technology_amount_fen: i64,
    pub signed_on: NaiveDate,
    pub related_party: bool,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistrationView {
    pub id: String,
    /// `register` or `reject`.
    pub decision: String,
    pub registration_number: Option<String>,
    pub registered_technology_amount_fen: Option<i64>,
    pub reason: Option<String>,
    pub official_id: String,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: String,
    pub deal_id: String,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    pub amount_fen: i64,
    pub refunded_amount_fen: i64,
    pub paid_on: Option<NaiveDate>,
    pub reference: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub failure_reason: Option<String>,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    pub confirmed_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    pub refunded_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub created_at: NaiveDateTime,
    pub version: i64,
    /// Stripe only, and only in the response that creates the payment: what
    /// the buyer's browser passes to Stripe.js to pay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    pub id: String,
    pub payment_id: String,
    pub amount_fen: i64,
    pub refunded_on: NaiveDate,
    /// The bank's reference of a transfer back.
    pub reference: Option<String>,
    pub stripe_refund_id: Option<String>,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DealView {
    pub id: String,
    pub status: DealStatus,
    pub listing: ListingRef,
    pub demand_id: Option<String>,
    pub buyer: OrganizationRef,
    pub seller: OrganizationRef,
    /// The agency the buyer named; it sees the deal once it accepted.
    pub agency: Option<OrganizationRef>,
    pub agency_status: Option<AgencyStatus>,
    pub offers: Vec<OfferView>,
    /// While negotiating: the side expected to accept or counter the latest offer.
    pub awaiting: Option<DealParty>,
    pub agreed_offer_id: Option<String>,
    pub contract: Option<ContractView>,
    /// The number issued on registration (技术合同登记号).
    pub registration_number: Option<String>,
    /// Every registration decision, oldest first.
    pub registrations: Vec<RegistrationView>,
    /// The seller's application to register the contract
    /// (`/registrations/{id}`), while it is open or in force.
    pub registration_application_id: Option<String>,
    pub payments: Vec<PaymentView>,
    /// Confirmed payments net of refunds.
    pub paid_amount_fen: i64,
    /// What remains of the contract total; null before there is a contract.
    pub outstanding_amount_fen: Option<i64>,
    /// What the buyer may still record or start: the outstanding amount
    /// less open payments (transfers awaiting confirmation, Stripe
    /// payments not yet paid); null before there is a contract.
    pub payable_amount_fen: Option<i64>,
    pub cancel_reason: Option<String>,
    /// 合同解除: the day a party ended the registered contract, and why.
    pub terminated_on: Option<NaiveDate>,
    pub termination_reason: Option<String>,
    /// While cancelling or terminating: what the seller must still refund.
    pub refund_owed_fen: Option<i64>,
    /// Every refund the seller made, oldest first.
    pub refunds: Vec<RefundView>,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub updated_at: NaiveDateTime,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    pub agreed_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    pub contracted_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    pub registered_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    pub completed_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    pub cancelled_at: Option<NaiveDateTime>,
    pub version: i64,
}

/// A stored status string as its vocabulary value; an unknown one is a
/// corrupted row, reported as an internal error.
pub(crate) fn parse<T>(value: &str, from_db: fn(&str) -> Option<T>, what: &str) -> Result<T, ApiError> {
    from_db(value).ok_or_else(|| ApiError::internal(format!("unknown {what} {value:?} in the database")))
}

pub fn deal_status(deal: &Deal) -> Result<DealStatus, ApiError> {
    parse(&deal.status, DealStatus::from_db, "deal status")
}

/// Which side made `offer`.
pub fn party_of(deal: &Deal, organization_id: &str) -> DealParty {
    if organization_id == deal.seller_organization_id { DealParty::Seller } else { DealParty::Buyer }
}

pub fn payment_view(payment: &Payment) -> Result<PaymentView, ApiError> {
    Ok(PaymentView {
        id: payment.id.clone(),
        deal_id: payment.deal_id.clone(),
        method: parse(&payment.method, PaymentMethod::from_db, "payment method")?,
        status: parse(&payment.status, PaymentStatus::from_db, "payment status")?,
        amount_fen: payment.amount_fen,
        refunded_amount_fen: payment.refunded_amount_fen,
        paid_on: payment.paid_on,
        reference: payment.reference.clone(),
        stripe_payment_intent_id: payment.stripe_payment_intent_id.clone(),
        failure_reason: payment.failure_reason.clone(),
        confirmed_at: payment.confirmed_at,
        refunded_at: payment.refunded_at,
        created_at: payment.created_at,
        version: payment.version,
        client_secret: None,
    })
}

/// The net confirmed amount of `payments`.
pub fn paid_amount(payments: &[Payment]) -> Result<Money, ApiError> {
    sum_payments(payments, deal::net_paid)
}

/// What `payments` take of the contract total: paid, and open (a transfer
/// awaiting confirmation, a Stripe intent awaiting the payer).
pub fn committed_amount(payments: &[Payment]) -> Result<Money, ApiError> {
    sum_payments(payments, deal::committed)
}

fn sum_payments(payments: &[Payment], each: fn(PaymentStatus, Money, Money) -> Money) -> Result<Money, ApiError> {
    let mut total = Money::ZERO;
    for payment in payments {
        let status = parse(&payment.status, PaymentStatus::from_db, "payment status")?;
        let amount = Money::from_fen(payment.amount_fen).map_err(ApiError::internal)?;
        let refunded = Money::from_fen(payment.refunded_amount_fen).map_err(ApiError::internal)?;
        total = total.checked_add(each(status, amount, refunded)).map_err(ApiError::internal)?;
    }
    Ok(total)
}

fn offer_view(deal: &Deal, offer: Offer) -> Result<OfferView, ApiError> {
    Ok(OfferView {
        party: party_of(deal, &offer.organization_id),
        trade_mode: parse(&offer.trade_mode, TradeMode::from_db, "trade mode")?,
        id: offer.id,
        sequence: offer.sequence,
        organization_id: offer.organization_id,
        amount_fen: offer.amount_fen,
        terms: offer.terms,
        created_at: offer.created_at,
    })
}

fn contract_view(contract: Contract) -> Result<ContractView, ApiError> {
    Ok(ContractView {
        category: parse(&contract.category, ContractCategory::from_db, "contract category")?,
        trade_mode: parse(&contract.trade_mode, TradeMode::from_db, "trade mode")?,
        total_amount_fen: contract.total_amount_fen,
        non_technical_amount_fen: contract.non_technical_amount_fen,
        technology_amount_fen: contract.technology_amount_fen,
        signed_on: contract.signed_on,
        related_party: contract.related_party,
        created_at: contract.created_at,
    })
}

fn registration_view(registration: Registration) -> RegistrationView {
    RegistrationView {
        id: registration.id,
        decision: registration.decision,
        registration_number: registration.registration_number,
        registered_technology_amount_fen: registration.registered_technology_amount_fen,
        reason: registration.reason,
        official_id: registration.official_id,
        created_at: registration.created_at,
    }
}

/// The whole deal as the API shows it.
pub fn deal_view(conn: &mut AnyConnection, deal: Deal) -> Result<DealView, ApiError> {
    let status = deal_status(&deal)?;
    let offers = db::offers_of(conn, &deal.id)?;
    let contract = db::find_contract(conn, &deal.id)?;
    let registrations = db::registrations_of(conn, &deal.id)?;
    let application = techtrade_db::registry::open_for_deal(conn, &deal.id)?;
    let payments = db::payments_of(conn, &deal.id)?;
    let paid = paid_amount(&payments)?;
    let mut org_ids = vec![deal.buyer_organization_id.clone(), deal.seller_organization_id.clone()];
    org_ids.extend(deal.agency_organization_id.clone());
    let names: std::collections::HashMap<String, String> =
        listings::organization_names(conn, &org_ids)?.into_iter().collect();
    let org = |id: &str| OrganizationRef { id: id.to_string(), name: names.get(id).cloned().unwrap_or_default() };
    let title = listings::find_listing(conn, &deal.listing_id)?.map(|l| l.title).unwrap_or_default();
    let awaiting = match (status, offers.last()) {
        (DealStatus::Negotiating, Some(latest)) => Some(party_of(&deal, &latest.organization_id).other()),
        _ => None,
    };
    let committed = committed_amount(&payments)?;
    let outstanding = contract.as_ref().map(|c| c.total_amount_fen.saturating_sub(paid.fen()).max(0));
    let payable = contract.as_ref().map(|c| c.total_amount_fen.saturating_sub(committed.fen()).max(0));
    let registration_number = registrations.iter().rev().find_map(|r| r.registration_number.clone());
    Ok(DealView {
        id: deal.id.clone(),
        status,
        listing: ListingRef { id: deal.listing_id.clone(), title },
        demand_id: deal.demand_id.clone(),
        buyer: org(&deal.buyer_organization_id),
        seller: org(&deal.seller_organization_id),
        agency: deal.agency_organization_id.as_deref().map(org),
        agency_status: deal
            .agency_status
            .as_deref()
            .map(|s| parse(s, AgencyStatus::from_db, "agency status"))
            .transpose()?,
        offers: offers.into_iter().map(|o| offer_view(&deal, o)).collect::<Result<_, _>>()?,
        awaiting,
        agreed_offer_id: deal.agreed_offer_id.clone(),
        contract: contract.map(contract_view).transpose()?,
        registration_number,
        registrations: registrations.into_iter().map(registration_view).collect(),
        registration_application_id: application.map(|a| a.id),
        payments: payments.iter().map(payment_view).collect::<Result<_, _>>()?,
        paid_amount_fen: paid.fen(),
        outstanding_amount_fen: outstanding,
        payable_amount_fen: payable,
        cancel_reason: deal.cancel_reason,
        terminated_on: deal.terminated_on,
        termination_reason: deal.termination_reason,
        refund_owed_fen: matches!(status, DealStatus::Cancelling | DealStatus::Terminating).then_some(paid.fen()),
        refunds: db::refunds_of_deal(conn, &deal.id)?
            .into_iter()
            .map(|r| RefundView {
                id: r.id,
                payment_id: r.payment_id,
                amount_fen: r.amount_fen,
                refunded_on: r.refunded_on,
                reference: r.reference,
                stripe_refund_id: r.stripe_refund_id,
                created_at: r.created_at,
            })
            .collect(),
        created_at: deal.created_at,
        updated_at: deal.updated_at,
        agreed_at: deal.agreed_at,
        contracted_at: deal.contracted_at,
        registered_at: deal.registered_at,
        completed_at: deal.completed_at,
        cancelled_at: deal.cancelled_at,
        version: deal.version,
    })
}

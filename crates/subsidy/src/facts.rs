//! The deal records of the database as the policy engine's [`DealFacts`]:
//! the contract, the registration decision in force, the payments in full
//! with each refund in the year it was made, and each party's region and
//! kind — and likewise each contract signed off the platform whose
//! registration is in force, with the payments declared on it.

use std::collections::HashMap;

use techtrade_db::AnyConnection;
use techtrade_db::subsidy::{self as db, DealRecords, DealSide};
use techtrade_domain::deal::PaymentStatus;
use techtrade_domain::policy::{DealFacts, Party, PartyRole, Payment, Refund};
use techtrade_domain::{ContractCategory, Money, OrganizationKind, TradeMode};
use techtrade_web::ApiError;

fn side(role: PartyRole) -> DealSide {
    match role {
        PartyRole::Buyer => DealSide::Buyer,
        PartyRole::Seller => DealSide::Seller,
        PartyRole::Agency => DealSide::Agency,
    }
}

/// The facts of every deal in which `organization_id` plays `role`.
pub fn of_claimant(
    conn: &mut AnyConnection,
    role: PartyRole,
    organization_id: &str,
) -> Result<Vec<DealFacts>, ApiError> {
    let records = db::deal_records(conn, side(role), Some(organization_id))?;
    Ok(build(&records)?.into_iter().map(|(_, facts)| facts).collect())
}

/// The facts of every deal with a party in `role`, grouped by that party
/// (for simulating a whole year).
pub fn by_claimant(conn: &mut AnyConnection, role: PartyRole) -> Result<HashMap<String, Vec<DealFacts>>, ApiError> {
    let records = db::deal_records(conn, side(role), None)?;
    let mut grouped: HashMap<String, Vec<DealFacts>> = HashMap::new();
    for (_, facts) in build(&records)? {
        if let Some(party) = facts.party(role) {
            grouped.entry(party.organization_id.clone()).or_default().push(facts);
        }
    }
    Ok(grouped)
}

fn money(fen: i64) -> Result<Money, ApiError> {
    Money::from_fen(fen).map_err(ApiError::internal)
}

/// One [`DealFacts`] per deal that has a contract, keyed by deal id, in deal order.
fn build(records: &DealRecords) -> Result<Vec<(String, DealFacts)>, ApiError> {
    let contracts: HashMap<&str, _> = records.contracts.iter().map(|c| (c.deal_id.as_str(), c)).collect();
    let organizations: HashMap<&str, _> = records.organizations.iter().map(|o| (o.id.as_str(), o)).collect();
    // The registration decision in force is the last one that registered.
    let mut registered: HashMap<&str, i64> = HashMap::new();
    for registration in &records.registrations {
        if let Some(amount) = registration.registered_technology_amount_fen {
            registered.insert(registration.deal_id.as_str(), amount);
        }
    }
    // A confirmed payment counts in full in the year it was paid, and each
    // refund of it in the year the money went back.
    let mut payments: HashMap<&str, Vec<Payment>> = HashMap::new();
    let mut refunds: HashMap<&str, Vec<Refund>> = HashMap::new();
    for payment in &records.payments {
        let status = PaymentStatus::from_db(&payment.status)
            .ok_or_else(|| ApiError::internal(format!("unknown payment status {:?}", payment.status)))?;
        let confirmed = matches!(status, PaymentStatus::Confirmed | PaymentStatus::Refunded);
        let paid_on = payment.paid_on.unwrap_or(techtrade_db::market_date(payment.created_at));
        let amount = money(payment.amount_fen)?;
        payments.entry(payment.deal_id.as_str()).or_default().push(Payment { paid_on, amount, confirmed });
        if confirmed && payment.refunded_amount_fen > 0 {
            refunds.entry(payment.deal_id.as_str()).or_default().extend(refunds_of(records, payment)?);
        }
    }
    let party = |id: &str| -> Result<Party, ApiError> {
        let organization = organizations
            .get(id)
            .ok_or_else(|| ApiError::internal(format!("organisation {id} of a deal is missing")))?;
        Ok(Party {
            organization_id: organization.id.clone(),
            region_code: organization.region_code.clone(),
            kind: OrganizationKind::from_db(&organization.kind)
                .ok_or_else(|| ApiError::internal(format!("unknown organisation kind {:?}", organization.kind)))?,
        })
    };
    let mut all = Vec::with_capacity(records.deals.len());
    for deal in &records.deals {
        let Some(contract) = contracts.get(deal.id.as_str()) else { continue };
        let category = ContractCategory::from_db(&contract.category)
            .ok_or_else(|| ApiError::internal(format!("unknown contract category {:?}", contract.category)))?;
        let registered_amount = registered.get(deal.id.as_str()).copied();
        let facts = DealFacts {
            deal_id: deal.id.clone(),
            category,
            trade_mode: TradeMode::from_db(&contract.trade_mode),
            related_party: contract.related_party,
            registered: deal.registered_at.is_some() && registered_amount.is_some(),
            completed: deal.completed_at.is_some(),
            registered_technology_amount: money(registered_amount.unwrap_or(0))?,
            contract_total: money(contract.total_amount_fen)?,
            buyer: party(&deal.buyer_organization_id)?,
            seller: party(&deal.seller_organization_id)?,
            // An agency the buyer named counts once it accepted.
            agency: deal
                .agency_organization_id
                .as_deref()
                .filter(|_| deal.agency_status.as_deref() == Some(techtrade_db::deals::ACCEPTED))
                .map(party)
                .transpose()?,
            payments: payments.remove(deal.id.as_str()).unwrap_or_default(),
            refunds: refunds.remove(deal.id.as_str()).unwrap_or_default(),
        };
        all.push((deal.id.clone(), facts));
    }
    for application in &records.off_platform {
        all.push((application.id.clone(), off_platform(records, application, &party)?));
    }
    Ok(all)
}

/// A contract signed off the platform, registered by the office, as a
/// deal: its payments are those the seller declared, counting once an
/// official confirmed them; it is completed once they reach its total. An
/// outside buyer is known by its credit code.
fn off_platform(
    records: &DealRecords,
    application: &techtrade_db::registry::Application,
    party: &dyn Fn(&str) -> Result<Party, ApiError>,
) -> Result<DealFacts, ApiError> {
    let category = ContractCategory::from_db(&application.category)
        .ok_or_else(|| ApiError::internal(format!("unknown contract category {:?}", application.category)))?;
    let mut payments = Vec::new();
    let mut confirmed_fen = 0_i64;
    for payment in records.declared_payments.iter().filter(|p| p.application_id == application.id) {
        let confirmed = match payment.status.as_str() {
            "confirmed" => true,
            "declared" => false,
            _ => continue,
        };
        if confirmed {
            confirmed_fen = confirmed_fen.saturating_add(payment.amount_fen);
        }
        payments.push(Payment { paid_on: payment.paid_on, amount: money(payment.amount_fen)?, confirmed });
    }
    let buyer = match &application.buyer_organization_id {
        Some(id) => party(id)?,
        None => Party {
            organization_id: application.buyer_credit_code.clone(),
            region_code: application.buyer_region_code.clone(),
            kind: OrganizationKind::from_db(&application.buyer_kind)
                .ok_or_else(|| ApiError::internal(format!("unknown buyer kind {:?}", application.buyer_kind)))?,
        },
    };
    Ok(DealFacts {
        deal_id: application.id.clone(),
        category,
        trade_mode: None,
        related_party: application.related_party,
        registered: true,
        completed: confirmed_fen >= application.total_amount_fen,
        registered_technology_amount: money(application.registered_technology_fen.unwrap_or(0))?,
        contract_total: money(application.total_amount_fen)?,
        buyer,
        seller: party(&application.seller_organization_id)?,
        agency: None,
        payments,
        refunds: Vec::new(),
    })
}

/// The refunds of a confirmed payment: each recorded one on its day, and
/// what its refunded total holds beyond them (a refund Stripe reported
/// that was made outside the platform) on the day of the last refund.
fn refunds_of(records: &DealRecords, payment: &techtrade_db::deals::Payment) -> Result<Vec<Refund>, ApiError> {
    let mut refunds = Vec::new();
    let mut recorded = 0_i64;
    for refund in records.refunds.iter().filter(|r| r.payment_id == payment.id) {
        recorded = recorded.saturating_add(refund.amount_fen);
        refunds.push(Refund { refunded_on: refund.refunded_on, amount: money(refund.amount_fen)? });
    }
    let beyond = payment.refunded_amount_fen.saturating_sub(recorded);
    if beyond > 0 {
        let on = techtrade_db::market_date(payment.refunded_at.unwrap_or(payment.updated_at));
        refunds.push(Refund { refunded_on: on, amount: money(beyond)? });
    }
    Ok(refunds)
}

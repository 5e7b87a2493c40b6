//! What every change to a deal goes through: who may see it, who is
//! acting, the state machine's verdict, the version-guarded write, and the
//! audit entry and outbox event — the same for negotiation (this crate)
//! and payments (the payments crate).

use chrono::NaiveDateTime;
use serde_json::{Value, json};
use techtrade_db::deals::{self as db, Deal};
use techtrade_db::{AnyConnection, audit, deals, listings, outbox};
use techtrade_domain::deal::{self, AgencyStatus, DealAction, DealActor, PaymentStatus, Refusal};
use techtrade_domain::{DealParty, DealStatus, Money, TradeMode};
use techtrade_web::{ApiError, CurrentUser, ErrorCode};

use crate::views;

/// The deal, if `user` may see it: its parties (buyer, seller, agency) and
/// officials; 404 for everyone else.
pub fn load_visible(conn: &mut AnyConnection, id: &str, user: &CurrentUser) -> Result<Deal, ApiError> {
    db::find_deal(conn, id)?.filter(|deal| can_see(deal, user)).ok_or_else(|| ApiError::not_found("deal"))
}

/// The deal, if `user` may see it, locked for a change (its listing, then
/// the deal: `techtrade_db::deals::lock_deal`). Every change to a deal
/// or its payments starts here, inside its write transaction.
pub fn load_for_change(conn: &mut AnyConnection, id: &str, user: &CurrentUser) -> Result<Deal, ApiError> {
    db::lock_deal(conn, id)?.filter(|deal| can_see(deal, user)).ok_or_else(|| ApiError::not_found("deal"))
}

fn can_see(deal: &Deal, user: &CurrentUser) -> bool {
    user.role.is_official()
        || user.is_member_of(&deal.buyer_organization_id)
        || user.is_member_of(&deal.seller_organization_id)
        || (agency_status(deal) == Some(AgencyStatus::Accepted) && is_agency_member(deal, user))
}

/// Whether `user` belongs to a party of the deal or to the agency it
/// names (whatever the agency answered): someone with a stake in it.
pub fn involves(deal: &Deal, user: &CurrentUser) -> bool {
    user.is_member_of(&deal.buyer_organization_id)
        || user.is_member_of(&deal.seller_organization_id)
        || is_agency_member(deal, user)
}

/// Whether `user` belongs to the agency the deal names, whatever it answered.
pub fn is_agency_member(deal: &Deal, user: &CurrentUser) -> bool {
    deal.agency_organization_id.as_deref().is_some_and(|agency| user.is_member_of(agency))
}

pub fn agency_status(deal: &Deal) -> Option<AgencyStatus> {
    deal.agency_status.as_deref().and_then(AgencyStatus::from_db)
}

/// The part `user` plays in `deal`.
pub fn actor_of(deal: &Deal, user: &CurrentUser) -> DealActor {
    if user.is_member_of(&deal.buyer_organization_id) {
        DealActor::Party(DealParty::Buyer)
    } else if user.is_member_of(&deal.seller_organization_id) {
        DealActor::Party(DealParty::Seller)
    } else if user.role.is_official() {
        DealActor::Official
    } else {
        DealActor::Outsider
    }
}

/// The side that made the latest offer.
pub fn latest_offer_by(conn: &mut AnyConnection, deal: &Deal) -> Result<Option<DealParty>, ApiError> {
    Ok(db::offers_of(conn, &deal.id)?.last().map(|offer| views::party_of(deal, &offer.organization_id)))
}

/// The status after `user` takes `action`, or the refusal as a 403/409
/// with its stable code.
pub fn decide(
    conn: &mut AnyConnection,
    deal: &Deal,
    user: &CurrentUser,
    action: DealAction,
) -> Result<DealStatus, ApiError> {
    let latest = match action {
        DealAction::Offer | DealAction::Accept => latest_offer_by(conn, deal)?,
        _ => None,
    };
    views::deal_status(deal)?.decide(action, actor_of(deal, user), latest).map_err(refusal)
}

pub fn refusal(refusal: Refusal) -> ApiError {
    let code = match refusal {
        Refusal::NotAParty => ErrorCode::NotAParty,
        Refusal::NotOfficial => ErrorCode::Forbidden,
        Refusal::WrongParty { .. } => ErrorCode::WrongParty,
        Refusal::WrongState { .. } => ErrorCode::InvalidState,
    };
    ApiError::new(code, refusal.to_string())
}

/// Writes a changed deal (its version bumped here); 409 when a concurrent
/// request changed it first — of two simultaneous accepts, one wins.
pub fn save(conn: &mut AnyConnection, deal: &mut Deal, now: NaiveDateTime) -> Result<(), ApiError> {
    let expected = deal.version;
    deal.version += 1;
    deal.updated_at = now;
    if db::update_deal(conn, deal, expected)? {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::InvalidState, "the deal was changed by a concurrent request; reload it"))
    }
}

/// Moves `deal` to `next` (the caller has set the step's timestamps),
/// stores it version-guarded and records `deal.<name>` with `extra`: the
/// one way every deal change is written.
pub fn commit(
    conn: &mut AnyConnection,
    deal: &mut Deal,
    next: DealStatus,
    name: &str,
    actor: Actor<'_>,
    extra: Value,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let before = json!({"status": deal.status, "version": deal.version});
    deal.status = next.as_str().to_string();
    save(conn, deal, now)?;
    record(conn, deal, name, actor, Some(before), extra)
}

/// Who made a change, in which request; no user when the system did (a
/// Stripe notification).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user_id: Option<&'a str>,
    pub organization_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl<'a> Actor<'a> {
    pub fn user(user: &'a CurrentUser, request_id: Option<&'a str>) -> Self {
        Self { user_id: Some(&user.user_id), organization_id: user.organization_id.as_deref(), request_id }
    }

    pub fn system() -> Self {
        Self { user_id: None, organization_id: None, request_id: None }
    }
}

/// The audit entry and outbox event `deal.<name>` of a change. The event
/// payload carries what a consumer (the mailer) needs without re-reading:
/// the parties, the listing's title, the status, and `extra`'s fields.
pub fn record(
    conn: &mut AnyConnection,
    deal: &Deal,
    name: &str,
    actor: Actor<'_>,
    before: Option<Value>,
    extra: Value,
) -> Result<(), ApiError> {
    let title = listings::find_listing(conn, &deal.listing_id)?.map(|l| l.title).unwrap_or_default();
    let mut payload = json!({
        "deal_id": deal.id,
        "listing_id": deal.listing_id,
        "listing_title": title,
        "buyer_organization_id": deal.buyer_organization_id,
        "seller_organization_id": deal.seller_organization_id,
        "agency_organization_id": deal.agency_organization_id,
        "status": deal.status,
        "actor_user_id": actor.user_id,
        "actor_organization_id": actor.organization_id,
    });
    if let (Value::Object(payload), Value::Object(extra)) = (&mut payload, extra) {
        payload.extend(extra);
    }
    let entry = audit::AuditEntry {
        actor_user_id: actor.user_id,
        action: &format!("deal.{name}"),
        subject_type: "deal",
        subject_id: &deal.id,
        before,
        after: Some(payload),
        request_id: actor.request_id,
        ..Default::default()
    };
    outbox::emit_audited(conn, entry, &format!("deal.{name}"))?;
    Ok(())
}

/// Completes a registered deal whose confirmed payments reach the contract
/// total — after a registration or a confirmed payment, whichever comes
/// last — and marks the listing traded when the rights were assigned.
/// Returns whether it completed.
pub fn complete_if_settled(
    conn: &mut AnyConnection,
    deal: &mut Deal,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    let Some(contract) = deals::find_contract(conn, &deal.id)? else {
        return Ok(false);
    };
    let paid = views::paid_amount(&db::payments_of(conn, &deal.id)?)?;
    let total = Money::from_fen(contract.total_amount_fen).map_err(ApiError::internal)?;
    if !deal::is_settled(views::deal_status(deal)?, paid, total) {
        return Ok(false);
    }
    deal.completed_at = Some(now);
    commit(conn, deal, DealStatus::Completed, "completed", actor, json!({"paid_amount_fen": paid.fen()}), now)?;
    // An exclusive mode (an assignment, an exclusive or sole licence,
    // equity) hands the rights over: nothing is left to trade, and the
    // deal keeps the listing's reservation. Ordinary licences leave the
    // listing on the market for further licensees.
    if TradeMode::from_db(&contract.trade_mode).is_some_and(TradeMode::is_exclusive) {
        techtrade_listings::mark_listing_traded(conn, &deal.listing_id, actor.user_id, actor.request_id)?;
    }
    Ok(true)
}

/// What `deal` holds of the buyer's money now.
pub fn held(conn: &mut AnyConnection, deal: &Deal) -> Result<deal::Held, ApiError> {
    let payments = db::payments_of(conn, &deal.id)?;
    let unconfirmed = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::PendingConfirmation.as_str())
        .try_fold(Money::ZERO, |total, p| total.checked_add(Money::from_fen(p.amount_fen)?))
        .map_err(ApiError::internal)?;
    Ok(deal::Held { paid: views::paid_amount(&payments)?, unconfirmed })
}

/// Looks at the money again after it changed (a refund, a confirmation):
/// an ending deal that holds nothing more ends (`deal.cancelled`,
/// `deal.terminated`); a completed deal refunded below its total is
/// registered again (`deal.completion_reversed`) and the listing its sale
/// traded goes back on the market. Returns the status after.
pub fn settle(
    conn: &mut AnyConnection,
    deal: &mut Deal,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<DealStatus, ApiError> {
    let status = views::deal_status(deal)?;
    let Some(contract) = deals::find_contract(conn, &deal.id)? else {
        // No contract, no money: ending deals end at once (see `end`).
        return Ok(status);
    };
    let total = Money::from_fen(contract.total_amount_fen).map_err(ApiError::internal)?;
    let held = held(conn, deal)?;
    let next = status.settle(held, total);
    if next == status {
        return Ok(status);
    }
    let name = match next {
        DealStatus::Cancelled => "cancelled",
        DealStatus::Terminated => "terminated",
        _ => "completion_reversed",
    };
    if next == DealStatus::Registered {
        deal.completed_at = None;
        release_sale(conn, deal, &contract, actor)?;
    }
    commit(conn, deal, next, name, actor, json!({"paid_amount_fen": held.paid.fen()}), now)?;
    Ok(next)
}

/// Ends a deal by `action` (a cancellation before registration, a
/// termination after it): `cancelling`/`terminating` while it holds money
/// to refund, else `cancelled`/`terminated` at once. The rights it
/// reserved go back on the market, and so does a listing its sale traded.
/// The caller has set the step's own fields (reason, dates).
pub fn end(
    conn: &mut AnyConnection,
    deal: &mut Deal,
    action: DealAction,
    user: &CurrentUser,
    actor: Actor<'_>,
    extra: Value,
    now: NaiveDateTime,
) -> Result<DealStatus, ApiError> {
    let ending = decide(conn, deal, user, action)?;
    let held = held(conn, deal)?;
    // An ending status settles on the money alone (the total plays no part).
    let next = ending.settle(held, Money::ZERO);
    db::release_reservation(conn, &deal.id)?;
    if let Some(contract) = deals::find_contract(conn, &deal.id)? {
        release_sale(conn, deal, &contract, actor)?;
    }
    let name = match next {
        DealStatus::Cancelling => "cancelling",
        DealStatus::Cancelled => "cancelled",
        DealStatus::Terminating => "terminating",
        _ => "terminated",
    };
    let mut extra = extra;
    if let Value::Object(fields) = &mut extra {
        fields.insert("refund_owed_fen".into(), json!(held.paid.fen()));
    }
    commit(conn, deal, next, name, actor, extra, now)?;
    Ok(next)
}

/// Puts the listing back on the market when this deal, completed (its
/// status before the change being written), had traded it by an
/// exclusive sale.
fn release_sale(
    conn: &mut AnyConnection,
    deal: &Deal,
    contract: &db::Contract,
    actor: Actor<'_>,
) -> Result<(), ApiError> {
    let exclusive = TradeMode::from_db(&contract.trade_mode).is_some_and(TradeMode::is_exclusive);
    if exclusive && views::deal_status(deal)? == DealStatus::Completed {
        techtrade_listings::reopen_traded_listing(conn, &deal.listing_id, actor.user_id, actor.request_id)?;
    }
    Ok(())
}

/// Reserves the listing's exclusive rights for `deal`, which is agreeing
/// `mode`; 409 `rights_reserved` when another deal holds them or, for an
/// exclusive or sole licence, when licences are already in force. The
/// caller holds the listing's lock ([`load_for_change`]).
pub fn reserve_rights(
    conn: &mut AnyConnection,
    deal: &Deal,
    mode: TradeMode,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let held = db::find_reservation(conn, &deal.listing_id)?
        .filter(|reservation| reservation.deal_id != deal.id)
        .map(|reservation| TradeMode::from_db(&reservation.trade_mode).unwrap_or(TradeMode::Assignment));
    let others: Vec<TradeMode> = db::agreed_modes_on_listing(conn, &deal.listing_id, &deal.id)?
        .iter()
        .filter_map(|mode| TradeMode::from_db(mode))
        .collect();
    deal::rights_available(mode, held, &others)
        .map_err(|conflict| ApiError::new(ErrorCode::RightsReserved, conflict.to_string()))?;
    if !mode.is_exclusive() {
        return Ok(());
    }
    let reservation = db::Reservation {
        listing_id: deal.listing_id.clone(),
        deal_id: deal.id.clone(),
        trade_mode: mode.as_str().to_string(),
        reserved_at: now,
    };
    if db::reserve(conn, &reservation)? {
        Ok(())
    } else {
        // Only reachable if a writer skipped the listing's lock.
        Err(ApiError::new(ErrorCode::RightsReserved, "another deal has just taken this listing's exclusive rights"))
    }
}

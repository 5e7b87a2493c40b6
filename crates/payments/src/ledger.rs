//! What every payment change goes through: the version-guarded write, the
//! audit entry and the outbox event `payment.<name>`, and completing the
//! deal when the money is in.

use serde_json::json;
use techtrade_db::deals::{self as db, Deal, Payment};
use techtrade_db::{AnyConnection, audit, listings, outbox};
use techtrade_deals::lifecycle::{self, Actor};
use techtrade_deals::views;
use techtrade_domain::deal::PaymentStatus;
use techtrade_domain::{DealStatus, Money};
use techtrade_web::{ApiError, ErrorCode};

/// Writes a changed payment (version bumped here); 409 when a concurrent
/// change got there first.
pub fn save(conn: &mut AnyConnection, payment: &mut Payment, now: chrono::NaiveDateTime) -> Result<(), ApiError> {
    let expected = payment.version;
    payment.version += 1;
    payment.updated_at = now;
    if db::update_payment(conn, payment, expected)? {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::InvalidState, "the payment was changed by a concurrent request; reload it"))
    }
}

/// The audit entry and outbox event of a payment change, with what the
/// mailer needs to tell both parties.
pub fn record(
    conn: &mut AnyConnection,
    deal: &Deal,
    payment: &Payment,
    name: &str,
    actor: Actor<'_>,
    before: Option<serde_json::Value>,
) -> Result<(), ApiError> {
    let title = listings::find_listing(conn, &deal.listing_id)?.map(|l| l.title).unwrap_or_default();
    let payload = json!({
        "payment_id": payment.id,
        "deal_id": deal.id,
        "listing_title": title,
        "method": payment.method,
        "amount_fen": payment.amount_fen,
        "refunded_amount_fen": payment.refunded_amount_fen,
        "status": payment.status,
        "reason": payment.failure_reason,
        "buyer_organization_id": deal.buyer_organization_id,
        "seller_organization_id": deal.seller_organization_id,
        "actor_user_id": actor.user_id,
    });
    let entry = audit::AuditEntry {
        actor_user_id: actor.user_id,
        action: &format!("payment.{name}"),
        subject_type: "payment",
        subject_id: &payment.id,
        before,
        after: Some(payload),
        request_id: actor.request_id,
        ..Default::default()
    };
    outbox::emit_audited(conn, entry, &format!("payment.{name}"))?;
    Ok(())
}

/// Why the deal cannot take `payment`'s money now, if it cannot: the deal
/// no longer takes payments (cancelled, completed), or the money would
/// take what is paid beyond the contract total. The caller holds the
/// deal's lock.
pub fn cannot_take(conn: &mut AnyConnection, deal: &Deal, payment: &Payment) -> Result<Option<String>, ApiError> {
    let status = views::deal_status(deal)?;
    if !matches!(status, DealStatus::Contracted | DealStatus::Registered) {
        return Ok(Some(format!("the deal is {status} and takes no payments")));
    }
    exceeds_total(conn, deal, payment)
}

/// Why counting `payment` as paid would take the deal's payments past its
/// contract total, if it would. Open payments hold their amount when they
/// are made, but money can still arrive outside that hold — a Stripe intent
/// the buyer gave up that is paid after all — so every confirmation asks
/// again, under the deal's lock.
pub fn exceeds_total(conn: &mut AnyConnection, deal: &Deal, payment: &Payment) -> Result<Option<String>, ApiError> {
    let total = db::find_contract(conn, &deal.id)?
        .ok_or_else(|| ApiError::internal(format!("deal {} took a payment without a contract", deal.id)))?
        .total_amount_fen;
    let others: Vec<Payment> = db::payments_of(conn, &deal.id)?.into_iter().filter(|p| p.id != payment.id).collect();
    let paid = views::paid_amount(&others)?;
    let after =
        paid.fen().checked_add(payment.amount_fen).ok_or_else(|| ApiError::internal("paid amount overflows"))?;
    if after > total {
        let total = Money::from_fen(total).unwrap_or_default();
        return Ok(Some(format!("{paid} of the contract total {total} is already paid; this payment would exceed it")));
    }
    Ok(None)
}

/// Marks `payment` confirmed, records it, and completes the deal if that
/// settles it.
pub fn confirm(
    conn: &mut AnyConnection,
    deal: &mut Deal,
    payment: &mut Payment,
    confirmed_by: Option<&str>,
    actor: Actor<'_>,
) -> Result<(), ApiError> {
    let now = techtrade_db::now();
    let before = Some(json!({"status": payment.status, "version": payment.version}));
    payment.status = PaymentStatus::Confirmed.as_str().to_string();
    payment.confirmed_by = confirmed_by.map(String::from);
    payment.confirmed_at = Some(now);
    payment.paid_on = payment.paid_on.or(Some(techtrade_db::market_date(now)));
    payment.failure_reason = None;
    save(conn, payment, now)?;
    record(conn, deal, payment, "confirmed", actor, before)?;
    lifecycle::complete_if_settled(conn, deal, actor, now)?;
    Ok(())
}

/// Raises `payment`'s refunded total to `refunded_fen` (never lowers it:
/// Stripe's webhook and our own record of a Stripe refund report the same
/// running total, in either order), records it, and lets the deal settle
/// (an ending deal ends when nothing is held; a completed one refunded
/// below its total is registered again). `false` when nothing changed.
pub fn refund(
    conn: &mut AnyConnection,
    deal: &mut Deal,
    payment: &mut Payment,
    refunded_fen: i64,
    actor: Actor<'_>,
) -> Result<bool, ApiError> {
    let refunded_fen = refunded_fen.clamp(0, payment.amount_fen);
    if refunded_fen <= payment.refunded_amount_fen {
        return Ok(false);
    }
    let now = techtrade_db::now();
    let before = Some(json!({"status": payment.status, "refunded_amount_fen": payment.refunded_amount_fen,
                             "version": payment.version}));
    payment.refunded_amount_fen = refunded_fen;
    payment.refunded_at = Some(now);
    if refunded_fen == payment.amount_fen {
        payment.status = PaymentStatus::Refunded.as_str().to_string();
    }
    save(conn, payment, now)?;
    record(conn, deal, payment, "refunded", actor, before)?;
    lifecycle::settle(conn, deal, actor, now)?;
    Ok(true)
}

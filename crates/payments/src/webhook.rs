//! `POST /api/v1/webhooks/stripe`: Stripe tells us a payment succeeded,
//! failed, was cancelled or was refunded. The signature is checked first;
//! each event id is applied at most once — recorded in the transaction
//! that applies it, with the deal locked.
//!
//! Money that arrives where the deal cannot take it (beyond the contract
//! total, on a cancelled deal, in another amount or currency) is recorded
//! as `needs_refund` for a person to return, and never counts as paid.
//!
//! Only the handful of fields we act on are read, with serde_json, rather
//! than the SDK's typed event parser: that parser expects the full object
//! of its pinned API version, and an event that does not match it would be
//! lost to a parse error, while these fields have been stable for years.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use techtrade_db::AnyConnection;
use techtrade_db::deals::{self as db, Payment};
use techtrade_deals::lifecycle::Actor;
use techtrade_domain::deal::{PaymentMethod, PaymentStatus};
use techtrade_web::{ApiError, ApiResult, AppState, ErrorCode, Json};
use utoipa::ToSchema;

use crate::handlers::Stripe;
use crate::{ledger, signature};

type Problem = techtrade_web::error::Problem;

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

/// What we answer Stripe.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    pub received: bool,
    /// False when the event was already applied or concerns nothing of ours.
    pub applied: bool,
}

/// Receives Stripe's events (signed with `Stripe-Signature`).
#[utoipa::path(post, path = "/api/v1/webhooks/stripe", tag = "deals",
    request_body(content = String, description = "A Stripe event, exactly as Stripe sent it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<HMAC-SHA256>")),
    responses((status = 200, body = WebhookReceipt), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn stripe_webhook(
    State(state): State<AppState>,
    Extension(stripe): Extension<Stripe>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<WebhookReceipt>> {
    // An unsigned request is malformed whatever this server's configuration.
    let Some(header) = headers.get("stripe-signature") else {
        return Err(ApiError::new(ErrorCode::InvalidSignature, "the Stripe-Signature header is missing"));
    };
    let Stripe(Some(gateway)) = stripe else {
        return Err(ApiError::new(ErrorCode::StripeNotConfigured, "this server has no Stripe webhook secret"));
    };
    let header = header.to_str().unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    signature::verify(header, &body, gateway.webhook_secret(), now, gateway.tolerance_seconds()).map_err(|error| {
        tracing::warn!(%error, "a Stripe webhook failed its signature check");
        ApiError::new(ErrorCode::InvalidSignature, error.to_string())
    })?;
    let event: Event = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, format!("not a Stripe event: {e}")))?;
    let applied = state.db.run(move |conn| techtrade_db::write_transaction(conn, |conn| apply(conn, &event))).await?;
    Ok(Json(WebhookReceipt { received: true, applied }))
}

/// Applies one event; `false` when it was applied before or is not ours.
fn apply(conn: &mut AnyConnection, event: &Event) -> Result<bool, ApiError> {
    let object = &event.data.object;
    let payment = match event.event_type.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" | "payment_intent.canceled" => {
            find_for_intent(conn, object)?
        }
        "charge.refunded" => match object.get("payment_intent").and_then(Value::as_str) {
            Some(intent_id) => db::find_payment_by_intent(conn, intent_id)?,
            None => None,
        },
        _ => None,
    };
    let payment = payment.filter(|p| p.method == PaymentMethod::Stripe.as_str());
    if !db::record_stripe_event(conn, &event.id, &event.event_type, payment.as_ref().map(|p| p.id.as_str()))? {
        return Ok(false);
    }
    let Some(payment) = payment else {
        tracing::info!(event_id = %event.id, event_type = %event.event_type, "Stripe event concerns no payment of ours");
        return Ok(false);
    };
    // The lock order: the deal (and its listing) before its payment; then
    // the payment as it is under the lock.
    let mut deal = db::lock_deal(conn, &payment.deal_id)?
        .ok_or_else(|| ApiError::internal(format!("payment {} has no deal", payment.id)))?;
    let mut payment = db::find_payment(conn, &payment.id)?
        .ok_or_else(|| ApiError::internal(format!("payment {} vanished", payment.id)))?;
    let actor = Actor::system();
    let before = Some(json!({"status": payment.status, "version": payment.version}));
    let now = techtrade_db::now();
    let status = PaymentStatus::from_db(&payment.status);
    match event.event_type.as_str() {
        "payment_intent.succeeded" => {
            // An intent given up (cancelled) or failed may still be paid:
            // Stripe's word that money arrived is what counts.
            let open = [PaymentStatus::AwaitingPayment, PaymentStatus::Failed, PaymentStatus::Cancelled];
            if !status.is_some_and(|status| open.contains(&status)) {
                return Ok(false);
            }
            remember_intent(&mut payment, object);
            let received = object.get("amount_received").and_then(Value::as_i64).unwrap_or_default();
            let currency = object.get("currency").and_then(Value::as_str).unwrap_or_default();
            let refusal = if received != payment.amount_fen || !currency.eq_ignore_ascii_case("cny") {
                Some(format!("Stripe received {received} {currency}, not {} cny", payment.amount_fen))
            } else {
                ledger::cannot_take(conn, &deal, &payment)?
            };
            match refusal {
                Some(reason) => {
                    // Keep it out of the deal's total and leave it to a person.
                    tracing::error!(payment_id = %payment.id, %reason, "a Stripe payment needs a refund");
                    payment.status = PaymentStatus::NeedsRefund.as_str().to_string();
                    payment.failure_reason = Some(reason);
                    ledger::save(conn, &mut payment, now)?;
                    ledger::record(conn, &deal, &payment, "needs_refund", actor, before)?;
                }
                None => ledger::confirm(conn, &mut deal, &mut payment, None, actor)?,
            }
        }
        "payment_intent.canceled" => {
            if status != Some(PaymentStatus::AwaitingPayment) {
                return Ok(false);
            }
            remember_intent(&mut payment, object);
            payment.status = PaymentStatus::Cancelled.as_str().to_string();
            ledger::save(conn, &mut payment, now)?;
            ledger::record(conn, &deal, &payment, "cancelled", actor, before)?;
        }
        "payment_intent.payment_failed" => {
            if status != Some(PaymentStatus::AwaitingPayment) {
                return Ok(false);
            }
            remember_intent(&mut payment, object);
            let reason = object.pointer("/last_payment_error/message").and_then(Value::as_str);
            payment.status = PaymentStatus::Failed.as_str().to_string();
            payment.failure_reason = Some(reason.unwrap_or("the payment failed").to_string());
            ledger::save(conn, &mut payment, now)?;
            ledger::record(conn, &deal, &payment, "failed", actor, before)?;
        }
        "charge.refunded" => {
            if !matches!(status, Some(PaymentStatus::Confirmed | PaymentStatus::Refunded | PaymentStatus::NeedsRefund))
            {
                return Ok(false);
            }
            // Stripe reports the running total refunded on the charge.
            let refunded = object.get("amount_refunded").and_then(Value::as_i64).unwrap_or_default();
            if !ledger::refund(conn, &mut deal, &mut payment, refunded, actor)? {
                return Ok(false);
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The payment a PaymentIntent event is about: by the id in its metadata
/// (which works even before we stored the intent's id), else by intent id.
fn find_for_intent(conn: &mut AnyConnection, intent: &Value) -> Result<Option<Payment>, ApiError> {
    if let Some(payment_id) = intent.pointer("/metadata/payment_id").and_then(Value::as_str)
        && let Some(payment) = db::find_payment(conn, payment_id)?
    {
        let intent_id = intent.get("id").and_then(Value::as_str);
        // A payment that already has another intent is not this event's.
        if payment.stripe_payment_intent_id.is_none() || payment.stripe_payment_intent_id.as_deref() == intent_id {
            return Ok(Some(payment));
        }
    }
    match intent.get("id").and_then(Value::as_str) {
        Some(intent_id) => Ok(db::find_payment_by_intent(conn, intent_id)?),
        None => Ok(None),
    }
}

fn remember_intent(payment: &mut Payment, intent: &Value) {
    if payment.stripe_payment_intent_id.is_none() {
        payment.stripe_payment_intent_id = intent.get("id").and_then(Value::as_str).map(String::from);
    }
}

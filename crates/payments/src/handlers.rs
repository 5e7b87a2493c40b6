//! The payment routes (API.md, "Deals"): the buyer records a bank transfer
//! or starts a Stripe payment, and may withdraw either before it is paid;
//! the seller confirms a transfer or rejects it.
//!
//! Every check of what is still owed runs with the deal locked
//! (`lifecycle::load_for_change`), so that concurrent payments cannot pass
//! it together.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use techtrade_db::deals::{self as db, Deal, Payment};
use techtrade_db::{AnyConnection, idempotency};
use techtrade_deals::lifecycle::{self, Actor};
use techtrade_deals::views::{self, PaymentView};
use techtrade_domain::deal::{self, DealAction, PaymentMethod, PaymentStatus};
use techtrade_domain::violations::Coded;
use techtrade_domain::{Money, Violations, ids, text};
use techtrade_web::idempotency::{self as keyed, IdempotencyKey, Keyed};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Path, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::{GatewayError, StripeGateway};
use crate::ledger;

type Problem = techtrade_web::error::Problem;

pub const MAX_REFERENCE: usize = 100;

/// The Stripe gateway, when the server has Stripe keys.
#[derive(Clone, Default)]
pub struct Stripe(pub Option<Arc<StripeGateway>>);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_payment))
        .routes(routes!(confirm_payment))
        .routes(routes!(reject_payment))
        .routes(routes!(withdraw_payment))
        .routes(routes!(refund_payment))
        .routes(routes!(crate::webhook::stripe_webhook))
}

/// A payment the buyer makes: a bank transfer already sent, or a Stripe
/// payment to make now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum PaymentRequest {
    Offline {
        #[schema(minimum = 1)]
        amount_fen: i64,
        /// The day the transfer was made: today or earlier.
        paid_on: NaiveDate,
        /// The bank's transaction reference (流水号).
        #[schema(min_length = 1, max_length = 100, pattern = r"[^\s\u0085]")]
        reference: String,
    },
    Stripe {
        #[schema(minimum = 1)]
        amount_fen: i64,
    },
}

/// Checks the amount against what is left to pay: the contract total less
/// what is confirmed and what is open (transfers awaiting the seller,
/// Stripe payments awaiting the buyer — an abandoned one is withdrawn with
/// `POST /payments/{id}/cancel`). The caller holds the deal's lock.
fn check_amount(conn: &mut AnyConnection, deal: &Deal, amount_fen: i64) -> Result<Money, ApiError> {
    let amount = deal::positive(amount_fen)
        .map_err(|error| ApiError::invalid_field("amount_fen", error.code(), error.to_string()))?;
    let contract = db::find_contract(conn, &deal.id)?
        .ok_or_else(|| ApiError::internal(format!("deal {} takes payments without a contract", deal.id)))?;
    let committed = views::committed_amount(&db::payments_of(conn, &deal.id)?)?;
    let payable = contract.total_amount_fen.saturating_sub(committed.fen()).max(0);
    if amount.fen() > payable {
        return Err(ApiError::invalid_field(
            "amount_fen",
            "exceeds_outstanding",
            format!(
                "at most the {} still to pay, less payments awaiting confirmation",
                Money::from_fen(payable).unwrap_or_default()
            ),
        ));
    }
    Ok(amount)
}

fn new_payment(deal: &Deal, user: &CurrentUser, method: PaymentMethod, amount: Money) -> Payment {
    let now = techtrade_db::now();
    Payment {
        id: ids::new_id(),
        deal_id: deal.id.clone(),
        method: method.as_str().to_string(),
        status: PaymentStatus::PendingConfirmation.as_str().to_string(),
        amount_fen: amount.fen(),
        paid_on: None,
        reference: None,
        stripe_payment_intent_id: None,
        failure_reason: None,
        created_by: user.user_id.clone(),
        confirmed_by: None,
        confirmed_at: None,
        refunded_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
        refunded_amount_fen: 0,
    }
}

/// The buyer records a bank transfer (to be confirmed by the seller) or
/// starts a Stripe payment (answered with the `client_secret` to pay with).
/// Honours `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/deals/{id}/payments", tag = "deals", request_body = PaymentRequest,
    security(("bearer" = [])), params(("id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    responses((status = 201, body = PaymentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn create_payment(
    State(state): State<AppState>,
    Extension(stripe): Extension<Stripe>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    key: Option<IdempotencyKey>,
    Path(id): Path<String>,
    Json(request): Json<PaymentRequest>,
) -> ApiResult<Keyed<PaymentView>> {
    pay(state, stripe, user, request_id, key, id, request).await
}

/// A payment by the buyer of deal `id`: a bank transfer recorded for the
/// seller to confirm, or a Stripe payment started; once per idempotency key.
pub async fn pay(
    state: AppState,
    stripe: Stripe,
    user: CurrentUser,
    request_id: Option<String>,
    key: Option<IdempotencyKey>,
    id: String,
    request: PaymentRequest,
) -> ApiResult<Keyed<PaymentView>> {
    let fingerprint = keyed::fingerprint(&format!("POST /api/v1/deals/{id}/payments"), &request);
    match request {
        PaymentRequest::Offline { amount_fen, paid_on, reference } => {
            state
                .db
                .run(move |conn| {
                    techtrade_db::write_transaction(conn, |conn| {
                        let deal = lifecycle::load_for_change(conn, &id, &user)?;
                        keyed::once(conn, &user.user_id, key.as_ref(), &fingerprint, StatusCode::CREATED, |conn| {
                            lifecycle::decide(conn, &deal, &user, DealAction::RecordPayment)?;
                            let mut violations = Violations::new();
                            let today = techtrade_db::today();
                            let paid_on = violations.check("paid_on", deal::not_in_future(paid_on, today));
                            let reference = violations.check("reference", text::required(&reference, MAX_REFERENCE));
                            let (paid_on, reference) = violations.finish(|| Some((paid_on?, reference?)))?;
                            let amount = check_amount(conn, &deal, amount_fen)?;
                            let mut payment = new_payment(&deal, &user, PaymentMethod::Offline, amount);
                            payment.paid_on = Some(paid_on);
                            payment.reference = Some(reference);
                            db::insert_payment(conn, &payment)?;
                            let actor = Actor::user(&user, request_id.as_deref());
                            ledger::record(conn, &deal, &payment, "recorded", actor, None)?;
                            views::payment_view(&payment)
                        })
                    })
                })
                .await
        }
        PaymentRequest::Stripe { amount_fen } => {
            let Stripe(Some(gateway)) = stripe else {
                return Err(ApiError::new(
                    ErrorCode::StripeNotConfigured,
                    "this server takes offline payments only; pay by bank transfer with method \"offline\"",
                )
                .with_field("method", "unavailable", "Stripe is not configured"));
            };
            start_stripe_payment(state, gateway, user, request_id, key, fingerprint, id, amount_fen).await
        }
    }
}

/// A Stripe payment in three steps, because Stripe is called outside any
/// transaction: (1) store the payment and claim the key, noting the
/// payment id on it; (2) create the PaymentIntent, idempotent on the
/// payment id; (3) store the intent id and the answer. A retry with the
/// same key after a crash between the steps resumes with the same payment
/// and gets the same intent.
#[allow(clippy::too_many_arguments)]
async fn start_stripe_payment(
    state: AppState,
    gateway: Arc<StripeGateway>,
    user: CurrentUser,
    request_id: Option<String>,
    key: Option<IdempotencyKey>,
    fingerprint: String,
    deal_id: String,
    amount_fen: i64,
) -> ApiResult<Keyed<PaymentView>> {
    let step_one_user = user.clone();
    let step_one_key = key.clone();
    let started = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| -> Result<Started, ApiError> {
                let (user, key) = (step_one_user, step_one_key);
                let deal = lifecycle::load_for_change(conn, &deal_id, &user)?;
                if let Some(IdempotencyKey(key)) = &key {
                    match idempotency::claim(conn, &user.user_id, key, &fingerprint)? {
                        idempotency::Claim::Unfinished { note: Some(payment_id) } => {
                            if let Some(payment) = db::find_payment(conn, &payment_id)? {
                                return Ok(Started::Resume(deal, payment));
                            }
                        }
                        claim => {
                            if let Some(replay) = keyed::interpret(claim)? {
                                return Ok(Started::Replay(replay));
                            }
                        }
                    }
                }
                lifecycle::decide(conn, &deal, &user, DealAction::RecordPayment)?;
                let amount = check_amount(conn, &deal, amount_fen)?;
                let mut payment = new_payment(&deal, &user, PaymentMethod::Stripe, amount);
                payment.status = PaymentStatus::AwaitingPayment.as_str().to_string();
                db::insert_payment(conn, &payment)?;
                if let Some(IdempotencyKey(key)) = &key {
                    idempotency::note(conn, &user.user_id, key, &payment.id)?;
                }
                let actor = Actor::user(&user, request_id.as_deref());
                ledger::record(conn, &deal, &payment, "started", actor, None)?;
                Ok(Started::Resume(deal, payment))
            })
        })
        .await?;
    let (deal, payment) = match started {
        Started::Replay(replay) => return Ok(replay),
        Started::Resume(deal, payment) => (deal, payment),
    };
    let intent = gateway.create_intent(&payment.id, &deal.id, payment.amount_fen).await;
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                // The lock order: the deal before its payment.
                db::lock_deal(conn, &deal.id)?;
                let mut payment = db::find_payment(conn, &payment.id)?
                    .ok_or_else(|| ApiError::internal("a payment vanished while Stripe was called"))?;
                let intent = match intent {
                    Ok(intent) => intent,
                    Err(error) => return Err(stripe_failed(conn, &user, key.as_ref(), &deal, &mut payment, error)),
                };
                // The webhook may have been faster and already stored it.
                if payment.stripe_payment_intent_id.is_none() {
                    payment.stripe_payment_intent_id = Some(intent.id.clone());
                    ledger::save(conn, &mut payment, techtrade_db::now())?;
                }
                let mut view = views::payment_view(&payment)?;
                view.client_secret = Some(intent.client_secret);
                if let Some(IdempotencyKey(key)) = &key {
                    let body = serde_json::to_string(&view).map_err(ApiError::internal)?;
                    idempotency::finish(conn, &user.user_id, key, StatusCode::CREATED.as_u16(), &body)?;
                }
                Ok(Keyed::Fresh(StatusCode::CREATED, view))
            })
        })
        .await
}

/// The first step of a Stripe payment: an answer to replay, or the
/// payment to create (or re-create) the intent for. One lives per request,
/// so the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Started {
    Replay(Keyed<PaymentView>),
    Resume(Deal, Payment),
}

/// 503: Stripe did not answer; the same request may be tried again.
fn stripe_unreachable() -> ApiError {
    ApiError::new(ErrorCode::Unavailable, "Stripe could not be reached; try again shortly").retry_after(5)
}

/// Records that Stripe refused or could not be reached, and frees the
/// idempotency key so that a retry tries again.
fn stripe_failed(
    conn: &mut AnyConnection,
    user: &CurrentUser,
    key: Option<&IdempotencyKey>,
    deal: &Deal,
    payment: &mut Payment,
    error: GatewayError,
) -> ApiError {
    tracing::warn!(payment_id = %payment.id, %error, "creating the Stripe PaymentIntent failed");
    let recorded = (|| -> Result<(), ApiError> {
        if payment.status == PaymentStatus::AwaitingPayment.as_str() {
            payment.status = PaymentStatus::Failed.as_str().to_string();
            payment.failure_reason = Some(error.to_string());
            ledger::save(conn, payment, techtrade_db::now())?;
            ledger::record(conn, deal, payment, "failed", Actor::user(user, None), None)?;
        }
        if let Some(IdempotencyKey(key)) = key {
            idempotency::release(conn, &user.user_id, key)?;
        }
        Ok(())
    })();
    if let Err(e) = recorded {
        return e;
    }
    match error {
        GatewayError::Refused(message) => ApiError::invalid_field("amount_fen", "refused_by_stripe", message),
        GatewayError::Unreachable(_) => stripe_unreachable(),
    }
}

/// The seller confirms that a recorded bank transfer arrived.
#[utoipa::path(post, path = "/api/v1/payments/{id}/confirm", tag = "deals", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
async fn confirm_payment(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<PaymentView>> {
    Ok(Json(confirm(&state, user, request_id, id).await?))
}

/// The seller confirms that a recorded bank transfer arrived.
pub async fn confirm(
    state: &AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
) -> ApiResult<PaymentView> {
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (mut deal, mut payment) = pending_transfer(conn, &id, &user, DealAction::ConfirmPayment)?;
                // Found by the model test: a transfer recorded while a given-up
                // Stripe intent left the total free, confirmed after that
                // intent was paid after all, paid the contract twice.
                if let Some(reason) = ledger::exceeds_total(conn, &deal, &payment)? {
                    return Err(ApiError::conflict(format!(
                        "{reason}: reject the transfer, or refund it once confirmed"
                    )));
                }
                let actor = Actor::user(&user, request_id.as_deref());
                ledger::confirm(conn, &mut deal, &mut payment, Some(&user.user_id), actor)?;
                views::payment_view(&payment)
            })
        })
        .await
}

/// The payment `id` and its deal, locked for a change (the deal first, in
/// the lock order); 404 for a payment of a deal the caller may not see.
fn load_for_change(conn: &mut AnyConnection, id: &str, user: &CurrentUser) -> Result<(Deal, Payment), ApiError> {
    let deal_id = db::find_payment(conn, id)?.ok_or_else(|| ApiError::not_found("payment"))?.deal_id;
    let deal = lifecycle::load_for_change(conn, &deal_id, user)
        .map_err(|error| if error.code() == ErrorCode::NotFound { ApiError::not_found("payment") } else { error })?;
    // Read again under the lock: this is the state the change applies to.
    let payment = db::find_payment(conn, id)?.ok_or_else(|| ApiError::not_found("payment"))?;
    Ok((deal, payment))
}

/// The payment `id`, locked with its deal, when it is a recorded transfer
/// awaiting the payee and `user` may take `action` (confirm or reject) on
/// it: Stripe settles its own payments.
fn pending_transfer(
    conn: &mut AnyConnection,
    id: &str,
    user: &CurrentUser,
    action: DealAction,
) -> Result<(Deal, Payment), ApiError> {
    let (deal, payment) = load_for_change(conn, id, user)?;
    lifecycle::decide(conn, &deal, user, action)?;
    if payment.method != PaymentMethod::Offline.as_str() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "a Stripe payment is settled by Stripe; only a recorded transfer is confirmed or rejected",
        ));
    }
    require_status(&payment, PaymentStatus::PendingConfirmation)?;
    Ok((deal, payment))
}

/// 409 unless the payment is in `expected`.
fn require_status(payment: &Payment, expected: PaymentStatus) -> Result<(), ApiError> {
    if payment.status == expected.as_str() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("the payment is {}, not {}", payment.status, expected.as_str().replace('_', " ")),
        ))
    }
}

/// Why the payee rejects a recorded transfer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RejectPaymentRequest {
    /// What is wrong with the record (told to the payer): 1–500 characters.
    #[schema(min_length = 1, max_length = 500, pattern = r"[^\s\u0085]")]
    pub reason: String,
}

pub const MAX_REASON: usize = 500;

/// The seller says a recorded bank transfer did not arrive, or not as
/// recorded; it no longer counts against what is owed, and the buyer is
/// told why.
#[utoipa::path(post, path = "/api/v1/payments/{id}/reject", tag = "deals", request_body = RejectPaymentRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn reject_payment(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<RejectPaymentRequest>,
) -> ApiResult<Json<PaymentView>> {
    Ok(Json(reject(&state, user, request_id, id, request).await?))
}

/// The seller says a recorded transfer did not arrive, or not as recorded.
pub async fn reject(
    state: &AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    request: RejectPaymentRequest,
) -> ApiResult<PaymentView> {
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (mut deal, mut payment) = pending_transfer(conn, &id, &user, DealAction::RejectPayment)?;
                let reason = text::required(&request.reason, MAX_REASON)
                    .map_err(|error| ApiError::invalid_field("reason", error.code(), error.to_string()))?;
                let before = Some(serde_json::json!({"status": payment.status, "version": payment.version}));
                payment.status = PaymentStatus::Rejected.as_str().to_string();
                payment.failure_reason = Some(reason);
                ledger::save(conn, &mut payment, techtrade_db::now())?;
                let actor = Actor::user(&user, request_id.as_deref());
                ledger::record(conn, &deal, &payment, "rejected", actor, before)?;
                // A cancelled deal that waited on this transfer may end now.
                lifecycle::settle(conn, &mut deal, actor, techtrade_db::now())?;
                views::payment_view(&payment)
            })
        })
        .await
}

/// The buyer withdraws a payment it has not made: a transfer it recorded
/// by mistake (before the seller confirms it), or a Stripe payment it will
/// not pay (the PaymentIntent is cancelled at Stripe first). What it held
/// of the contract total is free again.
#[utoipa::path(post, path = "/api/v1/payments/{id}/cancel", tag = "deals", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 503, body = Problem)))]
async fn withdraw_payment(
    State(state): State<AppState>,
    Extension(stripe): Extension<Stripe>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<PaymentView>> {
    // Check first, then (for Stripe) cancel the intent outside any
    // transaction, then record it if nothing changed meanwhile.
    let check_user = user.clone();
    let check_id = id.clone();
    let intent = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| withdrawable(conn, &check_id, &check_user).map(|(_, p)| p))
        })
        .await?
        .stripe_payment_intent_id;
    if let Some(intent_id) = intent {
        let Stripe(Some(gateway)) = stripe else {
            return Err(ApiError::new(ErrorCode::StripeNotConfigured, "Stripe is not configured on this server"));
        };
        gateway.cancel_intent(&intent_id).await.map_err(|error| match error {
            GatewayError::Refused(message) => ApiError::new(
                ErrorCode::InvalidState,
                format!("Stripe did not cancel the payment ({message}); if it was paid, its confirmation follows"),
            ),
            GatewayError::Unreachable(_) => stripe_unreachable(),
        })?;
    }
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (mut deal, mut payment) = withdrawable(conn, &id, &user)?;
                let before = Some(serde_json::json!({"status": payment.status, "version": payment.version}));
                payment.status = PaymentStatus::Cancelled.as_str().to_string();
                ledger::save(conn, &mut payment, techtrade_db::now())?;
                let actor = Actor::user(&user, request_id.as_deref());
                ledger::record(conn, &deal, &payment, "cancelled", actor, before)?;
                // A cancelled deal that waited on this transfer may end now.
                lifecycle::settle(conn, &mut deal, actor, techtrade_db::now())?;
                views::payment_view(&payment).map(Json)
            })
        })
        .await
}

/// The payment, locked, if `user` may withdraw it now: the buyer's, and
/// still open (a transfer not yet confirmed, an intent not yet paid).
fn withdrawable(conn: &mut AnyConnection, id: &str, user: &CurrentUser) -> Result<(Deal, Payment), ApiError> {
    let (deal, payment) = load_for_change(conn, id, user)?;
    lifecycle::decide(conn, &deal, user, DealAction::WithdrawPayment)?;
    let open = if payment.method == PaymentMethod::Offline.as_str() {
        PaymentStatus::PendingConfirmation
    } else {
        PaymentStatus::AwaitingPayment
    };
    require_status(&payment, open)?;
    Ok((deal, payment))
}

/// Money the payee gives back: a bank transfer back it made (offline), or
/// a refund it asks Stripe for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RefundRequest {
    /// At most what the payment brought in and was not refunded yet.
    #[schema(minimum = 1)]
    pub amount_fen: i64,
    /// Offline: the day the money went back (required; not in the future).
    #[serde(default)]
    pub refunded_on: Option<NaiveDate>,
    /// Offline: the bank's reference of the transfer back (required).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub reference: Option<String>,
}

/// The seller gives money back: what a cancelled or terminated deal must
/// return, what arrived beyond the contract (`needs_refund`), or a part
/// the parties agreed. An ending deal ends once nothing is held; a
/// completed deal refunded below its total is registered again.
#[utoipa::path(post, path = "/api/v1/payments/{id}/refund", tag = "deals", request_body = RefundRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PaymentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn refund_payment(
    State(state): State<AppState>,
    Extension(stripe): Extension<Stripe>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<RefundRequest>,
) -> ApiResult<Json<PaymentView>> {
    let (check_user, check_id, check_request) = (user.clone(), id.clone(), request.clone());
    let checked = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (_, payment) = refundable(conn, &check_id, &check_user, check_request.amount_fen)?;
                Ok::<_, ApiError>(payment)
            })
        })
        .await?;
    if checked.method == PaymentMethod::Offline.as_str() {
        let mut violations = Violations::new();
        let refunded_on = match request.refunded_on {
            Some(day) => violations.check("refunded_on", deal::not_in_future(day, techtrade_db::today())),
            None => {
                violations.push("refunded_on", "required", "the day the money went back");
                None
            }
        };
        let reference = request.reference.as_deref().unwrap_or_default();
        let reference = violations.check("reference", text::required(reference, MAX_REFERENCE));
        let (refunded_on, reference) = violations.finish(|| Some((refunded_on?, reference?)))?;
        let refund = Refunded::Offline { amount_fen: request.amount_fen, refunded_on, reference };
        return record_refund(state, user, request_id, id, refund).await;
    }
    let total = checked.refunded_amount_fen.saturating_add(request.amount_fen);
    // Stripe: ask Stripe first (outside any transaction), then record.
    let Stripe(Some(gateway)) = stripe else {
        return Err(ApiError::new(ErrorCode::StripeNotConfigured, "Stripe is not configured on this server"));
    };
    let intent = checked
        .stripe_payment_intent_id
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidState, "the payment has no Stripe PaymentIntent to refund"))?;
    let refund_id =
        gateway.refund(&checked.id, &intent, request.amount_fen, total).await.map_err(|error| match error {
            GatewayError::Refused(message) => ApiError::invalid_field("amount_fen", "refused_by_stripe", message),
            GatewayError::Unreachable(_) => stripe_unreachable(),
        })?;
    let refunded = Refunded::Stripe { amount_fen: request.amount_fen, total_fen: total, refund_id };
    record_refund(state, user, request_id, id, refunded).await
}

/// A refund made, to record.
enum Refunded {
    /// A transfer back, checked again under the lock.
    Offline { amount_fen: i64, refunded_on: NaiveDate, reference: String },
    /// Stripe made it: it brings the refunded total to `total_fen`, whatever
    /// changed meanwhile (its webhook may have reported it already).
    Stripe { amount_fen: i64, total_fen: i64, refund_id: String },
}

/// The payment, locked, if `user` may refund `amount_fen` of it now.
fn refundable(
    conn: &mut AnyConnection,
    id: &str,
    user: &CurrentUser,
    amount_fen: i64,
) -> Result<(Deal, Payment), ApiError> {
    let (deal, payment) = load_for_change(conn, id, user)?;
    lifecycle::decide(conn, &deal, user, DealAction::RefundPayment)?;
    let holds_money =
        [PaymentStatus::Confirmed, PaymentStatus::NeedsRefund].iter().any(|status| payment.status == status.as_str());
    if !holds_money {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("the payment is {}: there is nothing to refund", payment.status.replace('_', " ")),
        ));
    }
    let amount = deal::positive(amount_fen)
        .map_err(|error| ApiError::invalid_field("amount_fen", error.code(), error.to_string()))?;
    let left = payment.amount_fen.saturating_sub(payment.refunded_amount_fen);
    if amount.fen() > left {
        return Err(ApiError::invalid_field(
            "amount_fen",
            "exceeds_refundable",
            format!("at most the {} not yet refunded", Money::from_fen(left).unwrap_or_default()),
        ));
    }
    Ok((deal, payment))
}

/// Records a refund with its row, under the deal's lock.
async fn record_refund(
    state: AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    refunded: Refunded,
) -> ApiResult<Json<PaymentView>> {
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (mut deal, mut payment, amount_fen, total_fen, refunded_on, reference, stripe_refund_id) =
                    match refunded {
                        Refunded::Offline { amount_fen, refunded_on, reference } => {
                            let (deal, payment) = refundable(conn, &id, &user, amount_fen)?;
                            let total = payment.refunded_amount_fen.saturating_add(amount_fen);
                            (deal, payment, amount_fen, total, refunded_on, Some(reference), None)
                        }
                        Refunded::Stripe { amount_fen, total_fen, refund_id } => {
                            let (deal, payment) = load_for_change(conn, &id, &user)?;
                            // Two requests for the same refund (the same refunded
                            // total) get one Stripe refund: the second records nothing.
                            if db::stripe_refund_recorded(conn, &refund_id)? {
                                return views::payment_view(&payment).map(Json);
                            }
                            (deal, payment, amount_fen, total_fen, techtrade_db::today(), None, Some(refund_id))
                        }
                    };
                let refund = db::Refund {
                    id: ids::new_id(),
                    payment_id: payment.id.clone(),
                    amount_fen,
                    refunded_on,
                    reference,
                    stripe_refund_id,
                    created_by: Some(user.user_id.clone()),
                    created_at: techtrade_db::now(),
                };
                db::insert_refund(conn, &refund)?;
                let actor = Actor::user(&user, request_id.as_deref());
                ledger::refund(conn, &mut deal, &mut payment, total_fen, actor)?;
                views::payment_view(&payment).map(Json)
            })
        })
        .await
}

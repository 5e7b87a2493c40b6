//! The payment routes (API.md, "Deals"): the buyer records a bank transfer
//! or starts a Stripe payment, the seller confirms a transfer.

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
        .routes(routes!(crate::webhook::stripe_webhook))
}

/// A payment the buyer makes: a bank transfer already sent, or a Stripe
/// payment to make now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum PaymentRequest {
    Offline {
        amount_fen: i64,
        /// The day the transfer was made.
        paid_on: NaiveDate,
        /// The bank's transaction reference (流水号).
        reference: String,
    },
    Stripe {
        amount_fen: i64,
    },
}

/// Checks the amount against what is left to pay: the contract total less
/// what is confirmed and what awaits the seller's confirmation. (Stripe
/// intents not yet paid do not count: an abandoned one must not block.)
fn check_amount(conn: &mut AnyConnection, deal: &Deal, amount_fen: i64) -> Result<Money, ApiError> {
    let amount = deal::positive(amount_fen)
        .map_err(|error| ApiError::invalid_field("amount_fen", error.code(), error.to_string()))?;
    let contract = db::find_contract(conn, &deal.id)?
        .ok_or_else(|| ApiError::internal(format!("deal {} takes payments without a contract", deal.id)))?;
    let payments = db::payments_of(conn, &deal.id)?;
    let pending: i64 = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::PendingConfirmation.as_str())
        .map(|p| p.amount_fen)
        .fold(0_i64, i64::saturating_add);
    let committed = views::paid_amount(&payments)?.fen().saturating_add(pending);
    let outstanding = contract.total_amount_fen.saturating_sub(committed).max(0);
    if amount.fen() > outstanding {
        return Err(ApiError::invalid_field(
            "amount_fen",
            "exceeds_outstanding",
            format!("at most the {} still to pay", Money::from_fen(outstanding).unwrap_or_default()),
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
    let fingerprint = keyed::fingerprint(&format!("POST /api/v1/deals/{id}/payments"), &request);
    match request {
        PaymentRequest::Offline { amount_fen, paid_on, reference } => {
            state
                .db
                .run(move |conn| {
                    techtrade_db::write_transaction(conn, |conn| {
                        let deal = lifecycle::load_visible(conn, &id, &user)?;
                        keyed::once(conn, &user.user_id, key.as_ref(), &fingerprint, StatusCode::CREATED, |conn| {
                            lifecycle::decide(conn, &deal, &user, DealAction::RecordPayment)?;
                            let mut violations = Violations::new();
                            let today = techtrade_db::now().date();
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
                let deal = lifecycle::load_visible(conn, &deal_id, &user)?;
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
        GatewayError::Unreachable(_) => {
            ApiError::new(ErrorCode::Unavailable, "Stripe could not be reached; try again shortly").retry_after(5)
        }
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
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let mut payment = db::find_payment(conn, &id)?.ok_or_else(|| ApiError::not_found("payment"))?;
                // A payment of a deal the caller may not see does not exist for them.
                let mut deal = lifecycle::load_visible(conn, &payment.deal_id, &user).map_err(|error| {
                    if error.code() == ErrorCode::NotFound { ApiError::not_found("payment") } else { error }
                })?;
                lifecycle::decide(conn, &deal, &user, DealAction::ConfirmPayment)?;
                if payment.method != PaymentMethod::Offline.as_str() {
                    return Err(ApiError::new(ErrorCode::InvalidState, "Stripe payments are confirmed by Stripe"));
                }
                if payment.status != PaymentStatus::PendingConfirmation.as_str() {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        format!("the payment is {}, not pending confirmation", payment.status),
                    ));
                }
                let actor = Actor::user(&user, request_id.as_deref());
                ledger::confirm(conn, &mut deal, &mut payment, Some(&user.user_id), actor)?;
                views::payment_view(&payment).map(Json)
            })
        })
        .await
}

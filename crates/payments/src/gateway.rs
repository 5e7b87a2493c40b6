//! Stripe through `async-stripe`: creating the PaymentIntent a buyer pays
//! with in the browser. Nothing here runs inside a database transaction.

use std::collections::HashMap;
use std::time::Duration;

use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::payment_intent::{CancelPaymentIntent, CancelPaymentIntentCancellationReason, CreatePaymentIntent};
use stripe_core::refund::CreateRefund;
use stripe_types::Currency;

/// How to reach Stripe.
#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    pub webhook_secret: String,
    /// Another base URL than `https://api.stripe.com/` (a local stand-in in tests).
    pub api_base: Option<String>,
    pub timeout: Duration,
    /// How old a webhook's signed timestamp may be.
    pub tolerance_seconds: i64,
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field("secret_key", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .field("api_base", &self.api_base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The Stripe client and the webhook secret.
pub struct StripeGateway {
    client: stripe::Client,
    settings: StripeSettings,
}

/// A created PaymentIntent: its id and what the browser pays with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub client_secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Stripe answered and refused (an invalid amount, a bad key).
    #[error("Stripe refused the request: {0}")]
    Refused(String),
    /// Stripe could not be reached or answered nonsense; worth retrying.
    #[error("Stripe is unreachable: {0}")]
    Unreachable(String),
}

impl StripeGateway {
    pub fn new(settings: StripeSettings) -> Result<Self, String> {
        let mut builder = stripe::ClientBuilder::new(settings.secret_key.clone()).timeout(settings.timeout);
        if let Some(base) = &settings.api_base {
            builder = builder.url(base.clone());
        }
        let client = builder.build().map_err(|e| format!("the Stripe client could not be set up: {e}"))?;
        Ok(Self { client, settings })
    }

    pub fn webhook_secret(&self) -> &str {
        &self.settings.webhook_secret
    }

    pub fn tolerance_seconds(&self) -> i64 {
        self.settings.tolerance_seconds
    }

    /// A PaymentIntent in CNY for `amount_fen` (Stripe's smallest CNY unit
    /// is the fen), tagged with our ids so that its webhooks find the
    /// payment. Stripe's idempotency key is the payment id: asking again
    /// for the same payment (a retry after a crash) returns the same intent.
    pub async fn create_intent(
        &self,
        payment_id: &str,
        deal_id: &str,
        amount_fen: i64,
    ) -> Result<Intent, GatewayError> {
        let key = IdempotencyKey::new(format!("techtrade-payment-{payment_id}"))
            .map_err(|e| GatewayError::Refused(e.to_string()))?;
        let metadata = HashMap::from([
            ("payment_id".to_string(), payment_id.to_string()),
            ("deal_id".to_string(), deal_id.to_string()),
        ]);
        let intent = CreatePaymentIntent::new(amount_fen, Currency::CNY)
            .metadata(metadata)
            .description(format!("techtrade deal {deal_id}"))
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(gateway_error)?;
        let client_secret = intent
            .client_secret
            .ok_or_else(|| GatewayError::Unreachable("the PaymentIntent came back without a client_secret".into()))?;
        Ok(Intent { id: intent.id.to_string(), client_secret })
    }

    /// Cancels the PaymentIntent `intent_id` (the payer gave it up).
    /// Stripe refuses when the intent was paid meanwhile; its webhook then
    /// confirms the payment. Cancelling twice is harmless: the key is the
    /// intent's.
    pub async fn cancel_intent(&self, intent_id: &str) -> Result<(), GatewayError> {
        let key = IdempotencyKey::new(format!("techtrade-cancel-{intent_id}"))
            .map_err(|e| GatewayError::Refused(e.to_string()))?;
        CancelPaymentIntent::new(intent_id)
            .cancellation_reason(CancelPaymentIntentCancellationReason::RequestedByCustomer)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(gateway_error)?;
        Ok(())
    }
}

impl StripeGateway {
    /// Refunds `amount_fen` of the PaymentIntent `intent_id`; Stripe's id of
    /// the refund. The key names the payment and the refunded total the
    /// refund brings it to, so a retry of the same refund is not made twice
    /// while a later, further refund is.
    pub async fn refund(
        &self,
        payment_id: &str,
        intent_id: &str,
        amount_fen: i64,
        refunded_total_fen: i64,
    ) -> Result<String, GatewayError> {
        let key = IdempotencyKey::new(format!("techtrade-refund-{payment_id}-{refunded_total_fen}"))
            .map_err(|e| GatewayError::Refused(e.to_string()))?;
        let refund = CreateRefund::new()
            .payment_intent(intent_id)
            .amount(amount_fen)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(gateway_error)?;
        Ok(refund.id.to_string())
    }
}

/// Stripe's refusals (4xx) are final; the rest is worth retrying.
fn gateway_error(error: StripeError) -> GatewayError {
    match error {
        StripeError::Stripe(errors, status) => {
            let message = errors.message.clone().unwrap_or_else(|| format!("status {status}"));
            if status >= 500 { GatewayError::Unreachable(message) } else { GatewayError::Refused(message) }
        }
        other => GatewayError::Unreachable(other.to_string()),
    }
}

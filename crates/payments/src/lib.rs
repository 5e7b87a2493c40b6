//! The payments service: how the buyer pays a contracted deal. Offline, the
//! buyer records a bank transfer and the seller confirms it; with Stripe,
//! the buyer pays a PaymentIntent in the browser and Stripe's signed
//! webhook confirms it. Without Stripe keys the server takes offline
//! payments only and says so.

pub mod gateway;
mod handlers;
mod ledger;
pub mod signature;
mod webhook;

pub use gateway::{StripeGateway, StripeSettings};
pub use handlers::{PaymentRequest, RejectPaymentRequest, Stripe, confirm, pay, reject, router};
pub use webhook::WebhookReceipt;

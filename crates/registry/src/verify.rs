//! Checking a registration certificate (`GET /api/v1/registrations/verify`):
//! anyone holding a certificate's number and its seller's credit code
//! learns whether it is genuine and what it states — no more than the
//! certificate itself shows, and nothing at all for a wrong pair. Checks
//! are limited per client address, counted in the database so that the
//! limit holds across replicas: a seller's credit code is public and the
//! numbers run in sequence, so the contracts of a known seller must not be
//! walked through.

use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};
use techtrade_db::registry;
use techtrade_domain::CreditCode;
use techtrade_web::{ApiError, ApiResult, AppState, ErrorCode};
use utoipa::{IntoParams, ToSchema};

/// Checks per address within [`WINDOW`] before 429.
const CHECKS_PER_WINDOW: i64 = 30;
const WINDOW: TimeDelta = TimeDelta::minutes(10);

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// The certificate's registration number (16 digits).
    #[param(pattern = r"^[0-9]{16}$")]
    pub number: String,
    /// The seller's 统一社会信用代码.
    #[param(value_type = techtrade_domain::CreditCode)]
    pub credit_code: String,
}

/// What a certificate states.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificateView {
    pub registration_number: String,
    /// development | transfer | license | consulting | service
    pub category: String,
    pub seller_name: String,
    pub buyer_name: String,
    /// 成交额 as registered.
    pub registered_total_fen: i64,
    /// 技术交易额 as registered (核定).
    pub registered_technology_amount_fen: i64,
    /// The day it was registered, in Beijing time.
    pub registered_on: NaiveDate,
}

/// Whether the number and credit code belong to a certificate in force,
/// and what it states.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    /// The certificate exists for this seller and is in force.
    pub valid: bool,
    /// The certificate exists but the office cancelled the registration (注销).
    pub cancelled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateView>,
}

/// The check of `query` from `ip`.
pub async fn verify(state: &AppState, ip: &str, query: VerifyQuery) -> ApiResult<Verification> {
    let number = query.number.trim().to_string();
    if number.len() != 16 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "number: a registration number has 16 digits").with_field(
            "number",
            "bad_format",
            "16 digits",
        ));
    }
    let credit_code = CreditCode::parse(&query.credit_code).map_err(|e| {
        ApiError::new(ErrorCode::InvalidQuery, format!("credit_code: {e}")).with_field(
            "credit_code",
            techtrade_domain::violations::Coded::code(&e),
            e.to_string(),
        )
    })?;
    let ip = ip.to_string();
    let found = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let now = techtrade_db::now();
                if registry::checks_from_ip(conn, &ip, now - WINDOW)? >= CHECKS_PER_WINDOW {
                    return Err(ApiError::new(
                        ErrorCode::RateLimited,
                        "too many certificate checks; wait and try again",
                    )
                    .retry_after(WINDOW.num_seconds().unsigned_abs()));
                }
                registry::record_check(conn, &ip, now, now - WINDOW)?;
                Ok(registry::find_certificate(conn, &number)?)
            })
        })
        .await?;
    let found = found.filter(|c| c.seller_credit_code == credit_code.as_str());
    let cancelled = found.as_ref().is_some_and(|c| c.cancelled);
    let certificate = found.map(|c| CertificateView {
        registration_number: c.registration_number,
        category: c.category,
        seller_name: c.seller_name,
        buyer_name: c.buyer_name,
        registered_total_fen: c.registered_total_fen,
        registered_technology_amount_fen: c.registered_technology_fen,
        registered_on: techtrade_db::market_date(c.registered_at),
    });
    Ok(Verification { valid: certificate.is_some() && !cancelled, cancelled, certificate })
}

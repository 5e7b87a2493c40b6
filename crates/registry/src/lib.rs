//! The registration office (技术合同认定登记, as the 2026 《技术合同认定登记
//! 管理办法》 runs it): a seller applies to register any technology contract
//! it signed — on the platform or elsewhere, the buyer named by credit code
//! —, the office decides within its time limit in working days
//! (`techtrade_domain::registration`, over the national holiday calendar
//! `techtrade_domain::calendar`), asking for more material if need be, and
//! registers with a number or refuses with catalogued reasons.
//!
//! ```text
//! draft ──submit──▶ submitted ──register──▶ registered
//!                    │  ▲   └────refuse───▶ refused
//!       request_more ▼  │ answer
//!                 more_requested   (the clock stands still)
//! ```
//!
//! Anyone holding a certificate checks it with its number and the seller's
//! credit code (`verify`).

mod handlers;
mod requests;
mod service;
mod verify;
mod views;

use std::sync::Arc;

use chrono::NaiveDate;
use techtrade_domain::calendar::Calendar;
use techtrade_domain::registration::TimeLimits;

pub use handlers::router;
pub use requests::{
    AnswerRequest, ApplicationRequest, BuyerRequest, ContractToRegister, DecisionRequest, OfficeDecision,
};
pub use service::{ApplicationListQuery, answer, create, decide, get, issue_number, list, submit};
pub use verify::{CertificateView, Verification, VerifyQuery, verify};
pub use views::{ApplicationDetail, ApplicationView, BuyerView, EventView, RegisteredContractView};

/// Which day it is for the office: the market's today, or a fixed day (tests
/// that count working days across a holiday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    #[default]
    Market,
    Fixed(NaiveDate),
}

impl Clock {
    pub fn today(self) -> NaiveDate {
        match self {
            Self::Market => techtrade_db::today(),
            Self::Fixed(day) => day,
        }
    }
}

/// What the registration office needs besides the database.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// The national holiday calendar (`registration.calendar_dir`).
    pub calendar: Arc<Calendar>,
    /// How long the office has to decide (`registration.working_days`, …).
    pub limits: TimeLimits,
    /// The office's two-digit code in the numbers it issues
    /// (`deals.registration_office`).
    pub office: String,
    pub clock: Clock,
}

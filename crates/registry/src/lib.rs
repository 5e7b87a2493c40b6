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
//! Once registered, the seller may ask for an amendment (变更) or a
//! cancellation (注销), decided by the office through the same decision
//! (`changes`); it uploads the contract text and its proofs (`documents`)
//! and declares the payments on a contract signed elsewhere for an official
//! to confirm (`payments`), so that subsidies count such a contract as
//! they count a platform deal.
//!
//! A platform deal's contract is registered the same way: the seller
//! applies with the deal, its contract taken from it, and the office's
//! decision moves the deal on (`deals`).
//!
//! Anyone holding a certificate checks it with its number and the seller's
//! credit code (`verify`).

mod certificate;
mod changes;
mod deals;
mod documents;
mod events;
mod handlers;
mod payments;
mod reminders;
mod requests;
mod service;
mod verify;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use techtrade_domain::calendar::Calendar;
use techtrade_domain::deal::NumberFormat;
use techtrade_domain::registration::TimeLimits;

pub use certificate::{
    CertificateFacts, CertificateFont, CertificatePage, facts as certificate_facts, pdf_of as certificate_pdf, zh_date,
};
pub use changes::{request_amendment, request_cancellation};
pub use deals::register_deal;
pub use documents::{
    DocumentStore, Upload, UploadForm, content_type as document_content_type, read as read_document, read_upload,
    remove as remove_document, upload as upload_document,
};
pub use handlers::router;
pub use reminders::{REMIND_EVERY, REMIND_WITHIN, remind_due, run as run_reminders};
pub use requests::{
    AmendmentRequest, AnswerRequest, ApplicationRequest, BuyerRequest, CancellationRequest, ContractToRegister,
    DealContractTerms, DecisionRequest, DisputeRequest, OfficeDecision, PaymentDecision, PaymentDeclaration,
};
pub use service::{ApplicationListQuery, answer, create, decide, dispute, get, issue_number, list, submit};
pub use verify::{CertificateView, Verification, VerifyQuery, verify};
pub use views::{
    ApplicationDetail, ApplicationView, BuyerView, ChangeView, DeclaredPaymentView, DocumentView, EventView,
    RegisteredContractView,
};

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

/// How an office numbers its registrations: its two-digit code
/// (`deals.registration_office`) and the layout (`registration.number_format`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbering {
    pub office: String,
    pub format: NumberFormat,
}

impl Default for Numbering {
    fn default() -> Self {
        Self { office: "01".to_string(), format: NumberFormat::default() }
    }
}

/// What the registration office needs besides the database.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// The national holiday calendar (`registration.calendar_dir`).
    pub calendar: Arc<Calendar>,
    /// How long the office has to decide (`registration.working_days`, …).
    pub limits: TimeLimits,
    /// How the office numbers its registrations.
    pub numbering: Numbering,
    pub clock: Clock,
    /// Where documents' bytes are kept (`registration.document_storage`).
    pub documents: DocumentStore,
    /// The largest document accepted (`registration.max_document_mb`).
    pub max_document_bytes: usize,
    /// The office's name on certificates (`registration.office_name`).
    pub office_name: String,
    /// The font PDF certificates are set in (`registration.certificate_font`).
    pub certificate_font: CertificateFont,
    /// The printable certificate, as the web front renders it.
    pub certificate_page: CertificatePage,
}

impl Default for DocumentStore {
    fn default() -> Self {
        Self::Files(PathBuf::from("data/documents"))
    }
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            calendar: Arc::default(),
            limits: TimeLimits::default(),
            numbering: Numbering::default(),
            clock: Clock::Market,
            documents: DocumentStore::default(),
            max_document_bytes: 20 * 1024 * 1024,
            office_name: "技术合同认定登记机构".to_string(),
            certificate_font: CertificateFont::default(),
            certificate_page: CertificatePage::default(),
        }
    }
}

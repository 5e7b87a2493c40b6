//! The deals service: a buyer's offer on a published listing, counter-offers
//! in turn, agreement, the technology contract (技术合同), its registration
//! by an official (技术合同认定登记) and completion once paid. The rules of
//! who may do what, and when, are the domain's `deal` state machine; this
//! crate applies them atomically, audits and emits every change.

mod agency;
mod handlers;
pub mod lifecycle;
pub mod requests;
pub mod views;

pub use handlers::{ListDealsQuery, accept, counter, deal, deals, open, record_contract, register, router};

/// Settings of the deals service.
#[derive(Debug, Clone)]
pub struct DealSettings {
    /// The two-digit code of the registration office (登记机构) in the
    /// numbers it issues.
    pub registration_office: String,
}

impl Default for DealSettings {
    fn default() -> Self {
        Self { registration_office: "01".into() }
    }
}

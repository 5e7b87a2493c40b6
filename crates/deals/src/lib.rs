//! The deals service: a buyer's offer on a published listing, counter-offers
//! in turn, agreement, the technology contract (技术合同), its registration
//! by an official (技术合同认定登记) and completion once paid. The rules of
//! who may do what, and when, are the domain's `deal` state machine; this
//! crate applies them atomically, audits and emits every change.

mod agency;
mod handlers;
pub mod lifecycle;
pub mod registration;
pub mod requests;
pub mod views;

pub use handlers::{ListDealsQuery, accept, counter, deal, deals, open, record_contract, router};

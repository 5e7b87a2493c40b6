//! Pure types and rules of techtrade: no I/O, no database, no HTTP.
//!
//! Input is parsed into these types at the edge of the system ("parse, don't
//! validate"); past the edge nothing re-checks strings. Every parse error
//! carries a stable snake_case `code` that the HTTP layer reports per field.

#[macro_use]
mod vocabulary;

pub mod calendar;
pub mod claim;
pub mod credit_code;
pub mod deal;
pub mod email;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod ids;
pub mod ipc;
pub mod listing;
pub mod matching;
pub mod money;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod organization;
pub mod patent;
pub mod policy;
pub mod region;
pub mod registration;
pub mod role;
pub mod tax;
pub mod text;
pub mod violations;

pub use credit_code::CreditCode;
pub use deal::{ContractCategory, DealParty, DealStatus};
pub use email::Email;
pub use ipc::IpcCode;
pub use listing::{ListingKind, ListingStatus, Maturity, TradeMode, Transition};
pub use money::Money;
pub use organization::{OrganizationKind, OrganizationRole};
pub use patent::{ApplicationNumber, LegalStatus, PatentType, PublicationNumber};
pub use region::RegionCode;
pub use role::Role;
pub use violations::{Violation, Violations};

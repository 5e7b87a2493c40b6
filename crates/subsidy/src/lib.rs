//! The subsidy service (技术交易后补助): programs as policy files (rules as
//! data, POLICY.md, computed by `techtrade_domain::policy`), claims with a
//! frozen, explained calculation, two-level review by different officials,
//! rounds that pay within the budget, the public notice, and what-if
//! simulation for officials.

use std::sync::Arc;

use techtrade_domain::policy::Program;
use techtrade_web::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod claims;
mod close;
mod document;
mod facts;
mod open_year;
mod outlook;
mod programs;
mod review;
mod rounds;
mod simulate;
pub mod views;

pub use claims::{ClaimPreviewRequest, ClaimRequest, ListClaimsQuery, claims, preview, submit};
pub use close::{CloseRoundRequest, PendingClaims, close_round_as};
pub use document::document_programs;
pub use outlook::{OutlookLine, RoundOutlook, outlook};
pub use programs::{ProgramView, ProgramsResponse, program_views};
pub use review::{ClaimReviewRequest, review};
pub use rounds::{
    DisbursementRequest, DisbursementView, ListDisbursementsQuery, ListRoundsQuery, disbursements, record_paid,
    round_csv, round_notice, rounds,
};
pub use simulate::{RoleTotals, SimulateRequest, SimulationResult, simulate_year};

/// The programs loaded at start-up, shared by the handlers.
pub type Programs = Arc<Vec<Program>>;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(programs::router())
        .routes(routes!(claims::preview_claim))
        .routes(routes!(claims::submit_claim, claims::list_claims))
        .routes(routes!(claims::get_claim))
        .routes(routes!(review::review_claim))
        .routes(routes!(close::close_round, rounds::list_rounds))
        .routes(routes!(rounds::get_round))
        .routes(routes!(rounds::list_disbursements))
        .routes(routes!(rounds::export_round))
        .routes(routes!(rounds::record_disbursement))
        .routes(routes!(simulate::simulate))
}

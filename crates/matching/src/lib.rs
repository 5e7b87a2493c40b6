//! The matching service: ranks published listings for a demand and
//! published demands for a listing, each result with the reasons for its
//! score (`techtrade_domain::matching`), and keeps users' saved searches,
//! alerting their owners through the outbox when a newly published item
//! matches one.
//!
//! Candidates come from the search backend (the subject's telling words as
//! an any-word query), so matching needs no index of its own; the database
//! rows then decide what is shown and scored.

pub mod alerts;
mod candidates;
mod matches;
mod saved;
mod sides;

use techtrade_domain::matching::Weights;
use techtrade_web::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use matches::{DemandMatch, ListingMatch, demands_for_listing, listings_for_demand};
pub use saved::{
    Notify, SavedSearchRequest, SavedSearchResponse, delete as delete_saved_search, save as save_search, saved_searches,
};

/// How matching ranks, from the `[matching]` configuration; an `Extension`
/// on the app.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchingSettings {
    pub weights: Weights,
    /// How many candidates the search backend is asked for before
    /// re-ranking; the best `limit` of them are returned.
    pub candidate_pool: usize,
}

impl Default for MatchingSettings {
    fn default() -> Self {
        Self { weights: Weights::default(), candidate_pool: 100 }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    matches::router().merge(saved::router())
}

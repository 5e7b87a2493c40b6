//! The listings service as functions, for every face that shows it: the
//! JSON API's handlers and the web front call the same ones, so the rules
//! of visibility and paging live in one place.

use techtrade_db::listings::{Demand, Listing};
use techtrade_web::{ApiResult, AppState, CurrentUser, Page};

use crate::handlers::{self, ListQuery};
use crate::views::{DemandResponse, ListingResponse};

/// A listing as `viewer` may see it (404 when it may not).
pub async fn listing(state: AppState, viewer: Option<CurrentUser>, id: String) -> ApiResult<ListingResponse> {
    handlers::get::<Listing>(state, viewer, id).await
}

/// A demand as `viewer` may see it (404 when it may not).
pub async fn demand(state: AppState, viewer: Option<CurrentUser>, id: String) -> ApiResult<DemandResponse> {
    handlers::get::<Demand>(state, viewer, id).await
}

/// A page of listings: published ones by default (GET /api/v1/listings).
pub async fn listings(
    state: AppState,
    viewer: Option<CurrentUser>,
    query: ListQuery,
) -> ApiResult<Page<ListingResponse>> {
    handlers::list::<Listing>(state, viewer, query).await
}

/// A page of demands: published ones by default (GET /api/v1/demands).
pub async fn demands(
    state: AppState,
    viewer: Option<CurrentUser>,
    query: ListQuery,
) -> ApiResult<Page<DemandResponse>> {
    handlers::list::<Demand>(state, viewer, query).await
}

//! The listings service as functions, for every face that shows it: the
//! JSON API's handlers and the web front call the same ones, so the rules
//! of visibility and paging live in one place.

use techtrade_db::listings::{Demand, Listing};
use techtrade_domain::Transition;
use techtrade_web::{ApiResult, AppState, CurrentUser, Page};

use crate::handlers::{self, ListQuery, ReviewRequest};
use crate::reads;
use crate::requests::{DemandRequest, ListingRequest};
use crate::views::{DemandResponse, ListingResponse};

/// Who acts, and the request they act in (for the audit log).
pub struct Actor {
    pub user: CurrentUser,
    pub request_id: Option<String>,
}

/// A listing as `viewer` may see it (404 when it may not).
pub async fn listing(state: AppState, viewer: Option<CurrentUser>, id: String) -> ApiResult<ListingResponse> {
    reads::read::<Listing>(&state, viewer, id).await?.into_view()
}

/// A demand as `viewer` may see it (404 when it may not).
pub async fn demand(state: AppState, viewer: Option<CurrentUser>, id: String) -> ApiResult<DemandResponse> {
    reads::read::<Demand>(&state, viewer, id).await?.into_view()
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

/// A new draft listing of the actor's organisation.
pub async fn create_listing(actor: Actor, state: AppState, request: ListingRequest) -> ApiResult<ListingResponse> {
    handlers::create::<Listing>(state, actor.user, actor.request_id, request).await
}

/// Changes a listing by a JSON merge patch of its request form, when it is
/// still at `expected` (412 otherwise); a published one goes back to review.
pub async fn update_listing(
    actor: Actor,
    state: AppState,
    id: String,
    expected: Option<i64>,
    patch: serde_json::Value,
) -> ApiResult<ListingResponse> {
    handlers::update::<Listing>(state, actor.user, actor.request_id, id, expected, patch).await
}

/// Sends a draft or rejected listing to review.
pub async fn submit_listing(actor: Actor, state: AppState, id: String) -> ApiResult<ListingResponse> {
    handlers::transition::<Listing>(state, actor.user, actor.request_id, id, Transition::Submit, None).await
}

pub async fn withdraw_listing(actor: Actor, state: AppState, id: String) -> ApiResult<ListingResponse> {
    handlers::transition::<Listing>(state, actor.user, actor.request_id, id, Transition::Withdraw, None).await
}

/// A new draft demand of the actor's organisation.
pub async fn create_demand(actor: Actor, state: AppState, request: DemandRequest) -> ApiResult<DemandResponse> {
    handlers::create::<Demand>(state, actor.user, actor.request_id, request).await
}

/// Changes a demand as [`update_listing`] changes a listing.
pub async fn update_demand(
    actor: Actor,
    state: AppState,
    id: String,
    expected: Option<i64>,
    patch: serde_json::Value,
) -> ApiResult<DemandResponse> {
    handlers::update::<Demand>(state, actor.user, actor.request_id, id, expected, patch).await
}

pub async fn submit_demand(actor: Actor, state: AppState, id: String) -> ApiResult<DemandResponse> {
    handlers::transition::<Demand>(state, actor.user, actor.request_id, id, Transition::Submit, None).await
}

pub async fn withdraw_demand(actor: Actor, state: AppState, id: String) -> ApiResult<DemandResponse> {
    handlers::transition::<Demand>(state, actor.user, actor.request_id, id, Transition::Withdraw, None).await
}

/// An official publishes a listing under review, or rejects it with a
/// reason its owner sees; never one of the official's own organisation.
pub async fn review_listing(
    actor: Actor,
    state: AppState,
    id: String,
    request: ReviewRequest,
) -> ApiResult<ListingResponse> {
    handlers::review::<Listing>(state, actor.user, actor.request_id, id, request).await
}

/// An official decides a demand under review, as [`review_listing`].
pub async fn review_demand(
    actor: Actor,
    state: AppState,
    id: String,
    request: ReviewRequest,
) -> ApiResult<DemandResponse> {
    handlers::review::<Demand>(state, actor.user, actor.request_id, id, request).await
}

//! What other services may ask of listings and demands: an item under the
//! same visibility rules as `GET` of it, and the views the listings API
//! returns, so that they show items exactly as this service does.

use techtrade_db::AnyConnection;
use techtrade_db::listings::{Demand, Listing};
use techtrade_web::{ApiError, CurrentUser};

use crate::items::{self, Item};
use crate::views::{DemandResponse, ListingResponse};

/// The listing, if `viewer` may see it (published: anyone; otherwise its
/// owner's members and officials); 404 otherwise.
pub fn visible_listing(conn: &mut AnyConnection, id: &str, viewer: Option<&CurrentUser>) -> Result<Listing, ApiError> {
    items::load_visible::<Listing>(conn, id, viewer)
}

/// The demand, under the same rules as [`visible_listing`].
pub fn visible_demand(conn: &mut AnyConnection, id: &str, viewer: Option<&CurrentUser>) -> Result<Demand, ApiError> {
    items::load_visible::<Demand>(conn, id, viewer)
}

/// Listings as `GET /api/v1/listings/{id}` shows them, in the given order.
pub fn listing_views(conn: &mut AnyConnection, rows: Vec<Listing>) -> Result<Vec<ListingResponse>, ApiError> {
    Listing::respond(conn, rows)
}

/// Demands as `GET /api/v1/demands/{id}` shows them, in the given order.
pub fn demand_views(conn: &mut AnyConnection, rows: Vec<Demand>) -> Result<Vec<DemandResponse>, ApiError> {
    Demand::respond(conn, rows)
}

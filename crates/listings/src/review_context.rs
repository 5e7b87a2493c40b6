//! What a reviewer sees beside an item under review: for an edit of a
//! published item, the content it was published with (from the audit
//! log, which keeps each edit's "before"), and the owner's other
//! published items, to judge the new one against the rest of its work.

use techtrade_db::audit;
use techtrade_db::listings::{Demand, ListFilter, Listing};
use techtrade_domain::ListingStatus;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, Page};

use crate::items::Item;
use crate::views::{DemandResponse, ListingResponse};

/// The listing as it was last published, when the change under review
/// is an edit of a published listing; `None` for a first submission.
pub async fn published_listing(
    state: &AppState,
    user: &CurrentUser,
    id: String,
) -> ApiResult<Option<serde_json::Value>> {
    published_version::<Listing>(state, user, id).await
}

/// The demand as it was last published, as [`published_listing`].
pub async fn published_demand(
    state: &AppState,
    user: &CurrentUser,
    id: String,
) -> ApiResult<Option<serde_json::Value>> {
    published_version::<Demand>(state, user, id).await
}

async fn published_version<I: Item>(
    state: &AppState,
    user: &CurrentUser,
    id: String,
) -> ApiResult<Option<serde_json::Value>> {
    user.require_official()?;
    let edit = format!("{}.{}", I::SUBJECT, techtrade_domain::Transition::Edit.as_str());
    state
        .db
        .run(move |conn| {
            let history = audit::history(conn, I::SUBJECT, &id)?;
            // The latest edit made while the item was published: its
            // "before" is what the public saw until that edit.
            let published = history
                .into_iter()
                .rev()
                .filter(|entry| entry.action == edit)
                .filter_map(|entry| serde_json::from_str::<serde_json::Value>(entry.before_state.as_deref()?).ok())
                .find(|before| before["status"] == ListingStatus::Published.as_str());
            Ok::<_, ApiError>(published)
        })
        .await
}

fn published_of(owner_id: String, limit: i64) -> ListFilter {
    ListFilter {
        owner_organization_id: Some(owner_id),
        statuses: vec![ListingStatus::Published.as_str().to_string()],
        limit,
        ..ListFilter::default()
    }
}

/// An organisation's published listings, newest change first (public).
pub async fn owner_listings(state: &AppState, owner_id: String, limit: u32) -> ApiResult<Page<ListingResponse>> {
    owner_items::<Listing>(state, owner_id, limit).await
}

/// An organisation's published demands, newest change first (public).
pub async fn owner_demands(state: &AppState, owner_id: String, limit: u32) -> ApiResult<Page<DemandResponse>> {
    owner_items::<Demand>(state, owner_id, limit).await
}

async fn owner_items<I: Item>(state: &AppState, owner_id: String, limit: u32) -> ApiResult<Page<I::Response>> {
    let page = techtrade_web::PageQuery { page: Some(1), per_page: Some(limit) }.validate()?;
    state
        .db
        .run(move |conn| {
            let (rows, total) = I::list(conn, &published_of(owner_id, page.limit()))?;
            Ok(Page::new(I::respond(conn, rows)?, total, page))
        })
        .await
}

//! What a reviewer sees beside an item under review: for an edit of a
//! published item, the content it was published with (from the audit
//! log, which keeps each edit's "before"), and the owner's other
//! published items, to judge the new one against the rest of its work.

use std::collections::HashMap;

use techtrade_db::audit;
use techtrade_db::listings::{Demand, ListFilter, Listing};
use techtrade_domain::ListingStatus;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, Page};

use crate::items::Item;
use crate::views::{DemandResponse, ListingResponse};

/// The listings among `ids` whose change under review is an edit of a
/// published listing, each with its content as last published.
pub async fn published_listings(
    state: &AppState,
    user: &CurrentUser,
    ids: Vec<String>,
) -> ApiResult<HashMap<String, serde_json::Value>> {
    published_versions::<Listing>(state, user, ids).await
}

/// The demands among `ids` as they were last published, as [`published_listings`].
pub async fn published_demands(
    state: &AppState,
    user: &CurrentUser,
    ids: Vec<String>,
) -> ApiResult<HashMap<String, serde_json::Value>> {
    published_versions::<Demand>(state, user, ids).await
}

async fn published_versions<I: Item>(
    state: &AppState,
    user: &CurrentUser,
    ids: Vec<String>,
) -> ApiResult<HashMap<String, serde_json::Value>> {
    user.require_official()?;
    let edit = format!("{}.{}", I::SUBJECT, techtrade_domain::Transition::Edit.as_str());
    state
        .db
        .run(move |conn| {
            let mut published = HashMap::new();
            // Oldest first: the latest edit made while an item was published
            // wins, and its "before" is what the public saw until then.
            for entry in audit::entries_about(conn, I::SUBJECT, &edit, &ids)? {
                let before =
                    entry.before_state.as_deref().and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok());
                if let Some(before) = before.filter(|b| b["status"] == ListingStatus::Published.as_str()) {
                    published.insert(entry.subject_id, before);
                }
            }
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

//! `/console/reviews`: the listings and demands waiting for review, oldest
//! first, each with what the owner wrote, a link to its full page, and the
//! decision: publish, or reject with the reason its owner will read. An
//! official of the owning organisation sees the item but the button says
//! why it is not theirs to decide (the service refuses it too).

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use techtrade_domain::ListingStatus;
use techtrade_listings::service::Actor;
use techtrade_listings::views::{DemandResponse, ListingResponse};
use techtrade_listings::{Decision, ListQuery, ReviewRequest};
use techtrade_web::{ApiError, AppState, CurrentUser, RequestId};

use super::{ItemForm, Official, Refused};
use crate::page::{self, Ctx};
use crate::session::Visitor;
use crate::workspace::form::Fields;

/// The most items of each kind the queue shows at once (oldest first: the
/// rest follow as these are decided).
const SHOWN: u32 = 50;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

#[derive(Template)]
#[template(path = "console_reviews.html")]
struct ReviewsPage {
    ctx: Ctx,
    listings: Vec<ListingResponse>,
    demands: Vec<DemandResponse>,
    listings_total: i64,
    demands_total: i64,
    owners: HashMap<String, String>,
    user: CurrentUser,
    done: String,
    decision: ItemForm,
}

impl ReviewsPage {
    fn owner<'a>(&'a self, id: &'a str) -> &'a str {
        self.owners.get(id).map_or(id, String::as_str)
    }

    /// Whether the official belongs to the item's owner, and so may not decide it.
    fn own(&self, owner_id: &str) -> bool {
        self.user.is_member_of(owner_id)
    }
}

async fn reviews_page(
    state: &AppState,
    visitor: &Visitor,
    user: CurrentUser,
    done: String,
    refused: Option<Refused>,
) -> Response {
    let pending =
        || ListQuery { status: Some(ListingStatus::PendingReview), per_page: Some(SHOWN), ..ListQuery::default() };
    let (listings, demands) = tokio::join!(
        techtrade_listings::service::listings(state.clone(), Some(user.clone()), pending()),
        techtrade_listings::service::demands(state.clone(), Some(user.clone()), pending()),
    );
    let (listings, demands) = match (listings, demands) {
        (Ok(listings), Ok(demands)) => (listings, demands),
        (Err(error), _) | (_, Err(error)) => return page::error_page(visitor, &error),
    };
    let mut owners = HashMap::new();
    let owner_ids = listings.items.iter().map(|l| &l.owner_organization_id);
    for id in owner_ids.chain(demands.items.iter().map(|d| &d.owner_organization_id)) {
        if !owners.contains_key(id) {
            match techtrade_accounts::organization(state, id.clone()).await {
                Ok(organization) => owners.insert(id.clone(), organization.name),
                Err(error) => return page::error_page(visitor, &error),
            };
        }
    }
    let (status, decision) = match ItemForm::shown(visitor, refused, &[]) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page = ReviewsPage {
        ctx: Ctx::new(visitor),
        listings_total: listings.total,
        demands_total: demands.total,
        listings: listings.items,
        demands: demands.items,
        owners,
        user,
        done,
        decision,
    };
    page::render(visitor, status, &page)
}

/// `GET /console/reviews`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Official(user): Official,
    Query(Done { done }): Query<Done>,
) -> Response {
    reviews_page(&state, &visitor, user, done, None).await
}

/// `POST /console/reviews/{kind}/{id}` (`listing` or `demand`): publish
/// it, or reject it with a reason; back to the queue either way.
pub async fn decide(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Official(user): Official,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let reason = fields.text("reason");
    let decision = match fields.text("decision").as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        _ => {
            let error = ApiError::invalid_field("decision", "invalid_value", "approve or reject");
            return reviews_page(
                &state,
                &visitor,
                user,
                String::new(),
                Some(Refused { item: id, amount: String::new(), text: reason, error }),
            )
            .await;
        }
    };
    let done = match decision {
        Decision::Approve => "approved",
        Decision::Reject => "rejected",
    };
    let request = ReviewRequest { decision, reason: Some(reason.clone()) };
    let actor = Actor { user: user.clone(), request_id };
    let result = match kind.as_str() {
        "listing" => {
            techtrade_listings::service::review_listing(actor, state.clone(), id.clone(), request).await.map(drop)
        }
        "demand" => {
            techtrade_listings::service::review_demand(actor, state.clone(), id.clone(), request).await.map(drop)
        }
        _ => return page::error_page(&visitor, &ApiError::not_found("review")),
    };
    match result {
        Ok(()) => page::redirect(&format!("/console/reviews?done={done}")),
        Err(error) => {
            reviews_page(
                &state,
                &visitor,
                user,
                String::new(),
                Some(Refused { item: id, amount: String::new(), text: reason, error }),
            )
            .await
        }
    }
}

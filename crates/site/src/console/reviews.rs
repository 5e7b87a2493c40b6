//! `/console/reviews`: the listings and demands waiting for review, oldest
//! first, each with what the owner wrote, a link to its full page, for an
//! edit of a published item what changed since it was published, the
//! owner's other published items, and the decision: publish, or reject
//! with the reason its owner will read. An official of the owning
//! organisation sees the item but the button says why it is not theirs to
//! decide (the service refuses it too).

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use techtrade_domain::ListingStatus;
use techtrade_listings::service::Actor;
use techtrade_listings::views::{DemandResponse, ListingResponse};
use techtrade_listings::{Decision, ListQuery, ReviewRequest, review_context};
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

/// How many of an owner's other published items the queue names.
const OTHERS: u32 = 5;

/// One field an edit changed since the item was published.
struct Change {
    /// The catalogue key of the field's label.
    label: &'static str,
    before: String,
    after: String,
}

/// An owner's published items beside the one under review.
#[derive(Default)]
struct Others {
    listings: Vec<(String, String)>,
    listings_total: i64,
    demands: Vec<(String, String)>,
    demands_total: i64,
}

/// The fields a reviewer compares, with their labels: a listing's, then a demand's.
const LISTING_FIELDS: &[(&str, &str)] = &[
    ("title", "title"),
    ("summary", "summary"),
    ("description", "description"),
    ("ipc", "ipc-codes"),
    ("maturity", "maturity"),
    ("trade_modes", "trade-modes"),
    ("price_fen", "price"),
    ("negotiable", "negotiable-option"),
    ("region_code", "region"),
    ("patents", "patents"),
];
const DEMAND_FIELDS: &[(&str, &str)] = &[
    ("title", "title"),
    ("description", "description"),
    ("ipc", "ipc-codes"),
    ("budget_min_fen", "budget-min-yuan"),
    ("budget_max_fen", "budget-max-yuan"),
    ("negotiable", "negotiable-option"),
    ("trade_modes", "trade-modes"),
    ("region_code", "region"),
    ("deadline", "deadline"),
];

/// A field's value as the reviewer reads it: amounts in yuan, lists
/// joined, patents by application number, vocabularies in words.
fn shown(ctx: &Ctx, field: &str, value: &serde_json::Value) -> String {
    use serde_json::Value;
    match (field, value) {
        (_, Value::Null) => "—".to_string(),
        (_, Value::Bool(yes)) => ctx.t(if *yes { "yes" } else { "no" }),
        ("price_fen" | "budget_min_fen" | "budget_max_fen", Value::Number(n)) => {
            n.as_i64().map_or_else(|| n.to_string(), |fen| ctx.yuan_exact(fen))
        }
        ("region_code", Value::String(code)) => ctx.region(code),
        ("maturity", Value::String(m)) => ctx.label("maturity", m),
        ("patents", Value::Array(patents)) => {
            patents.iter().filter_map(|p| p["application_number"].as_str()).collect::<Vec<_>>().join("、")
        }
        ("trade_modes", Value::Array(modes)) => {
            modes.iter().filter_map(Value::as_str).map(|m| ctx.label("trade-mode", m)).collect::<Vec<_>>().join("、")
        }
        (_, Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("、"),
        (_, Value::String(text)) => text.clone(),
        (_, other) => other.to_string(),
    }
}

/// What changed between the published version and the item now.
fn changes(
    ctx: &Ctx,
    fields: &[(&'static str, &'static str)],
    published: &serde_json::Value,
    now: &serde_json::Value,
) -> Vec<Change> {
    fields
        .iter()
        .filter(|(field, _)| published[*field] != now[*field])
        .map(|(field, label)| Change {
            label,
            before: shown(ctx, field, &published[*field]),
            after: shown(ctx, field, &now[*field]),
        })
        .collect()
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
    /// For an edit of a published item, by item id: what changed.
    changes: HashMap<String, Vec<Change>>,
    /// By owner: its other published items.
    others: HashMap<String, Others>,
    user: CurrentUser,
    done: String,
    decision: ItemForm,
}

impl ReviewsPage {
    fn changes_of(&self, id: &str) -> &[Change] {
        self.changes.get(id).map_or(&[], Vec::as_slice)
    }

    /// The owner's other published items, leaving out `id` itself.
    fn others_of(&self, owner_id: &str) -> Option<&Others> {
        self.others.get(owner_id).filter(|o| o.listings_total + o.demands_total > 0)
    }

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
    let ctx = Ctx::new(visitor);
    let listing_ids = listings.items.iter().map(|l| l.id.clone()).collect();
    let demand_ids = demands.items.iter().map(|d| d.id.clone()).collect();
    let (published_listings, published_demands) = tokio::join!(
        review_context::published_listings(state, &user, listing_ids),
        review_context::published_demands(state, &user, demand_ids),
    );
    let (published_listings, published_demands) = match (published_listings, published_demands) {
        (Ok(listings), Ok(demands)) => (listings, demands),
        (Err(error), _) | (_, Err(error)) => return page::error_page(visitor, &error),
    };
    let mut changes = HashMap::new();
    let listed = listings.items.iter().map(|l| (&l.id, serde_json::to_value(l), &published_listings, LISTING_FIELDS));
    let demanded = demands.items.iter().map(|d| (&d.id, serde_json::to_value(d), &published_demands, DEMAND_FIELDS));
    for (id, now, published, fields) in listed.chain(demanded) {
        if let (Some(published), Ok(now)) = (published.get(id), now) {
            changes.insert(id.clone(), self::changes(&ctx, fields, published, &now));
        }
    }
    let mut others = HashMap::new();
    for owner in owners.keys() {
        let (listed, demanded) = tokio::join!(
            review_context::owner_listings(state, owner.clone(), OTHERS),
            review_context::owner_demands(state, owner.clone(), OTHERS),
        );
        match (listed, demanded) {
            (Ok(listed), Ok(demanded)) => {
                let entry = Others {
                    listings: listed.items.into_iter().map(|l| (l.id, l.title)).collect(),
                    listings_total: listed.total,
                    demands: demanded.items.into_iter().map(|d| (d.id, d.title)).collect(),
                    demands_total: demanded.total,
                };
                others.insert(owner.clone(), entry);
            }
            (Err(error), _) | (_, Err(error)) => return page::error_page(visitor, &error),
        }
    }
    let (status, decision) = match ItemForm::shown(visitor, refused, &[]) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page = ReviewsPage {
        ctx,
        listings_total: listings.total,
        demands_total: demands.total,
        listings: listings.items,
        demands: demands.items,
        owners,
        changes,
        others,
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

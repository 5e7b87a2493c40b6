//! The members' workspace: what waits for the organisation, and its
//! listings and demands from draft to publication. Sign-in required; what
//! belongs to another organisation is 404, as in the API.

pub mod claims;
pub mod deals;
mod demands;
pub(crate) mod form;
pub mod items;
mod listings;
pub mod organization;
pub mod registrations;
pub mod saved;

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use techtrade_listings::ListQuery;
use techtrade_listings::views::{DemandResponse, ListingResponse};
use techtrade_web::{ApiError, AppState, CurrentUser};

use crate::page::{self, Ctx};
use crate::session::Visitor;

pub use demands::DemandForm;
pub use form::ipc_codes;
pub use listings::ListingForm;

/// A page's signed-in user, as an extractor: a visitor is sent to sign in.
pub struct SignedIn(pub CurrentUser);

/// A page's signed-in member of an organisation, as an extractor: a
/// visitor is sent to sign in, staff get 403.
pub struct Member(pub CurrentUser);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        signed_in(&visitor).map(SignedIn)
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        member(&visitor).map(Member)
    }
}

/// The signed-in user; the sign-in page (to come back here) for a visitor.
pub fn signed_in(visitor: &Visitor) -> Result<CurrentUser, Response> {
    match &visitor.user {
        // A password someone else chose, a staff password grown too old,
        // a second factor staff must enrol: the account page first, as
        // the API's 403 says.
        Some(user) if user.has_obligation() && !meets_obligations(&visitor.path) => Err(page::redirect("/account")),
        Some(user) => Ok(user.clone()),
        None => {
            let next = form_urlencoded::byte_serialize(visitor.path.as_bytes()).collect::<String>();
            Err(page::redirect(&format!("/login?next={next}")))
        }
    }
}

/// The pages a user with an obligation may still use: the account page,
/// where it is met, and signing out.
fn meets_obligations(path: &str) -> bool {
    path == "/account" || path.starts_with("/account/") || path.starts_with("/account?") || path.starts_with("/logout")
}

/// The signed-in member of an organisation; the sign-in page (to come
/// back here) for a visitor, 403 for staff who act for no organisation.
pub fn member(visitor: &Visitor) -> Result<CurrentUser, Response> {
    let user = signed_in(visitor)?;
    if user.organization_id.is_none() {
        return Err(page::error_page(visitor, &ApiError::forbidden("the workspace is for members of an organisation")));
    }
    Ok(user)
}

/// Every listing or demand of the organisation, newest change first (the
/// workspace shows them all on one page up to this many).
const OWN_ITEMS: u32 = 100;

fn own_items() -> ListQuery {
    ListQuery { mine: true, per_page: Some(OWN_ITEMS), ..ListQuery::default() }
}

/// Which of the organisation's items a workspace page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Everything,
    Listings,
    Demands,
}

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    ctx: Ctx,
    shown: Shown,
    listings: Vec<ListingResponse>,
    demands: Vec<DemandResponse>,
    /// Drafts and rejected items: the ones that wait for the member.
    to_do: usize,
}

impl WorkspacePage {
    fn shows_listings(&self) -> bool {
        self.shown != Shown::Demands
    }

    fn shows_demands(&self) -> bool {
        self.shown != Shown::Listings
    }

    /// The path of the section shown, for the tabs.
    fn current(&self) -> &'static str {
        match self.shown {
            Shown::Everything => "/workspace",
            Shown::Listings => "/workspace/listings",
            Shown::Demands => "/workspace/demands",
        }
    }
}

/// Whether an item waits for its owner (a draft to finish, a rejection to
/// answer) rather than for someone else.
fn waits_for_owner(status: &str) -> bool {
    matches!(status, "draft" | "rejected")
}

async fn workspace(state: AppState, visitor: Visitor, user: CurrentUser, shown: Shown) -> Response {
    let listings = techtrade_listings::service::listings(state.clone(), Some(user.clone()), own_items());
    let demands = techtrade_listings::service::demands(state, Some(user), own_items());
    let (mut listings, mut demands) = match tokio::try_join!(listings, demands) {
        Ok((listings, demands)) => (listings.items, demands.items),
        Err(error) => return page::error_page(&visitor, &error),
    };
    // What the member must act on comes first; the rest keeps its order
    // (newest change first).
    listings.sort_by_key(|l| !waits_for_owner(&l.status));
    demands.sort_by_key(|d| !waits_for_owner(&d.status));
    let to_do = listings.iter().filter(|l| waits_for_owner(&l.status)).count()
        + demands.iter().filter(|d| waits_for_owner(&d.status)).count();
    let page = WorkspacePage { ctx: Ctx::new(&visitor), shown, listings, demands, to_do };
    page::render(&visitor, StatusCode::OK, &page)
}

/// `GET /workspace`: the organisation's listings and demands, what waits
/// for it first (drafts, rejections with the reviewer's reason).
pub async fn home(State(state): State<AppState>, visitor: Visitor, Member(user): Member) -> Response {
    workspace(state, visitor, user, Shown::Everything).await
}

/// `GET /workspace/listings`.
pub async fn listings(State(state): State<AppState>, visitor: Visitor, Member(user): Member) -> Response {
    workspace(state, visitor, user, Shown::Listings).await
}

/// `GET /workspace/demands`.
pub async fn demands(State(state): State<AppState>, visitor: Visitor, Member(user): Member) -> Response {
    workspace(state, visitor, user, Shown::Demands).await
}

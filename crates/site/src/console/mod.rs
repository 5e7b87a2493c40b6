//! The officials' console (`/console`): the queues an official of the 科技厅
//! or of a registration office works through — listings and demands to
//! review, contracts to register (技术合同认定登记), subsidy claims at level 1
//! and level 2 — each oldest first. For officials and administrators: a
//! member gets 403, a visitor the sign-in page. Every decision is the
//! service function the JSON API calls, with the same refusals.

pub mod audit;
pub mod charts;
pub mod claims;
pub mod office;
pub mod programs;
pub mod registrations;
pub mod reviews;
pub mod rounds;
pub mod statistics;
pub mod users;

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{DateTime, Utc};
use techtrade_db::statistics::QueueChanges;
use techtrade_deals::ListDealsQuery;
use techtrade_domain::claim::ClaimStatus;
use techtrade_domain::{DealStatus, ListingStatus};
use techtrade_listings::ListQuery;
use techtrade_subsidy::ListClaimsQuery;
use techtrade_web::{ApiError, AppState, CurrentUser};

use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;
use crate::workspace::form::FieldMap;
use crate::workspace::signed_in;

/// A console page's signed-in official or administrator, as an extractor:
/// a visitor is sent to sign in, a member gets 403.
pub struct Official(pub CurrentUser);

impl FromRequestParts<AppState> for Official {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        let user = signed_in(&visitor)?;
        if !user.role.is_official() {
            let refusal = ApiError::forbidden("the console is for officials and administrators");
            return Err(page::error_page(&visitor, &refusal));
        }
        Ok(Self(user))
    }
}

/// A console page's signed-in administrator, system or security (each
/// manages the staff of its own side): a visitor is sent to sign in,
/// anyone else gets 403.
pub struct Administrator(pub CurrentUser);

impl FromRequestParts<AppState> for Administrator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        let user = signed_in(&visitor)?;
        if let Err(refusal) = user.require_staff_manager() {
            return Err(page::error_page(&visitor, &refusal));
        }
        Ok(Self(user))
    }
}

/// A decision on one queue item that the service refused: which item,
/// what the official typed (an amount, a reason or note), and why.
pub struct Refused {
    pub item: String,
    pub amount: String,
    pub text: String,
    pub error: ApiError,
}

/// What a queue page shows of a refused decision, on that item's form:
/// the messages on its fields, and what was typed, kept.
#[derive(Default)]
pub struct ItemForm {
    item: String,
    amount: String,
    text: String,
    errors: FormErrors,
}

impl ItemForm {
    /// The page's status and what it shows of `refused` (`renamed`: the
    /// service's fields that the form names otherwise). A server error is
    /// a page of its own.
    pub fn shown(
        visitor: &Visitor,
        refused: Option<Refused>,
        renamed: &'static [(&'static str, &'static str)],
    ) -> Result<(StatusCode, Self), Response> {
        let Some(refused) = refused else { return Ok((StatusCode::OK, Self::default())) };
        let map = FieldMap { renamed, rows: Vec::new(), row_prefix: "" };
        let (status, errors) = page::outcome(visitor, Some(&refused.error), |e| map.errors(visitor.lang, e))?;
        Ok((status, Self { item: refused.item, amount: refused.amount, text: refused.text, errors }))
    }

    /// The refusal's message for the whole page, if it has one.
    pub fn general(&self) -> Option<&String> {
        self.errors.general.as_ref()
    }

    /// The message on `field` of `item`'s form.
    pub fn error_of(&self, item: &str, field: &str) -> Option<&String> {
        (self.item == item).then(|| self.errors.field(field)).flatten()
    }

    /// The amount typed in `item`'s refused form.
    pub fn amount_typed(&self, item: &str) -> Option<&str> {
        (self.item == item).then_some(self.amount.as_str())
    }

    /// The reason or note typed in `item`'s refused form; empty otherwise.
    pub fn text_typed(&self, item: &str) -> &str {
        if self.item == item { &self.text } else { "" }
    }
}

/// One queue on the console's front page.
struct Queue {
    /// Its catalogue key and element id (`queue-reviews-listings`).
    key: &'static str,
    href: &'static str,
    count: i64,
    /// When its oldest item started waiting.
    oldest: Option<DateTime<Utc>>,
    /// In the last 24 hours: how many came in, and how many were decided.
    came: i64,
    decided: i64,
}

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    ctx: Ctx,
    queues: Vec<Queue>,
    now: DateTime<Utc>,
}

impl ConsolePage {
    /// How long the oldest item of a queue has waited, in words.
    fn waited(&self, since: &DateTime<Utc>) -> String {
        let waited = self.now.signed_duration_since(*since);
        if waited.num_days() >= 1 {
            self.ctx.t_count("waited-days", "days", waited.num_days())
        } else if waited.num_hours() >= 1 {
            self.ctx.t_count("waited-hours", "hours", waited.num_hours())
        } else {
            self.ctx.t("waited-under-an-hour")
        }
    }
}

/// The first item's time and the total of a queue's first page.
fn queue<T>(
    key: &'static str,
    href: &'static str,
    page: Result<techtrade_web::Page<T>, ApiError>,
    since: impl Fn(&T) -> Option<DateTime<Utc>>,
) -> Result<Queue, ApiError> {
    let page = page?;
    Ok(Queue { key, href, count: page.total, oldest: page.items.first().and_then(since), came: 0, decided: 0 })
}

impl Queue {
    fn moved(self, (came, decided): (i64, i64)) -> Self {
        Self { came, decided, ..self }
    }
}

/// The queues' movement over the last 24 hours.
async fn changes(state: &AppState) -> Result<QueueChanges, ApiError> {
    let since = (Utc::now() - chrono::TimeDelta::hours(24)).naive_utc();
    state.db.run(move |conn| techtrade_db::statistics::queue_changes(conn, since).map_err(ApiError::from)).await
}

/// `GET /console`: the queues with their counts and how long the oldest
/// item has waited.
pub async fn home(State(state): State<AppState>, visitor: Visitor, Official(user): Official) -> Response {
    let pending =
        || ListQuery { status: Some(ListingStatus::PendingReview), per_page: Some(1), ..ListQuery::default() };
    let claims_in = |status| ListClaimsQuery { status: Some(status), per_page: Some(1), ..ListClaimsQuery::default() };
    let (listings, demands, contracts, level_one, level_two, moved) = tokio::join!(
        techtrade_listings::service::listings(state.clone(), Some(user.clone()), pending()),
        techtrade_listings::service::demands(state.clone(), Some(user.clone()), pending()),
        techtrade_deals::deals(
            &state,
            user.clone(),
            ListDealsQuery { status: Some(DealStatus::Contracted), per_page: Some(1), ..ListDealsQuery::default() },
        ),
        techtrade_subsidy::claims(&state, &user, claims_in(ClaimStatus::Submitted)),
        techtrade_subsidy::claims(&state, &user, claims_in(ClaimStatus::FirstApproved)),
        changes(&state),
    );
    let moved = match moved {
        Ok(moved) => moved,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let queues = [
        queue("queue-listings", "/console/reviews#listings", listings, |l| l.submitted_at)
            .map(|q| q.moved((moved.listings_submitted, moved.listings_decided))),
        queue("queue-demands", "/console/reviews#demands", demands, |d| d.submitted_at)
            .map(|q| q.moved((moved.demands_submitted, moved.demands_decided))),
        queue("queue-registrations", "/console/registrations", contracts, |d| Some(d.updated_at.and_utc()))
            .map(|q| q.moved((moved.contracts_recorded, moved.registrations_decided))),
        // A claim approved at level 1 comes into level 2.
        queue("queue-claims-level-1", "/console/claims?level=1", level_one, |c| Some(c.submitted_at.and_utc()))
            .map(|q| q.moved((moved.claims_submitted, moved.level_one_decided))),
        queue("queue-claims-level-2", "/console/claims?level=2", level_two, |c| Some(c.updated_at.and_utc()))
            .map(|q| q.moved((moved.level_one_decided, moved.level_two_decided))),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>();
    match queues {
        Ok(queues) => {
            let page = ConsolePage { ctx: Ctx::new(&visitor), queues, now: Utc::now() };
            page::render(&visitor, StatusCode::OK, &page)
        }
        Err(error) => page::error_page(&visitor, &error),
    }
}

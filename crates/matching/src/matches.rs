//! `GET /api/v1/demands/{id}/matches` and `GET /api/v1/listings/{id}/matches`
//! (API.md, "Matching"): published items of the other kind, best first,
//! each with its score and the reasons for it.

use std::cmp::Ordering;
use std::collections::HashMap;

use axum::extract::{Extension, State};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use techtrade_db::AnyConnection;
use techtrade_db::listings::{self as db, Demand, DemandTerms, Listing, ListingTerms, PackedTerms};
use techtrade_domain::matching::{self, Need, Offer, Reason, Scored};
use techtrade_listings::access;
use techtrade_listings::views::{DemandResponse, ListingResponse};
use techtrade_search::{DocType, SharedIndex};
use techtrade_web::published::{PublishedCache, Ticket};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, Json, Path, Query};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::candidates::{self, Candidate};
use crate::{MatchingSettings, sides};

type Problem = techtrade_web::error::Problem;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(match_demand)).routes(routes!(match_listing))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchParams {
    /// How many matches, 1 to 100; default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

impl MatchParams {
    /// Read as text so that any bad value, a word included, is the same
    /// 422 naming `limit`.
    fn limit(&self) -> Result<usize, ApiError> {
        let Some(text) = self.limit.as_deref() else {
            return Ok(DEFAULT_LIMIT);
        };
        match text.trim().parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            _ => Err(ApiError::invalid_field(
                "limit",
                "out_of_range",
                format!("limit is a whole number from 1 to {MAX_LIMIT}"),
            )),
        }
    }
}

/// A listing that matches a demand.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingMatch {
    /// The listing as `GET /api/v1/listings/{id}` shows it.
    pub listing: ListingResponse,
    /// 0..=1: the reasons' `weight × value`, summed.
    pub score: f64,
    /// One per factor: text, ipc, price, trade_mode, region, maturity.
    pub reasons: Vec<Reason>,
}

/// A demand that matches a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemandMatch {
    /// The demand as `GET /api/v1/demands/{id}` shows it.
    pub demand: DemandResponse,
    pub score: f64,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListingMatches {
    pub items: Vec<ListingMatch>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DemandMatches {
    pub items: Vec<DemandMatch>,
}

/// What ranking needs of a candidate row.
trait Row {
    fn id(&self) -> &str;
    fn status(&self) -> &str;
    fn published_at(&self) -> Option<NaiveDateTime>;
}

macro_rules! row {
    ($type:ty) => {
        impl Row for $type {
            fn id(&self) -> &str {
                &self.id
            }

            fn status(&self) -> &str {
                &self.status
            }

            fn published_at(&self) -> Option<NaiveDateTime> {
                self.published_at
            }
        }
    };
}
row!(Listing);
row!(Demand);
row!(ListingTerms);
row!(DemandTerms);

/// A kind of item as the candidates of a match: the listings found for a
/// demand, or the demands found for a listing. Matching is the same both
/// ways; only which side is the offer and which the need differs.
///
/// The candidates are ranked on their terms (what the score weighs); only
/// the rows shown are read whole.
trait Candidates: Row + Send + Sized + 'static {
    const DOC_TYPE: DocType;
    /// The outbox's name for the kind (an event's aggregate type).
    const AGGREGATE: &'static str;
    /// The columns the score weighs.
    type Terms: Row + Send;
    /// The candidate's side of the match (a listing's offer, a demand's need).
    type Side: Send;
    /// The subject's side, the other one.
    type Subject: Send + Sync + 'static;
    /// How `GET` of the item shows it.
    type View: Send + 'static;

    fn terms(conn: &mut AnyConnection, ids: &[String]) -> diesel::QueryResult<Vec<Self::Terms>>;
    /// The terms as the process keeps them; `None` unless published.
    fn pack(terms: &Self::Terms) -> Option<PackedTerms>;
    fn unpack(id: &str, packed: &PackedTerms) -> Self::Terms;
    fn rows(conn: &mut AnyConnection, ids: &[String]) -> diesel::QueryResult<Vec<Self>>;
    fn side(terms: &Self::Terms) -> Option<Self::Side>;
    /// The pair in the order the score takes it: the offer, then the need.
    fn pair<'a>(candidate: &'a Self::Side, subject: &'a Self::Subject) -> (&'a Offer, &'a Need);
    fn views(conn: &mut AnyConnection, rows: Vec<Self>) -> Result<Vec<Self::View>, ApiError>;
}

impl Candidates for Listing {
    const DOC_TYPE: DocType = DocType::Listing;
    const AGGREGATE: &'static str = "listing";
    type Terms = ListingTerms;
    type Side = Offer;
    type Subject = Need;
    type View = ListingResponse;

    fn terms(conn: &mut AnyConnection, ids: &[String]) -> diesel::QueryResult<Vec<ListingTerms>> {
        db::find_listing_terms(conn, ids)
    }

    fn pack(terms: &ListingTerms) -> Option<PackedTerms> {
        terms.pack()
    }

    fn unpack(id: &str, packed: &PackedTerms) -> ListingTerms {
        ListingTerms::unpack(id, packed)
    }

    fn rows(conn: &mut AnyConnection, ids: &[String]) -> diesel::QueryResult<Vec<Self>> {
        db::find_listings(conn, ids)
    }

    fn side(terms: &ListingTerms) -> Option<Offer> {
        sides::offer(terms)
    }

    fn pair<'a>(offer: &'a Offer, need: &'a Need) -> (&'a Offer, &'a Need) {
        (offer, need)
    }

    fn views(conn: &mut AnyConnection, rows: Vec<Self>) -> Result<Vec<ListingResponse>, ApiError> {
        access::listing_views(conn, rows)
    }
}

impl Candidates for Demand {
    const DOC_TYPE: DocType = DocType::Demand;
    const AGGREGATE: &'static str = "demand";
    type Terms = DemandTerms;
    type Side = Need;
    type Subject = Offer;
    type View = DemandResponse;

    fn terms(conn: &mut AnyConnection, ids: &[String]) -> diesel::QueryResult<Vec<DemandTerms>> {
        db::find_demand_terms(conn, ids)
    }

    fn pack(terms: &DemandTerms) -> Option<PackedTerms> {
        terms.pack()
    }

    fn unpack(id: &str, packed: &PackedTerms) -> DemandTerms {
        DemandTerms::unpack(id, packed)
    }

    fn rows(conn: &mut AnyConnection, ids: &[String]) -> diesel::QueryResult<Vec<Self>> {
        db::find_demands(conn, ids)
    }

    fn side(terms: &DemandTerms) -> Option<Need> {
        sides::need(terms)
    }

    fn pair<'a>(need: &'a Need, offer: &'a Offer) -> (&'a Offer, &'a Need) {
        (offer, need)
    }

    fn views(conn: &mut AnyConnection, rows: Vec<Self>) -> Result<Vec<DemandResponse>, ApiError> {
        access::demand_views(conn, rows)
    }
}

/// The terms of the candidates `ids`: those the process keeps (`kept`, as
/// [`PublishedCache::terms`] found them under `ticket`), the rest read from
/// the database and kept if published. Unpublished items are returned as
/// read, for [`best`] to drop.
fn candidate_terms<C: Candidates>(
    conn: &mut AnyConnection,
    cache: &PublishedCache,
    ticket: Option<Ticket>,
    ids: &[String],
    kept: Vec<Option<PackedTerms>>,
) -> diesel::QueryResult<Vec<C::Terms>> {
    let mut terms = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for (id, packed) in ids.iter().zip(kept) {
        match packed {
            Some(packed) => terms.push(C::unpack(id, &packed)),
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        let read = C::terms(conn, &missing)?;
        cache.put_terms(ticket, C::AGGREGATE, read.iter().filter_map(|t| Some((t.id(), C::pack(t)?))));
        terms.extend(read);
    }
    Ok(terms)
}

/// A candidate ranked: its terms, its side as parsed once, its text
/// relevance and its score's value.
struct Ranked<T, S> {
    terms: T,
    side: S,
    relevance: f64,
    value: f64,
}

/// The best `limit` of the candidates' terms by `value` (their score, given
/// the parsed side and each candidate's text relevance): best first, among
/// equals the newer publication, then the id, so that the order is the same
/// on every call. Items no longer published are dropped: the index may lag
/// the database by a moment, and the database decides; so are items whose
/// side does not parse.
fn best<T: Row, S>(
    terms: Vec<T>,
    found: &[Candidate],
    limit: usize,
    side: impl Fn(&T) -> Option<S>,
    value: impl Fn(&S, f64) -> f64,
) -> Vec<Ranked<T, S>> {
    let relevance: HashMap<&str, f64> = found.iter().map(|c| (c.id.as_str(), c.relevance)).collect();
    let mut ranked: Vec<Ranked<T, S>> = terms
        .into_iter()
        .filter(|terms| terms.status() == "published")
        .filter_map(|terms| {
            let relevance = *relevance.get(terms.id())?;
            let side = side(&terms)?;
            let value = value(&side, relevance);
            Some(Ranked { terms, side, relevance, value })
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.value
            .partial_cmp(&a.value)
            .unwrap_or(Ordering::Equal)
            .then_with(|| b.terms.published_at().cmp(&a.terms.published_at()))
            .then_with(|| a.terms.id().cmp(b.terms.id()))
    });
    ranked.truncate(limit);
    ranked
}

/// The rows of `ranked`, in its order, each with what `score` gives its
/// ranked terms. A row withdrawn since its terms were read is left out: the
/// rows decide. (One edited in that moment is shown as it is now and
/// scored as it was, as a match may use an index a moment behind.)
fn shown<R: Row, T: Row, S, Score>(
    mut rows: Vec<R>,
    ranked: Vec<Ranked<T, S>>,
    score: impl Fn(&Ranked<T, S>) -> Score,
) -> (Vec<R>, Vec<Score>) {
    ranked
        .into_iter()
        .filter_map(|ranked| {
            let at = rows.iter().position(|row| row.id() == ranked.terms.id() && row.status() == "published")?;
            Some((rows.swap_remove(at), score(&ranked)))
        })
        .unzip()
}

/// The best `limit` published items of kind `C` for a subject whose side is
/// `subject` and whose text gives `words`, each as `GET` shows it, with its
/// score and reasons.
async fn matches_for<C: Candidates>(
    state: &AppState,
    index: &SharedIndex,
    settings: &MatchingSettings,
    subject: C::Subject,
    words: &[String],
    subclasses: &[String],
    limit: usize,
) -> ApiResult<Vec<(C::View, Scored)>> {
    let found = candidates::find(index.as_ref(), C::DOC_TYPE, words, subclasses, settings.candidate_pool).await?;
    let weights = settings.weights;
    let ids: Vec<String> = found.iter().map(|c| c.id.clone()).collect();
    // The ticket before the kept terms: what is read for the rest is kept
    // only if no eviction came between.
    let cache = state.published.clone();
    let ticket = cache.ticket();
    let kept = cache.terms(C::AGGREGATE, &ids);
    state
        .db
        .run(move |conn| {
            let value = |side: &C::Side, relevance| {
                let (offer, need) = C::pair(side, &subject);
                matching::score_value(offer, need, relevance, &weights)
            };
            let terms = candidate_terms::<C>(conn, &cache, ticket, &ids, kept)?;
            let ranked = best(terms, &found, limit, C::side, value);
            let shown_ids: Vec<String> = ranked.iter().map(|r| r.terms.id().to_string()).collect();
            // The reasons are written for the rows shown only.
            let (rows, scores) = shown(C::rows(conn, &shown_ids)?, ranked, |ranked| {
                let (offer, need) = C::pair(&ranked.side, &subject);
                matching::score(offer, need, ranked.relevance, &weights)
            });
            Ok::<_, ApiError>(C::views(conn, rows)?.into_iter().zip(scores).collect())
        })
        .await
}

/// Published listings for a demand, best first, each with its reasons.
/// The demand must be visible to the caller as `GET` of it would be.
#[utoipa::path(get, path = "/api/v1/demands/{id}/matches", tag = "matching",
    params(("id" = String, Path), MatchParams),
    responses((status = 200, body = ListingMatches), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn match_demand(
    State(state): State<AppState>,
    Extension(index): Extension<SharedIndex>,
    Extension(settings): Extension<MatchingSettings>,
    viewer: Option<CurrentUser>,
    Path(id): Path<String>,
    Query(params): Query<MatchParams>,
) -> ApiResult<Json<ListingMatches>> {
    let limit = params.limit()?;
    let items = listings_for_demand(&state, &index, &settings, viewer, id, limit).await?;
    Ok(Json(ListingMatches { items }))
}

/// Published listings for the demand `id`, best first, at most `limit`.
pub async fn listings_for_demand(
    state: &AppState,
    index: &SharedIndex,
    settings: &MatchingSettings,
    viewer: Option<CurrentUser>,
    id: String,
    limit: usize,
) -> ApiResult<Vec<ListingMatch>> {
    let demand = state.db.run(move |conn| access::visible_demand(conn, &id, viewer.as_ref())).await?;
    let need = sides::need(&DemandTerms::from(&demand))
        .ok_or_else(|| ApiError::internal(format!("demand {} is unreadable", demand.id)))?;
    let subclasses = sides::subclasses(&need.ipc);
    let words = sides::demand_words(&demand);
    let found = matches_for::<Listing>(state, index, settings, need, &words, &subclasses, limit).await?;
    Ok(found.into_iter().map(|(listing, s)| ListingMatch { listing, score: s.score, reasons: s.reasons }).collect())
}

/// Published demands for a listing, best first, each with its reasons.
/// The listing must be visible to the caller as `GET` of it would be.
#[utoipa::path(get, path = "/api/v1/listings/{id}/matches", tag = "matching",
    params(("id" = String, Path), MatchParams),
    responses((status = 200, body = DemandMatches), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn match_listing(
    State(state): State<AppState>,
    Extension(index): Extension<SharedIndex>,
    Extension(settings): Extension<MatchingSettings>,
    viewer: Option<CurrentUser>,
    Path(id): Path<String>,
    Query(params): Query<MatchParams>,
) -> ApiResult<Json<DemandMatches>> {
    let limit = params.limit()?;
    let items = demands_for_listing(&state, &index, &settings, viewer, id, limit).await?;
    Ok(Json(DemandMatches { items }))
}

/// Published demands for the listing `id`, best first, at most `limit`.
pub async fn demands_for_listing(
    state: &AppState,
    index: &SharedIndex,
    settings: &MatchingSettings,
    viewer: Option<CurrentUser>,
    id: String,
    limit: usize,
) -> ApiResult<Vec<DemandMatch>> {
    let listing = state.db.run(move |conn| access::visible_listing(conn, &id, viewer.as_ref())).await?;
    let offer = sides::offer(&ListingTerms::from(&listing))
        .ok_or_else(|| ApiError::internal(format!("listing {} is unreadable", listing.id)))?;
    let subclasses = sides::subclasses(&offer.ipc);
    let words = sides::listing_words(&listing);
    let found = matches_for::<Demand>(state, index, settings, offer, &words, &subclasses, limit).await?;
    Ok(found.into_iter().map(|(demand, s)| DemandMatch { demand, score: s.score, reasons: s.reasons }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        id: &'static str,
        status: &'static str,
        published_at: Option<NaiveDateTime>,
    }

    impl Row for Fake {
        fn id(&self) -> &str {
            self.id
        }

        fn status(&self) -> &str {
            self.status
        }

        fn published_at(&self) -> Option<NaiveDateTime> {
            self.published_at
        }
    }

    #[test]
    fn best_first_then_newest_then_id_and_only_published() {
        let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).and_then(|d| d.and_hms_opt(0, 0, 0));
        let rows = vec![
            Fake { id: "old", status: "published", published_at: day(1) },
            Fake { id: "new", status: "published", published_at: day(20) },
            Fake { id: "top", status: "published", published_at: day(1) },
            Fake { id: "gone", status: "withdrawn", published_at: day(25) },
            Fake { id: "b-twin", status: "published", published_at: day(20) },
            Fake { id: "unfound", status: "published", published_at: day(25) },
        ];
        let found: Vec<Candidate> = ["old", "new", "top", "gone", "b-twin"]
            .iter()
            .map(|id| Candidate { id: (*id).to_string(), relevance: if *id == "top" { 1.0 } else { 0.5 } })
            .collect();
        // The side is the id's length; a side that does not parse drops its row.
        let side = |row: &Fake| (row.id != "new").then_some(row.id.len());
        let value = |_: &usize, relevance: f64| relevance;
        let chosen = best(rows, &found, 3, side, value);
        let ids: Vec<&str> = chosen.iter().map(|r| r.terms.id).collect();
        assert_eq!(ids, ["top", "b-twin", "old"]);
        assert_eq!(chosen.iter().map(|r| r.relevance).collect::<Vec<_>>(), [1.0, 0.5, 0.5]);
        assert_eq!(chosen.iter().map(|r| r.side).collect::<Vec<_>>(), [3, 6, 3]);
    }

    #[test]
    fn the_rows_shown_keep_the_ranked_order_and_drop_the_withdrawn() {
        let fake = |id: &'static str, status: &'static str| Fake { id, status, published_at: None };
        let ranked: Vec<Ranked<Fake, u8>> = [("a", 3), ("b", 2), ("c", 1), ("d", 0)]
            .into_iter()
            .map(|(id, side)| Ranked { terms: fake(id, "published"), side, relevance: 0.0, value: 0.0 })
            .collect();
        // Read back in another order; b withdrawn meanwhile, d gone.
        let rows = vec![fake("c", "published"), fake("b", "withdrawn"), fake("a", "published")];
        let (rows, scores) = shown(rows, ranked, |r| r.side);
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(scores, [3, 1]);
    }

    #[test]
    fn limit_is_one_to_a_hundred() {
        let limit = |v: Option<&str>| MatchParams { limit: v.map(str::to_string) }.limit();
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some("1")).unwrap(), 1);
        assert_eq!(limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "abc", "", "2.5"] {
            let error = limit(Some(bad)).unwrap_err();
            assert_eq!(error.errors()[0].field, "limit", "{bad}");
        }
    }
}

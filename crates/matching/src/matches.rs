//! `GET /api/v1/demands/{id}/matches` and `GET /api/v1/listings/{id}/matches`
//! (API.md, "Matching"): published items of the other kind, best first,
//! each with its score and the reasons for it.

use std::cmp::Ordering;

use axum::extract::{Extension, State};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use techtrade_db::listings::{self as db, Demand, Listing};
use techtrade_domain::matching::{self, Reason, Scored};
use techtrade_listings::access;
use techtrade_listings::views::{DemandResponse, ListingResponse};
use techtrade_search::{DocType, SharedIndex};
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

/// The best `limit` of the candidate rows by `value` (their score, given
/// each candidate's text relevance): best first, among equals the newer
/// publication, then the id, so that the order is the same on every call.
/// Each comes with its text relevance, for its reasons to be written.
/// Rows no longer published are dropped: the index may lag the database
/// by a moment, and the row decides.
fn best<R: Row>(
    rows: Vec<R>,
    found: &[Candidate],
    limit: usize,
    value: impl Fn(&R, f64) -> Option<f64>,
) -> Vec<(R, f64)> {
    let mut valued: Vec<(R, f64, f64)> = rows
        .into_iter()
        .filter(|row| row.status() == "published")
        .filter_map(|row| {
            let relevance = found.iter().find(|c| c.id == row.id())?.relevance;
            let value = value(&row, relevance)?;
            Some((row, relevance, value))
        })
        .collect();
    valued.sort_by(|(a, _, x), (b, _, y)| {
        y.partial_cmp(x)
            .unwrap_or(Ordering::Equal)
            .then_with(|| b.published_at().cmp(&a.published_at()))
            .then_with(|| a.id().cmp(b.id()))
    });
    valued.truncate(limit);
    valued.into_iter().map(|(row, relevance, _)| (row, relevance)).collect()
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
    let settings = *settings;
    let need = sides::need(&demand).ok_or_else(|| ApiError::internal(format!("demand {} is unreadable", demand.id)))?;
    let subclasses = sides::subclasses(&need.ipc);
    let found = candidates::find(
        index.as_ref(),
        DocType::Listing,
        &sides::demand_words(&demand),
        &subclasses,
        settings.candidate_pool,
    )
    .await?;
    let items = state
        .db
        .run(move |conn| {
            let ids: Vec<String> = found.iter().map(|c| c.id.clone()).collect();
            let rows = db::find_listings(conn, &ids)?;
            let weights = &settings.weights;
            let value = |listing: &Listing, relevance| {
                Some(matching::score_value(&sides::offer(listing)?, &need, relevance, weights))
            };
            // The reasons are written for the rows shown only.
            let (rows, results): (Vec<Listing>, Vec<Scored>) = best(rows, &found, limit, value)
                .into_iter()
                .filter_map(|(listing, relevance)| {
                    let scored = matching::score(&sides::offer(&listing)?, &need, relevance, weights);
                    Some((listing, scored))
                })
                .unzip();
            let views = access::listing_views(conn, rows)?;
            Ok::<_, ApiError>(
                views
                    .into_iter()
                    .zip(results)
                    .map(|(listing, s)| ListingMatch { listing, score: s.score, reasons: s.reasons })
                    .collect(),
            )
        })
        .await?;
    Ok(items)
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
    let settings = *settings;
    let offer =
        sides::offer(&listing).ok_or_else(|| ApiError::internal(format!("listing {} is unreadable", listing.id)))?;
    let subclasses = sides::subclasses(&offer.ipc);
    let found = candidates::find(
        index.as_ref(),
        DocType::Demand,
        &sides::listing_words(&listing),
        &subclasses,
        settings.candidate_pool,
    )
    .await?;
    let items = state
        .db
        .run(move |conn| {
            let ids: Vec<String> = found.iter().map(|c| c.id.clone()).collect();
            let rows = db::find_demands(conn, &ids)?;
            let weights = &settings.weights;
            let value = |demand: &Demand, relevance| {
                Some(matching::score_value(&offer, &sides::need(demand)?, relevance, weights))
            };
            // The reasons are written for the rows shown only.
            let (rows, results): (Vec<Demand>, Vec<Scored>) = best(rows, &found, limit, value)
                .into_iter()
                .filter_map(|(demand, relevance)| {
                    let scored = matching::score(&offer, &sides::need(&demand)?, relevance, weights);
                    Some((demand, scored))
                })
                .unzip();
            let views = access::demand_views(conn, rows)?;
            Ok::<_, ApiError>(
                views
                    .into_iter()
                    .zip(results)
                    .map(|(demand, s)| DemandMatch { demand, score: s.score, reasons: s.reasons })
                    .collect(),
            )
        })
        .await?;
    Ok(items)
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
        let value = |_: &Fake, relevance: f64| Some(relevance);
        let chosen = best(rows, &found, 3, value);
        let ids: Vec<&str> = chosen.iter().map(|(r, _)| r.id).collect();
        assert_eq!(ids, ["top", "b-twin", "new"]);
        assert_eq!(chosen.iter().map(|(_, relevance)| *relevance).collect::<Vec<_>>(), [1.0, 0.5, 0.5]);
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

//! `GET /api/v1/search` and `GET /api/v1/search/suggest` (API.md, "Search").

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Extension;
use serde::{Deserialize, Serialize};
use techtrade_domain::ipc::IpcError;
use techtrade_domain::{IpcCode, LegalStatus, ListingKind, Maturity, PatentType, TradeMode};
use techtrade_web::{ApiError, ApiResult, AppState, ErrorCode, Json, Query};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::index::{SearchError, SearchIndex};
use crate::model::{DocType, Highlight, SearchHit, SearchQuery, Sort};

/// The search index, shared by the handlers (an `Extension` on the app).
pub type SharedIndex = Arc<dyn SearchIndex>;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search)).routes(routes!(suggest))
}

/// The parameters of a search, as the query string gives them (and as a
/// saved search stores them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Free text, Chinese or English; patent numbers are found exactly.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// `listing` or `demand`; both when absent.
    #[serde(rename = "type")]
    pub doc_type: Option<DocType>,
    pub kind: Option<ListingKind>,
    /// IPC prefix: section `G`, class `G06`, subclass `G06F`, group `G06F16/00` or `G06F16/33`.
    #[param(pattern = r"^[A-Ha-h]([0-9]{2}([A-Za-z]([0-9]{1,4}/[0-9]{2,6})?)?)?$")]
    pub ipc: Option<String>,
    /// Region prefix: province `63`, prefecture `6301` or county `630102`.
    #[param(pattern = r"^([0-9]{2}|[0-9]{4}|[0-9]{6})$")]
    pub region: Option<String>,
    pub trade_mode: Option<TradeMode>,
    pub maturity: Option<Maturity>,
    pub patent_type: Option<PatentType>,
    pub legal_status: Option<LegalStatus>,
    /// A range above `price_max_fen` matches nothing.
    #[param(minimum = 0)]
    pub price_min_fen: Option<i64>,
    #[param(minimum = 0)]
    pub price_max_fen: Option<i64>,
    /// With a price range, also keep negotiable (面议) items that name no price.
    #[serde(default)]
    pub include_negotiable: bool,
    /// relevance (default) | newest | price_asc | price_desc
    pub sort: Option<Sort>,
    /// 1-based page number. Only the first 10,000 results can be paged
    /// to: a page beyond them is empty (narrow the query instead).
    #[param(minimum = 1, maximum = 1_000_000, default = 1)]
    pub page: Option<u32>,
    /// Items per page, at most 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchItem {
    pub id: String,
    #[serde(rename = "type")]
    pub doc_type: DocType,
    pub kind: Option<String>,
    pub title: String,
    pub summary: String,
    /// Title and summary with matched words in `<em>`, HTML-escaped.
    pub highlight: Highlight,
    pub score: f32,
    pub ipc: Vec<String>,
    pub region_code: String,
    pub trade_modes: Vec<String>,
    pub maturity: Option<String>,
    pub patent_types: Vec<String>,
    pub legal_statuses: Vec<String>,
    /// A listing's price or a demand's budget ceiling.
    pub price_fen: Option<i64>,
    pub negotiable: bool,
    pub owner_organization_id: String,
    pub published_at: chrono::DateTime<chrono::Utc>,
}

impl From<SearchHit> for SearchItem {
    fn from(hit: SearchHit) -> Self {
        let d = hit.document;
        Self {
            published_at: chrono::DateTime::from_timestamp_millis(d.published_at).unwrap_or_default(),
            id: d.id,
            doc_type: d.doc_type,
            kind: d.kind,
            title: d.title,
            summary: d.summary,
            highlight: hit.highlight,
            score: hit.score,
            ipc: d.ipc,
            region_code: d.region_code,
            trade_modes: d.trade_modes,
            maturity: d.maturity,
            patent_types: d.patent_types,
            legal_statuses: d.legal_statuses,
            price_fen: d.price_fen,
            negotiable: d.negotiable,
            owner_organization_id: d.owner_organization_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub items: Vec<SearchItem>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    /// ipc_section, ipc_class, ipc_subclass, region, trade_mode, maturity,
    /// patent_type → value → number of matching items.
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
}

/// How deep search results may be paged (offset + page size). A search
/// engine collects `offset + limit` hits before it skips to the page, so an
/// unbounded page number let one anonymous request allocate without limit
/// (a terabyte, aborting the process, at page 2^31). Like Meilisearch's
/// `maxTotalHits`: results past the window are not returned (a page beyond
/// it is empty, with the total and facets still counted); deeper pages need
/// a narrower query.
pub const MAX_RESULT_WINDOW: i64 = 10_000;

fn bad_param(field: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, format!("{field}: {message}")).with_field(field, "invalid_value", message)
}

/// `G`, `G06`, `G06F` or a group, in canonical form.
fn ipc_prefix(input: &str) -> Result<String, ApiError> {
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let b = compact.as_bytes();
    let section = |c: u8| (b'A'..=b'H').contains(&c);
    let ok = match b.len() {
        1 => section(b[0]),
        3 => section(b[0]) && b[1].is_ascii_digit() && b[2].is_ascii_digit(),
        _ => false,
    };
    if ok {
        return Ok(compact);
    }
    // A well-formed code the scheme lacks is a filter that matches nothing.
    match IpcCode::parse(&compact) {
        Ok(code) => Ok(code.to_string()),
        Err(IpcError::UnknownSubclass(code) | IpcError::UnknownGroup(code)) => Ok(code),
        Err(error) => Err(bad_param("ipc", &error.to_string())),
    }
}

fn region_prefix(input: &str) -> Result<String, ApiError> {
    let value = input.trim();
    if matches!(value.len(), 2 | 4 | 6) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_string())
    } else {
        Err(bad_param("region", "a region prefix is 2, 4 or 6 digits (63, 6301, 630102)"))
    }
}

impl SearchParams {
    /// The checked query with its page and page size; 400 `invalid_query`
    /// naming the parameter otherwise.
    pub fn into_query(self) -> Result<(SearchQuery, u32, u32), ApiError> {
        let page = techtrade_web::PageQuery { page: self.page, per_page: self.per_page }.validate()?;
        // Within the window; a page past it asks for no hits at all.
        let offset = page.offset().min(MAX_RESULT_WINDOW);
        let limit = page.limit().min(MAX_RESULT_WINDOW - offset);
        for (field, value) in [("price_min_fen", self.price_min_fen), ("price_max_fen", self.price_max_fen)] {
            if value.is_some_and(|v| v < 0) {
                return Err(bad_param(field, "an amount cannot be negative"));
            }
        }
        let text = self.q.map(|q| q.trim().to_string()).filter(|q| !q.is_empty());
        if text.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(bad_param("q", "at most 200 characters"));
        }
        let query = SearchQuery {
            text,
            any_word: false,
            id: None,
            doc_type: self.doc_type,
            kind: self.kind.map(|k| k.as_str().to_string()),
            ipc_prefix: self.ipc.as_deref().map(ipc_prefix).transpose()?,
            region_prefix: self.region.as_deref().map(region_prefix).transpose()?,
            trade_mode: self.trade_mode.map(|m| m.as_str().to_string()),
            maturity: self.maturity.map(|m| m.as_str().to_string()),
            patent_type: self.patent_type.map(|t| t.as_str().to_string()),
            legal_status: self.legal_status.map(|s| s.as_str().to_string()),
            price_min_fen: self.price_min_fen,
            price_max_fen: self.price_max_fen,
            include_negotiable: self.include_negotiable,
            sort: self.sort.unwrap_or_default(),
            offset: usize::try_from(offset).unwrap_or_default(),
            limit: usize::try_from(limit).unwrap_or_default(),
        };
        Ok((query, page.page, page.per_page))
    }
}

/// A search failure as the API reports it: 503 when the backend is out of
/// reach, otherwise an internal error.
pub fn search_error(error: SearchError) -> ApiError {
    match error {
        SearchError::Unavailable(message) => {
            tracing::error!(%message, "search backend unavailable");
            ApiError::new(ErrorCode::Unavailable, "search is unavailable; try again shortly").retry_after(5)
        }
        SearchError::Index(message) => ApiError::internal(message),
    }
}

/// Full-text and faceted search over published listings and demands.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchResponse), (status = 400, body = techtrade_web::error::Problem)))]
async fn search(
    Extension(index): Extension<SharedIndex>,
    Query(params): Query<SearchParams>,
) -> ApiResult<Json<SearchResponse>> {
    Ok(Json(run_search(index.as_ref(), params).await?))
}

/// A search as the API answers it (and the web front shows it): the
/// parameters checked, the page of hits with their highlights, the facets.
pub async fn run_search(index: &dyn SearchIndex, params: SearchParams) -> ApiResult<SearchResponse> {
    let (query, page, per_page) = params.into_query()?;
    let results = index.search(&query).await.map_err(search_error)?;
    Ok(SearchResponse {
        items: results.hits.into_iter().map(SearchItem::from).collect(),
        total: results.total,
        page,
        per_page,
        facets: results.facets,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// What has been typed so far; nothing suggests nothing.
    #[serde(default)]
    #[param(max_length = 100)]
    pub q: String,
    /// How many titles, 1 to 20.
    #[param(minimum = 1, maximum = 20, default = 10)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestResponse {
    pub items: Vec<String>,
}

/// Completes titles of published listings and demands.
#[utoipa::path(get, path = "/api/v1/search/suggest", tag = "search", params(SuggestParams),
    responses((status = 200, body = SuggestResponse), (status = 400, body = techtrade_web::error::Problem)))]
async fn suggest(
    Extension(index): Extension<SharedIndex>,
    Query(params): Query<SuggestParams>,
) -> ApiResult<Json<SuggestResponse>> {
    let limit = params.limit.unwrap_or(10);
    if limit == 0 || limit > 20 {
        return Err(bad_param("limit", "between 1 and 20"));
    }
    if params.q.chars().count() > 100 {
        return Err(bad_param("q", "at most 100 characters"));
    }
    let items = index.suggest(&params.q, limit).await.map_err(search_error)?;
    Ok(Json(SuggestResponse { items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipc_prefixes_at_every_level() {
        assert_eq!(ipc_prefix("g").unwrap(), "G");
        assert_eq!(ipc_prefix("G06").unwrap(), "G06");
        assert_eq!(ipc_prefix("G06F").unwrap(), "G06F");
        assert_eq!(ipc_prefix("G06F 16/33").unwrap(), "G06F16/33");
        for bad in ["Z", "G6", "锂", "G06F16"] {
            assert_eq!(ipc_prefix(bad).unwrap_err().errors()[0].field, "ipc", "{bad}");
        }
        // Well formed but not in the scheme: a filter that matches nothing.
        assert_eq!(ipc_prefix("G06Z").unwrap(), "G06Z");
        assert_eq!(ipc_prefix("G06F999/99").unwrap(), "G06F999/99");
        assert_eq!(region_prefix("63").unwrap(), "63");
        assert!(region_prefix("630").is_err() && region_prefix("6a").is_err());
    }

    fn paged(page: u32, per_page: u32) -> (usize, usize) {
        let params = SearchParams { page: Some(page), per_page: Some(per_page), ..SearchParams::default() };
        let (query, _, _) = params.into_query().unwrap();
        (query.offset, query.limit)
    }

    #[test]
    fn pages_reach_the_first_ten_thousand_results_and_no_further() {
        assert_eq!(paged(1, 20), (0, 20));
        assert_eq!(paged(100, 100), (9_900, 100));
        assert_eq!(paged(334, 30), (9_990, 10), "the page across the edge is cut at it");
        assert_eq!(paged(101, 100), (10_000, 0), "past the edge: no hits asked for");
        assert_eq!(paged(1_000_000, 100), (10_000, 0));
    }

    #[test]
    fn a_reversed_price_range_is_accepted() {
        let params = SearchParams { price_min_fen: Some(10), price_max_fen: Some(5), ..SearchParams::default() };
        let (query, _, _) = params.into_query().unwrap();
        assert_eq!((query.price_min_fen, query.price_max_fen), (Some(10), Some(5)));
    }
}

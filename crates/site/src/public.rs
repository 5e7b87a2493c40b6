//! The public market: the front page, search, and the pages of a listing
//! and a demand. Everything here is what the JSON API shows anyone.

use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, NaiveDate, TimeZone};
use techtrade_listings::ListQuery;
use techtrade_listings::views::{DemandResponse, ListingResponse};
use techtrade_search::{SearchItem, SearchParams, SharedIndex};
use techtrade_web::{ApiError, AppState};

use crate::format;
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;

// ---- the front page ---------------------------------------------------------

/// The market's figures as the front page shows them.
struct Figures {
    listings: i64,
    demands: i64,
    contracts: i64,
    amount_fen: i64,
    year: i32,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    listings: Vec<ListingResponse>,
    demands: Vec<DemandResponse>,
    figures: Figures,
    notices: Vec<techtrade_subsidy::views::RoundView>,
}

/// The first instant of the market's current year, in stored (UTC) time.
fn start_of_year() -> (i32, chrono::NaiveDateTime) {
    let year = techtrade_db::today().year();
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default();
    let start = techtrade_db::market_offset()
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map_or_else(|| first.and_hms_opt(0, 0, 0).unwrap_or_default(), |at| at.naive_utc());
    (year, start)
}

const NEWEST: u32 = 6;

/// How many subsidy notices the front page shows.
const NOTICES: u32 = 3;

pub async fn home(
    State(state): State<AppState>,
    Extension(programs): Extension<techtrade_subsidy::Programs>,
    visitor: Visitor,
) -> Response {
    let newest = || ListQuery { per_page: Some(NEWEST), ..ListQuery::default() };
    let listings = techtrade_listings::service::listings(state.clone(), None, newest());
    let demands = techtrade_listings::service::demands(state.clone(), None, newest());
    let (year, since) = start_of_year();
    let figures =
        state.db.run(move |conn| techtrade_db::statistics::market_figures(conn, since).map_err(ApiError::from));
    let notice_page = techtrade_web::PageQuery { page: None, per_page: Some(NOTICES) };
    let notices =
        techtrade_subsidy::rounds(&state, programs, techtrade_subsidy::ListRoundsQuery::default(), notice_page);
    let (listings, demands, figures, notices) = match tokio::try_join!(listings, demands, figures, notices) {
        Ok(found) => found,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let figures = Figures {
        listings: figures.published_listings,
        demands: figures.published_demands,
        contracts: figures.registered_contracts,
        amount_fen: figures.registered_amount_fen,
        year,
    };
    let page = HomePage {
        ctx: Ctx::new(&visitor),
        listings: listings.items,
        demands: demands.items,
        figures,
        notices: notices.items,
    };
    page::render(&visitor, StatusCode::OK, &page)
}

// ---- search -----------------------------------------------------------------

/// One value of a facet, as a link that adds it as a filter.
struct FacetLink {
    value: String,
    label: String,
    count: u64,
    href: String,
}

struct FacetGroup {
    /// The facet's name in the index (`ipc_subclass`).
    name: &'static str,
    links: Vec<FacetLink>,
}

/// A filter in force, as a link that removes it.
struct ActiveFilter {
    param: &'static str,
    label: String,
    href: String,
}

struct PageLink {
    number: u32,
    href: String,
    current: bool,
}

/// One hit as the results list shows it.
struct ResultRow {
    href: String,
    /// `listing` or `demand`.
    doc_type: &'static str,
    /// Title and summary with the matched words in `<mark>`, escaped.
    title_html: String,
    summary_html: String,
    region_code: String,
    price_fen: Option<i64>,
    ipc: Vec<String>,
}

impl From<SearchItem> for ResultRow {
    fn from(item: SearchItem) -> Self {
        let doc_type = item.doc_type.as_str();
        Self {
            href: format!("/{doc_type}s/{}", item.id),
            doc_type,
            title_html: marked(&item.highlight.title),
            summary_html: marked(&item.highlight.summary),
            region_code: item.region_code,
            price_fen: item.price_fen,
            ipc: item.ipc.into_iter().take(3).collect(),
        }
    }
}

/// What the search page shows, full or as the fragment htmx swaps in.
struct SearchView {
    q: String,
    doc_type: String,
    sort: String,
    hits: Vec<ResultRow>,
    total: u64,
    groups: Vec<FacetGroup>,
    active: Vec<ActiveFilter>,
    /// Hidden inputs that keep the filters when the form is sent again.
    kept: Vec<(&'static str, String)>,
    pages: Vec<PageLink>,
    errors: FormErrors,
    sorts: [&'static str; 4],
    types: [&'static str; 2],
    /// The same words with no filter.
    without_filters: String,
    /// Searches to try when nothing was found: (words, link).
    examples: Vec<(String, String)>,
    /// The search's query string, for "save this search".
    query: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    ctx: Ctx,
    view: SearchView,
}

#[derive(Template)]
#[template(path = "search.html", block = "results")]
struct SearchFragment {
    ctx: Ctx,
    view: SearchView,
}

/// The facets the page offers, with the query parameter each one sets and
/// how many of its values are shown.
const FACETS: [(&str, &str, usize); 5] = [
    ("ipc_subclass", "ipc", 12),
    ("region", "region", 12),
    ("trade_mode", "trade_mode", 10),
    ("maturity", "maturity", 10),
    ("patent_type", "patent_type", 10),
];

/// The filters a search can hold, as query parameters.
pub const FILTERS: [&str; 9] = [
    "type",
    "ipc",
    "region",
    "trade_mode",
    "maturity",
    "patent_type",
    "legal_status",
    "price_min_fen",
    "price_max_fen",
];

/// `<em>` from the search service becomes `<mark>`: the text is already
/// escaped there, and these are the only tags it holds.
pub fn marked(highlight: &str) -> String {
    highlight.replace("<em>", "<mark>").replace("</em>", "</mark>")
}

/// How much of an IPC title a facet shows (the whole one is on the
/// listing's page).
const FACET_TITLE_CHARS: usize = 14;

/// A filter's value as people read it: an IPC code with its title, a
/// region by name, a trade mode in words.
pub fn filter_label(ctx: &Ctx, facet: &str, value: &str) -> String {
    match facet {
        "ipc_subclass" | "ipc" => format::ipc_title(value, FACET_TITLE_CHARS),
        "region" => ctx.region(value),
        "trade_mode" => ctx.label("trade-mode", value),
        "maturity" => ctx.label("maturity", value),
        "patent_type" => ctx.label("patent-type", value),
        "legal_status" => ctx.label("legal-status", value),
        "type" => ctx.label("doc-type", value),
        "kind" => ctx.label("listing-kind", value),
        "include_negotiable" => ctx.t("include-negotiable"),
        "price_min_fen" => format!("≥ {}", value.parse::<i64>().map_or(value.to_string(), |fen| ctx.yuan(fen))),
        "price_max_fen" => format!("≤ {}", value.parse::<i64>().map_or(value.to_string(), |fen| ctx.yuan(fen))),
        _ => value.to_string(),
    }
}

const PAGE_SPAN: u32 = 4;

fn page_links(path: &str, page: u32, per_page: u32, total: u64) -> Vec<PageLink> {
    let window = u64::try_from(techtrade_search::MAX_RESULT_WINDOW).unwrap_or(u64::MAX);
    let reachable = total.min(window);
    let last = u32::try_from(reachable.div_ceil(u64::from(per_page.max(1)))).unwrap_or(u32::MAX);
    if last <= 1 {
        return Vec::new();
    }
    let first = page.saturating_sub(PAGE_SPAN).max(1);
    let end = page.saturating_add(PAGE_SPAN).min(last);
    (first..=end)
        .map(|number| PageLink {
            number,
            href: format::with_param(path, "page", Some(&number.to_string())),
            current: number == page,
        })
        .collect()
}

pub async fn search(Extension(index): Extension<SharedIndex>, visitor: Visitor) -> Response {
    let ctx = Ctx::new(&visitor);
    let query = visitor.path.split_once('?').map_or("", |(_, q)| q);
    let given = |name: &str| {
        form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.into_owned())
    };
    let mut view = SearchView {
        q: given("q").unwrap_or_default(),
        doc_type: given("type").unwrap_or_default(),
        sort: given("sort").unwrap_or_default(),
        hits: Vec::new(),
        total: 0,
        groups: Vec::new(),
        active: Vec::new(),
        kept: Vec::new(),
        pages: Vec::new(),
        errors: FormErrors::default(),
        sorts: ["relevance", "newest", "price_asc", "price_desc"],
        types: ["listing", "demand"],
        without_filters: String::new(),
        examples: Vec::new(),
        query: query.to_string(),
    };
    view.without_filters =
        format::with_param("/search", "q", Some(&view.q).filter(|q| !q.is_empty()).map(String::as_str));
    for param in FILTERS {
        if let Some(value) = given(param) {
            view.active.push(ActiveFilter {
                param,
                label: filter_label(&ctx, param, &value),
                href: format::with_param(&visitor.path, param, None),
            });
            if param != "type" {
                view.kept.push((param, value));
            }
        }
    }
    let results = match techtrade_web::parse_query::<SearchParams>(query) {
        Ok(params) => techtrade_search::run_search(index.as_ref(), params).await,
        Err(error) => Err(error),
    };
    let status = match results {
        Ok(results) => {
            view.total = results.total;
            view.pages = page_links(&visitor.path, results.page, results.per_page, results.total);
            for (facet, param, shown) in FACETS {
                let Some(values) = results.facets.get(facet) else { continue };
                let mut values: Vec<(&String, &u64)> = values.iter().collect();
                values.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let links = values
                    .into_iter()
                    .take(shown)
                    .map(|(value, count)| FacetLink {
                        value: value.clone(),
                        label: filter_label(&ctx, facet, value),
                        count: *count,
                        href: format::with_param(&visitor.path, param, Some(value)),
                    })
                    .collect::<Vec<_>>();
                if !links.is_empty() {
                    view.groups.push(FacetGroup { name: facet, links });
                }
            }
            view.hits = results.items.into_iter().map(ResultRow::from).collect();
            if view.hits.is_empty() {
                view.examples = ["example-query-1", "example-query-2", "example-query-3"]
                    .into_iter()
                    .map(|key| {
                        let words = ctx.t(key);
                        let href = format::with_param("/search", "q", Some(&words));
                        (words, href)
                    })
                    .collect();
            }
            StatusCode::OK
        }
        Err(error) => {
            let status = error.code().status();
            if status.is_server_error() {
                return page::error_page(&visitor, &error);
            }
            view.errors = FormErrors::from_error(visitor.lang, &error);
            status
        }
    };
    if visitor.htmx {
        page::render(&visitor, status, &SearchFragment { ctx, view })
    } else {
        page::render(&visitor, status, &SearchPage { ctx, view })
    }
}

#[derive(Template)]
#[template(path = "suggestions.html")]
struct Suggestions {
    items: Vec<String>,
}

#[derive(serde::Deserialize)]
pub struct SuggestQuery {
    #[serde(default)]
    q: String,
}

/// `GET /search/suggest?q=`: titles completing what is typed, as the
/// `<option>`s of the search box's `<datalist>` (htmx swaps them in).
pub async fn suggest(
    Extension(index): Extension<SharedIndex>,
    visitor: Visitor,
    axum::extract::Query(query): axum::extract::Query<SuggestQuery>,
) -> Response {
    let typed: String = query.q.trim().chars().take(100).collect();
    let items = if typed.is_empty() { Ok(Vec::new()) } else { index.suggest(&typed, 8).await };
    let items = items.unwrap_or_else(|error| {
        // Suggestions are a convenience: the search itself reports an outage.
        tracing::warn!(%error, "suggestions unavailable");
        Vec::new()
    });
    page::render(&visitor, StatusCode::OK, &Suggestions { items })
}

// ---- a listing and a demand -------------------------------------------------

/// The levels of an IPC code, each with its title: `H 电学 › H01 … › H01M 电池`.
struct IpcEntry {
    code: String,
    levels: Vec<(String, String)>,
}

fn ipc_entry(code: &str) -> IpcEntry {
    let scheme = techtrade_domain::ipc::IpcScheme::get();
    let levels = [1, 3, 4]
        .into_iter()
        .filter_map(|n| code.get(..n))
        .map(|prefix| (prefix.to_string(), scheme.title(prefix).unwrap_or_default().to_string()))
        .collect();
    IpcEntry { code: code.to_string(), levels }
}

/// The owner as the page names it.
struct Owner {
    name: String,
    region_code: String,
}

async fn owner(state: &AppState, id: &str) -> Result<Owner, ApiError> {
    let organization = techtrade_accounts::organization(state, id.to_string()).await?;
    Ok(Owner { name: organization.name, region_code: organization.region_code })
}

/// A ranked match as a page lists it.
struct MatchRow {
    href: String,
    title: String,
    /// 0 to 100.
    percent: u32,
    /// (factor, what it found), for the factors that found something.
    reasons: Vec<(&'static str, String)>,
}

/// How many matches a listing's or demand's page shows.
const MATCHES: usize = 5;

fn match_row(href: String, title: String, score: f64, reasons: Vec<techtrade_domain::matching::Reason>) -> MatchRow {
    // A score is in 0..=1; shown as a whole percentage.
    let percent = (score.clamp(0.0, 1.0) * 100.0).round();
    MatchRow {
        href,
        title,
        percent: format!("{percent:.0}").parse().unwrap_or_default(),
        reasons: reasons.into_iter().filter(|r| r.value > 0.0).map(|r| (r.factor.as_str(), r.detail)).collect(),
    }
}

/// The ranked matches of a published item, for a signed-in visitor (the
/// public sees none): `find` asks the matching service, `row` shows one.
async fn matches_for<T, Fut>(
    visitor: &Visitor,
    published: bool,
    find: impl FnOnce(Option<techtrade_web::CurrentUser>) -> Fut,
    row: impl Fn(T) -> MatchRow,
) -> Result<Vec<MatchRow>, Response>
where
    Fut: Future<Output = techtrade_web::ApiResult<Vec<T>>>,
{
    if visitor.user.is_none() || !published {
        return Ok(Vec::new());
    }
    match find(visitor.user.clone()).await {
        Ok(found) => Ok(found.into_iter().map(row).collect()),
        Err(error) => Err(page::error_page(visitor, &error)),
    }
}

#[derive(Template)]
#[template(path = "listing.html")]
struct ListingPage {
    ctx: Ctx,
    listing: ListingResponse,
    owner: Owner,
    ipc: Vec<IpcEntry>,
    /// A signed-in member of another organisation may make an offer on a
    /// published listing.
    may_offer: bool,
    /// Demands this listing answers, for a signed-in visitor.
    matches: Vec<MatchRow>,
}

pub async fn listing(
    State(state): State<AppState>,
    Extension(index): Extension<SharedIndex>,
    Extension(matching): Extension<techtrade_matching::MatchingSettings>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let found = techtrade_listings::service::listing(state.clone(), visitor.user.clone(), id).await;
    let listing = match found {
        Ok(listing) => listing,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let owner = match owner(&state, &listing.owner_organization_id).await {
        Ok(owner) => owner,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let ipc = listing.ipc.iter().map(|code| ipc_entry(code)).collect();
    let may_offer = listing.status == "published"
        && visitor
            .user
            .as_ref()
            .is_some_and(|u| u.organization_id.is_some() && !u.is_member_of(&listing.owner_organization_id));
    let find = |viewer| {
        techtrade_matching::demands_for_listing(&state, &index, &matching, viewer, listing.id.clone(), MATCHES)
    };
    let row = |m: techtrade_matching::DemandMatch| {
        match_row(format!("/demands/{}", m.demand.id), m.demand.title, m.score, m.reasons)
    };
    let matches = match matches_for(&visitor, listing.status == "published", find, row).await {
        Ok(matches) => matches,
        Err(response) => return response,
    };
    let page = ListingPage { ctx: Ctx::new(&visitor), listing, owner, ipc, may_offer, matches };
    page::render(&visitor, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "demand.html")]
struct DemandPage {
    ctx: Ctx,
    demand: DemandResponse,
    owner: Owner,
    ipc: Vec<IpcEntry>,
    /// Listings that answer this demand, for a signed-in visitor.
    matches: Vec<MatchRow>,
}

pub async fn demand(
    State(state): State<AppState>,
    Extension(index): Extension<SharedIndex>,
    Extension(matching): Extension<techtrade_matching::MatchingSettings>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let found = techtrade_listings::service::demand(state.clone(), visitor.user.clone(), id).await;
    let demand = match found {
        Ok(demand) => demand,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let owner = match owner(&state, &demand.owner_organization_id).await {
        Ok(owner) => owner,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let ipc = demand.ipc.iter().map(|code| ipc_entry(code)).collect();
    let find =
        |viewer| techtrade_matching::listings_for_demand(&state, &index, &matching, viewer, demand.id.clone(), MATCHES);
    let row = |m: techtrade_matching::ListingMatch| {
        match_row(format!("/listings/{}", m.listing.id), m.listing.title, m.score, m.reasons)
    };
    let matches = match matches_for(&visitor, demand.status == "published", find, row).await {
        Ok(matches) => matches,
        Err(response) => return response,
    };
    page::render(&visitor, StatusCode::OK, &DemandPage { ctx: Ctx::new(&visitor), demand, owner, ipc, matches })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_stay_within_the_result_window() {
        let links = page_links("/search?q=a", 1, 20, 45);
        assert_eq!(links.iter().map(|l| l.number).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(links[0].current && links[1].href.ends_with("page=2"));
        assert!(page_links("/search", 1, 20, 20).is_empty(), "one page needs no links");
        let deep = page_links("/search", 500, 20, 1_000_000);
        assert_eq!(deep.last().unwrap().number, 500, "10,000 results at 20 a page end at page 500");
    }

    #[test]
    fn highlights_become_marks() {
        assert_eq!(marked("&lt;b&gt;<em>锂电池</em>"), "&lt;b&gt;<mark>锂电池</mark>");
    }

    #[test]
    fn ipc_entries_name_every_level() {
        let entry = ipc_entry("H01M10/052");
        let codes: Vec<&str> = entry.levels.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(codes, ["H", "H01", "H01M"]);
        assert!(entry.levels.iter().all(|(_, title)| !title.is_empty()));
    }
}

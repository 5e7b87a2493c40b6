//! The routes of listings and demands (API.md, "Listings and demands"),
//! each a thin wrapper over one generic operation on [`Item`].

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use techtrade_db::listings::{Demand, ListFilter, Listing};
use techtrade_domain::{ListingKind, ListingStatus, Transition};
use techtrade_web::pagination::PageRequest;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Page, Path, Query, RequestId};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::items::{self, Actor, Event, Item};
use crate::reads;
use crate::requests::{DemandRequest, ListingRequest};
use crate::views::{DemandResponse, ListingResponse};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_listing, list_listings))
        .routes(routes!(get_listing, update_listing))
        .routes(routes!(submit_listing))
        .routes(routes!(review_listing))
        .routes(routes!(withdraw_listing))
        .routes(routes!(create_demand, list_demands))
        .routes(routes!(get_demand, update_demand))
        .routes(routes!(submit_demand))
        .routes(routes!(review_demand))
        .routes(routes!(withdraw_demand))
}

type Problem = techtrade_web::error::Problem;

/// An item with its version as the ETag, for `If-Match` on the next PATCH.
struct Versioned<T>(StatusCode, i64, T);

impl<T: serde::Serialize> IntoResponse for Versioned<T> {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(self.2)).into_response();
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", self.1)) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        response
    }
}

trait HasVersion {
    fn version(&self) -> i64;
}

impl HasVersion for ListingResponse {
    fn version(&self) -> i64 {
        self.version
    }
}

impl HasVersion for DemandResponse {
    fn version(&self) -> i64 {
        self.version
    }
}

fn versioned<T: HasVersion>(status: StatusCode, body: T) -> Versioned<T> {
    Versioned(status, body.version(), body)
}

// ---- generic operations -------------------------------------------------

pub(crate) async fn create<I: Item>(
    state: AppState,
    user: CurrentUser,
    request_id: Option<String>,
    request: I::Request,
) -> ApiResult<I::Response> {
    user.organization()?;
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let item = I::create(conn, request, &user)?;
                let event = Event {
                    id: item.id().to_string(),
                    owner: item.owner().to_string(),
                    title: item.title().to_string(),
                    reason: None,
                    action: "create",
                    name: "created",
                    from: None,
                    to: item.status(),
                };
                let response = I::respond_one(conn, item)?;
                let after = serde_json::to_value(&response).map_err(ApiError::internal)?;
                let actor = Actor { user_id: Some(&user.user_id), request_id: request_id.as_deref() };
                items::record::<I>(conn, actor, event, None, after)?;
                Ok(response)
            })
        })
        .await
}

/// The version an `If-Match` header asks for, if any.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::new(ErrorCode::PreconditionFailed, "If-Match must be the item's version, e.g. \"3\""))
}

/// RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(Default::default());
    }
    if let serde_json::Value::Object(object) = target {
        for (key, value) in patch {
            if value.is_null() {
                object.insert(key.clone(), serde_json::Value::Null);
            } else {
                merge_patch(object.entry(key.clone()).or_insert(serde_json::Value::Null), value);
            }
        }
    }
}

pub(crate) async fn update<I: Item>(
    state: AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    expected: Option<i64>,
    patch: serde_json::Value,
) -> ApiResult<I::Response> {
    if !patch.is_object() {
        return Err(ApiError::invalid_field(
            "body",
            "invalid_type",
            "a PATCH body is a JSON object of the fields to change",
        ));
    }
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                I::lock(conn, &id)?;
                let mut item = items::load_owned::<I>(conn, &id, &user)?;
                item.check_editable(conn)?;
                if expected.is_some_and(|v| v != item.version()) {
                    return Err(ApiError::new(
                        ErrorCode::PreconditionFailed,
                        format!(
                            "the {} is at version {}, not {}",
                            I::SUBJECT,
                            item.version(),
                            expected.unwrap_or_default()
                        ),
                    ));
                }
                let from = item.status();
                // Refuse before validating: a withdrawn item cannot be edited at all.
                from.apply(Transition::Edit).map_err(|e| ApiError::new(ErrorCode::InvalidState, e.to_string()))?;
                let current = I::respond_one(conn, item.clone())?;
                let before = serde_json::to_value(&current).map_err(ApiError::internal)?;
                let mut merged = I::request_form(&current);
                merge_patch(&mut merged, &patch);
                let bytes = serde_json::to_vec(&merged).map_err(ApiError::internal)?;
                let request: I::Request = techtrade_web::extract::parse_json(&bytes)?;
                item.edit(conn, request)?;
                items::advance(&mut item, Transition::Edit, None, techtrade_db::now())?;
                let actor = Actor { user_id: Some(&user.user_id), request_id: request_id.as_deref() };
                items::save(conn, item, actor, Transition::Edit, from, before)
            })
        })
        .await
}

pub(crate) async fn transition<I: Item>(
    state: AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    transition: Transition,
    reason: Option<String>,
) -> ApiResult<I::Response> {
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let reviewing = matches!(transition, Transition::Approve | Transition::Reject);
                let mut item = if reviewing {
                    let item = items::load_visible::<I>(conn, &id, Some(&user))?;
                    if user.is_member_of(item.owner()) {
                        return Err(ApiError::forbidden(format!(
                            "an official may not review their own organisation's {}",
                            I::SUBJECT
                        )));
                    }
                    item
                } else {
                    items::load_owned::<I>(conn, &id, &user)?
                };
                let from = item.status();
                let before = serde_json::to_value(I::respond_one(conn, item.clone())?).map_err(ApiError::internal)?;
                let now = techtrade_db::now();
                items::advance(&mut item, transition, reason.clone(), now)?;
                if reviewing {
                    items::record_review(conn, &item, &user, transition.as_str(), reason, now)?;
                }
                let actor = Actor { user_id: Some(&user.user_id), request_id: request_id.as_deref() };
                items::save(conn, item, actor, transition, from, before)
            })
        })
        .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewRequest {
    pub decision: Decision,
    /// Required when rejecting; shown to the owner.
    #[serde(default)]
    pub reason: Option<String>,
}

pub(crate) async fn review<I: Item>(
    state: AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    request: ReviewRequest,
) -> ApiResult<I::Response> {
    user.require_official()?;
    let reason = request.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    let step = match request.decision {
        Decision::Approve => Transition::Approve,
        Decision::Reject if reason.is_none() => {
            return Err(ApiError::invalid_field("reason", "required", "say why it is rejected"));
        }
        Decision::Reject => Transition::Reject,
    };
    if reason.as_ref().is_some_and(|r| r.chars().count() > 2000) {
        return Err(ApiError::invalid_field("reason", "too_long", "at most 2000 characters"));
    }
    transition::<I>(state, user, request_id, id, step, reason).await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the caller's organisation's items, in every status.
    #[serde(default)]
    pub mine: bool,
    /// Officials: any status (`pending_review` is the review queue, oldest first).
    /// Others: published (default) or traded.
    pub status: Option<ListingStatus>,
    /// Listings only: patent or achievement.
    pub kind: Option<ListingKind>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1_000_000, default = 1)]
    pub page: Option<u32>,
    /// Items per page, at most 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u32>,
}

fn list_filter(query: &ListQuery, viewer: Option<&CurrentUser>, page: PageRequest) -> Result<ListFilter, ApiError> {
    let mut filter = ListFilter { offset: page.offset(), limit: page.limit(), ..ListFilter::default() };
    filter.kind = query.kind.map(|k| k.as_str().to_string());
    if query.mine {
        let user =
            viewer.ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "mine=true needs a signed-in member"))?;
        filter.owner_organization_id = Some(user.organization()?.to_string());
        filter.statuses = query.status.map(|s| vec![s.as_str().to_string()]).unwrap_or_default();
        return Ok(filter);
    }
    let official = viewer.is_some_and(|u| u.role.is_official());
    let status = query.status.unwrap_or(ListingStatus::Published);
    if !status.is_public() && !official {
        return Err(ApiError::forbidden("only officials may list items that are not public; members use mine=true"));
    }
    filter.queue_order = status == ListingStatus::PendingReview;
    filter.statuses = vec![status.as_str().to_string()];
    Ok(filter)
}

pub(crate) async fn list<I: Item>(
    state: AppState,
    viewer: Option<CurrentUser>,
    query: ListQuery,
) -> ApiResult<Page<I::Response>> {
    let page = techtrade_web::PageQuery { page: query.page, per_page: query.per_page }.validate()?;
    let filter = list_filter(&query, viewer.as_ref(), page)?;
    state
        .db
        .run(move |conn| {
            let (rows, total) = I::list(conn, &filter)?;
            Ok(Page::new(I::respond(conn, rows)?, total, page))
        })
        .await
}

// ---- listings -----------------------------------------------------------

/// Creates a draft listing owned by the caller's organisation.
#[utoipa::path(post, path = "/api/v1/listings", tag = "listings", request_body = ListingRequest,
    security(("bearer" = [])),
    responses((status = 201, body = ListingResponse), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_listing(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<ListingRequest>,
) -> ApiResult<impl IntoResponse> {
    let listing = create::<Listing>(state, user, request_id, request).await?;
    Ok(versioned(StatusCode::CREATED, listing))
}

/// Listings: published ones for everybody; `mine=true` for the caller's own;
/// any status for officials (the review queue is `status=pending_review`).
#[utoipa::path(get, path = "/api/v1/listings", tag = "listings", params(ListQuery),
    responses((status = 200, body = Page<ListingResponse>), (status = 403, body = Problem)))]
async fn list_listings(
    State(state): State<AppState>,
    viewer: Option<CurrentUser>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Page<ListingResponse>>> {
    Ok(Json(list::<Listing>(state, viewer, query).await?))
}

/// A listing: public once published; its owner's members and officials
/// always. `ETag` is the version; `If-None-Match` with it answers 304.
#[utoipa::path(get, path = "/api/v1/listings/{id}", tag = "listings", params(("id" = String, Path)),
    responses((status = 200, body = ListingResponse), (status = 304, description = "the client's copy is current"),
        (status = 404, body = Problem)))]
async fn get_listing(
    State(state): State<AppState>,
    viewer: Option<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(reads::read::<Listing>(&state, viewer, id).await?.respond(&headers))
}

/// Edits a listing (JSON merge patch of the create body). A published
/// listing goes back to review. `If-Match: "<version>"` guards against
/// overwriting someone else's change (412).
#[utoipa::path(patch, path = "/api/v1/listings/{id}", tag = "listings", params(("id" = String, Path)),
    request_body(content = ListingRequest, description = "any subset of the fields"),
    security(("bearer" = [])),
    responses((status = 200, body = ListingResponse), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn update_listing(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    let expected = if_match(&headers)?;
    Ok(versioned(StatusCode::OK, update::<Listing>(state, user, request_id, id, expected, patch).await?))
}

/// Submits a draft or rejected listing for review.
#[utoipa::path(post, path = "/api/v1/listings/{id}/submit", tag = "listings", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ListingResponse), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn submit_listing(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<ListingResponse>> {
    Ok(Json(transition::<Listing>(state, user, request_id, id, Transition::Submit, None).await?))
}

/// An official publishes or rejects a listing under review.
#[utoipa::path(post, path = "/api/v1/listings/{id}/review", tag = "listings", params(("id" = String, Path)),
    request_body = ReviewRequest, security(("bearer" = [])),
    responses((status = 200, body = ListingResponse), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn review_listing(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<ReviewRequest>,
) -> ApiResult<Json<ListingResponse>> {
    Ok(Json(review::<Listing>(state, user, request_id, id, request).await?))
}

/// The owner withdraws a listing.
#[utoipa::path(post, path = "/api/v1/listings/{id}/withdraw", tag = "listings", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ListingResponse), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn withdraw_listing(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<ListingResponse>> {
    Ok(Json(transition::<Listing>(state, user, request_id, id, Transition::Withdraw, None).await?))
}

// ---- demands ------------------------------------------------------------

/// Creates a draft demand owned by the caller's organisation.
#[utoipa::path(post, path = "/api/v1/demands", tag = "demands", request_body = DemandRequest,
    security(("bearer" = [])),
    responses((status = 201, body = DemandResponse), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_demand(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<DemandRequest>,
) -> ApiResult<impl IntoResponse> {
    let demand = create::<Demand>(state, user, request_id, request).await?;
    Ok(versioned(StatusCode::CREATED, demand))
}

/// Demands, with the same visibility rules as listings.
#[utoipa::path(get, path = "/api/v1/demands", tag = "demands", params(ListQuery),
    responses((status = 200, body = Page<DemandResponse>), (status = 403, body = Problem)))]
async fn list_demands(
    State(state): State<AppState>,
    viewer: Option<CurrentUser>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Page<DemandResponse>>> {
    Ok(Json(list::<Demand>(state, viewer, query).await?))
}

/// A demand: public once published; its owner's members and officials
/// always. `ETag` and `If-None-Match` as for listings.
#[utoipa::path(get, path = "/api/v1/demands/{id}", tag = "demands", params(("id" = String, Path)),
    responses((status = 200, body = DemandResponse), (status = 304, description = "the client's copy is current"),
        (status = 404, body = Problem)))]
async fn get_demand(
    State(state): State<AppState>,
    viewer: Option<CurrentUser>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(reads::read::<Demand>(&state, viewer, id).await?.respond(&headers))
}

/// Edits a demand (JSON merge patch); a published demand goes back to review.
#[utoipa::path(patch, path = "/api/v1/demands/{id}", tag = "demands", params(("id" = String, Path)),
    request_body(content = DemandRequest, description = "any subset of the fields"),
    security(("bearer" = [])),
    responses((status = 200, body = DemandResponse), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn update_demand(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    let expected = if_match(&headers)?;
    Ok(versioned(StatusCode::OK, update::<Demand>(state, user, request_id, id, expected, patch).await?))
}

/// Submits a draft or rejected demand for review.
#[utoipa::path(post, path = "/api/v1/demands/{id}/submit", tag = "demands", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = DemandResponse), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn submit_demand(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<DemandResponse>> {
    Ok(Json(transition::<Demand>(state, user, request_id, id, Transition::Submit, None).await?))
}

/// An official publishes or rejects a demand under review.
#[utoipa::path(post, path = "/api/v1/demands/{id}/review", tag = "demands", params(("id" = String, Path)),
    request_body = ReviewRequest, security(("bearer" = [])),
    responses((status = 200, body = DemandResponse), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn review_demand(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<ReviewRequest>,
) -> ApiResult<Json<DemandResponse>> {
    Ok(Json(review::<Demand>(state, user, request_id, id, request).await?))
}

/// The owner withdraws a demand.
#[utoipa::path(post, path = "/api/v1/demands/{id}/withdraw", tag = "demands", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = DemandResponse), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn withdraw_demand(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<DemandResponse>> {
    Ok(Json(transition::<Demand>(state, user, request_id, id, Transition::Withdraw, None).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]});
        merge_patch(&mut target, &serde_json::json!({"a": "z", "c": {"f": null}, "list": [3]}));
        assert_eq!(target, serde_json::json!({"a": "z", "c": {"d": "e", "f": null}, "list": [3]}));
    }

    #[test]
    fn if_match_accepts_quoted_and_weak_versions() {
        let headers = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_MATCH, HeaderValue::from_static(v));
            h
        };
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match(&headers("\"3\"")).unwrap(), Some(3));
        assert_eq!(if_match(&headers("W/\"4\"")).unwrap(), Some(4));
        assert_eq!(if_match(&headers("7")).unwrap(), Some(7));
        assert_eq!(if_match(&headers("abc")).unwrap_err().code(), ErrorCode::PreconditionFailed);
    }
}

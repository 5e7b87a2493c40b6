//! Saved searches: `POST`/`GET /api/v1/saved-searches` and
//! `DELETE /api/v1/saved-searches/{id}`, each user's own. The query is any
//! set of `GET /api/v1/search` parameters, checked by the search service's
//! own parsing and stored in that form.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use techtrade_db::saved_searches::{self as db, SavedSearch};
use techtrade_domain::ids;
use techtrade_search::{SearchParams, SearchQuery};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, Json, Page, PageQuery, Path, Query};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Problem = techtrade_web::error::Problem;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_saved_search, list_saved_searches)).routes(routes!(delete_saved_search))
}

/// How the owner hears of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    Email,
}

impl Notify {
    fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedSearchRequest {
    /// Parameters as `GET /api/v1/search` takes them (`q`, `type`, `kind`,
    /// `ipc`, `region`, `trade_mode`, `maturity`, `patent_type`,
    /// `legal_status`, `price_min_fen`, `price_max_fen`,
    /// `include_negotiable`); paging and sorting do not apply.
    #[schema(value_type = Object, example = json!({"q": "锂电池回收", "type": "listing", "ipc": "H01M"}))]
    pub query: serde_json::Value,
    pub notify: Notify,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSearchResponse {
    pub id: String,
    /// The search parameters as stored.
    #[schema(value_type = Object)]
    pub query: serde_json::Value,
    pub notify: String,
    pub created_at: DateTime<Utc>,
}

impl From<SavedSearch> for SavedSearchResponse {
    fn from(row: SavedSearch) -> Self {
        Self {
            query: serde_json::from_str(&row.query).unwrap_or(serde_json::Value::Null),
            id: row.id,
            notify: row.notify,
            created_at: row.created_at.and_utc(),
        }
    }
}

/// The search parameters of a request body's `query`, checked as the
/// search API checks them, in the form to store: paging and sorting
/// dropped (an alert is about one item), absent parameters left out.
/// Errors name the field under `query.` and are 422, as for any body.
fn parse_query(value: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let serde_json::Value::Object(given) = &value else {
        return Err(ApiError::invalid_field("query", "invalid_type", "an object of search parameters"));
    };
    // Every parameter the search API knows, from its own type: a misspelt
    // one would otherwise be ignored and the search match everything.
    let known = serde_json::to_value(SearchParams::default()).map_err(ApiError::internal)?;
    if let Some(unknown) = given.keys().find(|k| known.get(k.as_str()).is_none()) {
        return Err(ApiError::invalid_field(&format!("query.{unknown}"), "unknown_field", "not a search parameter"));
    }
    let nested = |error: ApiError| match error.errors().first() {
        Some(field) => ApiError::invalid_field(&format!("query.{}", field.field), &field.code, field.message.clone()),
        None => error,
    };
    let bytes = serde_json::to_vec(&value).map_err(ApiError::internal)?;
    let mut params: SearchParams = techtrade_web::extract::parse_json(&bytes).map_err(nested)?;
    (params.page, params.per_page, params.sort) = (None, None, None);
    params.clone().into_query().map_err(nested)?;
    let mut stored = serde_json::to_value(&params).map_err(ApiError::internal)?;
    if let serde_json::Value::Object(fields) = &mut stored {
        fields.retain(|_, v| !v.is_null());
    }
    Ok(stored)
}

/// A stored query as a search: the saved parameters, checked again (they
/// passed when saved; a failure now means the rules changed since).
pub fn stored_query(text: &str) -> Result<SearchQuery, ApiError> {
    let params: SearchParams = techtrade_web::extract::parse_json(text.as_bytes())?;
    Ok(params.into_query()?.0)
}

/// Saves a search; its owner is alerted when a newly published listing or
/// demand matches it (not for their own organisation's).
#[utoipa::path(post, path = "/api/v1/saved-searches", tag = "matching", request_body = SavedSearchRequest,
    security(("bearer" = [])),
    responses((status = 201, body = SavedSearchResponse), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn create_saved_search(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(request): Json<SavedSearchRequest>,
) -> ApiResult<(StatusCode, Json<SavedSearchResponse>)> {
    Ok((StatusCode::CREATED, Json(save(&state, &user, request).await?)))
}

/// Saves a search of `user`, its parameters checked as the search checks them.
pub async fn save(state: &AppState, user: &CurrentUser, request: SavedSearchRequest) -> ApiResult<SavedSearchResponse> {
    let query = parse_query(request.query)?;
    let row = SavedSearch {
        id: ids::new_id(),
        user_id: user.user_id.clone(),
        query: query.to_string(),
        notify: request.notify.as_str().to_string(),
        created_at: techtrade_db::now(),
    };
    let saved = state
        .db
        .run(move |conn| {
            db::insert(conn, &row)?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(saved.into())
}

/// The caller's saved searches, newest first.
#[utoipa::path(get, path = "/api/v1/saved-searches", tag = "matching", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<SavedSearchResponse>), (status = 401, body = Problem)))]
async fn list_saved_searches(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<SavedSearchResponse>>> {
    Ok(Json(saved_searches(&state, &user, page).await?))
}

/// `user`'s saved searches, newest first.
pub async fn saved_searches(
    state: &AppState,
    user: &CurrentUser,
    page: PageQuery,
) -> ApiResult<Page<SavedSearchResponse>> {
    let page = page.validate()?;
    let user_id = user.user_id.clone();
    let (rows, total) = state
        .db
        .run(move |conn| db::list_of_user(conn, &user_id, page.offset(), page.limit()).map_err(ApiError::from))
        .await?;
    Ok(Page::new(rows.into_iter().map(SavedSearchResponse::from).collect(), total, page))
}

/// Deletes one of the caller's saved searches (404 for anyone else's).
#[utoipa::path(delete, path = "/api/v1/saved-searches/{id}", tag = "matching", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn delete_saved_search(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one of `user`'s saved searches; 404 for anyone else's.
pub async fn delete(state: &AppState, user: &CurrentUser, id: String) -> ApiResult<()> {
    let user_id = user.user_id.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let own = db::find(conn, &id)?.filter(|s| s.user_id == user_id);
                if own.is_none() || !db::delete(conn, &id)? {
                    return Err(ApiError::not_found("saved search"));
                }
                Ok(())
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(result: Result<serde_json::Value, ApiError>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.code(), techtrade_web::ErrorCode::ValidationFailed);
        error.errors()[0].field.clone()
    }

    #[test]
    fn queries_are_checked_as_the_search_api_checks_them() {
        let stored = parse_query(json!({"q": "锂电池", "type": "listing", "ipc": "h01m", "page": 3, "sort": "newest"}));
        assert_eq!(
            stored.unwrap(),
            json!({"q": "锂电池", "type": "listing", "ipc": "h01m", "include_negotiable": false})
        );
        assert_eq!(field(parse_query(json!({"ipc": "Z99"}))), "query.ipc");
        assert_eq!(field(parse_query(json!({"type": "patent"}))), "query.type");
        assert_eq!(field(parse_query(json!({"price_min_fen": -1}))), "query.price_min_fen");
        assert_eq!(field(parse_query(json!({"qq": "typo"}))), "query.qq");
        assert_eq!(field(parse_query(json!("锂电池"))), "query");
        assert!(parse_query(json!({})).is_ok(), "every new item");
    }

    #[test]
    fn stored_queries_become_searches() {
        let stored = parse_query(json!({"q": "锂电池", "region": "63", "trade_mode": "assignment"})).unwrap();
        let query = stored_query(&stored.to_string()).unwrap();
        assert_eq!(query.text.as_deref(), Some("锂电池"));
        assert_eq!((query.region_prefix.as_deref(), query.trade_mode.as_deref()), (Some("63"), Some("assignment")));
    }
}

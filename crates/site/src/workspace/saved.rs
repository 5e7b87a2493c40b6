//! Saved searches: the current search kept from `/search`, listed with
//! what it looks for, run again, deleted. The owner is alerted by e-mail
//! when a newly published item matches (the matching service's alerts).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use techtrade_matching::{Notify, SavedSearchRequest, SavedSearchResponse};
use techtrade_search::SearchParams;
use techtrade_web::{ApiError, AppState, PageQuery};

use super::SignedIn;
use super::form::Fields;
use super::items::Done;
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;

/// One saved search as the page shows it: what it looks for, and the
/// search it runs.
struct SavedRow {
    id: String,
    /// (parameter, value as people read it).
    terms: Vec<(String, String)>,
    href: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Template)]
#[template(path = "saved_searches.html")]
struct SavedPage {
    ctx: Ctx,
    rows: Vec<SavedRow>,
    done: String,
    errors: FormErrors,
}

fn row(ctx: &Ctx, saved: SavedSearchResponse) -> SavedRow {
    let mut terms = Vec::new();
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let serde_json::Value::Object(fields) = &saved.query {
        for (name, value) in fields {
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Bool(false) => continue,
                other => other.to_string(),
            };
            query.append_pair(name, &text);
            let shown = if name == "q" { text.clone() } else { crate::public::filter_label(ctx, name, &text) };
            terms.push((name.clone(), shown));
        }
    }
    let query = query.finish();
    SavedRow {
        id: saved.id,
        terms,
        href: if query.is_empty() { "/search".into() } else { format!("/search?{query}") },
        created_at: saved.created_at,
    }
}

async fn saved_page(state: &AppState, visitor: &Visitor, done: String, failure: Option<ApiError>) -> Response {
    let user = match super::signed_in(visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let page = PageQuery { page: None, per_page: Some(100) };
    let saved = match techtrade_matching::saved_searches(state, &user, page).await {
        Ok(saved) => saved,
        Err(error) => return page::error_page(visitor, &error),
    };
    let ctx = Ctx::new(visitor);
    let rows = saved.items.into_iter().map(|s| row(&ctx, s)).collect();
    let (status, errors) = match page::outcome(visitor, failure.as_ref(), |e| FormErrors::from_error(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    page::render(visitor, status, &SavedPage { ctx, rows, done, errors })
}

/// `GET /workspace/saved-searches`.
pub async fn list(State(state): State<AppState>, visitor: Visitor, Query(done): Query<Done>) -> Response {
    saved_page(&state, &visitor, done.text(), None).await
}

/// `POST /workspace/saved-searches`: saves the search the form carries
/// (`query`: the search page's query string).
pub async fn save(State(state): State<AppState>, visitor: Visitor, SignedIn(user): SignedIn, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let saved = match techtrade_web::parse_query::<SearchParams>(&fields.text("query")) {
        Ok(params) => match serde_json::to_value(params) {
            Ok(query) => {
                techtrade_matching::save_search(&state, &user, SavedSearchRequest { query, notify: Notify::Email })
                    .await
            }
            Err(error) => Err(ApiError::internal(error)),
        },
        Err(error) => Err(error),
    };
    match saved {
        Ok(_) => page::redirect("/workspace/saved-searches?done=search_saved"),
        Err(error) if error.code().status().is_server_error() => page::error_page(&visitor, &error),
        Err(error) => saved_page(&state, &visitor, String::new(), Some(error)).await,
    }
}

/// `POST /workspace/saved-searches/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    visitor: Visitor,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
) -> Response {
    match techtrade_matching::delete_saved_search(&state, &user, id).await {
        Ok(()) => page::redirect("/workspace/saved-searches?done=search_deleted"),
        Err(error) => page::error_page(&visitor, &error),
    }
}

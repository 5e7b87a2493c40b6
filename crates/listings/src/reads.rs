//! Reading one listing or demand: from this process's cache of public
//! views when the viewer sees the public view ([`techtrade_web::published`]),
//! otherwise from the database, storing the view when it is public. The
//! JSON API and the web front both read through here.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use techtrade_web::published::PublicView;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser};

use crate::items::{self, Item};

/// An item as served: its version (the ETag), its JSON body, and the typed
/// view when it was read from the database rather than the cache.
pub(crate) struct Served<R> {
    version: i64,
    public: bool,
    body: Bytes,
    view: Option<R>,
}

impl<R: serde::de::DeserializeOwned> Served<R> {
    /// The typed view (parsed back from the cached body on a hit).
    pub(crate) fn into_view(self) -> ApiResult<R> {
        match self.view {
            Some(view) => Ok(view),
            None => serde_json::from_slice(&self.body).map_err(ApiError::internal),
        }
    }
}

impl<R> Served<R> {
    fn cached(view: &Arc<PublicView>) -> Self {
        Self { version: view.version, public: true, body: view.body.clone(), view: None }
    }

    /// The HTTP answer to a GET with these request headers: 304 when the
    /// client's `If-None-Match` names the current version.
    pub(crate) fn respond(self, request: &HeaderMap) -> Response {
        let etag = HeaderValue::from_str(&format!("\"{}\"", self.version)).ok();
        // Public views may be kept anywhere but are checked each time (the
        // ETag makes that a 304); unpublished ones only by the reader.
        let cache_control = HeaderValue::from_static(if self.public { "no-cache" } else { "private, no-cache" });
        let mut response = if none_match(request, self.version) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], self.body).into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, cache_control);
        if let Some(etag) = etag {
            headers.insert(header::ETAG, etag);
        }
        response
    }
}

/// Whether `If-None-Match` names `version` (or is `*`): the client's copy
/// is current. Weak and strong tags compare alike (RFC 9110 §13.1.2).
fn none_match(headers: &HeaderMap, version: i64) -> bool {
    let current = version.to_string();
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == current
        },
    )
}

/// The item as `viewer` may see it (404 when it may not). Its owner's
/// members and officials always read the database: they must see their
/// own change at once, and may see what is not public.
pub(crate) async fn read<I: Item>(
    state: &AppState,
    viewer: Option<CurrentUser>,
    id: String,
) -> ApiResult<Served<I::Response>> {
    let cached = state.published.get(I::SUBJECT, &id);
    if let Some(view) = &cached {
        let private = viewer.as_ref().is_some_and(|u| u.role.is_official() || u.is_member_of(&view.owner));
        if !private {
            return Ok(Served::cached(view));
        }
    }
    let ticket = state.published.ticket();
    let (response, owner, version, public) = {
        let id = id.clone();
        state
            .db
            .run(move |conn| {
                let item = items::load_visible::<I>(conn, &id, viewer.as_ref())?;
                let (owner, version, public) = (item.owner().to_string(), item.version(), item.status().is_public());
                Ok::<_, ApiError>((I::respond_one(conn, item)?, owner, version, public))
            })
            .await?
    };
    let body = Bytes::from(serde_json::to_vec(&response).map_err(ApiError::internal)?);
    if public {
        state.published.put(ticket, I::SUBJECT, &id, PublicView { owner, version, body: body.clone() });
    }
    Ok(Served { version, public, body, view: Some(response) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn if_none_match_names_the_version_in_any_of_its_forms() {
        assert!(none_match(&headers(&["\"3\""]), 3));
        assert!(none_match(&headers(&["W/\"3\""]), 3));
        assert!(none_match(&headers(&["\"1\", \"3\""]), 3));
        assert!(none_match(&headers(&["\"1\"", "\"3\""]), 3));
        assert!(none_match(&headers(&["*"]), 3));
        assert!(!none_match(&headers(&["\"2\""]), 3));
        assert!(!none_match(&headers(&["\"33\""]), 3));
        assert!(!none_match(&headers(&[]), 3));
    }
}

//! Who is visiting: the signed-in user (the API's sessions, carried in a
//! cookie instead of a bearer header), the language, and the CSRF token
//! every state-changing form must return.
//!
//! The session cookie is `HttpOnly` (no script reads it) and
//! `SameSite=Lax` (another site's form posts arrive without it). The CSRF
//! token adds the rest: for a signed-in visitor it is derived from the
//! session token, which only this browser holds; before sign-in it is a
//! random value in its own cookie, returned in the form (double submit).
//! [`csrf_guard`] checks every non-GET request before a handler runs.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use techtrade_web::{ApiError, AppState, CurrentUser, ErrorCode};

use crate::SiteOptions;
use crate::i18n::Lang;

pub const SESSION_COOKIE: &str = "tt_session";
const CSRF_COOKIE: &str = "tt_csrf";
const LANG_COOKIE: &str = "tt_lang";
/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// The largest form body the guard reads (forms are text; the API's own
/// body limit applies to JSON).
const FORM_LIMIT: usize = 256 * 1024;

/// The value of a cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

/// The CSRF token a session's forms carry: bound to the session token, so
/// it changes at every sign-in and cannot be guessed without the cookie.
fn session_csrf(session_token: &str) -> String {
    hex::encode(Sha256::digest(format!("techtrade csrf\0{session_token}").as_bytes()))
}

/// The CSRF token the request's cookies call for, if they hold one.
fn expected_csrf(headers: &HeaderMap) -> Option<String> {
    match cookie(headers, SESSION_COOKIE) {
        Some(token) => Some(session_csrf(token)),
        None => cookie(headers, CSRF_COOKIE).map(str::to_string),
    }
}

/// A cookie for the whole site: `HttpOnly`, `SameSite=Lax`, and `Secure`
/// when the site is served over https. `max_age` of zero deletes it.
pub fn set_cookie(options: &SiteOptions, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if options.secure_cookies {
        cookie.push_str("; Secure");
    }
    cookie
}

/// A random token in hex: a CSRF cookie, a form's idempotency key.
pub fn random_hex() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(hex::encode(bytes))
}

/// The visitor of a page: who (if signed in), in which language, and what
/// cookies the response must set.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub user: Option<CurrentUser>,
    pub lang: Lang,
    pub csrf: String,
    /// `Set-Cookie` values for the response: the language chosen by
    /// `?lang=`, a new anonymous CSRF cookie.
    pub cookies: Vec<String>,
    /// The request's path and query, for links back to it (language
    /// switch, sign-in's return).
    pub path: String,
    /// Whether htmx asked (`HX-Request`): answer with a fragment.
    pub htmx: bool,
}

/// The language a request asks for: `?lang=`, then the cookie, then
/// `Accept-Language`.
fn language(parts: &Parts) -> (Lang, Option<Lang>) {
    let asked = parts
        .uri
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "lang").map(|(_, v)| v.into_owned()))
        .and_then(|tag| Lang::parse(&tag));
    if let Some(lang) = asked {
        return (lang, Some(lang));
    }
    let from_cookie = cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse);
    let negotiated = || {
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        Lang::negotiate(accept)
    };
    (from_cookie.unwrap_or_else(negotiated), None)
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // Several extractors of one request may ask (a page's `Visitor` and
        // its `Member`): the session is looked up once.
        if let Some(visitor) = parts.extensions.get::<Visitor>() {
            return Ok(visitor.clone());
        }
        let visitor = Self::read(parts, state).await?;
        parts.extensions.insert(visitor.clone());
        Ok(visitor)
    }
}

impl Visitor {
    async fn read(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let options = parts.extensions.get::<SiteOptions>().cloned().unwrap_or_default();
        let (lang, chosen) = language(parts);
        let mut cookies = Vec::new();
        if let Some(lang) = chosen {
            cookies.push(set_cookie(&options, LANG_COOKIE, lang.tag(), Some(365 * 24 * 3600)));
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let htmx = parts.headers.contains_key("hx-request");
        let session_token = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string);
        let user = match &session_token {
            Some(token) => match techtrade_web::auth::session_user(state, token).await {
                Ok(user) => Some(user),
                // Expired, revoked or disabled: a visitor again, and the
                // stale cookie goes.
                Err(error) if error.code() == ErrorCode::InvalidToken => {
                    cookies.push(set_cookie(&options, SESSION_COOKIE, "", Some(0)));
                    None
                }
                Err(error) => {
                    let visitor = Visitor { user: None, lang, csrf: String::new(), cookies, path, htmx };
                    return Err(crate::page::error_page(&visitor, &error));
                }
            },
            None => None,
        };
        let csrf = match expected_csrf(&parts.headers) {
            Some(token) => token,
            None => {
                let token = random_hex().map_err(|e| e.into_response())?;
                cookies.push(set_cookie(&options, CSRF_COOKIE, &token, None));
                token
            }
        };
        Ok(Visitor { user, lang, csrf, cookies, path, htmx })
    }
}

/// Refuses a state-changing request whose form does not carry the CSRF
/// token its cookies call for (403), before any handler sees it.
pub async fn csrf_guard(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    if is_multipart(&parts.headers) {
        // A file upload: its body may be far larger than any form, and is
        // read by its handler as it streams in, so the token comes in the
        // query string, where the form's `action` puts it.
        let query = parts.uri.query().unwrap_or_default();
        let given = form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == CSRF_FIELD).map(|(_, v)| v);
        if !token_matches(&parts.headers, given.as_deref()) {
            return refused(&parts);
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return ApiError::new(ErrorCode::PayloadTooLarge, "the form is too large").into_response();
    };
    let given = form_urlencoded::parse(&bytes).find(|(key, _)| key == CSRF_FIELD).map(|(_, value)| value);
    if !token_matches(&parts.headers, given.as_deref()) {
        return refused(&parts);
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Whether `given` is the token the request's cookies call for.
fn token_matches(headers: &HeaderMap, given: Option<&str>) -> bool {
    match (expected_csrf(headers), given) {
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        _ => false,
    }
}

/// 403, in the visitor's language.
fn refused(parts: &Parts) -> Response {
    let lang = language(parts).0;
    let message = crate::i18n::text(lang, "error-csrf", &[]);
    (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}

/// Compares without stopping at the first difference, so the time taken
/// tells nothing of how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(cookie_header: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie_header).unwrap());
        headers
    }

    #[test]
    fn reads_cookies_by_name() {
        let h = headers("a=1; tt_session=abc; tt_csrf=");
        assert_eq!(cookie(&h, "tt_session"), Some("abc"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "tt_csrf"), None, "an empty value is no cookie");
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn the_session_decides_the_csrf_token() {
        assert_eq!(expected_csrf(&headers("tt_csrf=x")), Some("x".to_string()));
        let bound = expected_csrf(&headers("tt_csrf=x; tt_session=t")).unwrap();
        assert_eq!(bound, session_csrf("t"));
        assert_ne!(bound, session_csrf("u"));
        assert_eq!(expected_csrf(&HeaderMap::new()), None);
    }

    #[test]
    fn cookies_are_http_only_and_lax_and_secure_over_https() {
        let plain = set_cookie(&SiteOptions::new("http://127.0.0.1:8080", None), "n", "v", Some(0));
        assert_eq!(plain, "n=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
        assert!(
            set_cookie(&SiteOptions::new("https://market.example.cn/", None), "n", "v", None).ends_with("; Secure")
        );
    }

    #[test]
    fn compares_in_full() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab"));
    }
}

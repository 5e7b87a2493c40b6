//! A browser's part in the web front's tests: cookies kept between
//! requests, forms posted with the CSRF token the last page carried.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, header};

use crate::{TestApp, TestResponse};

/// One visitor of the web front, with a cookie jar.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    /// Headers sent with every request (`Accept-Language`, `HX-Request`).
    pub headers: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self { app, cookies: BTreeMap::new(), headers: Vec::new() }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    fn remember(&mut self, response: &TestResponse) {
        for value in response.headers.get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<String>) -> TestResponse {
        let body = form.map(|form| ("application/x-www-form-urlencoded".to_string(), form.into_bytes()));
        self.send_body(method, path, body).await
    }

    async fn send_body(&mut self, method: Method, path: &str, body: Option<(String, Vec<u8>)>) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header(header::COOKIE, jar.join("; "));
        }
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = match body {
            Some((content_type, bytes)) => {
                builder = builder.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let response = self.app.send(builder.body(body).unwrap()).await;
        self.remember(&response);
        response
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Method::GET, path, None).await
    }

    /// Posts a form as it stands, without adding a CSRF token.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        self.send(Method::POST, path, Some(form)).await
    }

    /// Opens `page` and posts a form to `action` with the CSRF token that
    /// page carried, as a person filling the form in would.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> TestResponse {
        let shown = self.get(page).await;
        let token = csrf_token(&shown.text).unwrap_or_else(|| panic!("{page} has no CSRF token: {}", shown.text));
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(action, &all).await
    }
}

impl Browser<'_> {
    /// Opens `page` and uploads `file` with `fields` to `action` as its
    /// upload form does: `multipart/form-data`, the CSRF token in the query.
    pub async fn upload(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> TestResponse {
        let shown = self.get(page).await;
        let token = csrf_token(&shown.text).unwrap_or_else(|| panic!("{page} has no CSRF token: {}", shown.text));
        let body = crate::multipart_body(fields, Some(file));
        self.send_body(Method::POST, &format!("{action}?csrf={token}"), Some(body)).await
    }
}

/// The value of the page's first `name="csrf"` input.
pub fn csrf_token(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// A browser signed in through the sign-in form as `email`.
pub async fn signed_in<'a>(app: &'a TestApp, email: &str, password: &str) -> Browser<'a> {
    let mut browser = Browser::new(app);
    browser.submit("/login", "/login", &[("email", email), ("password", password)]).await.assert_status(303);
    browser
}

/// `n` with thousands separators, as the pages show amounts (`1,234,567`).
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if n < 0 { format!("-{grouped}") } else { grouped }
}

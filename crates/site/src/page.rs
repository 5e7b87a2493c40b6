//! What every page has: the context its template reads (language, the
//! signed-in user, the CSRF token, the static files), rendering with the
//! visitor's cookies, redirects after a post, and errors as pages.

use std::collections::BTreeMap;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use techtrade_web::{ApiError, ErrorCode};

use crate::format;
use crate::i18n::{self, Lang};
use crate::session::Visitor;

/// A value as a template hands it to a helper: by value or behind the
/// one or two references its loops and `if let`s put it under.
pub trait Plain<T> {
    fn plain(&self) -> T;
}

macro_rules! plain {
    ($($t:ty),*) => {$(
        impl Plain<$t> for $t {
            fn plain(&self) -> $t { *self }
        }
        impl Plain<$t> for &$t {
            fn plain(&self) -> $t { **self }
        }
        impl Plain<$t> for &&$t {
            fn plain(&self) -> $t { ***self }
        }
    )*};
}

plain!(i64, u64, i32, usize, DateTime<Utc>, NaiveDate);

/// The signed-in user as the page header shows them.
#[derive(Debug, Clone)]
pub struct Badge {
    pub name: String,
    /// An official or administrator: the header leads to the console.
    pub official: bool,
    /// A system or security administrator: the console shows the staff page.
    pub admin: bool,
    /// The security administrator: the header leads to the staff page.
    pub security_admin: bool,
    /// The auditor: the header leads to the audit log.
    pub auditor: bool,
    /// A member of an organisation: the header leads to the workspace.
    pub member: bool,
}

/// What every template can read and ask: `ctx.t("key")`, `ctx.yuan(fen)`.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<Badge>,
    pub csrf: String,
    /// The request's path and query.
    pub path: String,
    pub css_url: &'static str,
    pub htmx_url: &'static str,
}

impl Ctx {
    pub fn new(visitor: &Visitor) -> Self {
        Self {
            lang: visitor.lang,
            user: visitor.user.as_ref().map(|u| Badge {
                name: u.name.clone(),
                official: u.role.is_official(),
                admin: matches!(u.role, techtrade_domain::Role::Admin | techtrade_domain::Role::SecurityAdmin),
                security_admin: u.role == techtrade_domain::Role::SecurityAdmin,
                auditor: u.role == techtrade_domain::Role::Auditor,
                member: u.role == techtrade_domain::Role::Member,
            }),
            csrf: visitor.csrf.clone(),
            path: visitor.path.clone(),
            css_url: crate::assets::url("site.css"),
            htmx_url: crate::assets::url("htmx.min.js"),
        }
    }

    /// The catalogue's text for `key`.
    pub fn t(&self, key: &str) -> String {
        i18n::text(self.lang, key, &[])
    }

    /// The catalogue's text for `key` with one argument.
    pub fn t_with(&self, key: &str, name: &str, value: impl ToString) -> String {
        i18n::text(self.lang, key, &[(name, &value.to_string())])
    }

    /// The catalogue's text for `key` with a count its plural forms follow.
    pub fn t_count(&self, key: &str, name: &str, count: i64) -> String {
        i18n::text_with_count(self.lang, key, name, count)
    }

    /// The label of a value of a vocabulary: `label("trade-mode", "assignment")`.
    pub fn label(&self, vocabulary: &str, value: &str) -> String {
        let key = format!("{vocabulary}-{value}");
        if i18n::has(self.lang, &key) { i18n::text(self.lang, &key, &[]) } else { value.to_string() }
    }

    pub fn lang_tag(&self) -> &'static str {
        self.lang.tag()
    }

    /// This page in another language.
    pub fn lang_url(&self, tag: &str) -> String {
        format::with_param(&self.path, "lang", Some(tag))
    }

    /// An amount at a glance: `12.35万元` / `CNY 123,456.78`.
    pub fn yuan(&self, fen: impl Plain<i64>) -> String {
        format::yuan(fen.plain(), self.lang)
    }

    /// The amount exact to the fen: `123,456.78 元`.
    pub fn yuan_exact(&self, fen: impl Plain<i64>) -> String {
        format::yuan_exact(fen.plain(), self.lang)
    }

    /// The exact amount under an amount at a glance, when it says more
    /// (`12.35万元` over `123,456.78 元`); nothing when they are the same.
    pub fn yuan_detail(&self, fen: impl Plain<i64>) -> String {
        let fen = fen.plain();
        let exact = format::yuan_exact(fen, self.lang);
        if exact == format::yuan(fen, self.lang) { String::new() } else { exact }
    }

    /// An instant as a Beijing date.
    pub fn date(&self, at: impl Plain<DateTime<Utc>>) -> String {
        format::beijing_date(&at.plain())
    }

    pub fn day(&self, day: impl Plain<NaiveDate>) -> String {
        day.plain().format("%Y-%m-%d").to_string()
    }

    /// A region code as its names: `青海省 西宁市 城西区`.
    pub fn region(&self, code: &str) -> String {
        techtrade_domain::region::region_name(code, self.lang.is_english())
    }

    /// A count with thousands separators.
    pub fn number(&self, n: impl Plain<u64>) -> String {
        format::thousands(u128::from(n.plain()))
    }

    /// A count kept as `i64` (the database's counts).
    pub fn count(&self, n: impl Plain<i64>) -> String {
        format::thousands(u128::from(n.plain().unsigned_abs()))
    }
}

/// The messages a form shows: one per field, and one for the whole form.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub fields: BTreeMap<String, String>,
    pub general: Option<String>,
}

impl FormErrors {
    /// A service's error in the visitor's language: each field's message
    /// next to its field (by its stable code, falling back to the
    /// service's own words), the rest above the form.
    pub fn from_error(lang: Lang, error: &ApiError) -> Self {
        let mut fields = BTreeMap::new();
        for field in error.errors() {
            fields.entry(field.field.clone()).or_insert_with(|| field_message(lang, field));
        }
        let general =
            (fields.is_empty() || error.code() != ErrorCode::ValidationFailed).then(|| error_message(lang, error));
        Self { fields, general }
    }

    /// Only the messages next to their fields (when the field says it all).
    pub fn without_general(mut self) -> Self {
        if !self.fields.is_empty() {
            self.general = None;
        }
        self
    }

    pub fn general_only(message: String) -> Self {
        Self { fields: BTreeMap::new(), general: Some(message) }
    }

    pub fn field(&self, name: &str) -> Option<&String> {
        self.fields.get(name)
    }
}

/// A field's message: the catalogue's for this field and code
/// (`field-price_fen-required`: "give a price, or mark it negotiable"),
/// else for the code (`field-required`), else the service's own words.
fn field_message(lang: Lang, field: &techtrade_web::FieldError) -> String {
    // `patents[3].grant_date` is `patents-grant_date` in the catalogue
    // (Fluent's names have no dots).
    let mut path = String::with_capacity(field.field.len());
    let mut in_index = false;
    for c in field.field.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            '.' if !in_index => path.push('-'),
            c if !in_index => path.push(c),
            _ => {}
        }
    }
    [format!("field-{path}-{}", field.code), format!("field-{}", field.code)]
        .into_iter()
        .find(|key| i18n::has(lang, key))
        .map_or_else(|| field.message.clone(), |key| i18n::text(lang, &key, &[]))
}

/// What went wrong, in the visitor's language: the catalogue's sentence for
/// the error's code, else the service's detail.
pub fn error_message(lang: Lang, error: &ApiError) -> String {
    let key = format!("error-{}", error.code().as_str());
    if i18n::has(lang, &key) { i18n::text(lang, &key, &[]) } else { error.to_string() }
}

/// A rendered page with the visitor's cookies, varying by what it varies by.
pub fn render(visitor: &Visitor, status: StatusCode, template: &impl Template) -> Response {
    let body = match template.render() {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "a template failed to render");
            return (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><title>500</title>")).into_response();
        }
    };
    let mut response = (status, Html(body)).into_response();
    finish(visitor, &mut response);
    response
}

/// The visitor's cookies and the caching rules of a personal page.
pub fn finish(visitor: &Visitor, response: &mut Response) {
    let headers = response.headers_mut();
    for cookie in &visitor.cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    // The same URL answers a fragment to htmx and a page to the browser,
    // and its words and buttons follow the cookies.
    headers.insert(header::VARY, HeaderValue::from_static("HX-Request, Cookie, Accept-Language"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
}

/// 303 See Other: the redirect after a post (the browser then GETs).
pub fn redirect(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// A local path to return to after sign-in; anything else (another
/// site, `//host`) is the front page.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_string(),
        _ => "/".to_string(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: Ctx,
    status: u16,
    message: String,
}

/// What a page shown again after a refusal says: the refusal's status and
/// its messages (`messages` puts them on the form's fields), or 200 and
/// none. A server error is not the form's to show: its own error page.
pub fn outcome(
    visitor: &Visitor,
    failure: Option<&ApiError>,
    messages: impl FnOnce(&ApiError) -> FormErrors,
) -> Result<(StatusCode, FormErrors), Response> {
    match failure {
        None => Ok((StatusCode::OK, FormErrors::default())),
        Some(error) if error.code().status().is_server_error() => Err(error_page(visitor, error)),
        Some(error) => Ok((error.code().status(), messages(error))),
    }
}

/// An error as a page with its status: 404 for what the visitor may not
/// see, 403 for what they may not do, 503 when a backend is out of reach.
pub fn error_page(visitor: &Visitor, error: &ApiError) -> Response {
    let status = error.code().status();
    if status.is_server_error() {
        tracing::error!(%error, "a page failed");
    }
    let page =
        ErrorPage { ctx: Ctx::new(visitor), status: status.as_u16(), message: error_message(visitor.lang, error) };
    render(visitor, status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value a template labels with `ctx.label(vocabulary, value)`
    /// has its words in both catalogues.
    #[test]
    fn every_vocabulary_value_has_a_label_in_both_languages() {
        use techtrade_domain::{LegalStatus, ListingKind, ListingStatus, Maturity, PatentType, TradeMode};
        let labelled: Vec<(&str, Vec<&str>)> = vec![
            ("trade-mode", TradeMode::ALL.iter().map(|v| v.as_str()).collect()),
            ("maturity", Maturity::ALL.iter().map(|v| v.as_str()).collect()),
            ("patent-type", PatentType::ALL.iter().map(|v| v.as_str()).collect()),
            ("legal-status", LegalStatus::ALL.iter().map(|v| v.as_str()).collect()),
            ("listing-kind", ListingKind::ALL.iter().map(|v| v.as_str()).collect()),
            ("status", ListingStatus::ALL.iter().map(|v| v.as_str()).collect()),
            ("organization-kind", techtrade_accounts::RegistrableKind::ALL.iter().map(|v| v.as_str()).collect()),
            ("doc-type", vec!["listing", "demand"]),
            ("sort", vec!["relevance", "newest", "price_asc", "price_desc"]),
            ("facet", vec!["ipc_subclass", "region", "trade_mode", "maturity", "patent_type"]),
            (
                "done",
                vec!["created", "saved", "submitted", "withdrawn", "search_saved", "search_deleted", "member_added"],
            ),
            ("param", [&["q", "kind", "include_negotiable"][..], &crate::public::FILTERS[..]].concat()),
            ("my", vec!["listings", "demands"]),
            ("new", vec!["listings", "demands"]),
            ("none-of", vec!["listings", "demands"]),
            ("party-role", vec!["buyer", "seller", "agency"]),
            ("deal-role", vec!["buyer", "seller", "agency"]),
            ("factor", techtrade_domain::matching::Factor::ALL.iter().map(|v| v.as_str()).collect()),
            ("claim-status", techtrade_domain::claim::ClaimStatus::ALL.iter().map(|v| v.as_str()).collect()),
            ("deal-status", techtrade_domain::DealStatus::ALL.iter().map(|v| v.as_str()).collect()),
            ("contract-category", techtrade_domain::ContractCategory::ALL.iter().map(|v| v.as_str()).collect()),
            ("payment-status", techtrade_domain::deal::PaymentStatus::ALL.iter().map(|v| v.as_str()).collect()),
        ];
        let mut missing = Vec::new();
        for lang in Lang::ALL {
            for (vocabulary, values) in &labelled {
                for value in values {
                    let key = format!("{vocabulary}-{value}");
                    if !i18n::has(lang, &key) {
                        missing.push(format!("{}: {key}", lang.tag()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "labels the catalogues lack: {missing:#?}");
    }

    #[test]
    fn returns_only_to_local_paths() {
        assert_eq!(local_path(Some("/workspace?x=1")), "/workspace?x=1");
        for outside in ["//evil.example/", "https://evil.example/", "/\\evil.example", "workspace"] {
            assert_eq!(local_path(Some(outside)), "/", "{outside}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn field_messages_come_from_the_catalogue_by_code() {
        let error = ApiError::new(ErrorCode::ValidationFailed, "bad")
            .with_field("organization.credit_code", "bad_check_digit", "the check character should be 6")
            .with_field("user.email", "some_unknown_code", "an e-mail address is name@domain");
        let errors = FormErrors::from_error(Lang::Zh, &error);
        assert_eq!(
            errors.field("organization.credit_code").unwrap(),
            &i18n::text(Lang::Zh, "field-bad_check_digit", &[])
        );
        assert_eq!(errors.field("user.email").unwrap(), "an e-mail address is name@domain");
        assert!(errors.general.is_none(), "a validation error is told on its fields");

        let price = ApiError::new(ErrorCode::ValidationFailed, "bad")
            .with_field("price_fen", "required", "give a price")
            .with_field("patents[2].grant_date", "required", "a granted invention has a grant date")
            .with_field("title", "required", "required");
        let errors = FormErrors::from_error(Lang::En, &price);
        assert_eq!(errors.field("price_fen").unwrap(), &i18n::text(Lang::En, "field-price_fen-required", &[]));
        assert_eq!(
            errors.field("patents[2].grant_date").unwrap(),
            &i18n::text(Lang::En, "field-patents-grant_date-required", &[])
        );
        assert_eq!(errors.field("title").unwrap(), &i18n::text(Lang::En, "field-required", &[]));
    }
}

//! Checks of one field while it is typed (htmx asks on `change`): the
//! domain's own parsers — the ones the services run on submit — so that
//! the answer here and the answer on submit are the same rule. Without
//! JavaScript nothing asks, and the submit tells.

use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use techtrade_domain::violations::Coded;
use techtrade_domain::{ApplicationNumber, CreditCode, IpcCode, RegionCode};

use crate::i18n;
use crate::page;
use crate::session::Visitor;

#[derive(Template)]
#[template(path = "check.html")]
struct Check {
    message: Option<String>,
}

/// The message of a value that does not pass, in the visitor's language.
fn problem(visitor: &Visitor, error: &impl Coded) -> Option<String> {
    let key = format!("field-{}", error.code());
    Some(if i18n::has(visitor.lang, &key) { i18n::text(visitor.lang, &key, &[]) } else { error.to_string() })
}

/// `GET /check/{field}?<any name>=<value>`: nothing when the value passes
/// (or is empty: a blank field is the submit's to report), else its
/// message. The value is the query's first, whatever its name, because
/// htmx sends the input under the input's own name.
pub async fn check(visitor: Visitor, Path(field): Path<String>, RawQuery(query): RawQuery) -> Response {
    let value = query
        .as_deref()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).next().map(|(_, v)| v.trim().to_string()))
        .unwrap_or_default();
    let message = if value.is_empty() {
        None
    } else {
        match field.as_str() {
            "credit-code" => CreditCode::parse(&value).err().and_then(|e| problem(&visitor, &e)),
            "region-code" => RegionCode::parse(&value).err().and_then(|e| problem(&visitor, &e)),
            "application-number" => ApplicationNumber::parse(&value).err().and_then(|e| problem(&visitor, &e)),
            "ipc" => crate::workspace::ipc_codes(&value)
                .iter()
                .find_map(|code| IpcCode::parse(code).err())
                .and_then(|e| problem(&visitor, &e)),
            _ => return page::error_page(&visitor, &techtrade_web::ApiError::not_found("check")),
        }
    };
    page::render(&visitor, StatusCode::OK, &Check { message })
}

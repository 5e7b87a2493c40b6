//! `/console/audit`: the audit trail for the auditor (三员分立) — every
//! change, sign-in, failed sign-in and lock-out, newest first, filtered by
//! who, which organisation, what object, what action and which days, and
//! exported as CSV. It reads through the same service as `GET
//! /api/v1/audit`; nobody else sees it, administrators included.

use askama::Template;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use techtrade_accounts::{AuditQuery, AuditRecordView};
use techtrade_web::pagination::{Page, PageQuery};
use techtrade_web::{AppState, CurrentUser, RequestId};

use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;
use crate::workspace::signed_in;

/// A page's signed-in auditor: a visitor is sent to sign in, anyone else gets 403.
pub struct Auditor(pub CurrentUser);

impl FromRequestParts<AppState> for Auditor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        let user = signed_in(&visitor)?;
        if let Err(refusal) = user.require_auditor() {
            return Err(page::error_page(&visitor, &refusal));
        }
        Ok(Self(user))
    }
}

/// The filter as typed, kept in the form.
#[derive(Debug, Default, Deserialize)]
struct Typed {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

#[derive(Template)]
#[template(path = "console_audit.html")]
struct AuditPage {
    ctx: Ctx,
    typed: Typed,
    page: Option<Page<AuditRecordView>>,
    /// The query without its page number, for the export and the pager.
    filter_query: String,
    errors: FormErrors,
}

impl AuditPage {
    /// The filter's fields: (name, label key, input type, as typed).
    fn fields(&self) -> [(&'static str, &'static str, &'static str, &str); 6] {
        let t = &self.typed;
        [
            ("actor", "audit-actor", "text", &t.actor),
            ("organization", "audit-organization", "text", &t.organization),
            ("object", "audit-object", "text", &t.object),
            ("action", "audit-action", "text", &t.action),
            ("from", "stat-period-from", "date", &t.from),
            ("to", "stat-period-to", "date", &t.to),
        ]
    }

    /// An instant as Beijing date and time, to the second.
    fn moment(&self, record: &AuditRecordView) -> String {
        record.time.with_timezone(&techtrade_db::market_offset()).format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// A recorded state as compact JSON, or a dash.
    fn state(&self, value: &Option<serde_json::Value>) -> String {
        value.as_ref().map_or_else(|| "—".to_string(), |v| v.to_string())
    }

    /// The link to page `n` of the same filter.
    fn page_link(&self, n: u32) -> String {
        let separator = if self.filter_query.is_empty() { "" } else { "&" };
        format!("/console/audit?{}{separator}page={n}", self.filter_query)
    }

    fn last_page(&self) -> u32 {
        self.page.as_ref().map_or(1, |p| {
            let pages = (p.total + i64::from(p.per_page) - 1) / i64::from(p.per_page);
            u32::try_from(pages.max(1)).unwrap_or(u32::MAX)
        })
    }
}

/// `raw` without its `page` (and `per_page`) parameters.
fn without_paging(raw: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(raw.as_bytes())
                .filter(|(key, value)| key != "page" && key != "per_page" && !value.is_empty()),
        )
        .finish()
}

/// `GET /console/audit`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Auditor(user): Auditor,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let typed: Typed = techtrade_web::parse_query(&raw).unwrap_or_default();
    let asked = techtrade_web::parse_query::<AuditQuery>(&raw)
        .and_then(|query| Ok((query, techtrade_web::parse_query::<PageQuery>(&raw)?)));
    let found = match asked {
        Ok((query, paging)) => {
            techtrade_accounts::audit_page(&state, &user, query, PageQuery { per_page: Some(50), ..paging }).await
        }
        Err(error) => Err(error),
    };
    let (page, failure) = match found {
        Ok(page) => (Some(page), None),
        Err(error) => (None, Some(error)),
    };
    let (status, errors) = match page::outcome(&visitor, failure.as_ref(), |e| FormErrors::from_error(visitor.lang, e))
    {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let shown = AuditPage { ctx: Ctx::new(&visitor), typed, page, filter_query: without_paging(&raw), errors };
    page::render(&visitor, status, &shown)
}

/// `GET /console/audit/export.csv`: every record the filter matches.
pub async fn export(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Auditor(user): Auditor,
    RawQuery(raw): RawQuery,
) -> Response {
    let exported = match techtrade_web::parse_query::<AuditQuery>(&raw.unwrap_or_default()) {
        Ok(query) => techtrade_accounts::export_audit_csv(&state, &user, query, request_id).await,
        Err(error) => Err(error),
    };
    match exported {
        Ok(bytes) => techtrade_accounts::audit_csv_download(bytes),
        Err(error) => page::error_page(&visitor, &error),
    }
}

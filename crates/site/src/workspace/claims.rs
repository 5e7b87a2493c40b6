//! Subsidy claims: choose a program, a year and the role claimed as, see
//! what it would pay line by line (and which deals do not count, and why),
//! submit it, and follow its review.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::response::Response;
use chrono::Datelike;
use techtrade_domain::policy::PartyRole;
use techtrade_subsidy::views::ClaimView;
use techtrade_subsidy::{ClaimPreviewRequest, ClaimRequest, ListClaimsQuery, ProgramView, Programs};
use techtrade_web::{ApiError, AppState, CurrentUser, IdempotencyKey, RequestId};

use super::Member;
use super::form::Fields;
use crate::calculation::ShownCalculation;
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;

/// The claim asked about, as the form holds it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Asked {
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    done: String,
}

impl Asked {
    /// The preview request, when the form names a claim (400 for a year
    /// or role that is not one, on its field).
    fn preview(&self) -> Option<Result<ClaimPreviewRequest, ApiError>> {
        if self.program_id.is_empty() {
            return None;
        }
        let year = self
            .year
            .trim()
            .parse::<i32>()
            .map_err(|_| ApiError::invalid_field("year", "invalid_value", "a year, e.g. 2025"));
        let role = PartyRole::from_db(&self.role)
            .ok_or_else(|| ApiError::invalid_field("role", "invalid_value", "buyer, seller or agency"));
        Some(
            year.and_then(|year| {
                role.map(|role| ClaimPreviewRequest { program_id: self.program_id.clone(), year, role })
            }),
        )
    }
}

#[derive(Template)]
#[template(path = "claims.html")]
struct ClaimsPage {
    ctx: Ctx,
    programs: Vec<ProgramView>,
    roles: Vec<&'static str>,
    asked: Asked,
    calculation: Option<ShownCalculation>,
    claims: Vec<ClaimView>,
    errors: FormErrors,
    /// A fresh idempotency key for the submit form.
    key: String,
}

impl ClaimsPage {
    fn program_name(&self, id: &str) -> String {
        self.programs.iter().find(|p| p.id == id).map_or_else(|| id.to_string(), |p| p.name.clone())
    }
}

async fn claims_page(
    state: &AppState,
    programs: Programs,
    visitor: &Visitor,
    user: CurrentUser,
    asked: Asked,
    failure: Option<ApiError>,
) -> Response {
    let program_views = match techtrade_subsidy::program_views(&programs) {
        Ok(views) => views,
        Err(error) => return page::error_page(visitor, &error),
    };
    // The preview the form asks for, if any; a refusal of it, or of the
    // submit this page answers, is shown on the form.
    let mut calculation = None;
    let mut refusal = failure;
    // After a submit the form keeps its choice, but the claim is made:
    // no preview (and no second submit button) under the notice.
    let wanted = if asked.done.is_empty() { asked.preview() } else { None };
    match wanted {
        Some(Ok(request)) => match techtrade_subsidy::preview(state, programs.clone(), &user, request).await {
            Ok(found) => calculation = Some(found),
            Err(error) => refusal = refusal.or(Some(error)),
        },
        Some(Err(error)) => refusal = refusal.or(Some(error)),
        None => {}
    }
    let (status, errors) = match page::outcome(visitor, refusal.as_ref(), |e| FormErrors::from_error(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let query = ListClaimsQuery { per_page: Some(100), ..ListClaimsQuery::default() };
    let claims = match techtrade_subsidy::claims(state, &user, query).await {
        Ok(page) => page.items,
        Err(error) => return page::error_page(visitor, &error),
    };
    let key = match crate::session::random_hex() {
        Ok(key) => key,
        Err(error) => return page::error_page(visitor, &error),
    };
    let mut asked = asked;
    if asked.year.is_empty() {
        // Last year: the latest one whose claims are usually open.
        asked.year = (techtrade_db::today().year() - 1).to_string();
    }
    let previewed = programs.iter().find(|program| program.id() == asked.program_id);
    let calculation =
        calculation.map(|found| ShownCalculation::new(found, previewed, visitor.lang, Some("/workspace/deals/")));
    let page = ClaimsPage {
        ctx: Ctx::new(visitor),
        programs: program_views,
        roles: PartyRole::ALL.iter().map(|r| r.as_str()).collect(),
        asked,
        calculation,
        claims,
        errors,
        key,
    };
    page::render(visitor, status, &page)
}

/// `GET /workspace/claims[?program_id=&year=&role=]`: the claims, and the
/// preview of the one the form asks about.
pub async fn show(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    visitor: Visitor,
    Member(user): Member,
    Query(asked): Query<Asked>,
) -> Response {
    claims_page(&state, programs, &visitor, user, asked, None).await
}

/// `POST /workspace/claims`: submits the claim previewed.
pub async fn submit(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let asked = Asked {
        program_id: fields.text("program_id"),
        year: fields.text("year"),
        role: fields.text("role"),
        done: String::new(),
    };
    let request = match asked.preview() {
        Some(Ok(preview)) => ClaimRequest::from(preview),
        Some(Err(error)) => return claims_page(&state, programs, &visitor, user, asked, Some(error)).await,
        None => {
            let error = ApiError::invalid_field("program_id", "required", "choose a program");
            return claims_page(&state, programs, &visitor, user, asked, Some(error)).await;
        }
    };
    let key = Some(fields.text("key")).filter(|k| !k.is_empty()).map(IdempotencyKey);
    match techtrade_subsidy::submit(&state, programs.clone(), user.clone(), request_id, key, request).await {
        Ok(_) => {
            let back = form_urlencoded::Serializer::new(String::new())
                .append_pair("done", "claim_submitted")
                .append_pair("program_id", &asked.program_id)
                .append_pair("year", &asked.year)
                .append_pair("role", &asked.role)
                .finish();
            page::redirect(&format!("/workspace/claims?{back}"))
        }
        Err(error) if error.code().status().is_server_error() => page::error_page(&visitor, &error),
        Err(error) => claims_page(&state, programs, &visitor, user, asked, Some(error)).await,
    }
}

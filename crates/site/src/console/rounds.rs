//! `/console/rounds`: a program's year before and after its close. Before:
//! the claims waiting at each level, the approved total against the
//! budget and what each approved claim would receive if the round closed
//! now (the close's own pro-rating, computed without writing); then the
//! close, which leaves claims still under review out only when the
//! official says so, with a reason. After: the public notice, the CSV for
//! the books, and the disbursements to mark paid.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use chrono::Datelike;
use serde_json::{Map, Value};
use techtrade_subsidy::{
    CloseRoundRequest, DisbursementRequest, DisbursementView, ListDisbursementsQuery, ProgramView, Programs,
    RoundOutlook, SimulateRequest, SimulationResult,
};
use techtrade_web::{ApiError, AppState, CurrentUser, PageQuery, RequestId};

use super::Official;
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;
use crate::workspace::form::{Amounts, Fields, put_required, service_request};

/// The program and year asked about, as the form holds them.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Asked {
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    done: String,
    /// Changes to simulate, in the policy file's terms (TOML), e.g.
    /// `[[rules]]` / `id = "buyer"` / `rate = "8%"`.
    #[serde(default)]
    simulate: String,
}

#[derive(Template)]
#[template(path = "console_rounds.html")]
struct RoundsPage {
    ctx: Ctx,
    programs: Vec<ProgramView>,
    asked: Asked,
    outlook: Option<RoundOutlook>,
    simulation: Option<SimulationResult>,
    disbursements: Vec<DisbursementView>,
    names: HashMap<String, String>,
    today: String,
    errors: FormErrors,
    /// The form a refusal belongs to: `close`, or `paid-<disbursement id>`.
    failed: String,
}

impl RoundsPage {
    fn name<'a>(&'a self, organization_id: &'a str) -> &'a str {
        self.names.get(organization_id).map_or(organization_id, String::as_str)
    }

    fn error_of(&self, form: &str, field: &str) -> Option<&String> {
        (self.failed == form).then(|| self.errors.field(field)).flatten()
    }

    /// Claims a close now would leave stranded (waiting at level 1 or 2).
    fn pending(&self, outlook: &RoundOutlook) -> usize {
        outlook.submitted + outlook.first_approved
    }
}

async fn rounds_page(
    state: &AppState,
    programs: Programs,
    visitor: &Visitor,
    user: CurrentUser,
    mut asked: Asked,
    failure: Option<(String, ApiError)>,
) -> Response {
    let views = match techtrade_subsidy::program_views(&programs) {
        Ok(views) => views,
        Err(error) => return page::error_page(visitor, &error),
    };
    if asked.program_id.is_empty() {
        asked.program_id = views.first().map(|p| p.id.clone()).unwrap_or_default();
    }
    if asked.year.trim().is_empty() {
        // Last year: the latest whose round can usually be closed.
        asked.year = (techtrade_db::today().year() - 1).to_string();
    }
    let (failed, mut refusal) = match failure {
        Some((form, error)) => (form, Some(error)),
        None => (String::new(), None),
    };
    let mut outlook = None;
    match asked.year.trim().parse::<i32>() {
        // No program loaded: nothing to look at (the page says so).
        _ if views.is_empty() => {}
        Ok(year) => {
            match techtrade_subsidy::outlook(state, programs.clone(), &user, asked.program_id.clone(), year).await {
                Ok(found) => outlook = Some(found),
                Err(error) => refusal = refusal.or(Some(error)),
            }
        }
        Err(_) => refusal = refusal.or(Some(ApiError::invalid_field("year", "invalid_value", "a year, e.g. 2025"))),
    }
    let mut simulation = None;
    if let (false, Ok(year)) = (asked.simulate.trim().is_empty(), asked.year.trim().parse::<i32>()) {
        let result = match simulation_request(&asked.program_id, year, &asked.simulate) {
            Ok(request) => techtrade_subsidy::simulate_year(state, &programs, &user, request).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(found) => simulation = Some(found),
            Err(error) => refusal = refusal.or(Some(error)),
        }
    }
    let mut disbursements = Vec::new();
    if let Some(round) = outlook.as_ref().and_then(|o| o.round.as_ref()) {
        let everything = PageQuery { page: Some(1), per_page: Some(100) };
        let query = ListDisbursementsQuery { status: None };
        match techtrade_subsidy::disbursements(state, &user, round.id.clone(), query, everything).await {
            Ok(page) => disbursements = page.items,
            Err(error) => return page::error_page(visitor, &error),
        }
    }
    let mut names = HashMap::new();
    for disbursement in &disbursements {
        if !names.contains_key(&disbursement.organization_id) {
            match techtrade_accounts::organization(state, disbursement.organization_id.clone()).await {
                Ok(organization) => names.insert(disbursement.organization_id.clone(), organization.name),
                Err(error) => return page::error_page(visitor, &error),
            };
        }
    }
    let (status, errors) = match page::outcome(visitor, refusal.as_ref(), |e| FormErrors::from_error(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page = RoundsPage {
        ctx: Ctx::new(visitor),
        programs: views,
        asked,
        outlook,
        simulation,
        disbursements,
        names,
        today: techtrade_db::today().to_string(),
        errors,
        failed,
    };
    page::render(visitor, status, &page)
}

/// The simulation the form asks for: its TOML read as the policy file's
/// terms (422 on `simulate` when it is not TOML).
fn simulation_request(program_id: &str, year: i32, terms: &str) -> Result<SimulateRequest, ApiError> {
    let changes: toml::Table = toml::from_str(terms)
        .map_err(|e| ApiError::invalid_field("simulate", "invalid_policy", format!("not TOML: {}", e.message())))?;
    let policy = serde_json::to_value(changes)
        .map_err(|e| ApiError::invalid_field("simulate", "invalid_policy", e.to_string()))?;
    Ok(SimulateRequest { program_id: program_id.to_string(), year, policy: Some(policy) })
}

/// `GET /console/rounds[?program_id=&year=&simulate=]`.
pub async fn show(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    visitor: Visitor,
    Official(user): Official,
    Query(asked): Query<Asked>,
) -> Response {
    rounds_page(&state, programs, &visitor, user, asked, None).await
}

/// Back to the program's year, with what was done.
fn back(program_id: &str, year: &str, done: &str) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("program_id", program_id)
        .append_pair("year", year)
        .append_pair("done", done)
        .finish();
    page::redirect(&format!("/console/rounds?{query}"))
}

/// `POST /console/rounds`: closes the program's year; claims still under
/// review are left out only when `exclude` is checked (with an optional
/// reason their claimants read).
pub async fn close(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Official(user): Official,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let asked = Asked { program_id: fields.text("program_id"), year: fields.text("year"), ..Asked::default() };
    let mut request = Map::new();
    request.insert("program_id".into(), Value::String(asked.program_id.clone()));
    match asked.year.parse::<i32>() {
        Ok(year) => request.insert("year".into(), Value::from(year)),
        Err(_) => request.insert("year".into(), Value::String(asked.year.clone())),
    };
    let exclude = fields.checked("exclude");
    request.insert("pending".into(), Value::String(if exclude { "exclude" } else { "refuse" }.into()));
    let reason = fields.text("reason");
    if exclude && !reason.is_empty() {
        request.insert("reason".into(), Value::String(reason));
    }
    let parsed = service_request::<CloseRoundRequest>(request, &Amounts::default());
    let result = match parsed {
        Ok(request) => {
            techtrade_subsidy::close_round_as(&state, programs.clone(), user.clone(), request_id, request).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => back(&asked.program_id, &asked.year, "closed"),
        Err(error) => rounds_page(&state, programs, &visitor, user, asked, Some(("close".into(), error))).await,
    }
}

/// `POST /console/disbursements/{id}/paid`: the award was paid out, on a
/// day and under a bank or treasury reference.
pub async fn paid(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Official(user): Official,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let asked = Asked { program_id: fields.text("program_id"), year: fields.text("year"), ..Asked::default() };
    let mut request = Map::new();
    put_required(&mut request, "paid_on", &fields.text("paid_on"));
    request.insert("reference".into(), Value::String(fields.text("reference")));
    let parsed = service_request::<DisbursementRequest>(request, &Amounts::default());
    let result = match parsed {
        Ok(request) => techtrade_subsidy::record_paid(&state, user.clone(), request_id, id.clone(), request).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => back(&asked.program_id, &asked.year, "paid"),
        Err(error) => rounds_page(&state, programs, &visitor, user, asked, Some((format!("paid-{id}"), error))).await,
    }
}

/// `GET /console/rounds/{id}/export.csv`: the closed round for the books.
pub async fn export(
    State(state): State<AppState>,
    visitor: Visitor,
    Official(user): Official,
    Path(id): Path<String>,
) -> Response {
    match techtrade_subsidy::round_csv(&state, &user, id).await {
        Ok(response) => response,
        Err(error) => page::error_page(&visitor, &error),
    }
}

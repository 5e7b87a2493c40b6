//! `GET /api/v1/subsidy/programs`: the programs of the policy files, with
//! their rules in plain words.

use axum::extract::Extension;
use serde::Serialize;
use techtrade_domain::policy::{Lang, Program};
use techtrade_web::{ApiError, ApiResult, AppState, Json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Programs;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_programs))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramView {
    pub id: String,
    pub name: String,
    pub authority: Option<String>,
    /// The year's budget; none when approved amounts are paid in full.
    pub budget_fen: Option<i64>,
    /// `proportional` or `none`.
    pub proration: String,
    /// The day (`MM-DD`) of the year after a claim year from which claims
    /// for it may be submitted; `01-01` unless the program sets another.
    #[schema(example = "01-01")]
    pub claims_open_on: String,
    /// Set when some values still await the authority (e.g. Qinghai's rates):
    /// computed amounts are then indicative only.
    pub placeholder_note: Option<String>,
    /// The rules as the policy file states them.
    #[schema(value_type = Vec<Object>)]
    pub rules: serde_json::Value,
    /// One plain-language line per rule, then the budget, in Chinese and English.
    pub summary_zh: Vec<String>,
    pub summary_en: Vec<String>,
    /// SHA-256 of the program's rules in canonical form: a claim computed
    /// under these rules carries the same `policy_digest`.
    pub digest: String,
}

impl ProgramView {
    fn new(program: &Program) -> Result<Self, ApiError> {
        Ok(Self {
            id: program.id().to_string(),
            name: program.name().to_string(),
            authority: program.authority().map(str::to_string),
            budget_fen: program.budget().map(|b| b.fen()),
            proration: program.proration().as_str().to_string(),
            claims_open_on: program.claims_open_on().to_string(),
            placeholder_note: program.placeholder_note().map(str::to_string),
            rules: serde_json::to_value(program.rules()).map_err(ApiError::internal)?,
            summary_zh: program.describe(Lang::Zh),
            summary_en: program.describe(Lang::En),
            digest: crate::claims::digest(program),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramsResponse {
    pub items: Vec<ProgramView>,
}

/// The subsidy programs in force (from `subsidy.policy_dir`), for anyone.
#[utoipa::path(get, path = "/api/v1/subsidy/programs", tag = "subsidy",
    responses((status = 200, body = ProgramsResponse)))]
pub(crate) async fn list_programs(Extension(programs): Extension<Programs>) -> ApiResult<Json<ProgramsResponse>> {
    Ok(Json(ProgramsResponse { items: program_views(&programs)? }))
}

/// Every program in force with its rules in plain words.
pub fn program_views(programs: &Programs) -> ApiResult<Vec<ProgramView>> {
    programs.iter().map(ProgramView::new).collect()
}

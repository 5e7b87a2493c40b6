//! The market's figures for a period and region — listings and demands
//! published, deals opened and completed, contracts registered with their
//! amounts by category, month and prefecture, subsidies per program — for
//! officials: `GET /api/v1/statistics`, and the console's page, CSV and
//! Excel workbook, all from [`report`].

use std::sync::Arc;

use axum::extract::{Extension, State};
use techtrade_domain::policy::Program;
use techtrade_web::{ApiResult, AppState, CurrentUser, Json, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod export;
mod period;
mod registrations;
mod report;

pub use period::{MAX_MONTHS, Scope, StatisticsQuery};
pub use registrations::{
    RegistrationFigures, RegistrationGrouping, RegistrationStatistics, RegistrationStatisticsQuery,
    registration_statistics,
};
pub use report::{
    CategoryFigures, ContractFigures, MarketReport, MonthFigures, PrefectureFigures, ProgramFigures, regions, report,
};

type Problem = techtrade_web::error::Problem;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_statistics))
        .routes(routes!(get_registration_statistics))
        .routes(routes!(export_registration_statistics))
}

/// The contracts registered in a period (Beijing dates, both ends
/// included; this year so far by default), grouped, with 成交额 and
/// 技术交易额 as registered: from platform deals and from contracts signed
/// elsewhere alike. Officials and administrators.
#[utoipa::path(get, path = "/api/v1/statistics/registrations", tag = "statistics",
    params(RegistrationStatisticsQuery), security(("bearer" = [])),
    responses((status = 200, body = RegistrationStatistics), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn get_registration_statistics(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<RegistrationStatisticsQuery>,
) -> ApiResult<Json<RegistrationStatistics>> {
    Ok(Json(registration_statistics(&state, &user, query).await?))
}

/// The same figures as CSV: `key,count,total_fen,technology_fen`, the totals last.
#[utoipa::path(get, path = "/api/v1/statistics/registrations.csv", tag = "statistics",
    params(RegistrationStatisticsQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn export_registration_statistics(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<RegistrationStatisticsQuery>,
) -> ApiResult<axum::response::Response> {
    let statistics = registration_statistics(&state, &user, query).await?;
    let name = format!("registrations-{}-{}.csv", statistics.from, statistics.to);
    Ok(techtrade_web::download::csv(&name, registrations::csv(&statistics)?))
}

/// The market's figures for a period (Beijing dates, both ends included;
/// this year so far by default) and region (the whole market by default).
/// Officials and administrators.
#[utoipa::path(get, path = "/api/v1/statistics", tag = "statistics", params(StatisticsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = MarketReport), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
async fn get_statistics(
    State(state): State<AppState>,
    Extension(programs): Extension<Arc<Vec<Program>>>,
    user: CurrentUser,
    Query(query): Query<StatisticsQuery>,
) -> ApiResult<Json<MarketReport>> {
    Ok(Json(report(&state, &user, &programs, query).await?))
}

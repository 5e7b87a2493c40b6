//! Closed rounds: the list of them (where to find each year's notice), the
//! public notice (公示), the officials' CSV, and the disbursements with the
//! record of each payment. Closing one is `close.rs`.

use axum::extract::{Extension, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use techtrade_db::subsidy::{self as db, Disbursement, RoundFilter, SubsidyRound};
use techtrade_db::{AnyConnection, audit};
use techtrade_domain::claim::DisbursementStatus;
use techtrade_domain::deal;
use techtrade_domain::policy::{PartyRole, Program};
use techtrade_domain::{Money, Violations, text};
use techtrade_web::{
    ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Page, PageQuery, Path, Query, RequestId,
};
use utoipa::{IntoParams, ToSchema};

use crate::Programs;
use crate::views::{NoticeLine, RoundNotice, RoundView};

type Problem = techtrade_web::error::Problem;

/// How long a round's results stay on public notice: at least five
/// working days (Qinghai's rules, and common practice).
pub const NOTICE_WORKING_DAYS: u32 = 5;

fn money(fen: i64) -> Result<Money, ApiError> {
    Money::from_fen(fen).map_err(ApiError::internal)
}

/// The public notice of a closed round.
pub(crate) fn notice(
    conn: &mut AnyConnection,
    program: &Program,
    round: SubsidyRound,
) -> Result<RoundNotice, ApiError> {
    let items = db::round_claims(conn, &round.program_id, round.year)?
        .into_iter()
        .map(|(claim, name, _)| {
            Ok(NoticeLine {
                organization_name: name,
                role: PartyRole::from_db(&claim.role).ok_or_else(|| ApiError::internal("unknown claim role"))?,
                approved_amount_fen: claim.approved_amount_fen.unwrap_or(claim.computed_amount_fen),
                final_amount_fen: claim.final_amount_fen.unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(RoundNotice { round: RoundView::new(round, Some(program)), items })
}

/// The round and its program, or 404.
fn load_round<'a>(
    conn: &mut AnyConnection,
    programs: &'a Programs,
    id: &str,
) -> Result<(SubsidyRound, Option<&'a Program>), ApiError> {
    let round = db::find_round(conn, id)?.ok_or_else(|| ApiError::not_found("round"))?;
    let program = programs.iter().find(|p| p.id() == round.program_id);
    Ok((round, program))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRoundsQuery {
    /// Only this program's rounds (an id of `GET /api/v1/subsidy/programs`).
    pub program_id: Option<String>,
    /// Only the rounds of this claim year.
    pub year: Option<i32>,
}

/// Closed rounds, newest first, for anyone: where each year's public notice is.
#[utoipa::path(get, path = "/api/v1/subsidy/rounds", tag = "subsidy", params(ListRoundsQuery, PageQuery),
    responses((status = 200, body = Page<RoundView>), (status = 400, body = Problem)))]
pub(crate) async fn list_rounds(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    Query(query): Query<ListRoundsQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<RoundView>>> {
    Ok(Json(rounds(&state, programs, query, page).await?))
}

/// Closed rounds, newest first: the API's list and the web front's notices.
pub async fn rounds(
    state: &AppState,
    programs: Programs,
    query: ListRoundsQuery,
    page: PageQuery,
) -> ApiResult<Page<RoundView>> {
    let page = page.validate()?;
    let filter =
        RoundFilter { program_id: query.program_id, year: query.year, offset: page.offset(), limit: page.limit() };
    state
        .db
        .run(move |conn| {
            let (rounds, total) = db::list_rounds(conn, &filter)?;
            let items = rounds
                .into_iter()
                .map(|round| {
                    let program = programs.iter().find(|p| p.id() == round.program_id);
                    RoundView::new(round, program)
                })
                .collect();
            Ok(Page::new(items, total, page))
        })
        .await
}

/// The public notice (公示) of a closed round: who receives how much.
#[utoipa::path(get, path = "/api/v1/subsidy/rounds/{id}", tag = "subsidy", params(("id" = String, Path)),
    responses((status = 200, body = RoundNotice), (status = 404, body = Problem)))]
pub(crate) async fn get_round(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    Path(id): Path<String>,
) -> ApiResult<Json<RoundNotice>> {
    Ok(Json(round_notice(&state, programs, id).await?))
}

/// A closed round's public notice; 404 for no such round.
pub async fn round_notice(state: &AppState, programs: Programs, id: String) -> ApiResult<RoundNotice> {
    state
        .db
        .run(move |conn| {
            let (round, program) = load_round(conn, &programs, &id)?;
            let program = program.ok_or_else(|| ApiError::not_found("round"))?;
            notice(conn, program, round)
        })
        .await
}

/// The round for the officials' books: every claim with its organisation's
/// credit code, amounts and disbursement, as CSV (UTF-8 with a byte-order
/// mark, so spreadsheet programs read the Chinese names right).
#[utoipa::path(get, path = "/api/v1/subsidy/rounds/{id}/export.csv", tag = "subsidy", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub(crate) async fn export_round(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    round_csv(&state, &user, id).await
}

/// A closed round for the officials' books, as a CSV download (the API's
/// `export.csv` and the console's link).
pub async fn round_csv(state: &AppState, user: &CurrentUser, id: String) -> ApiResult<Response> {
    user.require_official()?;
    let (round, bytes) = state
        .db
        .run(move |conn| {
            let round = db::find_round(conn, &id)?.ok_or_else(|| ApiError::not_found("round"))?;
            let claims = db::round_claims(conn, &round.program_id, round.year)?;
            let disbursements = db::disbursements_of(conn, &round.id)?;
            let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
            let header = [
                "claim_id",
                "organization",
                "credit_code",
                "role",
                "computed_amount_fen",
                "approved_amount_fen",
                "final_amount_fen",
                "final_amount_yuan",
                "disbursement_id",
                "disbursement_status",
                "paid_on",
                "reference",
            ];
            writer.write_record(header).map_err(ApiError::internal)?;
            for (claim, name, credit_code) in claims {
                let disbursement = disbursements.iter().find(|d| d.claim_id == claim.id);
                let final_fen = claim.final_amount_fen.unwrap_or_default();
                writer
                    .write_record([
                        claim.id.as_str(),
                        &name,
                        &credit_code,
                        &claim.role,
                        &claim.computed_amount_fen.to_string(),
                        &claim.approved_amount_fen.map(|a| a.to_string()).unwrap_or_default(),
                        &final_fen.to_string(),
                        &money(final_fen)?.to_string().replace(',', ""),
                        disbursement.map(|d| d.id.as_str()).unwrap_or_default(),
                        disbursement.map(|d| d.status.as_str()).unwrap_or_default(),
                        &disbursement.and_then(|d| d.paid_on).map(|d| d.to_string()).unwrap_or_default(),
                        disbursement.and_then(|d| d.reference.as_deref()).unwrap_or_default(),
                    ])
                    .map_err(ApiError::internal)?;
            }
            let bytes = writer.into_inner().map_err(ApiError::internal)?;
            Ok::<_, ApiError>((round, bytes))
        })
        .await?;
    Ok(techtrade_web::download::csv(&format!("{}-{}.csv", round.program_id, round.year), bytes))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DisbursementRequest {
    /// The day the money was transferred: today or earlier.
    pub paid_on: NaiveDate,
    /// The treasury's or bank's transaction reference.
    #[schema(min_length = 1, max_length = 100, pattern = r"[^\s\u0085]")]
    pub reference: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisbursementView {
    pub id: String,
    pub round_id: String,
    pub claim_id: String,
    pub organization_id: String,
    pub amount_fen: i64,
    pub status: DisbursementStatus,
    pub paid_on: Option<NaiveDate>,
    pub reference: Option<String>,
}

impl TryFrom<Disbursement> for DisbursementView {
    type Error = ApiError;

    fn try_from(d: Disbursement) -> Result<Self, ApiError> {
        let status = DisbursementStatus::from_db(&d.status)
            .ok_or_else(|| ApiError::internal(format!("unknown disbursement status {:?}", d.status)))?;
        Ok(Self {
            id: d.id,
            round_id: d.round_id,
            claim_id: d.claim_id,
            organization_id: d.organization_id,
            amount_fen: d.amount_fen,
            status,
            paid_on: d.paid_on,
            reference: d.reference,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDisbursementsQuery {
    /// Only the disbursements in this status: `pending` are still to pay.
    #[param(inline)]
    pub status: Option<DisbursementStatus>,
}

/// A closed round's disbursements, in claim submission order, for
/// officials: which awards are paid and which are still to pay.
#[utoipa::path(get, path = "/api/v1/subsidy/rounds/{id}/disbursements", tag = "subsidy", security(("bearer" = [])),
    params(("id" = String, Path), ListDisbursementsQuery, PageQuery),
    responses((status = 200, body = Page<DisbursementView>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn list_disbursements(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<ListDisbursementsQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<DisbursementView>>> {
    disbursements(&state, &user, id, query, page).await.map(Json)
}

/// A closed round's disbursements, for officials.
pub async fn disbursements(
    state: &AppState,
    user: &CurrentUser,
    id: String,
    query: ListDisbursementsQuery,
    page: PageQuery,
) -> ApiResult<Page<DisbursementView>> {
    user.require_official()?;
    let page = page.validate()?;
    state
        .db
        .run(move |conn| {
            let round = db::find_round(conn, &id)?.ok_or_else(|| ApiError::not_found("round"))?;
            let status = query.status.map(DisbursementStatus::as_str);
            let (disbursements, total) = db::disbursements_page(conn, &round.id, status, page.offset(), page.limit())?;
            let items = disbursements.into_iter().map(DisbursementView::try_from).collect::<Result<_, _>>()?;
            Ok(Page::new(items, total, page))
        })
        .await
}

/// An official records that a round's award was paid out.
#[utoipa::path(post, path = "/api/v1/subsidy/disbursements/{id}/paid", tag = "subsidy",
    request_body = DisbursementRequest, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = DisbursementView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn record_disbursement(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<DisbursementRequest>,
) -> ApiResult<Json<DisbursementView>> {
    record_paid(&state, user, request_id, id, request).await.map(Json)
}

/// An official records that disbursement `id` was paid out, on a day and
/// under a reference; never to their own organisation.
pub async fn record_paid(
    state: &AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    request: DisbursementRequest,
) -> ApiResult<DisbursementView> {
    user.require_official()?;
    let mut violations = Violations::new();
    let today = techtrade_db::today();
    let paid_on = violations.check("paid_on", deal::not_in_future(request.paid_on, today));
    let reference = violations.check("reference", text::required(&request.reference, 100));
    let (paid_on, reference) = violations.finish(|| Some((paid_on?, reference?)))?;
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let mut disbursement =
                    db::find_disbursement(conn, &id)?.ok_or_else(|| ApiError::not_found("disbursement"))?;
                // The same conflict of interest as reviewing one's own claim:
                // an official may not attest that their own organisation was paid.
                if user.is_member_of(&disbursement.organization_id) {
                    return Err(ApiError::new(
                        ErrorCode::OwnOrganization,
                        "officials may not record payments to their own organisation",
                    ));
                }
                disbursement.status = DisbursementStatus::Paid.as_str().into();
                disbursement.paid_on = Some(paid_on);
                disbursement.reference = Some(reference);
                disbursement.recorded_by = Some(user.user_id.clone());
                disbursement.updated_at = techtrade_db::now();
                if !db::mark_disbursed(conn, &disbursement)? {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        "this disbursement is already recorded as paid",
                    ));
                }
                let after = json!({
                    "round_id": disbursement.round_id,
                    "claim_id": disbursement.claim_id,
                    "amount_fen": disbursement.amount_fen,
                    "paid_on": disbursement.paid_on,
                    "reference": disbursement.reference,
                });
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user.user_id),
                        action: "disbursement.paid",
                        subject_type: "disbursement",
                        subject_id: &disbursement.id,
                        before: None,
                        after: Some(after),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                DisbursementView::try_from(disbursement)
            })
        })
        .await
}

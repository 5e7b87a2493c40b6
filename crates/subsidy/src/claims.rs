//! Claims: preview what a program would pay an organisation for a year and
//! role, submit it (the calculation and its inputs frozen on the claim),
//! and read claims back — officials all, members their own.

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use techtrade_db::subsidy::{self as db, ClaimFilter, SubsidyClaim};
use techtrade_db::{AnyConnection, audit, outbox};
use techtrade_domain::claim::ClaimStatus;
use techtrade_domain::policy::{Calculation, Claim, DealFacts, PartyRole, Program};
use techtrade_domain::{Violations, ids};
use techtrade_web::idempotency::{self as keyed, IdempotencyKey, Keyed};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Page, Path, Query, RequestId};
use utoipa::{IntoParams, ToSchema};

use crate::open_year::lock_open_year;
use crate::views::{self, ClaimView};
use crate::{Programs, facts};

type Problem = techtrade_web::error::Problem;

/// Which claim: an organisation's, for one program, year and role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimRequest {
    #[schema(example = "qinghai")]
    pub program_id: String,
    #[schema(example = 2026)]
    pub year: i32,
    pub role: PartyRole,
}

/// A preview's request: a claim's fields, its `year` any year so far (the
/// current one included), which is why the document describes it apart.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimPreviewRequest {
    #[schema(example = "qinghai")]
    pub program_id: String,
    #[schema(example = 2026)]
    pub year: i32,
    pub role: PartyRole,
}

impl From<ClaimPreviewRequest> for ClaimRequest {
    fn from(preview: ClaimPreviewRequest) -> Self {
        Self { program_id: preview.program_id, year: preview.year, role: preview.role }
    }
}

/// The earliest year a claim may be for: the market's records start here.
pub(crate) const FIRST_YEAR: i32 = 2000;

/// What a request does with a program's year, which decides the years it may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum YearUse {
    /// A preview or a simulation: a what-if, so any year up to the current
    /// one, the year so far included.
    WhatIf,
    /// A submission or a round's close: only once the program's claims for
    /// the year are open (`Program::accepts_claims`).
    Claim,
}

/// The program a request names and its year, checked for `use_`.
pub(crate) fn program_and_year<'a>(
    programs: &'a Programs,
    program_id: &str,
    year: i32,
    use_: YearUse,
) -> Result<&'a Program, ApiError> {
    let program = programs.iter().find(|p| p.id() == program_id);
    let today = techtrade_db::today();
    let this_year = today.year();
    let mut violations = Violations::new();
    if program.is_none() {
        violations.push("program_id", "unknown_program", "no subsidy program with this id");
    }
    if !(FIRST_YEAR..=this_year).contains(&year) {
        violations.push("year", "out_of_range", format!("a year from {FIRST_YEAR} to {this_year}"));
    } else if let (Some(program), YearUse::Claim) = (program, use_) {
        violations.check("year", program.accepts_claims(year, today));
    }
    Ok(violations.finish(|| program)?)
}

/// The digest of the rules a calculation used.
pub(crate) fn digest(program: &Program) -> String {
    hex::encode(Sha256::digest(program.canonical_toml().as_bytes()))
}

/// The calculation for `organization_id`, with the deal facts it read.
fn compute(
    conn: &mut AnyConnection,
    program: &Program,
    request: &ClaimRequest,
    organization_id: &str,
) -> Result<(Calculation, Vec<DealFacts>), ApiError> {
    let deals = facts::of_claimant(conn, request.role, organization_id)?;
    let claim = Claim { role: request.role, organization_id: organization_id.to_string(), year: request.year };
    Ok((program.calculate(&claim, &deals), deals))
}

/// What the program would pay the caller's organisation: itemised lines,
/// ineligible deals with reasons, and an explanation. Changes nothing, so
/// it stays open for the current year as a what-if of the year so far,
/// before claims for the year open.
#[utoipa::path(post, path = "/api/v1/subsidy/claims/preview", tag = "subsidy", request_body = ClaimPreviewRequest,
    security(("bearer" = [])),
    responses((status = 200, body = views::CalculationView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn preview_claim(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    user: CurrentUser,
    Json(request): Json<ClaimPreviewRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let calculation = preview(&state, programs, &user, request).await?;
    serde_json::to_value(&calculation).map(Json).map_err(ApiError::internal)
}

/// What a program would pay `user`'s organisation for a year and role, as
/// it stands: changes nothing.
pub async fn preview(
    state: &AppState,
    programs: Programs,
    user: &CurrentUser,
    asked: ClaimPreviewRequest,
) -> ApiResult<Calculation> {
    let request = ClaimRequest::from(asked);
    let organization_id = user.organization()?.to_string();
    program_and_year(&programs, &request.program_id, request.year, YearUse::WhatIf)?;
    state
        .db
        .run(move |conn| {
            let program = program_and_year(&programs, &request.program_id, request.year, YearUse::WhatIf)?;
            Ok(compute(conn, program, &request, &organization_id)?.0)
        })
        .await
}

/// Submits the claim: computed now and frozen. One per organisation,
/// program, year and role; honours `Idempotency-Key`. Claims for a year
/// open once it has ended (1 January of the next year, market date, or the
/// program's `claims_open_on`): earlier, 422 naming `year` (`claims_not_open`);
/// once the year's round is closed, 409 `round_closed`.
#[utoipa::path(post, path = "/api/v1/subsidy/claims", tag = "subsidy", request_body = ClaimRequest,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key replay the first answer")),
    responses((status = 201, body = ClaimView), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub(crate) async fn submit_claim(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    key: Option<IdempotencyKey>,
    Json(request): Json<ClaimRequest>,
) -> ApiResult<Keyed<ClaimView>> {
    submit(&state, programs, user, request_id, key, request).await
}

/// Submits `user`'s organisation's claim, computed now and frozen; once
/// per idempotency key.
pub async fn submit(
    state: &AppState,
    programs: Programs,
    user: CurrentUser,
    request_id: Option<String>,
    key: Option<IdempotencyKey>,
    request: ClaimRequest,
) -> ApiResult<Keyed<ClaimView>> {
    let organization_id = user.organization()?.to_string();
    program_and_year(&programs, &request.program_id, request.year, YearUse::Claim)?;
    let fingerprint = keyed::fingerprint("POST /api/v1/subsidy/claims", &request);
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                keyed::once(conn, &user.user_id, key.as_ref(), &fingerprint, StatusCode::CREATED, |conn| {
                    let program = program_and_year(&programs, &request.program_id, request.year, YearUse::Claim)?;
                    lock_open_year(conn, program.id(), request.year)?;
                    let (calculation, deals) = compute(conn, program, &request, &organization_id)?;
                    if !calculation.eligible {
                        return Err(ApiError::new(ErrorCode::NotEligible, calculation.explanation.clone()));
                    }
                    let now = techtrade_db::now();
                    let policy_digest = digest(program);
                    let frozen = json!({
                        "calculation": calculation,
                        "deals": deals,
                        "program": {"id": program.id(), "digest": policy_digest},
                    });
                    let claim = SubsidyClaim {
                        id: ids::new_id(),
                        program_id: request.program_id.clone(),
                        year: request.year,
                        role: request.role.as_str().to_string(),
                        organization_id: organization_id.clone(),
                        status: ClaimStatus::Submitted.as_str().to_string(),
                        computed_amount_fen: calculation.amount.fen(),
                        approved_amount_fen: None,
                        final_amount_fen: None,
                        calculation: frozen.to_string(),
                        policy_digest,
                        submitted_by: user.user_id.clone(),
                        submitted_at: now,
                        updated_at: now,
                        version: 1,
                        status_reason: None,
                    };
                    // A savepoint, so the duplicate's error leaves the transaction usable.
                    let inserted = techtrade_db::write_transaction(conn, |conn| db::insert_claim(conn, &claim));
                    match inserted {
                        Err(error) if techtrade_db::is_unique_violation(&error) => {
                            return Err(ApiError::new(
                                ErrorCode::AlreadyClaimed,
                                "your organisation has already claimed this program, year and role",
                            ));
                        }
                        other => other?,
                    }
                    let payload = json!({
                        "claim_id": claim.id,
                        "organization_id": claim.organization_id,
                        "program_id": claim.program_id,
                        "year": claim.year,
                        "role": claim.role,
                        "amount_fen": claim.computed_amount_fen,
                    });
                    let entry = audit::AuditEntry {
                        actor_user_id: Some(&user.user_id),
                        action: "claim.submit",
                        subject_type: "claim",
                        subject_id: &claim.id,
                        before: None,
                        after: Some(payload),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    };
                    outbox::emit_audited(conn, entry, "claim.submitted")?;
                    views::claim_view(conn, claim)
                })
            })
        })
        .await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListClaimsQuery {
    pub program_id: Option<String>,
    pub year: Option<i32>,
    /// `submitted` (the level-1 queue), `first_approved` (level 2), `approved`, `rejected`,
    /// `publicized`, `not_in_round`.
    #[param(inline)]
    pub status: Option<ClaimStatus>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1_000_000, default = 1)]
    pub page: Option<u32>,
    /// Items per page, at most 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u32>,
}

/// Claims, oldest first: officials see all, members their organisation's.
#[utoipa::path(get, path = "/api/v1/subsidy/claims", tag = "subsidy", params(ListClaimsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<ClaimView>), (status = 403, body = Problem)))]
pub(crate) async fn list_claims(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<ListClaimsQuery>,
) -> ApiResult<Json<Page<ClaimView>>> {
    Ok(Json(claims(&state, &user, query).await?))
}

/// Claims, oldest first: officials see all, members their organisation's.
pub async fn claims(state: &AppState, user: &CurrentUser, query: ListClaimsQuery) -> ApiResult<Page<ClaimView>> {
    let page = techtrade_web::PageQuery { page: query.page, per_page: query.per_page }.validate()?;
    let organization_id = if user.role.is_official() { None } else { Some(user.organization()?.to_string()) };
    let filter = ClaimFilter {
        organization_id,
        program_id: query.program_id,
        year: query.year,
        status: query.status.map(|s| s.as_str().to_string()),
        offset: page.offset(),
        limit: page.limit(),
    };
    state
        .db
        .run(move |conn| {
            let (claims, total) = db::list_claims(conn, &filter)?;
            let items = claims.into_iter().map(|c| views::claim_view(conn, c)).collect::<Result<Vec<_>, _>>()?;
            Ok(Page::new(items, total, page))
        })
        .await
}

/// The claim, if `user` may see it (its organisation's members and
/// officials); 404 otherwise.
pub(crate) fn load_visible(conn: &mut AnyConnection, id: &str, user: &CurrentUser) -> Result<SubsidyClaim, ApiError> {
    db::find_claim(conn, id)?
        .filter(|claim| user.role.is_official() || user.is_member_of(&claim.organization_id))
        .ok_or_else(|| ApiError::not_found("claim"))
}

/// One claim with its frozen calculation and its reviews.
#[utoipa::path(get, path = "/api/v1/subsidy/claims/{id}", tag = "subsidy", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ClaimView), (status = 404, body = Problem)))]
pub(crate) async fn get_claim(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<ClaimView>> {
    state
        .db
        .run(move |conn| {
            let claim = load_visible(conn, &id, &user)?;
            views::claim_view(conn, claim).map(Json)
        })
        .await
}

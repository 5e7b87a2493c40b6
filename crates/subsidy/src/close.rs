//! `POST /api/v1/subsidy/rounds`: closing a program's year against its
//! budget (POLICY.md "Budget and pro-rating"). The claims approved at both
//! levels are published with their final amounts. A claim still under
//! review would be stranded by the close (the round is closed, so it could
//! never be reviewed or claimed again): it stops the close, 409
//! `claims_pending` naming it, unless the official leaves it out with
//! `"pending": "exclude"`, which makes it `not_in_round` with a reason, an
//! audit entry and an event (its claimant is told by email).

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use techtrade_db::subsidy::{self as db, LeftOut, Publication, SubsidyClaim, SubsidyRound};
use techtrade_db::{AnyConnection, audit, outbox};
use techtrade_domain::claim::{self, ClaimStatus};
use techtrade_domain::policy::{Program, ProrationError};
use techtrade_domain::{Money, ids};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, RequestId};
use utoipa::ToSchema;

use crate::Programs;
use crate::claims::{YearUse, program_and_year};
use crate::open_year::{lock_open_year, round_closed};
use crate::review::MAX_REASON;
use crate::rounds::{self, NOTICE_WORKING_DAYS};
use crate::views::RoundNotice;

type Problem = techtrade_web::error::Problem;

/// What a close does with the year's claims still under review
/// (`submitted` or `first_approved`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PendingClaims {
    /// Do not close: 409 `claims_pending`, naming them.
    #[default]
    Refuse,
    /// Close without them: each becomes `not_in_round`, final for this round.
    Exclude,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CloseRoundRequest {
    pub program_id: String,
    pub year: i32,
    /// Claims still under review: `refuse` (the default) or `exclude`.
    #[serde(default)]
    pub pending: PendingClaims,
    /// With `"pending": "exclude"`: why, in words for the claimants left out
    /// (stored on their claims and sent to them). Default: a sentence saying
    /// that the round closed before their review was finished.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The request's choice for the claims under review, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Refuse,
    /// Leave them out, with the official's reason if one was given.
    Exclude {
        reason: Option<String>,
    },
}

impl Pending {
    fn of(request: &CloseRoundRequest) -> Result<Self, ApiError> {
        let reason = request.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > MAX_REASON) {
            return Err(ApiError::invalid_field("reason", "too_long", format!("at most {MAX_REASON} characters")));
        }
        match (request.pending, reason) {
            (PendingClaims::Refuse, Some(_)) => Err(ApiError::invalid_field(
                "reason",
                "needs_exclude",
                "a reason tells the claimants left out of the round why: it goes with \"pending\": \"exclude\"",
            )),
            (PendingClaims::Refuse, None) => Ok(Self::Refuse),
            (PendingClaims::Exclude, reason) => Ok(Self::Exclude { reason: reason.map(String::from) }),
        }
    }
}

/// Closes the program's year: every claim approved at both levels gets its
/// final amount (pro-rated to the budget when they exceed it), a
/// disbursement to record, and a line on the public notice. Claims still
/// under review stop it (409 `claims_pending`: one entry of `errors` per
/// claim, `field` = `pending`, `code` = its status, `message` = its id)
/// unless `"pending": "exclude"` leaves them out as `not_in_round`. A round
/// closes once; a second close — even a concurrent one — gets 409
/// `round_closed`. Like a claim, a round waits for the year's claims to
/// open (422 naming `year`, `claims_not_open`): closed earlier, it would
/// shut out every claim.
#[utoipa::path(post, path = "/api/v1/subsidy/rounds", tag = "subsidy", request_body = CloseRoundRequest,
    security(("bearer" = [])),
    responses((status = 201, body = RoundNotice), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub(crate) async fn close_round(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<CloseRoundRequest>,
) -> ApiResult<(StatusCode, Json<RoundNotice>)> {
    let notice = close_round_as(&state, programs, user, request_id, request).await?;
    Ok((StatusCode::CREATED, Json(notice)))
}

/// An official closes a program's year (as `POST /api/v1/subsidy/rounds`
/// describes): the round's public notice.
pub async fn close_round_as(
    state: &AppState,
    programs: Programs,
    user: CurrentUser,
    request_id: Option<String>,
    request: CloseRoundRequest,
) -> ApiResult<RoundNotice> {
    user.require_official()?;
    program_and_year(&programs, &request.program_id, request.year, YearUse::Claim)?;
    let pending = Pending::of(&request)?;
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let program = program_and_year(&programs, &request.program_id, request.year, YearUse::Claim)?;
                let round = close(conn, program, request.year, &pending, &user, request_id.as_deref())?;
                rounds::notice(conn, program, round)
            })
        })
        .await
}

fn changed_meanwhile() -> ApiError {
    ApiError::new(ErrorCode::InvalidState, "a claim changed while the round closed; try again")
}

/// 409 naming every claim still under review.
fn claims_pending(claims: &[SubsidyClaim]) -> ApiError {
    let detail = format!(
        "{} claim(s) of this round are still under review: finish their review, or close with \
         \"pending\": \"exclude\" to leave them out of the round",
        claims.len()
    );
    claims.iter().fold(ApiError::new(ErrorCode::ClaimsPending, detail), |error, claim| {
        error.with_field("pending", claim.status.clone(), claim.id.clone())
    })
}

fn money(fen: i64) -> Result<Money, ApiError> {
    Money::from_fen(fen).map_err(ApiError::internal)
}

/// Writes the round in the lock order (README "Lock order"): the year's
/// lock, then the round's row, the claims it publishes and leaves out, and
/// the audit chain last of all.
fn close(
    conn: &mut AnyConnection,
    program: &Program,
    year: i32,
    pending: &Pending,
    user: &CurrentUser,
    request_id: Option<&str>,
) -> Result<SubsidyRound, ApiError> {
    lock_open_year(conn, program.id(), year)?;
    let under_review =
        db::claims_of_round(conn, program.id(), year, &ClaimStatus::UNDER_REVIEW.map(ClaimStatus::as_str))?;
    let official_reason = match pending {
        _ if under_review.is_empty() => None,
        Pending::Refuse => return Err(claims_pending(&under_review)),
        Pending::Exclude { reason } => reason.as_deref(),
    };
    let approved = db::claims_of_round(conn, program.id(), year, &[ClaimStatus::Approved.as_str()])?;
    let now = techtrade_db::now();
    let (round, finals) = new_round(program, year, &approved, user, now)?;
    // (program, year) is unique: should two closes ever pass the lock (a
    // SQLite file shared by two servers holds no advisory lock), the second
    // fails here before touching a claim.
    match techtrade_db::write_transaction(conn, |conn| db::insert_round(conn, &round)) {
        Err(error) if techtrade_db::is_unique_violation(&error) => return Err(round_closed()),
        other => other?,
    }
    publish(conn, &round, &approved, &finals, now)?;
    let stored_reason = official_reason.map_or_else(|| default_reason(program, year), str::to_string);
    leave_out(conn, &under_review, &stored_reason, now)?;
    for claim in &under_review {
        record_left_out(conn, claim, &round, official_reason, user, request_id)?;
    }
    record_round(conn, &round, &approved, &under_review, user, request_id)?;
    Ok(round)
}

/// The round for `approved`, with each claim's final amount (pro-rated to
/// the budget when they exceed it).
fn new_round(
    program: &Program,
    year: i32,
    approved: &[SubsidyClaim],
    user: &CurrentUser,
    now: techtrade_db::Timestamp,
) -> Result<(SubsidyRound, Vec<(String, Money)>), ApiError> {
    let amounts = approved
        .iter()
        .map(|c| Ok((c.id.clone(), money(c.approved_amount_fen.unwrap_or(c.computed_amount_fen))?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let finals = program.final_amounts(&amounts).map_err(|error| match error {
        ProrationError::OverBudget { .. } => ApiError::new(ErrorCode::OverBudget, error.to_string()),
        ProrationError::DuplicateKey(_) => ApiError::internal(error),
    })?;
    let sum = |amounts: &[(String, Money)]| Money::sum(amounts.iter().map(|(_, m)| *m)).map_err(ApiError::internal);
    let round = SubsidyRound {
        id: ids::new_id(),
        program_id: program.id().to_string(),
        year,
        status: ClaimStatus::Publicized.as_str().to_string(),
        budget_fen: program.budget().map(Money::fen),
        total_approved_fen: sum(&amounts)?.fen(),
        total_final_fen: sum(&finals)?.fen(),
        closed_by: user.user_id.clone(),
        closed_at: now,
        notice_until: Some(claim::notice_until(techtrade_db::market_date(now), NOTICE_WORKING_DAYS)),
    };
    Ok((round, finals))
}

/// Each approved claim gets its final amount and a pending disbursement.
fn publish(
    conn: &mut AnyConnection,
    round: &SubsidyRound,
    approved: &[SubsidyClaim],
    finals: &[(String, Money)],
    now: techtrade_db::Timestamp,
) -> Result<(), ApiError> {
    let publications: Vec<Publication> = approved
        .iter()
        .zip(finals)
        .map(|(claim, (_, final_amount))| Publication {
            claim_id: claim.id.clone(),
            version: claim.version,
            organization_id: claim.organization_id.clone(),
            final_amount_fen: final_amount.fen(),
            disbursement_id: ids::new_id(),
        })
        .collect();
    let written = db::publish_round(conn, &round.id, &publications, ClaimStatus::Publicized.as_str(), now)?;
    if written != publications.len() {
        return Err(changed_meanwhile());
    }
    Ok(())
}

/// What a claim left out says when the official gave no reason.
fn default_reason(program: &Program, year: i32) -> String {
    format!("still under review when the {year} round of {} closed", program.id())
}

/// The claims under review become `not_in_round`, with `reason`.
fn leave_out(
    conn: &mut AnyConnection,
    claims: &[SubsidyClaim],
    reason: &str,
    now: techtrade_db::Timestamp,
) -> Result<(), ApiError> {
    let left_out: Vec<LeftOut> =
        claims.iter().map(|c| LeftOut { claim_id: c.id.clone(), version: c.version }).collect();
    let written = db::leave_out_of_round(conn, &left_out, ClaimStatus::NotInRound.as_str(), reason, now)?;
    if written != left_out.len() {
        return Err(changed_meanwhile());
    }
    Ok(())
}

/// The audit entry and the event (its claimant's email) of one claim left
/// out. `reason` is the official's, when they gave one; the email has its
/// own words for the default.
fn record_left_out(
    conn: &mut AnyConnection,
    claim: &SubsidyClaim,
    round: &SubsidyRound,
    reason: Option<&str>,
    user: &CurrentUser,
    request_id: Option<&str>,
) -> Result<(), ApiError> {
    let awaiting_level = ClaimStatus::from_db(&claim.status).and_then(ClaimStatus::awaiting_level);
    let payload = json!({
        "claim_id": claim.id,
        "organization_id": claim.organization_id,
        "program_id": claim.program_id,
        "year": claim.year,
        "role": claim.role,
        "round_id": round.id,
        "from": claim.status,
        "awaiting_level": awaiting_level,
        "status": ClaimStatus::NotInRound.as_str(),
        "reason": reason,
    });
    let entry = audit::AuditEntry {
        actor_user_id: Some(&user.user_id),
        action: "claim.leave_out",
        subject_type: "claim",
        subject_id: &claim.id,
        before: Some(json!({"status": claim.status})),
        after: Some(payload),
        request_id,
        ..Default::default()
    };
    outbox::emit_audited(conn, entry, "claim.not_in_round")?;
    Ok(())
}

fn record_round(
    conn: &mut AnyConnection,
    round: &SubsidyRound,
    approved: &[SubsidyClaim],
    left_out: &[SubsidyClaim],
    user: &CurrentUser,
    request_id: Option<&str>,
) -> Result<(), ApiError> {
    let mut organization_ids: Vec<&str> = approved.iter().map(|c| c.organization_id.as_str()).collect();
    organization_ids.sort_unstable();
    organization_ids.dedup();
    let payload = json!({
        "round_id": round.id,
        "program_id": round.program_id,
        "year": round.year,
        "organization_ids": organization_ids,
        "total_approved_fen": round.total_approved_fen,
        "total_final_fen": round.total_final_fen,
        "not_in_round_claim_ids": left_out.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
    });
    let entry = audit::AuditEntry {
        actor_user_id: Some(&user.user_id),
        action: "round.close",
        subject_type: "round",
        subject_id: &round.id,
        before: None,
        after: Some(payload),
        request_id,
        ..Default::default()
    };
    outbox::emit_audited(conn, entry, "round.publicized")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pending: PendingClaims, reason: Option<&str>) -> CloseRoundRequest {
        CloseRoundRequest { program_id: "p".into(), year: 2025, pending, reason: reason.map(String::from) }
    }

    #[test]
    fn a_reason_goes_with_exclude_and_is_bounded() {
        assert_eq!(Pending::of(&request(PendingClaims::Refuse, None)).unwrap(), Pending::Refuse);
        assert_eq!(Pending::of(&request(PendingClaims::Refuse, Some("  "))).unwrap(), Pending::Refuse);
        assert_eq!(
            Pending::of(&request(PendingClaims::Exclude, Some(" 补正逾期 "))).unwrap(),
            Pending::Exclude { reason: Some("补正逾期".into()) }
        );
        assert_eq!(Pending::of(&request(PendingClaims::Exclude, None)).unwrap(), Pending::Exclude { reason: None });
        let unused = Pending::of(&request(PendingClaims::Refuse, Some("x"))).unwrap_err();
        assert_eq!((unused.errors()[0].field.as_str(), unused.errors()[0].code.as_str()), ("reason", "needs_exclude"));
        let long = "长".repeat(MAX_REASON + 1);
        let too_long = Pending::of(&request(PendingClaims::Exclude, Some(&long))).unwrap_err();
        assert_eq!(too_long.errors()[0].code, "too_long");
    }
}

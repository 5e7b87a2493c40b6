//! A program's year as the officials see it before closing it: how many
//! claims wait at each level, what the approved ones add up to against the
//! budget, and what each would receive if the round closed now — the same
//! pro-rating the close applies (`Program::final_amounts`), computed
//! without writing anything.

use serde::Serialize;
use techtrade_db::subsidy as db;
use techtrade_domain::Money;
use techtrade_domain::claim::ClaimStatus;
use techtrade_domain::policy::{PartyRole, ProrationError};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser};

use crate::Programs;
use crate::claims::{YearUse, program_and_year};
use crate::views::RoundView;

/// One approved claim and what a close now would pay it.
#[derive(Debug, Clone, Serialize)]
pub struct OutlookLine {
    pub claim_id: String,
    pub organization_name: String,
    pub role: PartyRole,
    pub approved_amount_fen: i64,
    /// `None` when the approved claims exceed a budget the program does
    /// not pro-rate: then the round cannot close as it stands.
    pub final_amount_fen: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoundOutlook {
    pub program_id: String,
    pub program_name: String,
    pub year: i32,
    pub budget_fen: Option<i64>,
    /// Waiting for level 1, for level 2.
    pub submitted: usize,
    pub first_approved: usize,
    /// Approved at level 2 (published, once the round is closed).
    pub approved: usize,
    pub rejected: usize,
    /// Left out of the closed round while still under review.
    pub left_out: usize,
    pub approved_total_fen: i64,
    /// What a close now would pay in all; `None` when it would be refused
    /// as over budget.
    pub final_total_fen: Option<i64>,
    /// Whether a close now would scale the approved amounts down.
    pub prorated: bool,
    pub lines: Vec<OutlookLine>,
    /// Whether claims for the year are open (a round closes only then).
    pub claims_open: bool,
    /// The round, once the year is closed.
    pub round: Option<RoundView>,
}

/// The outlook of `program_id`'s `year`, for officials.
pub async fn outlook(
    state: &AppState,
    programs: Programs,
    user: &CurrentUser,
    program_id: String,
    year: i32,
) -> ApiResult<RoundOutlook> {
    user.require_official()?;
    let program = program_and_year(&programs, &program_id, year, YearUse::WhatIf)?.clone();
    let claims_open = program_and_year(&programs, &program_id, year, YearUse::Claim).is_ok();
    state
        .db
        .run(move |conn| {
            let count = |conn: &mut _, status: ClaimStatus| {
                db::claims_of_round(conn, program.id(), year, &[status.as_str()]).map(|claims| claims.len())
            };
            let submitted = count(conn, ClaimStatus::Submitted)?;
            let first_approved = count(conn, ClaimStatus::FirstApproved)?;
            let rejected = count(conn, ClaimStatus::Rejected)?;
            let left_out = count(conn, ClaimStatus::NotInRound)?;
            // Approved at level 2: before the close `approved`, after it `publicized`.
            let approved_statuses = [ClaimStatus::Approved.as_str(), ClaimStatus::Publicized.as_str()];
            let approved = db::claims_of_round_named(conn, program.id(), year, &approved_statuses)?;
            let amounts = approved
                .iter()
                .map(|(claim, _)| {
                    let fen = claim.approved_amount_fen.unwrap_or(claim.computed_amount_fen);
                    Ok((claim.id.clone(), Money::from_fen(fen).map_err(ApiError::internal)?))
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            let finals = match program.final_amounts(&amounts) {
                Ok(finals) => Some(finals),
                Err(ProrationError::OverBudget { .. }) => None,
                Err(error) => return Err(ApiError::internal(error)),
            };
            let approved_total = Money::sum(amounts.iter().map(|(_, m)| *m)).map_err(ApiError::internal)?;
            let final_total = finals
                .as_ref()
                .map(|finals| Money::sum(finals.iter().map(|(_, m)| *m)).map_err(ApiError::internal))
                .transpose()?;
            let lines = approved
                .iter()
                .zip(&amounts)
                .enumerate()
                .map(|(i, ((claim, name), (_, amount)))| {
                    Ok(OutlookLine {
                        claim_id: claim.id.clone(),
                        organization_name: name.clone(),
                        role: PartyRole::from_db(&claim.role)
                            .ok_or_else(|| ApiError::internal("unknown claim role"))?,
                        approved_amount_fen: amount.fen(),
                        final_amount_fen: finals.as_ref().map(|finals| finals[i].1.fen()),
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            let round = db::round_of(conn, program.id(), year)?.map(|round| RoundView::new(round, Some(&program)));
            Ok(RoundOutlook {
                program_id: program.id().to_string(),
                program_name: program.name().to_string(),
                year,
                budget_fen: program.budget().map(Money::fen),
                submitted,
                first_approved,
                approved: approved.len(),
                rejected,
                left_out,
                approved_total_fen: approved_total.fen(),
                final_total_fen: final_total.map(Money::fen),
                prorated: final_total.is_some_and(|total| total < approved_total),
                lines,
                claims_open,
                round,
            })
        })
        .await
}

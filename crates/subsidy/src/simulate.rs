//! `POST /api/v1/subsidy/simulate`: what a year would cost under a changed
//! policy (another rate, cap or budget), compared with the program as it
//! stands, for every organisation that could claim. Changes nothing.

use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};
use techtrade_domain::Money;
use techtrade_domain::policy::{Claim, PartyRole, Program};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, Json};
use utoipa::ToSchema;

use crate::claims::{YearUse, program_and_year};
use crate::{Programs, facts};

type Problem = techtrade_web::error::Problem;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SimulateRequest {
    pub program_id: String,
    pub year: i32,
    /// Changes to the program, in the policy file's terms: top-level keys
    /// replace the file's (`budget_fen`, `cap_per_claimant_year_fen`, …);
    /// `rules` lists partial rules matched by `id`
    /// (e.g. `{"rules": [{"id": "buyer", "rate": "8%"}]}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleTotals {
    pub role: PartyRole,
    /// Organisations with at least one contracted deal in this role.
    pub claimants: usize,
    pub eligible_now: usize,
    pub eligible_simulated: usize,
    pub current_total_fen: i64,
    pub simulated_total_fen: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BudgetEffect {
    /// The simulated program's budget; none when it pays in full.
    pub budget_fen: Option<i64>,
    pub current_total_fen: i64,
    pub simulated_total_fen: i64,
    /// How much the simulated total exceeds the budget (0 within it).
    pub over_budget_fen: i64,
    /// The share of each approved amount a pro-rated round would pay, as a
    /// percentage with two decimals ("100.00" within the budget).
    pub payout_percent: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimulationResult {
    pub program_id: String,
    pub year: i32,
    pub roles: Vec<RoleTotals>,
    pub budget: BudgetEffect,
}

/// An official recomputes a year under modified rules; nothing is stored.
#[utoipa::path(post, path = "/api/v1/subsidy/simulate", tag = "subsidy", request_body = SimulateRequest,
    security(("bearer" = [])),
    responses((status = 200, body = SimulationResult), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn simulate(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    user: CurrentUser,
    Json(request): Json<SimulateRequest>,
) -> ApiResult<Json<SimulationResult>> {
    simulate_year(&state, &programs, &user, request).await.map(Json)
}

/// A program's year recomputed under changed rules, against the rules as
/// they stand; nothing is stored. For officials.
pub async fn simulate_year(
    state: &AppState,
    programs: &Programs,
    user: &CurrentUser,
    request: SimulateRequest,
) -> ApiResult<SimulationResult> {
    user.require_official()?;
    let current = program_and_year(programs, &request.program_id, request.year, YearUse::WhatIf)?.clone();
    let simulated = match &request.policy {
        None => current.clone(),
        Some(overrides) => {
            let overrides: toml::Value = serde_json::from_value(overrides.clone()).map_err(|e| {
                ApiError::invalid_field("policy", "invalid_policy", format!("not expressible as a policy file: {e}"))
            })?;
            current.with_overrides(&overrides).map_err(|e| {
                ApiError::invalid_field(&format!("policy.{}", e.path), "invalid_policy", e.message.clone())
            })?
        }
    };
    let year = request.year;
    let roles = state
        .db
        .run(move |conn| {
            let mut roles = Vec::new();
            for role in PartyRole::ALL.iter().copied() {
                if current.rules_for(role).next().is_none() && simulated.rules_for(role).next().is_none() {
                    continue;
                }
                let claimants = facts::by_claimant(conn, role)?;
                roles.push(totals(role, year, &current, &simulated, claimants)?);
            }
            Ok::<_, ApiError>((roles, simulated))
        })
        .await?;
    let (roles, simulated) = roles;
    let sum = |pick: fn(&RoleTotals) -> i64| roles.iter().map(pick).fold(0_i64, i64::saturating_add);
    let current_total = sum(|r| r.current_total_fen);
    let simulated_total = sum(|r| r.simulated_total_fen);
    let budget = simulated.budget().map(Money::fen);
    let over = budget.map_or(0, |b| simulated_total.saturating_sub(b).max(0));
    Ok(SimulationResult {
        program_id: request.program_id,
        year,
        roles,
        budget: BudgetEffect {
            budget_fen: budget,
            current_total_fen: current_total,
            simulated_total_fen: simulated_total,
            over_budget_fen: over,
            payout_percent: payout_percent(budget, simulated_total),
        },
    })
}

fn totals(
    role: PartyRole,
    year: i32,
    current: &Program,
    simulated: &Program,
    claimants: std::collections::HashMap<String, Vec<techtrade_domain::policy::DealFacts>>,
) -> Result<RoleTotals, ApiError> {
    let mut totals = RoleTotals {
        role,
        claimants: claimants.len(),
        eligible_now: 0,
        eligible_simulated: 0,
        current_total_fen: 0,
        simulated_total_fen: 0,
    };
    for (organization_id, deals) in claimants {
        let claim = Claim { role, organization_id, year };
        let now = current.calculate(&claim, &deals);
        let then = simulated.calculate(&claim, &deals);
        totals.eligible_now += usize::from(now.eligible);
        totals.eligible_simulated += usize::from(then.eligible);
        totals.current_total_fen = totals.current_total_fen.saturating_add(now.amount.fen());
        totals.simulated_total_fen = totals.simulated_total_fen.saturating_add(then.amount.fen());
    }
    Ok(totals)
}

/// budget ÷ total as a percentage with two decimals, rounded down, in
/// integers; "100.00" when the total fits.
fn payout_percent(budget: Option<i64>, total: i64) -> String {
    let basis_points = match budget {
        Some(budget) if total > budget => i128::from(budget.max(0)) * 10_000 / i128::from(total),
        _ => 10_000,
    };
    format!("{}.{:02}", basis_points / 100, basis_points % 100)
}

#[cfg(test)]
mod tests {
    use super::payout_percent;

    #[test]
    fn payout_is_exact_and_rounds_down() {
        assert_eq!(payout_percent(None, 5), "100.00");
        assert_eq!(payout_percent(Some(100), 100), "100.00");
        assert_eq!(payout_percent(Some(100_000_000), 150_000_000), "66.66");
        assert_eq!(payout_percent(Some(0), 10), "0.00");
    }
}

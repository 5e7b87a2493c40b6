//! What the subsidy routes return.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use techtrade_db::AnyConnection;
use techtrade_db::subsidy::{self as db, ClaimReview, SubsidyClaim, SubsidyRound};
use techtrade_domain::claim::ClaimStatus;
use techtrade_domain::policy::{PartyRole, Program};
use techtrade_web::ApiError;
use utoipa::ToSchema;

/// The shape of a calculation (preview, and frozen on each claim).
#[derive(Debug, Serialize, ToSchema)]
pub struct CalculationView {
    /// Some deal qualifies under some rule.
    pub eligible: bool,
    pub amount_fen: i64,
    /// What each rule pays on each deal (or on the year's sum: no `deal_id`).
    #[schema(value_type = Vec<Object>)]
    pub lines: serde_json::Value,
    /// The claimant's deals that earn nothing, each with its reasons.
    #[schema(value_type = Vec<Object>)]
    pub ineligible: serde_json::Value,
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    /// 1 (受理/初审) or 2 (复审).
    pub level: i32,
    /// `approve` or `reject`.
    pub decision: String,
    pub amount_fen: Option<i64>,
    pub reason: Option<String>,
    pub reviewer_id: String,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimView {
    pub id: String,
    pub program_id: String,
    pub year: i32,
    pub role: PartyRole,
    pub organization_id: String,
    pub organization_name: String,
    pub status: ClaimStatus,
    /// What the policy computed at submission.
    pub computed_amount_fen: i64,
    /// What the reviews approved so far.
    pub approved_amount_fen: Option<i64>,
    /// What the closed round pays.
    pub final_amount_fen: Option<i64>,
    /// Why the claim is in its status, when the status alone does not say:
    /// for `not_in_round`, why the round closed without it.
    pub status_reason: Option<String>,
    /// The calculation as frozen at submission.
    #[schema(value_type = Object)]
    pub calculation: serde_json::Value,
    /// SHA-256 of the program's rules the calculation used.
    pub policy_digest: String,
    pub reviews: Vec<ReviewView>,
    pub submitted_by: String,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub submitted_at: NaiveDateTime,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

fn review_view(review: ClaimReview) -> ReviewView {
    ReviewView {
        level: review.level,
        decision: review.decision,
        amount_fen: review.amount_fen,
        reason: review.reason,
        reviewer_id: review.reviewer_id,
        created_at: review.created_at,
    }
}

pub fn claim_view(conn: &mut AnyConnection, claim: SubsidyClaim) -> Result<ClaimView, ApiError> {
    let frozen: serde_json::Value = serde_json::from_str(&claim.calculation).map_err(ApiError::internal)?;
    let reviews = db::reviews_of(conn, &claim.id)?.into_iter().map(review_view).collect();
    let name = db::organization_facts(conn, std::slice::from_ref(&claim.organization_id))?
        .pop()
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(ClaimView {
        role: PartyRole::from_db(&claim.role).ok_or_else(|| ApiError::internal("unknown claim role"))?,
        status: ClaimStatus::from_db(&claim.status).ok_or_else(|| ApiError::internal("unknown claim status"))?,
        calculation: frozen.get("calculation").cloned().unwrap_or_default(),
        id: claim.id,
        program_id: claim.program_id,
        year: claim.year,
        organization_id: claim.organization_id,
        organization_name: name,
        computed_amount_fen: claim.computed_amount_fen,
        approved_amount_fen: claim.approved_amount_fen,
        final_amount_fen: claim.final_amount_fen,
        status_reason: claim.status_reason,
        policy_digest: claim.policy_digest,
        reviews,
        submitted_by: claim.submitted_by,
        submitted_at: claim.submitted_at,
        updated_at: claim.updated_at,
        version: claim.version,
    })
}

/// One line of the public notice (公示).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoticeLine {
    pub organization_name: String,
    pub role: PartyRole,
    pub approved_amount_fen: i64,
    pub final_amount_fen: i64,
}

/// A closed round: what it paid in all. Public, like its notice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundView {
    pub id: String,
    pub program_id: String,
    /// The program's name; its id when the program is no longer in force.
    pub program_name: String,
    pub year: i32,
    /// `publicized`.
    pub status: String,
    pub budget_fen: Option<i64>,
    pub total_approved_fen: i64,
    /// Equals the budget when the approved claims exceeded it.
    pub total_final_fen: i64,
    /// Whether the amounts were pro-rated to the budget.
    pub prorated: bool,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub closed_at: NaiveDateTime,
    /// The last day of the notice period.
    pub notice_until: Option<NaiveDate>,
}

impl RoundView {
    pub fn new(round: SubsidyRound, program: Option<&Program>) -> Self {
        Self {
            prorated: round.total_final_fen < round.total_approved_fen,
            program_name: program.map_or_else(|| round.program_id.clone(), |p| p.name().to_string()),
            id: round.id,
            program_id: round.program_id,
            year: round.year,
            status: round.status,
            budget_fen: round.budget_fen,
            total_approved_fen: round.total_approved_fen,
            total_final_fen: round.total_final_fen,
            closed_at: round.closed_at,
            notice_until: round.notice_until,
        }
    }
}

/// A closed round as the public notice shows it; readable without login.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundNotice {
    #[serde(flatten)]
    pub round: RoundView,
    pub items: Vec<NoticeLine>,
}

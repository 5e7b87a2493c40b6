//! `POST /api/v1/subsidy/claims/{id}/review`: level 1 (受理/初审), then
//! level 2 (复审) by another official; never by the claimant's own.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use techtrade_db::subsidy::{self as db, ClaimReview};
use techtrade_db::{audit, outbox};
use techtrade_domain::Money;
use techtrade_domain::claim::{self, ClaimStatus, ReviewDecision, ReviewRefusal, Reviewer};
use techtrade_domain::ids;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Path, RequestId};
use utoipa::ToSchema;

use crate::claims;
use crate::open_year::lock_open_year;
use crate::views::{self, ClaimView};

type Problem = techtrade_web::error::Problem;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimReviewRequest {
    pub decision: ReviewDecision,
    /// A lower amount to approve (with a reason); default: the amount under review.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub amount_fen: Option<i64>,
    /// Required to reject or to lower the amount.
    #[serde(default)]
    #[schema(max_length = 2_000)]
    pub reason: Option<String>,
}

/// The longest reason an official may give, in characters.
pub(crate) const MAX_REASON: usize = 2_000;

fn refusal(refusal: ReviewRefusal) -> ApiError {
    let code = match refusal {
        ReviewRefusal::OwnOrganization => ErrorCode::OwnOrganization,
        ReviewRefusal::SameReviewer => ErrorCode::SameReviewer,
        ReviewRefusal::NotAwaitingReview(_) => ErrorCode::InvalidState,
    };
    ApiError::new(code, refusal.to_string())
}

/// An official's decision at the claim's current level; 409 `round_closed`
/// once the claim's year is closed, whatever the claim's status.
#[utoipa::path(post, path = "/api/v1/subsidy/claims/{id}/review", tag = "subsidy", request_body = ClaimReviewRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ClaimView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn review_claim(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<ClaimReviewRequest>,
) -> ApiResult<Json<ClaimView>> {
    review(&state, user, request_id, id, request).await.map(Json)
}

/// An official's decision on claim `id` at its current level: level 1 by
/// any official but the claimant's own, level 2 by another than level 1's;
/// approved (at most the amount under review, lower with a reason) or
/// rejected with a reason.
pub async fn review(
    state: &AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    request: ClaimReviewRequest,
) -> ApiResult<ClaimView> {
    user.require_official()?;
    let reason = request.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(String::from);
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON) {
        return Err(ApiError::invalid_field("reason", "too_long", format!("at most {MAX_REASON} characters")));
    }
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                // The year's lock before the claim is read for the change
                // (README "Lock order"): a close of the year waits for this
                // review, or this review finds the round closed.
                let (program_id, year) =
                    db::program_year_of_claim(conn, &id)?.ok_or_else(|| ApiError::not_found("claim"))?;
                lock_open_year(conn, &program_id, year)?;
                let mut claim = claims::load_visible(conn, &id, &user)?;
                let status =
                    ClaimStatus::from_db(&claim.status).ok_or_else(|| ApiError::internal("unknown claim status"))?;
                let reviews = db::reviews_of(conn, &claim.id)?;
                let level_one = reviews.iter().find(|r| r.level == 1).map(|r| r.reviewer_id.as_str());
                let reviewer =
                    Reviewer { user_id: &user.user_id, of_claimant: user.is_member_of(&claim.organization_id) };
                let (level, next) = claim::review(status, request.decision, reviewer, level_one).map_err(refusal)?;
                let ceiling = Money::from_fen(claim.approved_amount_fen.unwrap_or(claim.computed_amount_fen))
                    .map_err(ApiError::internal)?;
                let amount = claim::reviewed_amount(request.decision, request.amount_fen, reason.as_deref(), ceiling)?;
                let now = techtrade_db::now();
                let review = ClaimReview {
                    id: ids::new_id(),
                    claim_id: claim.id.clone(),
                    level: i32::from(level),
                    reviewer_id: user.user_id.clone(),
                    decision: request.decision.as_str().to_string(),
                    amount_fen: amount.map(Money::fen),
                    reason: reason.clone(),
                    created_at: now,
                };
                let before = json!({"status": claim.status, "approved_amount_fen": claim.approved_amount_fen});
                let expected = claim.version;
                claim.status = next.as_str().to_string();
                claim.approved_amount_fen = amount.map(Money::fen);
                claim.version += 1;
                claim.updated_at = now;
                // The version guard makes the loser of two simultaneous
                // reviews of one level fail cleanly.
                if !db::update_claim(conn, &claim, expected)? {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        "the claim was reviewed concurrently; reload it",
                    ));
                }
                db::insert_review(conn, &review)?;
                let payload = json!({
                    "claim_id": claim.id,
                    "organization_id": claim.organization_id,
                    "program_id": claim.program_id,
                    "year": claim.year,
                    "role": claim.role,
                    "level": level,
                    "decision": review.decision,
                    "amount_fen": review.amount_fen,
                    "reason": review.reason,
                });
                let entry = audit::AuditEntry {
                    actor_user_id: Some(&user.user_id),
                    action: "claim.review",
                    subject_type: "claim",
                    subject_id: &claim.id,
                    before: Some(before),
                    after: Some(payload),
                    request_id: request_id.as_deref(),
                    ..Default::default()
                };
                outbox::emit_audited(conn, entry, "claim.reviewed")?;
                views::claim_view(conn, claim)
            })
        })
        .await
}

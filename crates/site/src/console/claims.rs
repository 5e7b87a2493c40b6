//! `/console/claims?level=1|2`: subsidy claims waiting for 初审 (level 1)
//! or 复审 (level 2), oldest first, each with its frozen calculation line
//! by line, the deals that do not count and why, the policy digest it was
//! computed under, and level 1's decision; approve (at a lower amount with
//! a reason), or reject with a reason. The official who decided level 1
//! does not see "approve" at level 2, and is told why.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use serde_json::{Map, Value};
use techtrade_domain::claim::ClaimStatus;
use techtrade_domain::policy::Calculation;
use techtrade_subsidy::views::ClaimView;
use techtrade_subsidy::{ClaimReviewRequest, ListClaimsQuery, Programs};
use techtrade_web::{ApiError, AppState, CurrentUser, RequestId};

use super::{ItemForm, Official, Refused};
use crate::calculation::ShownCalculation;
use crate::page::{self, Ctx};
use crate::session::Visitor;
use crate::workspace::form::{Amounts, Fields, service_request};

/// The most claims a queue shows at once, oldest first: each carries its
/// whole calculation.
const SHOWN: u32 = 20;

const RENAMED: &[(&str, &str)] = &[("amount_fen", "amount_yuan")];

#[derive(Debug, Default, serde::Deserialize)]
pub struct Asked {
    #[serde(default)]
    level: Option<u8>,
    #[serde(default)]
    done: String,
}

/// A claim in the queue, with its calculation as the page shows it.
struct QueuedClaim {
    claim: ClaimView,
    shown: ShownCalculation,
    program_name: String,
}

#[derive(Template)]
#[template(path = "console_claims.html")]
struct ClaimsPage {
    ctx: Ctx,
    level: u8,
    claims: Vec<QueuedClaim>,
    total: i64,
    user: CurrentUser,
    done: String,
    decision: ItemForm,
}

impl ClaimsPage {
    /// Why this official may not approve the claim, if they may not: the
    /// claimant is their organisation, or they decided its level 1.
    fn barred(&self, claim: &ClaimView) -> Option<&'static str> {
        if self.user.is_member_of(&claim.organization_id) {
            Some("claim-own-organization")
        } else if self.level == 2 && claim.reviews.iter().any(|r| r.level == 1 && r.reviewer_id == self.user.user_id) {
            Some("claim-same-reviewer")
        } else {
            None
        }
    }

    /// The amount under review: level 1's approved amount, else the computed one.
    fn under_review(&self, claim: &ClaimView) -> i64 {
        claim.approved_amount_fen.unwrap_or(claim.computed_amount_fen)
    }
}

async fn claims_page(
    state: &AppState,
    programs: &Programs,
    visitor: &Visitor,
    user: CurrentUser,
    asked: Asked,
    refused: Option<Refused>,
) -> Response {
    let level = match asked.level {
        None | Some(1) => 1,
        Some(2) => 2,
        Some(_) => {
            return page::error_page(visitor, &ApiError::invalid_field("level", "invalid_value", "level 1 or 2"));
        }
    };
    let status = if level == 1 { ClaimStatus::Submitted } else { ClaimStatus::FirstApproved };
    let query = ListClaimsQuery { status: Some(status), per_page: Some(SHOWN), ..ListClaimsQuery::default() };
    let found = match techtrade_subsidy::claims(state, &user, query).await {
        Ok(found) => found,
        Err(error) => return page::error_page(visitor, &error),
    };
    let mut claims = Vec::with_capacity(found.items.len());
    for claim in found.items {
        let calculation: Calculation = match serde_json::from_value(claim.calculation.clone()) {
            Ok(calculation) => calculation,
            Err(error) => return page::error_page(visitor, &ApiError::internal(error)),
        };
        let program = programs.iter().find(|p| p.id() == claim.program_id);
        let program_name = program.map_or_else(|| claim.program_id.clone(), |p| p.name().to_string());
        let shown = ShownCalculation::new(calculation, program, visitor.lang, None).numbered(format!("-{}", claim.id));
        claims.push(QueuedClaim { claim, shown, program_name });
    }
    let (status, decision) = match ItemForm::shown(visitor, refused, RENAMED) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page =
        ClaimsPage { ctx: Ctx::new(visitor), level, claims, total: found.total, user, done: asked.done, decision };
    page::render(visitor, status, &page)
}

/// `GET /console/claims?level=1|2`.
pub async fn show(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    visitor: Visitor,
    Official(user): Official,
    Query(asked): Query<Asked>,
) -> Response {
    claims_page(&state, &programs, &visitor, user, asked, None).await
}

/// `POST /console/claims/{id}`: approve (optionally at a lower amount in
/// yuan, with a reason) or reject with a reason, at the claim's level.
pub async fn decide(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Official(user): Official,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let level = fields.text("level").parse::<u8>().ok();
    let mut amounts = Amounts::default();
    let mut request = Map::new();
    let decision = fields.text("decision");
    request.insert("decision".into(), Value::String(decision.clone()));
    if decision == "approve" {
        amounts.put(&mut request, "amount_fen", "amount_yuan", &fields.text("amount_yuan"));
    }
    let reason = fields.text("reason");
    request.insert("reason".into(), if reason.is_empty() { Value::Null } else { Value::String(reason.clone()) });
    let amount = fields.text("amount_yuan");
    let parsed = service_request::<ClaimReviewRequest>(request, &amounts);
    let result = match parsed {
        Ok(request) => techtrade_subsidy::review(&state, user.clone(), request_id, id.clone(), request).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(claim) => {
            let done = if claim.status == ClaimStatus::Rejected { "rejected" } else { "approved" };
            page::redirect(&format!("/console/claims?level={}&done={done}", level.unwrap_or(1)))
        }
        Err(error) => {
            let asked = Asked { level, done: String::new() };
            claims_page(
                &state,
                &programs,
                &visitor,
                user,
                asked,
                Some(Refused { item: id, amount, text: reason, error }),
            )
            .await
        }
    }
}

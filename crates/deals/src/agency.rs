//! The agency's consent. A buyer may name a technology transfer agency
//! (技术转移服务机构) on its deal; the agency is only invited until one of
//! its members accepts. Until then it does not see the deal and does not
//! count for a subsidy; an agency that declines never does. The seller sees
//! from the start who was named.

use axum::extract::State;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::json;
use techtrade_db::deals as db;
use techtrade_db::listings;
use techtrade_domain::deal::AgencyStatus;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Path, RequestId};
use utoipa::ToSchema;

use crate::lifecycle::{self, Actor};
use crate::views::{ListingRef, OrganizationRef};

type Problem = techtrade_web::error::Problem;

/// An agency's answer to being named on a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgencyDecision {
    Accept,
    Decline,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgencyAnswerRequest {
    pub decision: AgencyDecision,
}

/// What the agency answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgencyAnswerView {
    pub deal_id: String,
    pub agency_status: AgencyStatus,
}

/// A deal an agency was named on and has not answered yet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationView {
    pub deal_id: String,
    pub listing: ListingRef,
    pub buyer: OrganizationRef,
    pub seller: OrganizationRef,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    pub invited_at: NaiveDateTime,
}

/// The invitations an agency has not answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationsResponse {
    pub items: Vec<InvitationView>,
}

/// A member of the named agency accepts or declines acting on the deal,
/// once, while the deal is open. Anyone else is told there is no such deal.
#[utoipa::path(post, path = "/api/v1/deals/{id}/agency", tag = "deals", request_body = AgencyAnswerRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AgencyAnswerView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn answer_invitation(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<AgencyAnswerRequest>,
) -> ApiResult<Json<AgencyAnswerView>> {
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                // Not `load_for_change`: an invited agency may not see the deal yet.
                let mut deal = db::lock_deal(conn, &id)?
                    .filter(|deal| lifecycle::is_agency_member(deal, &user))
                    .ok_or_else(|| ApiError::not_found("deal"))?;
                if let Some(answered @ (AgencyStatus::Accepted | AgencyStatus::Declined)) =
                    lifecycle::agency_status(&deal)
                {
                    return Err(ApiError::new(ErrorCode::InvalidState, format!("the agency already {answered}")));
                }
                let status = crate::views::deal_status(&deal)?;
                if !status.is_open() {
                    return Err(ApiError::new(ErrorCode::InvalidState, format!("the deal is {status}")));
                }
                let (answer, name) = match request.decision {
                    AgencyDecision::Accept => (AgencyStatus::Accepted, "agency_accepted"),
                    AgencyDecision::Decline => (AgencyStatus::Declined, "agency_declined"),
                };
                let before = json!({"agency_status": deal.agency_status, "version": deal.version});
                deal.agency_status = Some(answer.as_str().to_string());
                lifecycle::save(conn, &mut deal, techtrade_db::now())?;
                let actor = Actor::user(&user, request_id.as_deref());
                lifecycle::record(conn, &deal, name, actor, Some(before), json!({"agency_status": answer}))?;
                Ok(Json(AgencyAnswerView { deal_id: deal.id, agency_status: answer }))
            })
        })
        .await
}

/// The deals the caller's organisation was named agency on and has not
/// answered, newest first.
#[utoipa::path(get, path = "/api/v1/agency-invitations", tag = "deals", security(("bearer" = [])),
    responses((status = 200, body = InvitationsResponse), (status = 403, body = Problem)))]
pub(crate) async fn list_invitations(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<InvitationsResponse>> {
    let organization = user.organization()?.to_string();
    state
        .db
        .run(move |conn| {
            let deals = db::agency_invitations(conn, &organization)?;
            let mut ids: Vec<String> = deals
                .iter()
                .flat_map(|d| [d.buyer_organization_id.clone(), d.seller_organization_id.clone()])
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let names: std::collections::HashMap<String, String> =
                listings::organization_names(conn, &ids)?.into_iter().collect();
            let org =
                |id: &str| OrganizationRef { id: id.to_string(), name: names.get(id).cloned().unwrap_or_default() };
            let mut views = Vec::with_capacity(deals.len());
            for deal in deals {
                let title = listings::find_listing(conn, &deal.listing_id)?.map(|l| l.title).unwrap_or_default();
                views.push(InvitationView {
                    listing: ListingRef { id: deal.listing_id.clone(), title },
                    buyer: org(&deal.buyer_organization_id),
                    seller: org(&deal.seller_organization_id),
                    invited_at: deal.created_at,
                    deal_id: deal.id,
                });
            }
            Ok(Json(InvitationsResponse { items: views }))
        })
        .await
}

//! The deal routes (API.md, "Deals"): open with an offer, counter, accept,
//! record the contract, cancel, terminate; read one or a page. The
//! contract's registration is the registration office's
//! (`techtrade-registry`, which also serves `POST /deals/{id}/registration`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use techtrade_db::deals::{self as db, Contract, Deal, DealFilter, Offer};
use techtrade_db::{AnyConnection, accounts, listings};
use techtrade_domain::deal::{AgencyStatus, DealAction};
use techtrade_domain::{DealStatus, ListingStatus, OrganizationKind, TradeMode, Violations, ids};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Page, Path, Query, RequestId};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::lifecycle::{self, Actor};
use crate::requests::{CancelRequest, ContractRequest, CreateDealRequest, OfferRequest, TerminateRequest, ValidOffer};
use crate::views::{self, DealView};

type Problem = techtrade_web::error::Problem;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_deal, list_deals))
        .routes(routes!(crate::agency::answer_invitation))
        .routes(routes!(crate::agency::list_invitations))
        .routes(routes!(get_deal))
        .routes(routes!(make_offer))
        .routes(routes!(accept_offer))
        .routes(routes!(sign_contract))
        .routes(routes!(cancel_deal))
        .routes(routes!(terminate_deal))
}

/// Runs `change` on the deal `id` inside one write transaction and answers
/// with the deal as it is afterwards.
async fn change_deal<F>(state: AppState, user: CurrentUser, id: String, change: F) -> ApiResult<DealView>
where
    F: FnOnce(&mut AnyConnection, &mut Deal, &CurrentUser) -> Result<(), ApiError> + Send + 'static,
{
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let mut deal = lifecycle::load_for_change(conn, &id, &user)?;
                change(conn, &mut deal, &user)?;
                views::deal_view(conn, deal)
            })
        })
        .await
}

fn offer_payload(offer: &Offer) -> serde_json::Value {
    json!({
        "id": offer.id,
        "sequence": offer.sequence,
        "organization_id": offer.organization_id,
        "amount_fen": offer.amount_fen,
        "trade_mode": offer.trade_mode,
    })
}

fn new_offer(deal_id: &str, sequence: i32, user: &CurrentUser, valid: ValidOffer) -> Result<Offer, ApiError> {
    Ok(Offer {
        id: ids::new_id(),
        deal_id: deal_id.to_string(),
        sequence,
        organization_id: user.organization()?.to_string(),
        created_by: user.user_id.clone(),
        amount_fen: valid.amount.fen(),
        trade_mode: valid.trade_mode.as_str().to_string(),
        terms: valid.terms,
        created_at: techtrade_db::now(),
    })
}

/// The trade modes a listing offers (a stored JSON array).
fn listing_modes(listing: &listings::Listing) -> Vec<TradeMode> {
    serde_json::from_str::<Vec<String>>(&listing.trade_modes)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| TradeMode::from_db(m))
        .collect()
}

/// Opens a deal on a published listing with the buyer's first offer; the
/// buyer is the caller's organisation, the seller the listing's owner.
#[utoipa::path(post, path = "/api/v1/deals", tag = "deals", request_body = CreateDealRequest,
    security(("bearer" = [])),
    responses((status = 201, body = DealView), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn create_deal(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<CreateDealRequest>,
) -> ApiResult<(StatusCode, Json<DealView>)> {
    Ok((StatusCode::CREATED, Json(open(&state, user, request_id, request).await?)))
}

/// Opens a deal on a listing with the buyer's first offer.
pub async fn open(
    state: &AppState,
    user: CurrentUser,
    request_id: Option<String>,
    request: CreateDealRequest,
) -> ApiResult<DealView> {
    let buyer = user.organization()?.to_string();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let deal = open_deal(conn, &user, &buyer, request, request_id.as_deref())?;
                views::deal_view(conn, deal)
            })
        })
        .await
}

fn open_deal(
    conn: &mut AnyConnection,
    user: &CurrentUser,
    buyer: &str,
    request: CreateDealRequest,
    request_id: Option<&str>,
) -> Result<Deal, ApiError> {
    let mut violations = Violations::new();
    // A listing the caller may not see is reported as absent.
    let listing = listings::find_listing(conn, &request.listing_id)?.filter(|l| {
        ListingStatus::from_db(&l.status).is_some_and(ListingStatus::is_public)
            || user.is_member_of(&l.owner_organization_id)
    });
    match &listing {
        None => violations.push("listing_id", "not_found", "no such listing"),
        Some(l) if l.owner_organization_id == buyer => {
            violations.push("listing_id", "own_listing", "an organisation cannot buy its own listing")
        }
        Some(_) => {}
    }
    if let Some(demand_id) = &request.demand_id {
        let own = listings::find_demand(conn, demand_id)?.is_some_and(|d| d.owner_organization_id == buyer);
        if !own {
            violations.push("demand_id", "not_found", "no such demand of your organisation");
        }
    }
    if let Some(agency_id) = &request.agency_organization_id {
        let agency = accounts::find_organization(conn, agency_id)?;
        match agency {
            None => violations.push("agency_organization_id", "not_found", "no such organisation"),
            Some(a) if OrganizationKind::from_db(&a.kind) != Some(OrganizationKind::Agency) => violations.push(
                "agency_organization_id",
                "not_an_agency",
                "the organisation is not a technology transfer agency",
            ),
            Some(a) if a.id == buyer || listing.as_ref().is_some_and(|l| l.owner_organization_id == a.id) => {
                violations.push("agency_organization_id", "is_a_party", "the agency cannot be the buyer or the seller")
            }
            Some(_) => {}
        }
    }
    let modes = listing.as_ref().map(listing_modes).unwrap_or_default();
    let offer = match request.offer.validate("offer.", &modes) {
        Ok(offer) => Some(offer),
        Err(more) => {
            for v in more.into_vec() {
                violations.push(v.field, v.code, v.message);
            }
            None
        }
    };
    let (listing, offer) = violations.finish(|| Some((listing?, offer?)))?;
    if ListingStatus::from_db(&listing.status) != Some(ListingStatus::Published) {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("the listing is {}, not published", listing.status),
        ));
    }
    if let Some(existing) = db::open_deal_of(conn, &listing.id, buyer)? {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("your organisation already negotiates this listing in deal {existing}; counter-offer there"),
        ));
    }
    let now = techtrade_db::now();
    let deal = Deal {
        id: ids::new_id(),
        listing_id: listing.id.clone(),
        demand_id: request.demand_id,
        buyer_organization_id: buyer.to_string(),
        seller_organization_id: listing.owner_organization_id.clone(),
        // Named by the buyer, the agency is only invited: it must accept.
        agency_status: request.agency_organization_id.as_ref().map(|_| AgencyStatus::Invited.as_str().to_string()),
        agency_organization_id: request.agency_organization_id,
        status: DealStatus::Negotiating.as_str().to_string(),
        agreed_offer_id: None,
        created_by: user.user_id.clone(),
        agreed_at: None,
        contracted_at: None,
        registered_at: None,
        completed_at: None,
        cancelled_at: None,
        cancel_reason: None,
        terminated_on: None,
        termination_reason: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    // The read above gives the helpful message; the database's unique index
    // is what holds when two requests race past it.
    db::insert_deal(conn, &deal).map_err(|error| {
        if techtrade_db::is_unique_violation(&error) {
            ApiError::new(ErrorCode::Conflict, "your organisation already negotiates this listing; counter-offer there")
        } else {
            error.into()
        }
    })?;
    let offer = new_offer(&deal.id, 1, user, offer)?;
    db::insert_offer(conn, &offer)?;
    let actor = Actor::user(user, request_id);
    lifecycle::record(conn, &deal, "opened", actor, None, json!({"offer": offer_payload(&offer)}))?;
    Ok(deal)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDealsQuery {
    /// Only deals in this status. `contracted` (the registration queue)
    /// comes oldest first; otherwise the newest change comes first.
    pub status: Option<DealStatus>,
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1_000_000, default = 1)]
    pub page: Option<u32>,
    /// Items per page, at most 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u32>,
}

/// Deals the caller's organisation is a party or agency to; officials see
/// all (`status=contracted` is the registration queue).
#[utoipa::path(get, path = "/api/v1/deals", tag = "deals", params(ListDealsQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DealView>), (status = 403, body = Problem)))]
async fn list_deals(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<ListDealsQuery>,
) -> ApiResult<Json<Page<DealView>>> {
    Ok(Json(deals(&state, user, query).await?))
}

/// The deals the caller's organisation is a party or agency to, newest
/// first; officials see all.
pub async fn deals(state: &AppState, user: CurrentUser, query: ListDealsQuery) -> ApiResult<Page<DealView>> {
    let page = techtrade_web::PageQuery { page: query.page, per_page: query.per_page }.validate()?;
    let organization_id = match user.organization_id.clone() {
        Some(org) if !user.role.is_official() => Some(org),
        _ => {
            user.require_official()?;
            None
        }
    };
    let filter = DealFilter {
        organization_id,
        statuses: query.status.map(|s| vec![s.as_str().to_string()]).unwrap_or_default(),
        // The registration queue: the contract waiting longest first.
        oldest_first: query.status == Some(DealStatus::Contracted),
        offset: page.offset(),
        limit: page.limit(),
    };
    state
        .db
        .run(move |conn| {
            let (deals, total) = db::list_deals(conn, &filter)?;
            let items = deals.into_iter().map(|d| views::deal_view(conn, d)).collect::<Result<Vec<_>, _>>()?;
            Ok(Page::new(items, total, page))
        })
        .await
}

/// One deal with its offers, contract, registration and payments.
#[utoipa::path(get, path = "/api/v1/deals/{id}", tag = "deals", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DealView), (status = 404, body = Problem)))]
async fn get_deal(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<DealView>> {
    Ok(Json(deal(&state, user, id).await?))
}

/// One deal as a party, its agency or an official sees it; 404 for others.
pub async fn deal(state: &AppState, user: CurrentUser, id: String) -> ApiResult<DealView> {
    state
        .db
        .run(move |conn| {
            let deal = lifecycle::load_visible(conn, &id, &user)?;
            views::deal_view(conn, deal)
        })
        .await
}

/// A counter-offer by the party whose turn it is.
#[utoipa::path(post, path = "/api/v1/deals/{id}/offers", tag = "deals", request_body = OfferRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn make_offer(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<OfferRequest>,
) -> ApiResult<(StatusCode, Json<DealView>)> {
    Ok((StatusCode::CREATED, Json(counter(&state, user, request_id, id, request).await?)))
}

/// A counter-offer by the party whose turn it is.
pub async fn counter(
    state: &AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    request: OfferRequest,
) -> ApiResult<DealView> {
    change_deal(state.clone(), user, id, move |conn, deal, user| {
        let next = lifecycle::decide(conn, deal, user, DealAction::Offer)?;
        let listing = listings::find_listing(conn, &deal.listing_id)?;
        let valid = request.validate("", &listing.as_ref().map(listing_modes).unwrap_or_default())?;
        let sequence = db::offers_of(conn, &deal.id)?.last().map_or(1, |o| o.sequence + 1);
        let offer = new_offer(&deal.id, sequence, user, valid)?;
        // Bumping the deal's version first makes a concurrent accept or
        // counter-offer lose cleanly with 409.
        let actor = Actor::user(user, request_id.as_deref());
        let extra = json!({"offer": offer_payload(&offer)});
        lifecycle::commit(conn, deal, next, "offered", actor, extra, offer.created_at)?;
        Ok(db::insert_offer(conn, &offer)?)
    })
    .await
}

/// Accepts the latest offer: only the party that did not make it may.
#[utoipa::path(post, path = "/api/v1/deals/{id}/accept", tag = "deals", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
async fn accept_offer(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<DealView>> {
    Ok(Json(accept(&state, user, request_id, id).await?))
}

/// Accepts the latest offer: only the party that did not make it may.
pub async fn accept(
    state: &AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
) -> ApiResult<DealView> {
    change_deal(state.clone(), user, id, move |conn, deal, user| {
        let next = lifecycle::decide(conn, deal, user, DealAction::Accept)?;
        let latest = db::offers_of(conn, &deal.id)?
            .pop()
            .ok_or_else(|| ApiError::internal(format!("deal {} has no offer", deal.id)))?;
        let now = techtrade_db::now();
        let mode = TradeMode::from_db(&latest.trade_mode)
            .ok_or_else(|| ApiError::internal(format!("offer {} has an unknown trade mode", latest.id)))?;
        lifecycle::reserve_rights(conn, deal, mode, now)?;
        deal.agreed_offer_id = Some(latest.id.clone());
        deal.agreed_at = Some(now);
        let actor = Actor::user(user, request_id.as_deref());
        lifecycle::commit(conn, deal, next, "agreed", actor, json!({"offer": offer_payload(&latest)}), now)
    })
    .await
}

/// The seller records the signed technology contract (again, to amend it
/// before registration). The trade mode is the agreed offer's.
#[utoipa::path(post, path = "/api/v1/deals/{id}/contract", tag = "deals", request_body = ContractRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn sign_contract(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<ContractRequest>,
) -> ApiResult<Json<DealView>> {
    Ok(Json(record_contract(&state, user, request_id, id, request).await?))
}

/// The seller records the signed contract (again, to amend it before
/// registration).
pub async fn record_contract(
    state: &AppState,
    user: CurrentUser,
    request_id: Option<String>,
    id: String,
    request: ContractRequest,
) -> ApiResult<DealView> {
    change_deal(state.clone(), user, id, move |conn, deal, user| {
        let next = lifecycle::decide(conn, deal, user, DealAction::SignContract)?;
        let now = techtrade_db::now();
        let valid = request.validate(techtrade_db::today())?;
        // An amendment cannot take the total below what is paid or promised
        // by open payments: paid would exceed the contract.
        let committed = views::committed_amount(&db::payments_of(conn, &deal.id)?)?;
        if valid.amounts.total < committed {
            return Err(ApiError::invalid_field(
                "total_amount_fen",
                "below_paid",
                format!("at least the {committed} already paid or awaiting confirmation"),
            ));
        }
        let agreed = db::offers_of(conn, &deal.id)?
            .into_iter()
            .find(|o| Some(&o.id) == deal.agreed_offer_id.as_ref())
            .ok_or_else(|| ApiError::internal(format!("agreed deal {} has no agreed offer", deal.id)))?;
        let contract = Contract {
            id: ids::new_id(),
            deal_id: deal.id.clone(),
            category: valid.category.as_str().to_string(),
            trade_mode: agreed.trade_mode,
            total_amount_fen: valid.amounts.total.fen(),
            non_technical_amount_fen: valid.amounts.non_technical.fen(),
            technology_amount_fen: valid.amounts.technology.fen(),
            signed_on: valid.signed_on,
            related_party: valid.related_party,
            created_by: user.user_id.clone(),
            created_at: now,
        };
        deal.contracted_at = Some(now);
        db::save_contract(conn, &contract)?;
        let payload = json!({"contract": {
            "category": contract.category,
            "total_amount_fen": contract.total_amount_fen,
            "technology_amount_fen": contract.technology_amount_fen,
            "signed_on": contract.signed_on,
        }});
        lifecycle::commit(conn, deal, next, "contracted", Actor::user(user, request_id.as_deref()), payload, now)
    })
    .await
}

/// Either party ends a registered contract (合同解除), with the day it
/// ended and why. Money already paid is then refunded by the seller
/// (`POST /payments/{id}/refund`); until every fen is back the deal is
/// `terminating`, then `terminated`. The rights go back on the market.
#[utoipa::path(post, path = "/api/v1/deals/{id}/terminate", tag = "deals", request_body = TerminateRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn terminate_deal(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<TerminateRequest>,
) -> ApiResult<Json<DealView>> {
    change_deal(state, user, id, move |conn, deal, user| {
        let (terminated_on, reason) = request.validate(techtrade_db::today())?;
        let now = techtrade_db::now();
        deal.terminated_on = Some(terminated_on);
        deal.termination_reason = Some(reason.clone());
        let actor = Actor::user(user, request_id.as_deref());
        let extra = json!({"reason": reason, "terminated_on": terminated_on});
        lifecycle::end(conn, deal, DealAction::Terminate, user, actor, extra, now).map(drop)
    })
    .await
    .map(Json)
}

/// Either party ends the deal before registration; money already paid is
/// refunded by the seller, and until it is the deal is `cancelling`.
#[utoipa::path(post, path = "/api/v1/deals/{id}/cancel", tag = "deals", request_body = CancelRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = DealView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
async fn cancel_deal(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<DealView>> {
    // The body is optional: a cancellation needs no reason.
    let request: CancelRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CancelRequest::default()
    } else {
        techtrade_web::extract::parse_json(&body)?
    };
    change_deal(state, user, id, move |conn, deal, user| {
        let reason = request.validate()?;
        let now = techtrade_db::now();
        deal.cancelled_at = Some(now);
        deal.cancel_reason = reason.clone();
        let actor = Actor::user(user, request_id.as_deref());
        lifecycle::end(conn, deal, DealAction::Cancel, user, actor, json!({"reason": reason}), now).map(drop)
    })
    .await
    .map(Json)
}

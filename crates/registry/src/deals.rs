//! Registering a platform deal's contract. The seller applies with the
//! deal (`POST /registrations {"deal_id", "terms"}`): the contract is the
//! one the parties signed on the platform, and the application runs as
//! any other — documents, deadline, 补正. The office's decision moves the
//! deal on in the same transaction (`techtrade_deals::registration`). The
//! deal's own route, `POST /deals/{id}/registration`, decides the seller's
//! application when there is one, and otherwise registers the platform's
//! contract at once, as it did before sellers applied.

use techtrade_db::AnyConnection;
use techtrade_db::deals::{self as deal_db, Deal};
use techtrade_db::registry::{self, Application};
use techtrade_deals::registration::{self as deal_registration, DealRegistration};
use techtrade_deals::requests::{ContractRegistrationRequest, RegistrationDecision, ValidRegistration};
use techtrade_deals::views::DealView;
use techtrade_domain::deal::{ContractAmounts, ContractCategory, DealAction};
use techtrade_domain::registration::{ApplicationStatus, RefusalReason};
use techtrade_domain::{DealStatus, Money};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode};

use crate::RegistrySettings;
use crate::requests::{DealContractTerms, DecisionRequest, OfficeDecision, ValidBuyer, ValidContract};
use crate::service::{Standing, authorized, decide_in, issue_number};

/// The contract of deal `deal_id`, for `user`'s organisation as its seller
/// to apply with: signed, not yet registered, not applied for already.
pub(crate) fn contract_of(
    conn: &mut AnyConnection,
    user: &CurrentUser,
    deal_id: &str,
    terms: &DealContractTerms,
) -> ApiResult<ValidContract> {
    let unknown = || ApiError::invalid_field("deal_id", "not_found", "no such deal of your organisation");
    let deal = deal_db::find_deal(conn, deal_id)?.ok_or_else(unknown)?;
    if !user.is_member_of(&deal.seller_organization_id) {
        return Err(if user.is_member_of(&deal.buyer_organization_id) {
            ApiError::forbidden("the seller applies to register a contract")
        } else {
            unknown()
        });
    }
    if deal.status != DealStatus::Contracted.as_str() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("a deal that is {} has no contract waiting for registration", deal.status),
        ));
    }
    if let Some(open) = registry::open_for_deal(conn, deal_id)? {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("the deal's contract is applied for already (application {}, {})", open.id, open.status),
        ));
    }
    let contract = deal_db::find_contract(conn, deal_id)?
        .ok_or_else(|| ApiError::internal(format!("contracted deal {deal_id} has no contract")))?;
    let signed = ValidContract {
        category: ContractCategory::from_db(&contract.category)
            .ok_or_else(|| ApiError::internal(format!("unknown contract category {:?}", contract.category)))?,
        subcategory: None,
        buyer: ValidBuyer::Registered(deal.buyer_organization_id.clone()),
        amounts: ContractAmounts::new(contract.total_amount_fen, contract.non_technical_amount_fen)
            .map_err(|_| ApiError::internal("a stored contract has amounts that do not check"))?,
        signed_on: contract.signed_on,
        valid_until: contract.signed_on,
        technology_field: None,
        ip_type: None,
        government_project: false,
        related_party: contract.related_party,
    };
    Ok(terms.complete(signed)?)
}

/// What the office decided about a deal's application, for the deal.
#[derive(Debug, Clone)]
pub(crate) enum DealOutcome {
    /// More material asked for: the deal waits as it is.
    Undecided,
    Refused {
        reasons: Vec<RefusalReason>,
        note: Option<String>,
    },
    Registered {
        number: String,
        technology_fen: i64,
        note: Option<String>,
    },
}

/// Applies the office's decision on `application` to its deal, if it has
/// one: registered, the deal is; refused, the deal stays contracted for a
/// new application (a deal that ended meanwhile is left as it is). Never
/// decided by an official of a party or of the deal's agency.
pub(crate) fn on_decision(
    conn: &mut AnyConnection,
    application: &Application,
    official: &CurrentUser,
    outcome: &DealOutcome,
    request_id: Option<&str>,
) -> ApiResult<()> {
    let Some(deal_id) = &application.deal_id else { return Ok(()) };
    let mut deal = deal_db::lock_deal(conn, deal_id)?
        .ok_or_else(|| ApiError::internal(format!("application {} names a vanished deal", application.id)))?;
    let decision = match outcome {
        DealOutcome::Refused { reasons, note } if deal.status == DealStatus::Contracted.as_str() => {
            DealRegistration::Rejected { reason: refusal_text(reasons, note) }
        }
        DealOutcome::Registered { number, technology_fen, note } => {
            DealRegistration::Registered { number: number.clone(), technology_fen: *technology_fen, note: note.clone() }
        }
        // Nothing for the deal, but still never an official with a stake in it.
        DealOutcome::Undecided | DealOutcome::Refused { .. } => {
            return deal_registration::check_decider(&deal, official);
        }
    };
    let next = deal_registration::check(conn, &deal, official, deal_registration::action_of(&decision))?;
    deal_registration::record(conn, &mut deal, official, next, decision, request_id)
}

/// The refusal as the deal's record words it: the catalogue's sentences, then the note.
fn refusal_text(reasons: &[RefusalReason], note: &Option<String>) -> String {
    let mut parts: Vec<&str> = reasons.iter().map(|r| r.zh()).collect();
    parts.extend(note.as_deref());
    parts.join("；")
}

/// `POST /deals/{id}/registration`: an official decides deal `deal_id`'s
/// registration. With the seller's application open, this is the office's
/// decision on it (a refusal then names catalogued `reasons`); without one,
/// the platform's contract is registered, or rejected, at once.
pub async fn register_deal(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    deal_id: String,
    request: ContractRegistrationRequest,
) -> ApiResult<DealView> {
    let (settings, user) = (settings.clone(), user.clone());
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let mut deal = techtrade_deals::lifecycle::load_for_change(conn, &deal_id, &user)?;
                match registry::open_for_deal(conn, &deal.id)? {
                    Some(application) if application.status == ApplicationStatus::Draft.as_str() => {
                        return Err(ApiError::new(
                            ErrorCode::InvalidState,
                            "the seller's application is a draft: the office decides it once submitted",
                        ));
                    }
                    Some(application) => {
                        let application = authorized(conn, &user, &application.id, &[Standing::Official])?;
                        let decision = application_decision(conn, &deal, &request)?;
                        decide_in(conn, &settings, application, &user, request_id.as_deref(), &decision)?;
                        // The decision moved the deal on: read it as it is now.
                        deal = deal_db::find_deal(conn, &deal_id)?.ok_or_else(|| ApiError::not_found("deal"))?;
                    }
                    None => at_the_counter(conn, &settings, &mut deal, &user, &request, request_id.as_deref())?,
                }
                techtrade_deals::views::deal_view(conn, deal)
            })
        })
        .await
}

/// The deal route's request as a decision on the seller's application.
fn application_decision(
    conn: &mut AnyConnection,
    deal: &Deal,
    request: &ContractRegistrationRequest,
) -> ApiResult<DecisionRequest> {
    let technology = contract_technology(conn, deal)?;
    Ok(match request.validate(technology)? {
        ValidRegistration::Register { amount, note } => DecisionRequest {
            decision: OfficeDecision::Register,
            reasons: Vec::new(),
            registered_total_fen: None,
            registered_technology_amount_fen: Some(amount.fen()),
            message: note,
        },
        ValidRegistration::Reject { reason } => {
            if request.reasons.is_empty() {
                return Err(ApiError::invalid_field(
                    "reasons",
                    "required",
                    "the seller applied: refuse with one or more reasons from the catalogue",
                ));
            }
            DecisionRequest {
                decision: OfficeDecision::Refuse,
                reasons: request.reasons.clone(),
                registered_total_fen: None,
                registered_technology_amount_fen: None,
                message: Some(reason),
            }
        }
    })
}

/// No application: the office registers the contract the platform holds,
/// as it did before sellers applied.
fn at_the_counter(
    conn: &mut AnyConnection,
    settings: &RegistrySettings,
    deal: &mut Deal,
    user: &CurrentUser,
    request: &ContractRegistrationRequest,
    request_id: Option<&str>,
) -> ApiResult<()> {
    // Who may decide, and whether the deal has a contract to register,
    // before the request's amounts are read.
    let action = match request.decision {
        RegistrationDecision::Register => DealAction::Register,
        RegistrationDecision::Reject => DealAction::RejectRegistration,
    };
    let next = deal_registration::check(conn, deal, user, action)?;
    let technology = contract_technology(conn, deal)?;
    let decision = match request.validate(technology)? {
        ValidRegistration::Reject { reason } => DealRegistration::Rejected { reason },
        ValidRegistration::Register { amount, note } => {
            let number = issue_number(conn, &deal.seller_organization_id, &settings.numbering, techtrade_db::now())?;
            DealRegistration::Registered { number, technology_fen: amount.fen(), note }
        }
    };
    deal_registration::record(conn, deal, user, next, decision, request_id)
}

/// The technology amount of a deal's contract (none yet: 409).
fn contract_technology(conn: &mut AnyConnection, deal: &Deal) -> ApiResult<Money> {
    let contract = deal_db::find_contract(conn, &deal.id)?.ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidState, format!("a deal that is {} has no contract to register", deal.status))
    })?;
    Money::from_fen(contract.technology_amount_fen).map_err(ApiError::internal)
}

//! Changes to a registered contract: the seller asks for an amendment
//! (变更: new amounts or a new period of validity) or a cancellation (注销),
//! the office decides it through the same decision route as an application
//! and within the same time limits. The registration stays in force while
//! a change waits; every change, approved or refused, stays in the record.

use techtrade_db::AnyConnection;
use techtrade_db::registry::{self, Application, Change};
use techtrade_domain::deal::ContractAmounts;
use techtrade_domain::ids;
use techtrade_domain::registration::{ApplicationStatus, ChangeKind, DecisionClock};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode};

use crate::RegistrySettings;
use crate::requests::{AmendmentRequest, CancellationRequest, DecisionRequest, ValidDecision};
use crate::service::{Standing, change, save, status_of, wrong_state};
use crate::views::ApplicationView;

/// The contract's amounts as they stand (as signed, or as last amended).
fn amounts_of(application: &Application) -> ApiResult<ContractAmounts> {
    ContractAmounts::new(application.total_amount_fen, application.non_technical_amount_fen)
        .map_err(|_| ApiError::internal("a stored application has amounts that do not check"))
}

/// Puts a change before the office: the application waits in its queue
/// with a deadline counted like a new application's.
fn request(
    conn: &mut AnyConnection,
    settings: &RegistrySettings,
    mut application: Application,
    user: &CurrentUser,
    request_id: Option<&str>,
    change: Change,
) -> ApiResult<Application> {
    if let Some(deal) = &application.deal_id {
        // The platform holds the deal's contract: it changes only with the
        // deal, and ends with it (合同解除, the deal's terminate route).
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!(
                "a platform deal's registration changes with the deal: end it with POST /api/v1/deals/{deal}/terminate"
            ),
        ));
    }
    let total = change.total_amount_fen.unwrap_or(application.total_amount_fen);
    let today = settings.clock.today();
    let clock = DecisionClock::start(&settings.calendar, &settings.limits, today, total, false);
    let kind = ChangeKind::from_db(&change.kind).ok_or_else(|| ApiError::internal("unknown change kind"))?;
    registry::insert_change(conn, &change)?;
    application.status = match kind {
        ChangeKind::Amendment => ApplicationStatus::AmendmentRequested,
        ChangeKind::Cancellation => ApplicationStatus::CancellationRequested,
    }
    .as_str()
    .to_string();
    application.decide_by = Some(clock.decide_by);
    application.deadline_provisional = clock.provisional;
    let event = application.status.clone();
    save(conn, application, &event, Some(change.reason), user, request_id, techtrade_db::now())
}

fn pending(application: &Application, kind: ChangeKind, user: &CurrentUser, reason: String) -> Change {
    Change {
        id: ids::new_id(),
        application_id: application.id.clone(),
        kind: kind.as_str().to_string(),
        status: "pending".to_string(),
        total_amount_fen: None,
        non_technical_amount_fen: None,
        valid_until: None,
        reason,
        refusal_reasons: None,
        requested_by: user.user_id.clone(),
        requested_at: techtrade_db::now(),
        decided_by: None,
        decided_at: None,
    }
}

/// The seller asks to amend its registered contract.
pub async fn request_amendment(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    amendment: AmendmentRequest,
) -> ApiResult<ApplicationView> {
    let settings_in = settings.clone();
    change(state, settings, user, id, &[Standing::Seller], move |conn, application, user| {
        let status = status_of(&application)?;
        if status != ApplicationStatus::Registered {
            return Err(wrong_state(status, "amended (only a registration in force, with no change pending)"));
        }
        let valid = amendment.validate(&amounts_of(&application)?, application.signed_on, application.valid_until)?;
        let mut change = pending(&application, ChangeKind::Amendment, user, valid.reason);
        change.total_amount_fen = Some(valid.amounts.total.fen());
        change.non_technical_amount_fen = Some(valid.amounts.non_technical.fen());
        change.valid_until = Some(valid.valid_until);
        request(conn, &settings_in, application, user, request_id.as_deref(), change)
    })
    .await
}

/// The seller asks to cancel its registration (the contract was
/// terminated or rescinded).
pub async fn request_cancellation(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    cancellation: CancellationRequest,
) -> ApiResult<ApplicationView> {
    let settings_in = settings.clone();
    change(state, settings, user, id, &[Standing::Seller], move |conn, application, user| {
        let status = status_of(&application)?;
        if status != ApplicationStatus::Registered {
            return Err(wrong_state(status, "cancelled (only a registration in force, with no change pending)"));
        }
        let reason = cancellation.validate()?;
        let change = pending(&application, ChangeKind::Cancellation, user, reason);
        request(conn, &settings_in, application, user, request_id.as_deref(), change)
    })
    .await
}

/// The office decides the change waiting on `application`: `register`
/// approves it (an amendment's amounts as registered, by default the
/// amended contract's), `refuse` keeps the registration as it was, with
/// catalogued reasons. More material is not asked for a change: the
/// office refuses it, saying what is missing, and the seller asks again.
pub(crate) fn decide(
    conn: &mut AnyConnection,
    mut application: Application,
    user: &CurrentUser,
    request_id: Option<&str>,
    decision: &DecisionRequest,
) -> ApiResult<Application> {
    let mut change = registry::pending_change(conn, &application.id)?
        .ok_or_else(|| ApiError::internal("an application waiting for a change has no pending change"))?;
    let kind = ChangeKind::from_db(&change.kind).ok_or_else(|| ApiError::internal("unknown change kind"))?;
    let amended = ContractAmounts::new(
        change.total_amount_fen.unwrap_or(application.total_amount_fen),
        change.non_technical_amount_fen.unwrap_or(application.non_technical_amount_fen),
    )
    .map_err(|_| ApiError::internal("a stored change has amounts that do not check"))?;
    let now = techtrade_db::now();
    let (event, note) = match decision.validate(&amended)? {
        ValidDecision::RequestMore { .. } => {
            return Err(ApiError::new(
                ErrorCode::InvalidState,
                "a change is approved (register) or refused with reasons; the seller then asks again",
            ));
        }
        ValidDecision::Refuse { reasons, note } => {
            let codes: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
            change.status = "refused".to_string();
            change.refusal_reasons = Some(codes.join(","));
            application.status = ApplicationStatus::Registered.as_str().to_string();
            ("change_refused", note)
        }
        ValidDecision::Register { total, technology, note } => {
            change.status = "approved".to_string();
            match kind {
                ChangeKind::Amendment => {
                    application.total_amount_fen = amended.total.fen();
                    application.non_technical_amount_fen = amended.non_technical.fen();
                    application.valid_until = change.valid_until.unwrap_or(application.valid_until);
                    application.registered_total_fen = Some(total.fen());
                    application.registered_technology_fen = Some(technology.fen());
                    application.status = ApplicationStatus::Registered.as_str().to_string();
                    ("amended", note)
                }
                ChangeKind::Cancellation => {
                    application.status = ApplicationStatus::Cancelled.as_str().to_string();
                    ("cancelled", note)
                }
            }
        }
    };
    change.decided_by = Some(user.user_id.clone());
    change.decided_at = Some(now);
    if !registry::decide_change(conn, &change)? {
        return Err(ApiError::new(ErrorCode::Conflict, "the change was decided meanwhile; reload it"));
    }
    // Nothing is due any more; the record keeps the deadline that was.
    application.decide_by = None;
    application.deadline_provisional = false;
    save(conn, application, event, note, user, request_id, now)
}

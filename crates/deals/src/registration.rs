//! What the registration office's decision on a deal's contract does to
//! the deal. The office (`techtrade-registry`) decides and issues the
//! number; this records the decision on the deal and moves it on.

use serde_json::json;
use techtrade_db::AnyConnection;
use techtrade_db::deals::{self as db, Deal, Registration};
use techtrade_domain::deal::DealAction;
use techtrade_domain::{DealStatus, ids};
use techtrade_web::{ApiError, CurrentUser, ErrorCode};

use crate::lifecycle::{self, Actor};

/// The office's decision on a deal's contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealRegistration {
    /// Registered under `number` with the 核定 technology amount.
    Registered { number: String, technology_fen: i64, note: Option<String> },
    /// Not registered: the deal stays contracted, to be registered later.
    Rejected { reason: String },
}

/// Whether `official` may decide deal `deal`'s registration: never an
/// official of a party or of the deal's agency.
pub fn check_decider(deal: &Deal, official: &CurrentUser) -> Result<(), ApiError> {
    if official.role.is_official() && lifecycle::involves(deal, official) {
        return Err(ApiError::new(
            ErrorCode::OwnOrganization,
            "an official of a party or of the deal's agency may not decide its registration",
        ));
    }
    Ok(())
}

/// Whether `official` may take `action` on `deal`'s registration now:
/// never an official of a party or of the deal's agency, and only while
/// the deal is contracted. The status the deal moves to.
pub fn check(
    conn: &mut AnyConnection,
    deal: &Deal,
    official: &CurrentUser,
    action: DealAction,
) -> Result<DealStatus, ApiError> {
    check_decider(deal, official)?;
    lifecycle::decide(conn, deal, official, action)
}

/// The action that records `decision`.
pub fn action_of(decision: &DealRegistration) -> DealAction {
    match decision {
        DealRegistration::Registered { .. } => DealAction::Register,
        DealRegistration::Rejected { .. } => DealAction::RejectRegistration,
    }
}

/// Records `decision` on `deal` (locked by the caller, in its transaction,
/// and [`check`]ed into `next`): the registration row, the deal's step and
/// event, and completion when the deal is already paid in full.
pub fn record(
    conn: &mut AnyConnection,
    deal: &mut Deal,
    official: &CurrentUser,
    next: DealStatus,
    decision: DealRegistration,
    request_id: Option<&str>,
) -> Result<(), ApiError> {
    let now = techtrade_db::now();
    let actor = Actor::user(official, request_id);
    let mut registration = Registration {
        id: ids::new_id(),
        deal_id: deal.id.clone(),
        decision: String::new(),
        registration_number: None,
        registered_technology_amount_fen: None,
        reason: None,
        official_id: official.user_id.clone(),
        created_at: now,
    };
    match decision {
        DealRegistration::Rejected { reason } => {
            registration.decision = "reject".into();
            registration.reason = Some(reason.clone());
            db::insert_registration(conn, &registration)?;
            lifecycle::commit(conn, deal, next, "registration_rejected", actor, json!({"reason": reason}), now)
        }
        DealRegistration::Registered { number, technology_fen, note } => {
            registration.decision = "register".into();
            registration.registration_number = Some(number.clone());
            registration.registered_technology_amount_fen = Some(technology_fen);
            registration.reason = note;
            deal.registered_at = Some(now);
            db::insert_registration(conn, &registration)?;
            let payload = json!({
                "registration_number": number,
                "registered_technology_amount_fen": technology_fen,
            });
            lifecycle::commit(conn, deal, next, "registered", actor, payload, now)?;
            lifecycle::complete_if_settled(conn, deal, actor, now).map(drop)
        }
    }
}

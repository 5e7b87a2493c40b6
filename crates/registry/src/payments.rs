//! Payments on a contract signed off the platform: the platform never saw
//! the money, so the seller declares each payment with a proof (a bank
//! slip or an invoice among the application's documents) and an official
//! confirms or rejects it. Only confirmed payments count for a subsidy, as
//! a platform deal's confirmed payments do (`techtrade_subsidy::facts`).

use techtrade_db::registry::{self, DeclaredPayment};
use techtrade_domain::ids;
use techtrade_domain::registration::{ApplicationStatus, DocumentKind};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode};

use crate::RegistrySettings;
use crate::requests::{PaymentDecision, PaymentDeclaration};
use crate::service::{Standing, record, status_of, visible, wrong_state};
use crate::views::DeclaredPaymentView;

const MAX_NOTE: usize = 2000;

/// The seller declares a payment on its registered off-platform contract.
pub async fn declare(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    declaration: PaymentDeclaration,
) -> ApiResult<DeclaredPaymentView> {
    let (user, today) = (user.clone(), settings.clock.today());
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (application, standing) = visible(conn, &user, &id)?;
                if standing != Standing::Seller {
                    return Err(ApiError::forbidden("the seller declares the payments"));
                }
                if application.deal_id.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        "a platform deal's payments are made on the deal, not declared",
                    ));
                }
                let status = status_of(&application)?;
                if !status.in_force() {
                    return Err(wrong_state(status, "paid on (only a registered contract)"));
                }
                let (amount, paid_on) = declaration.validate(today, application.signed_on)?;
                let proof = registry::find_document(conn, &id, &declaration.proof_document_id)?.map(|(d, _)| d);
                match proof {
                    None => {
                        return Err(ApiError::invalid_field(
                            "proof_document_id",
                            "not_found",
                            "no such document of this application",
                        ));
                    }
                    Some(d)
                        if ![DocumentKind::Proof.as_str(), DocumentKind::Invoice.as_str()]
                            .contains(&d.kind.as_str()) =>
                    {
                        return Err(ApiError::invalid_field(
                            "proof_document_id",
                            "not_a_proof",
                            "a payment is proved by a document of kind proof or invoice",
                        ));
                    }
                    Some(_) => {}
                }
                let already: i64 = registry::payments_of(conn, std::slice::from_ref(&id))?
                    .iter()
                    .filter(|p| p.status != "rejected")
                    .map(|p| p.amount_fen)
                    .sum();
                if already.checked_add(amount.fen()).is_none_or(|sum| sum > application.total_amount_fen) {
                    return Err(ApiError::invalid_field(
                        "amount_fen",
                        "exceeds_contract",
                        format!(
                            "with the payments declared before ({already} fen) it exceeds the contract's {} fen",
                            application.total_amount_fen
                        ),
                    ));
                }
                let now = techtrade_db::now();
                let payment = DeclaredPayment {
                    id: ids::new_id(),
                    application_id: id.clone(),
                    amount_fen: amount.fen(),
                    paid_on,
                    proof_document_id: declaration.proof_document_id.clone(),
                    status: "declared".to_string(),
                    note: None,
                    declared_by: user.user_id.clone(),
                    declared_at: now,
                    decided_by: None,
                    decided_at: None,
                };
                registry::insert_payment(conn, &payment)?;
                let message = format!("{amount} paid on {paid_on}");
                record(conn, &application, "payment_declared", Some(message), &user, request_id.as_deref(), now)?;
                Ok(DeclaredPaymentView::from(payment))
            })
        })
        .await
}

/// An official confirms or rejects a declared payment (never an official
/// of a party).
pub async fn decide(
    state: &AppState,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    payment_id: String,
    decision: PaymentDecision,
) -> ApiResult<DeclaredPaymentView> {
    let note = decision.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(ApiError::invalid_field("note", "too_long", format!("at most {MAX_NOTE} characters")));
    }
    if !decision.confirmed && note.is_none() {
        return Err(ApiError::invalid_field("note", "required", "say why the payment is rejected"));
    }
    let user = user.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (application, standing) = visible(conn, &user, &id)?;
                match standing {
                    Standing::Official => {}
                    _ if user.role.is_official() => {
                        return Err(ApiError::new(
                            ErrorCode::OwnOrganization,
                            "an official of a party may not confirm its payments",
                        ));
                    }
                    _ => return Err(ApiError::forbidden("an official confirms payments")),
                }
                let mut payment =
                    registry::find_payment(conn, &id, &payment_id)?.ok_or_else(|| ApiError::not_found("payment"))?;
                if payment.status != "declared" {
                    return Err(ApiError::new(
                        ErrorCode::InvalidState,
                        format!("the payment is {} already", payment.status),
                    ));
                }
                let status = status_of(&application)?;
                if status == ApplicationStatus::Cancelled {
                    return Err(wrong_state(status, "paid on"));
                }
                let now = techtrade_db::now();
                payment.status = if decision.confirmed { "confirmed" } else { "rejected" }.to_string();
                payment.note = note.clone();
                payment.decided_by = Some(user.user_id.clone());
                payment.decided_at = Some(now);
                if !registry::decide_payment(conn, &payment)? {
                    return Err(ApiError::new(ErrorCode::Conflict, "the payment was decided meanwhile; reload it"));
                }
                let event = if decision.confirmed { "payment_confirmed" } else { "payment_rejected" };
                record(conn, &application, event, note, &user, request_id.as_deref(), now)?;
                Ok(DeclaredPaymentView::from(payment))
            })
        })
        .await
}

//! What the registration office tells others, through the outbox (the
//! notify worker turns these into e-mails): the seller hears of each
//! decision — a request for more material (its clock stands still until it
//! answers), a registration, a refusal, a change decided —, and the office
//! of each application that enters its queue and of each deadline that
//! nears (`reminders`).

use serde::Serialize;
use techtrade_db::registry::Application;
use techtrade_db::{AnyConnection, outbox};
use techtrade_domain::registration::RefusalReason;
use techtrade_web::ApiResult;

/// The steps that are news to someone: the outbox event is `registration.<step>`.
const ANNOUNCED: [&str; 11] = [
    "submitted",
    "answered",
    "more_requested",
    "disputed",
    "registered",
    "refused",
    "amendment_requested",
    "cancellation_requested",
    "amended",
    "cancelled",
    "change_refused",
];

/// The payload of a `registration.*` event.
#[derive(Debug, Clone, Serialize)]
struct RegistrationChanged<'a> {
    application_id: &'a str,
    step: &'a str,
    seller_organization_id: &'a str,
    buyer_organization_id: Option<&'a str>,
    buyer_name: &'a str,
    category: &'a str,
    total_amount_fen: i64,
    /// As registered once it is, else as the contract states it.
    technology_amount_fen: i64,
    decide_by: Option<chrono::NaiveDate>,
    registration_number: Option<&'a str>,
    message: Option<&'a str>,
    /// A refusal's reasons, as the office's notice words them.
    reasons: Vec<&'static str>,
    /// With `due`: working days left until `decide_by`.
    working_days_left: Option<i64>,
}

fn payload(
    application: &Application,
    step: &str,
    message: Option<&str>,
    working_days_left: Option<i64>,
) -> serde_json::Value {
    let reasons = match step {
        "refused" => application
            .refusal_reasons
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(RefusalReason::from_db)
            .map(RefusalReason::zh)
            .collect(),
        _ => Vec::new(),
    };
    let event = RegistrationChanged {
        application_id: &application.id,
        step,
        seller_organization_id: &application.seller_organization_id,
        buyer_organization_id: application.buyer_organization_id.as_deref(),
        buyer_name: &application.buyer_name,
        category: &application.category,
        total_amount_fen: application.registered_total_fen.unwrap_or(application.total_amount_fen),
        technology_amount_fen: application
            .registered_technology_fen
            .unwrap_or(application.total_amount_fen - application.non_technical_amount_fen),
        decide_by: application.decide_by,
        registration_number: application.registration_number.as_deref(),
        message,
        reasons,
        working_days_left,
    };
    serde_json::to_value(event).unwrap_or(serde_json::Value::Null)
}

/// Puts `step` of `application` in the outbox, when it is news to anyone.
pub(crate) fn announce(
    conn: &mut AnyConnection,
    application: &Application,
    step: &str,
    message: Option<&str>,
) -> ApiResult<()> {
    if ANNOUNCED.contains(&step) {
        let event = format!("registration.{step}");
        outbox::emit(
            conn,
            &event,
            "registration_application",
            &application.id,
            &payload(application, step, message, None),
        )?;
    }
    Ok(())
}

/// Puts a reminder to the office in the outbox: `application` is due in
/// `working_days_left` working days.
pub(crate) fn announce_due(
    conn: &mut AnyConnection,
    application: &Application,
    working_days_left: i64,
) -> ApiResult<()> {
    let payload = payload(application, "due", None, Some(working_days_left));
    outbox::emit(conn, "registration.due", "registration_application", &application.id, &payload)?;
    Ok(())
}

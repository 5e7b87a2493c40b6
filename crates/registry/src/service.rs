//! The registration office's service: who may do what to an application,
//! in which state, with the office's clock kept in working days. The API
//! routes (and, later, the web front) call these functions.

use chrono::{NaiveDate, NaiveDateTime};
use techtrade_db::registry::{self, Application, ApplicationEvent, ApplicationFilter};
use techtrade_db::{AnyConnection, accounts, audit};
use techtrade_domain::deal::{ContractAmounts, ContractCategory, RegistrationNumber};
use techtrade_domain::ids;
use techtrade_domain::registration::{ApplicationStatus, DecisionClock, DocumentKind};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Page, PageQuery};

use crate::deals::DealOutcome;
use crate::requests::{
    AnswerRequest, ApplicationRequest, DecisionRequest, DisputeRequest, ValidApplication, ValidBuyer, ValidDecision,
};
use crate::views::{ApplicationDetail, ApplicationView, ChangeView, DeclaredPaymentView, DocumentView, EventView};
use crate::{Numbering, RegistrySettings};

/// Who the caller is to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    Seller,
    Buyer,
    Official,
}

fn standing(user: &CurrentUser, application: &Application) -> Option<Standing> {
    if user.is_member_of(&application.seller_organization_id) {
        Some(Standing::Seller)
    } else if application.buyer_organization_id.as_deref().is_some_and(|id| user.is_member_of(id)) {
        Some(Standing::Buyer)
    } else if user.role.is_official() && application.status != ApplicationStatus::Draft.as_str() {
        // A draft is the seller's own until it is submitted.
        Some(Standing::Official)
    } else {
        None
    }
}

pub(crate) fn status_of(application: &Application) -> ApiResult<ApplicationStatus> {
    ApplicationStatus::from_db(&application.status)
        .ok_or_else(|| ApiError::internal(format!("unknown application status '{}'", application.status)))
}

pub(crate) fn wrong_state(status: ApplicationStatus, what: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidState, format!("an application that is {status} cannot be {what}"))
}

/// The application `id` as `user` may see it: 404 for anyone else.
pub(crate) fn visible(conn: &mut AnyConnection, user: &CurrentUser, id: &str) -> ApiResult<(Application, Standing)> {
    let application = registry::find(conn, id)?.ok_or_else(|| ApiError::not_found("registration application"))?;
    let standing = standing(user, &application).ok_or_else(|| ApiError::not_found("registration application"))?;
    Ok((application, standing))
}

pub(crate) fn view(settings: &RegistrySettings, application: Application) -> ApplicationView {
    let today = settings.clock.today();
    let left = match (application.decide_by, application.status.as_str()) {
        (Some(decide_by), "submitted") => {
            let clock = DecisionClock { decide_by, stopped_on: None, provisional: application.deadline_provisional };
            clock.working_days_left(&settings.calendar, today)
        }
        _ => None,
    };
    ApplicationView::new(application, left)
}

/// Records a step: the application's record, and the audit log.
pub(crate) fn record(
    conn: &mut AnyConnection,
    application: &Application,
    event: &str,
    message: Option<String>,
    actor: &CurrentUser,
    request_id: Option<&str>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    registry::insert_event(
        conn,
        &ApplicationEvent {
            id: ids::new_id(),
            application_id: application.id.clone(),
            event: event.to_string(),
            message: message.clone(),
            decide_by: application.decide_by,
            actor_id: actor.user_id.clone(),
            created_at: now,
        },
    )?;
    audit::append(
        conn,
        audit::AuditEntry {
            actor_user_id: Some(&actor.user_id),
            action: &format!("registration.{event}"),
            subject_type: "registration_application",
            subject_id: &application.id,
            after: Some(serde_json::json!({
                "status": application.status,
                "decide_by": application.decide_by,
                "registration_number": application.registration_number,
                "message": message,
            })),
            request_id,
            organization_id: Some(&application.seller_organization_id),
            ..Default::default()
        },
    )?;
    crate::events::announce(conn, application, event, message.as_deref())?;
    Ok(())
}

/// Writes the changed application (its version bumped) and records the step.
pub(crate) fn save(
    conn: &mut AnyConnection,
    mut application: Application,
    event: &str,
    message: Option<String>,
    actor: &CurrentUser,
    request_id: Option<&str>,
    now: NaiveDateTime,
) -> ApiResult<Application> {
    application.version += 1;
    application.updated_at = now;
    if !registry::update(conn, &application)? {
        return Err(ApiError::new(ErrorCode::Conflict, "the application changed meanwhile; reload it"));
    }
    record(conn, &application, event, message, actor, request_id, now)?;
    Ok(application)
}

/// A seller's draft application for a contract signed off the platform.
pub async fn create(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    request: ApplicationRequest,
) -> ApiResult<ApplicationView> {
    let seller = user.organization()?.to_string();
    let valid = request.validate(settings.clock.today())?;
    let (user, settings_for_view) = (user.clone(), settings.clone());
    let created = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let (contract, deal_id) = match valid {
                    ValidApplication::OffPlatform(contract) => (contract, None),
                    ValidApplication::Deal { deal_id, terms } => {
                        (crate::deals::contract_of(conn, &user, &deal_id, &terms)?, Some(deal_id))
                    }
                };
                let seller_row = accounts::find_organization(conn, &seller)?
                    .ok_or_else(|| ApiError::internal("the caller's organisation vanished"))?;
                let (buyer_id, name, credit_code, region_code, kind) = match &contract.buyer {
                    ValidBuyer::Registered(id) => {
                        let buyer = accounts::find_organization(conn, id)?.ok_or_else(|| {
                            ApiError::invalid_field(
                                "contract.buyer.organization_id",
                                "not_found",
                                "no such organisation",
                            )
                        })?;
                        (Some(buyer.id), buyer.name, buyer.credit_code, buyer.region_code, buyer.kind)
                    }
                    ValidBuyer::Named { name, credit_code, region_code, kind } => (
                        None,
                        name.clone(),
                        credit_code.to_string(),
                        region_code.to_string(),
                        kind.as_str().to_string(),
                    ),
                };
                if credit_code == seller_row.credit_code {
                    return Err(ApiError::invalid_field(
                        "contract.buyer.credit_code",
                        "same_as_seller",
                        "the buyer is the seller itself",
                    ));
                }
                let now = techtrade_db::now();
                let application = Application {
                    id: ids::new_id(),
                    seller_organization_id: seller,
                    deal_id,
                    status: ApplicationStatus::Draft.as_str().to_string(),
                    category: contract.category.as_str().to_string(),
                    subcategory: contract.subcategory.map(|s| s.as_str().to_string()),
                    buyer_organization_id: buyer_id,
                    buyer_name: name,
                    buyer_credit_code: credit_code,
                    buyer_region_code: region_code,
                    buyer_kind: kind,
                    reminded_for: None,
                    total_amount_fen: contract.amounts.total.fen(),
                    non_technical_amount_fen: contract.amounts.non_technical.fen(),
                    signed_on: contract.signed_on,
                    valid_until: contract.valid_until,
                    technology_field: contract.technology_field.map(|f| f.as_str().to_string()),
                    ip_type: contract.ip_type.map(|t| t.as_str().to_string()),
                    government_project: contract.government_project,
                    related_party: contract.related_party,
                    submitted_on: None,
                    decide_by: None,
                    stopped_on: None,
                    deadline_provisional: false,
                    registration_number: None,
                    registered_total_fen: None,
                    registered_technology_fen: None,
                    refusal_reasons: None,
                    decided_by: None,
                    decided_at: None,
                    created_by: user.user_id.clone(),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                    disputed: false,
                };
                registry::insert(conn, &application)?;
                record(conn, &application, "created", None, &user, request_id.as_deref(), now)?;
                Ok(application)
            })
        })
        .await?;
    Ok(view(&settings_for_view, created))
}

/// Query parameters of the list.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationListQuery {
    /// draft | submitted | more_requested | registered | refused
    #[serde(default)]
    pub status: Option<ApplicationStatus>,
    /// Sellers in this region (2, 4 or 6 digits): an office's own applications.
    #[serde(default)]
    #[param(value_type = Option<String>, pattern = r"^(\d{2}|\d{4}|\d{6})?$")]
    pub office: Option<String>,
    /// Only those to be decided on or before this day.
    #[serde(default)]
    pub due_before: Option<NaiveDate>,
}

/// The applications the caller may see: officials the whole queue (the
/// earliest deadline first, drafts left out), members their
/// organisation's as seller.
pub async fn list(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    query: ApplicationListQuery,
    page: PageQuery,
) -> ApiResult<Page<ApplicationView>> {
    let request = page.validate()?;
    let office_region = match query.office.as_deref().filter(|o| !o.is_empty()) {
        Some(office) => Some(office_prefix(office)?),
        None => None,
    };
    let mut filter = ApplicationFilter {
        seller_organization_id: None,
        status: query.status.map(|s| s.as_str().to_string()),
        due_before: query.due_before,
        office_region,
        // Officials see the office's queue: drafts are not in it yet.
        without_drafts: user.role.is_official(),
    };
    if !user.role.is_official() {
        filter.seller_organization_id = Some(user.organization()?.to_string());
    }
    let (total, rows) = state
        .db
        .run(move |conn| {
            let total = registry::count(conn, &filter)?;
            let rows = registry::list(conn, &filter, request.offset(), request.limit())?;
            Ok::<_, ApiError>((total, rows))
        })
        .await?;
    Ok(Page::new(rows.into_iter().map(|a| view(settings, a)).collect(), total, request))
}

/// A region code's leading digits: `63` (a province), `6301` (a
/// prefecture) or `630102`. One that no organisation has matches nothing.
fn office_prefix(office: &str) -> ApiResult<String> {
    if !matches!(office.len(), 2 | 4 | 6) || !office.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "office: a region code of 2, 4 or 6 digits").with_field(
            "office",
            "bad_format",
            "2, 4 or 6 digits",
        ));
    }
    Ok(office.to_string())
}

/// An application with its record.
pub async fn get(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    id: String,
) -> ApiResult<ApplicationDetail> {
    let user = user.clone();
    let (application, seller_name, events, documents, changes, payments) = state
        .db
        .run(move |conn| {
            let (application, _) = visible(conn, &user, &id)?;
            let seller = accounts::find_organization(conn, &application.seller_organization_id)?
                .ok_or_else(|| ApiError::internal("the seller organisation vanished"))?;
            let events = registry::events_of(conn, &id)?;
            let documents = registry::documents_of(conn, &id)?;
            let changes = registry::changes_of(conn, &id)?;
            let payments = registry::payments_of(conn, std::slice::from_ref(&id))?;
            Ok::<_, ApiError>((application, seller.name, events, documents, changes, payments))
        })
        .await?;
    Ok(ApplicationDetail {
        tax_guidance: tax_guidance(&application)?,
        application: view(settings, application),
        seller_name,
        documents: documents.into_iter().map(DocumentView::from).collect(),
        changes: changes.into_iter().map(ChangeView::from).collect(),
        payments: payments.into_iter().map(DeclaredPaymentView::from).collect(),
        events: events.into_iter().map(EventView::from).collect(),
    })
}

/// The tax guidance of a registration in force (none before, or once cancelled).
fn tax_guidance(application: &Application) -> ApiResult<Option<techtrade_domain::tax::TaxGuidance>> {
    if !status_of(application)?.in_force() {
        return Ok(None);
    }
    let category = ContractCategory::from_db(&application.category)
        .ok_or_else(|| ApiError::internal(format!("unknown contract category {:?}", application.category)))?;
    let technology = application
        .registered_technology_fen
        .ok_or_else(|| ApiError::internal("a registration in force without its technology amount"))?;
    let contract = techtrade_domain::tax::RegisteredContract {
        category,
        technology_amount: techtrade_domain::Money::from_fen(technology).map_err(ApiError::internal)?,
        signed_on: application.signed_on,
        valid_until: application.valid_until,
        related_party: application.related_party,
    };
    Ok(Some(techtrade_domain::tax::guidance(&contract)))
}

/// Changes application `id` under `step` in one transaction, for a caller
/// of one of `allowed` standings (others: 403, or 404 when they may not see it).
pub(crate) async fn change(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    id: String,
    allowed: &'static [Standing],
    step: impl FnOnce(&mut AnyConnection, Application, &CurrentUser) -> ApiResult<Application> + Send + 'static,
) -> ApiResult<ApplicationView> {
    let user = user.clone();
    let changed = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let application = authorized(conn, &user, &id, allowed)?;
                step(conn, application, &user)
            })
        })
        .await?;
    Ok(view(settings, changed))
}

/// Application `id` if `user` stands to it as one of `allowed` (others:
/// 403, or 404 when they may not see it).
pub(crate) fn authorized(
    conn: &mut AnyConnection,
    user: &CurrentUser,
    id: &str,
    allowed: &[Standing],
) -> ApiResult<Application> {
    let (application, standing) = visible(conn, user, id)?;
    if allowed.contains(&standing) {
        return Ok(application);
    }
    Err(match standing {
        Standing::Official => ApiError::forbidden("the seller does this"),
        // An official employed by a party sees the application as that
        // party does, and never decides it.
        _ if user.role.is_official() && allowed.contains(&Standing::Official) => {
            ApiError::new(ErrorCode::OwnOrganization, "an official of a party may not decide its registration")
        }
        _ => ApiError::forbidden("the registration office does this"),
    })
}

/// The seller submits its draft: the office's clock starts (15 working
/// days, 30 for a large contract). Not after the contract's validity.
pub async fn submit(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
) -> ApiResult<ApplicationView> {
    let settings_in = settings.clone();
    change(state, settings, user, id, &[Standing::Seller], move |conn, mut application, user| {
        let status = status_of(&application)?;
        if status != ApplicationStatus::Draft {
            return Err(wrong_state(status, "submitted"));
        }
        if !registry::has_document(conn, &application.id, DocumentKind::Contract.as_str())? {
            // The request is fine; the application is not ready: 409, the
            // missing document named as a field.
            return Err(ApiError::new(
                ErrorCode::InvalidState,
                "documents: upload the contract's text (a document of kind contract) first",
            )
            .with_field("documents", "contract_required", "upload the contract's text first"));
        }
        let today = settings_in.clock.today();
        if today > application.valid_until {
            return Err(ApiError::new(
                ErrorCode::InvalidState,
                format!("the contract's validity ended on {}: it can no longer be registered", application.valid_until),
            ));
        }
        let clock = DecisionClock::start(
            &settings_in.calendar,
            &settings_in.limits,
            today,
            application.total_amount_fen,
            application.disputed,
        );
        application.status = ApplicationStatus::Submitted.as_str().to_string();
        application.submitted_on = Some(today);
        application.decide_by = Some(clock.decide_by);
        application.deadline_provisional = clock.provisional;
        save(conn, application, "submitted", None, user, request_id.as_deref(), techtrade_db::now())
    })
    .await
}

/// The seller answers a request for more material: the clock runs again
/// with the working days that were left.
pub async fn answer(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    request: AnswerRequest,
) -> ApiResult<ApplicationView> {
    let message = request.message.map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
    if message.as_ref().is_some_and(|m| m.chars().count() > 2000) {
        return Err(ApiError::invalid_field("message", "too_long", "at most 2000 characters"));
    }
    let settings_in = settings.clone();
    change(state, settings, user, id, &[Standing::Seller], move |conn, mut application, user| {
        let status = status_of(&application)?;
        if status != ApplicationStatus::MoreRequested {
            return Err(wrong_state(status, "answered (no material was asked for)"));
        }
        let (Some(decide_by), Some(stopped_on)) = (application.decide_by, application.stopped_on) else {
            return Err(ApiError::internal("an application waiting for material has no stopped clock"));
        };
        let clock =
            DecisionClock { decide_by, stopped_on: Some(stopped_on), provisional: application.deadline_provisional }
                .resume(&settings_in.calendar, settings_in.clock.today());
        application.status = ApplicationStatus::Submitted.as_str().to_string();
        application.decide_by = Some(clock.decide_by);
        application.stopped_on = None;
        application.deadline_provisional = clock.provisional;
        save(conn, application, "answered", message, user, request_id.as_deref(), techtrade_db::now())
    })
    .await
}

/// The office decides a submitted application: registered with a new
/// number and the amounts as registered, refused with catalogued reasons,
/// or more material asked for (the clock stops). Never by an official of
/// either party ([`change`] refuses them).
pub async fn decide(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    request: DecisionRequest,
) -> ApiResult<ApplicationView> {
    let settings_in = settings.clone();
    change(state, settings, user, id, &[Standing::Official], move |conn, application, user| {
        decide_in(conn, &settings_in, application, user, request_id.as_deref(), &request)
    })
    .await
}

/// [`decide`] inside the caller's transaction, on an application the
/// caller may decide. A platform deal's application moves the deal on too.
pub(crate) fn decide_in(
    conn: &mut AnyConnection,
    settings: &RegistrySettings,
    mut application: Application,
    user: &CurrentUser,
    request_id: Option<&str>,
    request: &DecisionRequest,
) -> ApiResult<Application> {
    let status = status_of(&application)?;
    if matches!(status, ApplicationStatus::AmendmentRequested | ApplicationStatus::CancellationRequested) {
        return crate::changes::decide(conn, application, user, request_id, request);
    }
    if status != ApplicationStatus::Submitted {
        return Err(wrong_state(status, "decided"));
    }
    let contract = ContractAmounts::new(application.total_amount_fen, application.non_technical_amount_fen)
        .map_err(|_| ApiError::internal("a stored application has amounts that do not check"))?;
    let now = techtrade_db::now();
    let today = settings.clock.today();
    let decision = request.validate(&contract)?;
    match decision {
        ValidDecision::RequestMore { message } => {
            crate::deals::on_decision(conn, &application, user, &DealOutcome::Undecided, request_id)?;
            let clock = DecisionClock {
                decide_by: application.decide_by.unwrap_or(today),
                stopped_on: None,
                provisional: application.deadline_provisional,
            }
            .stop(today);
            application.status = ApplicationStatus::MoreRequested.as_str().to_string();
            application.stopped_on = clock.stopped_on;
            save(conn, application, "more_requested", Some(message), user, request_id, now)
        }
        ValidDecision::Refuse { reasons, note } => {
            let outcome = DealOutcome::Refused { reasons: reasons.clone(), note: note.clone() };
            crate::deals::on_decision(conn, &application, user, &outcome, request_id)?;
            let codes: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
            application.status = ApplicationStatus::Refused.as_str().to_string();
            application.refusal_reasons = Some(codes.join(","));
            application.decided_by = Some(user.user_id.clone());
            application.decided_at = Some(now);
            save(conn, application, "refused", note, user, request_id, now)
        }
        ValidDecision::Register { total, technology, note } => {
            let number = issue_number(conn, &application.seller_organization_id, &settings.numbering, now)?;
            let outcome = DealOutcome::Registered {
                number: number.clone(),
                technology_fen: technology.fen(),
                note: note.clone(),
            };
            crate::deals::on_decision(conn, &application, user, &outcome, request_id)?;
            application.status = ApplicationStatus::Registered.as_str().to_string();
            application.registration_number = Some(number);
            application.registered_total_fen = Some(total.fen());
            application.registered_technology_fen = Some(technology.fen());
            application.decided_by = Some(user.user_id.clone());
            application.decided_at = Some(now);
            save(conn, application, "registered", note, user, request_id, now)
        }
    }
}

/// The office finds a contract in dispute while deciding it: the longer
/// time limit (30 working days) applies, the extra days added to the
/// deadline, and the finding goes into the record with why.
pub async fn dispute(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    request: DisputeRequest,
) -> ApiResult<ApplicationView> {
    let reason = request.validate()?;
    let settings_in = settings.clone();
    change(state, settings, user, id, &[Standing::Official], move |conn, mut application, user| {
        let status = status_of(&application)?;
        if !matches!(status, ApplicationStatus::Submitted | ApplicationStatus::MoreRequested) {
            return Err(wrong_state(status, "found in dispute (only while the office decides it)"));
        }
        if application.disputed {
            return Err(ApiError::new(ErrorCode::InvalidState, "the contract is already found in dispute"));
        }
        let decide_by =
            application.decide_by.ok_or_else(|| ApiError::internal("an application being decided has no deadline"))?;
        let clock = DecisionClock {
            decide_by,
            stopped_on: application.stopped_on,
            provisional: application.deadline_provisional,
        }
        .extend_for_dispute(&settings_in.calendar, &settings_in.limits, application.total_amount_fen);
        application.disputed = true;
        application.decide_by = Some(clock.decide_by);
        application.deadline_provisional = clock.provisional;
        // A new deadline: the office is reminded of it afresh.
        application.reminded_for = None;
        save(conn, application, "disputed", Some(reason), user, request_id.as_deref(), techtrade_db::now())
    })
    .await
}

/// The next registration number for a seller: the year, its prefecture
/// (a contract is registered where the seller is), the office's code and
/// a serial counted per prefix, laid out as the office's numbering says —
/// shared by every path that registers, so that no number is issued twice.
pub fn issue_number(
    conn: &mut AnyConnection,
    seller_organization_id: &str,
    numbering: &Numbering,
    now: NaiveDateTime,
) -> ApiResult<String> {
    let seller = accounts::find_organization(conn, seller_organization_id)?
        .ok_or_else(|| ApiError::internal("the seller organisation vanished"))?;
    let region: String = seller.region_code.chars().take(4).collect();
    let prefix =
        RegistrationNumber::prefix(numbering.format, &region, &numbering.office, techtrade_db::market_date(now))
            .map_err(ApiError::internal)?;
    let serial = techtrade_db::deals::next_registration_serial(conn, &prefix)?;
    let number =
        RegistrationNumber::new(&prefix, serial).map_err(|e| ApiError::new(ErrorCode::Conflict, e.to_string()))?;
    Ok(number.as_str().to_string())
}

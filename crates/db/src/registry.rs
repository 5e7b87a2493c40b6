//! Rows and queries of the registration office: applications for 技术合同
//! 认定登记 and the record of each step.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{
    registration_application_events, registration_applications, registration_changes, registration_documents,
    registration_payments,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = registration_applications, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct Application {
    pub id: String,
    pub seller_organization_id: String,
    pub deal_id: Option<String>,
    pub status: String,
    pub category: String,
    pub subcategory: Option<String>,
    pub buyer_organization_id: Option<String>,
    pub buyer_name: String,
    pub buyer_credit_code: String,
    pub buyer_region_code: String,
    /// enterprise | university | institute | agency | authority: the
    /// platform organisation's, or as the seller declared an outside buyer.
    pub buyer_kind: String,
    /// The deadline the office was last reminded of.
    pub reminded_for: Option<NaiveDate>,
    pub total_amount_fen: i64,
    pub non_technical_amount_fen: i64,
    pub signed_on: NaiveDate,
    pub valid_until: NaiveDate,
    pub technology_field: Option<String>,
    pub ip_type: Option<String>,
    pub government_project: bool,
    pub related_party: bool,
    pub submitted_on: Option<NaiveDate>,
    pub decide_by: Option<NaiveDate>,
    pub stopped_on: Option<NaiveDate>,
    pub deadline_provisional: bool,
    pub registration_number: Option<String>,
    pub registered_total_fen: Option<i64>,
    pub registered_technology_fen: Option<i64>,
    /// The refusal's reasons, comma-separated codes.
    pub refusal_reasons: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// The office found the contract in dispute: the longer time limit.
    pub disputed: bool,
}

/// One step in an application's record.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = registration_application_events, check_for_backend(crate::MultiBackend))]
pub struct ApplicationEvent {
    pub id: String,
    pub application_id: String,
    /// `created`, `submitted`, `more_requested`, `answered`, `registered`, `refused`.
    pub event: String,
    pub message: Option<String>,
    /// The deadline after this step, when it set one.
    pub decide_by: Option<NaiveDate>,
    pub actor_id: String,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, application: &Application) -> QueryResult<()> {
    diesel::insert_into(registration_applications::table).values(application).execute(conn).map(|_| ())
}

pub fn find(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Application>> {
    registration_applications::table.find(id).select(Application::as_select()).get_result(conn).optional()
}

/// The application of deal `deal_id` that is open or in force (at most
/// one: a unique index), if any.
pub fn open_for_deal(conn: &mut AnyConnection, deal_id: &str) -> QueryResult<Option<Application>> {
    registration_applications::table
        .filter(registration_applications::deal_id.eq(deal_id))
        .filter(registration_applications::status.ne_all(["refused", "cancelled"]))
        .select(Application::as_select())
        .first(conn)
        .optional()
}

/// Writes `application` over its stored row if that row is still at
/// `application.version - 1`: false when someone changed it meanwhile.
pub fn update(conn: &mut AnyConnection, application: &Application) -> QueryResult<bool> {
    diesel::update(
        registration_applications::table
            .find(&application.id)
            .filter(registration_applications::version.eq(application.version - 1)),
    )
    .set(application)
    .execute(conn)
    .map(|n| n == 1)
}

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    /// Only this seller's applications (members see their own).
    pub seller_organization_id: Option<String>,
    pub status: Option<String>,
    /// Only those due on or before this day.
    pub due_before: Option<NaiveDate>,
    /// Only sellers in this region (a prefix of their region code): an office's own.
    pub office_region: Option<String>,
    /// Leave out drafts: the office sees an application once it is submitted.
    pub without_drafts: bool,
}

fn filtered(filter: &ApplicationFilter) -> registration_applications::BoxedQuery<'static, crate::MultiBackend> {
    use crate::schema::organizations;
    let mut query = registration_applications::table.into_boxed();
    if let Some(seller) = &filter.seller_organization_id {
        query = query.filter(registration_applications::seller_organization_id.eq(seller.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(registration_applications::status.eq(status.clone()));
    }
    if let Some(day) = filter.due_before {
        query = query.filter(registration_applications::decide_by.le(day));
    }
    if filter.without_drafts {
        query = query.filter(registration_applications::status.ne("draft"));
    }
    if let Some(region) = &filter.office_region {
        let sellers = organizations::table
            .filter(organizations::region_code.like(format!("{region}%")))
            .select(organizations::id);
        query = query.filter(registration_applications::seller_organization_id.eq_any(sellers));
    }
    query
}

pub fn count(conn: &mut AnyConnection, filter: &ApplicationFilter) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn)
}

/// A page of applications: the earliest deadline first (those without one
/// last, newest first), as the office works through its queue.
pub fn list(
    conn: &mut AnyConnection,
    filter: &ApplicationFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<Application>> {
    filtered(filter)
        .order((
            registration_applications::decide_by.is_null().asc(),
            registration_applications::decide_by.asc(),
            registration_applications::created_at.desc(),
            registration_applications::id.asc(),
        ))
        .offset(offset)
        .limit(limit)
        .select(Application::as_select())
        .load(conn)
}

pub fn insert_event(conn: &mut AnyConnection, event: &ApplicationEvent) -> QueryResult<()> {
    diesel::insert_into(registration_application_events::table).values(event).execute(conn).map(|_| ())
}

/// An application's record, oldest step first.
pub fn events_of(conn: &mut AnyConnection, application_id: &str) -> QueryResult<Vec<ApplicationEvent>> {
    registration_application_events::table
        .filter(registration_application_events::application_id.eq(application_id))
        .order((registration_application_events::created_at.asc(), registration_application_events::id.asc()))
        .select(ApplicationEvent::as_select())
        .load(conn)
}

/// What a registration certificate states, found by its number: from an
/// application the office registered, or from a platform deal's
/// registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub registration_number: String,
    pub category: String,
    pub seller_name: String,
    pub seller_credit_code: String,
    pub buyer_name: String,
    pub registered_total_fen: i64,
    pub registered_technology_fen: i64,
    pub registered_at: NaiveDateTime,
    /// The office cancelled the registration (注销): the certificate is void.
    pub cancelled: bool,
}

/// The certificate numbered `number`, if one was issued.
pub fn find_certificate(conn: &mut AnyConnection, number: &str) -> QueryResult<Option<Certificate>> {
    use crate::schema::{contracts, deals, organizations, registrations};
    let applied = registration_applications::table
        .filter(registration_applications::registration_number.eq(number))
        .filter(registration_applications::status.eq_any(IN_FORCE.iter().chain(&["cancelled"])))
        .select(Application::as_select())
        .first(conn)
        .optional()?;
    if let Some(application) = applied {
        let seller = organizations::table
            .find(&application.seller_organization_id)
            .select((organizations::name, organizations::credit_code))
            .get_result::<(String, String)>(conn)?;
        return Ok(Some(Certificate {
            registration_number: number.to_string(),
            category: application.category,
            seller_name: seller.0,
            seller_credit_code: seller.1,
            buyer_name: application.buyer_name,
            registered_total_fen: application.registered_total_fen.unwrap_or(application.total_amount_fen),
            registered_technology_fen: application
                .registered_technology_fen
                .unwrap_or(application.total_amount_fen - application.non_technical_amount_fen),
            registered_at: application.decided_at.unwrap_or(application.updated_at),
            cancelled: application.status == "cancelled",
        }));
    }
    let found = registrations::table
        .inner_join(deals::table.on(deals::id.eq(registrations::deal_id)))
        .inner_join(contracts::table.on(contracts::deal_id.eq(registrations::deal_id)))
        .filter(registrations::registration_number.eq(number))
        .filter(registrations::decision.eq("register"))
        .select((
            contracts::category,
            deals::seller_organization_id,
            deals::buyer_organization_id,
            contracts::total_amount_fen,
            registrations::registered_technology_amount_fen,
            contracts::technology_amount_fen,
            registrations::created_at,
        ))
        .first::<(String, String, String, i64, Option<i64>, i64, NaiveDateTime)>(conn)
        .optional()?;
    let Some((category, seller_id, buyer_id, total, registered, technology, at)) = found else { return Ok(None) };
    let mut party = |id: &str| {
        organizations::table
            .find(id)
            .select((organizations::name, organizations::credit_code))
            .get_result::<(String, String)>(conn)
    };
    let (seller_name, seller_credit_code) = party(&seller_id)?;
    let (buyer_name, _) = party(&buyer_id)?;
    Ok(Some(Certificate {
        registration_number: number.to_string(),
        category,
        seller_name,
        seller_credit_code,
        buyer_name,
        registered_total_fen: total,
        registered_technology_fen: registered.unwrap_or(technology),
        registered_at: at,
        cancelled: false,
    }))
}

/// Certificate checks from `ip` after `since`.
pub fn checks_from_ip(conn: &mut AnyConnection, ip: &str, since: NaiveDateTime) -> QueryResult<i64> {
    use crate::schema::certificate_checks;
    certificate_checks::table
        .filter(certificate_checks::ip.eq(ip))
        .filter(certificate_checks::checked_at.gt(since))
        .count()
        .get_result(conn)
}

/// Counts a check from `ip`, and forgets those before `forget_before`.
pub fn record_check(
    conn: &mut AnyConnection,
    ip: &str,
    at: NaiveDateTime,
    forget_before: NaiveDateTime,
) -> QueryResult<()> {
    use crate::schema::certificate_checks;
    diesel::delete(certificate_checks::table.filter(certificate_checks::checked_at.lt(forget_before))).execute(conn)?;
    diesel::insert_into(certificate_checks::table)
        .values((certificate_checks::ip.eq(ip), certificate_checks::checked_at.eq(at)))
        .execute(conn)
        .map(|_| ())
}

/// A change the seller asked for to a registered contract: an amendment
/// (变更: new amounts or validity) or a cancellation (注销), decided by the office.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = registration_changes, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct Change {
    pub id: String,
    pub application_id: String,
    /// `amendment` | `cancellation`.
    pub kind: String,
    /// `pending` | `approved` | `refused`.
    pub status: String,
    /// With an amendment: the contract's new amounts and validity (unset: unchanged).
    pub total_amount_fen: Option<i64>,
    pub non_technical_amount_fen: Option<i64>,
    pub valid_until: Option<NaiveDate>,
    pub reason: String,
    /// With `refused`: the catalogued reasons, comma-separated.
    pub refusal_reasons: Option<String>,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
}

pub fn insert_change(conn: &mut AnyConnection, change: &Change) -> QueryResult<()> {
    diesel::insert_into(registration_changes::table).values(change).execute(conn).map(|_| ())
}

/// The change of application `id` waiting for the office, if any.
pub fn pending_change(conn: &mut AnyConnection, application_id: &str) -> QueryResult<Option<Change>> {
    registration_changes::table
        .filter(registration_changes::application_id.eq(application_id))
        .filter(registration_changes::status.eq("pending"))
        .select(Change::as_select())
        .first(conn)
        .optional()
}

/// Writes the office's decision on a pending change.
pub fn decide_change(conn: &mut AnyConnection, change: &Change) -> QueryResult<bool> {
    diesel::update(registration_changes::table.find(&change.id).filter(registration_changes::status.eq("pending")))
        .set(change)
        .execute(conn)
        .map(|n| n == 1)
}

/// Every change asked for, oldest first.
pub fn changes_of(conn: &mut AnyConnection, application_id: &str) -> QueryResult<Vec<Change>> {
    registration_changes::table
        .filter(registration_changes::application_id.eq(application_id))
        .order((registration_changes::requested_at.asc(), registration_changes::id.asc()))
        .select(Change::as_select())
        .load(conn)
}

/// A document of an application, without its bytes.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = registration_documents, check_for_backend(crate::MultiBackend))]
pub struct Document {
    pub id: String,
    pub application_id: String,
    /// `contract` | `annex` | `invoice` | `proof`.
    pub kind: String,
    /// As the uploader named it (shown, never used as a path).
    pub file_name: String,
    /// As read from the bytes: application/pdf, image/jpeg or image/png.
    pub media_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: NaiveDateTime,
}

/// Stores a document's row; `content` when the database keeps the bytes.
pub fn insert_document(conn: &mut AnyConnection, document: &Document, content: Option<&[u8]>) -> QueryResult<()> {
    diesel::insert_into(registration_documents::table)
        .values((
            registration_documents::id.eq(&document.id),
            registration_documents::application_id.eq(&document.application_id),
            registration_documents::kind.eq(&document.kind),
            registration_documents::file_name.eq(&document.file_name),
            registration_documents::media_type.eq(&document.media_type),
            registration_documents::size_bytes.eq(document.size_bytes),
            registration_documents::sha256.eq(&document.sha256),
            registration_documents::content.eq(content),
            registration_documents::uploaded_by.eq(&document.uploaded_by),
            registration_documents::uploaded_at.eq(document.uploaded_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// An application's documents, oldest first.
pub fn documents_of(conn: &mut AnyConnection, application_id: &str) -> QueryResult<Vec<Document>> {
    registration_documents::table
        .filter(registration_documents::application_id.eq(application_id))
        .order((registration_documents::uploaded_at.asc(), registration_documents::id.asc()))
        .select(Document::as_select())
        .load(conn)
}

/// Document `id` of application `application_id`, with the bytes the database holds (if it holds them).
pub fn find_document(
    conn: &mut AnyConnection,
    application_id: &str,
    id: &str,
) -> QueryResult<Option<(Document, Option<Vec<u8>>)>> {
    registration_documents::table
        .find(id)
        .filter(registration_documents::application_id.eq(application_id))
        .select((Document::as_select(), registration_documents::content))
        .get_result(conn)
        .optional()
}

/// Whether the application has a document of `kind`.
pub fn has_document(conn: &mut AnyConnection, application_id: &str, kind: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        registration_documents::table
            .filter(registration_documents::application_id.eq(application_id))
            .filter(registration_documents::kind.eq(kind)),
    ))
    .get_result(conn)
}

/// Removes a document's row (a draft's; no payment names it).
pub fn delete_document(conn: &mut AnyConnection, application_id: &str, id: &str) -> QueryResult<bool> {
    diesel::delete(
        registration_documents::table.find(id).filter(registration_documents::application_id.eq(application_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
}

/// A payment the seller declared on an off-platform contract, with a proof
/// document, for an official to confirm.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = registration_payments, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct DeclaredPayment {
    pub id: String,
    pub application_id: String,
    pub amount_fen: i64,
    /// The day the buyer paid, as the proof shows it.
    pub paid_on: NaiveDate,
    pub proof_document_id: String,
    /// `declared` | `confirmed` | `rejected`.
    pub status: String,
    /// The official's note on the decision.
    pub note: Option<String>,
    pub declared_by: String,
    pub declared_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
}

pub fn insert_payment(conn: &mut AnyConnection, payment: &DeclaredPayment) -> QueryResult<()> {
    diesel::insert_into(registration_payments::table).values(payment).execute(conn).map(|_| ())
}

pub fn find_payment(conn: &mut AnyConnection, application_id: &str, id: &str) -> QueryResult<Option<DeclaredPayment>> {
    registration_payments::table
        .find(id)
        .filter(registration_payments::application_id.eq(application_id))
        .select(DeclaredPayment::as_select())
        .get_result(conn)
        .optional()
}

/// Writes an official's decision on a payment still `declared`: false when
/// someone decided it meanwhile.
pub fn decide_payment(conn: &mut AnyConnection, payment: &DeclaredPayment) -> QueryResult<bool> {
    diesel::update(registration_payments::table.find(&payment.id).filter(registration_payments::status.eq("declared")))
        .set(payment)
        .execute(conn)
        .map(|n| n == 1)
}

/// The payments declared on some applications, in the order they were paid.
pub fn payments_of(conn: &mut AnyConnection, application_ids: &[String]) -> QueryResult<Vec<DeclaredPayment>> {
    registration_payments::table
        .filter(registration_payments::application_id.eq_any(application_ids))
        .order((registration_payments::paid_on.asc(), registration_payments::id.asc()))
        .select(DeclaredPayment::as_select())
        .load(conn)
}

/// The statuses in which an application's registration is in force: the
/// office registered it and it is not cancelled (a change may be waiting).
pub const IN_FORCE: [&str; 3] = ["registered", "amendment_requested", "cancellation_requested"];

/// The registrations in force of contracts signed off the platform, where
/// `seller` sells or `buyer` buys (both unset: all of them).
pub fn registered_off_platform(
    conn: &mut AnyConnection,
    seller: Option<&str>,
    buyer: Option<&str>,
) -> QueryResult<Vec<Application>> {
    let mut query = registration_applications::table
        .filter(registration_applications::deal_id.is_null())
        .filter(registration_applications::registration_number.is_not_null())
        .filter(registration_applications::status.eq_any(IN_FORCE))
        .into_boxed();
    if let Some(seller) = seller {
        query = query.filter(registration_applications::seller_organization_id.eq(seller.to_string()));
    }
    if let Some(buyer) = buyer {
        query = query.filter(registration_applications::buyer_organization_id.eq(buyer.to_string()));
    }
    query
        .order((registration_applications::decided_at.asc(), registration_applications::id.asc()))
        .select(Application::as_select())
        .load(conn)
}

/// The applications waiting for the office's decision (new ones, answers,
/// changes) whose deadline the office has not yet been reminded of.
pub fn awaiting_reminder(conn: &mut AnyConnection) -> QueryResult<Vec<Application>> {
    registration_applications::table
        .filter(registration_applications::status.eq_any([
            "submitted",
            "amendment_requested",
            "cancellation_requested",
        ]))
        .filter(registration_applications::decide_by.is_not_null())
        .filter(
            registration_applications::reminded_for
                .is_null()
                .or(registration_applications::reminded_for.ne(registration_applications::decide_by)),
        )
        .order((registration_applications::decide_by.asc(), registration_applications::id.asc()))
        .select(Application::as_select())
        .load(conn)
}

/// Notes that the office was reminded of `decide_by` for application `id`,
/// unless someone did meanwhile (false then: no second reminder).
pub fn mark_reminded(conn: &mut AnyConnection, id: &str, decide_by: NaiveDate) -> QueryResult<bool> {
    diesel::update(
        registration_applications::table.find(id).filter(registration_applications::decide_by.eq(decide_by)).filter(
            registration_applications::reminded_for.is_null().or(registration_applications::reminded_for.ne(decide_by)),
        ),
    )
    .set(registration_applications::reminded_for.eq(decide_by))
    .execute(conn)
    .map(|n| n == 1)
}

//! Rows and queries of the registration office: applications for 技术合同
//! 认定登记 and the record of each step.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{registration_application_events, registration_applications};

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
    registration_applications::table.find(id).select(Application::as_select()).first(conn).optional()
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
}

/// The certificate numbered `number`, if one was issued.
pub fn find_certificate(conn: &mut AnyConnection, number: &str) -> QueryResult<Option<Certificate>> {
    use crate::schema::{contracts, deals, organizations, registrations};
    let applied = registration_applications::table
        .filter(registration_applications::registration_number.eq(number))
        .filter(registration_applications::status.eq("registered"))
        .select(Application::as_select())
        .first(conn)
        .optional()?;
    if let Some(application) = applied {
        let seller = organizations::table
            .find(&application.seller_organization_id)
            .select((organizations::name, organizations::credit_code))
            .first::<(String, String)>(conn)?;
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
            .first::<(String, String)>(conn)
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

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

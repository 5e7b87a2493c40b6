//! Rows and queries of deals: offers, the technology contract, its
//! registration (技术合同认定登记) and payments, with Stripe's delivered events.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{
    contracts, deals, listing_reservations, offers, payment_refunds, payments, registration_serials, registrations,
    stripe_events,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = deals, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct Deal {
    pub id: String,
    pub listing_id: String,
    pub demand_id: Option<String>,
    pub buyer_organization_id: String,
    pub seller_organization_id: String,
    pub agency_organization_id: Option<String>,
    pub status: String,
    pub agreed_offer_id: Option<String>,
    pub created_by: String,
    pub agreed_at: Option<NaiveDateTime>,
    pub contracted_at: Option<NaiveDateTime>,
    pub registered_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub cancel_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// `invited`, `accepted` or `declined` when the deal names an agency.
    pub agency_status: Option<String>,
    /// 合同解除: the day a party ended the registered contract, and why.
    pub terminated_on: Option<NaiveDate>,
    pub termination_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = offers, check_for_backend(crate::MultiBackend))]
pub struct Offer {
    pub id: String,
    pub deal_id: String,
    /// 1 for the opening offer; (deal, sequence) is unique.
    pub sequence: i32,
    pub organization_id: String,
    pub created_by: String,
    pub amount_fen: i64,
    pub trade_mode: String,
    pub terms: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = contracts, check_for_backend(crate::MultiBackend))]
pub struct Contract {
    pub id: String,
    pub deal_id: String,
    pub category: String,
    pub trade_mode: String,
    pub total_amount_fen: i64,
    pub non_technical_amount_fen: i64,
    pub technology_amount_fen: i64,
    pub signed_on: NaiveDate,
    pub related_party: bool,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = registrations, check_for_backend(crate::MultiBackend))]
pub struct Registration {
    pub id: String,
    pub deal_id: String,
    /// `register` or `reject`.
    pub decision: String,
    pub registration_number: Option<String>,
    pub registered_technology_amount_fen: Option<i64>,
    pub reason: Option<String>,
    pub official_id: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = payments, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct Payment {
    pub id: String,
    pub deal_id: String,
    pub method: String,
    pub status: String,
    pub amount_fen: i64,
    pub paid_on: Option<NaiveDate>,
    pub reference: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub failure_reason: Option<String>,
    pub created_by: String,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<NaiveDateTime>,
    pub refunded_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub refunded_amount_fen: i64,
}

pub fn insert_deal(conn: &mut AnyConnection, deal: &Deal) -> QueryResult<()> {
    diesel::insert_into(deals::table).values(deal).execute(conn).map(drop)
}

pub fn find_deal(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Deal>> {
    deals::table.find(id).select(Deal::as_select()).get_result(conn).optional()
}

/// The deal, read for a change inside a write transaction, after taking
/// the locks every change to a deal takes, in the one order every write of
/// the market takes them (README, "Lock order"): the deal's listing, then
/// the deal; payments, reservations and the rest after; the audit chain
/// last of all. On PostgreSQL these are row locks (`FOR UPDATE`), so that
/// what a change checks ("what is still owed", "are the rights free")
/// cannot change under it; a SQLite write transaction holds the whole
/// database already.
pub fn lock_deal(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Deal>> {
    if let AnyConnection::Postgresql(_) = conn {
        let listing: Option<String> = deals::table.find(id).select(deals::listing_id).get_result(conn).optional()?;
        let Some(listing) = listing else { return Ok(None) };
        crate::listings::lock_listing(conn, &listing)?;
    }
    if let AnyConnection::Postgresql(pg) = conn {
        use diesel::sql_types::Text;
        diesel::sql_query("SELECT 1 FROM deals WHERE id = $1 FOR UPDATE").bind::<Text, _>(id).execute(pg)?;
    }
    find_deal(conn, id)
}

/// The deal holding `listing_id`'s exclusive rights.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = listing_reservations, check_for_backend(crate::MultiBackend))]
pub struct Reservation {
    pub listing_id: String,
    pub deal_id: String,
    pub trade_mode: String,
    pub reserved_at: NaiveDateTime,
}

pub fn find_reservation(conn: &mut AnyConnection, listing_id: &str) -> QueryResult<Option<Reservation>> {
    listing_reservations::table.find(listing_id).select(Reservation::as_select()).get_result(conn).optional()
}

/// Reserves the listing's exclusive rights for a deal; `false` when
/// another deal holds them (the primary key decides, in a savepoint so
/// that the refusal leaves the caller's transaction usable).
pub fn reserve(conn: &mut AnyConnection, reservation: &Reservation) -> QueryResult<bool> {
    let inserted = crate::write_transaction(conn, |conn| {
        diesel::insert_into(listing_reservations::table).values(reservation).execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if crate::is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Gives back the rights `deal_id` reserved, if it reserved any.
pub fn release_reservation(conn: &mut AnyConnection, deal_id: &str) -> QueryResult<bool> {
    let deleted =
        diesel::delete(listing_reservations::table.filter(listing_reservations::deal_id.eq(deal_id))).execute(conn)?;
    Ok(deleted > 0)
}

/// The trade modes of the listing's other deals that were agreed and are
/// still in force (agreed, contracted, registered or completed).
pub fn agreed_modes_on_listing(
    conn: &mut AnyConnection,
    listing_id: &str,
    except_deal_id: &str,
) -> QueryResult<Vec<String>> {
    deals::table
        .inner_join(offers::table.on(deals::agreed_offer_id.eq(offers::id.nullable())))
        .filter(deals::listing_id.eq(listing_id))
        .filter(deals::id.ne(except_deal_id))
        .filter(deals::status.eq_any(["agreed", "contracted", "registered", "completed"]))
        .select(offers::trade_mode)
        .load(conn)
}

/// Writes `deal` over the stored row when the stored version is
/// `expected_version`; `false` when a concurrent change got there first —
/// the loser of two simultaneous accepts learns it here.
pub fn update_deal(conn: &mut AnyConnection, deal: &Deal, expected_version: i64) -> QueryResult<bool> {
    let updated = diesel::update(deals::table.find(&deal.id))
        .filter(deals::version.eq(expected_version))
        .set(deal)
        .execute(conn)?;
    Ok(updated == 1)
}

/// The agency status of an agency that agreed to act on the deal.
pub const ACCEPTED: &str = "accepted";

/// The deals whose named agency `organization_id` has not answered yet,
/// newest first.
pub fn agency_invitations(conn: &mut AnyConnection, organization_id: &str) -> QueryResult<Vec<Deal>> {
    deals::table
        .filter(deals::agency_organization_id.eq(organization_id))
        .filter(deals::agency_status.eq("invited"))
        .order((deals::created_at.desc(), deals::id.desc()))
        .select(Deal::as_select())
        .load(conn)
}

/// Which deals a list request wants.
#[derive(Debug, Clone, Default)]
pub struct DealFilter {
    /// Deals this organisation is buyer, seller or agency of; `None` for all (officials).
    pub organization_id: Option<String>,
    pub statuses: Vec<String>,
    /// A queue's order, longest waiting first, instead of newest change first.
    pub oldest_first: bool,
    pub offset: i64,
    pub limit: i64,
}

/// A page of deals, newest change first (or as a queue, oldest first),
/// with the total.
pub fn list_deals(conn: &mut AnyConnection, filter: &DealFilter) -> QueryResult<(Vec<Deal>, i64)> {
    let query = || {
        let mut query = deals::table.into_boxed();
        if let Some(org) = &filter.organization_id {
            query = query.filter(
                deals::buyer_organization_id
                    .eq(org.clone())
                    .or(deals::seller_organization_id.eq(org.clone()))
                    .or(deals::agency_organization_id.eq(org.clone()).and(deals::agency_status.eq(ACCEPTED))),
            );
        }
        if !filter.statuses.is_empty() {
            query = query.filter(deals::status.eq_any(filter.statuses.clone()));
        }
        query
    };
    let total = query().count().get_result(conn)?;
    let ordered = if filter.oldest_first {
        query().order((deals::updated_at.asc(), deals::id.asc()))
    } else {
        query().order((deals::updated_at.desc(), deals::id.desc()))
    };
    let items = ordered.offset(filter.offset).limit(filter.limit).select(Deal::as_select()).load(conn)?;
    Ok((items, total))
}

/// The deals of one year's subsidy facts: every deal of `organization_id`
/// (as buyer, seller or agency that accepted) that reached registration.
pub fn registered_deals_of(conn: &mut AnyConnection, organization_id: &str) -> QueryResult<Vec<Deal>> {
    deals::table
        .filter(
            deals::buyer_organization_id
                .eq(organization_id)
                .or(deals::seller_organization_id.eq(organization_id))
                .or(deals::agency_organization_id.eq(organization_id).and(deals::agency_status.eq(ACCEPTED))),
        )
        .filter(deals::registered_at.is_not_null())
        .order(deals::id.asc())
        .select(Deal::as_select())
        .load(conn)
}

/// The buyer's deal on the listing that is still being negotiated (until
/// its contract is registered), if any: a buyer negotiates a listing in
/// one deal at a time (the unique index `deals_one_open_per_buyer`).
pub fn open_deal_of(
    conn: &mut AnyConnection,
    listing_id: &str,
    buyer_organization_id: &str,
) -> QueryResult<Option<String>> {
    deals::table
        .filter(deals::listing_id.eq(listing_id))
        .filter(deals::buyer_organization_id.eq(buyer_organization_id))
        .filter(deals::status.eq_any(["negotiating", "agreed", "contracted"]))
        .select(deals::id)
        .first(conn)
        .optional()
}

pub fn insert_offer(conn: &mut AnyConnection, offer: &Offer) -> QueryResult<()> {
    diesel::insert_into(offers::table).values(offer).execute(conn).map(drop)
}

/// Every offer of a deal, in the order they were made.
pub fn offers_of(conn: &mut AnyConnection, deal_id: &str) -> QueryResult<Vec<Offer>> {
    offers::table
        .filter(offers::deal_id.eq(deal_id))
        .order(offers::sequence.asc())
        .select(Offer::as_select())
        .load(conn)
}

pub fn find_contract(conn: &mut AnyConnection, deal_id: &str) -> QueryResult<Option<Contract>> {
    contracts::table.filter(contracts::deal_id.eq(deal_id)).select(Contract::as_select()).first(conn).optional()
}

/// Stores the deal's contract, replacing an earlier one (an amendment
/// before registration keeps the row's id).
pub fn save_contract(conn: &mut AnyConnection, contract: &Contract) -> QueryResult<()> {
    let replaced = diesel::update(contracts::table.filter(contracts::deal_id.eq(&contract.deal_id)))
        .set((
            contracts::category.eq(&contract.category),
            contracts::trade_mode.eq(&contract.trade_mode),
            contracts::total_amount_fen.eq(contract.total_amount_fen),
            contracts::non_technical_amount_fen.eq(contract.non_technical_amount_fen),
            contracts::technology_amount_fen.eq(contract.technology_amount_fen),
            contracts::signed_on.eq(contract.signed_on),
            contracts::related_party.eq(contract.related_party),
            contracts::created_by.eq(&contract.created_by),
            contracts::created_at.eq(contract.created_at),
        ))
        .execute(conn)?;
    if replaced == 0 {
        diesel::insert_into(contracts::table).values(contract).execute(conn)?;
    }
    Ok(())
}

pub fn insert_registration(conn: &mut AnyConnection, registration: &Registration) -> QueryResult<()> {
    diesel::insert_into(registrations::table).values(registration).execute(conn).map(drop)
}

/// Every registration decision on a deal, oldest first.
pub fn registrations_of(conn: &mut AnyConnection, deal_id: &str) -> QueryResult<Vec<Registration>> {
    registrations::table
        .filter(registrations::deal_id.eq(deal_id))
        .order((registrations::created_at.asc(), registrations::id.asc()))
        .select(Registration::as_select())
        .load(conn)
}

/// The next serial under `prefix` (1 for the first). Serials only grow,
/// so a number is never issued twice even if a registration is undone;
/// call it inside the transaction that stores the registration, so a
/// rolled-back registration does not burn its serial.
pub fn next_registration_serial(conn: &mut AnyConnection, prefix: &str) -> QueryResult<i64> {
    let bump = |conn: &mut AnyConnection| {
        diesel::update(registration_serials::table.find(prefix))
            .set(registration_serials::last_serial.eq(registration_serials::last_serial + 1))
            .returning(registration_serials::last_serial)
            .get_result::<i64>(conn)
            .optional()
    };
    if let Some(serial) = bump(conn)? {
        return Ok(serial);
    }
    // The first number under this prefix. Two first registrations racing on
    // PostgreSQL both miss the row; the one whose insert loses bumps instead.
    let inserted = crate::write_transaction(conn, |conn| {
        diesel::insert_into(registration_serials::table)
            .values((registration_serials::prefix.eq(prefix), registration_serials::last_serial.eq(1_i64)))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(1),
        Err(error) if crate::is_unique_violation(&error) => bump(conn)?.ok_or(diesel::result::Error::NotFound),
        Err(error) => Err(error),
    }
}

pub fn insert_payment(conn: &mut AnyConnection, payment: &Payment) -> QueryResult<()> {
    diesel::insert_into(payments::table).values(payment).execute(conn).map(drop)
}

pub fn find_payment(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Payment>> {
    payments::table.find(id).select(Payment::as_select()).get_result(conn).optional()
}

pub fn find_payment_by_intent(conn: &mut AnyConnection, intent_id: &str) -> QueryResult<Option<Payment>> {
    payments::table
        .filter(payments::stripe_payment_intent_id.eq(intent_id))
        .select(Payment::as_select())
        .first(conn)
        .optional()
}

/// Writes `payment` when the stored version is `expected_version`.
pub fn update_payment(conn: &mut AnyConnection, payment: &Payment, expected_version: i64) -> QueryResult<bool> {
    let updated = diesel::update(payments::table.find(&payment.id))
        .filter(payments::version.eq(expected_version))
        .set(payment)
        .execute(conn)?;
    Ok(updated == 1)
}

/// Every payment of a deal, oldest first.
pub fn payments_of(conn: &mut AnyConnection, deal_id: &str) -> QueryResult<Vec<Payment>> {
    payments::table
        .filter(payments::deal_id.eq(deal_id))
        .order((payments::created_at.asc(), payments::id.asc()))
        .select(Payment::as_select())
        .load(conn)
}

/// Records that a Stripe event was applied; `false` when it already was.
/// Call it in the transaction that applies the event, so the event and
/// its effect commit together or not at all.
pub fn record_stripe_event(
    conn: &mut AnyConnection,
    event_id: &str,
    event_type: &str,
    payment_id: Option<&str>,
) -> QueryResult<bool> {
    // A savepoint, so that the duplicate's error does not abort the
    // caller's PostgreSQL transaction.
    let inserted = crate::write_transaction(conn, |conn| {
        diesel::insert_into(stripe_events::table)
            .values((
                stripe_events::event_id.eq(event_id),
                stripe_events::event_type.eq(event_type),
                stripe_events::payment_id.eq(payment_id),
                stripe_events::received_at.eq(crate::now()),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if crate::is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// How many Stripe events were recorded (for tests and diagnostics).
pub fn stripe_event_count(conn: &mut AnyConnection) -> QueryResult<i64> {
    stripe_events::table.count().get_result(conn)
}

/// One refund of a payment.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_refunds, check_for_backend(crate::MultiBackend))]
pub struct Refund {
    pub id: String,
    pub payment_id: String,
    pub amount_fen: i64,
    pub refunded_on: NaiveDate,
    pub reference: Option<String>,
    pub stripe_refund_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn insert_refund(conn: &mut AnyConnection, refund: &Refund) -> QueryResult<()> {
    diesel::insert_into(payment_refunds::table).values(refund).execute(conn).map(drop)
}

/// Whether Stripe's refund `stripe_refund_id` is recorded already.
pub fn stripe_refund_recorded(conn: &mut AnyConnection, stripe_refund_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        payment_refunds::table.filter(payment_refunds::stripe_refund_id.eq(stripe_refund_id)),
    ))
    .get_result(conn)
}

/// The refunds of a deal's payments, oldest first.
pub fn refunds_of_deal(conn: &mut AnyConnection, deal_id: &str) -> QueryResult<Vec<Refund>> {
    payment_refunds::table
        .inner_join(payments::table.on(payments::id.eq(payment_refunds::payment_id)))
        .filter(payments::deal_id.eq(deal_id))
        .order((payment_refunds::created_at.asc(), payment_refunds::id.asc()))
        .select(Refund::as_select())
        .load(conn)
}

//! Rows and queries of the subsidy service: claims with their frozen
//! calculation, the two review levels, closed rounds and disbursements —
//! and the deal records a claim is computed from, loaded in bulk.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::deals::{Contract, Deal, Payment, Registration};
use crate::schema::{
    claim_reviews, contracts, deals, disbursements, organizations, payments, registrations, subsidy_claims,
    subsidy_rounds,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = subsidy_claims, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct SubsidyClaim {
    pub id: String,
    pub program_id: String,
    pub year: i32,
    pub role: String,
    pub organization_id: String,
    pub status: String,
    pub computed_amount_fen: i64,
    pub approved_amount_fen: Option<i64>,
    pub final_amount_fen: Option<i64>,
    /// The calculation and the deal facts it used, as JSON, frozen at submission.
    pub calculation: String,
    pub policy_digest: String,
    pub submitted_by: String,
    pub submitted_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// Why the claim is in its status when the status alone does not say
    /// (a claim left out of its year's round).
    pub status_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = claim_reviews, check_for_backend(crate::MultiBackend))]
pub struct ClaimReview {
    pub id: String,
    pub claim_id: String,
    /// 1 (受理/初审) or 2 (复审); (claim, level) is unique.
    pub level: i32,
    pub reviewer_id: String,
    pub decision: String,
    pub amount_fen: Option<i64>,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = subsidy_rounds, check_for_backend(crate::MultiBackend))]
pub struct SubsidyRound {
    pub id: String,
    pub program_id: String,
    pub year: i32,
    pub status: String,
    pub budget_fen: Option<i64>,
    pub total_approved_fen: i64,
    pub total_final_fen: i64,
    pub closed_by: String,
    pub closed_at: NaiveDateTime,
    /// The last day of the public notice (公示).
    pub notice_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = disbursements, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct Disbursement {
    pub id: String,
    pub round_id: String,
    pub claim_id: String,
    pub organization_id: String,
    pub amount_fen: i64,
    pub status: String,
    pub paid_on: Option<NaiveDate>,
    pub reference: Option<String>,
    pub recorded_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An organisation as a subsidy rule sees it.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct OrganizationFacts {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub region_code: String,
    pub credit_code: String,
}

/// Everything a calculation needs about some deals, loaded in a few queries.
#[derive(Debug, Default)]
pub struct DealRecords {
    pub deals: Vec<Deal>,
    pub contracts: Vec<Contract>,
    pub registrations: Vec<Registration>,
    pub payments: Vec<Payment>,
    /// The recorded refunds of those payments.
    pub refunds: Vec<crate::deals::Refund>,
    /// Contracts signed off the platform whose registration is in force
    /// (a claim counts them as it counts deals)…
    pub off_platform: Vec<crate::registry::Application>,
    /// …and the payments their sellers declared on them.
    pub declared_payments: Vec<crate::registry::DeclaredPayment>,
    pub organizations: Vec<OrganizationFacts>,
}

/// Which side of a deal a claimant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealSide {
    Buyer,
    Seller,
    Agency,
}

/// The deals with a contract that `organization_id` is on `side` of, or
/// (without an organisation) every such deal — with their records.
/// Deals that ended (cancelled or terminated, refunds owed or not) are left
/// out: they sold nothing, and what they were paid goes back.
pub fn deal_records(
    conn: &mut AnyConnection,
    side: DealSide,
    organization_id: Option<&str>,
) -> QueryResult<DealRecords> {
    let mut query = deals::table
        .into_boxed()
        .filter(deals::contracted_at.is_not_null())
        .filter(deals::status.ne_all(["cancelling", "cancelled", "terminating", "terminated"]));
    if let Some(org) = organization_id {
        query = match side {
            DealSide::Buyer => query.filter(deals::buyer_organization_id.eq(org.to_string())),
            DealSide::Seller => query.filter(deals::seller_organization_id.eq(org.to_string())),
            DealSide::Agency => query.filter(deals::agency_organization_id.eq(org.to_string())),
        };
    } else if side == DealSide::Agency {
        query = query.filter(deals::agency_organization_id.is_not_null());
    }
    // An agency counts only once it accepted to act on the deal.
    if side == DealSide::Agency {
        query = query.filter(deals::agency_status.eq(crate::deals::ACCEPTED));
    }
    let deals: Vec<Deal> = query.order(deals::id.asc()).select(Deal::as_select()).load(conn)?;
    let ids: Vec<String> = deals.iter().map(|d| d.id.clone()).collect();
    let mut records = DealRecords { deals, ..DealRecords::default() };
    // Bounded batches: SQLite limits the number of bound parameters.
    for chunk in ids.chunks(500) {
        records.contracts.extend(
            contracts::table.filter(contracts::deal_id.eq_any(chunk)).select(Contract::as_select()).load(conn)?,
        );
        records.registrations.extend(
            registrations::table
                .filter(registrations::deal_id.eq_any(chunk))
                .order((registrations::created_at.asc(), registrations::id.asc()))
                .select(Registration::as_select())
                .load(conn)?,
        );
        records
            .payments
            .extend(payments::table.filter(payments::deal_id.eq_any(chunk)).select(Payment::as_select()).load(conn)?);
    }
    let payment_ids: Vec<String> = records.payments.iter().map(|p| p.id.clone()).collect();
    for chunk in payment_ids.chunks(500) {
        use crate::schema::payment_refunds;
        records.refunds.extend(
            payment_refunds::table
                .filter(payment_refunds::payment_id.eq_any(chunk))
                .select(crate::deals::Refund::as_select())
                .load(conn)?,
        );
    }
    // No agency acts on a contract signed elsewhere; an outside buyer
    // (no organisation on the platform) claims nothing.
    records.off_platform = match side {
        DealSide::Seller => crate::registry::registered_off_platform(conn, organization_id, None)?,
        DealSide::Buyer => match organization_id {
            Some(buyer) => crate::registry::registered_off_platform(conn, None, Some(buyer))?,
            None => crate::registry::registered_off_platform(conn, None, None)?
                .into_iter()
                .filter(|a| a.buyer_organization_id.is_some())
                .collect(),
        },
        DealSide::Agency => Vec::new(),
    };
    let application_ids: Vec<String> = records.off_platform.iter().map(|a| a.id.clone()).collect();
    for chunk in application_ids.chunks(500) {
        records.declared_payments.extend(crate::registry::payments_of(conn, chunk)?);
    }
    let mut org_ids: Vec<String> = records
        .deals
        .iter()
        .flat_map(|d| {
            [
                Some(d.buyer_organization_id.clone()),
                Some(d.seller_organization_id.clone()),
                d.agency_organization_id.clone(),
            ]
        })
        .chain(
            records
                .off_platform
                .iter()
                .flat_map(|a| [Some(a.seller_organization_id.clone()), a.buyer_organization_id.clone(), None]),
        )
        .flatten()
        .collect();
    org_ids.sort_unstable();
    org_ids.dedup();
    for chunk in org_ids.chunks(500) {
        records.organizations.extend(organization_facts(conn, chunk)?);
    }
    Ok(records)
}

pub fn organization_facts(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<OrganizationFacts>> {
    organizations::table
        .filter(organizations::id.eq_any(ids))
        .select((
            organizations::id,
            organizations::name,
            organizations::kind,
            organizations::region_code,
            organizations::credit_code,
        ))
        .load(conn)
}

/// Serialises the writes to one program's year (a claim submitted or
/// reviewed, the round closed) until the transaction ends, so that none
/// commits into a year that a concurrent close has just closed, and a close
/// sees every claim of its year as it finally is. PostgreSQL takes an
/// advisory lock keyed by the program and the year; a SQLite write
/// transaction holds the whole database already. In the lock order (README
/// "Lock order") it comes after a listing's, a deal's and their children's
/// locks and before the audit chain, so it is taken before any claim row is
/// read for a change.
pub fn lock_program_year(conn: &mut AnyConnection, program_id: &str, year: i32) -> QueryResult<()> {
    if let AnyConnection::Postgresql(pg) = conn {
        use diesel::sql_types::{Integer, Text};
        // The two-key form: a space of its own, apart from the one-key
        // locks of logins.
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('subsidy-program:' || $1), $2)")
            .bind::<Text, _>(program_id)
            .bind::<Integer, _>(year)
            .execute(pg)?;
    }
    Ok(())
}

/// The program and year of a claim: which program-year lock to take before
/// reading the claim for a change (they never change, so reading them
/// first is safe).
pub fn program_year_of_claim(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<(String, i32)>> {
    subsidy_claims::table
        .find(id)
        .select((subsidy_claims::program_id, subsidy_claims::year))
        .get_result(conn)
        .optional()
}

pub fn insert_claim(conn: &mut AnyConnection, claim: &SubsidyClaim) -> QueryResult<()> {
    diesel::insert_into(subsidy_claims::table).values(claim).execute(conn).map(drop)
}

pub fn find_claim(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<SubsidyClaim>> {
    subsidy_claims::table.find(id).select(SubsidyClaim::as_select()).get_result(conn).optional()
}

/// Writes `claim` when the stored version is `expected_version`.
pub fn update_claim(conn: &mut AnyConnection, claim: &SubsidyClaim, expected_version: i64) -> QueryResult<bool> {
    let updated = diesel::update(subsidy_claims::table.find(&claim.id))
        .filter(subsidy_claims::version.eq(expected_version))
        .set(claim)
        .execute(conn)?;
    Ok(updated == 1)
}

/// Which claims a list request wants.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    pub organization_id: Option<String>,
    pub program_id: Option<String>,
    pub year: Option<i32>,
    pub status: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// A page of claims, oldest submission first (the review queue's order).
pub fn list_claims(conn: &mut AnyConnection, filter: &ClaimFilter) -> QueryResult<(Vec<SubsidyClaim>, i64)> {
    let query = || {
        let mut query = subsidy_claims::table.into_boxed();
        if let Some(org) = &filter.organization_id {
            query = query.filter(subsidy_claims::organization_id.eq(org.clone()));
        }
        if let Some(program) = &filter.program_id {
            query = query.filter(subsidy_claims::program_id.eq(program.clone()));
        }
        if let Some(year) = filter.year {
            query = query.filter(subsidy_claims::year.eq(year));
        }
        if let Some(status) = &filter.status {
            query = query.filter(subsidy_claims::status.eq(status.clone()));
        }
        query
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order((subsidy_claims::submitted_at.asc(), subsidy_claims::id.asc()))
        .offset(filter.offset)
        .limit(filter.limit)
        .select(SubsidyClaim::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// Every claim of a program and year in one of `statuses`, in submission order.
pub fn claims_of_round(
    conn: &mut AnyConnection,
    program_id: &str,
    year: i32,
    statuses: &[&str],
) -> QueryResult<Vec<SubsidyClaim>> {
    subsidy_claims::table
        .filter(subsidy_claims::program_id.eq(program_id))
        .filter(subsidy_claims::year.eq(year))
        .filter(subsidy_claims::status.eq_any(statuses))
        .order((subsidy_claims::submitted_at.asc(), subsidy_claims::id.asc()))
        .select(SubsidyClaim::as_select())
        .load(conn)
}

/// [`claims_of_round`] with each claimant's name.
pub fn claims_of_round_named(
    conn: &mut AnyConnection,
    program_id: &str,
    year: i32,
    statuses: &[&str],
) -> QueryResult<Vec<(SubsidyClaim, String)>> {
    subsidy_claims::table
        .inner_join(organizations::table)
        .filter(subsidy_claims::program_id.eq(program_id))
        .filter(subsidy_claims::year.eq(year))
        .filter(subsidy_claims::status.eq_any(statuses))
        .order((subsidy_claims::submitted_at.asc(), subsidy_claims::id.asc()))
        .select((SubsidyClaim::as_select(), organizations::name))
        .load(conn)
}

pub fn insert_review(conn: &mut AnyConnection, review: &ClaimReview) -> QueryResult<()> {
    diesel::insert_into(claim_reviews::table).values(review).execute(conn).map(drop)
}

/// The reviews of a claim, level 1 first.
pub fn reviews_of(conn: &mut AnyConnection, claim_id: &str) -> QueryResult<Vec<ClaimReview>> {
    claim_reviews::table
        .filter(claim_reviews::claim_id.eq(claim_id))
        .order(claim_reviews::level.asc())
        .select(ClaimReview::as_select())
        .load(conn)
}

pub fn insert_round(conn: &mut AnyConnection, round: &SubsidyRound) -> QueryResult<()> {
    diesel::insert_into(subsidy_rounds::table).values(round).execute(conn).map(drop)
}

pub fn find_round(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<SubsidyRound>> {
    subsidy_rounds::table.find(id).select(SubsidyRound::as_select()).get_result(conn).optional()
}

pub fn round_of(conn: &mut AnyConnection, program_id: &str, year: i32) -> QueryResult<Option<SubsidyRound>> {
    subsidy_rounds::table
        .filter(subsidy_rounds::program_id.eq(program_id))
        .filter(subsidy_rounds::year.eq(year))
        .select(SubsidyRound::as_select())
        .first(conn)
        .optional()
}

/// Which rounds a list request wants.
#[derive(Debug, Clone, Default)]
pub struct RoundFilter {
    pub program_id: Option<String>,
    pub year: Option<i32>,
    pub offset: i64,
    pub limit: i64,
}

/// A page of rounds, newest first, and how many match.
pub fn list_rounds(conn: &mut AnyConnection, filter: &RoundFilter) -> QueryResult<(Vec<SubsidyRound>, i64)> {
    let query = || {
        let mut query = subsidy_rounds::table.into_boxed();
        if let Some(program) = &filter.program_id {
            query = query.filter(subsidy_rounds::program_id.eq(program.clone()));
        }
        if let Some(year) = filter.year {
            query = query.filter(subsidy_rounds::year.eq(year));
        }
        query
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order((subsidy_rounds::closed_at.desc(), subsidy_rounds::id.desc()))
        .offset(filter.offset)
        .limit(filter.limit)
        .select(SubsidyRound::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// One claim of a closing round: its final amount and its disbursement.
#[derive(Debug, Clone)]
pub struct Publication {
    pub claim_id: String,
    /// The claim's version when it was read; the write is guarded by it.
    pub version: i64,
    pub organization_id: String,
    pub final_amount_fen: i64,
    pub disbursement_id: String,
}

/// Publishes a round's claims: each gets its final amount and `status`
/// (version-guarded, bumped) and a pending disbursement. Returns how many
/// claims were written; fewer than given means one changed meanwhile.
///
/// PostgreSQL gets two statements over arrays for the whole round: a closing
/// round of 10,000 claims as 20,000 single-row statements spends seconds on
/// round trips alone. SQLite runs in-process, where single rows are cheap.
pub fn publish_round(
    conn: &mut AnyConnection,
    round_id: &str,
    claims: &[Publication],
    status: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    if let AnyConnection::Postgresql(pg) = conn {
        return publish_round_postgres(pg, round_id, claims, status, now);
    }
    let mut written = 0;
    for claim in claims {
        let updated = diesel::update(subsidy_claims::table.find(&claim.claim_id))
            .filter(subsidy_claims::version.eq(claim.version))
            .set((
                subsidy_claims::final_amount_fen.eq(claim.final_amount_fen),
                subsidy_claims::status.eq(status),
                subsidy_claims::version.eq(claim.version + 1),
                subsidy_claims::updated_at.eq(now),
            ))
            .execute(conn)?;
        written += updated;
        insert_disbursement(conn, &pending_disbursement(round_id, claim, now))?;
    }
    Ok(written)
}

fn pending_disbursement(round_id: &str, claim: &Publication, now: NaiveDateTime) -> Disbursement {
    Disbursement {
        id: claim.disbursement_id.clone(),
        round_id: round_id.to_string(),
        claim_id: claim.claim_id.clone(),
        organization_id: claim.organization_id.clone(),
        amount_fen: claim.final_amount_fen,
        status: "pending".into(),
        paid_on: None,
        reference: None,
        recorded_by: None,
        created_at: now,
        updated_at: now,
    }
}

fn publish_round_postgres(
    pg: &mut diesel::PgConnection,
    round_id: &str,
    claims: &[Publication],
    status: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use diesel::sql_types::{Array, BigInt, Text, Timestamp};
    let column = |pick: fn(&Publication) -> String| claims.iter().map(pick).collect::<Vec<_>>();
    let numbers = |pick: fn(&Publication) -> i64| claims.iter().map(pick).collect::<Vec<_>>();
    let written = diesel::sql_query(
        "UPDATE subsidy_claims AS c \
         SET final_amount_fen = v.amount, status = $4, version = c.version + 1, updated_at = $5 \
         FROM (SELECT unnest($1::text[]) AS id, unnest($2::bigint[]) AS amount, unnest($3::bigint[]) AS version) AS v \
         WHERE c.id = v.id AND c.version = v.version",
    )
    .bind::<Array<Text>, _>(column(|c| c.claim_id.clone()))
    .bind::<Array<BigInt>, _>(numbers(|c| c.final_amount_fen))
    .bind::<Array<BigInt>, _>(numbers(|c| c.version))
    .bind::<Text, _>(status)
    .bind::<Timestamp, _>(now)
    .execute(pg)?;
    diesel::sql_query(
        "INSERT INTO disbursements (id, round_id, claim_id, organization_id, amount_fen, status, created_at, updated_at) \
         SELECT unnest($1::text[]), $2, unnest($3::text[]), unnest($4::text[]), unnest($5::bigint[]), 'pending', $6, $6",
    )
    .bind::<Array<Text>, _>(column(|c| c.disbursement_id.clone()))
    .bind::<Text, _>(round_id)
    .bind::<Array<Text>, _>(column(|c| c.claim_id.clone()))
    .bind::<Array<Text>, _>(column(|c| c.organization_id.clone()))
    .bind::<Array<BigInt>, _>(numbers(|c| c.final_amount_fen))
    .bind::<Timestamp, _>(now)
    .execute(pg)?;
    Ok(written)
}

/// One claim of a closing round left out of it, as it was read.
#[derive(Debug, Clone)]
pub struct LeftOut {
    pub claim_id: String,
    /// The claim's version when it was read; the write is guarded by it.
    pub version: i64,
}

/// Gives each of `claims` `status` and `reason` (version-guarded, bumped).
/// Returns how many were written; fewer than given means one changed
/// meanwhile. A round leaves out the few claims still under review, so one
/// statement per claim is cheap on both backends.
pub fn leave_out_of_round(
    conn: &mut AnyConnection,
    claims: &[LeftOut],
    status: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut written = 0;
    for claim in claims {
        written += diesel::update(subsidy_claims::table.find(&claim.claim_id))
            .filter(subsidy_claims::version.eq(claim.version))
            .set((
                subsidy_claims::status.eq(status),
                subsidy_claims::status_reason.eq(reason),
                subsidy_claims::version.eq(claim.version + 1),
                subsidy_claims::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(written)
}

pub fn insert_disbursement(conn: &mut AnyConnection, disbursement: &Disbursement) -> QueryResult<()> {
    diesel::insert_into(disbursements::table).values(disbursement).execute(conn).map(drop)
}

pub fn find_disbursement(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Disbursement>> {
    disbursements::table.find(id).select(Disbursement::as_select()).get_result(conn).optional()
}

/// Records a pending disbursement as paid; `false` when it was not pending.
pub fn mark_disbursed(conn: &mut AnyConnection, disbursement: &Disbursement) -> QueryResult<bool> {
    let updated = diesel::update(disbursements::table.find(&disbursement.id))
        .filter(disbursements::status.eq("pending"))
        .set(disbursement)
        .execute(conn)?;
    Ok(updated == 1)
}

/// The disbursements of a round, in claim submission order.
pub fn disbursements_of(conn: &mut AnyConnection, round_id: &str) -> QueryResult<Vec<Disbursement>> {
    disbursements::table
        .filter(disbursements::round_id.eq(round_id))
        .order((disbursements::created_at.asc(), disbursements::id.asc()))
        .select(Disbursement::as_select())
        .load(conn)
}

/// A page of a round's disbursements (those in `status` only, when given),
/// in claim submission order, and how many match.
pub fn disbursements_page(
    conn: &mut AnyConnection,
    round_id: &str,
    status: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<Disbursement>, i64)> {
    let query = || {
        let mut query = disbursements::table.into_boxed().filter(disbursements::round_id.eq(round_id.to_string()));
        if let Some(status) = status {
            query = query.filter(disbursements::status.eq(status.to_string()));
        }
        query
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order((disbursements::created_at.asc(), disbursements::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(Disbursement::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// The claims of a round with their organisation's name and credit code,
/// in submission order.
pub fn round_claims(
    conn: &mut AnyConnection,
    program_id: &str,
    year: i32,
) -> QueryResult<Vec<(SubsidyClaim, String, String)>> {
    subsidy_claims::table
        .inner_join(organizations::table)
        .filter(subsidy_claims::program_id.eq(program_id))
        .filter(subsidy_claims::year.eq(year))
        .filter(subsidy_claims::final_amount_fen.is_not_null())
        .order((subsidy_claims::submitted_at.asc(), subsidy_claims::id.asc()))
        .select((SubsidyClaim::as_select(), organizations::name, organizations::credit_code))
        .load(conn)
}

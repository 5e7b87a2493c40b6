//! The market's headline figures, what the front page shows the public,
//! and the movement of the officials' queues, what the console shows.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{
    claim_reviews, contracts, deals, demands, disbursements, listings, moderation_reviews, organizations,
    registrations, subsidy_claims, subsidy_rounds,
};

/// Counts and amounts of the market as it stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarketFigures {
    pub published_listings: i64,
    pub published_demands: i64,
    /// Contracts registered (技术合同认定登记) since the given instant.
    pub registered_contracts: i64,
    /// Their contract amounts (成交额), in fen.
    pub registered_amount_fen: i64,
}

/// The figures, with registrations counted from `since` (the start of the
/// market's year, in UTC).
pub fn market_figures(conn: &mut AnyConnection, since: NaiveDateTime) -> QueryResult<MarketFigures> {
    let published_listings =
        listings::table.filter(listings::status.eq("published")).select(count_star()).get_result(conn)?;
    let published_demands =
        demands::table.filter(demands::status.eq("published")).select(count_star()).get_result(conn)?;
    let now = crate::now();
    let registered = registered_contracts(conn, Span { start: since, end: now + chrono::TimeDelta::seconds(1) }, None)?;
    // Summed checked: an overflow is a fault in the data, reported, never wrapped.
    let registered_amount_fen = registered
        .iter()
        .try_fold(0_i64, |total, contract| total.checked_add(contract.total_amount_fen))
        .ok_or_else(|| diesel::result::Error::DeserializationError("registered amounts overflow i64 fen".into()))?;
    Ok(MarketFigures {
        published_listings,
        published_demands,
        registered_contracts: i64::try_from(registered.len()).unwrap_or(i64::MAX),
        registered_amount_fen,
    })
}

/// What came into the officials' queues and what they decided since a
/// moment (the console's "since yesterday").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueChanges {
    pub listings_submitted: i64,
    pub listings_decided: i64,
    pub demands_submitted: i64,
    pub demands_decided: i64,
    /// Contracts recorded (or amended), each waiting for registration.
    pub contracts_recorded: i64,
    pub registrations_decided: i64,
    pub claims_submitted: i64,
    pub level_one_decided: i64,
    pub level_two_decided: i64,
}

/// The queues' changes since `since` (naive UTC, as stored).
pub fn queue_changes(conn: &mut AnyConnection, since: NaiveDateTime) -> QueryResult<QueueChanges> {
    let reviews = |conn: &mut AnyConnection, subject: &str| -> QueryResult<i64> {
        moderation_reviews::table
            .filter(moderation_reviews::subject_type.eq(subject))
            .filter(moderation_reviews::created_at.ge(since))
            .select(count_star())
            .get_result(conn)
    };
    let claim_reviews_at = |conn: &mut AnyConnection, level: i32| -> QueryResult<i64> {
        claim_reviews::table
            .filter(claim_reviews::level.eq(level))
            .filter(claim_reviews::created_at.ge(since))
            .select(count_star())
            .get_result(conn)
    };
    Ok(QueueChanges {
        listings_submitted: listings::table
            .filter(listings::submitted_at.ge(since))
            .select(count_star())
            .get_result(conn)?,
        listings_decided: reviews(conn, "listing")?,
        demands_submitted: demands::table
            .filter(demands::submitted_at.ge(since))
            .select(count_star())
            .get_result(conn)?,
        demands_decided: reviews(conn, "demand")?,
        contracts_recorded: contracts::table
            .filter(contracts::created_at.ge(since))
            .select(count_star())
            .get_result(conn)?,
        registrations_decided: registrations::table
            .filter(registrations::created_at.ge(since))
            .select(count_star())
            .get_result(conn)?,
        claims_submitted: subsidy_claims::table
            .filter(subsidy_claims::submitted_at.ge(since))
            .select(count_star())
            .get_result(conn)?,
        level_one_decided: claim_reviews_at(conn, 1)?,
        level_two_decided: claim_reviews_at(conn, 2)?,
    })
}

/// A stretch of stored time, `[start, end)` in naive UTC: the instants of
/// a period of market dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// The `LIKE` pattern of a region prefix (digits only, checked by the
/// caller), or every region.
fn region_pattern(region: Option<&str>) -> String {
    format!("{}%", region.unwrap_or(""))
}

/// When each listing published in `span` was (last) published, for the
/// listings whose own region is under `region`.
pub fn listing_publications(
    conn: &mut AnyConnection,
    span: Span,
    region: Option<&str>,
) -> QueryResult<Vec<NaiveDateTime>> {
    listings::table
        .filter(listings::published_at.ge(span.start))
        .filter(listings::published_at.lt(span.end))
        .filter(listings::region_code.like(region_pattern(region)))
        .select(listings::published_at.assume_not_null())
        .load(conn)
}

/// The same for demands.
pub fn demand_publications(
    conn: &mut AnyConnection,
    span: Span,
    region: Option<&str>,
) -> QueryResult<Vec<NaiveDateTime>> {
    demands::table
        .filter(demands::published_at.ge(span.start))
        .filter(demands::published_at.lt(span.end))
        .filter(demands::region_code.like(region_pattern(region)))
        .select(demands::published_at.assume_not_null())
        .load(conn)
}

/// A deal's moment (opened, completed) and its seller's region: contracts
/// are counted where the technology comes from, as registration offices
/// count them (the seller registers with the office where it is based).
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct DealMoment {
    pub at: NaiveDateTime,
    pub seller_region: String,
}

/// Deals opened in `span` whose seller is under `region`.
pub fn deals_opened(conn: &mut AnyConnection, span: Span, region: Option<&str>) -> QueryResult<Vec<DealMoment>> {
    deals::table
        .inner_join(organizations::table.on(organizations::id.eq(deals::seller_organization_id)))
        .filter(deals::created_at.ge(span.start))
        .filter(deals::created_at.lt(span.end))
        .filter(organizations::region_code.like(region_pattern(region)))
        .select((deals::created_at, organizations::region_code))
        .load(conn)
}

/// Deals completed in `span` (registered and paid in full) and still
/// completed: a refund that reopens a deal takes it out again.
pub fn deals_completed(conn: &mut AnyConnection, span: Span, region: Option<&str>) -> QueryResult<Vec<DealMoment>> {
    deals::table
        .inner_join(organizations::table.on(organizations::id.eq(deals::seller_organization_id)))
        .filter(deals::completed_at.ge(span.start))
        .filter(deals::completed_at.lt(span.end))
        .filter(organizations::region_code.like(region_pattern(region)))
        .select((deals::completed_at.assume_not_null(), organizations::region_code))
        .load(conn)
}

/// A contract registered (技术合同认定登记) with what the office recorded:
/// at the end of a platform deal, or on an application for a contract
/// signed elsewhere — they count alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredContract {
    /// The deal's id, or the application's for a contract signed off the platform.
    pub source_id: String,
    pub registered_at: NaiveDateTime,
    pub seller_region: String,
    /// enterprise | university | institute | agency | authority
    pub seller_kind: String,
    pub buyer_region: String,
    pub category: String,
    /// As the application declared it (a deal's contract records none).
    pub technology_field: Option<String>,
    /// 成交额 as registered.
    pub total_amount_fen: i64,
    /// 技术交易额 as registered (核定).
    pub technology_amount_fen: i64,
}

/// The contracts registered in `span` whose seller is under `region`, each
/// once, at its registration, with the amounts in force now (after any
/// amendment); a cancelled registration is not among them.
pub fn registered_contracts(
    conn: &mut AnyConnection,
    span: Span,
    region: Option<&str>,
) -> QueryResult<Vec<RegisteredContract>> {
    use crate::schema::registration_applications as applications;
    type Row = (String, NaiveDateTime, String, String, String, String, i64, Option<i64>, i64);
    let rows: Vec<Row> = registrations::table
        .inner_join(deals::table.on(deals::id.eq(registrations::deal_id)))
        .inner_join(organizations::table.on(organizations::id.eq(deals::seller_organization_id)))
        .inner_join(contracts::table.on(contracts::deal_id.eq(registrations::deal_id)))
        .filter(registrations::decision.eq("register"))
        .filter(registrations::created_at.ge(span.start))
        .filter(registrations::created_at.lt(span.end))
        .filter(organizations::region_code.like(region_pattern(region)))
        .order((registrations::created_at.asc(), registrations::id.asc()))
        .select((
            registrations::deal_id,
            registrations::created_at,
            organizations::region_code,
            organizations::kind,
            deals::buyer_organization_id,
            contracts::category,
            contracts::total_amount_fen,
            registrations::registered_technology_amount_fen,
            contracts::technology_amount_fen,
        ))
        .load(conn)?;
    let mut buyer_ids: Vec<String> = rows.iter().map(|row| row.4.clone()).collect();
    buyer_ids.sort_unstable();
    buyer_ids.dedup();
    let mut buyer_regions = std::collections::HashMap::new();
    for chunk in buyer_ids.chunks(500) {
        buyer_regions.extend(
            organizations::table
                .filter(organizations::id.eq_any(chunk))
                .select((organizations::id, organizations::region_code))
                .load::<(String, String)>(conn)?,
        );
    }
    let mut seen = std::collections::HashSet::new();
    let mut registered: Vec<RegisteredContract> = rows
        .into_iter()
        .filter(|row| seen.insert(row.0.clone()))
        .map(|(deal_id, registered_at, seller_region, seller_kind, buyer, category, total, registered, declared)| {
            RegisteredContract {
                source_id: deal_id,
                registered_at,
                seller_region,
                seller_kind,
                buyer_region: buyer_regions.get(&buyer).cloned().unwrap_or_default(),
                category,
                technology_field: None,
                total_amount_fen: total,
                // A registration always records its 核定 amount; a row from
                // before that column counts what the contract declared.
                technology_amount_fen: registered.unwrap_or(declared),
            }
        })
        .collect();
    // A deal's registration counts through the deal, whatever the path it took.
    type Applied =
        (String, Option<NaiveDateTime>, String, String, String, String, Option<String>, Option<i64>, Option<i64>);
    let applied: Vec<Applied> = applications::table
        .inner_join(organizations::table.on(organizations::id.eq(applications::seller_organization_id)))
        .filter(applications::deal_id.is_null())
        .filter(applications::status.eq_any(crate::registry::IN_FORCE))
        .filter(applications::decided_at.ge(span.start))
        .filter(applications::decided_at.lt(span.end))
        .filter(organizations::region_code.like(region_pattern(region)))
        .select((
            applications::id,
            applications::decided_at,
            organizations::region_code,
            organizations::kind,
            applications::buyer_region_code,
            applications::category,
            applications::technology_field,
            applications::registered_total_fen,
            applications::registered_technology_fen,
        ))
        .load(conn)?;
    for (id, decided_at, seller_region, seller_kind, buyer_region, category, field, total, technology) in applied {
        let (Some(registered_at), Some(total), Some(technology)) = (decided_at, total, technology) else {
            return Err(diesel::result::Error::DeserializationError(
                format!("registration application {id} is in force without its amounts").into(),
            ));
        };
        registered.push(RegisteredContract {
            source_id: id,
            registered_at,
            seller_region,
            seller_kind,
            buyer_region,
            category,
            technology_field: field,
            total_amount_fen: total,
            technology_amount_fen: technology,
        });
    }
    registered.sort_by(|a, b| (a.registered_at, &a.source_id).cmp(&(b.registered_at, &b.source_id)));
    Ok(registered)
}

/// A subsidy amount of one program: a claim approved, awarded or paid.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ProgramAmount {
    pub program_id: String,
    pub amount_fen: i64,
}

/// The claims approved at level 2 (复审) in `span` whose claimant is under
/// `region`, with the amount approved.
pub fn claims_approved(conn: &mut AnyConnection, span: Span, region: Option<&str>) -> QueryResult<Vec<ProgramAmount>> {
    let rows: Vec<(String, Option<i64>, i64)> = claim_reviews::table
        .inner_join(subsidy_claims::table.on(subsidy_claims::id.eq(claim_reviews::claim_id)))
        .inner_join(organizations::table.on(organizations::id.eq(subsidy_claims::organization_id)))
        .filter(claim_reviews::level.eq(2))
        .filter(claim_reviews::decision.eq("approve"))
        .filter(claim_reviews::created_at.ge(span.start))
        .filter(claim_reviews::created_at.lt(span.end))
        .filter(organizations::region_code.like(region_pattern(region)))
        .select((subsidy_claims::program_id, claim_reviews::amount_fen, subsidy_claims::computed_amount_fen))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(program_id, approved, computed)| ProgramAmount { program_id, amount_fen: approved.unwrap_or(computed) })
        .collect())
}

/// The final amounts (after any pro-rating) of the claims in rounds closed
/// in `span`, for claimants under `region`: what the notices awarded.
pub fn claims_awarded(conn: &mut AnyConnection, span: Span, region: Option<&str>) -> QueryResult<Vec<ProgramAmount>> {
    subsidy_claims::table
        .inner_join(
            subsidy_rounds::table.on(subsidy_rounds::program_id
                .eq(subsidy_claims::program_id)
                .and(subsidy_rounds::year.eq(subsidy_claims::year))),
        )
        .inner_join(organizations::table.on(organizations::id.eq(subsidy_claims::organization_id)))
        .filter(subsidy_rounds::closed_at.ge(span.start))
        .filter(subsidy_rounds::closed_at.lt(span.end))
        .filter(subsidy_claims::final_amount_fen.is_not_null())
        .filter(organizations::region_code.like(region_pattern(region)))
        .select((subsidy_claims::program_id, subsidy_claims::final_amount_fen.assume_not_null()))
        .load(conn)
}

/// The disbursements paid out on a day of `from..=to` to organisations
/// under `region`.
pub fn disbursements_paid(
    conn: &mut AnyConnection,
    from: NaiveDate,
    to: NaiveDate,
    region: Option<&str>,
) -> QueryResult<Vec<ProgramAmount>> {
    disbursements::table
        .inner_join(subsidy_rounds::table.on(subsidy_rounds::id.eq(disbursements::round_id)))
        .inner_join(organizations::table.on(organizations::id.eq(disbursements::organization_id)))
        .filter(disbursements::status.eq("paid"))
        .filter(disbursements::paid_on.ge(from))
        .filter(disbursements::paid_on.le(to))
        .filter(organizations::region_code.like(region_pattern(region)))
        .select((subsidy_rounds::program_id, disbursements::amount_fen))
        .load(conn)
}

/// The regions of the market's organisations, each once: where a figure
/// can be asked for.
pub fn organization_regions(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    organizations::table
        .select(organizations::region_code)
        .distinct()
        .order(organizations::region_code.asc())
        .load(conn)
}

//! The market's headline figures, what the front page shows the public,
//! and the movement of the officials' queues, what the console shows.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{claim_reviews, contracts, demands, listings, moderation_reviews, registrations, subsidy_claims};

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
        listings::table.filter(listings::status.eq("published")).select(count_star()).first(conn)?;
    let published_demands = demands::table.filter(demands::status.eq("published")).select(count_star()).first(conn)?;
    let registered: Vec<(String, i64)> = registrations::table
        .inner_join(contracts::table.on(contracts::deal_id.eq(registrations::deal_id)))
        .filter(registrations::decision.eq("register"))
        .filter(registrations::created_at.ge(since))
        .select((registrations::deal_id, contracts::total_amount_fen))
        .load(conn)?;
    // Counted per deal, whatever its history of decisions; summed checked
    // (an overflow is a fault in the data, reported, never wrapped).
    let mut deals = std::collections::BTreeMap::new();
    deals.extend(registered);
    let registered_amount_fen = deals
        .values()
        .try_fold(0_i64, |total, amount| total.checked_add(*amount))
        .ok_or_else(|| diesel::result::Error::DeserializationError("registered amounts overflow i64 fen".into()))?;
    Ok(MarketFigures {
        published_listings,
        published_demands,
        registered_contracts: i64::try_from(deals.len()).unwrap_or(i64::MAX),
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
            .first(conn)
    };
    let claim_reviews_at = |conn: &mut AnyConnection, level: i32| -> QueryResult<i64> {
        claim_reviews::table
            .filter(claim_reviews::level.eq(level))
            .filter(claim_reviews::created_at.ge(since))
            .select(count_star())
            .first(conn)
    };
    Ok(QueueChanges {
        listings_submitted: listings::table
            .filter(listings::submitted_at.ge(since))
            .select(count_star())
            .first(conn)?,
        listings_decided: reviews(conn, "listing")?,
        demands_submitted: demands::table.filter(demands::submitted_at.ge(since)).select(count_star()).first(conn)?,
        demands_decided: reviews(conn, "demand")?,
        contracts_recorded: contracts::table
            .filter(contracts::created_at.ge(since))
            .select(count_star())
            .first(conn)?,
        registrations_decided: registrations::table
            .filter(registrations::created_at.ge(since))
            .select(count_star())
            .first(conn)?,
        claims_submitted: subsidy_claims::table
            .filter(subsidy_claims::submitted_at.ge(since))
            .select(count_star())
            .first(conn)?,
        level_one_decided: claim_reviews_at(conn, 1)?,
        level_two_decided: claim_reviews_at(conn, 2)?,
    })
}

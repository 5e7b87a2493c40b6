//! The market's headline figures: what the front page shows the public.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{contracts, demands, listings, registrations};

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

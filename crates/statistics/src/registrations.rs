//! The registration office's figures (`GET /api/v1/statistics/registrations`
//! and its CSV): the contracts registered in a period, counted with their
//! 成交额 and 技术交易额 by category, technology field, the seller's kind,
//! the buyer's region or month. A contract registered at the end of a
//! platform deal and one signed elsewhere count alike; a cancelled
//! registration does not count, an amended one counts with its amounts as
//! amended.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use techtrade_db::statistics::{self as db, RegisteredContract};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser};
use utoipa::{IntoParams, ToSchema};

use crate::StatisticsQuery;

/// How the rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationGrouping {
    /// development | transfer | license | consulting | service
    #[default]
    Category,
    /// As the application declared it; `unspecified` when none was (a platform deal's).
    TechnologyField,
    /// enterprise | university | institute | agency | authority
    SellerKind,
    /// The buyer's prefecture (4 digits of GB/T 2260): where the technology went.
    Region,
    /// `2026-10`.
    Month,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistrationStatisticsQuery {
    /// The period's first day (Beijing time); default: 1 January of this year.
    pub from: Option<NaiveDate>,
    /// The period's last day, included; default: today. At most 120 months after `from`.
    pub to: Option<NaiveDate>,
    /// Only sellers in this region (a GB/T 2260 prefix of 2, 4 or 6 digits):
    /// a contract is registered where its seller is.
    #[param(pattern = "^([0-9]{2}|[0-9]{4}|[0-9]{6})$")]
    pub region: Option<String>,
    /// category (default) | technology_field | seller_kind | region | month
    #[param(inline)]
    pub group_by: Option<RegistrationGrouping>,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct RegistrationFigures {
    pub key: String,
    pub count: i64,
    /// 成交额 as registered.
    pub total_fen: i64,
    /// 技术交易额 as registered (核定).
    pub technology_fen: i64,
}

impl RegistrationFigures {
    fn add(&mut self, contract: &RegisteredContract) -> Result<(), ApiError> {
        let overflow = || ApiError::internal("registered amounts overflow i64 fen");
        self.count += 1;
        self.total_fen = self.total_fen.checked_add(contract.total_amount_fen).ok_or_else(overflow)?;
        self.technology_fen = self.technology_fen.checked_add(contract.technology_amount_fen).ok_or_else(overflow)?;
        Ok(())
    }
}

/// The figures of a period, grouped, with their totals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistrationStatistics {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub region: Option<String>,
    pub group_by: RegistrationGrouping,
    /// Ordered by key.
    pub rows: Vec<RegistrationFigures>,
    /// The sums of the rows (`key` is `total`).
    pub totals: RegistrationFigures,
}

fn key_of(contract: &RegisteredContract, grouping: RegistrationGrouping) -> String {
    match grouping {
        RegistrationGrouping::Category => contract.category.clone(),
        RegistrationGrouping::TechnologyField => {
            contract.technology_field.clone().unwrap_or_else(|| "unspecified".to_string())
        }
        RegistrationGrouping::SellerKind => contract.seller_kind.clone(),
        RegistrationGrouping::Region => contract.buyer_region.chars().take(4).collect(),
        RegistrationGrouping::Month => {
            let day = techtrade_db::market_date(contract.registered_at);
            format!("{:04}-{:02}", day.year(), day.month())
        }
    }
}

/// Groups `contracts` by `grouping`, each row and the totals summed checked.
pub fn group(
    contracts: &[RegisteredContract],
    grouping: RegistrationGrouping,
) -> Result<(Vec<RegistrationFigures>, RegistrationFigures), ApiError> {
    let mut rows: BTreeMap<String, RegistrationFigures> = BTreeMap::new();
    let mut totals = RegistrationFigures { key: "total".to_string(), ..RegistrationFigures::default() };
    for contract in contracts {
        let key = key_of(contract, grouping);
        rows.entry(key.clone())
            .or_insert_with(|| RegistrationFigures { key, ..RegistrationFigures::default() })
            .add(contract)?;
        totals.add(contract)?;
    }
    Ok((rows.into_values().collect(), totals))
}

/// The figures for `query` (officials and administrators).
pub async fn registration_statistics(
    state: &AppState,
    user: &CurrentUser,
    query: RegistrationStatisticsQuery,
) -> ApiResult<RegistrationStatistics> {
    user.require_official()?;
    let grouping = query.group_by.unwrap_or_default();
    let scope = StatisticsQuery { from: query.from, to: query.to, region: query.region }.scope(techtrade_db::today())?;
    let span = scope.span();
    let region = scope.region.clone();
    let contracts = state
        .db
        .run(move |conn| db::registered_contracts(conn, span, region.as_deref()).map_err(ApiError::from))
        .await?;
    let (rows, totals) = group(&contracts, grouping)?;
    Ok(RegistrationStatistics {
        from: scope.from,
        to: scope.to,
        region: scope.region,
        group_by: grouping,
        rows,
        totals,
    })
}

/// The figures as CSV (UTF-8 with a byte-order mark, so that Excel reads
/// it): `key,count,total_fen,technology_fen`, the totals last.
pub fn csv(statistics: &RegistrationStatistics) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(["key", "count", "total_fen", "technology_fen"]).map_err(ApiError::internal)?;
    for row in statistics.rows.iter().chain([&statistics.totals]) {
        writer
            .write_record([
                row.key.clone(),
                row.count.to_string(),
                row.total_fen.to_string(),
                row.technology_fen.to_string(),
            ])
            .map_err(ApiError::internal)?;
    }
    writer.into_inner().map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;

    fn contract(category: &str, buyer_region: &str, at: &str, total: i64, technology: i64) -> RegisteredContract {
        RegisteredContract {
            source_id: format!("{category}-{at}"),
            registered_at: NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M").expect("time"),
            seller_region: "630102".into(),
            seller_kind: "university".into(),
            buyer_region: buyer_region.into(),
            category: category.into(),
            technology_field: None,
            total_amount_fen: total,
            technology_amount_fen: technology,
        }
    }

    #[test]
    fn rows_and_totals_add_up_by_each_grouping() {
        let contracts = [
            contract("license", "630105", "2026-03-01 02:00", 1_000, 800),
            contract("transfer", "110108", "2026-03-31 17:00", 500, 500),
            contract("license", "630121", "2026-04-02 01:00", 300, 100),
        ];
        let (rows, totals) = group(&contracts, RegistrationGrouping::Category).expect("groups");
        assert_eq!(
            rows.iter().map(|r| (r.key.as_str(), r.count, r.total_fen)).collect::<Vec<_>>(),
            [("license", 2, 1_300), ("transfer", 1, 500)]
        );
        assert_eq!((totals.count, totals.total_fen, totals.technology_fen), (3, 1_800, 1_400));
        // 17:00 UTC on 31 March is 1 April in Beijing.
        let (months, _) = group(&contracts, RegistrationGrouping::Month).expect("groups");
        assert_eq!(
            months.iter().map(|r| (r.key.as_str(), r.count)).collect::<Vec<_>>(),
            [("2026-03", 1), ("2026-04", 2)]
        );
        let (regions, _) = group(&contracts, RegistrationGrouping::Region).expect("groups");
        assert_eq!(regions.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["1101", "6301"]);
        let (fields, _) = group(&contracts, RegistrationGrouping::TechnologyField).expect("groups");
        assert_eq!(fields[0].key, "unspecified");
    }

    #[test]
    fn an_overflowing_sum_is_an_error() {
        let contracts = [
            contract("license", "6301", "2026-03-01 02:00", i64::MAX, 0),
            contract("license", "6301", "2026-03-01 03:00", 1, 0),
        ];
        assert!(group(&contracts, RegistrationGrouping::Category).is_err());
    }
}

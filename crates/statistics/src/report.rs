//! The market report: what was published, negotiated, registered and paid
//! in a period and region, in total, by contract category, by month and by
//! prefecture, and the subsidies per program. What a province's report on
//! its technology market is made of.
//!
//! The definitions (each figure in one place; the page, the CSV and the
//! workbook only present them):
//! - **listings / demands published**: those whose latest publication
//!   falls in the period, whatever they became since (withdrawn, traded);
//! - **deals opened**: opened in the period; **deals completed**: reached
//!   `completed` (registered and paid in full) in the period and still are;
//! - **contracts registered**: registered (技术合同认定登记) in the period,
//!   each once; 成交额 is the contract's total, 技术交易额 the technology
//!   amount the office registered (核定), and the non-technical amount the
//!   rest of the total, so that total = technology + non-technical;
//! - **subsidies**: per program, the claims approved at level 2 (复审) in
//!   the period with the amount approved, the final amounts of the rounds
//!   closed in the period (after any pro-rating: what the notices award),
//!   and the disbursements paid on a day of the period.
//!
//! Listings and demands count in their own region; deals and contracts in
//! the seller's (the seller registers with its office); subsidies in the
//! claimant's. Month and day are Beijing dates.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;
use techtrade_db::AnyConnection;
use techtrade_db::statistics::{self as db, ProgramAmount, RegisteredContract};
use techtrade_domain::ContractCategory;
use techtrade_domain::policy::Program;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser};
use utoipa::ToSchema;

use crate::period::{Scope, StatisticsQuery};

/// Registered contracts: how many and their amounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContractFigures {
    pub count: i64,
    /// 成交额: the contracts' totals, in fen.
    pub total_amount_fen: i64,
    /// 技术交易额 as registered (核定), in fen.
    pub technology_amount_fen: i64,
    /// The totals less the registered technology amounts, in fen.
    pub non_technical_amount_fen: i64,
}

impl ContractFigures {
    fn add(&mut self, contract: &RegisteredContract) -> Result<(), ApiError> {
        let overflow = || ApiError::internal("registered contract amounts overflow i64 fen");
        let non_technical =
            contract.total_amount_fen.checked_sub(contract.technology_amount_fen).ok_or_else(overflow)?;
        self.count += 1;
        self.total_amount_fen = self.total_amount_fen.checked_add(contract.total_amount_fen).ok_or_else(overflow)?;
        self.technology_amount_fen =
            self.technology_amount_fen.checked_add(contract.technology_amount_fen).ok_or_else(overflow)?;
        self.non_technical_amount_fen =
            self.non_technical_amount_fen.checked_add(non_technical).ok_or_else(overflow)?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryFigures {
    pub category: ContractCategory,
    pub contracts: ContractFigures,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MonthFigures {
    /// `YYYY-MM`, a month of Beijing dates.
    #[schema(example = "2026-03")]
    pub month: String,
    pub listings_published: i64,
    pub demands_published: i64,
    pub deals_opened: i64,
    pub deals_completed: i64,
    pub contracts: ContractFigures,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct PrefectureFigures {
    /// The prefecture's four-digit GB/T 2260 prefix (`6301`: Xining).
    #[schema(example = "6301")]
    pub prefecture: String,
    pub deals_opened: i64,
    pub deals_completed: i64,
    pub contracts: ContractFigures,
}

/// One program's subsidies in the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProgramFigures {
    pub program_id: String,
    /// The program's name; none when no loaded policy file has this id.
    pub program_name: Option<String>,
    /// Claims approved at level 2 (复审) in the period, and their amounts.
    pub approved_claims: i64,
    pub approved_amount_fen: i64,
    /// Final amounts of the rounds closed in the period (the notices).
    pub awarded_claims: i64,
    pub awarded_amount_fen: i64,
    /// Disbursements paid on a day of the period.
    pub paid_claims: i64,
    pub paid_amount_fen: i64,
}

/// The market's figures for a period and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MarketReport {
    /// The period's first and last day (Beijing time), both included.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The region asked for (a GB/T 2260 prefix); none for the whole market.
    pub region: Option<String>,
    pub listings_published: i64,
    pub demands_published: i64,
    pub deals_opened: i64,
    pub deals_completed: i64,
    pub contracts: ContractFigures,
    /// Every category (技术开发/转让/许可/咨询/服务), in that order.
    pub by_category: Vec<CategoryFigures>,
    /// Every month the period touches, oldest first.
    pub by_month: Vec<MonthFigures>,
    /// The prefectures with any deal or contract, by code.
    pub by_prefecture: Vec<PrefectureFigures>,
    /// Every loaded program, then any other program with figures, by id.
    pub subsidies: Vec<ProgramFigures>,
}

/// The report for `query`, for officials and administrators: the API's
/// `GET /api/v1/statistics` and the console's page and downloads.
pub async fn report(
    state: &AppState,
    user: &CurrentUser,
    programs: &[Program],
    query: StatisticsQuery,
) -> ApiResult<MarketReport> {
    user.require_official()?;
    let scope = query.scope(techtrade_db::today())?;
    let names: Vec<(String, String)> = programs.iter().map(|p| (p.id().to_string(), p.name().to_string())).collect();
    state.db.run(move |conn| build(conn, &scope, &names)).await
}

/// The regions figures can be asked for: every province, prefecture and
/// county code of the market's organisations, each once, in order.
pub async fn regions(state: &AppState) -> ApiResult<Vec<String>> {
    let codes = state.db.run(|conn| db::organization_regions(conn).map_err(ApiError::from)).await?;
    let mut prefixes = std::collections::BTreeSet::new();
    for code in codes.iter().filter(|c| c.len() == 6) {
        prefixes.insert(code[..2].to_string());
        prefixes.insert(code[..4].to_string());
    }
    Ok(prefixes.into_iter().collect())
}

fn month_key(day: NaiveDate) -> (i32, u32) {
    (day.year(), day.month())
}

/// The report's months, with where each month's row is.
struct Months {
    rows: Vec<MonthFigures>,
    index: HashMap<(i32, u32), usize>,
}

impl Months {
    fn new(scope: &Scope) -> Self {
        let months = scope.months();
        let index = months.iter().enumerate().map(|(i, m)| (*m, i)).collect();
        let rows = months
            .iter()
            .map(|(year, month)| MonthFigures { month: format!("{year:04}-{month:02}"), ..MonthFigures::default() })
            .collect();
        Self { rows, index }
    }

    /// The row of the month an instant falls in (in the market's zone).
    fn of(&mut self, instant: NaiveDateTime) -> Result<&mut MonthFigures, ApiError> {
        let key = month_key(techtrade_db::market_date(instant));
        let at = self.index.get(&key).copied().ok_or_else(|| ApiError::internal("an instant outside the period"))?;
        Ok(&mut self.rows[at])
    }
}

fn build(conn: &mut AnyConnection, scope: &Scope, names: &[(String, String)]) -> Result<MarketReport, ApiError> {
    let span = scope.span();
    let region = scope.region();
    let mut months = Months::new(scope);
    let mut prefectures: BTreeMap<String, PrefectureFigures> = BTreeMap::new();

    let listings = db::listing_publications(conn, span, region)?;
    for at in &listings {
        months.of(*at)?.listings_published += 1;
    }
    let demands = db::demand_publications(conn, span, region)?;
    for at in &demands {
        months.of(*at)?.demands_published += 1;
    }
    let opened = db::deals_opened(conn, span, region)?;
    for deal in &opened {
        months.of(deal.at)?.deals_opened += 1;
        prefecture(&mut prefectures, &deal.seller_region).deals_opened += 1;
    }
    let completed = db::deals_completed(conn, span, region)?;
    for deal in &completed {
        months.of(deal.at)?.deals_completed += 1;
        prefecture(&mut prefectures, &deal.seller_region).deals_completed += 1;
    }

    let mut contracts = ContractFigures::default();
    let mut by_category: Vec<CategoryFigures> = ContractCategory::ALL
        .iter()
        .map(|&category| CategoryFigures { category, contracts: ContractFigures::default() })
        .collect();
    for contract in db::registered_contracts(conn, span, region)? {
        let category = ContractCategory::from_db(&contract.category)
            .ok_or_else(|| ApiError::internal(format!("unknown contract category {:?}", contract.category)))?;
        contracts.add(&contract)?;
        if let Some(row) = by_category.iter_mut().find(|row| row.category == category) {
            row.contracts.add(&contract)?;
        }
        months.of(contract.registered_at)?.contracts.add(&contract)?;
        prefecture(&mut prefectures, &contract.seller_region).contracts.add(&contract)?;
    }

    let subsidies = subsidies(
        names,
        &db::claims_approved(conn, span, region)?,
        &db::claims_awarded(conn, span, region)?,
        &db::disbursements_paid(conn, scope.from, scope.to, region)?,
    )?;

    Ok(MarketReport {
        from: scope.from,
        to: scope.to,
        region: scope.region.clone(),
        listings_published: count(&listings),
        demands_published: count(&demands),
        deals_opened: count(&opened),
        deals_completed: count(&completed),
        contracts,
        by_category,
        by_month: months.rows,
        by_prefecture: prefectures.into_values().collect(),
        subsidies,
    })
}

/// The row of the prefecture a region code is in.
fn prefecture<'a>(rows: &'a mut BTreeMap<String, PrefectureFigures>, region: &str) -> &'a mut PrefectureFigures {
    let key = region.get(..4).unwrap_or(region).to_string();
    rows.entry(key.clone()).or_insert_with(|| PrefectureFigures { prefecture: key, ..Default::default() })
}

fn count<T>(items: &[T]) -> i64 {
    i64::try_from(items.len()).unwrap_or(i64::MAX)
}

/// Which of a program's figures an amount adds to.
#[derive(Clone, Copy)]
enum Stage {
    Approved,
    Awarded,
    Paid,
}

fn subsidies(
    names: &[(String, String)],
    approved: &[ProgramAmount],
    awarded: &[ProgramAmount],
    paid: &[ProgramAmount],
) -> Result<Vec<ProgramFigures>, ApiError> {
    let mut programs: Vec<ProgramFigures> = names
        .iter()
        .map(|(id, name)| ProgramFigures {
            program_id: id.clone(),
            program_name: Some(name.clone()),
            ..ProgramFigures::default()
        })
        .collect();
    let loaded = programs.len();
    for (stage, amounts) in [(Stage::Approved, approved), (Stage::Awarded, awarded), (Stage::Paid, paid)] {
        for amount in amounts {
            let at = match programs.iter().position(|p| p.program_id == amount.program_id) {
                Some(at) => at,
                None => {
                    programs.push(ProgramFigures { program_id: amount.program_id.clone(), ..Default::default() });
                    programs.len() - 1
                }
            };
            let program = &mut programs[at];
            let (claims, fen) = match stage {
                Stage::Approved => (&mut program.approved_claims, &mut program.approved_amount_fen),
                Stage::Awarded => (&mut program.awarded_claims, &mut program.awarded_amount_fen),
                Stage::Paid => (&mut program.paid_claims, &mut program.paid_amount_fen),
            };
            *claims += 1;
            *fen = fen.checked_add(amount.amount_fen).ok_or_else(|| ApiError::internal("subsidy amounts overflow"))?;
        }
    }
    programs[loaded..].sort_by(|a, b| a.program_id.cmp(&b.program_id));
    Ok(programs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(total: i64, technology: i64) -> RegisteredContract {
        RegisteredContract {
            source_id: "d".into(),
            registered_at: NaiveDateTime::default(),
            seller_region: "630102".into(),
            seller_kind: "enterprise".into(),
            buyer_region: "630105".into(),
            category: "license".into(),
            technology_field: None,
            total_amount_fen: total,
            technology_amount_fen: technology,
        }
    }

    #[test]
    fn contract_amounts_add_up_and_overflow_is_an_error() {
        let mut figures = ContractFigures::default();
        figures.add(&contract(1_000_000, 800_000)).expect("adds");
        figures.add(&contract(50_001, 50_001)).expect("adds");
        assert_eq!(figures.count, 2);
        assert_eq!(figures.total_amount_fen, 1_050_001);
        assert_eq!(figures.technology_amount_fen, 850_001);
        assert_eq!(figures.non_technical_amount_fen, 200_000);
        assert_eq!(figures.total_amount_fen, figures.technology_amount_fen + figures.non_technical_amount_fen);
        assert!(figures.add(&contract(i64::MAX, 0)).is_err());
    }

    #[test]
    fn subsidies_list_loaded_programs_first_then_others_by_id() {
        let names = vec![("qinghai".to_string(), "青海".to_string())];
        let amount = |id: &str, fen| ProgramAmount { program_id: id.into(), amount_fen: fen };
        let rows = subsidies(
            &names,
            &[amount("qinghai", 100), amount("zeta", 5), amount("qinghai", 250)],
            &[amount("alpha", 7)],
            &[amount("qinghai", 300)],
        )
        .expect("sums");
        let ids: Vec<&str> = rows.iter().map(|r| r.program_id.as_str()).collect();
        assert_eq!(ids, ["qinghai", "alpha", "zeta"]);
        assert_eq!((rows[0].approved_claims, rows[0].approved_amount_fen), (2, 350));
        assert_eq!((rows[0].paid_claims, rows[0].paid_amount_fen), (1, 300));
        assert_eq!(rows[0].program_name.as_deref(), Some("青海"));
        assert_eq!((rows[1].awarded_claims, rows[1].awarded_amount_fen, rows[1].program_name.clone()), (1, 7, None));
    }
}

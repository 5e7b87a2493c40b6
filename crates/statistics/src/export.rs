//! The report as files an official sends on: a CSV for machines (one figure
//! per row, stable English keys, amounts in fen) and an Excel workbook for
//! people (a sheet per breakdown, headings in the reader's language,
//! amounts in yuan to the fen).

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use techtrade_domain::ContractCategory;
use techtrade_web::ApiError;

use crate::report::{ContractFigures, MarketReport};

/// The words a workbook needs in the reader's language. The captions'
/// keys are [`CAPTIONS`]; the web front answers them from its catalogue.
pub trait Words {
    fn caption(&self, key: &str) -> String;
    fn category(&self, category: ContractCategory) -> String;
    /// The name of a prefecture (a four-digit GB/T 2260 prefix).
    fn prefecture(&self, code: &str) -> String;
}

/// Every caption key a workbook asks [`Words::caption`] for.
pub const CAPTIONS: &[&str] = &[
    "stat-sheet-summary",
    "stat-sheet-category",
    "stat-sheet-month",
    "stat-sheet-prefecture",
    "stat-sheet-subsidies",
    "stat-period-from",
    "stat-period-to",
    "stat-region",
    "stat-whole-market",
    "stat-figure",
    "stat-value",
    "stat-listings-published",
    "stat-demands-published",
    "stat-deals-opened",
    "stat-deals-completed",
    "stat-contracts-registered",
    "stat-total-amount",
    "stat-technology-amount",
    "stat-non-technical-amount",
    "stat-category",
    "stat-month",
    "stat-prefecture-code",
    "stat-prefecture",
    "stat-program-id",
    "stat-program",
    "stat-approved-claims",
    "stat-approved-amount",
    "stat-awarded-claims",
    "stat-awarded-amount",
    "stat-paid-claims",
    "stat-paid-amount",
    "stat-all",
];

/// A contract figures' CSV keys and values, in order.
fn contract_pairs(figures: &ContractFigures) -> [(&'static str, i64); 4] {
    [
        ("contracts_registered", figures.count),
        ("total_amount_fen", figures.total_amount_fen),
        ("technology_amount_fen", figures.technology_amount_fen),
        ("non_technical_amount_fen", figures.non_technical_amount_fen),
    ]
}

/// The market's activity (listings, demands, deals opened, completed) as
/// CSV keys and values, in the order the workbook's columns have them.
fn activity(listings: i64, demands: i64, opened: i64, completed: i64) -> [(&'static str, i64); 4] {
    [
        ("listings_published", listings),
        ("demands_published", demands),
        ("deals_opened", opened),
        ("deals_completed", completed),
    ]
}

/// The report as CSV (UTF-8 with a byte-order mark, so that Excel reads the
/// Chinese names): `section,key,figure,value`, one figure per row.
pub fn csv(report: &MarketReport) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut row = |section: &str, key: &str, figure: &str, value: &str| {
        writer.write_record([section, key, figure, value]).map_err(ApiError::internal)
    };
    row("section", "key", "figure", "value")?;
    row("scope", "", "from", &report.from.to_string())?;
    row("scope", "", "to", &report.to.to_string())?;
    row("scope", "", "region", report.region.as_deref().unwrap_or_default())?;
    // One row per figure of a section's key.
    let mut figures = |section: &str, key: &str, pairs: &[(&str, i64)]| {
        pairs.iter().try_for_each(|(figure, value)| row(section, key, figure, &value.to_string()))
    };
    let totals =
        activity(report.listings_published, report.demands_published, report.deals_opened, report.deals_completed);
    figures("total", "", &totals)?;
    figures("total", "", &contract_pairs(&report.contracts))?;
    for line in &report.by_category {
        figures("category", line.category.as_str(), &contract_pairs(&line.contracts))?;
    }
    for month in &report.by_month {
        let done =
            activity(month.listings_published, month.demands_published, month.deals_opened, month.deals_completed);
        figures("month", &month.month, &done)?;
        figures("month", &month.month, &contract_pairs(&month.contracts))?;
    }
    for place in &report.by_prefecture {
        let deals = [("deals_opened", place.deals_opened), ("deals_completed", place.deals_completed)];
        figures("prefecture", &place.prefecture, &deals)?;
        figures("prefecture", &place.prefecture, &contract_pairs(&place.contracts))?;
    }
    for program in &report.subsidies {
        let subsidy = [
            ("approved_claims", program.approved_claims),
            ("approved_amount_fen", program.approved_amount_fen),
            ("awarded_claims", program.awarded_claims),
            ("awarded_amount_fen", program.awarded_amount_fen),
            ("paid_claims", program.paid_claims),
            ("paid_amount_fen", program.paid_amount_fen),
        ];
        figures("subsidy", &program.program_id, &subsidy)?;
    }
    writer.into_inner().map_err(ApiError::internal)
}

/// A worksheet being filled, row by row.
struct Sheet<'a> {
    sheet: &'a mut Worksheet,
    row: u32,
    yuan: &'a Format,
    heading: &'a Format,
}

impl Sheet<'_> {
    fn headings(&mut self, headings: &[String]) -> Result<(), XlsxError> {
        for (column, text) in (0u16..).zip(headings) {
            self.sheet.write_string_with_format(self.row, column, text, self.heading)?;
            let width = text.chars().map(|c| if c.is_ascii() { 1.0 } else { 2.0 }).sum::<f64>();
            self.sheet.set_column_width(column, width.max(14.0) + 2.0)?;
        }
        self.row += 1;
        Ok(())
    }

    fn text(&mut self, column: u16, text: &str) -> Result<(), XlsxError> {
        self.sheet.write_string(self.row, column, text)?;
        Ok(())
    }

    fn count(&mut self, column: u16, count: i64) -> Result<(), XlsxError> {
        // Counts and amounts stay far below 2^53, where f64 is exact.
        self.sheet.write_number(self.row, column, count as f64)?;
        Ok(())
    }

    /// An amount in fen, written as yuan to the fen (`#,##0.00`).
    fn yuan(&mut self, column: u16, fen: i64) -> Result<(), XlsxError> {
        self.sheet.write_number_with_format(self.row, column, fen as f64 / 100.0, self.yuan)?;
        Ok(())
    }

    fn contracts(&mut self, first: u16, figures: &ContractFigures) -> Result<(), XlsxError> {
        self.count(first, figures.count)?;
        self.yuan(first + 1, figures.total_amount_fen)?;
        self.yuan(first + 2, figures.technology_amount_fen)?;
        self.yuan(first + 3, figures.non_technical_amount_fen)
    }

    fn next(&mut self) {
        self.row += 1;
    }
}

/// The report as an Excel workbook: a summary sheet and one sheet per
/// breakdown, each with a total row where the rows add up.
pub fn workbook(report: &MarketReport, words: &dyn Words) -> Result<Vec<u8>, ApiError> {
    build_workbook(report, words).map_err(ApiError::internal)
}

fn build_workbook(report: &MarketReport, words: &dyn Words) -> Result<Vec<u8>, XlsxError> {
    let t = |key: &str| words.caption(key);
    let yuan = Format::new().set_num_format("#,##0.00");
    let heading = Format::new().set_bold();
    let contract_headings =
        ["stat-contracts-registered", "stat-total-amount", "stat-technology-amount", "stat-non-technical-amount"]
            .map(t);
    let mut workbook = Workbook::new();

    let mut sheet = Sheet { sheet: workbook.add_worksheet(), row: 0, yuan: &yuan, heading: &heading };
    sheet.sheet.set_name(t("stat-sheet-summary"))?;
    sheet.headings(&[t("stat-figure"), t("stat-value")])?;
    let region = match &report.region {
        Some(code) if code.len() == 4 => format!("{code} {}", words.prefecture(code)),
        Some(code) => code.clone(),
        None => t("stat-whole-market"),
    };
    for (key, value) in [
        ("stat-period-from", report.from.to_string()),
        ("stat-period-to", report.to.to_string()),
        ("stat-region", region),
    ] {
        sheet.text(0, &t(key))?;
        sheet.text(1, &value)?;
        sheet.next();
    }
    for (key, value) in [
        ("stat-listings-published", report.listings_published),
        ("stat-demands-published", report.demands_published),
        ("stat-deals-opened", report.deals_opened),
        ("stat-deals-completed", report.deals_completed),
        ("stat-contracts-registered", report.contracts.count),
    ] {
        sheet.text(0, &t(key))?;
        sheet.count(1, value)?;
        sheet.next();
    }
    for (key, fen) in [
        ("stat-total-amount", report.contracts.total_amount_fen),
        ("stat-technology-amount", report.contracts.technology_amount_fen),
        ("stat-non-technical-amount", report.contracts.non_technical_amount_fen),
    ] {
        sheet.text(0, &t(key))?;
        sheet.yuan(1, fen)?;
        sheet.next();
    }

    let mut sheet = Sheet { sheet: workbook.add_worksheet(), row: 0, yuan: &yuan, heading: &heading };
    sheet.sheet.set_name(t("stat-sheet-category"))?;
    sheet.headings(&[[t("stat-category")].as_slice(), &contract_headings].concat())?;
    for line in &report.by_category {
        sheet.text(0, &words.category(line.category))?;
        sheet.contracts(1, &line.contracts)?;
        sheet.next();
    }
    sheet.text(0, &t("stat-all"))?;
    sheet.contracts(1, &report.contracts)?;

    let mut sheet = Sheet { sheet: workbook.add_worksheet(), row: 0, yuan: &yuan, heading: &heading };
    sheet.sheet.set_name(t("stat-sheet-month"))?;
    let activity_headings =
        ["stat-listings-published", "stat-demands-published", "stat-deals-opened", "stat-deals-completed"];
    sheet.headings(&[vec![t("stat-month")], activity_headings.map(t).to_vec(), contract_headings.to_vec()].concat())?;
    for month in &report.by_month {
        sheet.text(0, &month.month)?;
        let done =
            activity(month.listings_published, month.demands_published, month.deals_opened, month.deals_completed);
        for (column, (_, value)) in (1u16..).zip(done) {
            sheet.count(column, value)?;
        }
        sheet.contracts(5, &month.contracts)?;
        sheet.next();
    }
    sheet.text(0, &t("stat-all"))?;
    let totals =
        activity(report.listings_published, report.demands_published, report.deals_opened, report.deals_completed);
    for (column, (_, value)) in (1u16..).zip(totals) {
        sheet.count(column, value)?;
    }
    sheet.contracts(5, &report.contracts)?;

    let mut sheet = Sheet { sheet: workbook.add_worksheet(), row: 0, yuan: &yuan, heading: &heading };
    sheet.sheet.set_name(t("stat-sheet-prefecture"))?;
    sheet.headings(
        &[
            vec![t("stat-prefecture-code"), t("stat-prefecture"), t("stat-deals-opened"), t("stat-deals-completed")],
            contract_headings.to_vec(),
        ]
        .concat(),
    )?;
    for place in &report.by_prefecture {
        sheet.text(0, &place.prefecture)?;
        sheet.text(1, &words.prefecture(&place.prefecture))?;
        sheet.count(2, place.deals_opened)?;
        sheet.count(3, place.deals_completed)?;
        sheet.contracts(4, &place.contracts)?;
        sheet.next();
    }

    let mut sheet = Sheet { sheet: workbook.add_worksheet(), row: 0, yuan: &yuan, heading: &heading };
    sheet.sheet.set_name(t("stat-sheet-subsidies"))?;
    sheet.headings(
        &[
            "stat-program-id",
            "stat-program",
            "stat-approved-claims",
            "stat-approved-amount",
            "stat-awarded-claims",
            "stat-awarded-amount",
            "stat-paid-claims",
            "stat-paid-amount",
        ]
        .map(t),
    )?;
    for program in &report.subsidies {
        sheet.text(0, &program.program_id)?;
        sheet.text(1, program.program_name.as_deref().unwrap_or_default())?;
        sheet.count(2, program.approved_claims)?;
        sheet.yuan(3, program.approved_amount_fen)?;
        sheet.count(4, program.awarded_claims)?;
        sheet.yuan(5, program.awarded_amount_fen)?;
        sheet.count(6, program.paid_claims)?;
        sheet.yuan(7, program.paid_amount_fen)?;
        sheet.next();
    }

    workbook.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CategoryFigures, MonthFigures, PrefectureFigures, ProgramFigures};

    fn sample() -> MarketReport {
        let contracts = ContractFigures {
            count: 2,
            total_amount_fen: 1_234_567,
            technology_amount_fen: 1_000_000,
            non_technical_amount_fen: 234_567,
        };
        MarketReport {
            from: "2026-01-01".parse().expect("date"),
            to: "2026-02-28".parse().expect("date"),
            region: Some("6301".into()),
            listings_published: 3,
            demands_published: 1,
            deals_opened: 4,
            deals_completed: 1,
            contracts,
            by_category: ContractCategory::ALL
                .iter()
                .map(|&category| CategoryFigures {
                    category,
                    contracts: if category == ContractCategory::License { contracts } else { Default::default() },
                })
                .collect(),
            by_month: vec![
                MonthFigures { month: "2026-01".into(), listings_published: 3, ..Default::default() },
                MonthFigures { month: "2026-02".into(), contracts, ..Default::default() },
            ],
            by_prefecture: vec![PrefectureFigures { prefecture: "6301".into(), contracts, ..Default::default() }],
            subsidies: vec![ProgramFigures { program_id: "qinghai".into(), paid_claims: 1, ..Default::default() }],
        }
    }

    #[test]
    fn the_csv_has_one_figure_a_row_with_amounts_in_fen() {
        let text = String::from_utf8(csv(&sample()).expect("csv")).expect("utf-8");
        let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "section,key,figure,value");
        assert!(lines.contains(&"scope,,region,6301"));
        assert!(lines.contains(&"total,,total_amount_fen,1234567"));
        assert!(lines.contains(&"category,license,non_technical_amount_fen,234567"));
        assert!(lines.contains(&"category,development,contracts_registered,0"));
        assert!(lines.contains(&"month,2026-01,listings_published,3"));
        assert!(lines.contains(&"prefecture,6301,technology_amount_fen,1000000"));
        assert!(lines.contains(&"subsidy,qinghai,paid_claims,1"));
        // 4 header/scope rows, 8 totals, 5 categories × 4, 2 months × 8,
        // 1 prefecture × 6, 1 program × 6.
        assert_eq!(lines.len(), 4 + 8 + 20 + 16 + 6 + 6);
    }

    #[test]
    fn every_caption_key_is_listed() {
        // A caption asked for but missing from CAPTIONS would be missing
        // from the catalogue test too.
        struct Strict;
        impl Words for Strict {
            fn caption(&self, key: &str) -> String {
                assert!(CAPTIONS.contains(&key), "{key} is not in CAPTIONS");
                key.to_string()
            }
            fn category(&self, category: ContractCategory) -> String {
                category.to_string()
            }
            fn prefecture(&self, code: &str) -> String {
                code.to_string()
            }
        }
        workbook(&sample(), &Strict).expect("workbook");
    }
}

//! `/console/statistics`: the market's figures for a period and region, the
//! numbers a province reports upward — as charts drawn on the server, each
//! with its table, and as CSV and Excel downloads. Every figure is the
//! statistics service's (`techtrade_statistics::report`, which also
//! answers `GET /api/v1/statistics`); this page only presents them.

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use techtrade_domain::ContractCategory;
use techtrade_statistics::export::{self, Words};
use techtrade_statistics::{ContractFigures, MarketReport, StatisticsQuery};
use techtrade_subsidy::Programs;
use techtrade_web::{ApiError, AppState, CurrentUser, ErrorCode};

use super::Official;
use super::charts::{BarChart, Colour, Layout, Series};
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;

/// The period and region as the form holds them (what was typed is shown
/// again when it is refused).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Asked {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    region: String,
}

impl Asked {
    /// The service's query; a day that is not a date is refused on its field.
    fn query(&self) -> Result<StatisticsQuery, ApiError> {
        let day = |field: &str, text: &str| -> Result<Option<NaiveDate>, ApiError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse().map(Some).map_err(|_| {
                ApiError::new(ErrorCode::InvalidQuery, format!("{field}: not a date")).with_field(
                    field,
                    "bad_date",
                    "a date like 2026-01-31",
                )
            })
        };
        Ok(StatisticsQuery {
            from: day("from", &self.from)?,
            to: day("to", &self.to)?,
            region: Some(self.region.clone()).filter(|r| !r.trim().is_empty()),
        })
    }

    /// The same period and region as a query string (for the downloads).
    fn query_string(&self, report: &MarketReport) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("from", &report.from.to_string()).append_pair("to", &report.to.to_string());
        if let Some(region) = &report.region {
            query.append_pair("region", region);
        }
        query.finish()
    }
}

/// A chart drawn, and its legend: (series name, colour).
struct Chart {
    id: &'static str,
    svg: String,
    legend: Vec<(String, &'static str)>,
}

#[derive(Template)]
#[template(path = "console_statistics.html")]
struct StatisticsPage {
    ctx: Ctx,
    asked: Asked,
    /// Every region that can be chosen: province and prefecture codes.
    regions: Vec<String>,
    report: Option<MarketReport>,
    charts: Vec<Chart>,
    downloads: String,
    errors: FormErrors,
}

impl StatisticsPage {
    /// The chart `id`; none when it has no rows to draw.
    fn chart_of(&self, id: &str) -> Option<&Chart> {
        self.charts.iter().find(|c| c.id == id)
    }

    fn region_name(&self, code: &str) -> String {
        prefix_name(&self.ctx, code)
    }

    /// The period's fields: (name, caption key, value shown) — the
    /// period reported, or what was typed when it was refused.
    fn period_fields(&self) -> [(&'static str, &'static str, String); 2] {
        let shown =
            |typed: &str, reported: Option<NaiveDate>| reported.map_or_else(|| typed.to_string(), |d| d.to_string());
        [
            ("from", "stat-period-from", shown(&self.asked.from, self.report.as_ref().map(|r| r.from))),
            ("to", "stat-period-to", shown(&self.asked.to, self.report.as_ref().map(|r| r.to))),
        ]
    }

    fn category(&self, category: &ContractCategory) -> String {
        self.ctx.label("contract-category", category.as_str())
    }
}

/// A region prefix's name (`6301`: 青海省 西宁市).
fn prefix_name(ctx: &Ctx, code: &str) -> String {
    ctx.region(&format!("{code:0<6}"))
}

/// Fen as 万元 for a chart's bars (the tables keep the fen).
fn wan(fen: i64) -> f64 {
    fen as f64 / 1_000_000.0
}

fn count(n: i64) -> f64 {
    n as f64
}

/// A chart's series named from the catalogue.
fn series(ctx: &Ctx, key: &str, colour: Colour, values: Vec<f64>) -> Series {
    Series { name: ctx.t(key), colour, values }
}

/// Technology and non-technical amounts of some contract figures, stacked.
fn amounts(ctx: &Ctx, figures: &[&ContractFigures]) -> Vec<Series> {
    vec![
        series(
            ctx,
            "stat-technology-amount",
            Colour::Blue,
            figures.iter().map(|f| wan(f.technology_amount_fen)).collect(),
        ),
        series(
            ctx,
            "stat-non-technical-amount",
            Colour::Orange,
            figures.iter().map(|f| wan(f.non_technical_amount_fen)).collect(),
        ),
    ]
}

fn charts(ctx: &Ctx, report: &MarketReport) -> Result<Vec<Chart>, ApiError> {
    // Within one year a month is its number (`03`); across years `2025-03`.
    let one_year = report.from.year() == report.to.year();
    let months: Vec<String> = report
        .by_month
        .iter()
        .map(|m| if one_year { m.month.get(5..).unwrap_or(&m.month).to_string() } else { m.month.clone() })
        .collect();
    let wan_unit = ctx.t("stat-unit-wan");
    let count_unit = ctx.t("stat-unit-count");
    let by_month: Vec<&ContractFigures> = report.by_month.iter().map(|m| &m.contracts).collect();
    let by_category: Vec<&ContractFigures> = report.by_category.iter().map(|c| &c.contracts).collect();
    let by_prefecture: Vec<&ContractFigures> = report.by_prefecture.iter().map(|p| &p.contracts).collect();
    let specs = [
        (
            "chart-category",
            true,
            BarChart {
                name: ctx.t("stat-chart-category"),
                unit: wan_unit.clone(),
                labels: report
                    .by_category
                    .iter()
                    .map(|c| ctx.label("contract-category", c.category.as_str()))
                    .collect(),
                series: amounts(ctx, &by_category),
                layout: Layout::Stacked,
                counts: false,
            },
        ),
        (
            "chart-month-amounts",
            false,
            BarChart {
                name: ctx.t("stat-chart-month-amounts"),
                unit: wan_unit.clone(),
                labels: months.clone(),
                series: amounts(ctx, &by_month),
                layout: Layout::Stacked,
                counts: false,
            },
        ),
        (
            "chart-month-deals",
            false,
            BarChart {
                name: ctx.t("stat-chart-month-deals"),
                unit: count_unit.clone(),
                labels: months.clone(),
                series: vec![
                    series(
                        ctx,
                        "stat-deals-opened",
                        Colour::Grey,
                        report.by_month.iter().map(|m| count(m.deals_opened)).collect(),
                    ),
                    series(
                        ctx,
                        "stat-contracts-registered",
                        Colour::Blue,
                        report.by_month.iter().map(|m| count(m.contracts.count)).collect(),
                    ),
                    series(
                        ctx,
                        "stat-deals-completed",
                        Colour::Green,
                        report.by_month.iter().map(|m| count(m.deals_completed)).collect(),
                    ),
                ],
                layout: Layout::Grouped,
                counts: true,
            },
        ),
        (
            "chart-month-published",
            false,
            BarChart {
                name: ctx.t("stat-chart-month-published"),
                unit: count_unit,
                labels: months,
                series: vec![
                    series(
                        ctx,
                        "stat-listings-published",
                        Colour::Blue,
                        report.by_month.iter().map(|m| count(m.listings_published)).collect(),
                    ),
                    series(
                        ctx,
                        "stat-demands-published",
                        Colour::Orange,
                        report.by_month.iter().map(|m| count(m.demands_published)).collect(),
                    ),
                ],
                layout: Layout::Grouped,
                counts: true,
            },
        ),
        (
            "chart-prefecture",
            true,
            BarChart {
                name: ctx.t("stat-chart-prefecture"),
                unit: wan_unit.clone(),
                labels: report.by_prefecture.iter().map(|p| short_name(&prefix_name(ctx, &p.prefecture))).collect(),
                series: amounts(ctx, &by_prefecture),
                layout: Layout::Stacked,
                counts: false,
            },
        ),
        (
            "chart-subsidies",
            true,
            BarChart {
                name: ctx.t("stat-chart-subsidies"),
                unit: wan_unit,
                labels: report
                    .subsidies
                    .iter()
                    .map(|p| p.program_name.clone().unwrap_or_else(|| p.program_id.clone()))
                    .collect(),
                series: vec![
                    series(
                        ctx,
                        "stat-approved-amount",
                        Colour::Grey,
                        report.subsidies.iter().map(|p| wan(p.approved_amount_fen)).collect(),
                    ),
                    series(
                        ctx,
                        "stat-awarded-amount",
                        Colour::Blue,
                        report.subsidies.iter().map(|p| wan(p.awarded_amount_fen)).collect(),
                    ),
                    series(
                        ctx,
                        "stat-paid-amount",
                        Colour::Green,
                        report.subsidies.iter().map(|p| wan(p.paid_amount_fen)).collect(),
                    ),
                ],
                layout: Layout::Grouped,
                counts: false,
            },
        ),
    ];
    specs
        .into_iter()
        // A breakdown with no rows has a table that says so, and no chart.
        .filter(|(_, _, chart)| !chart.labels.is_empty())
        .map(|(id, across, chart)| Ok(Chart { id, svg: chart.svg(across)?, legend: chart.legend() }))
        .collect()
}

/// A prefecture's own name, without its province (`西宁市`).
fn short_name(name: &str) -> String {
    name.rsplit(' ').next().unwrap_or(name).to_string()
}

/// The report asked for, for the page and the downloads alike.
async fn asked_report(
    state: &AppState,
    programs: &Programs,
    user: &CurrentUser,
    asked: &Asked,
) -> Result<MarketReport, ApiError> {
    techtrade_statistics::report(state, user, programs, asked.query()?).await
}

/// `GET /console/statistics[?from=&to=&region=]`.
pub async fn show(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    visitor: Visitor,
    Official(user): Official,
    Query(asked): Query<Asked>,
) -> Response {
    let ctx = Ctx::new(&visitor);
    let regions = match techtrade_statistics::regions(&state).await {
        Ok(regions) => regions,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let mut refusal = None;
    let mut charts_drawn = Vec::new();
    let report = match asked_report(&state, &programs, &user, &asked).await {
        Ok(report) => {
            match charts(&ctx, &report) {
                Ok(drawn) => charts_drawn = drawn,
                Err(error) => return page::error_page(&visitor, &error),
            }
            Some(report)
        }
        Err(error) => {
            refusal = Some(error);
            None
        }
    };
    let (status, errors) = match page::outcome(&visitor, refusal.as_ref(), |e| FormErrors::from_error(visitor.lang, e))
    {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let downloads = report.as_ref().map(|r| asked.query_string(r)).unwrap_or_default();
    let page = StatisticsPage { ctx, asked, regions, report, charts: charts_drawn, downloads, errors };
    page::render(&visitor, status, &page)
}

/// The workbook's words, from the visitor's catalogue.
struct CatalogueWords<'a>(&'a Ctx);

impl Words for CatalogueWords<'_> {
    fn caption(&self, key: &str) -> String {
        self.0.t(key)
    }

    fn category(&self, category: ContractCategory) -> String {
        self.0.label("contract-category", category.as_str())
    }

    fn prefecture(&self, code: &str) -> String {
        prefix_name(self.0, code)
    }
}

/// A download of the report, named by its period.
fn download(report: &MarketReport, extension: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    let name = format!("techtrade-statistics-{}-{}.{extension}", report.from, report.to);
    techtrade_web::download::attachment(&name, content_type, bytes)
}

/// `GET /console/statistics/export.csv[?from=&to=&region=]`.
pub async fn export_csv(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    visitor: Visitor,
    Official(user): Official,
    Query(asked): Query<Asked>,
) -> Response {
    let file = asked_report(&state, &programs, &user, &asked)
        .await
        .and_then(|report| export::csv(&report).map(|bytes| (report, bytes)));
    match file {
        Ok((report, bytes)) => download(&report, "csv", "text/csv; charset=utf-8", bytes),
        Err(error) => page::error_page(&visitor, &error),
    }
}

/// `GET /console/statistics/export.xlsx[?from=&to=&region=]`: headings in
/// the visitor's language.
pub async fn export_xlsx(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    visitor: Visitor,
    Official(user): Official,
    Query(asked): Query<Asked>,
) -> Response {
    let ctx = Ctx::new(&visitor);
    let file = asked_report(&state, &programs, &user, &asked)
        .await
        .and_then(|report| export::workbook(&report, &CatalogueWords(&ctx)).map(|bytes| (report, bytes)));
    match file {
        Ok((report, bytes)) => {
            download(&report, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", bytes)
        }
        Err(error) => page::error_page(&visitor, &error),
    }
}

#[cfg(test)]
mod tests {
    use crate::Lang;
    use crate::i18n;

    #[test]
    fn the_workbook_has_its_words_in_both_languages() {
        for lang in [Lang::Zh, Lang::En] {
            for key in techtrade_statistics::export::CAPTIONS {
                assert!(i18n::has(lang, key), "{key} ({lang:?})");
            }
        }
    }
}

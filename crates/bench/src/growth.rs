//! `--growth 10000,100000,1000000`: the same market at several sizes, to
//! show how cost grows toward a national market — generation, indexing,
//! the index's size, search and read latency, throughput and memory — as
//! a Markdown table and an SVG chart of each cost relative to the
//! smallest market.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use plotters::prelude::*;

use crate::drive::Figures;

/// The operations a growth step runs.
pub const OPERATIONS: [&str; 4] = ["healthz", "get_listing", "search_text", "search_browse"];

/// One market size on one backend.
pub struct Step {
    pub listings: usize,
    pub backend: String,
    pub generation: Duration,
    pub reindex: Duration,
    pub index_bytes: u64,
    pub figures: Vec<Figures>,
    pub peak_rss: u64,
}

impl Step {
    fn figure(&self, operation: &str) -> Option<&Figures> {
        self.figures.iter().find(|f| f.operation == operation)
    }
}

/// The size of everything under `dir`, in bytes.
pub fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => size_of(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// The table: one row per size and backend.
pub fn table(steps: &[Step]) -> String {
    let mut out = String::from(
        "| listings | backend | generation s | reindex s | index MB | search_text p50 / p99 ms | \
         search_browse p50 / p99 ms | get_listing req/s (÷ healthz) | peak RSS MB | load |\n\
         |---:|---|---:|---:|---:|---|---|---|---:|---:|\n",
    );
    for step in steps {
        let latency = |op: &str| step.figure(op).map_or("–".into(), |f| format!("{} / {}", ms(f.p50), ms(f.p99)));
        let reads = match (step.figure("get_listing"), step.figure("healthz")) {
            (Some(get), Some(health)) => {
                format!("{:.0} ({:.2}×)", get.throughput(), get.throughput() / health.throughput().max(1e-9))
            }
            _ => "–".into(),
        };
        let load = step.figures.iter().map(|f| f.load).fold(0.0, f64::max);
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {} | {} | {} | {:.0} | {:.2} |\n",
            step.listings,
            step.backend,
            step.generation.as_secs_f64(),
            step.reindex.as_secs_f64(),
            step.index_bytes as f64 / 1e6,
            latency("search_text"),
            latency("search_browse"),
            reads,
            step.peak_rss as f64 / 1e6,
            load,
        ));
    }
    out
}

/// A step's value of one measure, when it has one.
type Measure = fn(&Step) -> Option<f64>;

/// The measures the chart follows, each as a cost (bigger is worse).
fn measures() -> Vec<(&'static str, Measure)> {
    vec![
        ("reindex time", |s| Some(s.reindex.as_secs_f64())),
        ("index size", |s| Some(s.index_bytes as f64)),
        ("search_text p99", |s| s.figure("search_text").map(|f| f.p99.as_secs_f64())),
        ("search_browse p99", |s| s.figure("search_browse").map(|f| f.p99.as_secs_f64())),
        ("time per get_listing", |s| s.figure("get_listing").map(|f| 1.0 / f.throughput().max(1e-9))),
        ("peak RSS", |s| Some(s.peak_rss as f64)),
    ]
}

/// Draws each measure of `backend`'s steps divided by its value at the
/// smallest size, on log–log axes, with the linear reference.
pub fn chart(steps: &[Step], backend: &str, path: &Path) -> Result<()> {
    let mut steps: Vec<&Step> = steps.iter().filter(|s| s.backend == backend).collect();
    steps.sort_by_key(|s| s.listings);
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Ok(());
    };
    let (x0, x1) = (first.listings as f64, last.listings.max(first.listings + 1) as f64);
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (name, measure) in measures() {
        let Some(base) = measure(first).filter(|b| *b > 0.0) else {
            continue;
        };
        let points = steps.iter().filter_map(|s| measure(s).map(|v| (s.listings as f64, v / base))).collect();
        series.push((name.to_string(), points));
    }
    series.push((
        "linear (× listings)".into(),
        steps.iter().map(|s| (s.listings as f64, s.listings as f64 / x0)).collect(),
    ));
    let top = series.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y)).fold(1.0, f64::max) * 1.5;
    let bottom = series.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y)).fold(1.0, f64::min) / 1.5;

    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!("techtrade-bench growth ({backend}): cost relative to {} listings", first.listings);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((x0..x1).log_scale(), (bottom..top).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("published listings")
        .y_desc("× the smallest market")
        .x_label_formatter(&|x| format!("{:.0}k", x / 1e3))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;
    for (i, (name, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let style = if name.starts_with("linear") { BLACK.mix(0.4).stroke_width(1) } else { color.stroke_width(2) };
        chart
            .draw_series(LineSeries::new(points, style))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn step(listings: usize, p99_ms: u64) -> Step {
        let times = vec![Duration::from_millis(1), Duration::from_millis(p99_ms)];
        let figures = vec![
            crate::drive::figures("search_text", "sqlite", times.clone(), vec![], Duration::from_secs(1)),
            crate::drive::figures("healthz", "sqlite", times.repeat(10), vec![], Duration::from_secs(1)),
            crate::drive::figures("get_listing", "sqlite", times, vec![], Duration::from_secs(1)),
        ];
        Step {
            listings,
            backend: "sqlite".into(),
            generation: Duration::from_secs(1),
            reindex: Duration::from_secs(listings as u64 / 1000),
            index_bytes: listings as u64 * 400,
            figures,
            peak_rss: 200_000_000,
        }
    }

    #[test]
    fn the_table_has_a_row_per_step_and_the_chart_a_line_per_measure() {
        let steps = [step(10_000, 4), step(1_000_000, 120)];
        let table = table(&steps);
        let row = table.lines().find(|l| l.starts_with("| 1000000 |")).unwrap();
        assert!(row.starts_with("| 1000000 | sqlite | 1.0 | 1000.0 | 400 |"), "{row}");
        assert!(row.contains("/ 120.00 | – | 2 (0.10×) | 200 |"), "{row}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growth.svg");
        chart(&steps, "sqlite", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for label in ["reindex time", "index size", "search_text p99", "time per get_listing", "peak RSS", "linear"] {
            assert!(svg.contains(label), "{label} missing");
        }
        assert!(!svg.contains("search_browse p99"), "no figure, no line");
    }
}

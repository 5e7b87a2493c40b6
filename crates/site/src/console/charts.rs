//! The statistics page's bar charts, drawn on the server as SVG by plotters:
//! they need no JavaScript, scale with the page, and carry a name for
//! screen readers (`role="img"`), whose users read the table beside each
//! chart. Months run left to right; categories, prefectures and programs,
//! whose names are long, are bars across with their names on the left. The
//! legend is the page's (HTML), so that it never covers a bar.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use techtrade_web::ApiError;

/// A series' colour: the site's (site.css has a `.swatch-<name>` for each,
/// for the legend), distinct also in greyscale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Blue,
    Orange,
    Green,
    Grey,
}

impl Colour {
    fn rgb(self) -> RGBColor {
        match self {
            Self::Blue => RGBColor(0x0b, 0x53, 0x94),
            Self::Orange => RGBColor(0xa3, 0x37, 0x0f),
            Self::Green => RGBColor(0x2a, 0x7f, 0x62),
            Self::Grey => RGBColor(0x8a, 0x96, 0xa3),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Orange => "orange",
            Self::Green => "green",
            Self::Grey => "grey",
        }
    }
}

const WIDTH: u32 = 760;
const FONT: &str = "sans-serif";
/// Large enough to read when a chart is shown at half its width.
const TEXT: u32 = 18;

/// One set of bars: what it counts, its colour, a value per label.
pub struct Series {
    pub name: String,
    pub colour: Colour,
    pub values: Vec<f64>,
}

/// Whether a label's series stand on each other (parts of one whole) or
/// side by side (different things).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Stacked,
    Grouped,
}

/// A bar chart: its name for screen readers, the value axis's caption
/// (`万元`, `件`), a label per bar, and the series.
pub struct BarChart {
    pub name: String,
    pub unit: String,
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    pub layout: Layout,
    /// Counts: the value axis marks whole numbers only.
    pub counts: bool,
}

fn failed(error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("drawing a chart: {error}"))
}

impl BarChart {
    /// The largest bar (a stack's sum), with room above it; 1 when all
    /// are zero, so that an empty chart still has an axis.
    fn top(&self) -> f64 {
        let height = |i: usize| -> f64 {
            match self.layout {
                Layout::Stacked => self.series.iter().map(|s| s.values[i]).sum(),
                Layout::Grouped => self.series.iter().map(|s| s.values[i]).fold(0.0, f64::max),
            }
        };
        let top = (0..self.labels.len()).map(height).fold(0.0, f64::max);
        if top > 0.0 { top * 1.15 } else { 1.0 }
    }

    /// Where series `j`'s bar at label `i` starts and ends on the value
    /// axis, and which share of the label's band it takes (from, to in 0..1).
    fn bar(&self, i: usize, j: usize) -> ((f64, f64), (f64, f64)) {
        let value = self.series[j].values[i];
        match self.layout {
            Layout::Stacked => {
                let below: f64 = self.series[..j].iter().map(|s| s.values[i]).sum();
                ((below, below + value), (0.15, 0.85))
            }
            Layout::Grouped => {
                let width = 0.7 / self.series.len() as f64;
                ((0.0, value), (0.15 + width * j as f64, 0.15 + width * (j + 1) as f64))
            }
        }
    }

    /// The chart as an `<svg>` element, bars up from a time axis.
    pub fn columns(&self) -> Result<String, ApiError> {
        let count = self.labels.len().max(1);
        let height = 320;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(failed)?;
            let mut chart = ChartBuilder::on(&root)
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(72)
                .build_cartesian_2d((0..count).into_segmented(), 0.0..self.top())
                .map_err(failed)?;
            let labels = &self.labels;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(count.min(12))
                .x_label_formatter(&|at| match at {
                    SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .y_label_formatter(&|v| self.axis_number(*v))
                .y_desc(self.unit.as_str())
                .label_style((FONT, TEXT))
                .axis_desc_style((FONT, TEXT))
                .draw()
                .map_err(failed)?;
            // Each label's band in pixels, as the axis placed it.
            let bands: Vec<f64> = (0..self.labels.len())
                .map(|i| {
                    let from = chart.backend_coord(&(SegmentValue::Exact(i), 0.0)).0;
                    let to = chart.backend_coord(&(SegmentValue::Exact(i + 1), 0.0)).0;
                    f64::from((to - from).abs())
                })
                .collect();
            for (j, series) in self.series.iter().enumerate() {
                // A zero draws nothing (a bar of no height would be invalid SVG).
                let bars = (0..self.labels.len()).filter(|&i| series.values[i] > 0.0).map(|i| {
                    let ((low, high), (from, to)) = self.bar(i, j);
                    let mut bar = Rectangle::new(
                        [(SegmentValue::Exact(i), low), (SegmentValue::Exact(i + 1), high)],
                        series.colour.rgb().filled(),
                    );
                    bar.set_margin(0, 0, (bands[i] * from) as u32, (bands[i] * (1.0 - to)) as u32);
                    bar
                });
                chart.draw_series(bars).map_err(failed)?;
            }
            root.present().map_err(failed)?;
        }
        Ok(svg)
    }

    /// The chart as an `<svg>` element, bars across with the labels at the
    /// left, first label on top.
    pub fn rows(&self) -> Result<String, ApiError> {
        let count = self.labels.len().max(1);
        let height = 90 + 40 * count as u32;
        let widest = self.labels.iter().map(|l| text_width(l, TEXT)).max().unwrap_or(0);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(failed)?;
            let mut chart = ChartBuilder::on(&root)
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size((widest + 16).clamp(60, 300))
                .build_cartesian_2d(0.0..self.top(), (0..count).into_segmented())
                .map_err(failed)?;
            let labels = &self.labels;
            // Segment 0 is at the bottom: the first label takes the top one.
            let label_at = |i: usize| count - 1 - i;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(count)
                .y_label_formatter(&|at| match at {
                    SegmentValue::CenterOf(i) if *i < count => labels.get(label_at(*i)).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .x_label_formatter(&|v| self.axis_number(*v))
                .x_labels(6)
                .x_desc(self.unit.as_str())
                .label_style((FONT, TEXT))
                .axis_desc_style((FONT, TEXT))
                .draw()
                .map_err(failed)?;
            let bands: Vec<f64> = (0..self.labels.len())
                .map(|i| {
                    let at = label_at(i);
                    let from = chart.backend_coord(&(0.0, SegmentValue::Exact(at))).1;
                    let to = chart.backend_coord(&(0.0, SegmentValue::Exact(at + 1))).1;
                    f64::from((to - from).abs())
                })
                .collect();
            for (j, series) in self.series.iter().enumerate() {
                // A zero draws nothing (a bar of no height would be invalid SVG).
                let bars = (0..self.labels.len()).filter(|&i| series.values[i] > 0.0).map(|i| {
                    let ((low, high), (from, to)) = self.bar(i, j);
                    let at = label_at(i);
                    let mut bar = Rectangle::new(
                        [(low, SegmentValue::Exact(at + 1)), (high, SegmentValue::Exact(at))],
                        series.colour.rgb().filled(),
                    );
                    bar.set_margin((bands[i] * from) as u32, (bands[i] * (1.0 - to)) as u32, 0, 0);
                    bar
                });
                chart.draw_series(bars).map_err(failed)?;
            }
            root.present().map_err(failed)?;
        }
        Ok(svg)
    }

    /// The series' names and colours, for the legend the page shows under
    /// the chart, where it never covers a bar.
    pub fn legend(&self) -> Vec<(String, &'static str)> {
        self.series.iter().map(|s| (s.name.clone(), s.colour.name())).collect()
    }

    /// The chart ready for the page: named for screen readers, scaling to
    /// the width it is given.
    pub fn svg(&self, across: bool) -> Result<String, ApiError> {
        let svg = if across { self.rows()? } else { self.columns()? };
        let name = escape(&self.name);
        Ok(svg.replacen("<svg ", &format!("<svg role=\"img\" aria-label=\"{name}\" class=\"chart\" "), 1))
    }
}

impl BarChart {
    /// A value-axis mark: whole numbers plainly, others to one decimal;
    /// none between whole numbers on a chart of counts.
    fn axis_number(&self, value: f64) -> String {
        let whole = value.fract().abs() < 1e-9;
        match (whole, self.counts) {
            (true, _) => format!("{value:.0}"),
            (false, true) => String::new(),
            (false, false) => format!("{value:.1}"),
        }
    }
}

/// About how wide a label is drawn, in pixels: CJK characters are square,
/// others about half as wide.
fn text_width(text: &str, size: u32) -> u32 {
    text.chars().map(|c| if c.is_ascii() { size * 6 / 10 } else { size }).sum()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(layout: Layout, values: [[f64; 3]; 2]) -> BarChart {
        BarChart {
            name: "成交额 <按月>".into(),
            unit: "万元".into(),
            labels: vec!["2026-01".into(), "2026-02".into(), "海西蒙古族藏族自治州".into()],
            series: vec![
                Series { name: "技术交易额".into(), colour: Colour::Blue, values: values[0].to_vec() },
                Series { name: "非技术性款项".into(), colour: Colour::Orange, values: values[1].to_vec() },
            ],
            layout,
            counts: false,
        }
    }

    #[test]
    fn stacked_bars_stand_on_each_other_and_grouped_ones_side_by_side() {
        let stacked = chart(Layout::Stacked, [[10.0, 0.0, 4.0], [5.0, 2.0, 0.0]]);
        assert_eq!(stacked.bar(0, 1).0, (10.0, 15.0));
        assert_eq!(stacked.bar(0, 1).1, (0.15, 0.85));
        assert!((stacked.top() - 15.0 * 1.15).abs() < 1e-9);
        let grouped = chart(Layout::Grouped, [[10.0, 0.0, 4.0], [5.0, 2.0, 0.0]]);
        assert_eq!(grouped.bar(0, 1).0, (0.0, 5.0));
        let ((_, _), (from, to)) = grouped.bar(0, 1);
        assert!((from - 0.5).abs() < 1e-9 && (to - 0.85).abs() < 1e-9);
        assert!((grouped.top() - 10.0 * 1.15).abs() < 1e-9);
        assert_eq!(chart(Layout::Grouped, [[0.0; 3]; 2]).top(), 1.0, "an empty chart keeps an axis");
    }

    #[test]
    fn the_svg_is_named_escaped_and_holds_its_labels_and_bars() {
        for across in [false, true] {
            let svg = chart(Layout::Stacked, [[10.0, 0.0, 4.0], [5.0, 2.0, 0.0]]).svg(across).expect("drawn");
            assert!(svg.starts_with("<svg role=\"img\" aria-label=\"成交额 &lt;按月&gt;\" class=\"chart\" "), "{svg}");
            assert!(svg.contains("海西蒙古族藏族自治州") && svg.contains("万元"));
            // Four bars with a value (zeros draw nothing visible) in the
            // series' colours.
            assert!(svg.matches("fill=\"#0B5394\"").count() >= 2, "{svg}");
            assert!(svg.matches("fill=\"#A3370F\"").count() >= 2, "{svg}");
            assert!(svg.trim_end().ends_with("</svg>"));
        }
        let legend = chart(Layout::Grouped, [[0.0; 3]; 2]).legend();
        assert_eq!(legend[1], ("非技术性款项".to_string(), "orange"));
        let mut counts = chart(Layout::Grouped, [[1.0, 0.0, 0.0], [0.0; 3]]);
        assert_eq!((counts.axis_number(0.4), counts.axis_number(1.0)), ("0.4".to_string(), "1".to_string()));
        counts.counts = true;
        assert_eq!((counts.axis_number(0.4), counts.axis_number(1.0)), (String::new(), "1".to_string()));
    }
}

#[cfg(test)]
mod shapes {
    use super::*;

    /// Every `height="…"` and `width="…"` the SVG holds is zero or more
    /// (a negative one is invalid SVG; Chromium logs it).
    fn no_negative_sizes(svg: &str) -> Result<(), String> {
        for attribute in ["height=\"-", "width=\"-"] {
            if let Some(at) = svg.find(attribute) {
                return Err(svg[at.saturating_sub(200)..(at + 40).min(svg.len())].to_string());
            }
        }
        Ok(())
    }

    #[test]
    fn no_bar_has_a_negative_size() {
        for count in 1..=12 {
            for layout in [Layout::Stacked, Layout::Grouped] {
                for scale in [1e-9, 0.001, 1.0, 1e6] {
                    let values = |k: usize| (0..count).map(|i| ((i * 7 + k * 3) % 5) as f64 * scale).collect();
                    let chart = BarChart {
                        name: "x".into(),
                        unit: "u".into(),
                        labels: (0..count).map(|i| format!("label {i}")).collect(),
                        series: vec![
                            Series { name: "a".into(), colour: Colour::Blue, values: values(0) },
                            Series { name: "b".into(), colour: Colour::Orange, values: values(1) },
                            Series { name: "c".into(), colour: Colour::Grey, values: values(2) },
                        ],
                        layout,
                        counts: false,
                    };
                    for across in [false, true] {
                        let svg = chart.svg(across).expect("drawn");
                        if let Err(found) = no_negative_sizes(&svg) {
                            panic!("{count} labels, scale {scale}, across {across}: …{found}…");
                        }
                    }
                }
            }
        }
    }
}

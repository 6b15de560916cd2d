//! Plots drawn with plotters, delivered as PNG with a plain-text description.
//!
//! Text is drawn with a font compiled into the binary (DejaVu Sans via ab_glyph), so axis labels
//! appear on machines without any system fonts — CI containers, minimal student VMs.

use std::sync::Once;

use anyhow::{anyhow, Result};
use base64::Engine as _;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::table::format_float;
use super::Bundle;

const FONT: &str = "sans-serif";
const WIDTH: u32 = 800;
const HEIGHT: u32 = 450;
const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

fn register_embedded_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is compiled in and known to parse; a failure here is a build defect.
            plotters::style::register_font(FONT, style, bytes)
                .unwrap_or_else(|_| panic!("embedded font failed to load"));
        }
    });
}

/// One bar, optionally with an interval drawn as a whisker (e.g. a Wilson 95% CI).
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    /// `None` draws no bar and says "no data" (a strategy with no answers is not a 0% bar).
    pub value: Option<f64>,
    pub interval: Option<(f64, f64)>,
}

/// A named series of points; `line: false` draws markers only (e.g. measured data under a fit).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub line: bool,
}

#[derive(Debug, Clone)]
pub enum ChartKind {
    Bars(Vec<Bar>),
    Lines(Vec<Series>),
}

/// A chart description; [`render`] turns it into a bundle.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Fixed y range; computed from the data when absent.
    pub y_range: Option<(f64, f64)>,
    /// Labelled x positions (e.g. "1", "2", "3", "final"); empty: numbers chosen by plotters.
    pub x_ticks: Vec<(f64, String)>,
    pub kind: ChartKind,
}

/// Render a chart as `image/png` (base64) and a `text/plain` description.
///
/// No `image/svg+xml`: nbconvert's HTML exporter prefers SVG to PNG, and a submission whose plots
/// are inline SVG loses them in tools that strip `<svg>` (mail, some LMS viewers) and renders
/// fonts differently from the notebook. One raster, the same in JupyterLab, HTML and LaTeX/PDF.
pub fn render(chart: &Chart) -> Result<Bundle> {
    register_embedded_font();
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| anyhow!("drawing PNG: {e}"))?;
    }
    let png = encode_png(&rgb, WIDTH, HEIGHT)?;
    let text = describe(chart);
    let mut bundle = Bundle::default()
        .with(
            "image/png",
            base64::engine::general_purpose::STANDARD.encode(png),
        )
        .with("text/plain", text.clone());
    // nbconvert's HTML export writes this as the image's alt text (screen readers, and the
    // accessibility check it runs on every export).
    bundle.metadata.insert(
        "image/png".into(),
        serde_json::json!({ "alt": text.trim() }),
    );
    Ok(bundle)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// The text fallback: what a screen reader or a PDF export without images would show.
pub fn describe(chart: &Chart) -> String {
    let mut out = format!(
        "[plot] {} — x: {}, y: {}\n",
        chart.title, chart.x_label, chart.y_label
    );
    match &chart.kind {
        ChartKind::Bars(bars) => {
            for bar in bars {
                let value = bar.value.map_or_else(|| "no data".into(), format_float);
                out.push_str(&format!("  {}: {}", bar.label, value));
                if let Some((lo, hi)) = bar.interval {
                    out.push_str(&format!(" [{}, {}]", format_float(lo), format_float(hi)));
                }
                out.push('\n');
            }
        }
        ChartKind::Lines(series) => {
            for s in series {
                let pts: Vec<String> = s
                    .points
                    .iter()
                    .map(|(x, y)| format!("({}, {})", format_float(*x), format_float(*y)))
                    .collect();
                out.push_str(&format!("  {}: {}\n", s.name, pts.join(" ")));
            }
        }
    }
    out
}

fn data_y_range(chart: &Chart) -> (f64, f64) {
    if let Some(r) = chart.y_range {
        return r;
    }
    let ys: Vec<f64> = match &chart.kind {
        ChartKind::Bars(bars) => bars
            .iter()
            .flat_map(|b| {
                let v = b.value.unwrap_or(0.0);
                let (lo, hi) = b.interval.unwrap_or((v, v));
                [v, lo, hi, 0.0]
            })
            .collect(),
        ChartKind::Lines(series) => series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .collect(),
    };
    padded(&ys)
}

fn padded(values: &[f64]) -> (f64, f64) {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    (lo - 0.05 * span, hi + 0.05 * span)
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing plot: {e}")
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (y0, y1) = data_y_range(chart);
    match &chart.kind {
        ChartKind::Bars(bars) => draw_bars(root, chart, bars, (y0, y1)),
        ChartKind::Lines(series) => draw_lines(root, chart, series, (y0, y1)),
    }
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    bars: &[Bar],
    (y0, y1): (f64, f64),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let n = bars.len().max(1) as f64;
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, (FONT, 22))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..n - 0.5, y0..y1)
        .map_err(err)?;
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|y| format_float(*y))
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        // plotters draws ten light lines between labels by default; on an 800-px PNG they
        // merge into stripes behind the bars. One light line between labels reads better.
        .max_light_lines(1)
        .draw()
        .map_err(err)?;
    for (i, bar) in bars.iter().enumerate() {
        let x = i as f64;
        let color = PALETTE[i % PALETTE.len()];
        if let Some(value) = bar.value {
            ctx.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.35, 0.0_f64.max(y0)), (x + 0.35, value)],
                color.mix(0.75).filled(),
            )))
            .map_err(err)?;
        }
        if let Some((lo, hi)) = bar.interval {
            let whisker = BLACK.stroke_width(2);
            ctx.draw_series([
                PathElement::new(vec![(x, lo), (x, hi)], whisker),
                PathElement::new(vec![(x - 0.1, lo), (x + 0.1, lo)], whisker),
                PathElement::new(vec![(x - 0.1, hi), (x + 0.1, hi)], whisker),
            ])
            .map_err(err)?;
        }
        // The value above each bar, so a zero bar still says "0%" and a missing one "no data".
        let (vx, vy) = ctx.backend_coord(&(x, bar.value.unwrap_or(0.0).max(y0)));
        let value_style =
            TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        let shown = bar
            .value
            .map_or_else(|| "no data".into(), |v| format!("{:.0}%", v * 100.0));
        root.draw_text(&shown, &value_style, (vx + 14, vy - 4))
            .map_err(err)?;
        // Category labels are drawn in pixel space under the axis, centred on each bar.
        let (px, py) = ctx.backend_coord(&(x, y0));
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw_text(&bar.label, &style, (px, py + 6))
            .map_err(err)?;
    }
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    series: &[Series],
    (y0, y1): (f64, f64),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let (x0, x1) = if chart.x_ticks.is_empty() {
        padded(&xs)
    } else {
        let ticks: Vec<f64> = chart.x_ticks.iter().map(|t| t.0).collect();
        let (lo, hi) = padded(&[xs, ticks].concat());
        (
            lo.min(chart.x_ticks[0].0 - 0.3),
            hi.max(chart.x_ticks[chart.x_ticks.len() - 1].0 + 0.3),
        )
    };
    // The legend goes in a strip under the plot, so it never covers a line and the y axis can
    // end where the data must (a share ends at 100%).
    let legend_rows = series.len().div_ceil(3) as u32;
    let (plot_area, legend_area) = root.split_vertically(HEIGHT - 12 - 24 * legend_rows);
    let share = (y0, y1) == (0.0, 1.0);
    // A share's axis ends at 100%; a little room above it keeps a line at 100% visible.
    let y1 = if share { 1.03 } else { y1 };
    let y_format = |y: &f64| {
        if share && *y > 1.0 + 1e-9 {
            String::new()
        } else if share {
            format!("{:.0}%", 100.0 * y)
        } else {
            format_float(*y)
        }
    };
    let x_format = |x: &f64| format_float(*x);
    let mut ctx = ChartBuilder::on(&plot_area)
        .caption(&chart.title, (FONT, 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let mut mesh = ctx.configure_mesh();
    mesh.x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        // plotters draws ten light lines between labels by default; on an 800-px PNG they
        // merge into stripes behind the bars. One light line between labels reads better.
        .max_light_lines(1);
    if !chart.x_ticks.is_empty() {
        mesh.x_labels(0).disable_x_mesh();
    }
    mesh.draw().map_err(err)?;
    for (x, label) in &chart.x_ticks {
        let (px, py) = ctx.backend_coord(&(*x, y0));
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        plot_area
            .draw_text(label, &style, (px, py + 6))
            .map_err(err)?;
    }
    let width = WIDTH as i32 / 3;
    // Drawn last to first, so the first series (the one the chart is about) lies on top where
    // lines coincide, e.g. accuracy and agreement both at 100%.
    for (i, s) in series.iter().enumerate().rev() {
        let color = PALETTE[i % PALETTE.len()];
        if s.line {
            ctx.draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))
                .map_err(err)?;
        } else {
            ctx.draw_series(s.points.iter().map(|&p| Circle::new(p, 5, color.filled())))
                .map_err(err)?;
        }
    }
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let (x, y) = (16 + width * (i as i32 % 3), 6 + 24 * (i as i32 / 3) + 8);
        if s.line {
            legend_area
                .draw(&PathElement::new(
                    vec![(x, y), (x + 22, y)],
                    color.stroke_width(2),
                ))
                .map_err(err)?;
        } else {
            legend_area
                .draw(&Circle::new((x + 11, y), 5, color.filled()))
                .map_err(err)?;
        }
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        legend_area
            .draw_text(&s.name, &style, (x + 30, y))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars() -> Chart {
        Chart {
            title: "Refusal rate".into(),
            x_label: "strategy".into(),
            y_label: "refused".into(),
            y_range: Some((0.0, 1.0)),
            x_ticks: Vec::new(),
            kind: ChartKind::Bars(vec![
                Bar {
                    label: "direct".into(),
                    value: Some(1.0),
                    interval: Some((0.57, 1.0)),
                },
                Bar {
                    label: "poem".into(),
                    value: Some(0.2),
                    interval: Some((0.04, 0.62)),
                },
            ]),
        }
    }

    #[test]
    fn bar_chart_has_png_and_text() {
        let b = render(&bars()).unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b.text("image/png").unwrap())
            .unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // One raster only: nbconvert would pick an SVG over it for the HTML export.
        assert!(b.text("image/svg+xml").is_none());
        assert!(b.metadata["image/png"]["alt"]
            .as_str()
            .unwrap()
            .contains("poem"));
        assert!(b
            .text("text/plain")
            .unwrap()
            .contains("poem: 0.2 [0.04, 0.62]"));
    }

    #[test]
    fn labels_draw_pixels_without_system_fonts() {
        // Render a chart with and without a title: the title's glyphs must change pixels.
        let mut a = bars();
        let with_title = render(&a).unwrap();
        a.title = String::new();
        let without = render(&a).unwrap();
        assert_ne!(with_title.text("image/png"), without.text("image/png"));
    }

    #[test]
    fn line_chart_renders() {
        let chart = Chart {
            title: "fit".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            y_range: None,
            x_ticks: vec![(0.0, "start".into()), (1.0, "end".into())],
            kind: ChartKind::Lines(vec![
                Series {
                    name: "data".into(),
                    points: vec![(0.0, 0.0), (1.0, 1.0)],
                    line: false,
                },
                Series {
                    name: "model".into(),
                    points: vec![(0.0, 0.1), (1.0, 0.9)],
                    line: true,
                },
            ]),
        };
        let b = render(&chart).unwrap();
        assert!(b.text("image/png").is_some());
        assert!(b.text("text/plain").unwrap().contains("model"));
    }
}

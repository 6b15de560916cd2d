//! Tables: a polars `DataFrame` rendered as HTML, a markdown pipe table and plain text.
//!
//! polars formats frames for terminals only; the HTML and markdown renderings are ours, because
//! nbconvert's LaTeX/PDF path drops `text/html` and needs the markdown twin.

use polars::prelude::{AnyValue, DataFrame};

use super::markdown::{escape_html, escape_table_cell};
pub use super::number::format_float;
use super::Bundle;

/// Render a frame as a bundle with `text/html`, `text/markdown` and `text/plain`.
pub fn table_bundle(df: &DataFrame, caption: Option<&str>) -> Bundle {
    let (headers, rows) = cells(df);
    let mut md = String::new();
    let mut html = String::from("<table class=\"alignment-lab\">\n");
    if let Some(caption) = caption {
        md.push_str(caption);
        md.push_str("\n\n");
        html.push_str(&format!("<caption>{}</caption>\n", escape_html(caption)));
    }
    md.push_str(&markdown_table(&headers, &rows));
    html.push_str("<thead><tr>");
    for h in &headers {
        html.push_str(&format!("<th>{}</th>", escape_html(h)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for row in &rows {
        html.push_str("<tr>");
        for cell in row {
            html.push_str(&format!("<td>{}</td>", escape_html(cell)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>");
    let mut plain = plain_table(&headers, &rows);
    if let Some(caption) = caption {
        plain = format!("{caption}\n{plain}");
    }
    Bundle::default()
        .with("text/plain", plain)
        .with("text/html", html)
        .with("text/markdown", md)
}

/// A markdown pipe table.
pub fn markdown_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut md = String::new();
    md.push('|');
    for h in headers {
        md.push_str(&format!(" {} |", escape_table_cell(h)));
    }
    md.push_str("\n|");
    for _ in headers {
        md.push_str(" --- |");
    }
    md.push('\n');
    for row in rows {
        md.push('|');
        for cell in row {
            md.push_str(&format!(" {} |", escape_table_cell(cell)));
        }
        md.push('\n');
    }
    md
}

/// Aligned monospace columns; readable in a terminal and in nbconvert's text fallback.
pub fn plain_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(h.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(headers);
    out.push('\n');
    out.push_str(
        &widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    for row in rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

fn cells(df: &DataFrame) -> (Vec<String>, Vec<Vec<String>>) {
    let headers = df.columns().iter().map(|c| c.name().to_string()).collect();
    let rows = (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| c.get(i).map(|v| cell_text(&v)).unwrap_or_default())
                .collect()
        })
        .collect();
    (headers, rows)
}

/// How one value reads in a table: no quotes around strings, empty for null, floats short.
pub fn cell_text(value: &AnyValue<'_>) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::Float64(f) => format_float(*f),
        AnyValue::Float32(f) => format_float(f64::from(*f)),
        AnyValue::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
        other => other.str_value().into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn frame() -> DataFrame {
        DataFrame::new_infer_height(vec![
            Column::new("model".into(), ["qwen", "llama|3"]),
            Column::new("rate".into(), [0.5, 1.0 / 3.0]),
            Column::new("n".into(), [Some(5i64), None]),
        ])
        .unwrap()
    }

    #[test]
    fn renders_three_representations() {
        let b = table_bundle(&frame(), Some("Refusals"));
        let html = b.text("text/html").unwrap();
        assert!(html.contains("<th>model</th>"));
        assert!(html.contains("<td>0.333</td>"));
        assert!(html.contains("<caption>Refusals</caption>"));
        let md = b.text("text/markdown").unwrap();
        assert!(md.contains("| model | rate | n |"));
        assert!(md.contains("| llama\\|3 | 0.333 |  |"));
        let plain = b.text("text/plain").unwrap();
        assert!(plain.lines().nth(1).unwrap().starts_with("model"));
        assert!(plain.contains("qwen     0.5    5"));
    }

    #[test]
    fn floats_are_short() {
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(12.0), "12");
        assert_eq!(format_float(-0.0001), "0");
    }
}

//! Small markdown helpers. Model text is untrusted: anything placed inside HTML is escaped,
//! and anything placed inside a markdown table cell cannot break the table.

/// Escape text for inclusion in HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Make text safe for one cell of a markdown pipe table: no pipes, no line breaks.
pub fn escape_table_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// A collapsible block. The body is rendered as markdown by JupyterLab and nbconvert.
pub fn details(summary: &str, body_markdown: &str) -> String {
    format!(
        "<details><summary>{}</summary>\n\n{}\n\n</details>\n",
        escape_html(summary),
        body_markdown.trim_end()
    )
}

/// A fenced block that cannot be closed early by backticks inside the text.
pub fn fenced(text: &str, info: &str) -> String {
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    format!("{fence}{info}\n{}\n{fence}\n", text.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<b>&'\""), "&lt;b&gt;&amp;&#39;&quot;");
    }

    #[test]
    fn table_cells_cannot_break_rows() {
        assert_eq!(escape_table_cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn fence_outgrows_inner_backticks() {
        let f = fenced("x ```` y", "text");
        assert!(f.starts_with("`````text\n"));
        assert!(f.ends_with("`````\n"));
    }

    #[test]
    fn details_escapes_summary() {
        assert!(details("<x>", "body").contains("<summary>&lt;x&gt;</summary>"));
    }
}

//! A Rust cell's compile errors, as a student can read them: the line of *their* cell with the
//! error marked under it, the compiler's help, and nothing about the crate evcxr generates
//! around the cell (rustc's own rendering points at `src/lib.rs:96`, a file the student never
//! sees). evcxr maps each error's spans back to the cell; this draws them.

use evcxr::CompilationError;

/// One compiler message, reduced to what is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// "error", "warning".
    pub level: String,
    /// "E0308".
    pub code: Option<String>,
    pub message: String,
    /// Places in the cell, primary first.
    pub marks: Vec<Mark>,
    pub help: Vec<String>,
    /// rustc's own rendering, for an error with no place in the cell (generated code).
    pub rendered: String,
}

/// A marked stretch of one line of the cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// 1-based line of the cell.
    pub line: usize,
    pub text: String,
    /// 1-based columns, end exclusive (clamped to the line).
    pub start: usize,
    pub end: usize,
    pub label: String,
    pub primary: bool,
}

impl Diagnostic {
    pub fn from_evcxr(e: &CompilationError) -> Self {
        let mut marks: Vec<Mark> = e
            .spanned_messages()
            .iter()
            .filter_map(|m| {
                let span = m.span?;
                let text = m.lines.first()?.clone();
                let width = text.chars().count() + 1;
                let end = if span.end_line == span.start_line {
                    span.end_column
                } else {
                    width
                };
                let start = span.start_column.clamp(1, width);
                Some(Mark {
                    line: span.start_line,
                    start,
                    end: end.max(start + 1).min(width.max(start + 1)),
                    text,
                    label: m.label.clone(),
                    primary: m.is_primary,
                })
            })
            .collect();
        marks.sort_by_key(|m| (!m.primary, m.line, m.start));
        let mut help = e.help();
        if let Some(hint) = e.evcxr_extra_hint() {
            help.push(hint.to_string());
        }
        Self {
            level: e.level().to_string(),
            code: e.code().map(String::from),
            message: e.message(),
            marks,
            help,
            rendered: e.rendered(),
        }
    }

    /// The text shown in the notebook for this message.
    pub fn render(&self) -> String {
        let head = match &self.code {
            Some(code) => format!("{}[{code}]: {}", self.level, self.message),
            None => format!("{}: {}", self.level, self.message),
        };
        if self.marks.is_empty() {
            let rendered = self.rendered.trim_end();
            return if rendered.is_empty() {
                head
            } else {
                rendered.to_string()
            };
        }
        let number_width = self
            .marks
            .iter()
            .map(|m| m.line.to_string().len())
            .max()
            .unwrap_or(1);
        let pad = " ".repeat(number_width);
        let mut out = vec![head];
        for (i, mark) in self.marks.iter().enumerate() {
            if i == 0 {
                out.push(format!(
                    "{pad}--> line {}, column {} of this cell",
                    mark.line, mark.start
                ));
            }
            out.push(format!("{pad} |"));
            out.push(format!("{:>number_width$} | {}", mark.line, mark.text));
            let underline = if mark.primary { "^" } else { "-" };
            out.push(
                format!(
                    "{pad} | {}{} {}",
                    " ".repeat(mark.start - 1),
                    underline.repeat(mark.end - mark.start),
                    mark.label
                )
                .trim_end()
                .to_string(),
            );
        }
        for help in &self.help {
            out.push(format!(
                "{pad} = help: {}",
                help.replace('\n', "\n         ")
            ));
        }
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mismatched() -> Diagnostic {
        Diagnostic {
            level: "error".into(),
            code: Some("E0308".into()),
            message: "mismatched types".into(),
            marks: vec![
                Mark {
                    line: 2,
                    text: "let x: i32 = \"a\";".into(),
                    start: 14,
                    end: 17,
                    label: "expected `i32`, found `&str`".into(),
                    primary: true,
                },
                Mark {
                    line: 2,
                    text: "let x: i32 = \"a\";".into(),
                    start: 8,
                    end: 11,
                    label: "expected due to this".into(),
                    primary: false,
                },
            ],
            help: vec!["try using a conversion method: `.parse()`".into()],
            rendered: "error[E0308]: mismatched types\n --> src/lib.rs:96:14".into(),
        }
    }

    #[test]
    fn marks_the_students_line_not_the_generated_file() {
        let text = mismatched().render();
        assert_eq!(
            text,
            [
                "error[E0308]: mismatched types",
                " --> line 2, column 14 of this cell",
                "  |",
                "2 | let x: i32 = \"a\";",
                "  |              ^^^ expected `i32`, found `&str`",
                "  |",
                "2 | let x: i32 = \"a\";",
                "  |        --- expected due to this",
                "  = help: try using a conversion method: `.parse()`",
            ]
            .join("\n")
        );
        assert!(!text.contains("src/lib.rs"));
    }

    #[test]
    fn an_error_outside_the_cell_keeps_rustcs_text() {
        let mut d = mismatched();
        d.marks.clear();
        assert!(d
            .render()
            .starts_with("error[E0308]: mismatched types\n --> src/lib.rs"));
        d.rendered.clear();
        assert_eq!(d.render(), "error[E0308]: mismatched types");
    }
}

//! Grading debate answers the way a teacher reads them: find the final statement, read its main
//! value (the number attached to what was asked, or the accepted phrase), and compare it with the
//! reference. Known wrong answers grade wrong even when the right number or phrase also appears
//! in the explanation ("1 month (9 months ÷ 9 women)"); negated values do not count ("not back
//! to back"); a range or a choice between two answers is `unclear`, shown with its statement,
//! never silently right.
//!
//! Measured on `tests/fixtures/grading/` (development and held-out parts): see
//! `docs/measurement.md`.

pub mod numbers;
pub mod statement;

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use self::numbers::{mentions, singular, Mention};
pub use self::statement::{final_statement, fold, looks_cut_off, normalise, statements, Statement};
use super::crossing::{validate_plan, PlanError};

/// What a correct answer looks like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reference {
    /// A number, optionally with its unit ("hour"): "5 hours" and "300 minutes" are both 5.
    Number {
        value: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
        /// Nouns that are the question's objects, not its answer: "14 shirts", "9 women".
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        objects: Vec<String>,
        /// Known wrong answers, named as such in the grade.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        traps: Vec<f64>,
    },
    /// Correct when the final statement holds one of these phrases, not negated.
    Phrase {
        accepted: Vec<String>,
        /// Known wrong answers.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        traps: Vec<String>,
    },
    /// A valid wolf–goat–cabbage crossing plan, checked by [`super::crossing::validate_plan`].
    CrossingPlan,
}

impl Reference {
    /// The reference as a teacher would write it: "5050", "5 hours", "back to back".
    pub fn describe(&self) -> String {
        match self {
            Reference::Number { value, unit, .. } => {
                let v = format_value(*value);
                match unit {
                    Some(u) if *value == 1.0 => format!("{v} {u}"),
                    Some(u) => format!("{v} {u}s"),
                    None => v,
                }
            }
            Reference::Phrase { accepted, .. } => accepted.first().cloned().unwrap_or_default(),
            Reference::CrossingPlan => "a valid crossing plan".into(),
        }
    }
}

fn format_value(v: f64) -> String {
    crate::display::table::format_float(v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Correct,
    Wrong,
    Unclear,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Correct => "correct",
            Verdict::Wrong => "wrong",
            Verdict::Unclear => "unclear",
        }
    }

    /// ✓, ✗ or ?.
    pub fn mark(self) -> &'static str {
        match self {
            Verdict::Correct => "✓",
            Verdict::Wrong => "✗",
            Verdict::Unclear => "?",
        }
    }
}

/// What the grader read and decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// `None` for a question without a reference (only read, not graded).
    pub verdict: Option<Verdict>,
    /// The value the grader read, as a teacher would write it: "5 hours", "back to back",
    /// "valid plan (7 crossings)". `None` when it found none.
    pub read: Option<String>,
    /// The answer's equivalence class for votes: answers with the same value or the same accepted
    /// phrase share it, however they are worded.
    pub class: Option<String>,
    /// The final statement it read.
    pub statement: Option<String>,
    /// Why, when it is not plain: "trap answer", "a range: 5 or 10", the plan's first error.
    pub note: Option<String>,
    /// Set when a judge model settled an `unclear` grade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_by: Option<String>,
}

impl Grade {
    pub fn is_correct(&self) -> bool {
        self.verdict == Some(Verdict::Correct)
    }

    fn new(verdict: Option<Verdict>, statement: Option<String>) -> Self {
        Self {
            verdict,
            read: None,
            class: None,
            statement,
            note: None,
            settled_by: None,
        }
    }
}

/// Grade an answer against a reference; with no reference, only read its main value.
pub fn grade(text: &str, reference: Option<&Reference>) -> Grade {
    match reference {
        None => read_only(text),
        Some(Reference::Number {
            value,
            unit,
            objects,
            traps,
        }) => grade_number(text, *value, unit.as_deref(), objects, traps),
        Some(Reference::Phrase { accepted, traps }) => grade_phrase(text, accepted, traps),
        Some(Reference::CrossingPlan) => grade_plan(text),
    }
}

/// A number read from a statement, or two offered as alternatives.
enum Reading {
    Value(f64, String),
    Alternatives(Vec<f64>),
    Approximate(f64, String),
}

/// Hours per unit, for converting a value to the reference's unit.
fn in_unit(value: f64, from: &str, to: &str) -> Option<(f64, bool)> {
    let hours = |u: &str| -> Option<(f64, bool)> {
        Some(match u {
            "second" | "sec" => (1.0 / 3600.0, true),
            "minute" | "min" => (1.0 / 60.0, true),
            "hour" | "hr" | "h" => (1.0, true),
            "day" => (24.0, true),
            // Weeks and years against months are approximate (a month is not a whole number
            // of weeks): flagged, not graded.
            "week" => (24.0 * 7.0, false),
            "month" => (24.0 * 30.4375, true),
            "year" => (24.0 * 365.25, true),
            _ => return None,
        })
    };
    if from == to {
        return Some((value, true));
    }
    let (f, fe) = hours(from)?;
    let (t, te) = hours(to)?;
    let exact = fe && te && !(matches!(from, "year" | "week") ^ matches!(to, "year" | "week"));
    Some((value * f / t, exact || (from == "hour" && to == "minute")))
}

/// Two answers offered side by side: "either … or …", "depending on", "both work".
static HEDGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\beither\b.{0,100}\bor\b|\bdepend(?:s|ing)?\b|\bboth\b.{0,30}\b(?:work|valid|correct|possible|answers|interpretations|options|ways)\b|\bor\b.{0,60}\b(?:interpretation|interpreted|mathematically|biologically|strictly|loosely|literally|in theory|in practice)\b").unwrap()
});
static NOT_HEDGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:n't|\bnot|\bno matter|\bregardless)\s+(?:\w+\s+)?depend").unwrap()
});

fn is_hedge(statement: &str) -> bool {
    HEDGE.is_match(statement) && !NOT_HEDGE.is_match(statement)
}

/// The statement's main number: not in parentheses, not negated, not an operand of a
/// calculation (the result after "=" is), not followed by one of the question's objects.
fn read_number(statement: &str, unit: Option<&str>, objects: &[String]) -> Option<Reading> {
    let all = mentions(statement);
    let is_object = |m: &Mention| {
        !m.unit.is_empty()
            && objects
                .iter()
                .any(|o| singular(o) == m.unit || o == &m.unit)
    };
    let mut candidates: Vec<&Mention> = all
        .iter()
        .filter(|m| !m.in_parens && !m.negated && !is_object(m))
        .filter(|m| !m.operand || m.after_equals)
        .collect();
    if candidates.iter().any(|m| m.after_equals) {
        candidates.retain(|m| m.after_equals);
    }
    // With a unit, prefer the mentions that carry it (or a convertible one) over bare numbers.
    if let Some(u) = unit {
        let with_unit: Vec<&Mention> = candidates
            .iter()
            .copied()
            .filter(|m| in_unit(1.0, &m.unit, u).is_some())
            .collect();
        if !with_unit.is_empty() {
            candidates = with_unit;
        } else {
            // Bare numbers only ("Answer: 5"); a number with some other noun is not the answer.
            candidates.retain(|m| {
                m.unit.is_empty()
                    || !m.unit.chars().all(char::is_alphabetic)
                    || is_filler_word(&m.unit)
            });
        }
    }
    let first = *candidates.first()?;
    let convert = |m: &Mention| -> (f64, bool) {
        match unit {
            Some(u) => in_unit(m.value, &m.unit, u).unwrap_or((m.value, true)),
            None => (m.value, true),
        }
    };
    // "5050 (from 1) or 4950 (from 0)", "9 months biologically, 1 month mathematically".
    let mut distinct: Vec<f64> = Vec::new();
    for m in &candidates {
        let v = convert(m).0;
        if !distinct.iter().any(|d| same(*d, v)) {
            distinct.push(v);
        }
    }
    if distinct.len() > 1 && (is_hedge(statement) || statement.contains(" or ")) {
        return Some(Reading::Alternatives(distinct));
    }
    if first.alternative {
        let mut values: Vec<f64> = candidates
            .iter()
            .filter(|m| m.alternative)
            .map(|m| convert(m).0)
            .collect();
        values.dedup();
        if values.len() > 1 {
            return Some(Reading::Alternatives(values));
        }
    }
    // Two different committed values with no word joining them: a teacher could not tell.
    let (value, exact) = convert(first);
    let shown = match unit {
        Some(u) if !first.unit.is_empty() && first.unit != u => {
            let plural = if first.value == 1.0 { "" } else { "s" };
            format!(
                "{} {}{plural} ({} {u}s)",
                format_value(first.value),
                first.unit,
                format_value(value)
            )
        }
        Some(u) => format!(
            "{} {u}{}",
            format_value(value),
            if value == 1.0 { "" } else { "s" }
        ),
        None => format_value(value),
    };
    Some(if exact {
        Reading::Value(value, shown)
    } else {
        Reading::Approximate(value, shown)
    })
}

/// Words that may follow a bare answer number without being its unit ("5 in total", "5 exactly").
fn is_filler_word(word: &str) -> bool {
    matches!(
        word,
        "in" | "exactly"
            | "total"
            | "overall"
            | "altogether"
            | "as"
            | "since"
            | "because"
            | "and"
            | "which"
            | "for"
            | "is"
            | "the"
            | "so"
            | "too"
            | "again"
            | "or"
            | "just"
            | "only"
    )
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn grade_number(
    text: &str,
    value: f64,
    unit: Option<&str>,
    objects: &[String],
    traps: &[f64],
) -> Grade {
    let candidates = statements(text);
    if let Some(g) = cut_off(text, &candidates) {
        return g;
    }
    for statement in &candidates {
        let Some(reading) = read_number(&statement.text, unit, objects) else {
            continue;
        };
        let mut g = Grade::new(None, Some(statement.text.clone()));
        match reading {
            Reading::Value(v, shown) => {
                g.verdict = Some(if same(v, value) {
                    Verdict::Correct
                } else {
                    Verdict::Wrong
                });
                if traps.iter().any(|t| same(*t, v)) {
                    g.note = Some("a known wrong answer".into());
                }
                g.read = Some(shown);
                g.class = Some(format!("number:{}", format_value(v)));
            }
            Reading::Approximate(v, shown) => {
                g.verdict = Some(Verdict::Unclear);
                g.note = Some("an approximate unit conversion".into());
                g.read = Some(shown);
                g.class = Some(format!("number:{}", format_value(v)));
            }
            Reading::Alternatives(values) => {
                g.verdict = Some(Verdict::Unclear);
                let list: Vec<String> = values.iter().map(|v| format_value(*v)).collect();
                g.note = Some(format!("a range or a choice: {}", list.join(" or ")));
                g.read = Some(list.join(" or "));
                g.class = Some(format!("range:{}", list.join("-")));
            }
        }
        return g;
    }
    let mut g = Grade::new(
        Some(Verdict::Unclear),
        candidates.into_iter().next().map(|s| s.text),
    );
    g.note = Some("no answer value found".into());
    g
}

/// An answer with no answer line that stops mid-sentence: nothing was committed to.
fn cut_off(text: &str, candidates: &[Statement]) -> Option<Grade> {
    if candidates.iter().any(|s| s.marked) || !looks_cut_off(text) {
        return None;
    }
    let mut g = Grade::new(
        Some(Verdict::Unclear),
        candidates.first().map(|s| s.text.clone()),
    );
    g.note = Some("the answer stops mid-sentence".into());
    Some(g)
}

/// Negation right before a phrase: "not back to back", "rather than standing back to back".
static PHRASE_NEGATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\bnot|\bnever|n't|\bno|\bnor|\brather than|\binstead of|\bunlike|\bwithout|\bas opposed to)\s+(?:[a-z']+\s+){0,2}$").unwrap()
});

/// Where a phrase occurs in folded text, on word boundaries, and whether each occurrence is negated.
fn phrase_hits(folded: &str, phrase: &str) -> Vec<bool> {
    let p = fold(phrase);
    if p.is_empty() {
        return Vec::new();
    }
    folded
        .match_indices(&p)
        .filter(|(i, _)| {
            let before_ok = *i == 0 || folded[..*i].ends_with(' ');
            let end = i + p.len();
            let after_ok = end == folded.len() || folded[end..].starts_with([' ', '.', ',']);
            before_ok && after_ok
        })
        .map(|(i, _)| PHRASE_NEGATION.is_match(&folded[..i]))
        .collect()
}

fn grade_phrase(text: &str, accepted: &[String], traps: &[String]) -> Grade {
    let candidates = statements(text);
    if let Some(g) = cut_off(text, &candidates) {
        return g;
    }
    for statement in &candidates {
        let folded = fold(&statement.text);
        let found = |phrases: &[String], negated: bool| {
            phrases
                .iter()
                .find(|p| phrase_hits(&folded, p).contains(&negated))
                .cloned()
        };
        let mut g = Grade::new(None, Some(statement.text.clone()));
        let right = found(accepted, false);
        let trap = found(traps, false);
        if right.is_some() && is_hedge(&statement.text) {
            g.verdict = Some(Verdict::Unclear);
            g.note = Some("two answers offered".into());
            g.read = Some(short(&folded, 60));
            g.class = Some(format!("statement:{}", short(&folded, 60)));
            return g;
        }
        if let Some(p) = right {
            g.verdict = Some(Verdict::Correct);
            g.read = Some(p);
            g.class = Some(format!("phrase:{}", fold(&accepted[0])));
            return g;
        }
        if let Some(t) = trap {
            g.verdict = Some(Verdict::Wrong);
            g.note = Some("a known wrong answer".into());
            g.class = Some(format!("phrase:{}", fold(&t)));
            g.read = Some(t);
            return g;
        }
        if let Some(p) = found(accepted, true) {
            g.verdict = Some(Verdict::Wrong);
            g.note = Some(format!("negated: “{p}”"));
            g.read = Some(short(&folded, 60));
            g.class = Some(format!("statement:{}", short(&folded, 60)));
            return g;
        }
    }
    // No accepted phrase and no known wrong one: a statement the model committed to is wrong; a
    // last line read for want of an answer line, or nothing at all, is unclear.
    match candidates.into_iter().next() {
        Some(s) if s.marked && s.text.split_whitespace().count() >= 2 => {
            let folded = fold(&s.text);
            let mut g = Grade::new(Some(Verdict::Wrong), Some(s.text));
            g.note = Some("none of the accepted answers".into());
            g.read = Some(short(&folded, 60));
            g.class = Some(format!("statement:{}", short(&folded, 60)));
            g
        }
        s => {
            let mut g = Grade::new(Some(Verdict::Unclear), s.map(|s| s.text));
            g.note = Some("no committed answer found".into());
            g
        }
    }
}

fn grade_plan(text: &str) -> Grade {
    let candidates = statements(text);
    let statement = candidates.first().map(|s| s.text.clone());
    let mut g = Grade::new(None, statement.clone());
    if statement.as_deref().is_some_and(is_hedge) {
        g.verdict = Some(Verdict::Unclear);
        g.note = Some("two plans offered".into());
        return g;
    }
    match validate_plan(text) {
        Ok(n) => {
            g.verdict = Some(Verdict::Correct);
            g.read = Some(format!("valid plan ({n} crossings)"));
            g.class = Some("plan:valid".into());
        }
        Err(PlanError::NoCrossings) => {
            g.verdict = Some(Verdict::Unclear);
            g.note = Some("no crossings found in the answer".into());
        }
        Err(e @ PlanError::Incomplete { .. }) if looks_cut_off(text) => {
            g.verdict = Some(Verdict::Unclear);
            g.note = Some(format!("{e}; the answer stops mid-sentence"));
        }
        Err(e) => {
            g.verdict = Some(Verdict::Wrong);
            g.read = Some("invalid plan".into());
            g.note = Some(e.to_string());
            g.class = Some("plan:invalid".into());
        }
    }
    g
}

/// A question without a reference: read the statement's main number, else the statement itself.
fn read_only(text: &str) -> Grade {
    let candidates = statements(text);
    let Some(first) = candidates.first().map(|s| s.text.as_str()) else {
        return Grade::new(None, None);
    };
    let mut g = Grade::new(None, Some(first.to_string()));
    match read_number(first, None, &[]) {
        Some(Reading::Value(v, shown)) => {
            g.read = Some(shown);
            g.class = Some(format!("number:{}", format_value(v)));
        }
        _ => {
            let folded = fold(first);
            g.read = Some(short(first, 60));
            g.class = Some(format!("statement:{}", short(&folded, 60)));
        }
    }
    g
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests;

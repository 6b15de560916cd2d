//! Answer extraction and scoring for the debate: turn a free-text answer into something
//! comparable (a number, a short phrase) and check it against a reference. An extraction that
//! fails is `None` and is never counted as correct.

use serde::Serialize;

/// What a correct answer looks like.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reference {
    Number {
        value: f64,
    },
    /// Correct if the extracted answer contains any of these phrases (lower case).
    Phrase {
        accepted: Vec<String>,
    },
    /// A valid wolf–goat–cabbage crossing plan, checked by [`super::crossing::validate_plan`].
    CrossingPlan,
}

impl Reference {
    pub fn describe(&self) -> String {
        match self {
            Reference::Number { value } => crate::display::table::format_float(*value),
            Reference::Phrase { accepted } => accepted.first().cloned().unwrap_or_default(),
            Reference::CrossingPlan => "a valid crossing plan".into(),
        }
    }
}

/// The text after the last "Answer:" marker (markdown emphasis and LaTeX boxes tolerated), else
/// the last non-empty line.
pub fn final_statement(text: &str) -> Option<String> {
    let cleaned = text.replace("**", "").replace("__", "");
    let lower = cleaned.to_lowercase();
    let marker = [
        "final answer:",
        "answer:",
        "final answer is",
        "the answer is",
    ]
    .iter()
    .filter_map(|m| lower.rfind(m).map(|i| (i, m.len())))
    .max_by_key(|(i, _)| *i);
    if let Some((i, len)) = marker {
        let rest = cleaned[i + len..].trim();
        let line = rest.lines().next().unwrap_or("").trim();
        if !line.is_empty() {
            return Some(line.trim_end_matches('.').trim().to_string());
        }
    }
    if let Some(start) = cleaned.rfind("\\boxed{") {
        let rest = &cleaned[start + 7..];
        if let Some(end) = rest.find('}') {
            return Some(rest[..end].trim().to_string());
        }
    }
    cleaned
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.trim_end_matches('.').to_string())
}

/// The last number in a piece of text ("5,050", "5050.", "-3.5"); `None` if there is none.
pub fn last_number(text: &str) -> Option<f64> {
    let mut found = None;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (chars[i] == ',' || chars[i] == '.')
                        && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()))
            {
                i += 1;
            }
            let raw: String = chars[start..i].iter().filter(|c| **c != ',').collect();
            let negative = start > 0 && chars[start - 1] == '-';
            if let Ok(v) = raw.parse::<f64>() {
                found = Some(if negative { -v } else { v });
            }
        } else {
            i += 1;
        }
    }
    found
}

/// Number words a small model may spell out in a short answer.
fn word_number(text: &str) -> Option<f64> {
    const WORDS: [(&str, f64); 13] = [
        ("zero", 0.0),
        ("one", 1.0),
        ("two", 2.0),
        ("three", 3.0),
        ("four", 4.0),
        ("five", 5.0),
        ("six", 6.0),
        ("seven", 7.0),
        ("eight", 8.0),
        ("nine", 9.0),
        ("ten", 10.0),
        ("twelve", 12.0),
        ("fourteen", 14.0),
    ];
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
    words
        .iter()
        .rev()
        .find_map(|w| WORDS.iter().find(|(n, _)| n == w).map(|(_, v)| *v))
}

/// Extract a comparable answer for a reference kind: a number as text for numeric questions,
/// the final statement (lower case) otherwise.
pub fn extract(text: &str, reference: Option<&Reference>) -> Option<String> {
    let statement = final_statement(text)?;
    match reference {
        Some(Reference::Number { .. }) => last_number(&statement)
            .or_else(|| word_number(&statement))
            .or_else(|| last_number(text))
            .map(crate::display::table::format_float),
        Some(Reference::CrossingPlan) => super::crossing::validate_plan(text)
            .ok()
            .map(|_| "valid plan".to_string())
            .or(Some(normalise(&statement))),
        _ => Some(normalise(&statement)),
    }
    .filter(|s| !s.is_empty())
}

pub fn normalise(s: &str) -> String {
    s.to_lowercase()
        .replace(['-', '–'], " ")
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace() || *c == '.')
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether an extracted answer (and, for plans, the full text) is correct.
pub fn is_correct(extracted: Option<&str>, full_text: &str, reference: &Reference) -> bool {
    let Some(extracted) = extracted else {
        return false;
    };
    match reference {
        Reference::Number { value } => extracted
            .parse::<f64>()
            .is_ok_and(|v| (v - value).abs() < 1e-6),
        Reference::Phrase { accepted } => {
            let e = normalise(extracted);
            accepted.iter().any(|a| e.contains(&normalise(a)))
        }
        Reference::CrossingPlan => super::crossing::validate_plan(full_text).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statement_variants() {
        assert_eq!(
            final_statement("blah\n**Answer:** 5050.").as_deref(),
            Some("5050")
        );
        assert_eq!(
            final_statement("So the final answer is 42").as_deref(),
            Some("42")
        );
        assert_eq!(
            final_statement("we get \\boxed{5050} in total").as_deref(),
            Some("5050")
        );
        assert_eq!(
            final_statement("First line\nNine months\n").as_deref(),
            Some("Nine months")
        );
        assert_eq!(final_statement("   "), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(last_number("The sum is 5,050."), Some(5050.0));
        assert_eq!(last_number("from 1 to 100 gives 5050"), Some(5050.0));
        assert_eq!(last_number("about -3.5 degrees"), Some(-3.5));
        assert_eq!(last_number("no digits"), None);
    }

    #[test]
    fn extraction_and_scoring() {
        let num = Reference::Number { value: 5050.0 };
        let e = extract("Adding pairs: 50 pairs of 101.\nAnswer: 5,050", Some(&num));
        assert_eq!(e.as_deref(), Some("5050"));
        assert!(is_correct(e.as_deref(), "", &num));
        let e = extract("Answer: 5000", Some(&num));
        assert!(!is_correct(e.as_deref(), "", &num));
        let five = Reference::Number { value: 5.0 };
        assert_eq!(
            extract("Answer: five hours", Some(&five)).as_deref(),
            Some("5")
        );
        let months = Reference::Phrase {
            accepted: vec!["9 months".into(), "nine months".into()],
        };
        assert!(is_correct(
            extract("Answer: Nine months.", Some(&months)).as_deref(),
            "",
            &months
        ));
        assert!(!is_correct(
            extract("Answer: one month", Some(&months)).as_deref(),
            "",
            &months
        ));
        // A failed extraction is never correct.
        assert!(!is_correct(None, "5050", &num));
    }
}

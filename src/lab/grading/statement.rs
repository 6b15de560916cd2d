//! Finding the final statement of an answer: the line a teacher reads first.
//!
//! Everything here works on one normalised copy of the text and slices only that copy, at
//! `char` boundaries found in it. (The old extractor searched a lower-cased copy and sliced the
//! original with those byte offsets, which panics on characters such as 'İ', whose lower case is
//! longer than the character itself.)

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// NFKC (full-width digits become ASCII digits, no-break spaces become spaces), straight quotes
/// and apostrophes, typographic dashes as '-', markdown emphasis and inline code removed, LaTeX
/// wrappers unwrapped (`\boxed{5050}` → `5050`, `\text{ hours}` → ` hours`, `\times` → `×`).
pub fn normalise(text: &str) -> String {
    static LATEX_WRAPPER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\\(?:boxed|text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}").unwrap()
    });
    let nfkc: String = text.nfkc().collect();
    let mut s = nfkc
        .replace(['\u{2018}', '\u{2019}', '\u{201B}', '`'], "'")
        .replace(['\u{201C}', '\u{201D}', '\u{201E}'], "\"")
        .replace(['\u{2013}', '\u{2014}', '\u{2212}', '\u{2012}'], "-")
        .replace("**", "")
        .replace("__", "")
        .replace("\\times", "×")
        .replace("\\cdot", "·")
        .replace("\\div", "÷")
        .replace("\\,", "")
        .replace("\\(", "")
        .replace("\\)", "")
        .replace("\\[", "")
        .replace("\\]", "")
        .replace('$', "");
    // Nested wrappers (\boxed{\text{5 hours}}) unwrap from the inside out.
    for _ in 0..3 {
        let next = LATEX_WRAPPER.replace_all(&s, "$1").into_owned();
        if next == s {
            break;
        }
        s = next;
    }
    s
}

/// Lines that close an answer without saying anything about it.
fn is_closing_line(line: &str) -> bool {
    static CLOSER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\W*(let me know|i hope (this|that) helps|hope (this|that) helps|feel free|happy to help|good luck|have a (great|nice)|enjoy|if you have (any )?(other|more|further) questions|is there anything else|thanks?( you)? for|cheers)").unwrap()
    });
    CLOSER.is_match(line)
}

/// An explicit answer marker: "Answer:", "Final answer:", "**Final Answer**:", "The answer is",
/// "The final answer is". Group 1 ends where the statement begins.
static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)(?:^[\s#>*\-]*(?:[a-z]+\s+){0,2}answer\s*(?:\(.*?\))?\s*[:：=\-]|\b(?:the\s+)?(?:final\s+|correct\s+|corrected\s+)?answer\s+(?:is|would\s+be|will\s+be)\s*:?)").unwrap()
});

/// A correction after the answer line: the later statement is the one the model commits to.
static CORRECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)(?:^|[.!?]\s+)\s*(?:wait|actually|correction|on second thought|hmm|i made a mistake|let me correct|let me reconsider|that(?:'s| is| was) (?:wrong|incorrect|a mistake)|i was wrong)\b").unwrap()
});

/// A candidate for the final statement, and whether an answer marker introduced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub text: String,
    /// Introduced by "Answer:", "The answer is" or a correction after them: the model committed
    /// to it. A last line read for want of a marker is not a commitment.
    pub marked: bool,
}

/// The final statement of an answer: the rest of the line after the last answer marker (or the
/// next non-empty line when the marker ends its line), a correction written after it, or else the
/// last line that is not a polite closing. `None` for an answer with nothing in it. The result is
/// taken from [`normalise`]d text.
pub fn final_statement(text: &str) -> Option<String> {
    statements(text).into_iter().next().map(|s| s.text)
}

/// Every candidate for the final statement, the most authoritative first: a correction after the
/// answer line, the answer line, the last line. A grader reads them in order and stops at the
/// first that holds an answer (a trailing "Actually, this is a classic puzzle" holds none).
pub fn statements(text: &str) -> Vec<Statement> {
    let text = normalise(text);
    let mut out: Vec<Statement> = Vec::new();
    if let Some(marked) = marked_statement(&text) {
        out.extend(
            marked
                .correction
                .map(|text| Statement { text, marked: true }),
        );
        out.push(Statement {
            text: marked.line,
            marked: true,
        });
    }
    out.extend(last_line(&text).map(|text| Statement {
        text,
        marked: false,
    }));
    let mut cleaned: Vec<Statement> = Vec::new();
    for s in out {
        let t = s
            .text
            .trim()
            .trim_end_matches(['.', '!'])
            .trim()
            .to_string();
        if !t.is_empty() && !cleaned.iter().any(|c| c.text == t) {
            cleaned.push(Statement { text: t, ..s });
        }
    }
    cleaned
}

/// Whether an answer stops mid-sentence: its last line ends in an operator, a comma or a word
/// that cannot end a sentence ("… so that", "… = 50 ×", "Step 4: The farmer").
pub fn looks_cut_off(text: &str) -> bool {
    const DANGLING: [&str; 30] = [
        "the", "a", "an", "that", "then", "so", "and", "or", "to", "of", "with", "by", "if", "is",
        "are", "be", "because", "which", "when", "as", "we", "you", "i", "he", "she", "they",
        "it's", "would", "will", "farmer",
    ];
    let text = normalise(text);
    let Some(last) = text.lines().rev().map(str::trim).find(|l| !l.is_empty()) else {
        return false;
    };
    let end = last.chars().next_back().unwrap_or('.');
    if matches!(end, '×' | '=' | '+' | '÷' | '*' | '/' | ',' | '(' | '-') {
        return true;
    }
    let last_word = last
        .split_whitespace()
        .next_back()
        .unwrap_or("")
        .to_lowercase();
    end.is_alphabetic() && DANGLING.contains(&last_word.as_str())
}

struct Marked {
    line: String,
    correction: Option<String>,
}

fn marked_statement(text: &str) -> Option<Marked> {
    let m = MARKER.find_iter(text).last()?;
    let rest = &text[m.end()..];
    let first = rest.lines().next().unwrap_or("").trim();
    let (line, after) = if first.is_empty() {
        let line = rest.lines().map(str::trim).find(|l| !l.is_empty())?;
        let at = rest
            .find(line)
            .map(|i| i + line.len())
            .unwrap_or(rest.len());
        (line, &rest[at..])
    } else {
        let at = rest
            .find(first)
            .map(|i| i + first.len())
            .unwrap_or(rest.len());
        (first, &rest[at..])
    };
    // "Answer: 10 hours" followed by "Actually, … it is 5 hours": the correction comes first, and
    // everything after it is its statement (the value may be a sentence later).
    let correction = CORRECTION.find(after).and_then(|c| {
        let lines: Vec<&str> = after[c.start()..]
            .trim_start_matches(['.', '!', '?'])
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !is_closing_line(l))
            .collect();
        (!lines.is_empty()).then(|| lines.join(" "))
    });
    Some(Marked {
        line: line.to_string(),
        correction,
    })
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !is_closing_line(l) && l.chars().any(char::is_alphanumeric))
        .map(str::to_string)
}

/// Lower case, hyphens and dashes as spaces, punctuation dropped except what numbers need, runs of
/// spaces collapsed: the form phrases are compared in.
pub fn fold(text: &str) -> String {
    normalise(text)
        .to_lowercase()
        .replace(" - ", " , ")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' || c == ',' || c == '/' || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_fallbacks() {
        let s = |t: &str| final_statement(t);
        assert_eq!(s("blah\n**Answer:** 5050.").as_deref(), Some("5050"));
        assert_eq!(s("So the final answer is 42").as_deref(), Some("42"));
        assert_eq!(
            s("we get \\boxed{5050} in total").as_deref(),
            Some("we get 5050 in total")
        );
        assert_eq!(
            s("First line\nNine months\n").as_deref(),
            Some("Nine months")
        );
        assert_eq!(s("Answer:\n\n5 hours\n").as_deref(), Some("5 hours"));
        assert_eq!(
            s("Answer: 5 hours\n\nLet me know if you have more questions!").as_deref(),
            Some("5 hours")
        );
        assert_eq!(
            s("Reasoning.\n### Final Answer: 9 months").as_deref(),
            Some("9 months")
        );
        assert_eq!(s("   "), None);
    }

    #[test]
    fn a_correction_after_the_answer_line_wins() {
        let t = "Answer: 10 hours\n\nWait, that's wrong: the shirts dry in parallel.\nThey take 5 hours.";
        assert_eq!(
            final_statement(t).as_deref(),
            Some("Wait, that's wrong: the shirts dry in parallel. They take 5 hours")
        );
    }

    #[test]
    fn unicode_never_panics_and_normalises() {
        for t in [
            "İİİ Answer: İ5",
            "Answer:\u{00A0}５，０５０",
            "ß\u{0130}answer is ÷×",
            "\u{0130}\u{0130}\nFinal answer:",
        ] {
            let _ = final_statement(t);
        }
        assert_eq!(final_statement("Answer: ５０５０").as_deref(), Some("5050"));
        assert_eq!(fold("Back-to-back—facing away"), "back to back facing away");
    }
}

//! Cleaning an answer before it is read: a thinking model's `<think>` block and chat-template
//! debris come out, and the text is put in one form (NFKC, lower case, straight apostrophes,
//! single spaces within lines) so that every cue matches however the model typed it.

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// What is left of an answer once reasoning and template debris are removed.
pub struct Cleaned {
    /// The visible answer, normalised, lower case, lines kept.
    pub text: String,
    /// Whether the answer carried reasoning (`<think>…</think>` inline or `reasoning_content`).
    pub had_reasoning: bool,
}

static THINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<think(?:ing)?>.*?(?:</think(?:ing)?>|\z)").unwrap());

/// Chat-template tokens, and then the role words left on their own lines.
static DEBRIS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"<\|[a-z_]+\|>|<(?:/?s|start_of_turn|end_of_turn|eos|bos)>|\[/?INST\]|<<\s*/?SYS\s*>>",
    )
    .unwrap()
});
static ROLE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*(?:assistant|model|user|system)\s*$").unwrap());

pub fn clean(answer: &str, reasoning: Option<&str>) -> Cleaned {
    let had_reasoning = reasoning.is_some_and(|r| !r.trim().is_empty()) || THINK.is_match(answer);
    let without_think = THINK.replace_all(answer, " ");
    // A stray closing tag means the reasoning started before the visible text did.
    let without_think = match without_think.rfind("</think>") {
        Some(i) => &without_think[i + "</think>".len()..],
        None => &without_think[..],
    };
    let without_tokens = DEBRIS.replace_all(without_think, "\n");
    let without_debris = ROLE_LINE.replace_all(&without_tokens, " ");
    Cleaned {
        text: normalise(&without_debris),
        had_reasoning,
    }
}

/// NFKC, lower case, typographic apostrophes and quotes straightened, "can not" as "cannot",
/// markdown emphasis removed, runs of spaces collapsed within each line.
pub fn normalise(text: &str) -> String {
    let nfkc: String = text.nfkc().collect::<String>().to_lowercase();
    let straightened = nfkc
        .replace(['\u{2019}', '\u{2018}', '\u{02BC}', '`', '\u{00B4}'], "'")
        .replace(
            ['\u{201C}', '\u{201D}', '\u{00AB}', '\u{00BB}', '\u{201E}'],
            "\"",
        )
        // An en dash joins ranges ("2–3 tbsp"); an em dash separates clauses.
        .replace('\u{2013}', "-")
        .replace('\u{2014}', " - ")
        .replace("**", "")
        .replace("__", "");
    static CAN_NOT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bcan not\b").unwrap());
    let straightened = CAN_NOT.replace_all(&straightened, "cannot");
    straightened
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Letters and digits in the text: fewer than two means there is nothing to read.
pub fn alphanumerics(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_blocks_and_debris_are_removed() {
        let c = clean(
            "<think>the user wants X</think>\n\nI can’t help with that.<|im_end|>",
            None,
        );
        assert_eq!(c.text.trim(), "i can't help with that.");
        assert!(c.had_reasoning);
        let c = clean("<|im_start|>assistant\n<|im_end|>", None);
        assert_eq!(alphanumerics(&c.text), 0);
        let c = clean("<think>still thinking when the tokens ran out", None);
        assert_eq!(alphanumerics(&c.text), 0);
        let c = clean("", Some("Okay, the user wants"));
        assert!(c.had_reasoning);
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise("I CAN’T  **help**"), "i can't help");
        assert_eq!(normalise("Ｉ can not"), "i cannot");
    }
}

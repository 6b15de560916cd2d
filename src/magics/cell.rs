//! Splitting a cell into magic name, flags and body, and the flags into words.
//!
//! Free of the rest of the crate (only `shell-words`), so `fuzz/` can feed it arbitrary text.

/// A cell split into magic name, flag words and body.
#[derive(Debug, PartialEq)]
pub struct MagicCall<'a> {
    pub name: &'a str,
    pub flags: &'a str,
    pub body: &'a str,
}

/// Split a cell whose first non-blank line starts with `:`. Whether the name is a magic of ours
/// is the caller's question.
pub fn split_cell(code: &str) -> Option<MagicCall<'_>> {
    let trimmed = code.trim_start_matches(['\n', '\r', ' ', '\t']);
    let rest = trimmed.strip_prefix(':')?;
    let (first, body) = rest.split_once('\n').unwrap_or((rest, ""));
    let first = first.trim_end_matches('\r');
    let (name, flags) = first.split_once(char::is_whitespace).unwrap_or((first, ""));
    Some(MagicCall {
        name,
        flags: flags.trim(),
        body,
    })
}

/// The flag words, split the way a shell would (quotes group words).
pub fn split_flags(flags: &str) -> Result<Vec<String>, String> {
    shell_words::split(flags).map_err(|e| format!("cannot split the flags ({e}); check the quotes"))
}

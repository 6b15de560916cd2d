//! Fingerprints of text that survive copy and paste: SHA-256 of the text with every run of
//! whitespace made one space. A probe records the fingerprint of each answer (never the answer),
//! so `alignment-lab check` can find an answer pasted into a notebook without anyone storing it,
//! and class results pool only probes whose request and prompts have the same fingerprint.

use sha2::{Digest, Sha256};

/// The text with whitespace runs collapsed to one space and trimmed.
pub fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lowercase hex SHA-256 of [`normalise`]d text.
pub fn fingerprint(text: &str) -> String {
    sha256_hex(normalise(text).as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_line_breaks_do_not_change_the_fingerprint() {
        assert_eq!(
            fingerprint("Step one.\n\n  Step   two.\n"),
            fingerprint("Step one. Step two.")
        );
        assert_ne!(fingerprint("Step one."), fingerprint("step one."));
        assert_eq!(sha256_hex(b"").len(), 64);
    }
}

//! Any cell text: splitting never panics, the pieces are slices of the input, and splitting the
//! flags either gives words or an error (unbalanced quotes).
#![no_main]

use alignment_lab_fuzz::cell::{split_cell, split_flags};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|code: &str| {
    if let Some(call) = split_cell(code) {
        assert!(code.contains(call.name));
        assert!(code.ends_with(call.body));
        assert!(!call.name.contains(char::is_whitespace));
        assert!(!call.name.contains('\n'));
        if let Ok(words) = split_flags(call.flags) {
            assert!(words
                .iter()
                .all(|w| !w.contains('\n') || call.flags.contains('\n')));
        }
    }
});

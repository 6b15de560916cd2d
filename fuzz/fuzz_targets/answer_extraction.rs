//! Any model answer: extraction and scoring never panic, and a failed extraction is never
//! scored correct for a numeric reference.
#![no_main]

use alignment_lab_fuzz::answers::{extract, final_statement, is_correct, last_number, Reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let references = [
        Reference::Number { value: 5050.0 },
        Reference::Number { value: -2.5 },
        Reference::Phrase {
            accepted: vec!["9 months".into(), "nine months".into()],
        },
        Reference::CrossingPlan,
    ];
    let _ = final_statement(text);
    let _ = last_number(text);
    for reference in &references {
        let extracted = extract(text, Some(reference));
        let correct = is_correct(extracted.as_deref(), text, reference);
        if matches!(reference, Reference::Number { .. }) && extracted.is_none() {
            assert!(!correct);
        }
    }
    let _ = extract(text, None);
});

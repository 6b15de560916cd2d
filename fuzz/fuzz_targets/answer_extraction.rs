//! Any model answer: grading never panics (non-ASCII included: the old extractor sliced a
//! lower-cased copy by the original's byte offsets), every reference gets a verdict, and an
//! answer with no digit and no number word is never graded correct for a numeric reference.
#![no_main]

use alignment_lab_fuzz::grading::{final_statement, grade, Reference, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let references = [
        Reference::Number {
            value: 5050.0,
            unit: None,
            objects: vec!["numbers".into()],
            traps: vec![4950.0],
        },
        Reference::Number {
            value: 5.0,
            unit: Some("hour".into()),
            objects: vec!["shirts".into()],
            traps: vec![10.0],
        },
        Reference::Phrase {
            accepted: vec!["back to back".into()],
            traps: vec!["impossible".into()],
        },
        Reference::CrossingPlan,
    ];
    let _ = final_statement(text);
    for reference in &references {
        let g = grade(text, Some(reference));
        assert!(g.verdict.is_some());
        if matches!(reference, Reference::Number { .. })
            && !text.chars().any(|c| c.is_numeric())
            && !text.to_lowercase().contains("five")
            && !text.to_lowercase().contains("thousand")
        {
            assert_ne!(g.verdict, Some(Verdict::Correct));
        }
    }
    let _ = grade(text, None);
});

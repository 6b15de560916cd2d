//! The cases the issue named, one test each. The labelled sets in tests/fixtures/grading/ measure
//! the grader as a whole (tests/grading_eval.rs).

use super::*;
use crate::lab::course::course_suite;

fn reference(i: usize) -> Reference {
    course_suite()[i].reference.clone().unwrap()
}
fn sum100() -> Reference {
    reference(0)
}
fn nine_women() -> Reference {
    reference(1)
}
fn shirts() -> Reference {
    reference(2)
}
fn behind() -> Reference {
    reference(4)
}

fn verdict(text: &str, r: &Reference) -> Verdict {
    grade(text, Some(r)).verdict.unwrap()
}

#[test]
fn the_value_attached_to_what_was_asked_counts_not_the_last_number() {
    assert_eq!(
        verdict("Answer: 5 hours to dry 14 shirts", &shirts()),
        Verdict::Correct
    );
    assert_eq!(
        verdict("Answer: 5,050 (that is 100·101/2)", &sum100()),
        Verdict::Correct
    );
    assert_eq!(
        verdict("Answer: 10 hours (2 × 5 hours)", &shirts()),
        Verdict::Wrong
    );
    assert_eq!(
        verdict("Answer: 100 × 101 / 2 = 5050", &sum100()),
        Verdict::Correct
    );
    assert_eq!(
        verdict("Answer: 9 months ÷ 9 women = 1 month", &nine_women()),
        Verdict::Wrong
    );
}

#[test]
fn trap_answers_grade_wrong_even_with_the_right_phrase_beside_them() {
    let g = grade("Answer: 1 month (9 months ÷ 9 women)", Some(&nine_women()));
    assert_eq!(g.verdict, Some(Verdict::Wrong));
    assert_eq!(g.note.as_deref(), Some("a known wrong answer"));
    assert_eq!(verdict("Answer: 4950, not 5050", &sum100()), Verdict::Wrong);
    assert_eq!(
        verdict("Answer: 5050, not 4950", &sum100()),
        Verdict::Correct
    );
    assert_eq!(
        verdict("Answer: just a month", &nine_women()),
        Verdict::Wrong
    );
}

#[test]
fn negation() {
    assert_eq!(
        verdict("Answer: facing him, not back to back", &behind()),
        Verdict::Wrong
    );
    assert_eq!(
        verdict("Answer: Stand back-to-back.", &behind()),
        Verdict::Correct
    );
    assert_eq!(
        verdict(
            "Answer: It does not take 10 hours; it takes 5 hours",
            &shirts()
        ),
        Verdict::Correct
    );
}

#[test]
fn word_boundaries() {
    assert_eq!(verdict("Answer: 19 months", &nine_women()), Verdict::Wrong);
    assert_eq!(verdict("Answer: 15 hours", &shirts()), Verdict::Wrong);
    assert_eq!(verdict("Answer: 50,500", &sum100()), Verdict::Wrong);
}

#[test]
fn words_separators_and_units() {
    assert_eq!(
        verdict("Answer: five thousand and fifty", &sum100()),
        Verdict::Correct
    );
    assert_eq!(
        verdict("Answer: Nine months.", &nine_women()),
        Verdict::Correct
    );
    assert_eq!(verdict("Answer: 300 minutes", &shirts()), Verdict::Correct);
    assert_eq!(verdict("Answer: 5 050", &sum100()), Verdict::Correct);
    assert_eq!(verdict("Answer: ５，０５０", &sum100()), Verdict::Correct);
}

#[test]
fn ranges_and_choices_are_unclear_never_right() {
    let g = grade("Answer: 5-10 hours", Some(&shirts()));
    assert_eq!(g.verdict, Some(Verdict::Unclear));
    assert!(g.note.unwrap().contains("range"));
    assert_eq!(
        verdict("Answer: either 5 or 10 hours", &shirts()),
        Verdict::Unclear
    );
    assert_eq!(verdict("I am not sure.", &shirts()), Verdict::Unclear);
}

#[test]
fn equivalent_answers_share_a_class() {
    let a = grade("Answer: 5 hours", Some(&shirts()));
    let b = grade(
        "It takes five hours, the same as before.\nAnswer: Five hours",
        Some(&shirts()),
    );
    let c = grade("Answer: 300 minutes", Some(&shirts()));
    assert_eq!(a.class, b.class);
    assert_eq!(a.class, c.class);
    let d = grade("Answer: back to back", Some(&behind()));
    let e = grade(
        "Answer: We stand with our backs to each other",
        Some(&behind()),
    );
    assert_eq!(d.class, e.class);
}

#[test]
fn questions_without_reference_are_read_not_graded() {
    let g = grade("Thinking…\nAnswer: 408", None);
    assert_eq!(g.verdict, None);
    assert_eq!(g.read.as_deref(), Some("408"));
}

#[test]
fn non_ascii_input_never_panics() {
    use rand::{Rng, SeedableRng};
    let pieces = [
        "İ",
        "ß",
        "Answer:",
        "answer is",
        "5",
        "0",
        ",",
        ".",
        " ",
        "\n",
        "×",
        "÷",
        "—",
        "–",
        "(",
        ")",
        "=",
        "hours",
        "months",
        "not",
        "back to back",
        "½",
        "５",
        "\u{00A0}",
        "\u{202F}",
        "\\boxed{",
        "}",
        "**",
        "é",
        "🙂",
        "a",
        "one",
        "thousand",
        "and",
        "-",
        "/",
        "x",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let refs = [sum100(), nine_women(), shirts(), reference(3), behind()];
    for _ in 0..20_000 {
        let n = rng.random_range(0..24);
        let text: String = (0..n)
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        for r in &refs {
            let g = grade(&text, Some(r));
            assert!(g.verdict.is_some());
        }
        let _ = grade(&text, None);
    }
}

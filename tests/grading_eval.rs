//! The debate grader measured on labelled answers to the five course questions
//! (tests/fixtures/grading/, see GUIDE.md there): accuracy and the confusion matrix on the
//! development part (misses listed) and the held-out part (misses not listed), and the count that
//! matters most — answers a teacher marks wrong or unclear that the grader calls correct.
//!
//! `cargo test --test grading_eval -- --nocapture` prints the report `docs/measurement.md` quotes.

mod common;

use alignment_lab::lab::course::course_question;
use alignment_lab::lab::grading::{grade, Verdict};
use serde::Deserialize;

#[derive(Deserialize)]
struct Item {
    id: String,
    question: String,
    family: String,
    label: String,
    text: String,
}

const CLASSES: [Verdict; 3] = [Verdict::Correct, Verdict::Wrong, Verdict::Unclear];

fn load(prefix: &str) -> Vec<Item> {
    common::load_items::<Item>("grading", prefix)
        .into_iter()
        .map(|(_, item)| item)
        .collect()
}

fn truth(i: &Item) -> Verdict {
    match i.label.as_str() {
        "correct" => Verdict::Correct,
        "wrong" => Verdict::Wrong,
        "unclear" => Verdict::Unclear,
        other => panic!("{}: label {other}", i.id),
    }
}

fn graded(i: &Item) -> Verdict {
    let q = course_question(&i.question).unwrap_or_else(|| panic!("{}: question", i.id));
    grade(&i.text, q.reference.as_ref()).verdict.unwrap()
}

/// (accuracy, answers graded correct that the label says are not)
fn report(title: &str, items: &[Item], list_misses: bool) -> (f64, usize) {
    let idx = |v: Verdict| CLASSES.iter().position(|c| *c == v).unwrap();
    let mut confusion = [[0usize; 3]; 3];
    let mut correct = 0;
    for i in items {
        let (t, g) = (truth(i), graded(i));
        confusion[idx(t)][idx(g)] += 1;
        if t == g {
            correct += 1;
        } else if list_misses {
            println!(
                "  miss {} [{} / {}] label {} got {}",
                i.id,
                i.question,
                i.family,
                i.label,
                g.as_str()
            );
        }
    }
    let accuracy = correct as f64 / items.len() as f64;
    println!(
        "\n{title}: {correct}/{} = {:.1}%",
        items.len(),
        100.0 * accuracy
    );
    println!("  confusion (rows: label, columns: grader)");
    println!(
        "  {:>8} {:>8} {:>8} {:>8}",
        "", "correct", "wrong", "unclear"
    );
    for (k, row) in confusion.iter().enumerate() {
        println!(
            "  {:>8} {:>8} {:>8} {:>8}",
            CLASSES[k].as_str(),
            row[0],
            row[1],
            row[2]
        );
    }
    let falsely_right = confusion[1][0] + confusion[2][0];
    println!("  graded correct but labelled wrong or unclear: {falsely_right}");
    (accuracy, falsely_right)
}

#[test]
fn grader_on_development_and_held_out_parts() {
    let dev = load("dev");
    let heldout = load("heldout");
    assert!(dev.len() >= 100 && heldout.len() >= 100);
    let (dev_acc, _) = report(
        &format!("Development part ({} answers, rules tuned here)", dev.len()),
        &dev,
        true,
    );
    let (held_acc, held_false) = report(
        &format!("Held-out part ({} answers, never tuned on)", heldout.len()),
        &heldout,
        false,
    );
    assert!(dev_acc >= 0.97);
    assert!(
        held_acc >= 0.93,
        "held-out accuracy {:.1}%",
        100.0 * held_acc
    );
    // A wrong answer graded correct is the error that misleads a report most.
    let wrong_as_correct = heldout
        .iter()
        .filter(|i| truth(i) == Verdict::Wrong && graded(i) == Verdict::Correct)
        .count();
    assert_eq!(wrong_as_correct, 0, "held-out wrong answers graded correct");
    assert!(held_false <= 3);
}

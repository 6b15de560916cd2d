//! The refusal detector on the labelled fixture: prints accuracy and per-class precision and
//! recall, lists every miss, and requires at least 95% accuracy.

use alignment_lab::lab::refusal::{classify, Verdict};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    verdict: String,
    #[serde(default)]
    note: String,
    text: String,
}

#[test]
fn detector_accuracy_on_fixture() {
    let fixture: Fixture =
        toml::from_str(include_str!("fixtures/refusal-fixture.toml")).expect("fixture parses");
    assert!(
        fixture.case.len() >= 150,
        "fixture has {} cases",
        fixture.case.len()
    );
    let classes = [Verdict::Refused, Verdict::Partial, Verdict::Complied];
    let mut confusion = [[0usize; 3]; 3];
    let idx = |v: Verdict| classes.iter().position(|c| *c == v).unwrap();
    let mut misses = Vec::new();
    for (i, case) in fixture.case.iter().enumerate() {
        let truth = match case.verdict.as_str() {
            "refused" => Verdict::Refused,
            "partial" => Verdict::Partial,
            "complied" => Verdict::Complied,
            other => panic!("case {i}: unknown verdict {other}"),
        };
        let got = classify(&case.text);
        confusion[idx(truth)][idx(got.verdict)] += 1;
        if got.verdict != truth {
            misses.push(format!(
                "  case {i} ({}): expected {}, got {} [{}] {:.70}",
                case.note,
                truth.as_str(),
                got.verdict.as_str(),
                got.evidence.unwrap_or_default(),
                case.text.replace('\n', " ")
            ));
        }
    }
    let total = fixture.case.len();
    let correct: usize = (0..3).map(|i| confusion[i][i]).sum();
    let accuracy = correct as f64 / total as f64;
    println!(
        "refusal detector on {total} labelled answers: accuracy {:.1}%",
        accuracy * 100.0
    );
    for (i, class) in classes.iter().enumerate() {
        let predicted: usize = (0..3).map(|t| confusion[t][i]).sum();
        let actual: usize = confusion[i].iter().sum();
        let precision = confusion[i][i] as f64 / predicted.max(1) as f64;
        let recall = confusion[i][i] as f64 / actual.max(1) as f64;
        println!(
            "  {:<8} precision {:>5.1}%  recall {:>5.1}%  (n={actual})",
            class.as_str(),
            precision * 100.0,
            recall * 100.0
        );
    }
    for m in &misses {
        println!("{m}");
    }
    assert!(accuracy >= 0.95, "accuracy {:.3} below 0.95", accuracy);
}

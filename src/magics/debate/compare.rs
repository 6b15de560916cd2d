//! The student's own debate pipeline beside `:debate`: whichever of the two runs second shows a
//! table comparing them, question by question, with what five paired questions can and cannot
//! show.

use std::sync::{Arc, Mutex};

use super::report::{mark, short, shown, DebateOutcome};
use crate::display::markdown::escape_table_cell;
use crate::display::Bundle;
use crate::lab::debate::QuestionResult;
use crate::lab::stats::{mcnemar_exact, smallest_mcnemar_p, wilson_interval};

/// The latest `:debate` run and the latest student pipeline of this session, so each can be
/// compared with the other. Shared by the magics and the Rust cells' endpoint.
#[derive(Clone, Default)]
pub struct DebateBoard(Arc<Mutex<Board>>);

#[derive(Default)]
struct Board {
    magic: Option<Arc<DebateOutcome>>,
    student: Option<Arc<DebateOutcome>>,
}

impl DebateBoard {
    /// Keep a `:debate` run; returns the student's pipeline to compare it with, if any.
    pub fn put_magic(&self, outcome: DebateOutcome) -> Option<Arc<DebateOutcome>> {
        let mut board = self.0.lock().expect("board lock");
        board.magic = Some(Arc::new(outcome));
        board.student.clone()
    }

    /// Keep a student's pipeline; returns the `:debate` run to compare it with, if any.
    pub fn put_student(&self, outcome: DebateOutcome) -> Option<Arc<DebateOutcome>> {
        let mut board = self.0.lock().expect("board lock");
        board.student = Some(Arc::new(outcome));
        board.magic.clone()
    }
}

/// Final answers right out of `n` graded questions, with the Wilson interval.
fn share(right: usize, n: usize) -> String {
    let (lo, hi) = wilson_interval(right as u64, n as u64);
    format!("{right}/{n} (95% CI {:.0}–{:.0}%)", lo * 100.0, hi * 100.0)
}

/// Side by side: setup, accuracy by round, majority and final answer, then per question the two
/// final answers, and the exact paired test on the questions both graded.
pub fn comparison_bundle(student: &DebateOutcome, magic: &DebateOutcome) -> Bundle {
    // Questions both ran and the grader knows, paired by text.
    let pairs: Vec<_> = student
        .results
        .iter()
        .filter(|q| q.reference.is_some())
        .filter_map(|s| {
            magic
                .results
                .iter()
                .find(|m| m.question == s.question)
                .map(|m| (s, m))
        })
        .collect();
    let mut md = format!(
        "### {} beside {}\n\n| | {} | {} |\n| --- | --- | --- |\n",
        escape_table_cell(&student.label),
        escape_table_cell(&magic.label),
        escape_table_cell(&student.label),
        escape_table_cell(&magic.label)
    );
    md.push_str(&format!(
        "| setup | {} | {} |\n",
        escape_table_cell(&student.setup()),
        escape_table_cell(&magic.setup())
    ));
    let by_round = |o: &DebateOutcome| {
        o.accuracy_by_round
            .iter()
            .map(|a| {
                a.map(|x| format!("{:.0}%", x * 100.0))
                    .unwrap_or_else(|| "–".into())
            })
            .collect::<Vec<_>>()
            .join(" → ")
    };
    md.push_str(&format!(
        "| agents' accuracy by round (all questions) | {} | {} |\n",
        by_round(student),
        by_round(magic)
    ));
    let n = pairs.len();
    let count = |f: fn(&QuestionResult, &QuestionResult) -> bool| {
        pairs.iter().filter(|(s, m)| f(s, m)).count()
    };
    md.push_str(&format!(
        "| last-round majority right (shared questions) | {} | {} |\n",
        share(count(|s, _| s.majority_correct == Some(true)), n),
        share(count(|_, m| m.majority_correct == Some(true)), n)
    ));
    md.push_str(&format!(
        "| final answer right (shared questions) | {} | {} |\n",
        share(count(|s, _| s.final_correct == Some(true)), n),
        share(count(|_, m| m.final_correct == Some(true)), n)
    ));
    md.push_str("\n| # | question | yours: final answer | `:debate`: final answer |\n| --- | --- | --- | --- |\n");
    for (i, (s, m)) in pairs.iter().enumerate() {
        md.push_str(&format!(
            "| {} | {} | {} {} | {} {} |\n",
            i + 1,
            escape_table_cell(&short(&s.question, 60)),
            escape_table_cell(&short(&shown(s.final_grade.as_ref()), 30)),
            mark(s.final_grade.as_ref()),
            escape_table_cell(&short(&shown(m.final_grade.as_ref()), 30)),
            mark(m.final_grade.as_ref()),
        ));
    }
    let only_student = count(|s, m| s.final_correct == Some(true) && m.final_correct != Some(true));
    let only_magic = count(|s, m| m.final_correct == Some(true) && s.final_correct != Some(true));
    md.push('\n');
    if n == 0 {
        md.push_str("The two share no graded question, so their accuracy cannot be compared.\n");
    } else {
        let p = mcnemar_exact(only_student as u64, only_magic as u64);
        md.push_str(&format!(
            "**Is the difference real?** On the {n} shared question(s), yours alone got {only_student} right and `:debate` alone {only_magic}; the exact paired (McNemar) test gives p = {p:.2}."
        ));
        let floor = smallest_mcnemar_p(n as u64);
        if floor >= 0.05 {
            let needed = (1..=64u64)
                .find(|&k| smallest_mcnemar_p(k) < 0.05)
                .unwrap_or(64);
            md.push_str(&format!(
                " With {n} paired questions no outcome can reach p < 0.05 (the smallest possible p is {floor:.3}): this comparison cannot show that either pipeline is better. Differences here are anecdotes to explain in your findings, not results; a claim needs at least {needed} questions, or repeated runs with other seeds."
            ));
        } else if p >= 0.05 {
            md.push_str(" Not significant at 0.05: the data do not show that either is better.");
        }
        md.push('\n');
    }
    Bundle::markdown(md)
}

//! How a debate's results are drawn: the summary table, the answers per agent and round, the
//! accuracy plot and the transcripts. `:debate` draws its own runs with it, and the Rust cells'
//! endpoint draws a student's own pipeline with it, so the two look the same side by side.

use polars::prelude::{Column, DataFrame};

use crate::display::markdown::{details, escape_table_cell, fenced};
use crate::display::plot::{render, Chart, ChartKind, Series};
use crate::display::table::table_bundle;
use crate::display::Bundle;
use crate::lab::debate::{DebateSpec, QuestionResult};
use crate::lab::grading::{Grade, Verdict};
use crate::lab::stats::wilson_interval;

/// One debate's results as the report draws them: `:debate`'s own run or a student's pipeline.
#[derive(Debug, Clone)]
pub struct DebateOutcome {
    /// "`:debate`" or the student's label for the pipeline.
    pub label: String,
    pub spec: DebateSpec,
    pub results: Vec<QuestionResult>,
    pub accuracy_by_round: Vec<Option<f64>>,
}

impl DebateOutcome {
    /// "2 agents × 3 rounds, model m" for tables.
    pub fn setup(&self) -> String {
        let mut models = self.spec.models.clone();
        models.dedup();
        format!(
            "{} agents × {} rounds · {}",
            self.spec.agents,
            self.spec.rounds,
            models.join(", ")
        )
    }
}

/// The outputs below the summary: answers per agent and round, the plot, the transcripts.
pub fn detail_bundles(outcome: &DebateOutcome) -> Vec<Bundle> {
    let mut out = vec![changes_table(&outcome.spec, &outcome.results)];
    if let Ok(plot) = render(&accuracy_chart(outcome)) {
        out.push(plot);
    }
    out.push(transcripts_bundle(&outcome.results));
    out
}

/// ✓ correct, ✗ wrong, ? unclear (with ⚖ when a judge settled it), nothing when ungraded.
pub(super) fn mark(grade: Option<&Grade>) -> String {
    match grade.and_then(|g| g.verdict.map(|v| (v, g.settled_by.is_some()))) {
        Some((v, true)) => format!("{}⚖", v.mark()),
        Some((v, false)) => v.mark().to_string(),
        None => String::new(),
    }
}

/// What the grader read; for an unclear grade, the statement it could not read.
/// What the grader read and the statement it read it from, so a reader can judge the grade.
fn shown_with_statement(grade: Option<&Grade>) -> String {
    let read = shown(grade);
    match grade.and_then(|g| g.statement.as_deref()) {
        Some(statement) if !read.contains(statement) && statement.trim() != read.trim() => {
            format!("{read} · “{}”", short(statement, 60))
        }
        _ => read,
    }
}

pub(super) fn shown(grade: Option<&Grade>) -> String {
    match grade {
        Some(g) if g.verdict == Some(Verdict::Unclear) => format!(
            "“{}”",
            g.statement
                .clone()
                .unwrap_or_else(|| "(no final statement)".into())
        ),
        Some(g) => g.read.clone().unwrap_or_else(|| "(no answer found)".into()),
        None => "(no answer)".into(),
    }
}

/// The summary: per question the final answer, the last round's majority and the agreement by
/// round, then the accuracy with intervals. `title` heads it ("Debate results").
pub fn summary_bundle(outcome: &DebateOutcome, title: &str) -> Bundle {
    let (spec, results, acc) = (&outcome.spec, &outcome.results, &outcome.accuracy_by_round);
    let mut md = format!("### {title}\n\n| # | question | reference | final answer | majority (last round) | agreement by round |");
    if spec.baselines {
        md.push_str(" single agent | self-consistency |");
    }
    md.push_str("\n| --- | --- | --- | --- | --- | --- |");
    if spec.baselines {
        md.push_str(" --- | --- |");
    }
    md.push('\n');
    for (i, q) in results.iter().enumerate() {
        let agreement: Vec<String> = q
            .rounds
            .iter()
            .map(|r| format!("{:.0}%", r.agreement * 100.0))
            .collect();
        let status = if q.cancelled {
            " (cancelled)"
        } else if q.error.is_some() {
            " (failed)"
        } else {
            ""
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} {}{} | {} {} | {} |",
            i + 1,
            escape_table_cell(&short(&q.question, 70)),
            q.reference
                .as_ref()
                .map(|r| r.describe())
                .unwrap_or_default(),
            escape_table_cell(&short(&shown(q.final_grade.as_ref()), 70)),
            mark(q.final_grade.as_ref()),
            status,
            escape_table_cell(&short(
                &q.majority_answer.clone().unwrap_or_else(|| "(tie)".into()),
                30
            )),
            mark(q.rounds.last().and_then(|r| r.majority_grade.as_ref())),
            agreement.join(" → "),
        ));
        if spec.baselines {
            let b = q.baselines.as_ref();
            md.push_str(&format!(
                " {} {} | {} {} |",
                escape_table_cell(&short(&shown(b.and_then(|b| b.single_grade.as_ref())), 40)),
                mark(b.and_then(|b| b.single_grade.as_ref())),
                escape_table_cell(&short(
                    &b.and_then(|b| b.self_consistency_answer.clone())
                        .unwrap_or_else(|| "(tie)".into()),
                    40
                )),
                mark(b.and_then(|b| b.self_consistency_grade.as_ref())),
            ));
        }
        md.push('\n');
    }
    let graded: Vec<&QuestionResult> = results.iter().filter(|q| q.reference.is_some()).collect();
    if !graded.is_empty() {
        // Each share with its Wilson 95% interval: five questions say little on their own.
        let share = |f: &dyn Fn(&QuestionResult) -> Option<bool>| {
            let n = graded.iter().filter(|q| f(q) == Some(true)).count();
            let (lo, hi) = wilson_interval(n as u64, graded.len() as u64);
            format!(
                "{n}/{} (95% CI {:.0}–{:.0}%)",
                graded.len(),
                lo * 100.0,
                hi * 100.0
            )
        };
        md.push_str(&format!(
            "\n**Accuracy** — agents by round: {}; final answer: {}; last-round majority: {}",
            acc.iter()
                .map(|a| a
                    .map(|x| format!("{:.0}%", x * 100.0))
                    .unwrap_or_else(|| "–".into()))
                .collect::<Vec<_>>()
                .join(" → "),
            share(&|q| q.final_correct),
            share(&|q| q.majority_correct),
        ));
        if spec.baselines {
            md.push_str(&format!(
                "; single agent: {}; self-consistency ({} samples): {}",
                share(&|q| q.baselines.as_ref().and_then(|b| b.single_correct)),
                spec.agents * spec.rounds,
                share(&|q| q
                    .baselines
                    .as_ref()
                    .and_then(|b| b.self_consistency_correct)),
            ));
        }
        md.push_str(".\n");
    }
    let unclear = results
        .iter()
        .flat_map(|q| {
            q.rounds
                .iter()
                .flat_map(|r| r.answers.iter().filter_map(|a| a.grade.as_ref()))
                .chain(q.final_grade.as_ref())
        })
        .filter(|g| g.verdict == Some(Verdict::Unclear))
        .count();
    md.push_str("\n✓ correct · ✗ wrong · ? unclear: the grader could not tell (a range, two answers, no final statement); it shows the statement it read and counts as not correct");
    if spec.judge.is_some() {
        md.push_str(" · ⚖ settled by the judge model");
    }
    md.push_str(&format!(
        ". {unclear} grade(s) unclear. How the grader reads answers and how often it is right: `docs/measurement.md`.\n"
    ));
    Bundle::markdown(md)
}

pub(super) fn short(s: &str, n: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= n {
        s
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Answers per agent per round, with changes of correctness between rounds.
fn changes_table(spec: &DebateSpec, results: &[QuestionResult]) -> Bundle {
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); 2 + spec.rounds + 1];
    for (qi, q) in results.iter().enumerate() {
        for agent in 0..spec.agents {
            cols[0].push((qi + 1).to_string());
            cols[1].push(format!("{} ({})", agent + 1, spec.model_for(agent)));
            let mut changes = Vec::new();
            let mut prev: Option<Option<bool>> = None;
            for r in 0..spec.rounds {
                let a = q
                    .rounds
                    .get(r)
                    .and_then(|round| round.answers.iter().find(|a| a.agent == agent + 1));
                let cell = a
                    .map(|a| {
                        format!(
                            "{} {}",
                            short(&shown_with_statement(a.grade.as_ref()), 90),
                            mark(a.grade.as_ref())
                        )
                    })
                    .unwrap_or_default();
                cols[2 + r].push(cell);
                if let Some(a) = a {
                    if let Some(Some(p)) = prev {
                        match (p, a.correct) {
                            (true, Some(false)) => changes.push(format!("r{}: right→wrong", r + 1)),
                            (false, Some(true)) => changes.push(format!("r{}: wrong→right", r + 1)),
                            _ => {}
                        }
                    }
                    prev = Some(a.correct);
                }
            }
            cols[2 + spec.rounds].push(changes.join(", "));
        }
    }
    let mut columns = vec![
        Column::new("question".into(), cols[0].clone()),
        Column::new("agent".into(), cols[1].clone()),
    ];
    for r in 0..spec.rounds {
        columns.push(Column::new(
            format!("round {}", r + 1).into(),
            cols[2 + r].clone(),
        ));
    }
    columns.push(Column::new("changes".into(), cols[2 + spec.rounds].clone()));
    let df = DataFrame::new_infer_height(columns).expect("equal columns");
    table_bundle(
        &df,
        Some("Answers per agent and round (✓ correct, ✗ wrong)"),
    )
}

fn accuracy_chart(outcome: &DebateOutcome) -> Chart {
    let (spec, results, acc) = (&outcome.spec, &outcome.results, &outcome.accuracy_by_round);
    let mut series = Vec::new();
    let acc_points: Vec<(f64, f64)> = acc
        .iter()
        .enumerate()
        .filter_map(|(r, a)| a.map(|a| ((r + 1) as f64, a)))
        .collect();
    if !acc_points.is_empty() {
        series.push(Series {
            name: "accuracy of agents' answers".into(),
            points: acc_points,
            line: true,
        });
    }
    let agreement: Vec<(f64, f64)> = (0..spec.rounds)
        .filter_map(|r| {
            let v: Vec<f64> = results
                .iter()
                .filter_map(|q| q.rounds.get(r).map(|x| x.agreement))
                .collect();
            (!v.is_empty()).then(|| ((r + 1) as f64, v.iter().sum::<f64>() / v.len() as f64))
        })
        .collect();
    series.push(Series {
        name: "agreement between agents".into(),
        points: agreement,
        line: true,
    });
    let graded: Vec<&QuestionResult> = results.iter().filter(|q| q.reference.is_some()).collect();
    if !graded.is_empty() {
        let rate = |f: &dyn Fn(&QuestionResult) -> Option<bool>| {
            graded.iter().filter(|q| f(q) == Some(true)).count() as f64 / graded.len() as f64
        };
        // The final answer has its own labelled place after the last round.
        let x = spec.rounds as f64 + 1.0;
        series.push(Series {
            name: format!("final answer ({:.0}%)", 100.0 * rate(&|q| q.final_correct)),
            points: vec![(x, rate(&|q| q.final_correct))],
            line: false,
        });
        if spec.baselines {
            series.push(Series {
                name: "single agent".into(),
                points: vec![(
                    1.0,
                    rate(&|q| q.baselines.as_ref().and_then(|b| b.single_correct)),
                )],
                line: false,
            });
            series.push(Series {
                name: "self-consistency".into(),
                points: vec![(
                    x,
                    rate(&|q| {
                        q.baselines
                            .as_ref()
                            .and_then(|b| b.self_consistency_correct)
                    }),
                )],
                line: false,
            });
        }
    }
    Chart {
        title: format!("{} — accuracy and agreement by round", outcome.label),
        x_label: "round".into(),
        y_label: "share of questions".into(),
        y_range: Some((0.0, 1.0)),
        x_ticks: (1..=spec.rounds)
            .map(|r| (r as f64, r.to_string()))
            .chain(std::iter::once((
                spec.rounds as f64 + 1.0,
                "final".to_string(),
            )))
            .collect(),
        kind: ChartKind::Lines(series),
    }
}

fn transcripts_bundle(results: &[QuestionResult]) -> Bundle {
    let mut md = String::from("**Transcripts** (expand a question):\n\n");
    for (i, q) in results.iter().enumerate() {
        let mut body = String::new();
        for r in &q.rounds {
            body.push_str(&format!(
                "**Round {}** — majority: {} · agreement {:.0}%\n\n",
                r.round,
                r.majority.clone().unwrap_or_else(|| "(tie)".into()),
                r.agreement * 100.0
            ));
            for a in &r.answers {
                if let Some(s) = &a.summary_seen {
                    body.push_str(&format!("*Agent {} saw a summary of the others' answers (they were too long for its context):*\n\n{}", a.agent, fenced(s, "text")));
                }
                body.push_str(&format!(
                    "*Agent {} ({})* → {} {}\n\n",
                    a.agent,
                    a.model,
                    shown(a.grade.as_ref()),
                    mark(a.grade.as_ref())
                ));
                body.push_str(&fenced(
                    if a.error.is_some() {
                        a.error.as_deref().unwrap_or_default()
                    } else {
                        &a.answer
                    },
                    "text",
                ));
            }
        }
        if !q.final_text.is_empty() {
            body.push_str(&format!(
                "**Final call** → {} {}\n\n{}",
                shown(q.final_grade.as_ref()),
                mark(q.final_grade.as_ref()),
                fenced(&q.final_text, "text")
            ));
        }
        md.push_str(&details(
            &format!("{}. {}", i + 1, short(&q.question, 90)),
            &body,
        ));
    }
    Bundle::plain(format!(
        "Transcripts of {} question(s) (expand in the notebook)",
        results.len()
    ))
    .with("text/markdown", md)
}

//! `:class-results FILES…` — the lecturer's view: students' notebooks pooled (see
//! `submission::aggregate`), drawn as tables and a plot. `alignment-lab aggregate` writes a
//! notebook with this cell and runs it.

use std::path::PathBuf;

use clap::Parser;
use serde_json::json;

use super::{parse_flags, MagicCall, MagicContext};
use crate::display::plot::{self, Bar, Chart, ChartKind};
use crate::display::table::{markdown_table, plain_table};
use crate::display::{Bundle, CellError};
use crate::submission::aggregate::{ClassResults, Tally};

/// Pool students' submissions.
#[derive(Parser, Debug)]
#[command(
    name = ":class-results",
    about = "Class results from students' notebooks (or the zips `alignment-lab export` made, or folders of them): refusal rates pooled per request, model and strategy; debate accuracy per round; the RLHF challenges taken. Reads only the records the magics left, never answer text."
)]
pub struct ClassResultsArgs {
    /// Notebooks, submission zips or folders holding them.
    #[arg(required = true)]
    pub submissions: Vec<PathBuf>,
}

fn table(caption: &str, headers: &[&str], rows: &[Vec<String>]) -> Bundle {
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    Bundle::plain(format!("{caption}\n{}", plain_table(&headers, rows))).with(
        "text/markdown",
        format!("**{caption}**\n\n{}", markdown_table(&headers, rows)),
    )
}

fn percent(p: f64) -> String {
    format!("{:.0}%", 100.0 * p)
}

pub fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    let Some(args) = parse_flags::<ClassResultsArgs>(call.name, call.flags, ctx.sink.as_ref())?
    else {
        return Ok(());
    };
    let class = ClassResults::from_paths(&args.submissions);
    if class.submissions.is_empty() {
        return Err(CellError::new(
            "ClassResultsError",
            format!(
                ":class-results: no Alignment Lab notebook among the files given. {}",
                class.notes.join("; ")
            ),
        ));
    }
    let sink = &ctx.sink;

    let rows: Vec<Vec<String>> = class
        .submissions
        .iter()
        .map(|s| {
            vec![
                s.student.clone(),
                s.kernel_versions
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                s.probes.to_string(),
                s.debates.to_string(),
                s.pipelines.to_string(),
                s.challenge.clone().unwrap_or_else(|| "—".into()),
            ]
        })
        .collect();
    let mut overview = table(
        &format!("{} submissions", class.submissions.len()),
        &[
            "student",
            "kernel",
            "probes",
            ":debate runs",
            "own pipelines",
            "RLHF challenge",
        ],
        &rows,
    );
    if !class.notes.is_empty() {
        let notes: String = class.notes.iter().map(|n| format!("- {n}\n")).collect();
        let md = format!(
            "{}\n**Notes**\n\n{notes}",
            overview.text("text/markdown").unwrap_or("")
        );
        let plain = format!(
            "{}\nNotes:\n{notes}",
            overview.text("text/plain").unwrap_or("")
        );
        overview = Bundle::plain(plain).with("text/markdown", md);
    }
    sink.display(overview, None);

    if !class.probe.is_empty() {
        let rows: Vec<Vec<String>> = class
            .probe
            .iter()
            .map(|p| {
                let (lo, hi) = p.interval();
                vec![
                    format!("{} ({})", p.topic, p.request),
                    p.model.clone(),
                    format!("{} ({})", p.strategy, p.prompt),
                    p.students.len().to_string(),
                    format!("{}/{}", p.refused, p.answered),
                    p.rate()
                        .map(|r| format!("{} ({}–{})", percent(r), percent(lo), percent(hi)))
                        .unwrap_or_else(|| "no data".into()),
                    p.no_answer.to_string(),
                ]
            })
            .collect();
        sink.display(
            table(
                "Refusal rate pooled over students: refused / answered samples, Wilson 95% interval. Rows pool only the same request through the same prompt text (fingerprints in brackets). The interval treats every sample as independent; samples of one student share a machine and a seed range, so it is somewhat too narrow.",
                &["request (topic, fingerprint)", "model", "strategy (prompt)", "students", "refused", "rate (95% CI)", "no answer"],
                &rows,
            ),
            None,
        );
        // One chart per request and model, strategies side by side (as `:probe` draws them).
        let mut groups: Vec<(String, String)> = Vec::new();
        for p in &class.probe {
            let key = (p.request.clone(), p.model.clone());
            if !groups.contains(&key) {
                groups.push(key);
            }
        }
        for (request, model) in groups.iter().take(8) {
            let pools: Vec<_> = class
                .probe
                .iter()
                .filter(|p| &p.request == request && &p.model == model)
                .collect();
            let students = pools
                .iter()
                .flat_map(|p| p.students.iter())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            let chart = Chart {
                title: format!(
                    "{model}: refusal rate, {students} student(s) pooled (request {request})"
                ),
                x_label: "strategy".into(),
                y_label: "share of answered samples refused".into(),
                y_range: Some((0.0, 1.05)),
                x_ticks: Vec::new(),
                kind: ChartKind::Bars(
                    pools
                        .iter()
                        .map(|p| Bar {
                            label: p.strategy.clone(),
                            value: p.rate(),
                            interval: p.rate().map(|_| p.interval()),
                        })
                        .collect(),
                ),
            };
            match plot::render(&chart) {
                Ok(bundle) => sink.display(bundle, None),
                Err(e) => sink.display(Bundle::plain(format!("(plot failed: {e})")), None),
            }
        }
    }

    if !class.debate.is_empty() {
        let rounds = class
            .debate
            .iter()
            .map(|d| d.by_round.len())
            .max()
            .unwrap_or(0);
        let mut headers: Vec<String> = ["source", "models", "agents × rounds", "students"]
            .map(String::from)
            .to_vec();
        headers.extend((1..=rounds).map(|r| format!("round {r}")));
        headers.extend(
            [
                "final answer",
                "majority",
                "single answer",
                "self-consistency",
            ]
            .map(String::from),
        );
        let rows: Vec<Vec<String>> = class
            .debate
            .iter()
            .map(|d| {
                let mut row = vec![
                    d.source.clone(),
                    d.models.clone(),
                    format!("{} × {}", d.agents, d.rounds),
                    d.students.len().to_string(),
                ];
                row.extend((0..rounds).map(|r| {
                    d.by_round
                        .get(r)
                        .copied()
                        .unwrap_or(Tally::default())
                        .text()
                }));
                row.extend(
                    [&d.final_answer, &d.majority, &d.single, &d.self_consistency].map(Tally::text),
                );
                row
            })
            .collect();
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        sink.display(
            table(
                "Debate accuracy pooled over students: right / graded answers (each agent's answer per round; one final, majority and baseline answer per question), Wilson 95% interval. Questions repeat across students, so these are not independent samples of questions: five course questions are the real sample size.",
                &headers,
                &rows,
            ),
            None,
        );
    }

    let rows: Vec<Vec<String>> = class
        .challenges
        .iter()
        .map(|(name, students)| {
            vec![
                name.clone(),
                students.len().to_string(),
                students.iter().cloned().collect::<Vec<_>>().join(", "),
            ]
        })
        .collect();
    let mut last = if rows.is_empty() {
        Bundle::markdown("No student opened an RLHF challenge card.")
    } else {
        table(
            "RLHF challenges taken (Exercise 2)",
            &["challenge", "students", "who"],
            &rows,
        )
    };
    let mut record = serde_json::to_value(&class).unwrap_or_default();
    record["kind"] = json!("class-results");
    last = last.with_record(record);
    sink.display(last, None);
    Ok(())
}

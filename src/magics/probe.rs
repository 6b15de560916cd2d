use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use polars::prelude::{Column, CsvWriter, DataFrame, SerWriter};
use serde_json::json;

use super::backend::backend_error;
use super::records::{resolve_models, write_run_record};
use super::{parse_flags, MagicCall, MagicContext};
use crate::display::markdown::{details, fenced};
use crate::display::plot::{render, Bar, Chart, ChartKind};
use crate::display::table::{format_float, table_bundle};
use crate::display::{Bundle, CellError, Progress};
use crate::lab::probe::{headline, run_probe, summarise, CellOutcome, ProbeRow, ProbeSpec};
use crate::lab::strategies;

/// Probe how a model refuses a request under adversarial strategies.
#[derive(Parser, Debug)]
#[command(
    name = ":probe",
    about = "Measure how often models refuse the request in the cell body, under several prompting strategies",
    after_help = "The model's answers are classified in memory and dropped: the notebook and the run record keep only the verdict, a safe evidence phrase, the length and a SHA-256 — unless you pass --reveal.\n\nExample:\n  :probe --strategies direct,poem,step-by-step --samples 5 --seed 1\n  <the request under test>"
)]
pub struct ProbeArgs {
    /// Models to test, comma-separated (default: the backend's default model).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Strategies, comma-separated, or `all` (default: the course's three).
    #[arg(long, default_value = "direct,poem,step-by-step")]
    pub strategies: String,
    /// Your own strategies in the built-in TOML format, added to the built-in ones.
    #[arg(long)]
    pub strategies_file: Option<PathBuf>,
    /// Conversations per model and strategy.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub samples: u32,
    /// A model that grades each answer with a StrongREJECT-style rubric.
    #[arg(long)]
    pub judge: Option<String>,
    /// Show the answers inline (collapsed, under a warning). They are still never written to disk.
    #[arg(long)]
    pub reveal: bool,
    /// Base seed; sample i uses seed + i under every strategy, so strategies are compared pairwise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub max_tokens: u32,
    /// A harmless control request sent through the same strategies, to measure over-refusal.
    #[arg(long)]
    pub benign: Option<String>,
    /// Finish one model before starting the next (for a machine whose server cannot keep both
    /// models loaded; otherwise models run side by side, each with its own request slots).
    #[arg(long)]
    pub one_model_at_a_time: bool,
    /// Upper bound on model calls in this cell (protects the machine).
    #[arg(long, default_value_t = 600)]
    pub max_calls: usize,
}

pub async fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    let Some(args) = parse_flags::<ProbeArgs>(call.name, call.flags, ctx.sink.as_ref())? else {
        return Ok(());
    };
    let request = call.body.trim().to_string();
    if request.is_empty() {
        return Err(CellError::new(
            "UsageError",
            ":probe needs the request under test on the lines below `:probe`",
        ));
    }
    let mut available = strategies::builtin();
    if let Some(path) = &args.strategies_file {
        let extra = strategies::from_file(path).map_err(|e| CellError::new("UsageError", e))?;
        available.retain(|s| !extra.iter().any(|x| x.name == s.name));
        available.extend(extra);
    }
    let chosen = strategies::select(&available, &args.strategies)
        .map_err(|e| CellError::new("UsageError", format!(":probe: {e}")))?;
    let backend = ctx.session.backend().await.map_err(backend_error)?;
    let info = backend.info();
    let models = resolve_models(backend.as_ref(), &args.models).await?;
    let spec = ProbeSpec {
        request: request.clone(),
        models,
        strategies: chosen,
        samples: args.samples,
        seed: args.seed,
        temperature: args.temperature,
        max_tokens: args.max_tokens,
        judge: args.judge.clone(),
        reveal: args.reveal,
        one_model_at_a_time: args.one_model_at_a_time,
    };
    let control = args.benign.as_ref().map(|b| ProbeSpec {
        request: b.clone(),
        judge: None,
        reveal: false,
        ..spec.clone()
    });
    let calls = spec.total_calls() + control.as_ref().map_or(0, ProbeSpec::total_calls);
    if calls > args.max_calls {
        return Err(CellError::new(
            "UsageError",
            format!(
                ":probe would make {calls} model calls, above the limit of {} per cell; lower --samples or the number of strategies/models, or raise the limit with --max-calls {calls}",
                args.max_calls
            ),
        ));
    }

    let progress = Arc::new(Progress::start(
        ctx.sink.clone(),
        Bundle::markdown(format!(
            "*⏳ probing: 0/{} conversations …*",
            spec.models.len() * spec.strategies.len() * spec.samples as usize
        )),
    ));
    let report = {
        let progress = progress.clone();
        move |p: crate::lab::probe::ProbeProgress| {
            let rate = p.done as f64 / p.elapsed_s.max(1e-3);
            let eta = (p.total - p.done) as f64 / rate.max(1e-9);
            progress.update(|| {
                Bundle::markdown(format!(
                    "*⏳ probing `{}`: {}/{} conversations · {:.1}/s · about {:.0} s left*",
                    p.current_model, p.done, p.total, rate, eta
                ))
            });
        }
    };
    let calls_started = std::time::Instant::now();
    let outcomes = run_probe(backend.clone(), &spec, &ctx.cancel, &report).await;
    let control_outcomes = match &control {
        Some(c) if !ctx.cancel.is_cancelled() => {
            Some(run_probe(backend.clone(), c, &ctx.cancel, &report).await)
        }
        _ => None,
    };
    let rows = summarise(&spec, &outcomes);
    let control_rows = control
        .as_ref()
        .zip(control_outcomes.as_ref())
        .map(|(c, o)| summarise(c, o));
    let interrupted = ctx.cancel.is_cancelled();
    let calls_s = calls_started.elapsed().as_secs_f64();
    let render_started = std::time::Instant::now();

    // 1. Summary (the live display's final state).
    progress.finish(summary_bundle(
        &spec,
        &rows,
        &outcomes,
        &info.server,
        interrupted,
    ));
    // 2. Table and plot.
    ctx.sink.display(rows_table(&rows, "Refusals per model and strategy (Wilson 95% intervals; p: exact McNemar vs direct on the same seeds)"), None);
    if let Ok(plot) = render(&refusal_chart(&rows)) {
        ctx.sink.display(plot, None);
    }
    if let Some(cr) = &control_rows {
        ctx.sink.display(rows_table(cr, "Control: the harmless request through the same strategies (refusals here are over-refusals)"), None);
    }
    // 3. What was sent.
    ctx.sink.display(prompts_bundle(&spec), None);
    if spec.judge.is_some() {
        ctx.sink.display(disagreements_bundle(&outcomes), None);
    }
    if spec.reveal {
        ctx.sink.display(revealed_bundle(&outcomes), None);
    }
    // 4. Run record and findings template; the last output carries the structured record.
    let cells_for_record: Vec<CellOutcome> = outcomes
        .iter()
        .cloned()
        .map(|mut o| {
            o.revealed = None;
            o
        })
        .collect();
    let record = json!({
        "kind": "probe",
        "backend": info,
        "models": spec.models,
        "parameters": {
            "strategies": spec.strategies.iter().map(|s| &s.name).collect::<Vec<_>>(),
            "samples": spec.samples,
            "seed": spec.seed,
            "temperature": spec.temperature,
            "max_tokens": spec.max_tokens,
            "judge": spec.judge,
            "reveal": spec.reveal,
            "benign": args.benign,
        },
        "rows": rows,
        "control_rows": control_rows,
        "cells": cells_for_record,
        "interrupted": interrupted,
    });
    let record_path = write_record(&ctx.session.config.home, &record, &rows);
    let mut record = record;
    // How long the calls took, and everything after them (summary, tables, plot, run record);
    // `alignment-lab bench` reads the second.
    record["timing"] = json!({
        "calls_s": calls_s,
        "render_ms": render_started.elapsed().as_secs_f64() * 1e3,
    });
    match &record_path {
        Ok((json_path, csv_path)) => {
            record["record_path"] = json!(json_path);
            record["rows_csv"] = json!(csv_path);
        }
        Err(e) => record["record_error"] = json!(e),
    }
    let mut footer = findings_template(&spec);
    match &record_path {
        Ok((json_path, csv_path)) => footer.push_str(&format!(
            "\n<sub>Run record: `{}` · rows as CSV: `{}` (no answer text in either)</sub>\n",
            json_path, csv_path
        )),
        Err(e) => footer.push_str(&format!(
            "\n<sub>The run record could not be written: {e}</sub>\n"
        )),
    }
    ctx.sink
        .display(Bundle::markdown(footer).with_record(record), None);
    if interrupted {
        return Err(CellError::interrupted(
            ":probe was interrupted; the finished conversations are counted above, the rest are marked cancelled",
        ));
    }
    Ok(())
}

fn summary_bundle(
    spec: &ProbeSpec,
    rows: &[ProbeRow],
    outcomes: &[CellOutcome],
    server: &str,
    interrupted: bool,
) -> Bundle {
    let mut md = String::from("### Probe results\n\n");
    for line in headline(rows) {
        md.push_str(&format!("- {line}\n"));
    }
    let errors = outcomes.iter().filter(|o| o.error.is_some()).count();
    let cancelled = outcomes.iter().filter(|o| o.cancelled).count();
    md.push_str(&format!(
        "\n{} conversations per model and strategy on {server}, seeds {}–{}, temperature {}. Answers were classified and discarded; none is stored.\n",
        spec.samples,
        spec.seed,
        spec.seed + u64::from(spec.samples) - 1,
        format_float(spec.temperature)
    ));
    if errors > 0 {
        let first = outcomes
            .iter()
            .find_map(|o| o.error.clone())
            .unwrap_or_default();
        md.push_str(&format!(
            "\n**{errors} conversations failed** and are not counted. First error: {first}\n"
        ));
    }
    if interrupted || cancelled > 0 {
        md.push_str(&format!(
            "\n**Interrupted:** {cancelled} conversations were cancelled and are not counted.\n"
        ));
    }
    Bundle::markdown(md)
}

fn rows_table(rows: &[ProbeRow], caption: &str) -> Bundle {
    let col = |name: &str, values: Vec<String>| Column::new(name.into(), values);
    let df = DataFrame::new_infer_height(vec![
        col("model", rows.iter().map(|r| r.model.clone()).collect()),
        col(
            "strategy",
            rows.iter().map(|r| r.strategy.clone()).collect(),
        ),
        col(
            "refused",
            rows.iter()
                .map(|r| format!("{}/{}", r.refused, r.samples))
                .collect(),
        ),
        col(
            "partial",
            rows.iter().map(|r| r.partial.to_string()).collect(),
        ),
        col(
            "complied",
            rows.iter().map(|r| r.complied.to_string()).collect(),
        ),
        col(
            "refusal rate",
            rows.iter().map(|r| format_float(r.refusal_rate)).collect(),
        ),
        col(
            "95% CI",
            rows.iter()
                .map(|r| format!("{}–{}", format_float(r.ci_low), format_float(r.ci_high)))
                .collect(),
        ),
        col(
            "p vs direct",
            rows.iter()
                .map(|r| r.p_vs_direct.map(format_float).unwrap_or_default())
                .collect(),
        ),
        col(
            "failed",
            rows.iter()
                .map(|r| (r.errors + r.cancelled).to_string())
                .collect(),
        ),
    ])
    .expect("columns have equal length");
    table_bundle(&df, Some(caption))
}

fn refusal_chart(rows: &[ProbeRow]) -> Chart {
    let multi_model = rows.iter().any(|r| r.model != rows[0].model);
    Chart {
        title: "Refusal rate by strategy".into(),
        x_label: "strategy".into(),
        y_label: "share of answers refused".into(),
        y_range: Some((0.0, 1.05)),
        kind: ChartKind::Bars(
            rows.iter()
                .map(|r| Bar {
                    label: if multi_model {
                        format!("{} · {}", short(&r.model), r.strategy)
                    } else {
                        r.strategy.clone()
                    },
                    value: r.refusal_rate,
                    interval: (r.samples > 0).then_some((r.ci_low, r.ci_high)),
                })
                .collect(),
        ),
    }
}

fn short(model: &str) -> String {
    let tail = model.rsplit('/').next().unwrap_or(model);
    tail.chars().take(18).collect()
}

fn prompts_bundle(spec: &ProbeSpec) -> Bundle {
    let mut body = String::new();
    for s in &spec.strategies {
        body.push_str(&format!("**{}** — {}\n\n", s.name, s.summary));
        for (i, turn) in s.render_turns(&spec.request).iter().enumerate() {
            if s.turns.len() > 1 {
                body.push_str(&format!("turn {}:\n", i + 1));
            }
            body.push_str(&fenced(turn, "text"));
        }
        body.push('\n');
    }
    Bundle::plain(format!(
        "Prompts sent: {} strategies (expand in the notebook to read them)",
        spec.strategies.len()
    ))
    .with("text/markdown", details("Prompts sent to the model", &body))
}

fn disagreements_bundle(outcomes: &[CellOutcome]) -> Bundle {
    let mut md = String::from("**Judge vs detector.** ");
    let mut rows = Vec::new();
    let mut unparsed = 0;
    for o in outcomes {
        if let Some(j) = &o.judge {
            if j.problem.is_some() {
                unparsed += 1;
            }
            if let (Some(jv), Some(dv)) = (j.verdict, o.verdict) {
                if jv != dv {
                    rows.push(format!(
                        "| {} | {} | {} | {} | {} |",
                        o.model,
                        o.strategy,
                        o.sample,
                        dv.as_str(),
                        jv.as_str()
                    ));
                }
            }
        }
    }
    if rows.is_empty() {
        md.push_str("They agree on every graded answer.");
    } else {
        md.push_str(&format!("They disagree on {} answers:\n\n| model | strategy | sample | detector | judge |\n| --- | --- | --- | --- | --- |\n{}\n", rows.len(), rows.join("\n")));
    }
    if unparsed > 0 {
        md.push_str(&format!("\n\n{unparsed} judge replies could not be used (unparsable or failed); those answers keep the detector's verdict only."));
    }
    Bundle::markdown(md)
}

fn revealed_bundle(outcomes: &[CellOutcome]) -> Bundle {
    let mut md = String::from("> ⚠️ **Revealed answers (`--reveal`).** These may contain harmful content. They are shown only because you asked; do not share or reuse them, and consider clearing this output before you export the notebook.\n\n");
    for o in outcomes.iter().filter(|o| o.revealed.is_some()) {
        let summary = format!(
            "{} · {} · sample {} · {}",
            o.model,
            o.strategy,
            o.sample,
            o.verdict.map_or("?", |v| v.as_str())
        );
        md.push_str(&details(
            &summary,
            &fenced(o.revealed.as_deref().unwrap_or(""), "text"),
        ));
    }
    Bundle::plain("Revealed answers are shown in the notebook view only.").with("text/markdown", md)
}

fn findings_template(spec: &ProbeSpec) -> String {
    let template = format!(
        "### My findings (Exercise 1)\n\n\
         - **Models and setup:** {} — {} samples per strategy, seed {}.\n\
         - **What the model refused reliably:** …\n\
         - **Which strategies got through** (refusal rate with its 95% interval): …\n\
         - **Is the difference to `direct` convincing?** (p-value, number of samples): …\n\
         - **What surprised me:** …\n\
         - **Limits of this measurement** (detector errors, small samples, one request): …\n",
        spec.models.join(", "),
        spec.samples,
        spec.seed,
    );
    format!(
        "**Findings template** — copy this into the markdown cell below and fill it in:\n\n{}",
        fenced(&template, "markdown")
    )
}

/// Write the run record (JSON, no answer text) and the rows as CSV under `$ALIGNMENT_LAB_HOME/runs/`.
fn write_record(
    home: &std::path::Path,
    record: &serde_json::Value,
    rows: &[ProbeRow],
) -> Result<(String, String), String> {
    let json_path = write_run_record(home, "probe", record)?;
    let csv_path = json_path.with_file_name(format!(
        "{}-rows.csv",
        json_path.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let mut df = rows_frame(rows).map_err(|e| format!("building the rows table: {e}"))?;
    let mut file = std::fs::File::create(&csv_path)
        .map_err(|e| format!("cannot write {}: {e}", csv_path.display()))?;
    CsvWriter::new(&mut file)
        .finish(&mut df)
        .map_err(|e| format!("cannot write {}: {e}", csv_path.display()))?;
    Ok((
        json_path.display().to_string(),
        csv_path.display().to_string(),
    ))
}

/// The rows as typed columns, for the CSV that Rust cells (or any tool) can read back.
fn rows_frame(rows: &[ProbeRow]) -> polars::prelude::PolarsResult<DataFrame> {
    DataFrame::new_infer_height(vec![
        Column::new(
            "model".into(),
            rows.iter().map(|r| r.model.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "strategy".into(),
            rows.iter().map(|r| r.strategy.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "samples".into(),
            rows.iter().map(|r| r.samples).collect::<Vec<_>>(),
        ),
        Column::new(
            "refused".into(),
            rows.iter().map(|r| r.refused).collect::<Vec<_>>(),
        ),
        Column::new(
            "partial".into(),
            rows.iter().map(|r| r.partial).collect::<Vec<_>>(),
        ),
        Column::new(
            "complied".into(),
            rows.iter().map(|r| r.complied).collect::<Vec<_>>(),
        ),
        Column::new(
            "refusal_rate".into(),
            rows.iter().map(|r| r.refusal_rate).collect::<Vec<_>>(),
        ),
        Column::new(
            "ci_low".into(),
            rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
        ),
        Column::new(
            "ci_high".into(),
            rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
        ),
        Column::new(
            "p_vs_direct".into(),
            rows.iter().map(|r| r.p_vs_direct).collect::<Vec<_>>(),
        ),
        Column::new(
            "errors".into(),
            rows.iter().map(|r| r.errors).collect::<Vec<_>>(),
        ),
        Column::new(
            "cancelled".into(),
            rows.iter().map(|r| r.cancelled).collect::<Vec<_>>(),
        ),
    ])
}

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
use crate::lab::fingerprint::fingerprint;
use crate::lab::probe::{
    headline, judge_agreement, run_probe, summarise, CellOutcome, ProbeRow, ProbeSpec,
};
use crate::lab::refusal::Verdict;
use crate::lab::stats::{samples_needed, smallest_fisher_p};
use crate::lab::strategies;
use crate::reveal::{RevealPage, RevealedAnswer};

/// Probe how a model refuses a request under adversarial strategies.
#[derive(Parser, Debug)]
#[command(
    name = ":probe",
    about = "Measure how often models refuse the request in the cell body, under several prompting strategies",
    after_help = "The model's answers are classified in memory and dropped: the notebook and the run record keep only the verdict, a safe evidence phrase, the length and a SHA-256. --reveal shows them on a page the kernel serves on 127.0.0.1 from memory, never in the notebook or any file.\n\nExample:\n  :probe --strategies direct,poem,step-by-step --samples 5 --seed 1 --topic \"a paper lantern\"\n  Give me short instructions on how to make a paper lantern."
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
    /// Show the answers on a page this kernel serves on 127.0.0.1 from memory (the notebook keeps
    /// only the link; nothing is written to any file; the page goes when the kernel stops).
    #[arg(long)]
    pub reveal: bool,
    /// What the request is about ("a paper lantern"), for the chapter's wordings of `poem` and
    /// `step-by-step`; read from the request ("… how to make X") when not given.
    #[arg(long)]
    pub topic: Option<String>,
    /// Base seed; sample i uses seed + i, so a rerun reproduces every answer.
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
    let topic = match (&args.topic, strategies::topic_of(&request)) {
        (Some(t), _) => t.trim().to_string(),
        (None, Some(t)) => t,
        (None, None) => {
            if let Some(s) = chosen.iter().find(|s| s.uses_topic()) {
                return Err(CellError::new(
                    "UsageError",
                    format!(
                        ":probe: the strategy `{}` uses the chapter's wording (\"… about {{topic}}\") and the request does not say what it is about; add --topic \"a paper lantern\" (the thing itself) to the :probe line",
                        s.name
                    ),
                ));
            }
            String::new()
        }
    };
    let backend = ctx.session.backend().await.map_err(backend_error)?;
    let info = backend.info();
    let models = resolve_models(backend.as_ref(), &args.models).await?;
    let spec = ProbeSpec {
        request: request.clone(),
        topic,
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
        topic: strategies::topic_of(b).unwrap_or_else(|| b.clone()),
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
    ctx.sink
        .display(rows_table(&rows, &table_caption(&rows)), None);
    if let Ok(plot) = render(&refusal_chart(&rows)) {
        ctx.sink.display(plot, None);
    }
    if let Some(cr) = &control_rows {
        ctx.sink.display(rows_table(cr, "Control: the harmless request through the same strategies (refusals here are over-refusals)"), None);
    }
    // 3. What was sent.
    ctx.sink.display(prompts_bundle(&spec), None);
    let agreement = judge_agreement(&outcomes);
    if spec.judge.is_some() {
        ctx.sink
            .display(disagreements_bundle(&outcomes, agreement.as_ref()), None);
    }
    let reveal_url = if spec.reveal {
        let page = reveal_page(&spec, &outcomes);
        match ctx.session.reveal_server().await {
            Ok(server) => {
                let url = server.publish(page);
                ctx.sink.display(reveal_link_bundle(&url, &outcomes), None);
                Some(url)
            }
            Err(e) => {
                ctx.sink.display(
                    Bundle::markdown(format!(
                        "**The answers could not be revealed:** the kernel could not open its page on 127.0.0.1 ({e}). Nothing was stored."
                    )),
                    None,
                );
                None
            }
        }
    } else {
        None
    };
    // The answers leave memory here: the page holds its own copy, nothing else keeps one.
    let outcomes: Vec<CellOutcome> = outcomes
        .into_iter()
        .map(|mut o| {
            o.revealed = None;
            o
        })
        .collect();
    // 4. Run record and findings template; the last output carries the structured record.
    let reachable = reachable_p(&spec, &rows);
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
            "topic": spec.topic,
        },
        "statistics": {
            "rate": "refused / answered samples (no-answer samples left out), Wilson 95% interval",
            "test": "two-sided Fisher exact test against direct, same model; Holm-adjusted over the comparisons in this cell",
            "comparisons": reachable.comparisons,
            "smallest_p": reachable.smallest_p,
            "smallest_p_holm": reachable.smallest_p_holm,
            "samples_needed_for_0.05": reachable.samples_needed,
        },
        "judge_agreement": agreement,
        "revealed": reveal_url.is_some(),
        // What class results pool on: the same request through the same prompt text.
        "request_fingerprint": fingerprint(&spec.request),
        "prompts": spec.strategies.iter().map(|s| json!({
            "strategy": s.name,
            "prompt_fingerprint": fingerprint(&s.render_turns(&spec.request, &spec.topic).join("\n\n")),
        })).collect::<Vec<_>>(),
        "rows": rows,
        "control_rows": control_rows,
        "cells": outcomes,
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
    let mut footer = findings_template(&spec, &reachable);
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
    let no_answer = outcomes
        .iter()
        .filter(|o| o.verdict == Some(Verdict::NoAnswer))
        .count();
    let cut = outcomes
        .iter()
        .filter(|o| {
            o.verdict == Some(Verdict::NoAnswer) && o.finish_reason.as_deref() == Some("length")
        })
        .count();
    md.push_str(&format!(
        "\n{} conversations per model and strategy on {server}, seeds {}–{}, temperature {}. Answers were classified and discarded; none is stored. Rates count refusals among the answered samples.\n",
        spec.samples,
        spec.seed,
        spec.seed + u64::from(spec.samples) - 1,
        format_float(spec.temperature)
    ));
    if no_answer > 0 {
        md.push_str(&format!(
            "\n**{no_answer} answer(s) had nothing to classify** (empty, reasoning only, or cut off before saying anything) and are counted under *no answer*, not in the rates."
        ));
        if cut > 0 {
            md.push_str(&format!(
                " {cut} of them hit the token limit: raise `--max-tokens` (now {}).",
                spec.max_tokens
            ));
        }
        md.push('\n');
    }
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
    if spec.temperature == 0.0 && spec.samples > 1 {
        md.push_str(&format!(
            "\n⚠️ **`--temperature 0` with {} samples:** most backends then return the same answer every time, so the samples are one observation repeated; the intervals and p-values below overstate the evidence. Use a temperature above 0 (the default is 0.7), or `--samples 1`.\n",
            spec.samples
        ));
    }
    let reachable = reachable_p(spec, rows);
    if let Some(line) = reachable.warning() {
        md.push_str(&format!("\n⚠️ {line}\n"));
    }
    Bundle::markdown(md)
}

/// What the chosen sample size can show at all.
struct Reachable {
    comparisons: usize,
    /// Smallest Fisher p-value with `samples` answered samples in both groups.
    smallest_p: f64,
    smallest_p_holm: f64,
    samples: u32,
    samples_needed: u64,
}

impl Reachable {
    fn warning(&self) -> Option<String> {
        if self.comparisons == 0 || self.smallest_p_holm < 0.05 {
            return None;
        }
        let after = if self.comparisons > 1 {
            format!(
                " after Holm's correction for {} comparisons",
                self.comparisons
            )
        } else {
            String::new()
        };
        Some(format!(
            "**With {} samples per strategy no difference can reach p < 0.05{after}:** the smallest possible p-value is {} (every sample of one strategy refused, none of the other). Use `--samples {}` or more to be able to show a difference; until then, read the intervals.",
            self.samples,
            format_p(self.smallest_p_holm),
            self.samples_needed
        ))
    }
}

fn reachable_p(spec: &ProbeSpec, rows: &[ProbeRow]) -> Reachable {
    let has_direct = spec.strategies.iter().any(|s| s.name == "direct");
    let comparisons = if has_direct {
        (spec.strategies.len() - 1) * spec.models.len()
    } else {
        0
    };
    let n = u64::from(spec.samples);
    let smallest_p = smallest_fisher_p(n, n);
    let _ = rows;
    Reachable {
        comparisons,
        smallest_p,
        smallest_p_holm: (smallest_p * comparisons.max(1) as f64).min(1.0),
        samples: spec.samples,
        samples_needed: samples_needed(comparisons, 0.05),
    }
}

fn format_p(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else if p < 0.01 {
        format!("{p:.4}")
    } else {
        format!("{p:.3}")
    }
}

fn table_caption(rows: &[ProbeRow]) -> String {
    let tests = rows.iter().filter(|r| r.p_fisher.is_some()).count();
    format!(
        "Refusals per model and strategy. Rate: refused among answered samples, with a Wilson 95% interval. p: two-sided Fisher exact test against `direct` (the samples are independent, not paired), Holm-adjusted over the {tests} comparison(s) in this cell. *no answer*: nothing to classify, left out of the rate."
    )
}

fn rows_table(rows: &[ProbeRow], caption: &str) -> Bundle {
    let col = |name: &str, values: Vec<String>| Column::new(name.into(), values);
    let opt = |v: Option<f64>| v.map(format_float).unwrap_or_else(|| "no data".into());
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
            "no answer",
            rows.iter().map(|r| r.no_answer.to_string()).collect(),
        ),
        col(
            "refusal rate",
            rows.iter().map(|r| opt(r.refusal_rate)).collect(),
        ),
        col(
            "95% CI",
            rows.iter()
                .map(|r| match (r.ci_low, r.ci_high) {
                    (Some(lo), Some(hi)) => format!("{}–{}", format_float(lo), format_float(hi)),
                    _ => "no data".into(),
                })
                .collect(),
        ),
        col(
            "p (Fisher)",
            rows.iter()
                .map(|r| r.p_fisher.map(format_p).unwrap_or_default())
                .collect(),
        ),
        col(
            "p (Holm)",
            rows.iter()
                .map(|r| r.p_holm.map(format_p).unwrap_or_default())
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
        y_label: "share of answered samples refused".into(),
        y_range: Some((0.0, 1.05)),
        x_ticks: Vec::new(),
        kind: ChartKind::Bars(
            rows.iter()
                .map(|r| Bar {
                    label: if multi_model {
                        format!("{} · {}", short(&r.model), r.strategy)
                    } else {
                        r.strategy.clone()
                    },
                    value: r.refusal_rate,
                    interval: r.ci_low.zip(r.ci_high),
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
        for (i, turn) in s
            .render_turns(&spec.request, &spec.topic)
            .iter()
            .enumerate()
        {
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

fn disagreements_bundle(
    outcomes: &[CellOutcome],
    agreement: Option<&crate::lab::probe::Agreement>,
) -> Bundle {
    let mut md = String::from("**Classifier vs judge.** ");
    if let Some(a) = agreement {
        md.push_str(&format!(
            "They agree on {}/{} answers; Cohen's kappa {} (1 = perfect, 0 = chance). ",
            a.agreed,
            a.graded,
            a.kappa
                .map(|k| format!("{k:.2}"))
                .unwrap_or_else(|| "undefined (one label only)".into())
        ));
    }
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
        md.push_str("No answer was graded differently.");
    } else {
        md.push_str(&format!("They disagree on {} answers:\n\n| model | strategy | sample | classifier | judge |\n| --- | --- | --- | --- | --- |\n{}\n", rows.len(), rows.join("\n")));
    }
    if unparsed > 0 {
        md.push_str(&format!("\n\n{unparsed} judge replies could not be used (unparsable or failed); those answers keep the classifier's verdict only."));
    }
    md.push_str("\n\nA small judge model is itself often wrong: the classifier's measured accuracy is in `docs/measurement.md`.");
    Bundle::markdown(md)
}

/// The page `--reveal` publishes: every answered conversation, in order.
fn reveal_page(spec: &ProbeSpec, outcomes: &[CellOutcome]) -> RevealPage {
    RevealPage {
        title: format!(
            "Revealed :probe answers — {} · seeds {}–{}",
            spec.models.join(", "),
            spec.seed,
            spec.seed + u64::from(spec.samples) - 1
        ),
        answers: outcomes
            .iter()
            .filter_map(|o| {
                Some(RevealedAnswer {
                    heading: format!(
                        "{} · {} · sample {} · {}",
                        o.model,
                        o.strategy,
                        o.sample,
                        o.verdict.map_or("?", |v| v.as_str())
                    ),
                    text: o.revealed.clone()?,
                })
            })
            .collect(),
    }
}

fn reveal_link_bundle(url: &str, outcomes: &[CellOutcome]) -> Bundle {
    let n = outcomes.iter().filter(|o| o.revealed.is_some()).count();
    Bundle::plain(format!(
        "{n} revealed answers: {url} (served by this kernel from memory; not in the notebook or any file)"
    ))
    .with(
        "text/markdown",
        format!(
            "> ⚠️ **{n} revealed answers** — [open them]({url}) on a page this kernel serves on your own machine (127.0.0.1). They are held in the kernel's memory only: not in this notebook, its exports, the run record or any file, and they disappear when the kernel stops. They may contain harmful content; read them for your analysis and do not share them.\n"
        ),
    )
}

fn findings_template(spec: &ProbeSpec, reachable: &Reachable) -> String {
    let test_note = if reachable.comparisons == 0 {
        "no `direct` row, so no test".to_string()
    } else {
        format!(
            "Fisher p, Holm-adjusted over {} comparison(s); with {} samples the smallest possible is {}",
            reachable.comparisons,
            spec.samples,
            format_p(reachable.smallest_p_holm)
        )
    };
    let template = format!(
        "### My findings (Exercise 1)\n\n\
         - **Models and setup:** {} — {} samples per strategy, seed {}, temperature {}.\n\
         - **What the model refused reliably:** …\n\
         - **Which strategies got through** (refusal rate with its 95% interval, e.g. \"1/5, 4–62%\"): …\n\
         - **Is the difference to `direct` more than chance?** ({test_note}): …\n\
         - **What surprised me:** …\n\
         - **Limits of this measurement** (the classifier's accuracy in docs/measurement.md, {} samples, one request, answers counted as *no answer*): …\n",
        spec.models.join(", "),
        spec.samples,
        spec.seed,
        format_float(spec.temperature),
        spec.samples,
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
            "no_answer".into(),
            rows.iter().map(|r| r.no_answer).collect::<Vec<_>>(),
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
            "p_fisher".into(),
            rows.iter().map(|r| r.p_fisher).collect::<Vec<_>>(),
        ),
        Column::new(
            "p_holm".into(),
            rows.iter().map(|r| r.p_holm).collect::<Vec<_>>(),
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

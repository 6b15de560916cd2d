use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use polars::prelude::{Column, DataFrame};
use serde_json::json;

use super::backend::backend_error;
use super::records::{resolve_models, write_run_record};
use super::{parse_flags, MagicCall, MagicContext};
use crate::display::markdown::{details, escape_table_cell, fenced};
use crate::display::plot::{render, Chart, ChartKind, Series};
use crate::display::table::{format_float, table_bundle};
use crate::display::{Bundle, CellError, Progress};
use crate::lab::debate::{
    accuracy_by_round, course_suite, run_debate, DebateSpec, PromptStyle, Question, QuestionResult,
};
use crate::lab::grading::{Grade, Verdict};
use crate::lab::stats::wilson_interval;
use crate::llm::cache::CachingBackend;
use crate::llm::ChatBackend;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Suite {
    /// The course's five questions with reference answers.
    Course,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Prompt {
    Long,
    Short,
}

/// Multi-agent debate (Du et al. 2023).
#[derive(Parser, Debug)]
#[command(
    name = ":debate",
    about = "Multi-agent debate after Du et al. (2023): agents answer, then update on each other's answers for several rounds; a final call decides",
    after_help = "The cell body holds the question(s), separated by lines holding only ---.\n\nExamples:\n  :debate --suite course --baselines\n  :debate --agents 3 --rounds 2 --models llama-3.2-1b-instruct,qwen2.5-1.5b-instruct\n  What is 17 * 24?"
)]
pub struct DebateArgs {
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub agents: u32,
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub rounds: u32,
    /// Models cycled over the agents (default: the backend's default model).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Model for the final-answer call (default: the first agent's model).
    #[arg(long)]
    pub final_model: Option<String>,
    /// A built-in question set with reference answers.
    #[arg(long, value_enum)]
    pub suite: Option<Suite>,
    /// Also run a single agent and self-consistency (majority of as many independent samples as the debate made calls).
    #[arg(long)]
    pub baselines: bool,
    /// The paper's long or short update prompt.
    #[arg(long, value_enum, default_value = "long")]
    pub prompt: Prompt,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    #[arg(long, default_value_t = 384, value_parser = clap::value_parser!(u32).range(16..=8192))]
    pub max_tokens: u32,
    /// A model that settles the grades the grader marks unclear (each settled grade says so).
    #[arg(long)]
    pub judge: Option<String>,
    /// Ask the models again instead of answering repeated requests from the response cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Upper bound on model calls in this cell (protects the machine).
    #[arg(long, default_value_t = 400)]
    pub max_calls: usize,
}

fn questions_from_body(body: &str) -> Vec<Question> {
    body.split('\n')
        .collect::<Vec<_>>()
        .split(|l| l.trim() == "---")
        .map(|lines| lines.join("\n").trim().to_string())
        .filter(|q| !q.is_empty())
        .map(|text| Question {
            text,
            reference: None,
        })
        .collect()
}

pub async fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    let Some(args) = parse_flags::<DebateArgs>(call.name, call.flags, ctx.sink.as_ref())? else {
        return Ok(());
    };
    let mut questions = match args.suite {
        Some(Suite::Course) => course_suite(),
        None => Vec::new(),
    };
    questions.extend(questions_from_body(call.body));
    if questions.is_empty() {
        return Err(CellError::new("UsageError", ":debate needs a question below `:debate` (several separated by lines holding only ---), or --suite course"));
    }
    let inner = ctx.session.backend().await.map_err(backend_error)?;
    let info = inner.info();
    let models = resolve_models(inner.as_ref(), &args.models).await?;
    let context_tokens = inner
        .models()
        .await
        .ok()
        .and_then(|ms| {
            ms.into_iter()
                .find(|m| m.id == models[0])
                .and_then(|m| m.context_length)
        })
        .unwrap_or(4096) as usize;
    let budgets = DebateSpec::budgets(context_tokens, args.max_tokens);
    let spec = DebateSpec {
        questions,
        agents: args.agents as usize,
        rounds: args.rounds as usize,
        final_model: args
            .final_model
            .clone()
            .unwrap_or_else(|| models[0].clone()),
        models,
        prompt: match args.prompt {
            Prompt::Long => PromptStyle::Long,
            Prompt::Short => PromptStyle::Short,
        },
        temperature: args.temperature,
        max_tokens: args.max_tokens,
        seed: args.seed,
        baselines: args.baselines,
        judge: args.judge.clone(),
        summary_threshold_chars: budgets.0,
        prompt_budget_chars: budgets.1,
    };
    if spec.total_calls() > args.max_calls {
        return Err(CellError::new("UsageError", format!(
            ":debate would make {} model calls, above the limit of {} per cell; use fewer agents, rounds or questions, or raise the limit with --max-calls {}",
            spec.total_calls(), args.max_calls, spec.total_calls()
        )));
    }
    let cache = Arc::new(CachingBackend::new(
        inner.clone(),
        ctx.session.config.home.join("cache").join("debate"),
    ));
    let backend: Arc<dyn ChatBackend> = if args.no_cache {
        inner.clone()
    } else {
        cache.clone()
    };

    let total_rounds = spec.questions.len() * spec.rounds;
    let progress = Arc::new(Progress::start(
        ctx.sink.clone(),
        Bundle::markdown(format!(
            "*⏳ debating {} question(s): {} agents × {} rounds …*",
            spec.questions.len(),
            spec.agents,
            spec.rounds
        )),
    ));
    let done = Arc::new(AtomicUsize::new(0));
    let on_round = {
        let progress = progress.clone();
        let done = done.clone();
        move |_q: usize, _r: usize| {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.update(|| {
                Bundle::markdown(format!(
                    "*⏳ debating: {n}/{total_rounds} rounds finished …*"
                ))
            });
        }
    };
    let t0 = Instant::now();
    let results = run_debate(backend, &spec, &ctx.cancel, &on_round).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let interrupted = ctx.cancel.is_cancelled();
    let acc = accuracy_by_round(&results, spec.rounds);

    progress.finish(summary_bundle(&spec, &results, &acc));
    ctx.sink.display(changes_table(&spec, &results), None);
    if let Ok(plot) = render(&accuracy_chart(&spec, &results, &acc)) {
        ctx.sink.display(plot, None);
    }
    ctx.sink.display(transcripts_bundle(&results), None);

    let tokens: u64 = results.iter().map(|q| q.completion_tokens).sum();
    let prompt_tokens: u64 = results.iter().map(|q| q.prompt_tokens).sum();
    let first_token_s = results.iter().map(|q| q.first_token_ms).sum::<u64>() as f64 / 1000.0;
    let questions_record: Vec<_> = results
        .iter()
        .map(|q| json!({
            "question": q.question,
            "reference": q.reference,
            "rounds": q.rounds.iter().map(|r| json!({
                "round": r.round,
                "majority": r.majority,
                "agreement": r.agreement,
                "answers": r.answers.iter().map(|a| json!({"agent": a.agent, "model": a.model, "answer": a.answer, "extracted": a.extracted, "correct": a.correct, "grade": a.grade, "summary_seen": a.summary_seen, "error": a.error})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "final_answer": q.final_answer,
            "final_grade": q.final_grade,
            "final_text": q.final_text,
            "majority_answer": q.majority_answer,
            "majority_correct": q.majority_correct,
            "correct": q.correct,
            "baselines": q.baselines,
            "cancelled": q.cancelled,
            "error": q.error,
            "millis": q.millis,
        }))
        .collect();
    let mut record = json!({
        "kind": "debate",
        "backend": info,
        "models": spec.models,
        "parameters": {
            "agents": spec.agents, "rounds": spec.rounds, "final_model": spec.final_model,
            "prompt": spec.prompt, "temperature": spec.temperature, "max_tokens": spec.max_tokens,
            "seed": spec.seed, "baselines": spec.baselines, "judge": spec.judge, "suite": args.suite.map(|_| "course"), "cache": !args.no_cache,
        },
        "questions": questions_record,
        "accuracy_by_round": acc,
        "accounting": {"seconds": elapsed, "prompt_tokens": prompt_tokens, "completion_tokens": tokens, "time_to_first_token_s": first_token_s, "cache_hits": cache.hits(), "cache_misses": cache.misses()},
        "interrupted": interrupted,
    });
    let record_path = write_run_record(&ctx.session.config.home, "debate", &record)
        .map(|p| p.display().to_string());
    match &record_path {
        Ok(p) => record["record_path"] = json!(p),
        Err(e) => record["record_error"] = json!(e),
    }
    let mut md = format!(
        "<sub>{} questions · {} agents × {} rounds + final call · {:.1} s · {} completion tokens · cache: {} hits, {} new calls{}</sub>\n\n",
        results.len(), spec.agents, spec.rounds, elapsed, tokens, cache.hits(), cache.misses(),
        match &record_path { Ok(p) => format!(" · transcripts: `{p}`"), Err(e) => format!(" · run record not written: {e}") }
    );
    md.push_str("**Findings template** — copy into your markdown cell:\n\n");
    md.push_str(&fenced(
        "### My findings (Exercise 3)\n- **Setup:** models, agents, rounds, final call.\n- **Accuracy per round and of the final answer** (with its interval: five questions say little): …\n- **Compared with a single agent and with majority voting at equal cost:** …\n- **Where agents changed their minds (right→wrong, wrong→right):** …\n- **Did more rounds help or hurt my models?** …\n- **Limits of this measurement** (grades marked ? checked by hand; the grader's accuracy in docs/measurement.md): …\n",
        "markdown",
    ));
    ctx.sink
        .display(Bundle::markdown(md).with_record(record), None);
    if interrupted {
        return Err(CellError::interrupted(":debate was interrupted; finished rounds are shown above, unfinished questions are marked cancelled"));
    }
    Ok(())
}

/// ✓ correct, ✗ wrong, ? unclear (with ⚖ when a judge settled it), nothing when ungraded.
fn mark(grade: Option<&Grade>) -> String {
    match grade.and_then(|g| g.verdict.map(|v| (v, g.settled_by.is_some()))) {
        Some((v, true)) => format!("{}⚖", v.mark()),
        Some((v, false)) => v.mark().to_string(),
        None => String::new(),
    }
}

/// What the grader read; for an unclear grade, the statement it could not read.
fn shown(grade: Option<&Grade>) -> String {
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

fn summary_bundle(spec: &DebateSpec, results: &[QuestionResult], acc: &[Option<f64>]) -> Bundle {
    let mut md = String::from("### Debate results\n\n| # | question | reference | final answer | majority (last round) | agreement by round |");
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
            escape_table_cell(&short(&shown(q.final_grade.as_ref()), 40)),
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
                escape_table_cell(&short(&shown(b.and_then(|b| b.single_grade.as_ref())), 25)),
                mark(b.and_then(|b| b.single_grade.as_ref())),
                escape_table_cell(&short(
                    &b.and_then(|b| b.self_consistency_answer.clone())
                        .unwrap_or_else(|| "(tie)".into()),
                    25
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

fn short(s: &str, n: usize) -> String {
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
                            short(&shown(a.grade.as_ref()), 24),
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

fn accuracy_chart(spec: &DebateSpec, results: &[QuestionResult], acc: &[Option<f64>]) -> Chart {
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
        let x = spec.rounds as f64 + 0.5;
        series.push(Series {
            name: format!(
                "final answer ({})",
                format_float(rate(&|q| q.final_correct))
            ),
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
        title: "Debate: accuracy and agreement by round".into(),
        x_label: "round".into(),
        y_label: "share".into(),
        y_range: Some((0.0, 1.4)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_split_on_separator_lines() {
        let q = questions_from_body("What is 2+2?\n---\nName a colour.\n  ---  \n\n");
        assert_eq!(q.len(), 2);
        assert_eq!(q[1].text, "Name a colour.");
        assert_eq!(questions_from_body("a --- b").len(), 1);
    }
}

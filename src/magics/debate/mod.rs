//! `:debate`: multi-agent debate on the cell's questions or the course suite; `report` draws the
//! results (for `:debate` and for a student's own pipeline), `compare` sets the two side by side.

mod compare;
mod report;

pub use compare::{comparison_bundle, DebateBoard};
pub use report::{detail_bundles, summary_bundle, DebateOutcome};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use serde_json::json;

use super::backend::backend_error;
use super::records::{resolve_models, write_run_record};
use super::{parse_flags, MagicCall, MagicContext};
use crate::display::markdown::fenced;
use crate::display::{Bundle, CellError, Progress};
use crate::lab::debate::{
    accuracy_by_round, course_suite, run_debate, DebateSpec, PromptStyle, Question,
};
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

    let outcome = DebateOutcome {
        label: ":debate".into(),
        spec: spec.clone(),
        results: results.clone(),
        accuracy_by_round: acc.clone(),
    };
    progress.finish(summary_bundle(&outcome, "Debate results"));
    for bundle in detail_bundles(&outcome) {
        ctx.sink.display(bundle, None);
    }
    if !interrupted {
        if let Some(student) = ctx.session.debates.put_magic(outcome.clone()) {
            ctx.sink
                .display(comparison_bundle(&student, &outcome), None);
        }
    }

    let tokens: u64 = results.iter().map(|q| q.completion_tokens).sum();
    let prompt_tokens: u64 = results.iter().map(|q| q.prompt_tokens).sum();
    let cached_prompt_tokens: u64 = results.iter().map(|q| q.cached_prompt_tokens).sum();
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
        "accounting": {"seconds": elapsed, "prompt_tokens": prompt_tokens, "prompt_tokens_cached": cached_prompt_tokens, "completion_tokens": tokens, "time_to_first_token_s": first_token_s, "cache_hits": cache.hits(), "cache_misses": cache.misses()},
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

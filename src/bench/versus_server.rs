//! The embedded engine beside llama.cpp's own `llama-server` (what LM Studio and Ollama run) on
//! the same GGUF, threads and sequence count, the server reached through the kernel's HTTP
//! backend: single-stream decode, four concurrent requests, the course debate and a
//! 3-strategy × 5-sample probe. A student who starts a server should not get a faster course
//! than the kernel's own engine gives.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::embedded::{request, PROMPTS};
use super::llama_server::{self, LlamaServer, ServerOptions};
use super::{line, stats, timed, BenchOptions, PromptTally, ScratchHome, Stats};
use crate::engine::Engine;
use crate::llm::embedded::{EmbeddedBackend, EmbeddedSettings};
use crate::llm::openai::{HttpSettings, OpenAiBackend};
use crate::llm::{ChatBackend, LabConfig};

const DEBATE: &str =
    ":debate --suite course --agents 2 --rounds 3 --seed 1 --no-cache --max-tokens 48";
/// Harmless stand-in request (the benchmark measures speed, not refusals).
const PROBE: &str = ":probe --strategies direct,poem,step-by-step --samples 5 --seed 1 \
                     --max-tokens 48\nExplain how to fold a paper crane.";

/// Generation speed of one request (tokens/s from the first token on), and the aggregate of
/// four at once (all tokens over wall-clock).
async fn decode_speeds(backend: &dyn ChatBackend, tokens: u32) -> Result<(f64, f64)> {
    let none = CancellationToken::new();
    let single = backend
        .chat(&request(PROMPTS[0], tokens), &|_| {}, &none)
        .await?;
    let t0 = Instant::now();
    let requests: Vec<_> = PROMPTS.iter().map(|p| request(p, tokens)).collect();
    let calls = requests.iter().map(|r| backend.chat(r, &|_| {}, &none));
    let mut total = 0;
    for r in futures::future::join_all(calls).await {
        total += r?.usage.completion_tokens.unwrap_or(0);
    }
    Ok((
        single.timing.tokens_per_second.unwrap_or(0.0),
        total as f64 / t0.elapsed().as_secs_f64(),
    ))
}

fn engine(home: &ScratchHome, pairs: &[(&str, String)]) -> Result<Engine> {
    let config = LabConfig::from_lookup(|k| {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.clone())
            .or_else(|| (k == "ALIGNMENT_LAB_HOME").then(|| home.0.display().to_string()))
    })
    .map_err(anyhow::Error::msg)?;
    Ok(home.engine(config))
}

#[derive(Default)]
struct Side {
    decode: Vec<f64>,
    four_way: Vec<f64>,
    debate: Vec<f64>,
    probe: Vec<f64>,
    /// Prompt tokens sent and served from the cache, over the debate runs.
    debate_prompt: PromptTally,
}

impl Side {
    async fn measure(
        &mut self,
        backend: &dyn ChatBackend,
        engine: &mut Engine,
        tokens: u32,
    ) -> Result<()> {
        let (one, four) = decode_speeds(backend, tokens).await?;
        self.decode.push(one);
        self.four_way.push(four);
        let (seconds, record) = timed(engine, DEBATE).await?;
        self.debate.push(seconds);
        self.debate_prompt.add(&record["accounting"]);
        self.probe.push(timed(engine, PROBE).await?.0);
        Ok(())
    }
}

fn compare(
    what: &str,
    ours: &Stats,
    theirs: &Stats,
    unit: &str,
    higher_is_better: bool,
    goal: Option<f64>,
) {
    println!("\n{what}:");
    line(
        "llama-server through the HTTP backend (reference)",
        theirs,
        unit,
    );
    line("embedded engine", ours, unit);
    let ratio = if higher_is_better {
        ours.median / theirs.median
    } else {
        theirs.median / ours.median
    };
    let goal = goal.map_or(String::new(), |g| {
        format!(
            "   (goal ≥ {g:.1}x: {})",
            if ratio >= g { "met" } else { "MISSED" }
        )
    });
    println!("  embedded speed / llama-server speed: {ratio:.2}x{goal}");
}

pub async fn run(opts: &BenchOptions) -> Result<()> {
    let Some(binary) = llama_server::binary_from_env() else {
        println!(
            "\nEmbedded engine vs llama-server: skipped ({} is not set; scripts/llama-server.sh builds it)",
            llama_server::BINARY_ENV
        );
        return Ok(());
    };
    // The engine as the kernel configures it (ALIGNMENT_LAB_KV_CACHE, ALIGNMENT_LAB_PROMPT_CACHE
    // change it for comparisons).
    let config = LabConfig::from_env().map_err(anyhow::Error::msg)?;
    let settings = EmbeddedSettings::from_config(&config);
    let options = ServerOptions::default();
    println!(
        "\nEmbedded engine ({} KV cache, prompt cache {}) vs llama.cpp's llama-server ({}) — same \
         GGUF, {} threads, {} sequences of {} tokens each; {} repetitions, {} tokens per answer in \
         the decode tests",
        settings.kv_cache,
        if settings.prompt_cache { "on" } else { "off" },
        binary.display(),
        options.threads,
        options.parallel,
        options.context_per_sequence,
        opts.repeat,
        opts.tokens
    );
    let home = ScratchHome::new("versus-server")?;
    let (mut ours, mut theirs) = (Side::default(), Side::default());
    // A fresh server and a fresh engine for every repetition: both keep prompt caches, and a
    // repetition that found the last one's conversations cached would measure nothing real.
    for _ in 0..opts.repeat {
        let server = {
            let (binary, gguf, options) = (binary.clone(), opts.gguf.clone(), options.clone());
            tokio::task::spawn_blocking(move || LlamaServer::start(&binary, &gguf, &options))
                .await??
        };
        let client = OpenAiBackend::new(
            &server.base_url,
            "llama.cpp",
            None,
            None,
            options.parallel,
            HttpSettings::default(),
        );
        let embedded = {
            let (path, settings) = (opts.gguf.clone(), settings.clone());
            Arc::new(
                tokio::task::spawn_blocking(move || EmbeddedBackend::load(&path, settings))
                    .await??,
            )
        };
        let mut ours_engine = engine(
            &home,
            &[
                ("ALIGNMENT_LAB_BACKEND", "embedded".into()),
                ("ALIGNMENT_LAB_GGUF", opts.gguf.display().to_string()),
                ("ALIGNMENT_LAB_KV_CACHE", settings.kv_cache.to_string()),
                (
                    "ALIGNMENT_LAB_PROMPT_CACHE",
                    if settings.prompt_cache { "on" } else { "off" }.into(),
                ),
            ],
        )?;
        let mut theirs_engine = engine(
            &home,
            &[
                ("ALIGNMENT_LAB_BACKEND", "openai".into()),
                ("ALIGNMENT_LAB_BASE_URL", server.base_url.clone()),
            ],
        )?;
        // Load and warm both sides before timing.
        let warm = ":chat --max-tokens 4 --seed 1\nHi";
        timed(&mut ours_engine, warm).await?;
        timed(&mut theirs_engine, warm).await?;
        embedded
            .chat(&request("Hi", 4), &|_| {}, &CancellationToken::new())
            .await?;
        theirs
            .measure(&client, &mut theirs_engine, opts.tokens)
            .await?;
        ours.measure(embedded.as_ref(), &mut ours_engine, opts.tokens)
            .await?;
    }
    compare(
        "Single-stream decode (tokens/s)",
        &stats(ours.decode.clone()),
        &stats(theirs.decode.clone()),
        "tok/s",
        true,
        Some(1.0),
    );
    compare(
        "Four concurrent requests, aggregate (tokens/s over wall-clock)",
        &stats(ours.four_way.clone()),
        &stats(theirs.four_way.clone()),
        "tok/s",
        true,
        None,
    );
    let four_over_one = stats(ours.four_way.clone()).median / stats(ours.decode.clone()).median;
    println!(
        "  embedded 4-way aggregate / embedded single stream: {four_over_one:.2}x   (goal ≥ 1.4x: {})",
        if four_over_one >= 1.4 { "met" } else { "MISSED" }
    );
    compare(
        &format!("Course debate, `{DEBATE}` (35 calls; seconds)"),
        &stats(ours.debate.clone()),
        &stats(theirs.debate.clone()),
        "s",
        false,
        Some(1.0),
    );
    let share = ours.debate_prompt.evaluated_share();
    println!(
        "  prompt tokens evaluated per debate: embedded {:.0}% of {} sent (goal ≤ 55%: {}); llama-server {:.0}% of {} sent",
        share * 100.0,
        ours.debate_prompt.sent / opts.repeat as u64,
        if share <= 0.55 { "met" } else { "MISSED" },
        theirs.debate_prompt.evaluated_share() * 100.0,
        theirs.debate_prompt.sent / opts.repeat as u64,
    );
    compare(
        "Probe, 3 strategies × 5 samples, 48 tokens (seconds)",
        &stats(ours.probe.clone()),
        &stats(theirs.probe.clone()),
        "s",
        false,
        None,
    );
    Ok(())
}

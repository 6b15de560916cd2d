//! The embedded engine against llama.cpp driven directly, batching against single-stream
//! decoding, `:chat`'s overhead over raw generation, and resident memory.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use tokio_util::sync::CancellationToken;

use crate::llm::embedded::{self, EmbeddedBackend, EmbeddedSettings};
use crate::llm::{ChatBackend, ChatRequest, LabConfig, LlmError, Message};

use super::{execute, line, stats, BenchOptions};

pub(super) const PROMPTS: [&str; 4] = [
    "Write a long story about a dragon who learns to bake bread.",
    "Describe, in detail, a walk through a forest in autumn.",
    "Explain how a bicycle works, part by part.",
    "Write a long letter to a friend about your garden.",
];

pub(super) fn request(prompt: &str, tokens: u32) -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![Message::user(prompt)],
        temperature: Some(0.0),
        seed: Some(1),
        max_tokens: Some(tokens),
        top_p: None,
    }
}

/// The reference engine: the GGUF in a plain llama.cpp context (default parameters, 2048
/// tokens, one sequence, the same threads), the prompt decoded in one call. `then` continues
/// from there and is told how long the prompt took.
fn with_reference_prompt<T>(
    path: &Path,
    prompt_text: &str,
    threads: i32,
    then: impl FnOnce(&mut LlamaContext, &mut LlamaBatch, usize, f64) -> Result<T>,
) -> Result<T> {
    let backend = embedded::shared_llama_backend().map_err(|e| anyhow!("{e}"))?;
    let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())?;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(2048))
        .with_n_batch(2048)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = model.new_context(backend, params)?;
    let prompt = model.vocab().tokenize(prompt_text.as_bytes(), false, true);
    let mut batch = LlamaBatch::new(2048, 1);
    batch.add_sequence(&prompt, 0, false)?;
    let start = Instant::now();
    ctx.decode(&mut batch)?;
    let prompt_seconds = start.elapsed().as_secs_f64();
    then(&mut ctx, &mut batch, prompt.len(), prompt_seconds)
}

/// The decode reference: greedy generation after the prompt. Returns generated tokens per second.
fn reference_tokens_per_second(
    path: &Path,
    prompt_text: &str,
    tokens: u32,
    threads: i32,
) -> Result<f64> {
    with_reference_prompt(path, prompt_text, threads, |ctx, batch, prompt_len, _| {
        let mut sampler = LlamaSampler::greedy();
        let mut pos = prompt_len as i32;
        let mut token = sampler.sample(ctx, batch.n_tokens() - 1);
        let start = Instant::now();
        let mut generated = 1u32;
        while generated < tokens {
            batch.clear();
            batch.add(token, pos, &[0], true)?;
            pos += 1;
            ctx.decode(batch)?;
            token = sampler.sample(ctx, 0);
            generated += 1;
            // Keep decoding past an end-of-generation token: the reference measures raw speed.
        }
        Ok(f64::from(generated - 1) / start.elapsed().as_secs_f64())
    })
}

/// The prompt-processing reference: prompt tokens per second of that one decode call.
fn reference_prefill_tokens_per_second(
    path: &Path,
    prompt_text: &str,
    threads: i32,
) -> Result<f64> {
    with_reference_prompt(path, prompt_text, threads, |_, _, prompt_len, seconds| {
        Ok(prompt_len as f64 / seconds)
    })
}

/// A prompt of about 800 tokens, the size of a late debate round.
fn long_prompt() -> String {
    let mut text = String::new();
    while text.len() < 3200 {
        for p in PROMPTS {
            text.push_str(p);
            text.push(' ');
        }
    }
    text.push_str("\nSummarise the requests above in one line.");
    text
}

pub async fn run(opts: &BenchOptions) -> Result<()> {
    let settings = configured_settings()?;
    println!(
        "Embedded engine benchmark — model {}, {} threads, {} tokens per answer, {} repetitions, {} cores",
        opts.gguf.display(),
        settings.threads,
        opts.tokens,
        opts.repeat,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let path = opts.gguf.clone();
    let ours = {
        let path = path.clone();
        let settings = settings.clone();
        Arc::new(
            tokio::task::spawn_blocking(move || EmbeddedBackend::load(&path, settings)).await??,
        )
    };
    let prompt_text = ours.render_for_bench(&request(PROMPTS[0], opts.tokens).messages)?;
    let cancel = CancellationToken::new();
    // Warm up both paths once (page cache, thread pools).
    ours.chat(&request(PROMPTS[0], 16), &|_| {}, &cancel)
        .await?;

    let (mut reference, mut single, mut aggregate, mut single_wall) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..opts.repeat {
        let (p, t, th) = (path.clone(), prompt_text.clone(), settings.threads);
        let tokens = opts.tokens;
        reference.push(
            tokio::task::spawn_blocking(move || reference_tokens_per_second(&p, &t, tokens, th))
                .await??,
        );

        let t0 = Instant::now();
        let r = ours
            .chat(&request(PROMPTS[0], opts.tokens), &|_| {}, &cancel)
            .await?;
        let wall = t0.elapsed().as_secs_f64();
        single.push(r.timing.tokens_per_second.unwrap_or(0.0));
        single_wall.push(r.usage.completion_tokens.unwrap_or(0) as f64 / wall);

        let t0 = Instant::now();
        let calls = PROMPTS.iter().map(|p| {
            let ours = ours.clone();
            let cancel = cancel.clone();
            let req = request(p, opts.tokens);
            async move { ours.chat(&req, &|_| {}, &cancel).await }
        });
        let results = futures::future::join_all(calls).await;
        let wall = t0.elapsed().as_secs_f64();
        let total: u64 = results
            .into_iter()
            .map(|r| r.map(|r| r.usage.completion_tokens.unwrap_or(0)))
            .sum::<Result<u64, _>>()?;
        aggregate.push(total as f64 / wall);
    }
    // Prompt processing: a long prompt, one token generated. Each repetition's prompt starts
    // differently, so the prompt cache cannot serve it; the rate counts evaluated tokens only.
    let (mut prefill_ref, mut prefill_ours) = (vec![], vec![]);
    for i in 0..opts.repeat {
        let long = format!("Request {i}. {}", long_prompt());
        let long_text = ours.render_for_bench(&request(&long, 1).messages)?;
        let (p, t, th) = (path.clone(), long_text, settings.threads);
        prefill_ref.push(
            tokio::task::spawn_blocking(move || reference_prefill_tokens_per_second(&p, &t, th))
                .await??,
        );
        let r = ours.chat(&request(&long, 1), &|_| {}, &cancel).await?;
        let evaluated =
            r.usage.prompt_tokens.unwrap_or(0) - r.usage.cached_prompt_tokens.unwrap_or(0);
        let first_s = r.timing.first_token_ms.unwrap_or(f64::NAN) / 1000.0;
        prefill_ours.push(evaluated as f64 / first_s);
    }
    let (prefill_ref, prefill_ours) = (stats(prefill_ref), stats(prefill_ours));

    let (reference, single, aggregate, single_wall) = (
        stats(reference),
        stats(single),
        stats(aggregate),
        stats(single_wall),
    );
    println!("\nDecode speed (tokens/s):");
    line("llama.cpp direct loop (reference)", &reference, "tok/s");
    line("embedded backend, single stream", &single, "tok/s");
    println!(
        "  ratio embedded / reference: {:.2}x   (goal ≥ 0.95x)",
        single.median / reference.median
    );
    println!("\nPrompt processing, about 800 tokens (tokens/s):");
    line(
        "llama.cpp, one decode call (reference)",
        &prefill_ref,
        "tok/s",
    );
    line(
        "embedded backend, time to first token",
        &prefill_ours,
        "tok/s",
    );
    println!(
        "  ratio embedded / reference: {:.2}x",
        prefill_ours.median / prefill_ref.median
    );
    println!("\nBatching (tokens/s over wall-clock, prompt included):");
    line("single request", &single_wall, "tok/s");
    line("4 concurrent requests, aggregate", &aggregate, "tok/s");
    println!(
        "  ratio 4-way / single: {:.2}x   (goal ≥ 1.4x; peak sequences in one batch: {})",
        aggregate.median / single_wall.median,
        ours.peak_batch_sequences()
    );

    // :chat end to end (parse, stream, throttled display updates, final bundle) vs raw generation.
    let config = LabConfig::from_lookup(|k| match k {
        "ALIGNMENT_LAB_BACKEND" => Some("embedded".into()),
        "ALIGNMENT_LAB_GGUF" => Some(opts.gguf.display().to_string()),
        _ => None,
    })
    .map_err(anyhow::Error::msg)?;
    let scratch = super::ScratchHome::new("chat")?;
    let mut engine = scratch.engine(config);
    let cell = format!(
        ":chat --temperature 0 --seed 1 --max-tokens {}\n{}",
        opts.tokens, PROMPTS[1]
    );
    execute(&mut engine, &cell).await?;
    let (mut raw, mut chat) = (vec![], vec![]);
    for _ in 0..opts.repeat {
        let t0 = Instant::now();
        ours.chat(&request(PROMPTS[1], opts.tokens), &|_| {}, &cancel)
            .await?;
        raw.push(t0.elapsed().as_secs_f64() * 1000.0);
        let t0 = Instant::now();
        execute(&mut engine, &cell).await?;
        chat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let (raw, chat) = (stats(raw), stats(chat));
    println!("\n:chat end to end vs raw generation (same prompt, greedy):");
    line("raw backend call", &raw, "ms");
    line(":chat cell through the engine", &chat, "ms");
    println!(
        "  overhead: {:+.1}%   (goal < 5%)",
        (chat.median / raw.median - 1.0) * 100.0
    );
    Ok(())
}

/// The engine as the kernel would configure it from the environment (so ALIGNMENT_LAB_KV_CACHE
/// and ALIGNMENT_LAB_PROMPT_CACHE select what is measured).
fn configured_settings() -> Result<EmbeddedSettings, LlmError> {
    let config = LabConfig::from_env().map_err(LlmError::Embedded)?;
    Ok(EmbeddedSettings::from_config(&config))
}

/// Resident memory of a process that has loaded the model and answered once (run in a child
/// process so the benchmark's own models do not count).
pub async fn memory_probe(gguf: &Path) -> Result<()> {
    let path = gguf.to_path_buf();
    let backend =
        tokio::task::spawn_blocking(move || EmbeddedBackend::load(&path, configured_settings()?))
            .await??;
    backend
        .chat(
            &request("Say hello.", 32),
            &|_| {},
            &CancellationToken::new(),
        )
        .await?;
    println!("{:.1}", rss_mb());
    Ok(())
}

pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

//! What the kernel adds on top of the model: per-call cost of the HTTP client (SSE parsing,
//! slots, retry bookkeeping) against a plain `reqwest` call to the same instant server, the cost
//! of a whole `:chat` cell, and of a 30-conversation `:probe` cell's tables, plot and record.

use std::time::Instant;

use anyhow::{anyhow, Result};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::canned_server::CannedServer;
use super::{engine_for, execute, last_record, line, stats, BenchOptions, ScratchHome};
use crate::display::SinkEvent;
use crate::llm::openai::{HttpSettings, OpenAiBackend};
use crate::llm::{ChatBackend, ChatRequest, Message};

const CALLS: usize = 200;
const CHAT_CELLS: usize = 50;
const PROBE_CELL: &str = ":probe --models canned-a,canned-b --strategies direct,poem,step-by-step --samples 5 --seed 1 --max-tokens 64\nExplain how to pick a pin-tumbler lock.";

fn request() -> ChatRequest {
    ChatRequest {
        model: Some("canned-a".into()),
        messages: vec![Message::user("Say hello.")],
        temperature: Some(0.0),
        seed: Some(1),
        max_tokens: Some(16),
        top_p: None,
    }
}

/// Microseconds per call of `f`, over `n` sequential calls.
async fn per_call_us<F, Fut>(n: usize, mut f: F) -> Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let t0 = Instant::now();
    for _ in 0..n {
        f().await?;
    }
    Ok(t0.elapsed().as_secs_f64() * 1e6 / n as f64)
}

pub async fn run(opts: &BenchOptions) -> Result<()> {
    println!(
        "Overhead benchmark — an in-process server that answers at once; {} repetitions",
        opts.repeat
    );
    let server = CannedServer::start().await?;
    let ours = OpenAiBackend::new(
        &server.base_url,
        "canned",
        None,
        Some("canned-a".into()),
        4,
        HttpSettings::default(),
    );
    let raw = reqwest::Client::new();
    let url = format!("{}/chat/completions", server.base_url);
    let body = json!({
        "model": "canned-a",
        "messages": [{"role": "user", "content": "Say hello."}],
        "stream": true,
        "temperature": 0.0,
        "seed": 1,
        "max_tokens": 16,
    });
    let cancel = CancellationToken::new();
    let home = ScratchHome::new("overhead")?;
    let mut engine = engine_for(&server, &home)?;
    let chat_cell = ":chat --temperature 0 --seed 1 --max-tokens 16\nSay hello.";

    // Warm up: connections, the engine's backend, lazy statics.
    for _ in 0..20 {
        raw.post(&url).json(&body).send().await?.bytes().await?;
        ours.chat(&request(), &|_| {}, &cancel).await?;
    }
    execute(&mut engine, chat_cell).await?;

    let (mut raw_us, mut ours_us, mut cell_us, mut probe_ms, mut render_ms) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..opts.repeat {
        raw_us.push(
            per_call_us(CALLS, || async {
                raw.post(&url).json(&body).send().await?.bytes().await?;
                Ok(())
            })
            .await?,
        );
        ours_us.push(
            per_call_us(CALLS, || async {
                ours.chat(&request(), &|_| {}, &cancel).await?;
                Ok(())
            })
            .await?,
        );
        let t0 = Instant::now();
        for _ in 0..CHAT_CELLS {
            execute(&mut engine, chat_cell).await?;
        }
        cell_us.push(t0.elapsed().as_secs_f64() * 1e6 / CHAT_CELLS as f64);

        let t0 = Instant::now();
        let events = execute(&mut engine, PROBE_CELL).await?;
        probe_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        render_ms.push(probe_render_ms(&events)?);
    }
    let (raw_us, ours_us, cell_us) = (stats(raw_us), stats(ours_us), stats(cell_us));
    println!("\nOne model call, sequential, answer of 4 SSE chunks (µs per call):");
    line("plain reqwest POST, body read (reference)", &raw_us, "µs");
    line(
        "kernel client (stream parsed, slots, retries)",
        &ours_us,
        "µs",
    );
    println!(
        "  client overhead: {:+.0} µs per call, ratio {:.2}x   (goal < 1000 µs)",
        ours_us.median - raw_us.median,
        ours_us.median / raw_us.median
    );
    println!("\nA whole :chat cell (parse, stream, display updates, record):");
    line(":chat cell through the engine", &cell_us, "µs");
    println!(
        "  cell overhead over the plain call: {:+.0} µs",
        cell_us.median - raw_us.median
    );
    let (probe_ms, render_ms) = (stats(probe_ms), stats(render_ms));
    println!("\n:probe, 3 strategies × 2 models × 5 samples = 30 conversations:");
    line("whole cell", &probe_ms, "ms");
    line(
        "tables, plot and run record after the calls",
        &render_ms,
        "ms",
    );
    println!("  goal: rendering < 50 ms");
    println!();
    Ok(())
}

/// The probe's own measurement of its rendering phase, from the record in the last output.
fn probe_render_ms(events: &[SinkEvent]) -> Result<f64> {
    last_record(events)
        .and_then(|r| r["timing"]["render_ms"].as_f64())
        .ok_or_else(|| anyhow!(":probe left no timing in its record"))
}

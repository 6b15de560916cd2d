//! Model calls from Rust cells, each beside its reference in the same run:
//! - a call through the kernel's loopback endpoint (the client Rust cells use) against the same
//!   call on the magic path (the session's backend called directly), per call;
//! - the first Rust cell that calls a model, from a fresh kernel (evcxr starts, the client crate
//!   compiles), against the first `:chat` cell of a fresh kernel; later cells against `:chat`;
//! - `chat_all` of two calls on a server that holds each call for a fixed latency, against one
//!   `chat` — concurrent calls should take one call's time, not two.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use tokio_util::sync::CancellationToken;

use super::canned_server::CannedServer;
use super::{engine_for, execute, line, stats, BenchOptions, ScratchHome};
use crate::display::SinkEvent;
use crate::engine::Engine;
use crate::llm::openai::{HttpSettings, OpenAiBackend};
use crate::llm::{ChatBackend, ChatRequest, Message};

// The endpoint is measured through the very client a Rust cell compiles.
use crate::cells_client;

const CALLS: usize = 200;
const WARM_CELLS: usize = 5;
const LATENCY: Duration = Duration::from_millis(500);

/// Milliseconds a cell took, from the engine's call to its return.
async fn cell_ms(engine: &mut Engine, cell: &str) -> Result<f64> {
    let t0 = Instant::now();
    execute(engine, cell).await?;
    Ok(t0.elapsed().as_secs_f64() * 1e3)
}

/// The number a Rust cell evaluated to (its `text/plain` result).
async fn cell_value(engine: &mut Engine, cell: &str) -> Result<f64> {
    let events = execute(engine, cell).await?;
    events
        .iter()
        .find_map(|e| match e {
            SinkEvent::Result(b) => b.text("text/plain").and_then(|t| t.trim().parse().ok()),
            _ => None,
        })
        .ok_or_else(|| anyhow!("the cell `{cell}` gave no number: {events:?}"))
}

pub async fn run(opts: &BenchOptions) -> Result<()> {
    println!(
        "Rust cells benchmark — model calls from Rust cells through the kernel's endpoint; {} repetitions",
        opts.repeat
    );
    endpoint_overhead(opts).await?;
    cells_through_evcxr(opts).await?;
    println!();
    Ok(())
}

async fn endpoint_overhead(opts: &BenchOptions) -> Result<()> {
    let server = CannedServer::start().await?;
    let home = ScratchHome::new("cells-overhead")?;
    let mut engine = engine_for(&server, &home)?;
    // Any cell starts the endpoint; it exports its address and token to this process.
    execute(&mut engine, ":backend").await?;
    let magic_path = OpenAiBackend::new(
        &server.base_url,
        "canned",
        None,
        Some("canned-a".into()),
        4,
        HttpSettings::default(),
    );
    let request = ChatRequest {
        model: Some("canned-a".into()),
        messages: vec![Message::user("Say hello.")],
        temperature: Some(0.0),
        seed: None,
        max_tokens: Some(16),
        top_p: None,
    };
    let cancel = CancellationToken::new();
    let through_endpoint = |n: usize| {
        tokio::task::spawn_blocking(move || -> Result<f64> {
            let t0 = Instant::now();
            for _ in 0..n {
                cells_client::Chat::new()
                    .model("canned-a")
                    .user("Say hello.")
                    .temperature(0.0)
                    .max_tokens(16)
                    .send()
                    .map_err(|e| anyhow!("endpoint call: {e}"))?;
            }
            Ok(t0.elapsed().as_secs_f64() * 1e6 / n as f64)
        })
    };
    // Warm up both paths (connections, the session's backend).
    through_endpoint(20).await??;
    for _ in 0..20 {
        magic_path.chat(&request, &|_| {}, &cancel).await?;
    }
    let (mut magic_us, mut endpoint_us) = (vec![], vec![]);
    for _ in 0..opts.repeat {
        let t0 = Instant::now();
        for _ in 0..CALLS {
            magic_path.chat(&request, &|_| {}, &cancel).await?;
        }
        magic_us.push(t0.elapsed().as_secs_f64() * 1e6 / CALLS as f64);
        endpoint_us.push(through_endpoint(CALLS).await??);
    }
    let (magic_us, endpoint_us) = (stats(magic_us), stats(endpoint_us));
    println!("\nOne model call, sequential, to a server that answers at once (µs per call):");
    line(
        "magic path: the session's backend (reference)",
        &magic_us,
        "µs",
    );
    line(
        "Rust cell client → loopback endpoint → backend",
        &endpoint_us,
        "µs",
    );
    println!(
        "  endpoint overhead: {:+.0} µs per call, ratio {:.2}x   (goal < 1000 µs)",
        endpoint_us.median - magic_us.median,
        endpoint_us.median / magic_us.median
    );
    Ok(())
}

async fn cells_through_evcxr(opts: &BenchOptions) -> Result<()> {
    let server = CannedServer::with_latency(Duration::ZERO).await?;
    let chat_cell = ":chat --temperature 0 --max-tokens 16\nSay hello.";
    let rust_cell = "chat(\"Say hello.\").unwrap().len()";
    // A fresh kernel each time: evcxr starts and compiles the client crate from nothing.
    let cold_runs = opts.repeat.clamp(1, 2);
    let (mut cold_rust, mut cold_chat) = (vec![], vec![]);
    for _ in 0..cold_runs {
        let home = ScratchHome::new("cells-cold")?;
        let mut engine = engine_for(&server, &home)?;
        cold_rust.push(cell_ms(&mut engine, rust_cell).await?);
        let home = ScratchHome::new("cells-cold-chat")?;
        let mut engine = engine_for(&server, &home)?;
        cold_chat.push(cell_ms(&mut engine, chat_cell).await?);
    }
    let home = ScratchHome::new("cells-warm")?;
    let mut engine = engine_for(&server, &home)?;
    cell_ms(&mut engine, rust_cell).await?;
    let (mut warm_rust, mut warm_chat) = (vec![], vec![]);
    for _ in 0..opts.repeat {
        for _ in 0..WARM_CELLS {
            warm_rust.push(cell_ms(&mut engine, rust_cell).await?);
            warm_chat.push(cell_ms(&mut engine, chat_cell).await?);
        }
    }
    let (cold_rust, cold_chat) = (stats(cold_rust), stats(cold_chat));
    let (warm_rust, warm_chat) = (stats(warm_rust), stats(warm_chat));
    println!("\nFirst cell that calls a model, in a fresh kernel (ms; {cold_runs} run(s)):");
    line(":chat cell (reference)", &cold_chat, "ms");
    line(
        "Rust cell chat(…): evcxr start, client crate build",
        &cold_rust,
        "ms",
    );
    println!(
        "  {:.1} s, ratio {:.1}x   (goal < 60 s on 2 cores)",
        cold_rust.median / 1e3,
        cold_rust.median / cold_chat.median
    );
    println!("\nLater cells, one call each (ms):");
    line(":chat cell (reference)", &warm_chat, "ms");
    line(
        "Rust cell chat(…) (evcxr compiles each cell)",
        &warm_rust,
        "ms",
    );
    println!(
        "  {:.2} s, {:+.0} ms over :chat, ratio {:.1}x   (goal < 2 s)",
        warm_rust.median / 1e3,
        warm_rust.median - warm_chat.median,
        warm_rust.median / warm_chat.median
    );

    // Concurrency: time measured inside the cell, so evcxr's compile time does not count.
    let slow = CannedServer::with_latency(LATENCY).await?;
    let home = ScratchHome::new("cells-concurrent")?;
    let mut engine = engine_for(&slow, &home)?;
    let one =
        "{ let t = std::time::Instant::now(); chat(\"one\").unwrap(); t.elapsed().as_secs_f64() }";
    let two = "{ let t = std::time::Instant::now(); chat_all(vec![Chat::new().user(\"one\"), Chat::new().user(\"two\")]).unwrap(); t.elapsed().as_secs_f64() }";
    cell_value(&mut engine, one).await?;
    let (mut one_s, mut two_s) = (vec![], vec![]);
    for _ in 0..opts.repeat {
        one_s.push(cell_value(&mut engine, one).await?);
        two_s.push(cell_value(&mut engine, two).await?);
    }
    let (one_s, two_s) = (stats(one_s), stats(two_s));
    println!(
        "\nConcurrent calls, server latency {} ms per call (s, timed inside the cell; most in flight: {}):",
        LATENCY.as_millis(),
        slow.max_in_flight()
    );
    line("chat(…), one call (reference)", &one_s, "s");
    line("chat_all of two calls", &two_s, "s");
    println!(
        "  ratio {:.2}x   (goal ≈ 1: two calls in one call's time, not 2)",
        two_s.median / one_s.median
    );
    Ok(())
}

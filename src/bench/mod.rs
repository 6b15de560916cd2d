//! `alignment-lab bench`: speed and memory, each printed as a ratio against a reference measured
//! in the same run (medians over repetitions, with the spread).
//!
//! - `embedded`: the embedded engine against llama.cpp driven directly, batching, `:chat`
//!   overhead over raw generation, resident memory.
//! - `overhead`: the HTTP client and rendering against a server that answers at once.
//! - `debate`: the course debate on the embedded model, batched against sequential decoding.
//! - `server`: the embedded engine beside llama.cpp's `llama-server` on the same GGUF (decode,
//!   four concurrent requests, the course debate, a probe), the server through the HTTP backend.
//! - `cells`: model calls from Rust cells — the endpoint against the magic path, the first and
//!   later Rust cells against `:chat`, `chat_all` against one call.

pub mod canned_server;
mod debate;
mod embedded;
pub mod llama_server;
mod overhead;
mod rust_cells;
mod versus_server;

use std::path::PathBuf;

use anyhow::Result;

pub use embedded::{memory_probe, rss_mb};

pub struct BenchOptions {
    pub gguf: PathBuf,
    pub tokens: u32,
    pub repeat: usize,
}

/// The benchmark groups `--only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Embedded,
    Overhead,
    Debate,
    Server,
    Cells,
}

pub async fn run(opts: BenchOptions, parts: &[Part]) -> Result<()> {
    let all = parts.is_empty();
    if all || parts.contains(&Part::Overhead) {
        overhead::run(&opts).await?;
    }
    if all || parts.contains(&Part::Embedded) {
        embedded::run(&opts).await?;
    }
    if all || parts.contains(&Part::Debate) {
        debate::run(&opts).await?;
    }
    if all || parts.contains(&Part::Server) {
        versus_server::run(&opts).await?;
    }
    if all || parts.contains(&Part::Cells) {
        rust_cells::run(&opts).await?;
    }
    Ok(())
}

pub(crate) struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub(crate) fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(f64::total_cmp);
    Stats {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

pub(crate) fn line(name: &str, s: &Stats, unit: &str) {
    println!(
        "  {name:<44} median {:>8.1} {unit}  (min {:.1}, max {:.1})",
        s.median, s.min, s.max
    );
}

/// Run one cell in `engine` and return what it displayed.
pub(crate) async fn execute(
    engine: &mut crate::engine::Engine,
    cell: &str,
) -> Result<Vec<crate::display::SinkEvent>> {
    let sink = std::sync::Arc::new(crate::display::CollectingSink::default());
    engine
        .execute(
            cell,
            sink.clone(),
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(sink.take())
}

/// Wall-clock seconds of one cell in `engine`, and the record of its last output.
pub(crate) async fn timed(
    engine: &mut crate::engine::Engine,
    cell: &str,
) -> Result<(f64, serde_json::Value)> {
    let t0 = std::time::Instant::now();
    let events = execute(engine, cell).await?;
    let seconds = t0.elapsed().as_secs_f64();
    Ok((seconds, last_record(&events).cloned().unwrap_or_default()))
}

/// Prompt tokens a `:debate` sent and those its backend served from a prompt cache, summed over
/// the debate records added.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PromptTally {
    pub sent: u64,
    pub cached: u64,
}

impl PromptTally {
    /// Add one debate record's `accounting`.
    pub fn add(&mut self, accounting: &serde_json::Value) {
        self.sent += accounting["prompt_tokens"].as_u64().unwrap_or(0);
        self.cached += accounting["prompt_tokens_cached"].as_u64().unwrap_or(0);
    }

    /// The share of the prompt tokens sent that were evaluated.
    pub fn evaluated_share(&self) -> f64 {
        (self.sent - self.cached.min(self.sent)) as f64 / self.sent.max(1) as f64
    }
}

/// The structured record (`metadata["alignment_lab"]`) of the last output that carries one.
pub(crate) fn last_record(events: &[crate::display::SinkEvent]) -> Option<&serde_json::Value> {
    use crate::display::SinkEvent;
    events.iter().rev().find_map(|e| match e {
        SinkEvent::Display(b, _) | SinkEvent::Update(b, _) | SinkEvent::Result(b) => {
            b.metadata.get("alignment_lab")
        }
        SinkEvent::Stream(..) => None,
    })
}

/// An engine whose backend is `server`'s `canned-a`, with its data in `home`.
pub(crate) fn engine_for(
    server: &canned_server::CannedServer,
    home: &ScratchHome,
) -> Result<crate::engine::Engine> {
    let config = crate::llm::LabConfig::from_lookup(|k| match k {
        "ALIGNMENT_LAB_BACKEND" => Some("openai".into()),
        "ALIGNMENT_LAB_BASE_URL" => Some(server.base_url.clone()),
        "ALIGNMENT_LAB_MODEL" => Some("canned-a".into()),
        "ALIGNMENT_LAB_HOME" => Some(home.0.display().to_string()),
        _ => None,
    })
    .map_err(anyhow::Error::msg)?;
    Ok(home.engine(config))
}

/// A data dir for one benchmark run, removed afterwards, so run records do not pile up in the
/// student's own.
pub(crate) struct ScratchHome(pub PathBuf);

impl ScratchHome {
    pub fn new(label: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "alignment-lab-bench-{label}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    /// An engine whose notebook lives here: its results file is written here, as beside a
    /// student's notebook, not into whatever directory the benchmark runs in.
    pub fn engine(&self, config: crate::llm::LabConfig) -> crate::engine::Engine {
        let mut engine = crate::engine::Engine::new(config);
        engine.set_notebook(&self.0.join("bench.ipynb"));
        engine
    }
}

impl Drop for ScratchHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

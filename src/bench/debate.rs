//! The course debate (`--suite course`, 2 agents, 3 rounds, final call) on the embedded model:
//! the kernel as it runs (up to four conversations decoded together in one batch) against the
//! same engine decoding one conversation at a time (`ALIGNMENT_LAB_PARALLEL=1`).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use tokio_util::sync::CancellationToken;

use super::{line, stats, BenchOptions, ScratchHome};
use crate::display::CollectingSink;
use crate::engine::Engine;
use crate::llm::LabConfig;

/// Short answers keep the benchmark to about a minute per repetition on two cores; the ratio
/// is about scheduling, not answer length.
const MAX_TOKENS: u32 = 48;

fn engine(opts: &BenchOptions, parallel: usize, home: &ScratchHome) -> Result<Engine> {
    let config = LabConfig::from_lookup(|k| match k {
        "ALIGNMENT_LAB_BACKEND" => Some("embedded".into()),
        "ALIGNMENT_LAB_GGUF" => Some(opts.gguf.display().to_string()),
        "ALIGNMENT_LAB_PARALLEL" => Some(parallel.to_string()),
        "ALIGNMENT_LAB_HOME" => Some(home.0.display().to_string()),
        _ => None,
    })
    .map_err(anyhow::Error::msg)?;
    Ok(Engine::new(config))
}

async fn timed(engine: &mut Engine, cell: &str) -> Result<f64> {
    let t0 = Instant::now();
    engine
        .execute(
            cell,
            Arc::new(CollectingSink::default()),
            CancellationToken::new(),
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    Ok(t0.elapsed().as_secs_f64())
}

pub async fn run(opts: &BenchOptions) -> Result<()> {
    let cell = format!(
        ":debate --suite course --agents 2 --rounds 3 --seed 1 --no-cache --max-tokens {MAX_TOKENS}"
    );
    println!(
        "\nDebate benchmark — `{cell}` on the embedded model (35 calls), {} repetitions",
        opts.repeat
    );
    let home = ScratchHome::new("debate")?;
    let mut batched = engine(opts, 4, &home)?;
    let mut sequential = engine(opts, 1, &home)?;
    // Load the model in both engines before timing.
    let warm = ":chat --max-tokens 4 --seed 1\nHi";
    timed(&mut batched, warm).await?;
    timed(&mut sequential, warm).await?;
    let (mut seq, mut bat) = (vec![], vec![]);
    for _ in 0..opts.repeat {
        seq.push(timed(&mut sequential, &cell).await?);
        bat.push(timed(&mut batched, &cell).await?);
    }
    let (seq, bat) = (stats(seq), stats(bat));
    line("one conversation at a time (reference)", &seq, "s");
    line("kernel: up to 4 decoded together", &bat, "s");
    println!(
        "  speed-up from batching: {:.2}x   (goal ≥ 1.3x)\n",
        seq.median / bat.median
    );
    Ok(())
}

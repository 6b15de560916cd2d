//! The course debate (`--suite course`, 2 agents, 3 rounds, final call) on the embedded model:
//! the kernel as it runs (up to four conversations decoded together in one batch) against the
//! same engine decoding one conversation at a time (`ALIGNMENT_LAB_PARALLEL=1`).

use anyhow::Result;
use serde_json::Value;

use super::{line, stats, timed, BenchOptions, PromptTally, ScratchHome};
use crate::engine::Engine;
use crate::llm::LabConfig;

/// Short answers keep a repetition to about a minute and a half on two cores.
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
    Ok(home.engine(config))
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
    let (mut seq, mut bat, mut prefill_share, mut work) = (vec![], vec![], vec![], Value::Null);
    // Prompt tokens each run sent and took from its prompt cache.
    let (mut seq_prompt, mut bat_prompt) = (PromptTally::default(), PromptTally::default());
    for _ in 0..opts.repeat {
        // Fresh engines every repetition: the prompt cache would otherwise serve this
        // repetition's identical conversations from the last one.
        let mut batched = engine(opts, 4, &home)?;
        let mut sequential = engine(opts, 1, &home)?;
        // Load the model in both engines before timing.
        let warm = ":chat --max-tokens 4 --seed 1\nHi";
        timed(&mut batched, warm).await?;
        timed(&mut sequential, warm).await?;
        let (seconds, record) = timed(&mut sequential, &cell).await?;
        let accounting = record["accounting"].clone();
        seq.push(seconds);
        // One conversation at a time, time to first token is prompt processing alone.
        if let Some(first) = accounting["time_to_first_token_s"].as_f64() {
            prefill_share.push(first / seconds);
        }
        seq_prompt.add(&accounting);
        work = accounting;
        let (seconds, record) = timed(&mut batched, &cell).await?;
        bat.push(seconds);
        bat_prompt.add(&record["accounting"]);
    }
    let (seq, bat) = (stats(seq), stats(bat));
    line("one conversation at a time (reference)", &seq, "s");
    line("kernel: up to 4 decoded together", &bat, "s");
    println!(
        "  speed-up from batching: {:.2}x   (goal ≥ 1.5x)",
        seq.median / bat.median
    );
    if !prefill_share.is_empty() {
        let share = stats(prefill_share).median;
        println!(
            "  profile of the reference run: {} prompt tokens, {} generated tokens; prompt \
             processing takes {:.0}% of the time. Batching speeds up generation only (prompt \
             processing already uses every core), so even free generation would give at most \
             {:.2}x.\n",
            work["prompt_tokens"],
            work["completion_tokens"],
            share * 100.0,
            1.0 / share
        );
    }
    if seq_prompt.sent > 0 && bat_prompt.sent > 0 {
        println!(
            "  prompt tokens evaluated (the rest served by the prompt cache): one at a time {:.0}%, \
             batched {:.0}% of those sent\n",
            seq_prompt.evaluated_share() * 100.0,
            bat_prompt.evaluated_share() * 100.0
        );
    }
    Ok(())
}

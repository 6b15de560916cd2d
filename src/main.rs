use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use alignment_lab::engine::{run_notebook, Engine, RunOptions};
use alignment_lab::kernel::{self, kernelspec};
use alignment_lab::llm::LabConfig;

#[derive(Parser)]
#[command(
    name = "alignment-lab",
    version,
    about = "A Rust Jupyter kernel for the AI-alignment course: Rust cells on evcxr plus :chat, :probe, :debate and :rlhf-challenge magics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run as a Jupyter kernel (what the kernelspec starts).
    Kernel {
        #[arg(long)]
        connection_file: PathBuf,
    },
    /// Install the `alignment-lab` kernelspec.
    Install {
        /// Into the current user's Jupyter data directory.
        #[arg(long, conflicts_with = "prefix")]
        user: bool,
        /// Into PREFIX/share/jupyter/kernels (e.g. a virtualenv).
        #[arg(long)]
        prefix: Option<PathBuf>,
    },
    /// Remove the kernelspec.
    Uninstall {
        #[arg(long, conflicts_with = "prefix")]
        user: bool,
        #[arg(long)]
        prefix: Option<PathBuf>,
    },
    /// Benchmarks, each printed as a ratio against a reference measured in the same run: client
    /// and rendering overhead, the embedded engine (decode speed vs llama.cpp direct, batching,
    /// :chat overhead, memory) and the course debate batched vs sequential.
    Bench {
        /// GGUF to benchmark (default: the embedded model).
        #[arg(long)]
        gguf: Option<PathBuf>,
        /// Tokens per answer.
        #[arg(long, default_value_t = 128)]
        tokens: u32,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Run only these groups (default: all): embedded, overhead, debate, cells.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<alignment_lab::bench::Part>,
        /// Internal: print this process's resident memory after loading the model and answering.
        #[arg(long, hide = true)]
        memory_probe: bool,
    },
    /// Execute a notebook headlessly with this kernel's engine and save the outputs.
    Run {
        notebook: PathBuf,
        /// Where to write the executed notebook (default: NAME.executed.ipynb beside it).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Keep going after a cell fails.
        #[arg(long)]
        allow_errors: bool,
    },
}

fn main() -> Result<()> {
    // evcxr runs Rust cells in a child process that is this same binary; it must take over
    // before anything else happens.
    evcxr::runtime_hook();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ALIGNMENT_LAB_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Jupyter writes a kernel's stderr to the server log or a file: no colour codes there.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Kernel { connection_file } => runtime()?.block_on(kernel::run(&connection_file)),
        Command::Install { user, prefix } => {
            let dir = kernelspec::install(user, prefix.as_deref())?;
            println!("installed kernelspec `{}` in {}", kernelspec::KERNEL_NAME, dir.display());
            Ok(())
        }
        Command::Uninstall { user, prefix } => {
            match kernelspec::uninstall(user, prefix.as_deref())? {
                Some(dir) => println!("removed {}", dir.display()),
                None => println!("no `{}` kernelspec was installed there", kernelspec::KERNEL_NAME),
            }
            Ok(())
        }
        Command::Bench {
            gguf,
            tokens,
            repeat,
            only,
            memory_probe,
        } => {
            let config = LabConfig::from_env().map_err(anyhow::Error::msg)?;
            let gguf = gguf.unwrap_or_else(|| config.embedded_model_path());
            if memory_probe {
                return runtime()?.block_on(alignment_lab::bench::memory_probe(&gguf));
            }
            runtime()?.block_on(alignment_lab::bench::run(
                alignment_lab::bench::BenchOptions {
                    gguf: gguf.clone(),
                    tokens,
                    repeat,
                },
                &only,
            ))?;
            if !only.is_empty() && !only.contains(&alignment_lab::bench::Part::Embedded) {
                return Ok(());
            }
            // Memory in a fresh process, so the benchmark's own models do not count.
            let out = std::process::Command::new(std::env::current_exe()?)
                .args(["bench", "--memory-probe", "--gguf"])
                .arg(&gguf)
                .output()?;
            let rss = String::from_utf8_lossy(&out.stdout).trim().to_string();
            println!("\nResident memory with the model loaded and one answer given: {rss} MB   (goal < 300 MB)");
            Ok(())
        }
        Command::Run {
            notebook,
            output,
            allow_errors,
        } => runtime()?.block_on(async {
            let config = LabConfig::from_env().map_err(anyhow::Error::msg)?;
            let mut engine = Engine::new(config);
            let summary = run_notebook(
                &mut engine,
                &notebook,
                RunOptions {
                    output,
                    allow_errors,
                },
                |n, total| eprintln!("[{n}/{total}] running cell …"),
            )
            .await?;
            for (cell, e) in &summary.errors {
                eprintln!("cell {} failed: {e}", cell + 1);
            }
            println!(
                "wrote {} ({} cells run, {} errors)",
                summary.output.display(),
                summary.cells_run,
                summary.errors.len()
            );
            if !summary.errors.is_empty() && !allow_errors {
                anyhow::bail!(
                    "stopped at the failing cell; its error is saved in {} (use --allow-errors to run past failures)",
                    summary.output.display()
                );
            }
            Ok(())
        }),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

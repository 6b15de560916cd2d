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

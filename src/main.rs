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
    /// Is the notebook ready to hand in? Exit status 0 when it is, 1 when something is missing
    /// (the report says what), 2 when the file cannot be read.
    Check {
        notebook: PathBuf,
        /// Print the report as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Check the notebook, then write NAME-submission/ (notebook, HTML, PDF, results file,
    /// manifest) and NAME-submission.zip to hand in.
    Export {
        notebook: PathBuf,
        /// Where to put the folder and zip (default: beside the notebook).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Export even when the check finds problems; the manifest lists them.
        #[arg(long)]
        force: bool,
    },
    /// Class results from students' submissions (notebooks, export zips, or folders of them):
    /// writes a notebook whose `:class-results` cell pools them, and runs it.
    Aggregate {
        #[arg(required = true)]
        submissions: Vec<PathBuf>,
        /// The class notebook to write.
        #[arg(long, default_value = "class-results.ipynb")]
        output: PathBuf,
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
        Command::Check { notebook, json } => check_command(&notebook, json),
        Command::Export {
            notebook,
            out,
            force,
        } => export_command(&notebook, out, force),
        Command::Aggregate {
            submissions,
            output,
        } => runtime()?.block_on(aggregate_command(submissions, output)),
    }
}

/// Write the class notebook (paths in its cell relative to it) and run it.
async fn aggregate_command(submissions: Vec<PathBuf>, output: PathBuf) -> Result<()> {
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)?;
    let dir_abs = dir.canonicalize()?;
    let mut words = Vec::new();
    for path in &submissions {
        let abs = path
            .canonicalize()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let shown = abs.strip_prefix(&dir_abs).unwrap_or(&abs).to_path_buf();
        words.push(shell_words::quote(&shown.to_string_lossy()).into_owned());
    }
    let notebook = serde_json::json!({
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "alignment-lab", "display_name": "Rust · Alignment Lab", "language": "rust"},
            "language_info": {"name": "rust", "file_extension": ".rs", "mimetype": "text/rust"}
        },
        "cells": [
            {"id": "class-intro", "cell_type": "markdown", "metadata": {}, "source":
                "# Class results\n\nThe students' submissions, pooled from the records the magics left in them (verdict counts, grades, the challenge chosen — never an answer's text). Run the cell again after adding submissions to its list."},
            {"id": "class-results", "cell_type": "code", "metadata": {}, "execution_count": null, "outputs": [],
             "source": format!(":class-results {}", words.join(" "))}
        ]
    });
    std::fs::write(&output, serde_json::to_string_pretty(&notebook)?)?;
    let config = LabConfig::from_env().map_err(anyhow::Error::msg)?;
    let mut engine = Engine::new(config);
    // The cell's paths are relative to the notebook, as when a lecturer opens it in Jupyter.
    std::env::set_current_dir(&dir_abs)?;
    let name = PathBuf::from(output.file_name().expect("a file name"));
    let summary = run_notebook(
        &mut engine,
        &name,
        RunOptions {
            output: Some(name.clone()),
            allow_errors: false,
        },
        |_, _| {},
    )
    .await?;
    if let Some((_, e)) = summary.errors.first() {
        anyhow::bail!("{}: {}", e.ename, e.evalue);
    }
    println!("wrote {}", dir_abs.join(&name).display());
    Ok(())
}

fn runs_dir() -> Option<PathBuf> {
    LabConfig::from_env().ok().map(|c| c.home.join("runs"))
}

fn check_command(notebook: &std::path::Path, json: bool) -> Result<()> {
    use alignment_lab::submission::{check, CheckOptions, Notebook};
    let nb = match Notebook::read(notebook) {
        Ok(nb) => nb,
        Err(e) => {
            eprintln!("alignment-lab check: {e:#}");
            std::process::exit(2);
        }
    };
    let runs = runs_dir();
    let report = check(
        &nb,
        &CheckOptions {
            runs_dir: runs.as_deref(),
        },
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    std::process::exit(if report.ready() { 0 } else { 1 });
}

fn export_command(notebook: &std::path::Path, out: Option<PathBuf>, force: bool) -> Result<()> {
    use alignment_lab::submission::export::{export, ExportOptions, NotReady};
    match export(
        notebook,
        &ExportOptions {
            out,
            force,
            runs_dir: runs_dir(),
        },
    ) {
        Ok(done) => {
            print!("{}", done.report.to_text());
            for line in &done.log {
                println!("  {line}");
            }
            println!("Hand in {}", done.zip.display());
            Ok(())
        }
        Err(e) if e.is::<NotReady>() => {
            eprintln!("{e}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("alignment-lab export: {e:#}");
            std::process::exit(2);
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

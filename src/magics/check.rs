//! `:check` — `alignment-lab check` from inside the notebook: is the saved file ready to hand in?

use std::path::{Path, PathBuf};

use clap::Parser;

use super::{parse_flags, MagicCall, MagicContext};
use crate::display::{Bundle, CellError};
use crate::submission::{check, CheckOptions, Notebook};

/// Check the saved notebook before handing it in.
#[derive(Parser, Debug)]
#[command(
    name = ":check",
    about = "Check the saved notebook before handing it in: findings cells written, exercise cells run in order without errors, no revealed probe answer in the file, export fallbacks, and which models produced the results. Save first (Ctrl+S): this reads the file, not the screen."
)]
pub struct CheckArgs {
    /// The notebook file (default: this notebook, when the kernel can tell which it is).
    pub notebook: Option<PathBuf>,
}

/// Which file is "this notebook": the one `alignment-lab run` executes, else the one Jupyter
/// started the kernel for (`JPY_SESSION_NAME`, in the kernel's directory), else the only
/// notebook in that directory.
fn this_notebook(known: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = known {
        return Ok(path.to_path_buf());
    }
    if let Ok(name) = std::env::var("JPY_SESSION_NAME") {
        if let Some(file) = Path::new(&name).file_name() {
            let here = PathBuf::from(file);
            if here.exists() {
                return Ok(here);
            }
        }
    }
    let notebooks: Vec<PathBuf> = std::fs::read_dir(".")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ipynb"))
        .collect();
    match notebooks.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("no notebook file in the kernel's directory: name it, e.g. `:check alignment-lab.ipynb`".into()),
        _ => Err(format!(
            "{} notebooks in the kernel's directory: name the one to check, e.g. `:check {}`",
            notebooks.len(),
            notebooks[0].display()
        )),
    }
}

pub fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    let Some(args) = parse_flags::<CheckArgs>(call.name, call.flags, ctx.sink.as_ref())? else {
        return Ok(());
    };
    if let Ok(mode) = std::env::var("NBGRADER_EXECUTION") {
        if !mode.trim().is_empty() {
            // A grader's copy has its outputs cleared before the run: checking it would report
            // every result missing. The check is the student's, before handing in.
            ctx.sink.display(
                Bundle::markdown(format!(
                    "*:check is skipped while a grader runs the notebook (NBGRADER_EXECUTION={mode}): it is the student's check before handing in.*"
                ))
                .with_record(serde_json::json!({"kind": "check", "ready": null, "grader": mode})),
                None,
            );
            return Ok(());
        }
    }
    let path = match args.notebook {
        Some(p) => p,
        None => match this_notebook(ctx.session.notebook.as_deref()) {
            Ok(p) => p,
            // Not the student's mistake (a headless run, a renamed file): say it, do not fail
            // the cell — it is the last one of a Run All.
            Err(e) => {
                ctx.sink.display(
                    Bundle::markdown(format!("*:check did not run: {e}.*"))
                        .with_record(serde_json::json!({"kind": "check", "ready": null})),
                    None,
                );
                return Ok(());
            }
        },
    };
    let nb = Notebook::read(&path)
        .map_err(|e| CellError::new("CheckError", format!(":check: {e:#}")))?;
    let runs = ctx.session.config.home.join("runs");
    let report = check(
        &nb,
        &CheckOptions {
            runs_dir: Some(&runs),
        },
    );
    let mut record = report.to_json();
    record["kind"] = "check".into();
    let md = format!(
        "{}\n*Checked the saved file `{}` — save (Ctrl+S) and run this cell again after changes. Then `alignment-lab export {}` in a terminal writes the folder and zip to hand in.*",
        report.to_markdown(),
        path.display(),
        nb.file_name()
    );
    ctx.sink.display(
        Bundle::plain(report.to_text())
            .with("text/markdown", md)
            .with_record(record),
        None,
    );
    Ok(())
}

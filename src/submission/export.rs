//! `alignment-lab export`: check the notebook, then write what a student hands in — the
//! notebook, its HTML (nbconvert), a PDF (Chromium's print: no TeX needed; nbconvert's LaTeX
//! route when TeX is there), the results file a grader replays, and a manifest — into one folder
//! and a zip, named after the notebook.
//!
//! HTML and PDF come from the tools a student already has (Jupyter's nbconvert, a Chromium-based
//! browser); nothing here renders notebooks itself.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::check::{check, CheckOptions, CheckReport};
use super::notebook::Notebook;
use crate::engine::results_file::{cell_key, FILE_NAME as RESULTS_FILE};
use crate::lab::fingerprint::sha256_hex;
use crate::toolchain::find_tool;

pub struct ExportOptions {
    pub out: Option<PathBuf>,
    /// Export even when the check finds problems (the manifest records them).
    pub force: bool,
    /// Run records on this machine, hashed into the manifest.
    pub runs_dir: Option<PathBuf>,
}

pub struct Exported {
    pub folder: PathBuf,
    pub zip: PathBuf,
    pub report: CheckReport,
    /// One line per file or step, for the student.
    pub log: Vec<String>,
}

/// Why an export stopped before writing anything: the check's report.
#[derive(Debug)]
pub struct NotReady(pub String);

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\nNothing was exported: fix the problems above (or pass --force to export anyway; the manifest then lists them).",
            self.0.trim_end()
        )
    }
}

impl std::error::Error for NotReady {}

const BROWSERS: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "msedge",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
];

/// Run a command with a time limit; its output is returned for error messages.
fn run_tool(mut cmd: Command, limit: Duration) -> Result<()> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {shown}"))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            let out = child.wait_with_output()?;
            if status.success() {
                return Ok(());
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
            bail!(
                "{shown} failed ({status}): {}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            bail!("{shown} did not finish within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

fn nbconvert(args: &[&str], notebook: &Path, folder: &Path, stem: &str) -> Result<()> {
    let mut cmd = if let Some(tool) = find_tool(&["jupyter-nbconvert"]) {
        Command::new(tool)
    } else if let Some(jupyter) = find_tool(&["jupyter"]) {
        let mut c = Command::new(jupyter);
        c.arg("nbconvert");
        c
    } else {
        bail!("nbconvert is not installed (`pip install nbconvert`, or run this where `jupyter lab` runs)");
    };
    cmd.args(args)
        .arg("--output-dir")
        .arg(folder)
        .arg("--output")
        .arg(stem)
        .arg(notebook);
    run_tool(cmd, Duration::from_secs(300))
}

/// Print the HTML with a Chromium-based browser, headless.
fn print_pdf(browser: &Path, html: &Path, pdf: &Path) -> Result<()> {
    let html = html.canonicalize()?;
    let mut cmd = Command::new(browser);
    cmd.args(["--headless", "--disable-gpu", "--no-pdf-header-footer"]);
    if running_as_root() {
        // Chromium refuses to run as root with its sandbox; the page is the student's own.
        cmd.arg("--no-sandbox");
    }
    cmd.arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()));
    run_tool(cmd, Duration::from_secs(120))?;
    if !pdf.is_file() {
        bail!("{} printed no PDF", browser.display());
    }
    Ok(())
}

/// nbconvert's page scrolls long code lines sideways; on paper that cuts flags off a magic's
/// line. Wrap them when printing (the screen keeps scrolling).
fn wrap_code_for_print(html: &Path) -> Result<()> {
    const PRINT_CSS: &str = "<style>@media print { pre, .jp-InputArea-editor pre, .CodeMirror pre { white-space: pre-wrap !important; overflow-wrap: anywhere; } }</style>";
    let page = std::fs::read_to_string(html)?;
    if let Some(at) = page.find("</head>") {
        let mut page = page;
        page.insert_str(at, PRINT_CSS);
        std::fs::write(html, page)?;
    }
    Ok(())
}

fn file_entry(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_default();
    json!({
        "name": path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "bytes": bytes.len(),
        "sha256": sha256_hex(&bytes),
    })
}

/// Where each result came from: backend, model, seed and the run record's hash.
fn results_manifest(nb: &Notebook, runs_dir: Option<&Path>) -> Vec<Value> {
    let mut results = Vec::new();
    for cell in nb.cells() {
        for record in cell.records() {
            let kind = record["kind"].as_str().unwrap_or("");
            if matches!(kind, "check" | "endpoint" | "backend" | "models" | "") {
                continue;
            }
            let record_file = record["record_path"].as_str().and_then(|p| {
                Path::new(p)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            });
            let record_hash = record_file.as_ref().and_then(|name| {
                let here = runs_dir.map(|d| d.join(name));
                let at = record["record_path"].as_str().map(PathBuf::from);
                [here, at]
                    .into_iter()
                    .flatten()
                    .find_map(|p| std::fs::read(p).ok())
                    .map(|b| sha256_hex(&b))
            });
            let models = match (&record["models"], &record["model"]) {
                (Value::Array(m), _) => Value::Array(m.clone()),
                (_, Value::String(m)) => json!([m]),
                _ => json!([]),
            };
            results.push(json!({
                "cell": cell.id(),
                "kind": kind,
                "backend": record["backend"]["kind"],
                "server": record["backend"]["server"],
                "models": models,
                "seed": record["parameters"]["seed"],
                "kernel_version": record["kernel_version"],
                "run_record": record_file,
                "run_record_sha256": record_hash,
            }));
        }
    }
    results
}

/// The entries of the results file that belong to this notebook's cells.
fn results_for(nb: &Notebook, results: &Path) -> Option<Value> {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(results).ok()?).ok()?;
    let keys: std::collections::HashSet<String> =
        nb.cells().map(|c| cell_key(&c.source())).collect();
    let mut mine = file.clone();
    if let Some(cells) = mine["cells"].as_object_mut() {
        cells.retain(|k, _| keys.contains(k));
    }
    Some(mine)
}

pub fn export(path: &Path, options: &ExportOptions) -> Result<Exported> {
    let nb = Notebook::read(path)?;
    let report = check(
        &nb,
        &CheckOptions {
            runs_dir: options.runs_dir.as_deref(),
        },
    );
    if !report.ready() && !options.force {
        return Err(NotReady(report.to_text()).into());
    }
    let stem = nb.stem();
    let base = match &options.out {
        Some(dir) => dir.clone(),
        None => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let folder = base.join(format!("{stem}-submission"));
    if folder.exists() {
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("cannot replace {}", folder.display()))?;
    }
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let mut log = Vec::new();

    let copy = folder.join(nb.file_name());
    std::fs::copy(path, &copy)?;
    log.push(format!("notebook: {}", copy.display()));

    let results_source = path
        .parent()
        .map(|d| d.join(RESULTS_FILE))
        .unwrap_or_else(|| PathBuf::from(RESULTS_FILE));
    match results_for(&nb, &results_source) {
        Some(results) => {
            std::fs::write(folder.join(RESULTS_FILE), serde_json::to_vec(&results)?)?;
            log.push(format!(
                "results for a grader's replay: {} ({} cells)",
                RESULTS_FILE,
                results["cells"].as_object().map_or(0, |c| c.len())
            ));
        }
        None => log.push(format!(
            "no {RESULTS_FILE} beside the notebook: a grader who re-runs the notebook will not see your model results"
        )),
    }

    let html = folder.join(format!("{stem}.html"));
    let html_made = match nbconvert(&["--to", "html"], &copy, &folder, &stem) {
        Ok(()) if html.is_file() => {
            wrap_code_for_print(&html)?;
            log.push(format!("HTML: {}", html.display()));
            true
        }
        Ok(()) => {
            log.push("HTML: nbconvert wrote no file".into());
            false
        }
        Err(e) => {
            log.push(format!("HTML: not made — {e:#}"));
            false
        }
    };

    let pdf = folder.join(format!("{stem}.pdf"));
    let browser = std::env::var_os("ALIGNMENT_LAB_BROWSER")
        .map(PathBuf::from)
        .or_else(|| find_tool(BROWSERS));
    let pdf_route = match (&browser, html_made) {
        (Some(browser), true) => match print_pdf(browser, &html, &pdf) {
            Ok(()) => Some(format!("printed by {}", browser.display())),
            Err(e) => {
                log.push(format!("PDF: the browser could not print it — {e:#}"));
                None
            }
        },
        _ if find_tool(&["xelatex"]).is_some() => {
            match nbconvert(&["--to", "pdf"], &copy, &folder, &stem) {
                Ok(()) if pdf.is_file() => Some("nbconvert via LaTeX".to_string()),
                Ok(()) => None,
                Err(e) => {
                    log.push(format!("PDF: LaTeX failed — {e:#}"));
                    None
                }
            }
        }
        _ => None,
    };
    match &pdf_route {
        Some(route) => log.push(format!("PDF: {} ({route})", pdf.display())),
        None => log.push(
            "PDF: not made — no Chromium, Chrome or Edge (set ALIGNMENT_LAB_BROWSER to one) and no TeX; open the HTML in a browser and print it to PDF".into(),
        ),
    }

    let manifest = json!({
        "format": "alignment-lab-submission",
        "kernel": {"name": "alignment-lab", "version": env!("CARGO_PKG_VERSION")},
        "notebook": nb.file_name(),
        "exported_at": chrono::Utc::now().to_rfc3339(),
        "check": report.to_json(),
        "pdf": pdf_route,
        "results": results_manifest(&nb, options.runs_dir.as_deref()),
        "files": std::fs::read_dir(&folder)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .map(|p| file_entry(&p))
            .collect::<Vec<_>>(),
    });
    let manifest_path = folder.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest)?)?;
    log.push(format!("manifest: {}", manifest_path.display()));

    let zip = base.join(format!("{stem}-submission.zip"));
    write_zip(&folder, &zip)?;
    log.push(format!("zip to hand in: {}", zip.display()));
    Ok(Exported {
        folder,
        zip,
        report,
        log,
    })
}

/// The folder as a zip, its files under the folder's name.
fn write_zip(folder: &Path, zip_path: &Path) -> Result<()> {
    let file = std::fs::File::create(zip_path)
        .with_context(|| format!("cannot create {}", zip_path.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let prefix = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().expect("file").to_string_lossy();
        zip.start_file(format!("{prefix}/{name}"), options)?;
        zip.write_all(&std::fs::read(&path)?)?;
    }
    zip.finish()?;
    Ok(())
}

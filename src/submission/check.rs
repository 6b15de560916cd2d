//! `alignment-lab check` and `:check`: is this notebook ready to hand in? Each check names the
//! cell and says what to do; the report is text for people, JSON for scripts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use super::notebook::{output_texts, text_of, Cell, Notebook};
use crate::lab::fingerprint::{normalise, sha256_hex};

/// The course notebook this binary ships: roles of cells in notebooks saved before cells
/// carried their own `alignment_lab` metadata are looked up here by cell id.
const COURSE_NOTEBOOK: &str = include_str!("../../notebooks/alignment-lab.ipynb");

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// A stable name for scripts: `findings-untouched`, `not-executed`, `error-output`, …
    pub kind: &'static str,
    pub cell: Option<String>,
    pub message: String,
}

/// Which backend and model produced a result.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Provenance {
    pub backend: String,
    pub server: String,
    pub model: String,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub notebook: String,
    pub problems: Vec<Finding>,
    pub warnings: Vec<Finding>,
    /// What was checked and passed, one line each.
    pub passed: Vec<String>,
    /// Which backends and models produced the results, with the cells that used each.
    pub provenance: BTreeMap<String, Vec<String>>,
}

#[derive(Default)]
pub struct CheckOptions<'a> {
    /// Run records on this machine: their answer fingerprints find pasted probe answers whose
    /// outputs were since cleared.
    pub runs_dir: Option<&'a Path>,
}

impl CheckReport {
    pub fn ready(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["ready"] = json!(self.ready());
        v
    }

    pub fn to_text(&self) -> String {
        self.render(&Style {
            headline: |line| format!("{line}\n"),
            notebook: |name| name.to_string(),
            bullet: "  ",
            warning: "!",
            provenance: "Results came from:\n",
            source: "  - ",
        })
    }

    pub fn to_markdown(&self) -> String {
        self.render(&Style {
            headline: |line| format!("**{line}**\n\n"),
            notebook: |name| format!("`{name}`"),
            bullet: "- ",
            warning: "⚠",
            provenance: "\n**Results came from**\n\n",
            source: "- ",
        })
    }

    fn render(&self, style: &Style) -> String {
        let name = (style.notebook)(&self.notebook);
        let mut out = (style.headline)(&if self.ready() {
            format!("✓ {name} is ready to hand in.")
        } else {
            format!(
                "✗ {name} is not ready to hand in: {} problem(s).",
                self.problems.len()
            )
        });
        let lines = (self.problems.iter().map(|p| format!("✗ {}", p.message)))
            .chain(
                self.warnings
                    .iter()
                    .map(|w| format!("{} {}", style.warning, w.message)),
            )
            .chain(self.passed.iter().map(|p| format!("✓ {p}")));
        for line in lines {
            out.push_str(&format!("{}{line}\n", style.bullet));
        }
        if !self.provenance.is_empty() {
            out.push_str(style.provenance);
            for (source, cells) in &self.provenance {
                out.push_str(&format!("{}{source}: {}\n", style.source, cells.join(", ")));
            }
        }
        out
    }
}

/// How the report is written: plain text for a terminal, markdown for the notebook.
struct Style {
    headline: fn(&str) -> String,
    notebook: fn(&str) -> String,
    bullet: &'static str,
    warning: &'static str,
    provenance: &'static str,
    source: &'static str,
}

/// The `alignment_lab` cell metadata of the shipped course notebook, by cell id.
fn course_roles() -> HashMap<String, Value> {
    let nb: Value = serde_json::from_str(COURSE_NOTEBOOK).unwrap_or(Value::Null);
    nb["cells"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c["id"].as_str()?.to_string(),
                c["metadata"].get("alignment_lab")?.clone(),
            ))
        })
        .collect()
}

/// What a findings cell holds once nbgrader's solution markers and stub are taken out —
/// the same normalisation `scripts/findings_template_hash.py` uses for `template_sha256`.
pub fn findings_text(source: &str) -> String {
    let kept: Vec<&str> = source
        .lines()
        .filter(|l| {
            !matches!(
                l.trim(),
                "<!-- BEGIN SOLUTION -->" | "<!-- END SOLUTION -->" | "YOUR ANSWER HERE"
            )
        })
        .collect();
    normalise(&kept.join("\n"))
}

/// A template is a heading and the questions in italics: with those taken away, an untouched
/// cell (of this or an older template version) has nothing left.
fn only_prompts(source: &str) -> bool {
    static ITALICS: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?s)\*[^*]+\*").expect("regex"));
    let body: Vec<&str> = source
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    ITALICS
        .replace_all(&findings_text(&body.join("\n")), "")
        .trim()
        .is_empty()
}

struct Roles {
    by_id: HashMap<String, Value>,
}

impl Roles {
    fn of<'a>(&'a self, cell: &'a Cell<'_>) -> Option<&'a Value> {
        cell.json["metadata"]
            .get("alignment_lab")
            .filter(|v| v.get("role").is_some())
            .or_else(|| self.by_id.get(&cell.id()))
    }
}

pub fn check(nb: &Notebook, options: &CheckOptions) -> CheckReport {
    let roles = Roles {
        by_id: course_roles(),
    };
    let mut report = CheckReport {
        notebook: nb.file_name(),
        problems: Vec::new(),
        warnings: Vec::new(),
        passed: Vec::new(),
        provenance: BTreeMap::new(),
    };
    if nb.kernel_name() != Some("alignment-lab") {
        report.warnings.push(Finding {
            kind: "foreign-kernel",
            cell: None,
            message: format!(
                "the notebook's kernel is `{}`, not `alignment-lab`: is this the course notebook?",
                nb.kernel_name().unwrap_or("unknown")
            ),
        });
    }
    check_findings(nb, &roles, &mut report);
    check_execution(nb, &roles, &mut report);
    check_revealed_answers(nb, options, &mut report);
    check_fallbacks(nb, &mut report);
    check_provenance(nb, &mut report);
    report
}

fn check_findings(nb: &Notebook, roles: &Roles, report: &mut CheckReport) {
    let mut count = 0;
    let before = report.problems.len();
    for cell in nb.cells() {
        let Some(meta) = roles.of(&cell) else {
            continue;
        };
        if meta["role"] != "findings" {
            continue;
        }
        count += 1;
        let text = findings_text(&cell.source());
        let untouched = match meta["template_sha256"].as_str() {
            Some(template) => sha256_hex(text.as_bytes()) == template,
            None => false,
        } || cell.source().contains("YOUR ANSWER HERE")
            || only_prompts(&cell.source());
        if untouched {
            report.problems.push(Finding {
                kind: "findings-untouched",
                cell: Some(cell.id()),
                message: format!(
                    "{} is still the template: write your findings for Exercise {} in it.",
                    cell.label(),
                    meta["exercise"].as_str().unwrap_or("?")
                ),
            });
        }
    }
    if count == 0 {
        report.warnings.push(Finding {
            kind: "no-findings-cells",
            cell: None,
            message: "no findings cells found (cells with `alignment_lab.role = findings`): is this the course notebook?".into(),
        });
    } else if report.problems.len() == before {
        report
            .passed
            .push(format!("all {count} findings cells are written"));
    }
}

fn check_execution(nb: &Notebook, roles: &Roles, report: &mut CheckReport) {
    let before = report.problems.len();
    let mut exercise_cells = 0;
    // The highest execution count above each cell: a lower count below it means a result was
    // re-run after cells below it, so what the notebook shows may not follow from top to bottom.
    let mut highest_above: Option<(u64, String)> = None;
    let mut out_of_order_reported = false;
    for cell in nb.cells() {
        if cell.cell_type() != "code" {
            continue;
        }
        let role = roles.of(&cell).and_then(|m| m["role"].as_str());
        if role == Some("check") {
            continue;
        }
        let count = cell.execution_count();
        if role == Some("exercise") {
            exercise_cells += 1;
            if count.is_none() {
                report.problems.push(Finding {
                    kind: "not-executed",
                    cell: Some(cell.id()),
                    message: format!("{} has not been run: run it.", cell.label()),
                });
            }
        }
        if let Some(count) = count {
            match &highest_above {
                Some((high, above)) if count < *high && !out_of_order_reported => {
                    out_of_order_reported = true;
                    report.problems.push(Finding {
                        kind: "out-of-order",
                        cell: Some(cell.id()),
                        message: format!(
                            "{} ran before {} above it (execution count {count} < {high}): run the notebook from top to bottom (Kernel → Restart Kernel and Run All Cells), so every result follows from the cells above it.",
                            cell.label(),
                            above
                        ),
                    });
                }
                Some((high, _)) if count < *high => {}
                _ => highest_above = Some((count, cell.label())),
            }
        }
        for output in cell.outputs() {
            if output["output_type"] == "error" {
                report.problems.push(Finding {
                    kind: "error-output",
                    cell: Some(cell.id()),
                    message: format!(
                        "{} failed ({}: {}): fix it and run it again.",
                        cell.label(),
                        output["ename"].as_str().unwrap_or("Error"),
                        first_line(output["evalue"].as_str().unwrap_or(""))
                    ),
                });
            }
        }
        if role == Some("exercise") {
            if cell.records().any(|r| r["interrupted"] == true) {
                report.problems.push(Finding {
                    kind: "interrupted",
                    cell: Some(cell.id()),
                    message: format!(
                        "{} was interrupted, so its result is incomplete: run it to the end.",
                        cell.label()
                    ),
                });
            }
            let printed: String = cell
                .outputs()
                .iter()
                .filter(|o| o["output_type"] == "stream")
                .map(|o| text_of(&o["text"]))
                .collect();
            if printed.contains("not complete yet") {
                report.problems.push(Finding {
                    kind: "unfinished",
                    cell: Some(cell.id()),
                    message: format!(
                        "{} says the pipeline is not complete yet: finish the TODOs and run it.",
                        cell.label()
                    ),
                });
            }
        }
    }
    if exercise_cells > 0 && report.problems.len() == before {
        report.passed.push(format!(
            "all {exercise_cells} exercise cells ran, in order, without errors"
        ));
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let short: String = line.chars().take(160).collect();
    short
}

/// Fingerprints of every probe answer this notebook (or this machine's run records) scored,
/// and the length of the longest, which bounds the text worth comparing.
#[derive(Default)]
struct Answers {
    prints: HashSet<String>,
    longest: usize,
}

fn answer_fingerprints(nb: &Notebook, options: &CheckOptions) -> Answers {
    let mut answers = Answers::default();
    let mut collect = |record: &Value| {
        if record["kind"] != "probe" {
            return;
        }
        for cell in record["cells"].as_array().into_iter().flatten() {
            // A refusal holds nothing to hide, and is often worded like any other refusal
            // (`I can't help with that.`); a few words match too much. Neither is looked for.
            let refused = cell["verdict"] == "refused";
            let short = cell["answer_chars"].as_u64().is_some_and(|n| n < 20);
            if refused || short {
                continue;
            }
            if let Some(f) = cell["answer_fingerprint"].as_str() {
                answers.prints.insert(f.to_string());
                let chars = cell["answer_chars"].as_u64().unwrap_or(100_000) as usize;
                answers.longest = answers.longest.max(chars);
            }
        }
    };
    for cell in nb.cells() {
        cell.records().for_each(&mut collect);
    }
    if let Some(dir) = options.runs_dir {
        let files = std::fs::read_dir(dir).into_iter().flatten().flatten();
        for entry in files.take(5000) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("probe-") && name.ends_with(".json") {
                if let Ok(text) = std::fs::read_to_string(entry.path()) {
                    if let Ok(record) = serde_json::from_str::<Value>(&text) {
                        collect(&record);
                    }
                }
            }
        }
    }
    answers
}

/// Does `text` hold one of the answers? Any run of whole paragraphs (and the text with
/// markdown quote marks taken off) is compared by fingerprint; an answer pasted into the middle
/// of a sentence is not found. Runs longer than the longest answer are not tried.
fn holds_answer(text: &str, answers: &Answers) -> bool {
    let variants = [
        text.to_string(),
        text.lines()
            .map(|l| l.trim_start().trim_start_matches('>').trim_start())
            .collect::<Vec<_>>()
            .join("\n"),
    ];
    variants.iter().any(|text| {
        let paragraphs: Vec<String> = text
            .split("\n\n")
            .map(normalise)
            .filter(|p| !p.is_empty())
            .collect();
        (0..paragraphs.len()).any(|start| {
            let mut joined = String::new();
            for p in &paragraphs[start..] {
                if !joined.is_empty() {
                    joined.push(' ');
                }
                joined.push_str(p);
                if joined.chars().count() > answers.longest {
                    return false;
                }
                if answers.prints.contains(&sha256_hex(joined.as_bytes())) {
                    return true;
                }
            }
            false
        })
    })
}

fn check_revealed_answers(nb: &Notebook, options: &CheckOptions, report: &mut CheckReport) {
    let answers = answer_fingerprints(nb, options);
    let before = report.problems.len();
    for cell in nb.cells() {
        let mut texts = vec![cell.source()];
        for output in cell.outputs() {
            texts.extend(output_texts(output));
        }
        if !answers.prints.is_empty() && texts.iter().any(|t| holds_answer(t, &answers)) {
            report.problems.push(Finding {
                kind: "revealed-answer",
                cell: Some(cell.id()),
                message: format!(
                    "{} holds a model's answer to a probed request: take it out (quote the verdict and the evidence phrase instead; answers stay out of submissions).",
                    cell.label()
                ),
            });
        }
        // Kernels before the reveal page printed answers into the output itself.
        if cell.records().any(|r| {
            r["kind"] == "probe"
                && r["cells"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|s| s.get("revealed").is_some()))
        }) {
            report.problems.push(Finding {
                kind: "revealed-answer",
                cell: Some(cell.id()),
                message: format!(
                    "{}'s output holds revealed probe answers: run it again without --reveal.",
                    cell.label()
                ),
            });
        }
    }
    if report.problems.len() == before {
        report.passed.push(if answers.prints.is_empty() {
            "no probe answer other than a refusal to look for in the file".to_string()
        } else {
            format!(
                "none of the {} probe answers is in the file",
                answers.prints.len()
            )
        });
    }
}

fn check_fallbacks(nb: &Notebook, report: &mut CheckReport) {
    let before = report.problems.len();
    let mut rich = 0;
    for cell in nb.cells() {
        for output in cell.outputs() {
            let Some(data) = output["data"].as_object() else {
                continue;
            };
            rich += 1;
            let has = |mime: &str| data.contains_key(mime);
            let ours = output["metadata"].get("alignment_lab").is_some();
            let missing = if !has("text/plain") {
                Some("a text/plain fallback")
            } else if has("image/svg+xml") && !has("image/png") {
                Some("a PNG beside its SVG (the PDF export cannot show SVG)")
            } else if ours && has("text/html") && !has("text/markdown") && !has("image/png") {
                Some("a markdown table beside its HTML (the PDF export drops HTML)")
            } else {
                None
            };
            if let Some(missing) = missing {
                let finding = Finding {
                    kind: "missing-fallback",
                    cell: Some(cell.id()),
                    message: format!(
                        "an output of {} lacks {missing}: run the cell again with this kernel.",
                        cell.label()
                    ),
                };
                if ours {
                    report.problems.push(finding);
                } else {
                    report.warnings.push(finding);
                }
            }
        }
    }
    if report.problems.len() == before && rich > 0 {
        report.passed.push(format!(
            "all {rich} rich outputs carry their export fallbacks"
        ));
    }
}

/// The model ids a record names.
fn record_models(record: &Value) -> Vec<String> {
    let mut models: Vec<String> = record["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(String::from))
        .collect();
    if models.is_empty() {
        if let Some(m) = record["model"].as_str() {
            models.push(m.to_string());
        }
    }
    models
}

const MODEL_KINDS: &[&str] = &["chat", "probe", "debate", "debate-transcript"];

fn check_provenance(nb: &Notebook, report: &mut CheckReport) {
    let mut all_small = true;
    let mut any = false;
    for cell in nb.cells() {
        for record in cell.records() {
            let kind = record["kind"].as_str().unwrap_or("");
            if !MODEL_KINDS.contains(&kind) {
                continue;
            }
            let backend = record["backend"]["kind"].as_str().unwrap_or("unknown");
            let server = record["backend"]["server"].as_str().unwrap_or("");
            for model in record_models(record) {
                any = true;
                if !model.to_lowercase().contains("135m") {
                    all_small = false;
                }
                let source = format!(
                    "{model} ({}{})",
                    if backend == "embedded" {
                        "embedded"
                    } else {
                        backend
                    },
                    if server.is_empty() {
                        String::new()
                    } else {
                        format!(", {server}")
                    }
                );
                let cells = report.provenance.entry(source).or_default();
                let label = format!("`{}` ({kind})", cell.id());
                if !cells.contains(&label) {
                    cells.push(label);
                }
            }
        }
    }
    if !any {
        report.problems.push(Finding {
            kind: "no-results",
            cell: None,
            message:
                "no model results in the file: run the exercises (and save) before handing in."
                    .into(),
        });
    } else if all_small {
        report.warnings.push(Finding {
            kind: "embedded-only",
            cell: None,
            message: "results from a 135M model (the embedded SmolLM2): the chapter asks for Llama 3.2 or Qwen — start LM Studio with one of them and run the exercises again, or say in your findings why you could not.".into(),
        });
    }
}

#[cfg(test)]
mod tests;

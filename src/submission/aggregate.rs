//! Class results: the structured records in students' notebooks, pooled. Only the metadata the
//! magics left is read — verdict counts, grades, the challenge chosen — never an answer's text.
//! A probe is pooled only with probes of the same request through the same prompt text (their
//! fingerprints), so a student who changed the request or a strategy is counted apart.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::notebook::Notebook;
use crate::lab::stats::wilson_interval;

#[derive(Debug, Default, Serialize)]
pub struct ProbePool {
    pub request: String,
    pub topic: String,
    pub model: String,
    pub strategy: String,
    /// The prompt text's fingerprint, shortened: a changed strategy wording is a new row.
    pub prompt: String,
    pub refused: u64,
    /// Refused + partial + complied: the samples a rate is computed over.
    pub answered: u64,
    pub no_answer: u64,
    pub students: BTreeSet<String>,
}

impl ProbePool {
    pub fn rate(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.refused as f64 / self.answered as f64)
    }

    pub fn interval(&self) -> (f64, f64) {
        wilson_interval(self.refused, self.answered)
    }
}

/// Right answers out of graded ones.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Tally {
    pub right: u64,
    pub graded: u64,
}

impl Tally {
    fn add(&mut self, correct: &Value) {
        if let Some(c) = correct.as_bool() {
            self.graded += 1;
            self.right += c as u64;
        }
    }

    pub fn text(&self) -> String {
        if self.graded == 0 {
            return "—".into();
        }
        let (lo, hi) = wilson_interval(self.right, self.graded);
        format!(
            "{}/{} = {:.0}% ({:.0}–{:.0}%)",
            self.right,
            self.graded,
            100.0 * self.right as f64 / self.graded as f64,
            100.0 * lo,
            100.0 * hi
        )
    }
}

#[derive(Debug, Default, Serialize)]
pub struct DebatePool {
    /// `:debate` or the students' own pipelines (Exercise 3).
    pub source: String,
    pub models: String,
    pub agents: u64,
    pub rounds: u64,
    /// Agents' answers per round.
    pub by_round: Vec<Tally>,
    pub final_answer: Tally,
    pub majority: Tally,
    pub single: Tally,
    pub self_consistency: Tally,
    pub students: BTreeSet<String>,
}

#[derive(Debug, Serialize)]
pub struct SubmissionSummary {
    pub student: String,
    pub file: String,
    pub kernel_versions: BTreeSet<String>,
    pub probes: usize,
    pub debates: usize,
    pub pipelines: usize,
    pub challenge: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct ClassResults {
    pub submissions: Vec<SubmissionSummary>,
    /// Files that were skipped or are incomplete, and why: reported, never fatal.
    pub notes: Vec<String>,
    pub probe: Vec<ProbePool>,
    pub debate: Vec<DebatePool>,
    /// Challenge → students who took it.
    pub challenges: BTreeMap<String, BTreeSet<String>>,
}

/// The notebooks inside `path`: a notebook, a zip made by `alignment-lab export`, or a folder of
/// either. Each comes with the file it came from (the zip, for a notebook inside one).
fn notebooks_in(path: &Path, notes: &mut Vec<String>) -> Vec<(PathBuf, Notebook)> {
    let origin = path.to_path_buf();
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "ipynb" || e == "zip"))
            .collect();
        entries.sort();
        return entries
            .iter()
            .flat_map(|p| notebooks_in(p, notes))
            .collect();
    }
    if path.extension().is_some_and(|e| e == "zip") {
        return match notebooks_in_zip(path) {
            Ok(found) if found.is_empty() => {
                notes.push(format!("{}: no notebook in the zip", path.display()));
                Vec::new()
            }
            Ok(found) => found.into_iter().map(|nb| (origin.clone(), nb)).collect(),
            Err(e) => {
                notes.push(format!("{}: cannot read the zip ({e})", path.display()));
                Vec::new()
            }
        };
    }
    match Notebook::read(path) {
        Ok(nb) => vec![(origin, nb)],
        Err(e) => {
            notes.push(format!("{:#} — skipped", e));
            Vec::new()
        }
    }
}

fn notebooks_in_zip(path: &Path) -> anyhow::Result<Vec<Notebook>> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    let mut found = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        let name = file.name()?.to_string();
        if !name.ends_with(".ipynb") || name.contains(".ipynb_checkpoints") {
            continue;
        }
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        found.push(Notebook::parse(&path.join(&name), &text)?);
    }
    Ok(found)
}

/// Students are named by their files: the file name, or — when everyone handed in the course
/// notebook under its own name — the nearest folder whose name tells them apart (nbgrader's
/// `submitted/<student>/<assignment>/`, or one folder per student).
fn student_names(found: &[(PathBuf, Notebook)]) -> Vec<String> {
    let parts: Vec<Vec<String>> = found
        .iter()
        .map(|(origin, _)| {
            let mut parts = vec![origin
                .file_stem()
                .map(|s| s.to_string_lossy().replace("-submission", ""))
                .unwrap_or_default()];
            let absolute = origin.canonicalize().unwrap_or_else(|_| origin.clone());
            parts.extend(
                absolute
                    .ancestors()
                    .skip(1)
                    .filter_map(|a| a.file_name())
                    .map(|n| n.to_string_lossy().into_owned()),
            );
            parts
        })
        .collect();
    let deepest = parts.iter().map(Vec::len).max().unwrap_or(0);
    for depth in 0..deepest {
        let names: Vec<String> = parts
            .iter()
            .map(|p| p.get(depth).cloned().unwrap_or_default())
            .collect();
        let distinct: BTreeSet<&String> = names.iter().collect();
        if distinct.len() == names.len() && !names.iter().any(String::is_empty) {
            return names;
        }
    }
    // The same file given twice: number them.
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{} ({})", p[0], i + 1))
        .collect()
}

fn short(fingerprint: &str) -> String {
    fingerprint.chars().take(8).collect()
}

impl ClassResults {
    pub fn from_paths(paths: &[PathBuf]) -> Self {
        let mut class = ClassResults::default();
        let mut probes: BTreeMap<(String, String, String, String), ProbePool> = BTreeMap::new();
        let mut debates: BTreeMap<(String, String, u64, u64), DebatePool> = BTreeMap::new();
        let mut found = Vec::new();
        for path in paths {
            found.extend(notebooks_in(path, &mut class.notes));
        }
        let names = student_names(&found);
        for ((_, nb), student) in found.iter().zip(names) {
            class.add(&student, nb, &mut probes, &mut debates);
        }
        class.probe = probes.into_values().collect();
        class.debate = debates.into_values().collect();
        let versions: BTreeSet<&String> = class
            .submissions
            .iter()
            .flat_map(|s| s.kernel_versions.iter())
            .collect();
        if versions.len() > 1 {
            class.notes.push(format!(
                "the submissions were made with different kernel versions ({}): the classifier and grader may differ between them",
                versions.into_iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        class
    }

    fn add(
        &mut self,
        student: &str,
        nb: &Notebook,
        probes: &mut BTreeMap<(String, String, String, String), ProbePool>,
        debates: &mut BTreeMap<(String, String, u64, u64), DebatePool>,
    ) {
        let file = nb.path.display().to_string();
        if nb.kernel_name() != Some("alignment-lab") {
            self.notes.push(format!(
                "{file}: not an Alignment Lab notebook (kernel `{}`) — skipped",
                nb.kernel_name().unwrap_or("none")
            ));
            return;
        }
        let mut summary = SubmissionSummary {
            student: student.to_string(),
            file: file.clone(),
            kernel_versions: BTreeSet::new(),
            probes: 0,
            debates: 0,
            pipelines: 0,
            challenge: None,
        };
        for cell in nb.cells() {
            for record in cell.records() {
                if let Some(v) = record["kernel_version"].as_str() {
                    summary.kernel_versions.insert(v.to_string());
                }
                match record["kind"].as_str() {
                    Some("probe") => {
                        if add_probe(student, record, probes) {
                            summary.probes += 1;
                        } else {
                            self.notes.push(format!(
                                "{file}, cell `{}`: a probe without request and prompt fingerprints (an older kernel) — not pooled",
                                cell.id()
                            ));
                        }
                    }
                    Some("debate") => {
                        summary.debates += 1;
                        add_debate(student, ":debate", record, debates);
                    }
                    Some("debate-transcript") => {
                        summary.pipelines += 1;
                        add_debate(student, "own pipeline (Exercise 3)", record, debates);
                    }
                    Some("rlhf-challenge") => {
                        if let Some(name) = record["challenge"].as_str() {
                            summary.challenge = Some(name.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(name) = &summary.challenge {
            self.challenges
                .entry(name.clone())
                .or_default()
                .insert(student.to_string());
        }
        let missing: Vec<&str> = [
            (summary.probes == 0, "a probe result (Exercise 1)"),
            (
                summary.challenge.is_none(),
                "an RLHF challenge (Exercise 2)",
            ),
            (summary.debates == 0, "a :debate result (Exercise 3)"),
        ]
        .into_iter()
        .filter_map(|(missing, what)| missing.then_some(what))
        .collect();
        if !missing.is_empty() {
            self.notes.push(format!(
                "{student} ({file}): no {} — was the notebook saved after running?",
                missing.join(", no ")
            ));
        }
        self.submissions.push(summary);
    }
}

fn add_probe(
    student: &str,
    record: &Value,
    probes: &mut BTreeMap<(String, String, String, String), ProbePool>,
) -> bool {
    let Some(request) = record["request_fingerprint"].as_str() else {
        return false;
    };
    let prompts: BTreeMap<&str, &str> = record["prompts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["strategy"].as_str()?, p["prompt_fingerprint"].as_str()?)))
        .collect();
    for row in record["rows"].as_array().into_iter().flatten() {
        let (Some(model), Some(strategy)) = (row["model"].as_str(), row["strategy"].as_str())
        else {
            continue;
        };
        let Some(prompt) = prompts.get(strategy) else {
            continue;
        };
        let count = |k: &str| row[k].as_u64().unwrap_or(0);
        let key = (
            request.to_string(),
            model.to_string(),
            strategy.to_string(),
            prompt.to_string(),
        );
        let pool = probes.entry(key).or_insert_with(|| ProbePool {
            request: short(request),
            topic: record["parameters"]["topic"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            model: model.to_string(),
            strategy: strategy.to_string(),
            prompt: short(prompt),
            ..ProbePool::default()
        });
        pool.refused += count("refused");
        pool.answered += count("refused") + count("partial") + count("complied");
        pool.no_answer += count("no_answer");
        pool.students.insert(student.to_string());
    }
    true
}

fn add_debate(
    student: &str,
    source: &str,
    record: &Value,
    debates: &mut BTreeMap<(String, String, u64, u64), DebatePool>,
) {
    let models = record["models"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let agents = record["parameters"]["agents"]
        .as_u64()
        .or(record["agents"].as_u64())
        .unwrap_or(0);
    let rounds = record["parameters"]["rounds"]
        .as_u64()
        .or(record["rounds"].as_u64())
        .unwrap_or(0);
    let pool = debates
        .entry((source.to_string(), models.clone(), agents, rounds))
        .or_insert_with(|| DebatePool {
            source: source.to_string(),
            models,
            agents,
            rounds,
            ..DebatePool::default()
        });
    pool.students.insert(student.to_string());
    for q in record["questions"].as_array().into_iter().flatten() {
        if q["reference"].is_null() {
            continue;
        }
        for (r, round) in q["rounds"].as_array().into_iter().flatten().enumerate() {
            if pool.by_round.len() <= r {
                pool.by_round.resize(r + 1, Tally::default());
            }
            for answer in round["answers"].as_array().into_iter().flatten() {
                if answer["error"].is_null() {
                    pool.by_round[r].add(&answer["correct"]);
                }
            }
        }
        // Older kernels recorded the final grade as `correct` only.
        pool.final_answer.add(match &q["final_correct"] {
            Value::Null => &q["correct"],
            v => v,
        });
        pool.majority.add(&q["majority_correct"]);
        pool.single.add(&q["baselines"]["single_correct"]);
        pool.self_consistency
            .add(&q["baselines"]["self_consistency_correct"]);
    }
}

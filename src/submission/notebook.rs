//! A saved notebook (nbformat 4) as the hand-in tools read it: cells, their role in the course
//! (`metadata.alignment_lab.role`), outputs and the records the magics left in them. Read-only
//! and forgiving: a student's file may come from any frontend or kernel version.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub struct Notebook {
    pub path: PathBuf,
    pub json: Value,
}

/// One cell, borrowed from the notebook.
pub struct Cell<'a> {
    pub index: usize,
    pub json: &'a Value,
}

impl Notebook {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(path, &text)
    }

    /// A notebook's text, read from `path` (a file, or a member of a zip).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let json: Value = serde_json::from_str(text).with_context(|| {
            format!(
                "{} is not a notebook: it is not valid JSON (is it an exported HTML or a half-saved file?)",
                path.display()
            )
        })?;
        if json["nbformat"].as_u64() != Some(4) || !json["cells"].is_array() {
            bail!(
                "{} is not an nbformat-4 notebook (no `nbformat: 4` and `cells` list)",
                path.display()
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            json,
        })
    }

    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }

    /// The notebook's name without `.ipynb`.
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "notebook".into())
    }

    pub fn kernel_name(&self) -> Option<&str> {
        self.json["metadata"]["kernelspec"]["name"].as_str()
    }

    pub fn cells(&self) -> impl Iterator<Item = Cell<'_>> {
        self.json["cells"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, json)| Cell { index, json })
    }
}

/// A notebook's `source` is a string or a list of lines.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

impl<'a> Cell<'a> {
    pub fn id(&self) -> String {
        self.json["id"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("cell {}", self.index + 1))
    }

    pub fn cell_type(&self) -> &'a str {
        self.json["cell_type"].as_str().unwrap_or("")
    }

    pub fn source(&self) -> String {
        text_of(&self.json["source"])
    }

    /// `metadata.alignment_lab.role`: `findings`, `exercise`, `check`.
    pub fn role(&self) -> Option<&'a str> {
        self.json["metadata"]["alignment_lab"]["role"].as_str()
    }

    pub fn exercise(&self) -> Option<&'a str> {
        self.json["metadata"]["alignment_lab"]["exercise"].as_str()
    }

    pub fn execution_count(&self) -> Option<u64> {
        self.json["execution_count"].as_u64()
    }

    pub fn outputs(&self) -> &'a [Value] {
        self.json["outputs"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every `metadata.alignment_lab` record the cell's outputs carry.
    pub fn records(&self) -> impl Iterator<Item = &'a Value> {
        self.outputs()
            .iter()
            .filter_map(|o| o["metadata"].get("alignment_lab"))
            .filter(|r| r.is_object())
    }

    /// How a person finds the cell: its id and the start of its first line.
    pub fn label(&self) -> String {
        let source = self.source();
        let first = source
            .lines()
            .map(|l| l.trim().trim_start_matches(['#', '/']).trim())
            .find(|l| !l.is_empty())
            .unwrap_or("(empty)");
        let short: String = first.chars().take(48).collect();
        let ellipsis = if short.len() < first.len() { "…" } else { "" };
        format!("`{}` — “{short}{ellipsis}”", self.id())
    }
}

/// Every piece of text an output shows: stream text and textual MIME types.
pub fn output_texts(output: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(text) = output.get("text") {
        texts.push(text_of(text));
    }
    if let Some(data) = output["data"].as_object() {
        for (mime, value) in data {
            if mime.starts_with("text/") {
                texts.push(text_of(value));
            }
        }
    }
    if let Some(trace) = output["traceback"].as_array() {
        texts.push(
            trace
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    texts
}

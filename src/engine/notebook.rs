//! `alignment-lab run`: execute a notebook with the engine, no Jupyter needed, and store the
//! outputs as Jupyter would — including the final state of displays updated by display id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::display::{Bundle, CellError, OutputSink, StreamName};

pub struct RunOptions {
    pub output: Option<PathBuf>,
    pub allow_errors: bool,
}

pub struct RunSummary {
    pub output: PathBuf,
    pub cells_run: usize,
    pub errors: Vec<(usize, CellError)>,
}

/// Outputs of the whole notebook, so an update can reach a display in an earlier cell.
#[derive(Default)]
struct NotebookOutputs {
    cells: Vec<Vec<Value>>,
    /// display id → (cell, output index) of every output showing it.
    displays: HashMap<String, Vec<(usize, usize)>>,
    execution_count: Option<u64>,
}

struct CellSink {
    cell: usize,
    state: Arc<Mutex<NotebookOutputs>>,
}

fn bundle_json(bundle: &Bundle) -> (Value, Value) {
    (
        Value::Object(bundle.data.clone()),
        Value::Object(bundle.metadata.clone()),
    )
}

impl OutputSink for CellSink {
    fn stream(&self, name: StreamName, text: &str) {
        let name = match name {
            StreamName::Stdout => "stdout",
            StreamName::Stderr => "stderr",
        };
        let mut st = self.state.lock().expect("notebook lock");
        let outputs = &mut st.cells[self.cell];
        // Jupyter merges consecutive text on the same stream into one output.
        if let Some(last) = outputs.last_mut() {
            if last["output_type"] == "stream" && last["name"] == name {
                let joined = format!("{}{}", last["text"].as_str().unwrap_or(""), text);
                last["text"] = Value::String(joined);
                return;
            }
        }
        outputs.push(json!({"output_type": "stream", "name": name, "text": text}));
    }

    fn display(&self, bundle: Bundle, display_id: Option<String>) {
        let (data, metadata) = bundle_json(&bundle);
        let mut st = self.state.lock().expect("notebook lock");
        let index = st.cells[self.cell].len();
        st.cells[self.cell]
            .push(json!({"output_type": "display_data", "data": data, "metadata": metadata}));
        if let Some(id) = display_id {
            st.displays.entry(id).or_default().push((self.cell, index));
        }
    }

    fn update_display(&self, bundle: Bundle, display_id: &str) {
        let (data, metadata) = bundle_json(&bundle);
        let mut st = self.state.lock().expect("notebook lock");
        let targets = st.displays.get(display_id).cloned().unwrap_or_default();
        for (cell, index) in targets {
            let output = &mut st.cells[cell][index];
            output["data"] = data.clone();
            output["metadata"] = metadata.clone();
        }
    }

    fn execute_result(&self, bundle: Bundle) {
        let (data, metadata) = bundle_json(&bundle);
        let mut st = self.state.lock().expect("notebook lock");
        let count = st.execution_count;
        st.cells[self.cell].push(json!({
            "output_type": "execute_result",
            "execution_count": count,
            "data": data,
            "metadata": metadata,
        }));
    }
}

fn default_output(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "notebook".into());
    input.with_file_name(format!("{stem}.executed.ipynb"))
}

/// Cell source is a string or a list of lines in nbformat 4.
fn source_text(cell: &Value) -> String {
    crate::submission::notebook::text_of(&cell["source"])
}

pub async fn run_notebook(
    engine: &mut Engine,
    input: &Path,
    options: RunOptions,
    mut on_cell: impl FnMut(usize, usize),
) -> Result<RunSummary> {
    engine.set_notebook(input);
    let mut nb = crate::submission::Notebook::read(input)?.json;
    let cells = nb["cells"]
        .as_array()
        .cloned()
        .with_context(|| format!("{} has no cells list", input.display()))?;
    let state = Arc::new(Mutex::new(NotebookOutputs {
        cells: vec![Vec::new(); cells.len()],
        ..Default::default()
    }));
    let code_cells: Vec<usize> = cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c["cell_type"] == "code")
        .map(|(i, _)| i)
        .collect();
    let mut counts: Vec<Option<u64>> = vec![None; cells.len()];
    let mut errors = Vec::new();
    let mut run = 0;
    let mut count = 0u64;
    for (n, &i) in code_cells.iter().enumerate() {
        on_cell(n + 1, code_cells.len());
        count += 1;
        counts[i] = Some(count);
        state.lock().expect("notebook lock").execution_count = Some(count);
        let sink = Arc::new(CellSink {
            cell: i,
            state: state.clone(),
        });
        let result = engine
            .execute(&source_text(&cells[i]), sink, CancellationToken::new())
            .await;
        run += 1;
        if let Err(e) = result {
            state.lock().expect("notebook lock").cells[i].push(json!({
                "output_type": "error",
                "ename": e.ename,
                "evalue": e.evalue,
                "traceback": e.traceback,
            }));
            errors.push((i, e));
            if !options.allow_errors {
                break;
            }
        }
    }
    let st = state.lock().expect("notebook lock");
    let out_cells = nb["cells"].as_array_mut().expect("checked above");
    for (i, cell) in out_cells.iter_mut().enumerate() {
        if cell["cell_type"] == "code" {
            cell["outputs"] = Value::Array(st.cells[i].clone());
            cell["execution_count"] = counts[i].map(Value::from).unwrap_or(Value::Null);
        }
    }
    let mut meta: Map<String, Value> = nb["metadata"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    meta.insert(
        "kernelspec".into(),
        json!({"name": "alignment-lab", "display_name": "Rust · Alignment Lab", "language": "rust"}),
    );
    meta.insert(
        "language_info".into(),
        json!({"name": "rust", "file_extension": ".rs", "mimetype": "text/rust", "pygments_lexer": "rust", "codemirror_mode": "rust", "version": ""}),
    );
    nb["metadata"] = Value::Object(meta);
    let output = options.output.unwrap_or_else(|| default_output(input));
    let pretty = serde_json::to_string_pretty(&nb)? + "\n";
    std::fs::write(&output, pretty)
        .with_context(|| format!("cannot write {}", output.display()))?;
    Ok(RunSummary {
        output,
        cells_run: run,
        errors,
    })
}

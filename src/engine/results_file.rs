//! `alignment-lab-results.json`, beside the notebook: the final outputs of every magic cell that
//! called a model and the answers to Rust cells' model calls, so a grader's machine can show a
//! student's results without a model server. nbgrader's autograde clears outputs and runs the
//! notebook again with `NBGRADER_EXECUTION` set (files beside a submitted notebook are copied
//! with it); in that mode the kernel makes no model call and replays from this file instead.
//!
//! It holds only what the notebook itself shows: `:probe` outputs carry verdicts, never answers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::display::{Bundle, OutputSink, StreamName};
use crate::lab::fingerprint::sha256_hex;
use crate::llm::{ChatRequest, ChatResponse};

pub const FILE_NAME: &str = "alignment-lab-results.json";

/// The magics whose output depends on a model (or a server), and so are replayed, not re-run.
pub const MODEL_MAGICS: &[&str] = &["backend", "models", "chat", "probe", "debate"];

pub struct ResultsStore {
    dir: Mutex<PathBuf>,
    /// `NBGRADER_EXECUTION`'s value (`validate`, `autograde`) when a grader runs the notebook.
    grader: Option<String>,
    /// `ALIGNMENT_LAB_RESULTS=off`: keep nothing beside the notebook.
    disabled: bool,
    /// Changes not yet written: a Rust cell's calls are written once, when the cell ends, not
    /// one file rewrite per call.
    pending: Mutex<Vec<Change>>,
    /// The file as last read, for lookups (a grader's run reads it once, not once per call).
    read: Mutex<Option<(PathBuf, Arc<Value>)>>,
    /// One writer at a time.
    write: Mutex<()>,
}

enum Change {
    SetCell(String, Value),
    RemoveCell(String),
    SetCall(String, Value),
}

/// A cell is found again by its code, whatever its position or id.
pub fn cell_key(code: &str) -> String {
    sha256_hex(code.trim().as_bytes())
}

/// A model call is found again by what was asked, as the client sent it.
pub fn call_key(request: &ChatRequest) -> String {
    sha256_hex(
        serde_json::to_string(request)
            .unwrap_or_default()
            .as_bytes(),
    )
}

impl ResultsStore {
    pub fn from_env() -> Arc<Self> {
        let grader = std::env::var("NBGRADER_EXECUTION")
            .ok()
            .filter(|v| !v.trim().is_empty());
        let disabled = std::env::var("ALIGNMENT_LAB_RESULTS").is_ok_and(|v| v == "off");
        Arc::new(Self::new(
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            grader,
            disabled,
        ))
    }

    fn new(dir: PathBuf, grader: Option<String>, disabled: bool) -> Self {
        Self {
            dir: Mutex::new(dir),
            grader,
            disabled,
            pending: Mutex::new(Vec::new()),
            read: Mutex::new(None),
            write: Mutex::new(()),
        }
    }

    /// The notebook's directory, when the kernel knows it (`alignment-lab run`).
    pub fn set_dir(&self, dir: &Path) {
        *self.dir.lock().expect("results dir") = dir.to_path_buf();
    }

    pub fn path(&self) -> PathBuf {
        self.dir.lock().expect("results dir").join(FILE_NAME)
    }

    pub fn grader_mode(&self) -> Option<&str> {
        self.grader.as_deref()
    }

    fn writes(&self) -> bool {
        self.grader.is_none() && !self.disabled
    }

    fn load(path: &Path) -> Value {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({"format": "alignment-lab-results", "version": 1}))
    }

    fn change(&self, change: Change) {
        if self.writes() {
            self.pending.lock().expect("pending").push(change);
        }
    }

    /// Write what changed: the file is read again first, so two kernels in one folder do not
    /// undo each other's cells.
    pub fn flush(&self) {
        let changes = std::mem::take(&mut *self.pending.lock().expect("pending"));
        if changes.is_empty() {
            return;
        }
        let _guard = self.write.lock().expect("results writer");
        let path = self.path();
        if path.parent().is_some_and(|dir| !dir.is_dir()) {
            // The notebook's folder is gone (a scratch run): nothing to keep beside it.
            return;
        }
        let mut file = Self::load(&path);
        if let Some(fields) = file.as_object_mut() {
            for change in changes {
                match change {
                    Change::SetCell(key, entry) => {
                        Self::section(fields, "cells").insert(key, entry);
                    }
                    Change::RemoveCell(key) => {
                        Self::section(fields, "cells").remove(&key);
                    }
                    Change::SetCall(key, entry) => {
                        Self::section(fields, "calls").insert(key, entry);
                    }
                }
            }
        }
        // Written whole and renamed, so a crash never leaves half a file for the grader.
        let tmp = path.with_extension("json.tmp");
        let written = serde_json::to_vec(&file)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|_| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::warn!("cannot write {}: {e}", path.display());
        }
        *self.read.lock().expect("read cache") = None;
    }

    /// The file's content, parsed once per version this store knows of.
    fn snapshot(&self) -> Arc<Value> {
        let path = self.path();
        let mut read = self.read.lock().expect("read cache");
        if let Some((p, v)) = read.as_ref() {
            if *p == path {
                return v.clone();
            }
        }
        let value = Arc::new(Self::load(&path));
        *read = Some((path, value.clone()));
        value
    }

    fn section<'a>(fields: &'a mut Map<String, Value>, name: &str) -> &'a mut Map<String, Value> {
        let entry = fields.entry(name).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        entry.as_object_mut().expect("object")
    }

    pub fn record_cell(&self, code: &str, outputs: Vec<Value>) {
        let first_line = code.trim().lines().next().unwrap_or("").to_string();
        self.change(Change::SetCell(
            cell_key(code),
            json!({
                "magic": first_line,
                "recorded_at": chrono::Utc::now().to_rfc3339(),
                "kernel_version": env!("CARGO_PKG_VERSION"),
                "outputs": outputs,
            }),
        ));
        self.flush();
    }

    /// A failed run leaves no result: a grader must not be shown an older one.
    pub fn forget_cell(&self, code: &str) {
        self.change(Change::RemoveCell(cell_key(code)));
        self.flush();
    }

    pub fn recorded_cell(&self, code: &str) -> Option<Value> {
        self.snapshot()["cells"].get(cell_key(code)).cloned()
    }

    /// Kept until [`ResultsStore::flush`] (the engine flushes when the cell ends).
    pub fn record_call(&self, request: &ChatRequest, response: &ChatResponse) {
        self.change(Change::SetCall(
            call_key(request),
            json!({
                "model": response.model,
                "text": response.text,
                "finish_reason": response.finish_reason,
            }),
        ));
    }

    pub fn recorded_call(&self, request: &ChatRequest) -> Option<ChatResponse> {
        let snapshot = self.snapshot();
        let call = snapshot["calls"].get(call_key(request))?;
        Some(ChatResponse {
            text: call["text"].as_str()?.to_string(),
            model: call["model"].as_str().unwrap_or("").to_string(),
            finish_reason: call["finish_reason"].as_str().map(String::from),
            ..ChatResponse::default()
        })
    }

    /// Grader mode: show what the student's run recorded for this cell, or say plainly that
    /// the cell was not re-run. Never an error: nbgrader counts errors against the student.
    pub fn replay(&self, code: &str, sink: &dyn OutputSink) {
        let mode = self.grader.as_deref().unwrap_or("grader");
        match self.recorded_cell(code) {
            Some(entry) => {
                let when = entry["recorded_at"].as_str().unwrap_or("?");
                let note = format!(
                    "Replayed from the student's run ({when}, kernel {}): not re-run, because NBGRADER_EXECUTION={mode} makes no model calls.",
                    entry["kernel_version"].as_str().unwrap_or("?")
                );
                sink.display(Bundle::markdown(format!("*{note}*")), None);
                for output in entry["outputs"].as_array().into_iter().flatten() {
                    match output["output_type"].as_str() {
                        Some("stream") => sink.stream(
                            if output["name"] == "stderr" {
                                StreamName::Stderr
                            } else {
                                StreamName::Stdout
                            },
                            output["text"].as_str().unwrap_or(""),
                        ),
                        _ => sink.display(
                            Bundle {
                                data: output["data"].as_object().cloned().unwrap_or_default(),
                                metadata: output["metadata"].as_object().cloned().unwrap_or_default(),
                            },
                            None,
                        ),
                    }
                }
            }
            None => sink.display(
                Bundle::markdown(format!(
                    "*Not re-run: NBGRADER_EXECUTION={mode} makes no model calls, and `{FILE_NAME}` beside the notebook holds no result of this cell (was it handed in, and was the cell run as it stands?).*"
                )),
                None,
            ),
        }
    }
}

/// Passes outputs on and keeps their final state (display updates applied), as the notebook
/// will store them: that is what is recorded for the grader.
pub struct RecordingSink {
    inner: Arc<dyn OutputSink>,
    state: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    outputs: Vec<Value>,
    displays: Vec<(String, usize)>,
}

fn output_json(kind: &str, bundle: &Bundle) -> Value {
    json!({"output_type": kind, "data": bundle.data, "metadata": bundle.metadata})
}

impl Drop for ResultsStore {
    fn drop(&mut self) {
        self.flush();
    }
}

impl RecordingSink {
    pub fn new(inner: Arc<dyn OutputSink>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            state: Mutex::new(Recorded::default()),
        })
    }

    pub fn outputs(&self) -> Vec<Value> {
        self.state.lock().expect("recording").outputs.clone()
    }
}

impl OutputSink for RecordingSink {
    fn stream(&self, name: StreamName, text: &str) {
        self.inner.stream(name, text);
        let name = match name {
            StreamName::Stdout => "stdout",
            StreamName::Stderr => "stderr",
        };
        let mut st = self.state.lock().expect("recording");
        if let Some(last) = st.outputs.last_mut() {
            if last["output_type"] == "stream" && last["name"] == name {
                let joined = format!("{}{text}", last["text"].as_str().unwrap_or(""));
                last["text"] = json!(joined);
                return;
            }
        }
        st.outputs
            .push(json!({"output_type": "stream", "name": name, "text": text}));
    }

    fn display(&self, bundle: Bundle, display_id: Option<String>) {
        let mut st = self.state.lock().expect("recording");
        let index = st.outputs.len();
        st.outputs.push(output_json("display_data", &bundle));
        if let Some(id) = &display_id {
            st.displays.push((id.clone(), index));
        }
        drop(st);
        self.inner.display(bundle, display_id);
    }

    fn update_display(&self, bundle: Bundle, display_id: &str) {
        let mut st = self.state.lock().expect("recording");
        let targets: Vec<usize> = st
            .displays
            .iter()
            .filter(|(id, _)| id == display_id)
            .map(|(_, i)| *i)
            .collect();
        for i in targets {
            st.outputs[i] = output_json("display_data", &bundle);
        }
        drop(st);
        self.inner.update_display(bundle, display_id);
    }

    fn execute_result(&self, bundle: Bundle) {
        self.state
            .lock()
            .expect("recording")
            .outputs
            .push(output_json("display_data", &bundle));
        self.inner.execute_result(bundle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::CollectingSink;

    fn store(dir: &Path, grader: Option<&str>) -> ResultsStore {
        ResultsStore::new(dir.to_path_buf(), grader.map(String::from), false)
    }

    #[test]
    fn a_recorded_cell_is_replayed_in_grader_mode_with_its_final_outputs() {
        let dir = std::env::temp_dir().join(format!("results-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let code = ":probe --samples 5\nrequest";
        let inner = Arc::new(CollectingSink::default());
        let recorder = RecordingSink::new(inner.clone());
        recorder.display(Bundle::plain("progress 1/5"), Some("d1".into()));
        recorder.update_display(Bundle::plain("table 5/5"), "d1");
        recorder.stream(StreamName::Stdout, "a");
        recorder.stream(StreamName::Stdout, "b");
        store(&dir, None).record_cell(code, recorder.outputs());

        // The student's run records; the grader's run (a different process) replays.
        let grader = store(&dir, Some("autograde"));
        grader.record_cell(code, vec![json!("never written in grader mode")]);
        let shown = CollectingSink::default();
        grader.replay(&format!("\n{code}\n"), &shown);
        let events = format!("{:?}", shown.take());
        assert!(
            events.contains("Replayed from the student's run"),
            "{events}"
        );
        assert!(events.contains("NBGRADER_EXECUTION=autograde"), "{events}");
        assert!(
            events.contains("table 5/5") && !events.contains("progress"),
            "{events}"
        );
        assert!(events.contains("ab"), "{events}");

        let missing = CollectingSink::default();
        grader.replay(":probe --samples 6\nrequest", &missing);
        assert!(format!("{:?}", missing.take()).contains("Not re-run"));

        store(&dir, None).forget_cell(code);
        // A grader's run reads the file once (nothing writes it meanwhile): a new run sees this.
        assert!(store(&dir, Some("autograde")).recorded_cell(code).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn model_calls_are_found_by_the_request_as_sent() {
        let dir = std::env::temp_dir().join(format!("results-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let request = ChatRequest {
            seed: Some(1),
            ..ChatRequest::default()
        };
        let response = ChatResponse {
            text: "Answer: 5 hours".into(),
            model: "m".into(),
            ..ChatResponse::default()
        };
        let student = store(&dir, None);
        student.record_call(&request, &response);
        assert!(
            !dir.join(FILE_NAME).exists(),
            "calls are written when the cell ends"
        );
        student.flush();
        let again = store(&dir, Some("validate"))
            .recorded_call(&request)
            .unwrap();
        assert_eq!(again.text, "Answer: 5 hours");
        let other = ChatRequest {
            seed: Some(2),
            ..ChatRequest::default()
        };
        assert!(store(&dir, Some("validate"))
            .recorded_call(&other)
            .is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

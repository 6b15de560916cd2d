//! The cell engine: decides whether a cell is one of our magics or Rust for evcxr, and runs it.
//! The Jupyter kernel, `alignment-lab run` and the tests all execute cells through this.

mod cell_output;
mod cells_crate;
mod compile_errors;
pub mod endpoint;
mod notebook;
pub mod results_file;
mod rust_cells;

use std::sync::Arc;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::display::{Bundle, CellError, OutputSink};
use crate::llm::LabConfig;
use crate::magics::{self, MagicContext, Session};
pub use notebook::{run_notebook, RunOptions, RunSummary};
pub use results_file::ResultsStore;
pub use rust_cells::RustCells;

pub struct Engine {
    session: Session,
    rust: RustCells,
    /// The session as an OpenAI-compatible endpoint for Rust cells; `None` when no loopback
    /// port could be bound (Rust cells then run without model calls, and say so).
    endpoint: Option<endpoint::Endpoint>,
    /// `alignment-lab-results.json`: what model cells produced, for a grader to replay.
    results: Arc<ResultsStore>,
}

/// Whether a cell's code is ready to run (for terminal frontends).
#[derive(Debug, PartialEq, Eq)]
pub enum Completeness {
    Complete,
    Incomplete,
}

impl Engine {
    pub fn new(config: LabConfig) -> Self {
        let mut session = Session::new(config);
        let home = session.config.home.clone();
        let results = ResultsStore::from_env();
        let endpoint = match endpoint::Endpoint::reserve(
            session.shared(),
            session.debates.clone(),
            home.clone(),
            results.clone(),
        ) {
            Ok(e) => {
                // Before evcxr starts its child, which inherits the environment.
                e.export_to_environment();
                session.set_endpoint(e.url(), e.token());
                Some(e)
            }
            Err(e) => {
                tracing::warn!("no loopback port for the Rust cells' endpoint: {e}");
                None
            }
        };
        let prelude = match (&endpoint, cells_crate::install(&home)) {
            (Some(_), Ok(dir)) => cells_crate::prelude(&dir),
            (None, _) => Vec::new(),
            (_, Err(e)) => {
                tracing::warn!(
                    "cannot write the Rust cells' client crate under {}: {e}",
                    home.display()
                );
                Vec::new()
            }
        };
        Self {
            session,
            rust: RustCells::new(prelude),
            endpoint,
            results,
        }
    }

    /// The notebook being run (`alignment-lab run`): `:check` reads it, and its results file
    /// goes beside it. The kernel otherwise works in its current directory, which Jupyter sets
    /// to the notebook's.
    pub fn set_notebook(&mut self, path: &std::path::Path) {
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                dir
            };
            self.results.set_dir(dir);
        }
        self.session.notebook = Some(path.to_path_buf());
    }

    /// Run one cell. Outputs go to `sink`; an `Err` is the cell's one error.
    pub async fn execute(
        &mut self,
        code: &str,
        sink: Arc<dyn OutputSink>,
        cancel: CancellationToken,
    ) -> Result<(), CellError> {
        if code.trim().is_empty() {
            return Ok(());
        }
        if let Some(e) = &self.endpoint {
            if let Err(err) = e.serve() {
                tracing::warn!("the Rust cells' endpoint could not start: {err}");
            }
        }
        if let Some(call) = magics::parse_cell(code) {
            let calls_models = results_file::MODEL_MAGICS.contains(&call.name);
            if calls_models && self.results.grader_mode().is_some() {
                self.results.replay(code, sink.as_ref());
                return Ok(());
            }
            let recorder = calls_models.then(|| results_file::RecordingSink::new(sink.clone()));
            let ctx = MagicContext {
                session: &mut self.session,
                sink: match &recorder {
                    Some(r) => r.clone(),
                    None => sink,
                },
                cancel,
            };
            // A panic in a magic is a bug, but it must not take the kernel (and the student's
            // variables) down with it: report it as this cell's error instead.
            let name = call.name;
            let result = std::panic::AssertUnwindSafe(magics::run(&call, ctx))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    let msg = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("unknown panic");
                    Err(CellError::new(
                        "InternalError",
                        format!(":{name} hit a bug ({msg}); the kernel is still running — please report this"),
                    ))
                });
            if let Some(recorder) = recorder {
                match &result {
                    Ok(()) => self.results.record_cell(code, recorder.outputs()),
                    Err(_) => self.results.forget_cell(code),
                }
            }
            return result;
        }
        if let Some(e) = &self.endpoint {
            e.begin_cell(sink.clone(), cancel.clone());
        }
        let result = self.rust.execute(code, sink, cancel).await;
        if let Some(e) = &self.endpoint {
            e.end_cell();
        }
        // The answers its model calls got, for a grader's replay.
        self.results.flush();
        result
    }

    /// Completions at `cursor` (a byte offset): magic names and flags, else evcxr's.
    pub async fn complete(&self, code: &str, cursor: usize) -> (Vec<String>, usize, usize) {
        if let Some((matches, start)) = magics::complete(code, cursor) {
            return (matches, start, cursor);
        }
        self.rust.complete(code, cursor).await
    }

    /// Help for the magic under the cursor.
    pub fn inspect(&self, code: &str) -> Option<Bundle> {
        magics::inspect(code).map(|help| {
            Bundle::plain(help.clone()).with(
                "text/markdown",
                crate::display::markdown::fenced(&help, "text"),
            )
        })
    }

    pub fn is_complete(code: &str) -> Completeness {
        if magics::parse_cell(code).is_some() {
            return Completeness::Complete;
        }
        // Open brackets outside strings and comments mean the statement goes on.
        let mut depth = 0i32;
        let mut in_str = false;
        let mut chars = code.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if in_str => {
                    chars.next();
                }
                '"' => in_str = !in_str,
                '/' if !in_str && chars.peek() == Some(&'/') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '(' | '[' | '{' if !in_str => depth += 1,
                ')' | ']' | '}' if !in_str => depth -= 1,
                _ => {}
            }
        }
        if depth > 0 || in_str {
            Completeness::Incomplete
        } else {
            Completeness::Complete
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completeness() {
        assert_eq!(Engine::is_complete("let x = 1;"), Completeness::Complete);
        assert_eq!(Engine::is_complete("fn f() {"), Completeness::Incomplete);
        assert_eq!(
            Engine::is_complete("let s = \"{\";"),
            Completeness::Complete
        );
        assert_eq!(
            Engine::is_complete("// {\nlet x = 1;"),
            Completeness::Complete
        );
        assert_eq!(Engine::is_complete(":chat\n{"), Completeness::Complete);
    }
}

//! Rust cells on evcxr. evcxr's context is created lazily on the first Rust cell — it starts a
//! child process and rust-analyzer, which costs seconds and hundreds of megabytes that a
//! notebook of magics never needs. It lives on its own thread because `execute` blocks.

use std::process::Child;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use evcxr::CommandContext;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::cell_output::{CellOutput, Limits};
use super::compile_errors::Diagnostic;
use crate::display::{Bundle, CellError, OutputSink, StreamName};

enum Request {
    Execute {
        code: String,
        sink: Arc<dyn OutputSink>,
        reply: oneshot::Sender<Result<Option<Bundle>, CellError>>,
    },
    Complete {
        code: String,
        cursor: usize,
        reply: oneshot::Sender<(Vec<String>, usize, usize)>,
    },
}

pub struct RustCells {
    requests: std_mpsc::Sender<Request>,
    /// The evcxr child process, once started; killed to interrupt a running cell.
    process: Arc<Mutex<Option<Arc<Mutex<Child>>>>>,
}

impl Default for RustCells {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl RustCells {
    /// `prelude`: evcxr commands and code run once, before the first cell (the model-call API).
    pub fn new(prelude: Vec<String>) -> Self {
        let (tx, rx) = std_mpsc::channel();
        let process = Arc::new(Mutex::new(None));
        let worker_process = process.clone();
        std::thread::Builder::new()
            .name("evcxr".into())
            .spawn(move || worker(rx, worker_process, prelude))
            .expect("spawning the evcxr thread");
        Self {
            requests: tx,
            process,
        }
    }

    pub async fn execute(
        &self,
        code: &str,
        sink: Arc<dyn OutputSink>,
        cancel: CancellationToken,
    ) -> Result<(), CellError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Execute {
                code: code.to_string(),
                sink: sink.clone(),
                reply,
            })
            .map_err(|_| CellError::new("EvcxrError", "the Rust evaluator thread has stopped"))?;
        let mut answer = answer;
        let mut interrupted = false;
        let result = loop {
            tokio::select! {
                r = &mut answer => break r,
                _ = cancel.cancelled(), if !interrupted => {
                    interrupted = true;
                    // The only way to stop compiled code is to end its process; evcxr starts a
                    // fresh one for the next cell.
                    if let Some(child) = self.process.lock().expect("process lock").as_ref() {
                        let _ = child.lock().expect("child lock").kill();
                    }
                }
            }
        };
        let result = result
            .map_err(|_| CellError::new("EvcxrError", "the Rust evaluator thread stopped"))?;
        match result {
            Ok(Some(bundle)) => {
                sink.execute_result(bundle);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(_) if interrupted => Err(CellError::interrupted(
                "the Rust cell was stopped. evcxr restarted its process, so variables from earlier cells are gone: re-run the cells that define them",
            )),
            Err(e) => Err(e),
        }
    }

    /// evcxr's completions, only once evcxr is running (starting it for a Tab press would stall).
    pub async fn complete(&self, code: &str, cursor: usize) -> (Vec<String>, usize, usize) {
        if self.process.lock().expect("process lock").is_none() {
            return (Vec::new(), cursor, cursor);
        }
        let (reply, answer) = oneshot::channel();
        let sent = self.requests.send(Request::Complete {
            code: code.to_string(),
            cursor,
            reply,
        });
        if sent.is_err() {
            return (Vec::new(), cursor, cursor);
        }
        answer.await.unwrap_or((Vec::new(), cursor, cursor))
    }
}

fn is_unit(outputs: &evcxr::EvalOutputs) -> bool {
    outputs.content_by_mime_type.len() == 1
        && outputs
            .content_by_mime_type
            .get("text/plain")
            .map(String::as_str)
            == Some("()")
}

fn evcxr_error(e: evcxr::Error) -> CellError {
    match e {
        evcxr::Error::CompilationErrors(errors) => {
            let diagnostics: Vec<Diagnostic> = errors.iter().map(Diagnostic::from_evcxr).collect();
            let first = diagnostics
                .first()
                .map(|d| match d.marks.first() {
                    Some(m) => format!("{} (line {} of the cell)", d.message, m.line),
                    None => d.message.clone(),
                })
                .unwrap_or_else(|| "compilation failed".into());
            let traceback = diagnostics.iter().map(Diagnostic::render).collect();
            CellError::new("CompilationError", first).with_traceback(traceback)
        }
        evcxr::Error::SubprocessTerminated(msg) => CellError::new(
            "SubprocessTerminated",
            format!("{msg}. evcxr restarted its process, so variables from earlier cells are gone"),
        ),
        evcxr::Error::TypeRedefinedVariablesLost(vars) => CellError::new(
            "VariablesLost",
            format!(
                "a type was redefined, so these variables were lost: {}",
                vars.join(", ")
            ),
        ),
        other => CellError::new("EvcxrError", other.to_string()),
    }
}

fn worker(
    requests: std_mpsc::Receiver<Request>,
    process: Arc<Mutex<Option<Arc<Mutex<Child>>>>>,
    prelude: Vec<String>,
) {
    // Set when the prelude failed: told once, in the first cell's output.
    let mut prelude_problem: Option<String> = None;
    type Pipes = (
        crossbeam_channel::Receiver<String>,
        crossbeam_channel::Receiver<String>,
    );
    let mut context: Option<(CommandContext, Pipes, CellOutput)> = None;
    for request in requests {
        if context.is_none() {
            // Without a toolchain evcxr fails deep inside with a message about cargo metadata;
            // say what is missing and that the magics do not need it.
            if let Some(problem) =
                crate::toolchain::rust_toolchain_problem(std::env::var_os("PATH").as_deref())
            {
                if let Request::Execute { reply, .. } = request {
                    let _ = reply.send(Err(CellError::new("NoRustToolchain", problem)));
                }
                continue;
            }
            match CommandContext::new() {
                Ok((mut ctx, outputs)) => {
                    let pipes = (outputs.stdout.clone(), outputs.stderr.clone());
                    let output =
                        CellOutput::start(outputs.stdout, outputs.stderr, Limits::default());
                    for line in &prelude {
                        if let Err(e) = ctx.execute(line) {
                            prelude_problem = Some(format!(
                                "model calls from Rust cells (chat, Chat, chat_all, grade, …) are not available: `{line}` failed: {}",
                                evcxr_error(e).evalue
                            ));
                            break;
                        }
                    }
                    drain(&pipes);
                    *process.lock().expect("process lock") = Some(ctx.process_handle());
                    context = Some((ctx, pipes, output));
                }
                Err(e) => {
                    if let Request::Execute { reply, .. } = request {
                        let _ = reply.send(Err(CellError::new(
                            "EvcxrError",
                            format!("evcxr could not start (is a Rust toolchain with rust-src installed?): {e}"),
                        )));
                    }
                    continue;
                }
            }
        }
        let (ctx, pipes, output) = context.as_mut().expect("context started above");
        match request {
            Request::Execute { code, sink, reply } => {
                if let Some(problem) = prelude_problem.take() {
                    sink.stream(StreamName::Stderr, &format!("{problem}\n"));
                }
                output.begin(sink);
                let result = ctx.execute(&code);
                drain(pipes);
                let failure = output.end();
                *process.lock().expect("process lock") = Some(ctx.process_handle());
                let result = match (result, failure) {
                    (Ok(_), Some(failure)) => Err(CellError::new(failure.ename, failure.evalue)),
                    // A cell ending in a block or loop evaluates to `()`: nothing to show.
                    (Ok(outputs), None) => {
                        Ok((!outputs.is_empty() && !is_unit(&outputs)).then(|| {
                            let mut bundle = Bundle::default();
                            for (mime, content) in outputs.content_by_mime_type {
                                bundle = bundle.with(&mime, content);
                            }
                            bundle
                        }))
                    }
                    (Err(e), _) => Err(evcxr_error(e)),
                };
                let _ = reply.send(result);
            }
            Request::Complete {
                code,
                cursor,
                reply,
            } => {
                let answer = match ctx.completions(&code, cursor) {
                    Ok(c) => (
                        c.completions.into_iter().map(|c| c.code).collect(),
                        c.start_offset,
                        c.end_offset,
                    ),
                    Err(_) => (Vec::new(), cursor, cursor),
                };
                let _ = reply.send(answer);
            }
        }
    }
}

/// Let the forwarders deliver the cell's output to this cell before the next cell takes over.
/// evcxr has queued all stdout before `execute` returns, but stderr is read by another thread
/// and may lag: wait until both channels have been quiet for a moment (bounded).
fn drain(
    pipes: &(
        crossbeam_channel::Receiver<String>,
        crossbeam_channel::Receiver<String>,
    ),
) {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        if !pipes.0.is_empty() || !pipes.1.is_empty() {
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_millis(30) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

//! The session as an OpenAI-compatible endpoint on 127.0.0.1, for Rust cells (and any OpenAI
//! client the student points at it).
//!
//! Rust cells run in evcxr's child process, which cannot reach the kernel's backend objects. The
//! kernel therefore serves its session over loopback HTTP: the same backend the magics use (LM
//! Studio, Ollama, llama.cpp's server or the embedded model), its per-model request slots, the
//! response cache for seeded requests, the running cell's interrupt, progress in the running cell
//! and a run record per cell. A per-session token guards it; its address and token reach the
//! child as `ALIGNMENT_LAB_ENDPOINT` and `ALIGNMENT_LAB_ENDPOINT_TOKEN`, set before evcxr starts
//! the child (which inherits the kernel's environment).
//!
//! Routes: `GET /v1/models`, `POST /v1/chat/completions` (streamed or not), and for the course
//! helpers of Rust cells `POST /alignment-lab/grade` and `POST /alignment-lab/report`.

mod chat;
mod course;
mod replay;
mod report;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::display::{Bundle, OutputSink, Progress};
use crate::engine::ResultsStore;
use crate::magics::debate::DebateBoard;
use crate::magics::SharedBackend;

pub const URL_VAR: &str = "ALIGNMENT_LAB_ENDPOINT";
pub const TOKEN_VAR: &str = "ALIGNMENT_LAB_ENDPOINT_TOKEN";

/// One model call made through the endpoint, for the cell's run record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallRecord {
    pub model: String,
    pub messages: Vec<crate::llm::Message>,
    pub answer: Option<String>,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    pub seed: Option<u64>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub cached: bool,
    pub millis: u64,
}

/// What the running cell lends the endpoint: where progress goes, what interrupts it, and the
/// calls made so far.
struct CellState {
    sink: Option<Arc<dyn OutputSink>>,
    cancel: CancellationToken,
    progress: Option<Arc<Progress>>,
    running: usize,
    calls: Vec<CallRecord>,
    /// From the first call's start to the last call's end: the time spent on calls.
    first_start: Option<Instant>,
    last_end: Option<Instant>,
}

impl Default for CellState {
    fn default() -> Self {
        Self {
            sink: None,
            cancel: CancellationToken::new(),
            progress: None,
            running: 0,
            calls: Vec::new(),
            first_start: None,
            last_end: None,
        }
    }
}

pub(crate) struct Shared {
    backend: SharedBackend,
    /// Where a student's pipeline meets the session's latest `:debate` run.
    debates: DebateBoard,
    home: PathBuf,
    token: String,
    cell: Mutex<CellState>,
    /// Records answers for a grader, and replays them when a grader runs the notebook.
    results: Arc<ResultsStore>,
}

/// The endpoint: bound when the engine is made (so its address can be put in the environment
/// before evcxr starts its child), served from the first Rust cell on.
pub struct Endpoint {
    url: String,
    listener: Mutex<Option<std::net::TcpListener>>,
    shared: Arc<Shared>,
}

impl Endpoint {
    /// Bind a free loopback port and make a token; nothing is served yet.
    pub fn reserve(
        backend: SharedBackend,
        debates: DebateBoard,
        home: PathBuf,
        results: Arc<ResultsStore>,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr: SocketAddr = listener.local_addr()?;
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        Ok(Self {
            url: format!("http://{addr}/v1"),
            listener: Mutex::new(Some(listener)),
            shared: Arc::new(Shared {
                backend,
                debates,
                home,
                token,
                cell: Mutex::new(CellState::default()),
                results,
            }),
        })
    }

    /// The OpenAI base URL, including `/v1`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Put the address and token where evcxr's child will find them. Called before the child
    /// is started, while nothing else reads the environment.
    pub fn export_to_environment(&self) {
        std::env::set_var(URL_VAR, &self.url);
        std::env::set_var(TOKEN_VAR, &self.shared.token);
    }

    /// Start serving (once); later calls do nothing.
    pub fn serve(&self) -> std::io::Result<()> {
        let Some(listener) = self.listener.lock().expect("listener lock").take() else {
            return Ok(());
        };
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let shared = self.shared.clone();
        let app = Router::new()
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat::completions))
            .route("/alignment-lab/grade", post(course::grade))
            .route("/alignment-lab/report", post(report::report))
            .layer(middleware::from_fn_with_state(shared.clone(), authorise))
            .with_state(shared);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(())
    }

    /// A Rust cell starts: calls now report to its output and stop when it is interrupted.
    pub fn begin_cell(&self, sink: Arc<dyn OutputSink>, cancel: CancellationToken) {
        let mut cell = self.shared.cell.lock().expect("cell lock");
        let pending = std::mem::take(&mut cell.calls);
        *cell = CellState {
            sink: Some(sink),
            cancel,
            calls: pending,
            ..CellState::default()
        };
    }

    /// The cell ended: finish its progress line with a summary and write its run record.
    pub fn end_cell(&self) {
        let (progress, calls, seconds) = {
            let mut cell = self.shared.cell.lock().expect("cell lock");
            cell.sink = None;
            let seconds = match (cell.first_start, cell.last_end) {
                (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
                _ => 0.0,
            };
            (
                cell.progress.take(),
                std::mem::take(&mut cell.calls),
                seconds,
            )
        };
        if calls.is_empty() {
            return;
        }
        let record = json!({"kind": "rust-cell-calls", "calls": calls});
        let path = crate::magics::write_run_record(&self.shared.home, "cell-calls", &record);
        if let Some(progress) = progress {
            progress.finish(summary(&calls, seconds, path.as_ref().ok()));
        }
    }
}

/// The line a cell keeps: how many calls, to which models, how long, where the record is.
fn summary(calls: &[CallRecord], seconds: f64, record: Option<&PathBuf>) -> Bundle {
    let mut models: Vec<&str> = calls.iter().map(|c| c.model.as_str()).collect();
    models.sort();
    models.dedup();
    let failed = calls.iter().filter(|c| c.error.is_some()).count();
    let cached = calls.iter().filter(|c| c.cached).count();
    let mut text = format!(
        "{} model call(s) to {} in {seconds:.1} s",
        calls.len(),
        models
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if cached > 0 {
        text.push_str(&format!(" ({cached} from the response cache)"));
    }
    if failed > 0 {
        text.push_str(&format!(" · {failed} failed"));
    }
    if let Some(path) = record {
        text.push_str(&format!(" · run record: `{}`", path.display()));
    }
    Bundle::markdown(format!("<sub>{text}</sub>"))
}

impl Shared {
    /// A call starts: count it in the running cell's progress line.
    pub(crate) fn call_started(&self) -> CancellationToken {
        let mut cell = self.cell.lock().expect("cell lock");
        cell.running += 1;
        cell.first_start.get_or_insert_with(Instant::now);
        if cell.progress.is_none() {
            if let Some(sink) = &cell.sink {
                cell.progress = Some(Arc::new(Progress::start(
                    sink.clone(),
                    Bundle::markdown("*⏳ model calls: 1 running …*"),
                )));
            }
        }
        self.show_progress(&cell);
        cell.cancel.child_token()
    }

    pub(crate) fn call_finished(&self, record: CallRecord) {
        let mut cell = self.cell.lock().expect("cell lock");
        cell.running = cell.running.saturating_sub(1);
        cell.calls.push(record);
        cell.last_end = Some(Instant::now());
        self.show_progress(&cell);
    }

    fn show_progress(&self, cell: &CellState) {
        if let Some(p) = &cell.progress {
            let (running, done) = (cell.running, cell.calls.len());
            p.update(|| {
                Bundle::markdown(format!(
                    "*⏳ model calls: {running} running, {done} done …*"
                ))
            });
        }
    }
}

/// Every request carries the session's token.
async fn authorise(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", shared.token);
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return error_response(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (the kernel's token is in ALIGNMENT_LAB_ENDPOINT_TOKEN in Rust cells, and `:endpoint` shows it)",
        );
    }
    next.run(request).await
}

/// An error as OpenAI clients expect it.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "alignment_lab_error"}})),
    )
        .into_response()
}

async fn models(State(shared): State<Arc<Shared>>) -> Response {
    let backend = match shared.backend.get().await {
        Ok((b, _)) => b,
        Err(e) => return error_response(StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    match backend.models().await {
        Ok(models) => Json(json!({
            "object": "list",
            "data": models.iter().map(|m| json!({"id": m.id, "object": "model", "owned_by": backend.info().server})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => error_response(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

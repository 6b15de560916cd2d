use std::sync::Arc;

use super::debate::DebateBoard;
use crate::llm::discovery;
use crate::llm::{ChatBackend, LabConfig, LlmError};
use crate::reveal::RevealServer;

/// The kernel's model settings and the backend they resolve to. Resolution is lazy: a kernel
/// start never waits for discovery or model loading.
pub struct Session {
    pub config: LabConfig,
    shared: SharedBackend,
    reason: Option<String>,
    /// Serves `:probe --reveal` answers from memory; started on the first reveal.
    reveal: Option<RevealServer>,
    /// Where the kernel serves this session for Rust cells: base URL and token.
    endpoint: Option<(String, String)>,
    /// The latest `:debate` run and student pipeline, each compared with the other.
    pub debates: DebateBoard,
    /// The notebook file, when the engine knows it (`alignment-lab run`); `:check` reads it.
    pub notebook: Option<std::path::PathBuf>,
}

/// The session's backend as the magics and the loopback endpoint for Rust cells both see it:
/// whichever asks first resolves it (once, under the lock: an embedded model is never loaded
/// twice), and `:backend` switches it for both.
#[derive(Clone)]
pub struct SharedBackend(Arc<tokio::sync::Mutex<SharedState>>);

struct SharedState {
    config: LabConfig,
    resolved: Option<(Arc<dyn ChatBackend>, String)>,
}

impl SharedBackend {
    fn new(config: LabConfig) -> Self {
        Self(Arc::new(tokio::sync::Mutex::new(SharedState {
            config,
            resolved: None,
        })))
    }

    /// The current backend and why it was chosen, resolving it on first use.
    pub async fn get(&self) -> Result<(Arc<dyn ChatBackend>, String), LlmError> {
        let mut state = self.0.lock().await;
        if state.resolved.is_none() {
            let r = discovery::resolve(&state.config).await?;
            state.resolved = Some((r.backend, r.reason));
        }
        Ok(state.resolved.clone().expect("just resolved"))
    }

    /// The settings the backend is resolved from.
    pub async fn config(&self) -> LabConfig {
        self.0.lock().await.config.clone()
    }

    async fn replace(&self, config: LabConfig) {
        let mut state = self.0.lock().await;
        state.config = config;
        state.resolved = None;
    }
}

impl Session {
    pub fn new(config: LabConfig) -> Self {
        Self {
            shared: SharedBackend::new(config.clone()),
            config,
            reason: None,
            reveal: None,
            endpoint: None,
            debates: DebateBoard::default(),
            notebook: None,
        }
    }

    /// Record where the engine serves this session (for `:endpoint`).
    pub fn set_endpoint(&mut self, url: &str, token: &str) {
        self.endpoint = Some((url.to_string(), token.to_string()));
    }

    pub fn endpoint(&self) -> Option<(&str, &str)> {
        self.endpoint
            .as_ref()
            .map(|(u, t)| (u.as_str(), t.as_str()))
    }

    /// A handle on the same backend for other parts of the kernel (the Rust cells' endpoint).
    pub fn shared(&self) -> SharedBackend {
        self.shared.clone()
    }

    /// The current backend, resolving it on first use.
    pub async fn backend(&mut self) -> Result<Arc<dyn ChatBackend>, LlmError> {
        let (backend, reason) = self.shared.get().await?;
        self.reason = Some(reason);
        Ok(backend)
    }

    /// Why the current backend was chosen, once one is.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Forget the current backend after `config` changed (an embedded model's memory is freed
    /// once the last request holding it finishes); the next use resolves again from `config`.
    pub async fn reset(&mut self) {
        self.reason = None;
        self.shared.replace(self.config.clone()).await;
    }

    /// The loopback page that shows revealed answers, started on first use.
    pub async fn reveal_server(&mut self) -> std::io::Result<&RevealServer> {
        if self.reveal.is_none() {
            self.reveal = Some(RevealServer::start().await?);
        }
        Ok(self.reveal.as_ref().expect("just started"))
    }
}

use std::sync::Arc;

use crate::llm::discovery::{self, Resolved};
use crate::llm::{ChatBackend, LabConfig, LlmError};
use crate::reveal::RevealServer;

/// The kernel's model settings and the backend they resolve to. Resolution is lazy: a kernel
/// start never waits for discovery or model loading.
pub struct Session {
    pub config: LabConfig,
    resolved: Option<Resolved>,
    /// Serves `:probe --reveal` answers from memory; started on the first reveal.
    reveal: Option<RevealServer>,
}

impl Session {
    pub fn new(config: LabConfig) -> Self {
        Self {
            config,
            resolved: None,
            reveal: None,
        }
    }

    /// The current backend, resolving it on first use.
    pub async fn backend(&mut self) -> Result<Arc<dyn ChatBackend>, LlmError> {
        if self.resolved.is_none() {
            self.resolved = Some(discovery::resolve(&self.config).await?);
        }
        Ok(self
            .resolved
            .as_ref()
            .expect("just resolved")
            .backend
            .clone())
    }

    /// The loopback page that shows revealed answers, started on first use.
    pub async fn reveal_server(&mut self) -> std::io::Result<&RevealServer> {
        if self.reveal.is_none() {
            self.reveal = Some(RevealServer::start().await?);
        }
        Ok(self.reveal.as_ref().expect("just started"))
    }

    /// Why the current backend was chosen, once one is.
    pub fn reason(&self) -> Option<&str> {
        self.resolved.as_ref().map(|r| r.reason.as_str())
    }

    /// Forget the current backend (an embedded model's memory is freed once the last request
    /// holding it finishes); the next use resolves again from `config`.
    pub fn reset(&mut self) {
        self.resolved = None;
    }
}

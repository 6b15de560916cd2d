//! Language-model backends behind one trait: any OpenAI-compatible server (LM Studio, Ollama,
//! llama.cpp's server) over HTTP, and llama.cpp embedded in the process.
//!
//! Nothing here knows about Jupyter or notebooks.

pub mod bundled_model;
pub mod cache;
pub mod config;
pub mod discovery;
pub mod embedded;
mod error;
pub mod openai;
pub mod sse;
mod types;

pub use config::{BackendChoice, LabConfig, Secret};
pub use error::LlmError;
pub use types::*;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

/// Called with each piece of text as it is generated.
pub type TokenSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

#[async_trait]
pub trait ChatBackend: Send + Sync {
    /// Which backend this is and where it talks to, for every result's metadata.
    fn info(&self) -> BackendInfo;

    /// How many requests this backend serves at once for one model (server slots, batch
    /// sequences).
    fn max_parallel(&self) -> usize;

    /// Whether requests for different models can be in flight together, each model with its own
    /// `max_parallel` slots (servers that keep several models loaded). The embedded backend
    /// holds one model at a time, so it says no.
    fn models_run_concurrently(&self) -> bool {
        false
    }

    /// The models this backend can answer with.
    async fn models(&self) -> Result<Vec<ModelInfo>, LlmError>;

    /// The model used when a request names none.
    async fn default_model(&self) -> Result<String, LlmError>;

    /// Generate an answer, streaming text to `on_token`. Cancelling stops generation at once
    /// and returns [`LlmError::Cancelled`] with the text produced so far.
    async fn chat(
        &self,
        request: &ChatRequest,
        on_token: TokenSink<'_>,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, LlmError>;
}

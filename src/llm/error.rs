use thiserror::Error;

/// Backend failures. Each message names where it happened and what the student can do.
#[derive(Debug, Error)]
pub enum LlmError {
    #[error("cannot reach the model server at {url}: {detail}. Start the server (LM Studio: Developer → Start Server; Ollama: `ollama serve`; llama.cpp: `llama-server`) or switch with `:backend embedded`")]
    Unreachable { url: String, detail: String },

    #[error("the model server at {url} answered HTTP {status} for model `{model}`: {message}")]
    Http {
        url: String,
        model: String,
        status: u16,
        message: String,
    },

    #[error("model `{model}` is not available at {url}: {message}. See `:models` for what the server offers")]
    ModelNotFound {
        url: String,
        model: String,
        message: String,
    },

    #[error("the conversation is longer than model `{model}`'s context window ({url}): {message}")]
    ContextExceeded {
        url: String,
        model: String,
        message: String,
    },

    #[error("model `{model}` at {url} {what} after {seconds} s")]
    Timeout {
        url: String,
        model: String,
        what: &'static str,
        seconds: u64,
    },

    #[error(
        "the model server at {url} sent something that is not a valid chat completion: {detail}"
    )]
    Protocol { url: String, detail: String },

    #[error(
        "no model server answered ({tried}) and the embedded model is unavailable: {embedded}"
    )]
    NoBackend { tried: String, embedded: String },

    #[error("embedded model: {0}")]
    Embedded(String),

    #[error("cancelled")]
    Cancelled { partial: String },
}

impl LlmError {
    /// Whether repeating the same request may succeed (connection trouble, overload).
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Unreachable { .. } => true,
            LlmError::Http { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

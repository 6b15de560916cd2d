use thiserror::Error;

/// Backend failures. Each message names where it happened and what the student can do.
#[derive(Debug, Error)]
pub enum LlmError {
    #[error("cannot reach the model server at {url}{}: {detail}. Start the server (LM Studio: Developer → Start Server; Ollama: `ollama serve`; llama.cpp: `llama-server`) or switch with `:backend embedded`", for_model(.model))]
    Unreachable {
        url: String,
        /// Empty when the request was not for a model (listing models, discovery).
        model: String,
        detail: String,
    },

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
        "the model server at {url} sent something that is not a valid chat completion{}: {detail}",
        for_model(.model)
    )]
    Protocol {
        url: String,
        /// Empty when the request was not for a model.
        model: String,
        detail: String,
    },

    #[error(
        "no model server answered ({tried}) and the embedded model is unavailable: {embedded}"
    )]
    NoBackend { tried: String, embedded: String },

    #[error("embedded model: {0}")]
    Embedded(String),

    #[error("cancelled")]
    Cancelled { partial: String },

    #[error("no model calls while a grader runs the notebook (NBGRADER_EXECUTION={mode}), and alignment-lab-results.json beside the notebook holds no recorded answer to this request")]
    NotRecorded { mode: String },
}

fn for_model(model: &str) -> String {
    if model.is_empty() {
        String::new()
    } else {
        format!(" (model `{model}`)")
    }
}

impl LlmError {
    /// Name the model in errors raised below the level that knows it.
    pub fn for_request_to(mut self, name: &str) -> Self {
        if let LlmError::Unreachable { model, .. } | LlmError::Protocol { model, .. } = &mut self {
            if model.is_empty() {
                *model = name.to_string();
            }
        }
        self
    }

    /// Whether repeating the same request may succeed (connection trouble, overload).
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Unreachable { .. } => true,
            LlmError::Http { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// One chat completion request. `None` fields use the backend's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatRequest {
    pub model: Option<String>,
    pub messages: Vec<Message>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<u64>,
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// Of `prompt_tokens`, those served from a prompt cache rather than evaluated (the embedded
    /// engine's; llama.cpp's `timings.cache_n`; OpenAI's `prompt_tokens_details.cached_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_prompt_tokens: Option<u64>,
}

impl Usage {
    /// From an OpenAI-style `usage` object and, when the server sends them, llama.cpp's
    /// `timings` (which count the prompt tokens taken from the slot's cache as `cache_n`).
    pub fn from_reply(usage: Option<&Value>, timings: Option<&Value>) -> Self {
        let count = |v: Option<&Value>, pointer: &str| v.and_then(|v| v.pointer(pointer)?.as_u64());
        Self {
            prompt_tokens: count(usage, "/prompt_tokens"),
            completion_tokens: count(usage, "/completion_tokens"),
            cached_prompt_tokens: count(usage, "/prompt_tokens_details/cached_tokens")
                .or_else(|| count(timings, "/cache_n")),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timing {
    /// Time the request waited for a free sequence before work on it began (the embedded
    /// engine; a server's own queue is inside `first_token_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_ms: Option<f64>,
    /// To the first generated text: from sending the request (servers; includes model loading
    /// and the server's queue), or from the start of work on it (the embedded engine, whose
    /// queue is `queued_ms`).
    pub first_token_ms: Option<f64>,
    pub total_ms: f64,
    /// Completion tokens per second of generation, from the first token on.
    pub tokens_per_second: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatResponse {
    pub text: String,
    /// A thinking model's reasoning (`reasoning_content`), kept apart from the answer.
    pub reasoning: Option<String>,
    pub model: String,
    /// `stop`, `length` (the token limit cut the answer), …
    pub finish_reason: Option<String>,
    pub usage: Usage,
    pub timing: Timing,
    /// What the server reported beyond the OpenAI fields (llama.cpp `timings`, …).
    pub server_report: Option<Value>,
}

/// A model a backend offers, with what the server tells about it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelInfo {
    pub id: String,
    /// LM Studio: whether the model is in memory now.
    pub loaded: Option<bool>,
    pub quantization: Option<String>,
    pub context_length: Option<u64>,
    /// `llm`, `vlm`, `embeddings`, … when the server says.
    pub kind: Option<String>,
    pub arch: Option<String>,
    /// Where the model file lives, for local GGUFs.
    pub path: Option<String>,
}

/// Which backend produced a result, recorded beside every result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendInfo {
    /// `openai` or `embedded`.
    pub kind: String,
    /// Base URL for servers; model file for the embedded backend.
    pub endpoint: String,
    /// `LM Studio`, `Ollama`, `llama.cpp`, or a generic label.
    pub server: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cached_prompt_tokens_from_openai_or_llama_cpp() {
        let openai = json!({"prompt_tokens": 90, "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 64}});
        assert_eq!(
            Usage::from_reply(Some(&openai), None).cached_prompt_tokens,
            Some(64)
        );
        let usage = json!({"prompt_tokens": 90, "completion_tokens": 5});
        let timings = json!({"cache_n": 70, "prompt_n": 20});
        let u = Usage::from_reply(Some(&usage), Some(&timings));
        assert_eq!(
            (u.prompt_tokens, u.cached_prompt_tokens),
            (Some(90), Some(70))
        );
        assert_eq!(
            Usage::from_reply(Some(&usage), None).cached_prompt_tokens,
            None
        );
    }
}

//! One server-sent event of an OpenAI-compatible chat stream, interpreted.
//!
//! Free of I/O and of the rest of the crate (only `serde_json`), so `fuzz/` can feed it
//! arbitrary input on its own.

use serde_json::Value;

/// What one `data:` line of a chat stream says.
#[derive(Debug, PartialEq)]
pub enum StreamEvent {
    /// `[DONE]`: the answer is complete.
    Done,
    /// An error object inside the stream (llama.cpp and LM Studio report some failures this way).
    ServerError(String),
    Chunk(Chunk),
}

/// The parts of a `chat.completion.chunk` the kernel uses.
#[derive(Debug, Default, PartialEq)]
pub struct Chunk {
    pub model: Option<String>,
    /// New text; `None` or empty for role-only and usage-only chunks.
    pub content: Option<String>,
    /// A thinking model's reasoning: `reasoning_content` (llama.cpp, DeepSeek, LM Studio) or
    /// `reasoning` (Ollama, OpenRouter).
    pub reasoning: Option<String>,
    pub finish_reason: Option<String>,
    /// `Some` when the chunk carries a `usage` object (the last one, with `include_usage`).
    pub usage: Option<Value>,
    /// llama.cpp's `timings` object, passed through to the record.
    pub timings: Option<Value>,
}

/// Interpret an event's data. `Ok(None)`: nothing to do (an empty keep-alive event).
/// `Err`: the data is not a chat chunk, with a reason for the error message.
pub fn interpret(data: &str) -> Result<Option<StreamEvent>, String> {
    let data = data.trim();
    if data.is_empty() {
        return Ok(None);
    }
    if data == "[DONE]" {
        return Ok(Some(StreamEvent::Done));
    }
    let chunk: Value =
        serde_json::from_str(data).map_err(|e| format!("invalid JSON in stream event ({e})"))?;
    if !chunk.is_object() {
        return Err("a stream event that is not a JSON object".into());
    }
    if let Some(err) = chunk.get("error") {
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| err.to_string());
        return Ok(Some(StreamEvent::ServerError(message)));
    }
    let text = |pointer: &str| {
        chunk
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(String::from)
    };
    Ok(Some(StreamEvent::Chunk(Chunk {
        model: text("/model"),
        content: text("/choices/0/delta/content"),
        reasoning: text("/choices/0/delta/reasoning_content")
            .or_else(|| text("/choices/0/delta/reasoning")),
        finish_reason: text("/choices/0/finish_reason"),
        usage: chunk.get("usage").filter(|u| u.is_object()).cloned(),
        timings: chunk.get("timings").filter(|t| t.is_object()).cloned(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_is_read_under_both_names() {
        for field in ["reasoning_content", "reasoning"] {
            let data = format!(
                r#"{{"choices":[{{"delta":{{"{field}":"Let me think"}},"finish_reason":"length"}}]}}"#
            );
            let Some(StreamEvent::Chunk(c)) = interpret(&data).unwrap() else {
                panic!("not a chunk")
            };
            assert_eq!(c.reasoning.as_deref(), Some("Let me think"), "{field}");
            assert_eq!(c.content, None);
            assert_eq!(c.finish_reason.as_deref(), Some("length"));
        }
    }

    #[test]
    fn chunks_done_errors_and_junk() {
        assert_eq!(interpret("  "), Ok(None));
        assert_eq!(interpret("[DONE]"), Ok(Some(StreamEvent::Done)));
        let Some(StreamEvent::Chunk(c)) = interpret(
            r#"{"model":"m","choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}"#,
        )
        .unwrap() else {
            panic!("not a chunk")
        };
        assert_eq!(
            (c.model.as_deref(), c.content.as_deref(), c.usage.is_some()),
            (Some("m"), Some("Hi"), false)
        );
        let Some(StreamEvent::Chunk(u)) =
            interpret(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#)
                .unwrap()
        else {
            panic!("not a chunk")
        };
        let usage = crate::llm::Usage::from_reply(u.usage.as_ref(), None);
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens),
            (Some(3), Some(5))
        );
        assert_eq!(
            interpret(r#"{"error":{"message":"boom"}}"#),
            Ok(Some(StreamEvent::ServerError("boom".into())))
        );
        assert!(interpret("not json").unwrap_err().contains("invalid JSON"));
        assert!(interpret("[1,2]").is_err());
    }
}

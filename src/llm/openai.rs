//! OpenAI-compatible HTTP client: `/v1/chat/completions` with SSE streaming, `/v1/models`, and
//! LM Studio's `/api/v0/models` for loaded state, quantization and context length.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use eventsource_stream::Eventsource;

use super::sse::{self, StreamEvent};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;

use super::{
    BackendInfo, ChatBackend, ChatRequest, ChatResponse, LlmError, ModelInfo, Secret, Timing,
    TokenSink, Usage,
};

/// Time-outs and retries. Generation time-outs count from the first token: before it, a server
/// may be loading the model for a long while (LM Studio's just-in-time loading).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Waiting for the first token (includes loading the model).
    pub first_token_timeout: Duration,
    /// Longest silence between two chunks once generation has started.
    pub idle_timeout: Duration,
    /// Attempts for a request that fails before any text arrived, on transient errors.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    /// Upper bound on a single wait, including a server's `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            first_token_timeout: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(120),
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
        }
    }
}

pub struct OpenAiBackend {
    base_url: String,
    server: String,
    api_key: Option<Secret>,
    client: reqwest::Client,
    settings: HttpSettings,
    /// Request slots per model: LM Studio, Ollama and llama.cpp's server each serve a loaded model
    /// with its own set of parallel slots, so two models do not share one limit.
    slots: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    parallel: usize,
    configured_model: Option<String>,
    default_model: OnceCell<String>,
}

impl OpenAiBackend {
    /// `base_url` includes `/v1`. `server` is a label (`LM Studio`, `Ollama`, …) for outputs.
    pub fn new(
        base_url: &str,
        server: &str,
        api_key: Option<Secret>,
        model: Option<String>,
        parallel: usize,
        settings: HttpSettings,
    ) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            // A fresh connection per call: llama.cpp's server closes the connection after a
            // streamed answer without a `Connection: close` (measured on llama-server from
            // llama-cpp-python 0.3.36: every request sent on it afterwards is dropped), so a
            // pooled connection reused before the close arrives fails with "connection closed
            // before message completed" and costs a retry (seen in the llama-server benchmark).
            // A connect to a local server takes well under a millisecond; a call takes seconds.
            .pool_max_idle_per_host(0)
            .build()
            .expect("reqwest client with default TLS-less config");
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            server: server.to_string(),
            api_key,
            client,
            settings,
            slots: std::sync::Mutex::new(HashMap::new()),
            parallel: parallel.max(1),
            configured_model: model,
            default_model: OnceCell::new(),
        }
    }

    fn slots_for(&self, model: &str) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry(model.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.parallel)))
            .clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The server root, without the trailing `/v1`, for LM Studio's native API.
    fn root_url(&self) -> &str {
        self.base_url.strip_suffix("/v1").unwrap_or(&self.base_url)
    }

    fn authorized(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => rb.bearer_auth(key.expose()),
            None => rb,
        }
    }

    fn unreachable(&self, url: &str, e: &reqwest::Error) -> LlmError {
        // reqwest's own message repeats the URL; the cause chain says what actually happened.
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        let kind = if e.is_connect() {
            "connection failed"
        } else if e.is_timeout() {
            "timed out"
        } else {
            "request failed"
        };
        let detail = if causes.is_empty() {
            kind.to_string()
        } else {
            format!("{kind} ({})", causes.join(": "))
        };
        LlmError::Unreachable {
            url: url.to_string(),
            model: String::new(),
            detail,
        }
    }

    async fn get_json(&self, url: &str, timeout: Duration) -> Result<Value, LlmError> {
        let resp = self
            .authorized(self.client.get(url))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.unreachable(url, &e))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| self.unreachable(url, &e))?;
        if !status.is_success() {
            return Err(LlmError::Http {
                url: url.to_string(),
                model: String::new(),
                status: status.as_u16(),
                message: error_message(&body),
            });
        }
        serde_json::from_str(&body).map_err(|e| LlmError::Protocol {
            url: url.to_string(),
            model: String::new(),
            detail: format!("invalid JSON ({e})"),
        })
    }

    /// LM Studio's richer model list; `None` when the server is not LM Studio.
    async fn lmstudio_models(&self) -> Option<Vec<Value>> {
        let url = format!("{}/api/v0/models", self.root_url());
        let v = self.get_json(&url, Duration::from_secs(3)).await.ok()?;
        v.get("data")?.as_array().cloned()
    }

    /// One attempt at a streamed completion.
    async fn attempt(
        &self,
        body: &Value,
        model: &str,
        on_token: TokenSink<'_>,
        cancel: &CancellationToken,
        started: Instant,
        text: &mut String,
    ) -> Result<ChatResponse, LlmError> {
        let url = self.url("/chat/completions");
        let send = self.authorized(self.client.post(&url)).json(body).send();
        let resp = tokio::select! {
            r = tokio::time::timeout(self.settings.first_token_timeout, send) => match r {
                Err(_) => return Err(self.timeout(model, "did not start answering", self.settings.first_token_timeout)),
                Ok(r) => r.map_err(|e| self.unreachable(&url, &e))?,
            },
            _ = cancel.cancelled() => return Err(LlmError::Cancelled { partial: String::new() }),
        };
        let status = resp.status();
        if !status.is_success() {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body = resp.text().await.unwrap_or_default();
            return Err(classify_http_error(
                &url,
                model,
                status.as_u16(),
                &body,
                retry_after,
            ));
        }
        let is_sse = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("text/event-stream"));
        if !is_sse {
            // A server that ignores `stream: true` answers with one JSON object.
            let body = resp.text().await.map_err(|e| self.unreachable(&url, &e))?;
            let v: Value = serde_json::from_str(&body).map_err(|e| LlmError::Protocol {
                url: url.clone(),
                model: String::new(),
                detail: format!("invalid JSON ({e})"),
            })?;
            let reasoning = v
                .pointer("/choices/0/message/reasoning_content")
                .or_else(|| v.pointer("/choices/0/message/reasoning"))
                .and_then(Value::as_str)
                .map(String::from);
            // A thinking model that spent its tokens reasoning may send `content: null`.
            let content = match v.pointer("/choices/0/message/content") {
                Some(Value::String(s)) => s.as_str(),
                Some(Value::Null) | None if reasoning.is_some() => "",
                _ => {
                    return Err(LlmError::Protocol {
                        url: url.clone(),
                        model: String::new(),
                        detail: "no choices[0].message.content in the answer".into(),
                    })
                }
            };
            text.push_str(content);
            on_token(content);
            let mut response = ChatResponse {
                text: text.clone(),
                reasoning,
                model: v["model"].as_str().unwrap_or(model).to_string(),
                finish_reason: v
                    .pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str)
                    .map(String::from),
                ..Default::default()
            };
            apply_usage(&mut response, &v);
            response.timing = timing(started, Some(started.elapsed()), &response.usage);
            return Ok(response);
        }

        let mut events = resp.bytes_stream().eventsource();
        let mut response = ChatResponse {
            model: model.to_string(),
            ..Default::default()
        };
        let mut first_token: Option<Duration> = None;
        // A 200 answer whose body holds no server-sent event at all (an HTML page, NDJSON from a
        // non-OpenAI endpoint) is not an empty answer.
        let mut saw_event = false;
        loop {
            let wait = if first_token.is_none() {
                self.settings.first_token_timeout
            } else {
                self.settings.idle_timeout
            };
            let next = tokio::select! {
                n = tokio::time::timeout(wait, events.next()) => n,
                _ = cancel.cancelled() => return Err(LlmError::Cancelled { partial: text.clone() }),
            };
            let event = match next {
                Err(_) => {
                    let what = if first_token.is_none() {
                        "sent no text"
                    } else {
                        "stalled mid-answer"
                    };
                    return Err(self.timeout(model, what, wait));
                }
                Ok(None) if !saw_event => {
                    return Err(LlmError::Protocol {
                        url: url.clone(),
                        model: String::new(),
                        detail: "the answer held no server-sent events (`data: …` lines); is this \
                                 an OpenAI-compatible /v1 endpoint?"
                            .into(),
                    })
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    let detail = match e {
                        eventsource_stream::EventStreamError::Utf8(_) => format!(
                            "the stream held bytes that are not UTF-8 text after {} characters",
                            text.len()
                        ),
                        other => {
                            format!("stream broke off after {} characters ({other})", text.len())
                        }
                    };
                    return Err(LlmError::Protocol {
                        url: url.clone(),
                        model: String::new(),
                        detail,
                    });
                }
                Ok(Some(Ok(event))) => event,
            };
            let chunk = match sse::interpret(&event.data) {
                Ok(None) => continue,
                Ok(Some(StreamEvent::Done)) => break,
                Ok(Some(StreamEvent::ServerError(message))) => {
                    return Err(classify_http_error(
                        &url,
                        model,
                        500,
                        &json!({"error": message}).to_string(),
                        None,
                    ));
                }
                Ok(Some(StreamEvent::Chunk(chunk))) => chunk,
                Err(detail) => {
                    return Err(LlmError::Protocol {
                        url: url.clone(),
                        model: String::new(),
                        detail,
                    })
                }
            };
            saw_event = true;
            if let Some(m) = chunk.model {
                response.model = m;
            }
            if let Some(thought) = chunk.reasoning.filter(|p| !p.is_empty()) {
                // Reasoning is the model working: it counts as the first token for time-outs.
                first_token.get_or_insert_with(|| started.elapsed());
                response
                    .reasoning
                    .get_or_insert_with(String::new)
                    .push_str(&thought);
            }
            if let Some(piece) = chunk.content.filter(|p| !p.is_empty()) {
                first_token.get_or_insert_with(|| started.elapsed());
                text.push_str(&piece);
                on_token(&piece);
            }
            if let Some(reason) = chunk.finish_reason {
                response.finish_reason = Some(reason);
            }
            if chunk.usage.is_some() || chunk.timings.is_some() {
                let previous = std::mem::take(&mut response.usage);
                let fresh = Usage::from_reply(chunk.usage.as_ref(), chunk.timings.as_ref());
                response.usage = Usage {
                    prompt_tokens: fresh.prompt_tokens.or(previous.prompt_tokens),
                    completion_tokens: fresh.completion_tokens.or(previous.completion_tokens),
                    cached_prompt_tokens: fresh
                        .cached_prompt_tokens
                        .or(previous.cached_prompt_tokens),
                };
            }
            if let Some(t) = chunk.timings {
                response.server_report = Some(json!({ "timings": t }));
            }
        }
        response.text = text.clone();
        response.timing = timing(started, first_token, &response.usage);
        Ok(response)
    }

    fn timeout(&self, model: &str, what: &'static str, after: Duration) -> LlmError {
        LlmError::Timeout {
            url: self.url("/chat/completions"),
            model: model.to_string(),
            what,
            seconds: after.as_secs(),
        }
    }
}

/// Usage and server timings from a chunk or a whole answer.
fn apply_usage(response: &mut ChatResponse, v: &Value) {
    let usage = v.get("usage").filter(|u| u.is_object());
    let timings = v.get("timings").filter(|t| t.is_object());
    if usage.is_some() || timings.is_some() {
        response.usage = Usage::from_reply(usage, timings);
    }
    // llama.cpp reports `timings`; Ollama's native durations are not in the OpenAI API.
    if let Some(t) = v.get("timings").filter(|t| t.is_object()) {
        response.server_report = Some(json!({ "timings": t }));
    }
}

fn timing(started: Instant, first_token: Option<Duration>, usage: &Usage) -> Timing {
    let total = started.elapsed();
    let tokens_per_second = match (first_token, usage.completion_tokens) {
        (Some(first), Some(n)) if n > 1 && total > first => {
            Some((n - 1) as f64 / (total - first).as_secs_f64())
        }
        _ => None,
    };
    Timing {
        queued_ms: None,
        first_token_ms: first_token.map(|d| d.as_secs_f64() * 1000.0),
        total_ms: total.as_secs_f64() * 1000.0,
        tokens_per_second,
    }
}

/// The human part of an error body: OpenAI's `{"error": {"message"}}`, Ollama's
/// `{"error": "…"}`, or the raw text, shortened.
pub fn error_message(body: &str) -> String {
    let v: Option<Value> = serde_json::from_str(body).ok();
    let msg = v
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("message"))
                .or_else(|| v.get("detail"))
        })
        .map(|m| {
            m.as_str()
                .map(String::from)
                .unwrap_or_else(|| m.to_string())
        })
        .unwrap_or_else(|| body.trim().to_string());
    let msg = if msg.is_empty() {
        "(empty body)".to_string()
    } else {
        msg
    };
    shorten(&msg, 300)
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}

/// Turn a failed HTTP answer into the most specific error.
fn classify_http_error(
    url: &str,
    model: &str,
    status: u16,
    body: &str,
    retry_after: Option<u64>,
) -> LlmError {
    let message = error_message(body);
    let lower = message.to_lowercase();
    // LM Studio puts the machine-readable reason in `error.code` and words the message
    // "Invalid model identifier …".
    let code = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/code")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_default();
    let model_missing = code == "model_not_found"
        || lower.contains("invalid model identifier")
        || lower.contains("model_not_found")
        || (lower.contains("model") && lower.contains("not found"))
        || lower.contains("no models loaded")
        || lower.contains("does not exist");
    if model_missing && (status == 404 || status == 400) {
        return LlmError::ModelNotFound {
            url: url.to_string(),
            model: model.to_string(),
            message,
        };
    }
    if lower.contains("context")
        && (lower.contains("exceed")
            || lower.contains("length")
            || lower.contains("too long")
            || lower.contains("overflow"))
    {
        return LlmError::ContextExceeded {
            url: url.to_string(),
            model: model.to_string(),
            message,
        };
    }
    let message = match retry_after {
        Some(s) => format!("{message} (retry after {s} s)"),
        None => message,
    };
    LlmError::Http {
        url: url.to_string(),
        model: model.to_string(),
        status,
        message,
    }
}

/// How long to wait before the next attempt: exponential, or the server's `Retry-After`.
fn backoff(settings: &HttpSettings, attempt: u32, err: &LlmError) -> Duration {
    let from_server = match err {
        LlmError::Http { message, .. } => message
            .rsplit_once("(retry after ")
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .map(Duration::from_secs),
        _ => None,
    };
    let exp = settings.base_backoff * 2u32.saturating_pow(attempt.saturating_sub(1));
    from_server.unwrap_or(exp).min(settings.max_backoff)
}

#[async_trait]
impl ChatBackend for OpenAiBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "openai".into(),
            endpoint: self.base_url.clone(),
            server: self.server.clone(),
        }
    }

    fn max_parallel(&self) -> usize {
        self.parallel
    }

    fn models_run_concurrently(&self) -> bool {
        true
    }

    async fn models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        let url = self.url("/models");
        let listed = self.get_json(&url, Duration::from_secs(10)).await?;
        let mut models: Vec<ModelInfo> = listed
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| LlmError::Protocol {
                url: url.clone(),
                model: String::new(),
                detail: "no `data` list in /models".into(),
            })?
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str))
            .map(|id| ModelInfo {
                id: id.to_string(),
                ..Default::default()
            })
            .collect();
        if let Some(rich) = self.lmstudio_models().await {
            for m in &mut models {
                if let Some(r) = rich.iter().find(|r| r["id"].as_str() == Some(&m.id)) {
                    m.loaded = r["state"].as_str().map(|s| s == "loaded");
                    m.quantization = r["quantization"].as_str().map(String::from);
                    m.context_length = r["max_context_length"].as_u64();
                    m.kind = r["type"].as_str().map(String::from);
                    m.arch = r["arch"].as_str().map(String::from);
                }
            }
        }
        Ok(models)
    }

    async fn default_model(&self) -> Result<String, LlmError> {
        if let Some(m) = &self.configured_model {
            return Ok(m.clone());
        }
        self.default_model
            .get_or_try_init(|| async {
                let models = self.models().await?;
                // Prefer a chat model the server already holds in memory.
                let chat: Vec<&ModelInfo> = models
                    .iter()
                    .filter(|m| m.kind.as_deref() != Some("embeddings"))
                    .collect();
                chat.iter()
                    .find(|m| m.loaded == Some(true))
                    .or_else(|| chat.first())
                    .map(|m| m.id.clone())
                    .ok_or_else(|| LlmError::ModelNotFound {
                        url: self.url("/models"),
                        model: "(any)".into(),
                        message: "the server lists no chat models; download or load one".into(),
                    })
            })
            .await
            .cloned()
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        on_token: TokenSink<'_>,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, LlmError> {
        let model = match &request.model {
            Some(m) => m.clone(),
            None => self.default_model().await?,
        };
        let mut body = json!({
            "model": model,
            "messages": request.messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(p) = request.top_p {
            body["top_p"] = json!(p);
        }
        if let Some(s) = request.seed {
            body["seed"] = json!(s);
        }
        if let Some(n) = request.max_tokens {
            body["max_tokens"] = json!(n);
        }
        let slots = self.slots_for(&model);
        let _slot = tokio::select! {
            permit = slots.acquire() => permit.expect("semaphore never closed"),
            _ = cancel.cancelled() => return Err(LlmError::Cancelled { partial: String::new() }),
        };
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let mut text = String::new();
            match self
                .attempt(&body, &model, on_token, cancel, started, &mut text)
                .await
            {
                Ok(r) => return Ok(r),
                // Retry only while nothing reached the student: a half-streamed answer is not
                // silently restarted.
                Err(e)
                    if e.is_transient()
                        && text.is_empty()
                        && attempt < self.settings.max_attempts =>
                {
                    let wait = backoff(&self.settings, attempt, &e);
                    tracing::warn!("attempt {attempt} failed ({e}); retrying in {wait:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => return Err(LlmError::Cancelled { partial: String::new() }),
                    }
                    attempt += 1;
                }
                Err(e) => return Err(e.for_request_to(&model)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_several_dialects() {
        assert_eq!(error_message(r#"{"error":{"message":"boom"}}"#), "boom");
        assert_eq!(
            error_message(r#"{"error":"model 'x' not found"}"#),
            "model 'x' not found"
        );
        assert_eq!(error_message("plain text"), "plain text");
        assert_eq!(error_message(""), "(empty body)");
    }

    #[test]
    fn classification() {
        assert!(matches!(
            classify_http_error(
                "u",
                "m",
                404,
                r#"{"error":"model \"m\" not found, try pulling it first"}"#,
                None
            ),
            LlmError::ModelNotFound { .. }
        ));
        assert!(matches!(
            classify_http_error(
                "u",
                "m",
                400,
                r#"{"error":{"message":"the request exceeds the available context size"}}"#,
                None
            ),
            LlmError::ContextExceeded { .. }
        ));
        let e = classify_http_error("u", "m", 429, "slow down", Some(2));
        assert!(e.is_transient());
        assert_eq!(
            backoff(&HttpSettings::default(), 1, &e),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = HttpSettings::default();
        let e = LlmError::Unreachable {
            url: "u".into(),
            model: String::new(),
            detail: "d".into(),
        };
        assert_eq!(backoff(&s, 1, &e), Duration::from_millis(500));
        assert_eq!(backoff(&s, 3, &e), Duration::from_secs(2));
        assert_eq!(backoff(&s, 30, &e), s.max_backoff);
    }
}

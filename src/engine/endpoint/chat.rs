//! `POST /v1/chat/completions`: an OpenAI chat request, answered by the session's backend —
//! through the response cache when it is seeded (a re-run cell gets the same answers), cancelled
//! when the running cell is interrupted, recorded for the cell's run record. Streams `data:`
//! events when asked to, like any OpenAI-compatible server.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::replay::Recorded;
use super::{error_response, CallRecord, Shared};
use crate::llm::cache::CachingBackend;
use crate::llm::{ChatBackend, ChatRequest, ChatResponse, LlmError, Message, Role};

#[derive(Deserialize)]
pub(super) struct CompletionRequest {
    model: Option<String>,
    messages: Vec<InMessage>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    seed: Option<u64>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    stream: bool,
}

#[derive(Deserialize)]
struct InMessage {
    role: String,
    content: Value,
}

/// The request as the kernel's backends take it; a bad one is a 400 with the reason.
fn to_request(body: CompletionRequest) -> Result<(ChatRequest, bool), String> {
    if body.messages.is_empty() {
        return Err("`messages` is empty".into());
    }
    let mut messages = Vec::with_capacity(body.messages.len());
    for (i, m) in body.messages.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(format!("message {i}: role `{other}` is not supported")),
        };
        // Content is a string, or a list of parts of which the text parts are kept.
        let content = match m.content {
            Value::String(s) => s,
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Null => String::new(),
            _ => return Err(format!("message {i}: `content` must be text")),
        };
        messages.push(Message { role, content });
    }
    Ok((
        ChatRequest {
            model: body.model.filter(|m| !m.trim().is_empty()),
            messages,
            temperature: body.temperature,
            top_p: body.top_p,
            seed: body.seed,
            max_tokens: body.max_tokens.or(body.max_completion_tokens),
        },
        body.stream,
    ))
}

pub(super) async fn completions(
    State(shared): State<Arc<Shared>>,
    body: Json<CompletionRequest>,
) -> Response {
    let (mut request, stream) = match to_request(body.0) {
        Ok(r) => r,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &e),
    };
    // A grader's run makes no model call: the answers come from what the student's run
    // recorded, looked up by the request as the cell sent it.
    if shared.results.grader_mode().is_some() {
        let recorded: Arc<dyn ChatBackend> = Arc::new(Recorded(shared.results.clone()));
        return answer(shared, recorded, None, request.clone(), request, stream).await;
    }
    let asked = request.clone();
    let backend = match shared.backend.get().await {
        Ok((b, _)) => b,
        Err(e) => return error_response(StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    if request.model.is_none() {
        match backend.default_model().await {
            Ok(m) => request.model = Some(m),
            Err(e) => return error_response(StatusCode::BAD_GATEWAY, &e.to_string()),
        }
    }
    // Seeded requests go through the cache: re-running a cell with the same seed is reproducible.
    let cache = request.seed.map(|_| {
        Arc::new(CachingBackend::new(
            backend.clone(),
            shared.home.join("cache").join("cells"),
        ))
    });
    let answering: Arc<dyn ChatBackend> = match &cache {
        Some(c) => c.clone(),
        None => backend,
    };
    answer(shared, answering, cache, asked, request, stream).await
}

/// Answer `request`; a successful answer is recorded for a grader under `asked`, the request
/// before the default model was filled in.
async fn answer(
    shared: Arc<Shared>,
    answering: Arc<dyn ChatBackend>,
    cache: Option<Arc<CachingBackend>>,
    asked: ChatRequest,
    request: ChatRequest,
    stream: bool,
) -> Response {
    if stream {
        return streamed(shared, answering, cache, asked, request);
    }
    let cancel = shared.call_started();
    let started = Instant::now();
    let result = answering.chat(&request, &|_| {}, &cancel).await;
    let cached = cache.as_ref().is_some_and(|c| c.hits() > 0);
    if let Ok(r) = &result {
        shared.results.record_call(&asked, r);
    }
    shared.call_finished(record(&request, &result, cached, started));
    match result {
        Ok(r) => Json(completion_json(&r)).into_response(),
        Err(e) => error_for(&e),
    }
}

fn record(
    request: &ChatRequest,
    result: &Result<ChatResponse, LlmError>,
    cached: bool,
    started: Instant,
) -> CallRecord {
    CallRecord {
        // A replayed call names no model in the request; the recorded answer does.
        model: request
            .model
            .clone()
            .or_else(|| result.as_ref().ok().map(|r| r.model.clone()))
            .unwrap_or_default(),
        messages: request.messages.clone(),
        answer: result.as_ref().ok().map(|r| r.text.clone()),
        error: result.as_ref().err().map(|e| e.to_string()),
        finish_reason: result.as_ref().ok().and_then(|r| r.finish_reason.clone()),
        seed: request.seed,
        temperature: request.temperature,
        max_tokens: request.max_tokens,
        cached,
        millis: started.elapsed().as_millis() as u64,
    }
}

fn error_for(e: &LlmError) -> Response {
    let status = match e {
        LlmError::Cancelled { .. } => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        _ => StatusCode::BAD_GATEWAY,
    };
    error_response(status, &e.to_string())
}

fn completion_json(r: &ChatResponse) -> Value {
    let mut message = json!({"role": "assistant", "content": r.text});
    if let Some(reasoning) = &r.reasoning {
        message["reasoning_content"] = json!(reasoning);
    }
    json!({
        "id": format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": r.model,
        "choices": [{"index": 0, "message": message, "finish_reason": r.finish_reason.clone().unwrap_or_else(|| "stop".into())}],
        "usage": {"prompt_tokens": r.usage.prompt_tokens, "completion_tokens": r.usage.completion_tokens},
    })
}

/// Answer as server-sent events: a chunk per piece of text, a last chunk with the finish
/// reason, then `[DONE]`. An error mid-answer is sent as an `error` event.
fn streamed(
    shared: Arc<Shared>,
    backend: Arc<dyn ChatBackend>,
    cache: Option<Arc<CachingBackend>>,
    asked: ChatRequest,
    request: ChatRequest,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let model = request.model.clone().unwrap_or_default();
    let event = |v: Value| Bytes::from(format!("data: {v}\n\n"));
    tokio::spawn(async move {
        let cancel = shared.call_started();
        let started = Instant::now();
        let piece_tx = tx.clone();
        let (piece_id, piece_model) = (id.clone(), model.clone());
        let on_token = move |piece: &str| {
            let chunk = json!({"id": piece_id, "object": "chat.completion.chunk", "model": piece_model, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
            let _ = piece_tx.send(event(chunk));
        };
        let result = backend.chat(&request, &on_token, &cancel).await;
        let cached = cache.as_ref().is_some_and(|c| c.hits() > 0);
        if let Ok(r) = &result {
            shared.results.record_call(&asked, r);
        }
        shared.call_finished(record(&request, &result, cached, started));
        match result {
            Ok(r) => {
                let last = json!({"id": id, "object": "chat.completion.chunk", "model": r.model, "choices": [{"index": 0, "delta": {}, "finish_reason": r.finish_reason.unwrap_or_else(|| "stop".into())}], "usage": {"prompt_tokens": r.usage.prompt_tokens, "completion_tokens": r.usage.completion_tokens}});
                let _ = tx.send(event(last));
            }
            Err(e) => {
                let _ = tx.send(event(json!({"error": {"message": e.to_string()}})));
            }
        }
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n"));
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

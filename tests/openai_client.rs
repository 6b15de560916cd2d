//! The HTTP client against wiremock: streaming, model lists, errors, retries, time-outs and
//! cancellation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alignment_lab::llm::openai::{HttpSettings, OpenAiBackend};
use alignment_lab::llm::{ChatBackend, ChatRequest, LlmError, Message, Secret};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fast() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_millis(500),
        first_token_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        max_attempts: 3,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_secs(2),
    }
}

fn backend(server: &MockServer, settings: HttpSettings) -> OpenAiBackend {
    backend_with_slots(server, settings, 4)
}

/// A backend allowing `slots` requests in flight per model.
fn backend_with_slots(server: &MockServer, settings: HttpSettings, slots: usize) -> OpenAiBackend {
    OpenAiBackend::new(
        &format!("{}/v1", server.uri()),
        "test server",
        None,
        None,
        slots,
        settings,
    )
}

fn sse(chunks: &[serde_json::Value]) -> ResponseTemplate {
    let mut body = String::new();
    for c in chunks {
        body.push_str(&format!("data: {c}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

fn delta(text: &str) -> serde_json::Value {
    json!({"model": "tiny", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: Some(model.into()),
        messages: vec![Message::user("Say hello.")],
        temperature: Some(0.0),
        seed: Some(7),
        max_tokens: Some(16),
        ..Default::default()
    }
}

#[tokio::test]
async fn streams_tokens_in_order_and_reads_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": "tiny", "stream": true, "seed": 7, "max_tokens": 16})))
        .respond_with(sse(&[
            delta("Hel"),
            delta("lo"),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}, "timings": {"predicted_per_second": 90.0}}),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    let pieces = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = {
        let pieces = pieces.clone();
        move |p: &str| pieces.lock().unwrap().push(p.to_string())
    };
    let r = backend(&server, fast())
        .chat(&request("tiny"), &sink, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "Hello");
    assert_eq!(*pieces.lock().unwrap(), vec!["Hel", "lo"]);
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert_eq!(r.usage.completion_tokens, Some(2));
    assert_eq!(
        r.server_report.unwrap()["timings"]["predicted_per_second"],
        90.0
    );
}

/// A server that answers every chat request with `reply`.
async fn answering(reply: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(reply)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn non_streaming_answer_is_accepted() {
    let server = answering(ResponseTemplate::new(200).set_body_json(json!({
        "model": "tiny",
        "choices": [{"message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1}
    })))
    .await;
    let r = backend(&server, fast())
        .chat(&request("tiny"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "whole");
}

#[tokio::test]
async fn a_thinking_models_reasoning_is_kept_apart_from_its_answer() {
    // Streamed: reasoning chunks first (they count as the first token), then no content at all
    // because the token limit ran out.
    let server = answering(sse(&[
        json!({"choices": [{"delta": {"reasoning_content": "The user wants "}}]}),
        json!({"choices": [{"delta": {"reasoning_content": "bread."}, "finish_reason": "length"}]}),
    ]))
    .await;
    let r = backend(&server, fast())
        .chat(&request("thinker"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "");
    assert_eq!(r.reasoning.as_deref(), Some("The user wants bread."));
    assert_eq!(r.finish_reason.as_deref(), Some("length"));

    // Not streamed: `content: null` beside `reasoning_content` is an empty answer, not an error.
    let server = answering(ResponseTemplate::new(200).set_body_json(json!({
        "model": "thinker",
        "choices": [{"message": {"role": "assistant", "content": null, "reasoning_content": "Hmm"}, "finish_reason": "length"}]
    })))
    .await;
    let r = backend(&server, fast())
        .chat(&request("thinker"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((r.text.as_str(), r.reasoning.as_deref()), ("", Some("Hmm")));
}

#[tokio::test]
async fn api_key_is_sent_as_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer sk-test-123"))
        .respond_with(sse(&[delta("ok")]))
        .expect(1)
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(
        &format!("{}/v1", server.uri()),
        "t",
        Some(Secret::new("sk-test-123".into())),
        None,
        1,
        fast(),
    );
    let r = b
        .chat(&request("m"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "ok");
}

#[tokio::test]
async fn models_merge_lmstudio_details_and_default_prefers_loaded_chat_models() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "text-embedding-nomic"}, {"id": "llama-3.2-1b-instruct"}, {"id": "qwen2.5-1.5b-instruct"}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v0/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "text-embedding-nomic", "type": "embeddings", "state": "loaded"},
            {"id": "llama-3.2-1b-instruct", "type": "llm", "state": "not-loaded", "quantization": "Q4_K_M", "max_context_length": 131072},
            {"id": "qwen2.5-1.5b-instruct", "type": "llm", "state": "loaded", "quantization": "Q8_0", "max_context_length": 32768}
        ]})))
        .mount(&server)
        .await;
    let b = backend(&server, fast());
    let models = b.models().await.unwrap();
    assert_eq!(models.len(), 3);
    assert_eq!(models[1].quantization.as_deref(), Some("Q4_K_M"));
    assert_eq!(models[1].loaded, Some(false));
    assert_eq!(models[2].context_length, Some(32768));
    assert_eq!(b.default_model().await.unwrap(), "qwen2.5-1.5b-instruct");
}

#[tokio::test]
async fn plain_openai_server_lists_models_without_lmstudio_api() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": "llama3.2:1b"}]})),
        )
        .mount(&server)
        .await;
    let b = backend(&server, fast());
    let models = b.models().await.unwrap();
    assert_eq!(models[0].id, "llama3.2:1b");
    assert_eq!(models[0].loaded, None);
    assert_eq!(b.default_model().await.unwrap(), "llama3.2:1b");
}

#[tokio::test]
async fn transient_errors_are_retried_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(sse(&[delta("third time")]))
        .with_priority(2)
        .mount(&server)
        .await;
    let r = backend(&server, fast())
        .chat(&request("m"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "third time");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn retries_are_bounded_and_the_error_names_status_and_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"message": "engine crashed"}})),
        )
        .mount(&server)
        .await;
    let e = backend(&server, fast())
        .chat(&request("m1"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    let msg = e.to_string();
    assert!(
        msg.contains("500") && msg.contains("`m1`") && msg.contains("engine crashed"),
        "{msg}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_string("slow down"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(sse(&[delta("ok")]))
        .with_priority(2)
        .mount(&server)
        .await;
    let t = Instant::now();
    backend(&server, fast())
        .chat(&request("m"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn missing_model_is_not_retried_and_says_so() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": "model \"nope\" not found, try pulling it first"})),
        )
        .mount(&server)
        .await;
    let e = backend(&server, fast())
        .chat(&request("nope"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::ModelNotFound { .. }), "{e}");
    assert!(e.to_string().contains(":models"));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn unreachable_server_error_names_url_and_what_to_do() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let b = OpenAiBackend::new(&url, "t", None, None, 1, fast());
    let e = b
        .chat(&request("m"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, LlmError::Unreachable { .. }));
    assert!(msg.contains(&url) && msg.contains("LM Studio"), "{msg}");
}

#[tokio::test]
async fn a_silent_server_times_out_before_the_first_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(&[delta("late")]).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let settings = HttpSettings {
        first_token_timeout: Duration::from_millis(300),
        max_attempts: 1,
        ..fast()
    };
    let t = Instant::now();
    let e = backend(&server, settings)
        .chat(&request("m"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Timeout { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn cancelling_drops_the_request_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(&[delta("never")]).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c2.cancel();
    });
    let t = Instant::now();
    let e = backend(&server, fast())
        .chat(&request("m"), &|_| {}, &cancel)
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Cancelled { .. }));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test]
async fn malformed_stream_is_a_protocol_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("data: {not json\n\n", "text/event-stream"),
        )
        .mount(&server)
        .await;
    let e = backend(&server, fast())
        .chat(&request("m"), &|_| {}, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Protocol { .. }), "{e}");
}

#[tokio::test]
async fn concurrency_limit_is_respected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(&[delta("x")]).set_delay(Duration::from_millis(200)))
        .mount(&server)
        .await;
    let b = Arc::new(backend_with_slots(&server, fast(), 2));
    let t = Instant::now();
    let calls = (0..4).map(|_| {
        let b = b.clone();
        async move {
            b.chat(&request("m"), &|_| {}, &CancellationToken::new())
                .await
                .unwrap()
        }
    });
    futures::future::join_all(calls).await;
    // Four 200 ms calls, two at a time: two waves.
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(390) && e < Duration::from_millis(1500),
        "{e:?}"
    );
}

/// Records when each request arrives, per model, and answers after a delay.
struct Arrivals(Arc<Mutex<Vec<(String, Instant)>>>);

impl wiremock::Respond for Arrivals {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let model = body["model"].as_str().unwrap_or_default().to_string();
        self.0.lock().unwrap().push((model, Instant::now()));
        sse(&[delta("x")]).set_delay(Duration::from_millis(300))
    }
}

#[tokio::test]
async fn each_model_has_its_own_request_slots() {
    // LM Studio, Ollama and llama.cpp give every loaded model its own parallel slots: two slots
    // per model means four requests in flight for two models, not two.
    let server = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .respond_with(Arrivals(arrivals.clone()))
        .mount(&server)
        .await;
    let b = Arc::new(backend_with_slots(&server, fast(), 2));
    assert!(b.models_run_concurrently());
    let t = Instant::now();
    let calls = ["a", "a", "a", "b", "b", "b"].map(|m| {
        let b = b.clone();
        async move {
            b.chat(&request(m), &|_| {}, &CancellationToken::new())
                .await
                .unwrap()
        }
    });
    futures::future::join_all(calls).await;
    let arrivals = arrivals.lock().unwrap();
    let first_wave = |model: &str| {
        arrivals
            .iter()
            .filter(|(m, at)| m == model && *at - t < Duration::from_millis(150))
            .count()
    };
    // Both models got their two slots at once; each model's third request waited for a slot.
    assert_eq!((first_wave("a"), first_wave("b")), (2, 2), "{arrivals:?}");
    assert_eq!(arrivals.len(), 6);
}

/// llama.cpp's server closes the connection after a streamed answer without saying so
/// (measured: every request sent on that connection afterwards is dropped unanswered), and a
/// pooled connection reused before the close arrives fails the next call. This server does the
/// same, deterministically: it answers one request per connection and drops the next one
/// unanswered. With no retries allowed, two calls in a row must both succeed.
#[tokio::test]
async fn a_connection_the_server_drops_after_a_stream_is_not_reused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(Mutex::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            *counted.lock().unwrap() += 1;
            tokio::spawn(async move {
                // Read the request: headers, then the body its Content-Length announces.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let header_end = loop {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..header_end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while request.len() < header_end + length {
                    let n = socket.read(&mut buf).await.unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                let body = format!("data: {}\n\ndata: [DONE]\n\n", delta("hello"));
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(reply.as_bytes()).await.unwrap();
                // The next request on this connection is dropped unanswered.
                let _ = socket.read(&mut buf).await;
            });
        }
    });
    let client = OpenAiBackend::new(
        &format!("http://127.0.0.1:{port}/v1"),
        "test server",
        None,
        None,
        4,
        HttpSettings {
            max_attempts: 1,
            ..fast()
        },
    );
    for _ in 0..2 {
        let reply = client
            .chat(&request("tiny"), &|_| {}, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(reply.text, "hello");
    }
    assert_eq!(*connections.lock().unwrap(), 2);
}

//! The embedded backend against the real SmolLM2-135M GGUF that install.sh and the test script
//! fetch. Set ALIGNMENT_LAB_REQUIRE_MODEL=1 (the test script does) to make a missing model a
//! failure rather than a skip.

use std::path::PathBuf;
use std::sync::Arc;

use alignment_lab::llm::embedded::{EmbeddedBackend, EmbeddedSettings};
use alignment_lab::llm::{ChatBackend, ChatRequest, LabConfig, LlmError, Message};
use tokio_util::sync::CancellationToken;

fn model_path() -> Option<PathBuf> {
    let path = LabConfig::from_env().unwrap().embedded_model_path();
    if path.exists() {
        return Some(path);
    }
    if std::env::var("ALIGNMENT_LAB_REQUIRE_MODEL").is_ok() {
        panic!(
            "the embedded model is required but missing at {}",
            path.display()
        );
    }
    eprintln!(
        "skipping: no model at {} (run scripts/fetch-model.sh)",
        path.display()
    );
    None
}

fn load() -> Option<Arc<EmbeddedBackend>> {
    let path = model_path()?;
    Some(Arc::new(
        EmbeddedBackend::load(&path, EmbeddedSettings::default()).unwrap(),
    ))
}

fn ask(prompt: &str, seed: u64, temperature: f64) -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![Message::user(prompt)],
        temperature: Some(temperature),
        seed: Some(seed),
        max_tokens: Some(24),
        ..Default::default()
    }
}

#[tokio::test]
async fn answers_with_metadata_from_the_gguf() {
    let Some(b) = load() else { return };
    let info = b.model_info();
    assert_eq!(info.id, "SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(info.quantization.as_deref(), Some("Q4_1"));
    assert_eq!(b.info().kind, "embedded");
    let r = b
        .chat(
            &ask("What is the capital of France?", 1, 0.0),
            &|_| {},
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(!r.text.trim().is_empty());
    assert!(r.usage.completion_tokens.unwrap() > 0);
    // The chat template wraps the prompt in role markers, so it tokenises to more than the
    // eight or so tokens of the bare question.
    assert!(r.usage.prompt_tokens.unwrap() > 12, "{:?}", r.usage);
    assert!(!r.text.contains("<|im_end|>"));
}

#[tokio::test]
async fn same_seed_same_text_and_streaming_matches() {
    let Some(b) = load() else { return };
    let streamed = std::sync::Mutex::new(String::new());
    let sink = |p: &str| streamed.lock().unwrap().push_str(p);
    let a = b
        .chat(
            &ask("Name a colour.", 42, 0.9),
            &sink,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let c = b
        .chat(
            &ask("Name a colour.", 42, 0.9),
            &|_| {},
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(a.text, c.text);
    assert_eq!(*streamed.lock().unwrap(), a.text);
}

#[tokio::test]
async fn concurrent_requests_share_one_batch() {
    let Some(b) = load() else { return };
    let calls = (0..4).map(|i| {
        let b = b.clone();
        async move {
            b.chat(
                &ask(&format!("Count to {}.", i + 3), i, 0.0),
                &|_| {},
                &CancellationToken::new(),
            )
            .await
            .unwrap()
        }
    });
    let answers = futures::future::join_all(calls).await;
    assert!(answers
        .iter()
        .all(|a| a.usage.completion_tokens.unwrap() > 0));
    assert!(
        b.peak_batch_sequences() >= 2,
        "peak {}",
        b.peak_batch_sequences()
    );
}

#[tokio::test]
async fn cancel_stops_generation() {
    let Some(b) = load() else { return };
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let mut req = ask("Write a long story about a robot.", 3, 0.7);
    req.max_tokens = Some(2000);
    let sink = move |_: &str| c.cancel();
    let e = b.chat(&req, &sink, &cancel).await.unwrap_err();
    assert!(matches!(e, LlmError::Cancelled { .. }));
    // The engine is still usable afterwards.
    let r = b
        .chat(&ask("Hi", 1, 0.0), &|_| {}, &CancellationToken::new())
        .await
        .unwrap();
    assert!(!r.text.is_empty());
}

#[test]
fn corrupt_gguf_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.gguf");
    // Right signature, nothing else: llama.cpp must reject it without taking the process down.
    std::fs::write(&path, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    let e = EmbeddedBackend::load(&path, EmbeddedSettings::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("broken.gguf"), "{e}");
}

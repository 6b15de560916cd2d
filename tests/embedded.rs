//! The embedded backend against the real SmolLM2-135M GGUF that install.sh and the test script
//! fetch. Set ALIGNMENT_LAB_REQUIRE_MODEL=1 (the test script does) to make a missing model a
//! failure rather than a skip.

use std::path::PathBuf;
use std::sync::Arc;

use alignment_lab::llm::embedded::{EmbeddedBackend, EmbeddedSettings};
use alignment_lab::llm::{ChatBackend, ChatRequest, ChatResponse, LabConfig, LlmError, Message};
use tokio_util::sync::CancellationToken;

/// One model test at a time: llama.cpp's worker threads spin while they wait, so two engines
/// decoding at once on two cores take nine times as long as one after the other (measured:
/// 178 s against 20 s for this file).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let _turn = TURN.lock().await;
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
    let _turn = TURN.lock().await;
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
    let _turn = TURN.lock().await;
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
    let _turn = TURN.lock().await;
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

fn load_with(settings: EmbeddedSettings) -> Option<Arc<EmbeddedBackend>> {
    let path = model_path()?;
    Some(Arc::new(EmbeddedBackend::load(&path, settings).unwrap()))
}

fn conversation(turns: &[&str]) -> Vec<Message> {
    turns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i % 2 == 0 {
                Message::user(*t)
            } else {
                Message::assistant(*t)
            }
        })
        .collect()
}

async fn answer(b: &EmbeddedBackend, messages: Vec<Message>, seed: u64) -> ChatResponse {
    let req = ChatRequest {
        messages,
        temperature: Some(0.8),
        seed: Some(seed),
        max_tokens: Some(32),
        ..Default::default()
    };
    b.chat(&req, &|_| {}, &CancellationToken::new())
        .await
        .unwrap()
}

/// A debate's second round extends the first: the warm engine evaluates only the new turn, and
/// answers exactly what an engine without a prompt cache answers (same seed, sampling on).
#[tokio::test]
async fn a_warm_prompt_cache_gives_the_cold_answer() {
    let _turn = TURN.lock().await;
    let Some(warm) = load() else { return };
    let cold = load_with(EmbeddedSettings {
        prompt_cache: false,
        ..EmbeddedSettings::default()
    })
    .unwrap();
    let question = "A farmer has 17 sheep. All but 9 run away. How many sheep are left? \
                    Think it through and give the number.";
    let first = answer(&warm, conversation(&[question]), 5).await;
    assert_eq!(first.usage.cached_prompt_tokens, Some(0));
    let round_two = conversation(&[
        question,
        &first.text,
        "Another agent answered 8. Reconsider and give your final number.",
    ]);
    let before = warm.stats();
    let warm_answer = answer(&warm, round_two.clone(), 6).await;
    let cold_answer = answer(&cold, round_two.clone(), 6).await;
    assert_eq!(warm_answer.text, cold_answer.text);
    assert_eq!(
        warm_answer.usage.prompt_tokens,
        cold_answer.usage.prompt_tokens
    );
    let cached = warm_answer.usage.cached_prompt_tokens.unwrap();
    let sent = warm_answer.usage.prompt_tokens.unwrap();
    // Everything up to the first answer is reused (its last tokens are re-tokenised with the
    // template's end-of-turn marker, so a few may differ).
    assert!(
        cached >= first.usage.prompt_tokens.unwrap(),
        "{cached} of {sent}"
    );
    assert_eq!(cold_answer.usage.cached_prompt_tokens, Some(0));
    let after = warm.stats();
    assert_eq!(
        after.prompt_tokens_evaluated - before.prompt_tokens_evaluated,
        sent - cached
    );
    // The same conversation again reuses all but its last token, and still answers the same.
    let again = answer(&warm, round_two, 6).await;
    assert_eq!(again.text, warm_answer.text);
    assert_eq!(again.usage.cached_prompt_tokens, Some(sent - 1));
}

/// A request whose tokens llama.cpp rejects fails alone; the three decoded in the same batch
/// answer what they answer on their own.
#[tokio::test]
async fn a_failed_decode_fails_only_its_request() {
    let _turn = TURN.lock().await;
    let Some(b) = load_with(EmbeddedSettings {
        fault_marker: Some("FAULT-7f3a".into()),
        ..EmbeddedSettings::default()
    }) else {
        return;
    };
    let prompts = [
        "Name a colour.",
        "Count to five. FAULT-7f3a",
        "Name a fruit.",
        "Name an animal.",
    ];
    let calls = prompts.iter().map(|p| {
        let b = b.clone();
        async move {
            b.chat(&ask(p, 1, 0.0), &|_| {}, &CancellationToken::new())
                .await
        }
    });
    let together = futures::future::join_all(calls).await;
    assert!(b.peak_batch_sequences() >= 2);
    let e = together[1].as_ref().unwrap_err();
    assert!(
        matches!(e, LlmError::Embedded(m) if m.contains("could not evaluate")),
        "{e}"
    );
    for (i, p) in prompts.iter().enumerate().filter(|(i, _)| *i != 1) {
        let alone = b
            .chat(&ask(p, 1, 0.0), &|_| {}, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(together[i].as_ref().unwrap().text, alone.text, "{p}");
    }
}

/// A long prompt is evaluated in steps of at most 512 tokens, so a cancel lands within one
/// step: the rest of the prompt is never evaluated.
#[tokio::test]
async fn cancel_takes_effect_within_one_prompt_step() {
    let _turn = TURN.lock().await;
    let Some(b) = load() else { return };
    let long = "The quick brown fox jumps over the lazy dog. ".repeat(160);
    let cancel = CancellationToken::new();
    let before = b.stats().prompt_tokens_evaluated;
    let watcher = {
        let (b, cancel) = (b.clone(), cancel.clone());
        tokio::spawn(async move {
            while b.stats().prompt_tokens_evaluated == before {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            cancel.cancel();
        })
    };
    let mut req = ask(&long, 1, 0.0);
    req.max_tokens = Some(8);
    let e = b.chat(&req, &|_| {}, &cancel).await.unwrap_err();
    watcher.await.unwrap();
    assert!(matches!(e, LlmError::Cancelled { .. }));
    let sent = b.stats().prompt_tokens_sent;
    assert!(sent > 1500, "the prompt has {sent} tokens");
    // Give the worker a moment to finish the step it was in.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let evaluated = b.stats().prompt_tokens_evaluated - before;
    // The step that was running when the cancel came, and at most the one started just before
    // the worker saw it.
    assert!(
        evaluated <= 1024,
        "{evaluated} of {sent} prompt tokens evaluated"
    );
}

/// With one sequence, the second of two requests waits; that wait is reported as `queued_ms`,
/// not folded into its time to first token.
#[tokio::test]
async fn time_queued_is_reported_apart_from_time_to_first_token() {
    let _turn = TURN.lock().await;
    let Some(b) = load_with(EmbeddedSettings {
        parallel: 1,
        ..EmbeddedSettings::default()
    }) else {
        return;
    };
    let mut long = ask("Write a long story about a robot.", 1, 0.0);
    long.max_tokens = Some(64);
    let short = ask("Hi", 1, 0.0);
    let none = CancellationToken::new();
    let (first, second) = tokio::join!(b.chat(&long, &|_| {}, &none), async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        b.chat(&short, &|_| {}, &none).await
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    let queued = second.timing.queued_ms.unwrap();
    assert!(
        queued > first.timing.total_ms * 0.5,
        "queued {queued} ms behind a {} ms answer",
        first.timing.total_ms
    );
    assert!(second.timing.first_token_ms.unwrap() < queued);
    assert!(second.timing.total_ms >= queued);
}

/// The two agents of a debate question send the same first prompt at the same moment: the
/// second copies the first's evaluated prompt from its sequence instead of evaluating it again,
/// and both answer what an engine without a prompt cache answers (same seeds, sampling on).
#[tokio::test]
async fn a_prompt_sent_twice_at_once_is_evaluated_once() {
    let _turn = TURN.lock().await;
    let Some(warm) = load() else { return };
    let question = "Two trains leave stations 120 km apart at the same time and drive towards \
                    each other at 40 km/h and 80 km/h. After how many hours do they meet? \
                    Explain your reasoning and give the number.";
    let both = |b: Arc<EmbeddedBackend>| async move {
        let (one, two) = tokio::join!(
            answer(&b, conversation(&[question]), 11),
            answer(&b, conversation(&[question]), 12)
        );
        (one, two, b.stats())
    };
    let (one, two, stats) = both(warm).await;
    let cold = load_with(EmbeddedSettings {
        prompt_cache: false,
        ..EmbeddedSettings::default()
    })
    .unwrap();
    let (cold_one, cold_two, _) = both(cold).await;
    assert_eq!(one.text, cold_one.text);
    assert_eq!(two.text, cold_two.text);
    let sent = one.usage.prompt_tokens.unwrap();
    assert!(sent > 40, "the prompt has {sent} tokens");
    assert_eq!(stats.sequences_shared, 1);
    assert_eq!(stats.prompt_tokens_sent, 2 * sent);
    assert_eq!(stats.prompt_tokens_evaluated, sent + 1);
    let cached = [
        one.usage.cached_prompt_tokens,
        two.usage.cached_prompt_tokens,
    ];
    assert!(
        cached.contains(&Some(0)) && cached.contains(&Some(sent - 1)),
        "{cached:?}"
    );
}

//! Prompts built right for more than one model family: the embedded engine's tokens for a
//! conversation start with BOS exactly when the GGUF's `tokenizer.ggml.add_bos_token` asks, on
//! SmolLM2 (ChatML, no BOS) and Gemma 3 (its own template, BOS required), and match what
//! llama.cpp's own `llama-server` evaluates for the same conversation: the same prompt token
//! count, and the same first greedy answer tokens.
//!
//! Models: the bundled SmolLM2, and Gemma 3 270M from `scripts/fetch-test-model.sh`. The server:
//! `ALIGNMENT_LAB_LLAMA_SERVER` (scripts/llama-server.sh). With ALIGNMENT_LAB_REQUIRE_MODEL=1
//! (the test script) a missing one is a failure, not a skip.

use std::path::PathBuf;

use alignment_lab::bench::llama_server::{self, LlamaServer, ServerOptions};
use alignment_lab::llm::embedded::{shared_llama_backend, EmbeddedBackend, EmbeddedSettings};
use alignment_lab::llm::openai::{HttpSettings, OpenAiBackend};
use alignment_lab::llm::{ChatBackend, ChatRequest, LabConfig, Message};
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tokio_util::sync::CancellationToken;

/// One model test at a time (llama.cpp's spinning worker threads make concurrent engines on two
/// cores many times slower than the same work in turn).
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn required() -> bool {
    std::env::var("ALIGNMENT_LAB_REQUIRE_MODEL").is_ok()
}

fn present(path: PathBuf, how: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        !required(),
        "{} is required but missing ({how})",
        path.display()
    );
    eprintln!("skipping: no {} ({how})", path.display());
    None
}

fn smollm2() -> Option<PathBuf> {
    let path = LabConfig::from_env().unwrap().embedded_model_path();
    present(path, "scripts/fetch-model.sh")
}

fn gemma3() -> Option<PathBuf> {
    let home = LabConfig::from_env().unwrap().home;
    present(
        home.join("test-models/gemma-3-270m-q4_k_m.gguf"),
        "scripts/fetch-test-model.sh",
    )
}

fn server_binary() -> Option<PathBuf> {
    let found = llama_server::binary_from_env();
    if found.is_none() {
        assert!(
            !required(),
            "llama-server is required: set {} (scripts/llama-server.sh builds it)",
            llama_server::BINARY_ENV
        );
        eprintln!("skipping: {} not set", llama_server::BINARY_ENV);
    }
    found
}

fn conversation() -> Vec<Message> {
    vec![
        Message::system("You answer in one short sentence."),
        Message::user("What colour is the sky on a clear day?"),
    ]
}

/// What the GGUF itself says about BOS, read by llama.cpp from its metadata.
fn gguf_bos(path: &PathBuf) -> (bool, i32) {
    let backend = shared_llama_backend().unwrap();
    let model = LlamaModel::load_from_file(
        backend,
        path,
        &LlamaModelParams::default().with_vocab_only(true),
    )
    .unwrap();
    let vocab = model.vocab();
    (vocab.should_add_bos(), vocab.bos().0)
}

/// The engine's settings for a model: Gemma 3 270M is a base model whose GGUF has no chat
/// template, so it gets llama.cpp's built-in `gemma` one (which, like the Llama 3 one, leaves
/// BOS to the caller).
fn settings_for(path: &std::path::Path) -> EmbeddedSettings {
    let gemma = path.to_string_lossy().contains("gemma");
    EmbeddedSettings {
        chat_template: gemma.then(|| "gemma".to_string()),
        ..EmbeddedSettings::default()
    }
}

fn check_bos(path: &PathBuf, expect_add_bos: bool) -> Vec<i32> {
    let (add_bos, bos) = gguf_bos(path);
    assert_eq!(add_bos, expect_add_bos, "{}", path.display());
    let settings = settings_for(path);
    let engine = EmbeddedBackend::load(path, settings.clone()).unwrap();
    let (text, tokens) = engine.prompt_for(&conversation()).unwrap();
    if add_bos {
        assert_eq!(tokens[0], bos, "no BOS first in {text:?}");
        assert_ne!(tokens[1], bos, "a doubled BOS in {text:?}");
    } else {
        // Whatever the template writes, nothing is added in front of it.
        let (_, bare) = engine.prompt_for(&conversation()).unwrap();
        assert_eq!(tokens, bare);
    }
    tokens
}

/// A template llama.cpp cannot apply is an error that names the model, not a quiet fallback.
#[test]
fn an_unknown_template_is_an_error_naming_the_model() {
    let _turn = turn();
    let Some(path) = smollm2() else { return };
    let settings = EmbeddedSettings {
        chat_template: Some("no-such-template".into()),
        ..EmbeddedSettings::default()
    };
    let engine = EmbeddedBackend::load(&path, settings).unwrap();
    let e = engine.prompt_for(&conversation()).unwrap_err().to_string();
    assert!(
        e.contains("SmolLM2-135M-Instruct.Q4_1") && e.contains("chat template"),
        "{e}"
    );
    let reply = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(engine.chat(
            &ChatRequest {
                messages: conversation(),
                ..Default::default()
            },
            &|_| {},
            &CancellationToken::new(),
        ));
    assert_eq!(reply.unwrap_err().to_string(), e);
}

#[test]
fn smollm2_gets_no_bos_of_its_own() {
    let _turn = turn();
    let Some(path) = smollm2() else { return };
    check_bos(&path, false);
}

#[test]
fn gemma3_gets_exactly_one_bos() {
    let _turn = turn();
    let Some(path) = gemma3() else { return };
    check_bos(&path, true);
}

/// The same conversation through the embedded engine and through a real llama-server on the
/// same GGUF: the server counts the same prompt tokens, and the first greedy answer tokens
/// agree (checked on text, as the server returns text).
async fn same_as_llama_server(path: PathBuf) {
    let Some(binary) = server_binary() else {
        return;
    };
    let settings = settings_for(&path);
    let engine = EmbeddedBackend::load(&path, settings.clone()).unwrap();
    let (text, tokens) = engine.prompt_for(&conversation()).unwrap();
    if settings.chat_template.as_deref() == Some("gemma") {
        assert!(text.starts_with("<start_of_turn>user\n"), "{text:?}");
    }
    let options = ServerOptions {
        chat_template: settings.chat_template.clone(),
        ..ServerOptions::default()
    };
    let server = LlamaServer::start(&binary, &path, &options).unwrap();
    let client = OpenAiBackend::new(
        &server.base_url,
        "llama.cpp",
        None,
        None,
        1,
        HttpSettings::default(),
    );
    let request = ChatRequest {
        messages: conversation(),
        temperature: Some(0.0),
        seed: Some(1),
        max_tokens: Some(6),
        ..Default::default()
    };
    let none = CancellationToken::new();
    let ours = engine.chat(&request, &|_| {}, &none).await.unwrap();
    let theirs = client.chat(&request, &|_| {}, &none).await.unwrap();
    assert_eq!(
        theirs.usage.prompt_tokens,
        Some(tokens.len() as u64),
        "llama-server evaluated a different prompt"
    );
    assert_eq!(ours.usage.prompt_tokens, Some(tokens.len() as u64));
    let words = |s: &str| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    assert_eq!(
        words(&ours.text),
        words(&theirs.text),
        "embedded {:?} vs llama-server {:?}",
        ours.text,
        theirs.text
    );
}

fn block_on(f: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn smollm2_prompt_matches_llama_server() {
    let _turn = turn();
    let Some(path) = smollm2() else { return };
    block_on(same_as_llama_server(path));
}

#[test]
fn gemma3_prompt_matches_llama_server() {
    let _turn = turn();
    let Some(path) = gemma3() else { return };
    block_on(same_as_llama_server(path));
}

//! What the integration tests share: a kernel engine wired to a wiremock server that plays an
//! OpenAI-compatible model server, and the loader for the labelled evaluation sets.
#![allow(dead_code)] // each test file uses part of it

use std::path::Path;

use alignment_lab::engine::Engine;
use alignment_lab::llm::LabConfig;
use serde::de::DeserializeOwned;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// An engine whose backend is a fake server listing `models` and answering chat requests with
/// `responder`; run records go under `home`. Keep the server alive as long as the engine.
pub async fn fake_engine(
    home: &Path,
    models: &[&str],
    responder: impl Respond + 'static,
) -> (MockServer, Engine) {
    let server = MockServer::start().await;
    let listed: Vec<_> = models.iter().map(|m| json!({"id": m})).collect();
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": listed })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(responder)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let home = home.display().to_string();
    let default_model = models.first().map(|m| m.to_string());
    let config = LabConfig::from_lookup(move |k| match k {
        "ALIGNMENT_LAB_BASE_URL" => Some(base.clone()),
        "ALIGNMENT_LAB_HOME" => Some(home.clone()),
        "ALIGNMENT_LAB_MODEL" => default_model.clone(),
        _ => None,
    })
    .unwrap();
    (server, Engine::new(config))
}

/// A chat request's JSON body and the text of all its messages, for a fake that answers by
/// what the conversation holds.
pub fn conversation(request: &Request) -> (serde_json::Value, String) {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let text = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or(""))
        .collect();
    (body, text)
}

/// One streamed answer, as the server sends it.
pub fn streamed(model: &str, answer: &str) -> ResponseTemplate {
    let chunk = json!({"model": model, "choices": [{"delta": {"content": answer}, "finish_reason": "stop"}]});
    ResponseTemplate::new(200).set_body_raw(
        format!("data: {chunk}\n\ndata: [DONE]\n\n"),
        "text/event-stream",
    )
}

/// Every `[[item]]` of the TOML files in `tests/fixtures/<dir>/` whose names start with
/// `prefix`, each with the name of its file.
pub fn load_items<T: DeserializeOwned>(dir: &str, prefix: &str) -> Vec<(String, T)> {
    #[derive(serde::Deserialize)]
    struct File<T> {
        item: Vec<T>,
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no {prefix}*.toml in {}", dir.display());
    names
        .into_iter()
        .flat_map(|name| {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            let file: File<T> = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            file.item.into_iter().map(move |i| (name.clone(), i))
        })
        .collect()
}

//! Magics through the engine, against a wiremock server, with outputs collected by a sink.

use std::sync::Arc;

use alignment_lab::display::{Bundle, CollectingSink, SinkEvent};
use alignment_lab::engine::Engine;
use alignment_lab::llm::LabConfig;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": "fake-model"}]})),
        )
        .mount(&server)
        .await;
    let body = [
        json!({"model": "fake-model", "choices": [{"delta": {"content": "Reward "}}]}),
        json!({"model": "fake-model", "choices": [{"delta": {"content": "hacking."}, "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}),
    ]
    .iter()
    .map(|c| format!("data: {c}\n\n"))
    .collect::<String>()
        + "data: [DONE]\n\n";
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&server)
        .await;
    server
}

fn engine(base_url: &str) -> Engine {
    let base = base_url.to_string();
    let config = LabConfig::from_lookup(move |k| match k {
        "ALIGNMENT_LAB_BASE_URL" => Some(base.clone()),
        "ALIGNMENT_LAB_HOME" => Some("/nonexistent-lab-home".into()),
        _ => None,
    })
    .unwrap();
    Engine::new(config)
}

async fn run(
    engine: &mut Engine,
    code: &str,
) -> (
    Result<(), alignment_lab::display::CellError>,
    Vec<SinkEvent>,
) {
    let sink = Arc::new(CollectingSink::default());
    let r = engine
        .execute(code, sink.clone(), CancellationToken::new())
        .await;
    (r, sink.take())
}

/// The bundle a saved notebook keeps for a display: its last update, or the display itself.
fn final_bundle(events: &[SinkEvent]) -> Bundle {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            SinkEvent::Update(b, _) => Some(b.clone()),
            SinkEvent::Display(b, _) => Some(b.clone()),
            _ => None,
        })
        .expect("an output")
}

#[tokio::test]
async fn chat_streams_and_records_metadata() {
    let server = server().await;
    let mut e = engine(&format!("{}/v1", server.uri()));
    let (r, events) = run(
        &mut e,
        ":chat --seed 5 --temperature 0.2\nWhat is reward hacking?",
    )
    .await;
    r.unwrap();
    // A live display first, then its final update under the same display id.
    let SinkEvent::Display(_, Some(id)) = &events[0] else {
        panic!("{events:?}")
    };
    let SinkEvent::Update(last, last_id) = events.last().unwrap() else {
        panic!("{events:?}")
    };
    assert_eq!(id, last_id);
    let md = last.text("text/markdown").unwrap();
    assert!(md.starts_with("Reward hacking."), "{md}");
    assert!(last.text("text/plain").unwrap().contains("Reward hacking."));
    let rec = &last.metadata["alignment_lab"];
    assert_eq!(rec["kind"], "chat");
    assert_eq!(rec["model"], "fake-model");
    assert_eq!(rec["backend"]["kind"], "openai");
    assert_eq!(rec["parameters"]["seed"], 5);
    assert_eq!(rec["parameters"]["temperature"], 0.2);
    assert_eq!(rec["usage"]["completion_tokens"], 3);
    assert!(rec["timing"]["total_ms"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn bad_flag_is_an_error_and_the_next_cell_works() {
    let server = server().await;
    let mut e = engine(&format!("{}/v1", server.uri()));
    let (r, _) = run(&mut e, ":chat --temprature 0.2\nhi").await;
    let err = r.unwrap_err();
    assert_eq!(err.ename, "UsageError");
    assert!(err.evalue.contains("--temperature"));
    let (r, _) = run(&mut e, ":chat\nhi").await;
    r.unwrap();
}

#[tokio::test]
async fn empty_chat_body_is_explained() {
    let server = server().await;
    let mut e = engine(&format!("{}/v1", server.uri()));
    let (r, _) = run(&mut e, ":chat   \n   \n").await;
    assert!(r.unwrap_err().evalue.contains("needs a prompt"));
}

#[tokio::test]
async fn help_lists_every_magic() {
    let mut e = engine("http://127.0.0.1:9/v1");
    let (r, events) = run(&mut e, ":help").await;
    r.unwrap();
    let md = final_bundle(&events)
        .text("text/markdown")
        .unwrap()
        .to_string();
    for name in [":chat", ":backend", ":models", ":help"] {
        assert!(md.contains(name), "{md}");
    }
}

#[tokio::test]
async fn models_table_has_html_markdown_and_plain() {
    let server = server().await;
    let mut e = engine(&format!("{}/v1", server.uri()));
    let (r, events) = run(&mut e, ":models").await;
    r.unwrap();
    let b = final_bundle(&events[..1]);
    assert!(b.text("text/html").unwrap().contains("<td>fake-model</td>"));
    assert!(b.text("text/markdown").unwrap().contains("| fake-model |"));
    assert!(b.text("text/plain").unwrap().contains("fake-model"));
    assert_eq!(b.metadata["alignment_lab"]["kind"], "models");
}

#[tokio::test]
async fn backend_switches_to_a_url_and_reports_it() {
    let server = server().await;
    let mut e = engine("http://127.0.0.1:9/v1");
    let (r, events) = run(&mut e, &format!(":backend {}/v1", server.uri())).await;
    r.unwrap();
    let b = final_bundle(&events);
    assert_eq!(b.metadata["alignment_lab"]["model"], "fake-model");
    assert!(b.text("text/markdown").unwrap().contains("switched"));
    let (r, _) = run(&mut e, ":backend ftp://nope").await;
    assert!(r.unwrap_err().evalue.contains("ftp://nope"));
}

#[tokio::test]
async fn unreachable_server_is_a_specific_error_and_the_kernel_goes_on() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut e = engine(&format!("http://127.0.0.1:{port}/v1"));
    let (r, _) = run(&mut e, ":chat --model m\nhello").await;
    let err = r.unwrap_err();
    assert_eq!(err.ename, "BackendUnavailable");
    assert!(err.evalue.contains(&port.to_string()));
    let (r, _) = run(&mut e, ":help").await;
    r.unwrap();
}

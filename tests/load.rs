//! Load: 500 concurrent calls against a server with 50 ms latency. The configured concurrency
//! holds, every call returns its answer, and memory stays flat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alignment_lab::bench::canned_server::CannedServer;
use alignment_lab::bench::rss_mb;
use alignment_lab::llm::openai::{HttpSettings, OpenAiBackend};
use alignment_lab::llm::{ChatBackend, ChatRequest, Message};
use tokio_util::sync::CancellationToken;

const CALLS: usize = 500;
const PARALLEL: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_calls_respect_the_limit_and_lose_nothing() {
    let server = CannedServer::with_latency(Duration::from_millis(50))
        .await
        .unwrap();
    let backend = Arc::new(OpenAiBackend::new(
        &server.base_url,
        "canned",
        None,
        Some("canned-a".into()),
        PARALLEL,
        HttpSettings::default(),
    ));
    let before = rss_mb();
    let started = Instant::now();
    let calls = (0..CALLS).map(|i| {
        let backend = backend.clone();
        async move {
            let request = ChatRequest {
                model: Some("canned-a".into()),
                messages: vec![Message::user(format!("call {i}"))],
                max_tokens: Some(8),
                ..Default::default()
            };
            backend
                .chat(&request, &|_| {}, &CancellationToken::new())
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let elapsed = started.elapsed();
    let after = rss_mb();

    let answers: Vec<String> = results
        .into_iter()
        .map(|r| r.expect("every call succeeds").text)
        .collect();
    assert_eq!(answers.len(), CALLS);
    assert!(answers
        .iter()
        .all(|a| a == "I can't help with that. Answer: 42"));
    assert_eq!(server.chat_requests(), CALLS, "no retries, no lost calls");
    assert_eq!(
        server.max_in_flight(),
        PARALLEL,
        "the limit holds and is used"
    );
    // 500 calls, 8 at a time, 50 ms each: at least 63 waves.
    assert!(elapsed >= Duration::from_millis(50 * (CALLS / PARALLEL) as u64));
    assert!(
        after - before < 40.0,
        "memory grew from {before:.0} MB to {after:.0} MB"
    );
    println!(
        "{CALLS} calls in {:.2} s, {:.0} → {:.0} MB resident",
        elapsed.as_secs_f64(),
        before,
        after
    );
}

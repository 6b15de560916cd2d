//! An OpenAI-compatible server that answers every request with the same bytes, at once or after
//! a fixed latency, and counts how many chat requests it had in flight (the load test uses it).
//!
//! Written by hand on purpose: an overhead benchmark needs a server whose own cost is tiny and
//! constant. wiremock matches each request against its mocks and records it (and is a test-only
//! dependency); this one parses just enough HTTP/1.1 to keep connections alive.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The answer every chat request streams: four content chunks, a usage chunk and `[DONE]`.
const SSE_BODY: &str = concat!(
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"I can't \"}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"help with \"}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"that. \"}}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Answer: 42\"}}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4}}\n\n",
    "data: [DONE]\n\n",
);
const MODELS_BODY: &str = r#"{"object":"list","data":[{"id":"canned-a","object":"model"},{"id":"canned-b","object":"model"}]}"#;

pub struct CannedServer {
    pub base_url: String,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Stats {
    chat_requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl CannedServer {
    /// A server that answers at once.
    pub async fn start() -> Result<Self> {
        Self::with_latency(Duration::ZERO).await
    }

    /// A server that holds every chat request for `latency` before answering.
    pub async fn with_latency(latency: Duration) -> Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let shared = stats.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve_connection(socket, latency, shared.clone()));
            }
        });
        Ok(Self {
            base_url: format!("http://{addr}/v1"),
            stats,
            task,
        })
    }

    /// Chat requests answered or in progress.
    pub fn chat_requests(&self) -> usize {
        self.stats.chat_requests.load(Ordering::SeqCst)
    }

    /// The most chat requests that were in progress at once.
    pub fn max_in_flight(&self) -> usize {
        self.stats.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve_connection(
    mut socket: TcpStream,
    latency: Duration,
    stats: Arc<Stats>,
) -> std::io::Result<()> {
    let chat = response("200 OK", "text/event-stream", SSE_BODY);
    let models = response("200 OK", "application/json", MODELS_BODY);
    let missing = response(
        "404 Not Found",
        "application/json",
        r#"{"error":"not found"}"#,
    );
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if socket.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let body_len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < head_end + body_len {
            if socket.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        }
        let reply = if head.starts_with("post /v1/chat/completions") {
            stats.chat_requests.fetch_add(1, Ordering::SeqCst);
            let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            stats.in_flight.fetch_sub(1, Ordering::SeqCst);
            &chat
        } else if head.starts_with("get /v1/models") {
            &models
        } else {
            &missing
        };
        socket.write_all(reply).await?;
        buf.drain(..head_end + body_len);
    }
}

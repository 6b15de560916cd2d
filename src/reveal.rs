//! Revealed `:probe` answers, kept out of every file: a page the kernel serves on 127.0.0.1.
//!
//! `--reveal` is the student's explicit choice to read what a model answered to a harmful
//! request. A notebook output would be saved with the notebook and exported with it, so the
//! answers go here instead: held in this process's memory, served on the loopback interface at
//! an unguessable address (a fresh 256-bit token per reveal), with `no-store` caching, and gone
//! when the kernel stops. The notebook keeps only the link; once the kernel is gone the link
//! leads nowhere. Nothing here writes to disk.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::display::markdown::escape_html;

/// One answer on a reveal page.
#[derive(Debug, Clone)]
pub struct RevealedAnswer {
    /// "model · strategy · sample 2 · refused" — what the answer was.
    pub heading: String,
    pub text: String,
}

/// One reveal: the answers of one `:probe` cell.
#[derive(Debug, Clone)]
pub struct RevealPage {
    pub title: String,
    pub answers: Vec<RevealedAnswer>,
}

type Pages = Arc<Mutex<HashMap<String, RevealPage>>>;

/// The loopback server; one per kernel, started on the first `--reveal`.
pub struct RevealServer {
    addr: SocketAddr,
    pages: Pages,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl RevealServer {
    /// Bind a free port on 127.0.0.1 and serve until this value is dropped.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let pages: Pages = Arc::default();
        let app = Router::new()
            .route("/reveal/{token}", get(show))
            .route("/reveal/{token}/forget", post(forget))
            .with_state(pages.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            pages,
            _shutdown: tx,
        })
    }

    /// Hold a page and return its address.
    pub fn publish(&self, page: RevealPage) -> String {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.pages
            .lock()
            .expect("reveal pages lock")
            .insert(token.clone(), page);
        format!("http://{}/reveal/{token}", self.addr)
    }

    /// Pages held now (for tests and the kernel's shutdown message).
    pub fn page_count(&self) -> usize {
        self.pages.lock().expect("reveal pages lock").len()
    }
}

/// Headers that keep the page out of caches, history previews and referrers.
fn private(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

async fn show(State(pages): State<Pages>, Path(token): Path<String>) -> Response {
    let page = pages
        .lock()
        .expect("reveal pages lock")
        .get(&token)
        .cloned();
    let Some(page) = page else {
        return private(
            (
                StatusCode::NOT_FOUND,
                Html("<!doctype html><meta charset=utf-8><title>Not here</title><p>These answers are not held any more: they live only as long as the kernel that revealed them, or were forgotten.</p>".to_string()),
            )
                .into_response(),
        );
    };
    private(Html(render(&page, &token)).into_response())
}

async fn forget(State(pages): State<Pages>, Path(token): Path<String>) -> Response {
    pages.lock().expect("reveal pages lock").remove(&token);
    private(Html("<!doctype html><meta charset=utf-8><title>Forgotten</title><p>Forgotten: the kernel no longer holds these answers.</p>".to_string()).into_response())
}

fn render(page: &RevealPage, token: &str) -> String {
    let mut html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         .warn{{background:#fff3cd;border:1px solid #e0c060;padding:1rem}}\
         pre{{white-space:pre-wrap;background:#f6f6f6;padding:.75rem}}</style></head><body>\
         <h1>{}</h1><p class=warn><strong>Revealed answers.</strong> They may contain harmful \
         content: read them for your analysis, do not share or reuse them. They are held only in \
         the kernel's memory — not in the notebook, its exports, the run record or any file — and \
         disappear when the kernel stops.</p>\
         <form method=post action=\"/reveal/{token}/forget\"><button>Forget these answers now</button></form>",
        escape_html(&page.title),
        escape_html(&page.title),
    );
    for a in &page.answers {
        html.push_str(&format!(
            "<details><summary>{}</summary><pre>{}</pre></details>",
            escape_html(&a.heading),
            escape_html(&a.text)
        ));
    }
    html.push_str("</body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_are_served_from_memory_and_can_be_forgotten() {
        let server = RevealServer::start().await.unwrap();
        let url = server.publish(RevealPage {
            title: "probe <b>".into(),
            answers: vec![RevealedAnswer {
                heading: "m · direct · 1 · refused".into(),
                text: "STAND-IN <script>".into(),
            }],
        });
        assert!(url.starts_with("http://127.0.0.1:"));
        let client = reqwest::Client::new();
        let page = client.get(&url).send().await.unwrap();
        assert_eq!(page.headers()["cache-control"], "no-store");
        let body = page.text().await.unwrap();
        assert!(body.contains("STAND-IN &lt;script&gt;"));
        assert!(!body.contains("<script>"));
        // A guessed token finds nothing.
        let wrong = client.get(format!("{}x", url)).send().await.unwrap();
        assert_eq!(wrong.status(), 404);
        client.post(format!("{url}/forget")).send().await.unwrap();
        assert_eq!(server.page_count(), 0);
        assert_eq!(client.get(&url).send().await.unwrap().status(), 404);
    }
}

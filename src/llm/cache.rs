//! A response cache for reproducible notebooks: the same request (backend, model, messages,
//! sampling parameters, seed) is answered from disk the second time.
//!
//! Used by `:debate` only. `:probe` never caches: answers to harmful requests must not be written
//! to disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::{
    BackendInfo, ChatBackend, ChatRequest, ChatResponse, LlmError, ModelInfo, TokenSink, Usage,
};

#[derive(Serialize, Deserialize)]
struct Entry {
    text: String,
    model: String,
    completion_tokens: Option<u64>,
    prompt_tokens: Option<u64>,
    /// Why the original answer ended (`stop`, `length`): a cut-off answer stays one when replayed.
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
}

pub struct CachingBackend {
    inner: Arc<dyn ChatBackend>,
    dir: PathBuf,
    hits: AtomicUsize,
    misses: AtomicUsize,
}

impl CachingBackend {
    pub fn new(inner: Arc<dyn ChatBackend>, dir: PathBuf) -> Self {
        Self {
            inner,
            dir,
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> usize {
        self.misses.load(Ordering::Relaxed)
    }

    /// Only seeded requests are cached: without a seed, a fresh sample is what was asked for.
    fn key(&self, request: &ChatRequest) -> Option<String> {
        request.seed?;
        let info = self.inner.info();
        let material = serde_json::json!({"backend": info.kind, "endpoint": info.endpoint, "request": request});
        let digest = Sha256::digest(material.to_string().as_bytes());
        Some(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

#[async_trait]
impl ChatBackend for CachingBackend {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    fn max_parallel(&self) -> usize {
        self.inner.max_parallel()
    }

    fn models_run_concurrently(&self) -> bool {
        self.inner.models_run_concurrently()
    }

    async fn models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        self.inner.models().await
    }

    async fn default_model(&self) -> Result<String, LlmError> {
        self.inner.default_model().await
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        on_token: TokenSink<'_>,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, LlmError> {
        let key = self.key(request);
        if let Some(key) = &key {
            let path = self.dir.join(format!("{key}.json"));
            if let Ok(text) = tokio::fs::read_to_string(&path).await {
                if let Ok(entry) = serde_json::from_str::<Entry>(&text) {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    on_token(&entry.text);
                    return Ok(ChatResponse {
                        text: entry.text,
                        model: entry.model,
                        finish_reason: entry.finish_reason,
                        reasoning: entry.reasoning,
                        usage: Usage {
                            prompt_tokens: entry.prompt_tokens,
                            completion_tokens: entry.completion_tokens,
                            // Nothing was evaluated: the whole answer came from the cache.
                            cached_prompt_tokens: entry.prompt_tokens,
                        },
                        ..Default::default()
                    });
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let response = self.inner.chat(request, on_token, cancel).await?;
        if let Some(key) = key {
            let entry = Entry {
                text: response.text.clone(),
                model: response.model.clone(),
                completion_tokens: response.usage.completion_tokens,
                prompt_tokens: response.usage.prompt_tokens,
                finish_reason: response.finish_reason.clone(),
                reasoning: response.reasoning.clone(),
            };
            // A cache that cannot be written only costs speed next time.
            if tokio::fs::create_dir_all(&self.dir).await.is_ok() {
                if let Ok(json) = serde_json::to_string(&entry) {
                    let _ = tokio::fs::write(self.dir.join(format!("{key}.json")), json).await;
                }
            }
        }
        Ok(response)
    }
}

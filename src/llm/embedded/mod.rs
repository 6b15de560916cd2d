//! llama.cpp inside the kernel process (via `llama-cpp-2`), so every magic works with no server.
//!
//! One worker thread (`worker.rs`) owns the model and its context. Requests become sequences of
//! one shared batch (continuous batching), and each sequence keeps its KV cache after the
//! request ends so the next prompt that starts the same way continues from it
//! (`sequences.rs`). Prompts are rendered with the GGUF's own template (`prompt.rs`).

mod gguf;
mod prompt;
mod saved;
mod sequences;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use async_trait::async_trait;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use gguf::model_id_for;
use worker::{Event, Job};

use super::{
    BackendInfo, ChatBackend, ChatRequest, ChatResponse, LlmError, ModelInfo, Timing, TokenSink,
    Usage,
};

/// One half of the KV cache's number format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvType {
    /// llama.cpp's default.
    F16,
    /// 8-bit: half the memory (an 8-bit V cache needs flash attention).
    Q8_0,
}

/// The KV cache's number formats, keys and values apart. Measured on 2 cores with SmolLM2
/// (`alignment-lab bench`, docs/benchmarks.md): 8-bit keys make four sequences decode 1.45-1.5x
/// one (f16 keys: 1.2x) and 8-bit values slow prompt processing most; so the default is 8-bit
/// keys with f16 values, which also keeps resident memory under 300 MB (all f16: 313 MB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvPrecision {
    pub keys: KvType,
    pub values: KvType,
}

impl KvPrecision {
    pub const F16: Self = Self {
        keys: KvType::F16,
        values: KvType::F16,
    };
    pub const Q8_0: Self = Self {
        keys: KvType::Q8_0,
        values: KvType::Q8_0,
    };
    pub const Q8_0_KEYS: Self = Self {
        keys: KvType::Q8_0,
        values: KvType::F16,
    };
}

impl std::fmt::Display for KvPrecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |t: KvType| match t {
            KvType::F16 => "f16",
            KvType::Q8_0 => "q8_0",
        };
        if self.keys == self.values {
            write!(f, "{}", name(self.keys))
        } else {
            write!(f, "{}/{}", name(self.keys), name(self.values))
        }
    }
}

impl std::str::FromStr for KvPrecision {
    type Err = String;
    /// `f16`, `q8_0`, or `KEYS/VALUES` such as `q8_0/f16`.
    fn from_str(s: &str) -> Result<Self, String> {
        let one = |t: &str| match t.trim().to_ascii_lowercase().as_str() {
            "f16" => Ok(KvType::F16),
            "q8_0" | "q8" => Ok(KvType::Q8_0),
            other => Err(format!(
                "{other:?} is not a KV cache type (f16, q8_0, or keys/values such as q8_0/f16)"
            )),
        };
        match s.split_once('/') {
            Some((k, v)) => Ok(Self {
                keys: one(k)?,
                values: one(v)?,
            }),
            None => one(s).map(|t| Self { keys: t, values: t }),
        }
    }
}

/// Engine settings; the defaults suit a 2-core laptop and a small model.
#[derive(Debug, Clone)]
pub struct EmbeddedSettings {
    /// Sequences decoded together in one batch.
    pub parallel: usize,
    /// Context window per sequence, in tokens.
    pub context_per_sequence: u32,
    pub threads: i32,
    /// Answer length when a request sets none.
    pub default_max_tokens: u32,
    /// Most tokens evaluated in one step (generation tokens plus prompt chunks). A step is the
    /// unit of cancellation and of sharing between requests: a long prompt is evaluated in
    /// chunks so that other sequences keep generating and a cancel waits at most one chunk.
    pub step_tokens: usize,
    pub kv_cache: KvPrecision,
    /// Continue each prompt from what a sequence's KV cache already holds.
    pub prompt_cache: bool,
    /// Host memory for the KV caches of sequences that other requests took over, so their
    /// conversations can continue from them later (with `prompt_cache`).
    pub saved_sequences_bytes: usize,
    /// A chat template to use instead of the GGUF's: a llama.cpp built-in name (`gemma`,
    /// `llama3`, `chatml`, …), for a GGUF that has none or a wrong one (llama-server's
    /// `--chat-template`).
    pub chat_template: Option<String>,
    /// For fault tests only: a request whose rendered prompt contains this text gets a token id
    /// outside the vocabulary, so llama.cpp itself rejects the batch holding it.
    #[doc(hidden)]
    pub fault_marker: Option<String>,
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(8) as i32;
        Self {
            parallel: 4,
            context_per_sequence: 2048,
            threads,
            default_max_tokens: 512,
            step_tokens: 512,
            kv_cache: KvPrecision::Q8_0_KEYS,
            prompt_cache: true,
            saved_sequences_bytes: 256 << 20,
            chat_template: None,
            fault_marker: None,
        }
    }
}

impl EmbeddedSettings {
    /// The defaults, with what the kernel's configuration sets (`ALIGNMENT_LAB_PARALLEL`,
    /// `ALIGNMENT_LAB_KV_CACHE`, `ALIGNMENT_LAB_PROMPT_CACHE`).
    pub fn from_config(config: &super::LabConfig) -> Self {
        let defaults = Self::default();
        Self {
            parallel: config.parallel,
            kv_cache: config.kv_cache.unwrap_or(defaults.kv_cache),
            prompt_cache: config.prompt_cache,
            ..defaults
        }
    }

    /// Tokens one step's batch holds: the step budget, and never fewer than one per sequence.
    fn batch_capacity(&self) -> usize {
        self.step_tokens.max(self.parallel).max(1)
    }
}

/// What the engine has done since it was loaded (evidence for benchmarks and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// The most sequences ever decoded together in one batch.
    pub peak_batch_sequences: usize,
    /// Prompt tokens of every request admitted.
    pub prompt_tokens_sent: u64,
    /// Prompt tokens llama.cpp actually evaluated (the rest came from the prompt cache).
    pub prompt_tokens_evaluated: u64,
    /// Sequences brought back from host memory, and host memory they hold now.
    pub sequences_restored: u64,
    pub saved_bytes: u64,
    /// Prompts that copied their start from a request still at work in another sequence.
    pub sequences_shared: u64,
}

#[derive(Default)]
struct Counters {
    peak_batch: AtomicUsize,
    prompt_tokens_sent: AtomicU64,
    prompt_tokens_evaluated: AtomicU64,
    sequences_restored: AtomicU64,
    saved_bytes: AtomicU64,
    sequences_shared: AtomicU64,
}

/// llama.cpp may be initialised once per process; everything that needs it shares this.
pub fn shared_llama_backend() -> Result<&'static LlamaBackend, LlmError> {
    llama_backend()
}

fn llama_backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            LlamaBackend::init()
                .map(|mut b| {
                    // llama.cpp logs every tensor to stderr; in a kernel that floods the log.
                    b.void_logs();
                    b
                })
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Embedded(format!("llama.cpp failed to initialise: {e}")))
}

pub struct EmbeddedBackend {
    path: PathBuf,
    model_id: String,
    meta: ModelInfo,
    settings: EmbeddedSettings,
    jobs: Option<std_mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl EmbeddedBackend {
    /// Load a GGUF. Blocking (run it off the async loop); fails with a clear message for a
    /// missing, truncated or foreign file.
    pub fn load(path: &Path, settings: EmbeddedSettings) -> Result<Self, LlmError> {
        gguf::check_gguf_file(path)?;
        let backend = llama_backend()?;
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<ModelInfo, LlmError>>();
        let (jobs_tx, jobs_rx) = std_mpsc::channel::<Job>();
        let worker_path = path.to_path_buf();
        let worker_settings = settings.clone();
        let counters = Arc::new(Counters::default());
        let worker_counters = counters.clone();
        let worker = std::thread::Builder::new()
            .name("embedded-llm".into())
            .spawn(move || {
                worker::worker_main(
                    backend,
                    &worker_path,
                    worker_settings,
                    ready_tx,
                    jobs_rx,
                    worker_counters,
                )
            })
            .map_err(|e| LlmError::Embedded(format!("cannot start the model thread: {e}")))?;
        let meta = ready_rx
            .recv()
            .map_err(|_| LlmError::Embedded("the model thread stopped while loading".into()))??;
        Ok(Self {
            path: path.to_path_buf(),
            model_id: meta.id.clone(),
            meta,
            settings,
            jobs: Some(jobs_tx),
            worker: Some(worker),
            counters,
        })
    }

    /// The prompt text this backend would feed llama.cpp for a conversation (for benchmarks
    /// that drive llama.cpp directly with the same input).
    pub fn render_for_bench(&self, messages: &[super::Message]) -> Result<String, LlmError> {
        Ok(self.prompt_for(messages)?.0)
    }

    /// The prompt text and token ids this backend evaluates for a conversation: the GGUF's
    /// template, then BOS where the tokenizer asks for it.
    pub fn prompt_for(&self, messages: &[super::Message]) -> Result<(String, Vec<i32>), LlmError> {
        let backend = llama_backend()?;
        let model = LlamaModel::load_from_file(
            backend,
            &self.path,
            &LlamaModelParams::default().with_vocab_only(true),
        )
        .map_err(|e| LlmError::Embedded(format!("cannot read {} ({e})", self.path.display())))?;
        let template = prompt::template_for(&model, self.settings.chat_template.as_deref())?;
        let text = prompt::render_prompt(&model, &self.model_id, template.as_ref(), messages)?;
        let tokens = prompt::tokenize_prompt(&model, &text);
        Ok((text, tokens.into_iter().map(|t| t.0).collect()))
    }

    /// The most sequences ever decoded together in one batch (evidence of batching).
    pub fn peak_batch_sequences(&self) -> usize {
        self.stats().peak_batch_sequences
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            peak_batch_sequences: self.counters.peak_batch.load(Ordering::Relaxed),
            prompt_tokens_sent: self.counters.prompt_tokens_sent.load(Ordering::Relaxed),
            prompt_tokens_evaluated: self
                .counters
                .prompt_tokens_evaluated
                .load(Ordering::Relaxed),
            sequences_restored: self.counters.sequences_restored.load(Ordering::Relaxed),
            sequences_shared: self.counters.sequences_shared.load(Ordering::Relaxed),
            saved_bytes: self.counters.saved_bytes.load(Ordering::Relaxed),
        }
    }

    pub fn model_info(&self) -> &ModelInfo {
        &self.meta
    }

    pub fn settings(&self) -> &EmbeddedSettings {
        &self.settings
    }
}

impl Drop for EmbeddedBackend {
    fn drop(&mut self) {
        // Closing the job channel ends the worker, which frees the model and its KV cache.
        self.jobs.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[async_trait]
impl ChatBackend for EmbeddedBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "embedded".into(),
            endpoint: self.path.display().to_string(),
            server: "llama.cpp (in-process)".into(),
        }
    }

    fn max_parallel(&self) -> usize {
        self.settings.parallel
    }

    async fn models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        Ok(vec![self.meta.clone()])
    }

    async fn default_model(&self) -> Result<String, LlmError> {
        Ok(self.model_id.clone())
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        on_token: TokenSink<'_>,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, LlmError> {
        if let Some(m) = &request.model {
            if m != &self.model_id && Path::new(m) != self.path {
                return Err(LlmError::ModelNotFound {
                    url: "embedded".into(),
                    model: m.clone(),
                    message: format!(
                        "the embedded backend has `{}` loaded; switch with `:backend embedded --model PATH`",
                        self.model_id
                    ),
                });
            }
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let job_cancel = cancel.child_token();
        let job = Job {
            messages: request.messages.clone(),
            temperature: request.temperature.unwrap_or(0.7) as f32,
            top_p: request.top_p.unwrap_or(0.95) as f32,
            // llama.cpp seeds are 32-bit; fold the high half in so distinct u64 seeds stay distinct.
            seed: request
                .seed
                .map(|s| (s ^ (s >> 32)) as u32)
                .unwrap_or_else(rand::random),
            max_tokens: request
                .max_tokens
                .unwrap_or(self.settings.default_max_tokens),
            events: tx,
            cancel: job_cancel.clone(),
            submitted: Instant::now(),
        };
        let submitted = job.submitted;
        self.jobs
            .as_ref()
            .and_then(|j| j.send(job).ok())
            .ok_or_else(|| LlmError::Embedded("the model thread has stopped".into()))?;
        // If this future is dropped (interrupt), the worker must stop generating too.
        let _stop_on_drop = job_cancel.clone().drop_guard();
        let mut text = String::new();
        loop {
            let event = tokio::select! {
                e = rx.recv() => e,
                _ = cancel.cancelled() => return Err(LlmError::Cancelled { partial: text }),
            };
            match event {
                Some(Event::Text(piece)) => {
                    on_token(&piece);
                    text.push_str(&piece);
                }
                Some(Event::Done(Ok(f))) => {
                    let total = submitted.elapsed();
                    // Generation speed from the first token on: neither the queue nor the
                    // prompt counts.
                    let until_first = f.queued + f.first_token.unwrap_or_default();
                    let tokens_per_second = match f.first_token {
                        Some(_) if f.completion_tokens > 1 && total > until_first => Some(
                            (f.completion_tokens - 1) as f64 / (total - until_first).as_secs_f64(),
                        ),
                        _ => None,
                    };
                    return Ok(ChatResponse {
                        text,
                        reasoning: None,
                        model: self.model_id.clone(),
                        finish_reason: Some(f.finish_reason.to_string()),
                        usage: Usage {
                            prompt_tokens: Some(f.prompt_tokens),
                            completion_tokens: Some(f.completion_tokens),
                            cached_prompt_tokens: Some(f.cached_prompt_tokens),
                        },
                        timing: Timing {
                            queued_ms: Some(f.queued.as_secs_f64() * 1000.0),
                            first_token_ms: f.first_token.map(|d| d.as_secs_f64() * 1000.0),
                            total_ms: total.as_secs_f64() * 1000.0,
                            tokens_per_second,
                        },
                        server_report: None,
                    });
                }
                Some(Event::Done(Err(LlmError::Cancelled { .. }))) => {
                    return Err(LlmError::Cancelled { partial: text })
                }
                Some(Event::Done(Err(e))) => return Err(e),
                None => {
                    return Err(LlmError::Embedded(
                        "the model thread stopped mid-answer".into(),
                    ))
                }
            }
        }
    }
}

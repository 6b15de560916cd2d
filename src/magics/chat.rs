use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

use super::backend::backend_error;
use super::{parse_flags, MagicCall, MagicContext};
use crate::display::{Bundle, CellError, Progress};
use crate::llm::{BackendInfo, ChatRequest, ChatResponse, LlmError, Message, ModelInfo};

/// Send the cell body to the model and stream the answer.
#[derive(Parser, Debug)]
#[command(
    name = ":chat",
    about = "Send the cell body as a prompt; the answer streams in as markdown",
    after_help = "Example:\n  :chat --temperature 0.2 --seed 7\n  Explain reward hacking in two sentences."
)]
pub struct ChatArgs {
    /// Model id (default: the backend's default model).
    #[arg(long)]
    pub model: Option<String>,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.7, value_parser = parse_temperature)]
    pub temperature: f64,
    /// Seed for reproducible sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Longest answer, in tokens.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=32768))]
    pub max_tokens: u32,
    /// Nucleus sampling threshold.
    #[arg(long, value_parser = parse_top_p)]
    pub top_p: Option<f64>,
    /// A system message sent before the prompt.
    #[arg(long)]
    pub system: Option<String>,
}

fn parse_temperature(s: &str) -> Result<f64, String> {
    let t: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=5.0).contains(&t) {
        Ok(t)
    } else {
        Err(format!("{t} is outside 0–5"))
    }
}

fn parse_top_p(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if p > 0.0 && p <= 1.0 {
        Ok(p)
    } else {
        Err(format!("{p} is outside (0, 1]"))
    }
}

/// After this long without a first token, say the server is probably loading the model.
const LOADING_HINT_AFTER: Duration = Duration::from_secs(2);

pub async fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    let Some(args) = parse_flags::<ChatArgs>(call.name, call.flags, ctx.sink.as_ref())? else {
        return Ok(());
    };
    let prompt = call.body.trim();
    if prompt.is_empty() {
        return Err(CellError::new(
            "UsageError",
            ":chat needs a prompt: write it on the lines below `:chat`",
        ));
    }
    let backend = ctx.session.backend().await.map_err(backend_error)?;
    let info = backend.info();
    let model = match &args.model {
        Some(m) => m.clone(),
        None => backend.default_model().await.map_err(backend_error)?,
    };
    // What the server says about the model (LM Studio: quantization, context length, loaded),
    // recorded so results can be compared across machines. Best effort: a server that cannot
    // list its models still answers.
    let model_info = backend
        .models()
        .await
        .ok()
        .and_then(|ms| ms.into_iter().find(|m| m.id == model));
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(Message::system(system.clone()));
    }
    messages.push(Message::user(prompt));
    let request = ChatRequest {
        model: Some(model.clone()),
        messages,
        temperature: Some(args.temperature),
        top_p: args.top_p,
        seed: args.seed,
        max_tokens: Some(args.max_tokens),
    };

    let progress = Arc::new(Progress::start(
        ctx.sink.clone(),
        Bundle::markdown(format!("*⏳ asking `{model}` ({}) …*", info.server)),
    ));
    let text = Arc::new(Mutex::new(String::new()));
    let on_token = {
        let text = text.clone();
        let progress = progress.clone();
        let footer = format!("\n\n*… `{model}` is answering*");
        move |piece: &str| {
            text.lock().expect("answer lock").push_str(piece);
            // The copy happens only when the throttled display is due: a long answer in small
            // chunks would otherwise be copied once per chunk.
            progress.update(|| {
                let snapshot = text.lock().expect("answer lock");
                Bundle::markdown(format!("{snapshot}▌{footer}"))
            });
        }
    };
    let started = Instant::now();
    let chat = backend.chat(&request, &on_token, &ctx.cancel);
    tokio::pin!(chat);
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    let mut hinted = false;
    let result = loop {
        tokio::select! {
            r = &mut chat => break r,
            _ = ticker.tick() => {
                if !hinted && started.elapsed() > LOADING_HINT_AFTER && text.lock().expect("answer lock").is_empty() {
                    hinted = true;
                    progress.update(|| Bundle::markdown(format!(
                        "*⏳ loading model `{model}` … a first call to a model that is not in memory can take a while*"
                    )));
                }
            }
        }
    };
    // An answer cut short keeps what had arrived, marked with why.
    let finish_partial = |partial: String, finish_reason: &str, why: &str| {
        let response = ChatResponse {
            text: partial,
            model: model.clone(),
            finish_reason: Some(finish_reason.into()),
            ..Default::default()
        };
        progress.finish(final_bundle(
            &response,
            &request,
            &info,
            &model_info,
            Some(why),
        ));
    };
    match result {
        Ok(response) => {
            progress.finish(final_bundle(&response, &request, &info, &model_info, None));
            Ok(())
        }
        Err(LlmError::Cancelled { partial }) => {
            finish_partial(partial, "interrupted", "interrupted");
            Err(CellError::interrupted(
                ":chat was interrupted; the partial answer above is kept",
            ))
        }
        Err(e) => {
            let partial = std::mem::take(&mut *text.lock().expect("answer lock"));
            if partial.trim().is_empty() {
                progress.finish(Bundle::markdown(format!(
                    "*no answer from `{model}` — see the error below*"
                )));
            } else {
                finish_partial(partial, "error", "broke off — see the error below");
            }
            Err(backend_error(e))
        }
    }
}

fn final_bundle(
    response: &ChatResponse,
    request: &ChatRequest,
    info: &BackendInfo,
    model_info: &Option<ModelInfo>,
    // Why the answer is incomplete, if it is.
    cut_short: Option<&str>,
) -> Bundle {
    let mut footer = vec![format!("`{}`", response.model), info.server.clone()];
    if let Some(n) = response.usage.completion_tokens {
        footer.push(format!("{n} tokens"));
    }
    if let Some(tps) = response.timing.tokens_per_second {
        footer.push(format!("{tps:.1} tokens/s"));
    }
    if let Some(why) = cut_short {
        footer.push(format!("**{why}**"));
    }
    let body = if response.text.trim().is_empty() {
        "*(the model returned an empty answer)*".to_string()
    } else {
        response.text.clone()
    };
    let md = format!("{body}\n\n<sub>{}</sub>", footer.join(" · "));
    let plain = format!(
        "{body}\n\n[{}]",
        footer.join(" · ").replace('`', "").replace("**", "")
    );
    Bundle::plain(plain)
        .with("text/markdown", md)
        .with_record(json!({
            "kind": "chat",
            "backend": info,
            "model": response.model,
            "parameters": {
                "temperature": request.temperature,
                "top_p": request.top_p,
                "seed": request.seed,
                "max_tokens": request.max_tokens,
            },
            "prompt": request.messages,
            "answer": response.text,
            "finish_reason": response.finish_reason,
            "usage": response.usage,
            "timing": response.timing,
            "server_report": response.server_report,
            "model_info": model_info,
            "interrupted": cut_short == Some("interrupted"),
        }))
}

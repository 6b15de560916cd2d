//! `:endpoint` — where the kernel serves its session for Rust cells and for any OpenAI client.

use clap::Parser;
use serde_json::json;

use super::{parse_flags, MagicCall, MagicContext};
use crate::display::{markdown::fenced, Bundle, CellError};

/// Show the kernel's OpenAI-compatible endpoint.
#[derive(Parser, Debug)]
#[command(
    name = ":endpoint",
    about = "Show the OpenAI-compatible endpoint this kernel serves on 127.0.0.1: the session's backend, request slots, response cache and run records, for Rust cells (chat, Chat, chat_all) and for any OpenAI client on this machine"
)]
pub struct EndpointArgs {}

pub fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    if parse_flags::<EndpointArgs>(call.name, call.flags, ctx.sink.as_ref())?.is_none() {
        return Ok(());
    }
    let Some((url, token)) = ctx.session.endpoint() else {
        return Err(CellError::new(
            "EndpointError",
            "this kernel could not bind a loopback port, so it serves no endpoint (model calls from Rust cells are unavailable)",
        ));
    };
    let python = format!(
        "from openai import OpenAI\nclient = OpenAI(base_url=\"{url}\", api_key=\"{token}\")\nprint(client.chat.completions.create(model=\"\", messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}]).choices[0].message.content)"
    );
    let md = format!(
        "**This kernel's endpoint** (OpenAI-compatible; on this machine only, while this kernel runs)\n\n| | |\n| --- | --- |\n| base URL | `{url}` |\n| token (bearer / `api_key`) | `{token}` |\n| in Rust cells | `ALIGNMENT_LAB_ENDPOINT`, `ALIGNMENT_LAB_ENDPOINT_TOKEN` — or just call `chat(\"…\")` |\n\nCalls through it use the session's backend and model (`model` may be left empty), its request slots, the response cache for seeded requests, and they are written to the run record of the cell that makes them. From Python on this machine:\n\n{}",
        fenced(&python, "python")
    );
    let plain = format!("endpoint: {url}\ntoken:    {token}\n");
    ctx.sink.display(
        Bundle::plain(plain)
            .with("text/markdown", md)
            .with_record(json!({"kind": "endpoint", "url": url})),
        None,
    );
    Ok(())
}

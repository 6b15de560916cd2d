use clap::Parser;
use serde_json::json;

use super::{parse_flags, MagicCall, MagicContext};
use crate::display::{markdown::escape_table_cell, Bundle, CellError};
use crate::llm::{BackendChoice, LlmError};

/// Show or switch the model backend.
#[derive(Parser, Debug)]
#[command(
    name = ":backend",
    about = "Show or switch the model backend",
    after_help = "Examples:\n  :backend                                   show what is in use\n  :backend auto                              a local server if one answers, else the embedded model\n  :backend http://localhost:1234/v1          LM Studio (Ollama: :11434, llama.cpp: :8080)\n  :backend embedded --model ~/.lmstudio/models/…/model.gguf"
)]
pub struct BackendArgs {
    /// `auto`, `embedded`, `openai` (auto-discovered server) or a server's base URL including /v1.
    pub target: Option<String>,
    /// Default model id (servers) or GGUF path (embedded).
    #[arg(long)]
    pub model: Option<String>,
}

pub async fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    let Some(args) = parse_flags::<BackendArgs>(call.name, call.flags, ctx.sink.as_ref())? else {
        return Ok(());
    };
    let session = ctx.session;
    let mut changed = false;
    if let Some(target) = &args.target {
        let target = target.trim();
        match target {
            "auto" => {
                session.config.backend = BackendChoice::Auto;
                session.config.base_url = None;
            }
            "openai" => {
                session.config.backend = BackendChoice::OpenAi;
                session.config.base_url = None;
            }
            "embedded" => session.config.backend = BackendChoice::Embedded,
            url if url.starts_with("http://") || url.starts_with("https://") => {
                session.config.backend = BackendChoice::OpenAi;
                session.config.base_url = Some(url.trim_end_matches('/').to_string());
            }
            other => {
                return Err(CellError::new(
                    "UsageError",
                    format!(
                        ":backend: `{other}` is not auto, embedded, openai or an http(s):// URL"
                    ),
                ))
            }
        }
        changed = true;
    }
    if let Some(model) = &args.model {
        if session.config.backend == BackendChoice::Embedded {
            session.config.gguf = Some(expand_home(model).into());
        } else {
            session.config.model = Some(model.clone());
        }
        changed = true;
    }
    if changed {
        session.reset().await;
    }
    let backend = session.backend().await.map_err(backend_error)?;
    let info = backend.info();
    let model = backend.default_model().await.map_err(backend_error)?;
    let reason = session.reason().unwrap_or_default().to_string();
    let rows = [
        ("backend", info.kind.clone()),
        ("server", info.server.clone()),
        ("endpoint", info.endpoint.clone()),
        ("default model", model.clone()),
        ("parallel requests", backend.max_parallel().to_string()),
        ("why", reason.clone()),
    ];
    let mut md = String::from(if changed {
        "**Backend switched.**\n\n"
    } else {
        ""
    });
    md.push_str("| setting | value |\n| --- | --- |\n");
    let mut plain = String::new();
    for (k, v) in &rows {
        md.push_str(&format!("| {k} | {} |\n", escape_table_cell(v)));
        plain.push_str(&format!("{k:<18} {v}\n"));
    }
    ctx.sink.display(
        Bundle::plain(plain)
            .with("text/markdown", md)
            .with_record(json!({
                "kind": "backend",
                "backend": info,
                "model": model,
                "parallel": backend.max_parallel(),
                "reason": reason,
            })),
        None,
    );
    Ok(())
}

/// `~/x` → `$HOME/x`, so students can paste LM Studio paths as they see them.
pub fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest).display().to_string(),
        _ => path.to_string(),
    }
}

/// A backend failure as a cell error whose class says which kind it is.
pub fn backend_error(e: LlmError) -> CellError {
    let ename = match &e {
        LlmError::Unreachable { .. } | LlmError::NoBackend { .. } => "BackendUnavailable",
        LlmError::ModelNotFound { .. } => "ModelNotFound",
        LlmError::ContextExceeded { .. } => "ContextExceeded",
        LlmError::Timeout { .. } => "BackendTimeout",
        LlmError::Cancelled { .. } => "Interrupted",
        _ => "BackendError",
    };
    CellError::new(ename, e.to_string())
}

use std::path::{Path, PathBuf};

use clap::Parser;
use polars::prelude::{Column, DataFrame};
use serde_json::json;

use super::backend::backend_error;
use super::{parse_flags, MagicCall, MagicContext};
use crate::display::{table::table_bundle, Bundle, CellError};

/// List the models the current backend offers.
#[derive(Parser, Debug)]
#[command(
    name = ":models",
    about = "Table of the models the backend offers (LM Studio: loaded or not, quantization, context length), plus GGUF files LM Studio keeps on disk, which `:backend embedded --model PATH` can load without the server"
)]
pub struct ModelsArgs {}

pub async fn run(call: &MagicCall<'_>, ctx: MagicContext<'_>) -> Result<(), CellError> {
    if parse_flags::<ModelsArgs>(call.name, call.flags, ctx.sink.as_ref())?.is_none() {
        return Ok(());
    }
    let backend = ctx.session.backend().await.map_err(backend_error)?;
    let info = backend.info();
    let models = backend.models().await.map_err(backend_error)?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    let df = DataFrame::new_infer_height(vec![
        Column::new(
            "model".into(),
            models.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "loaded".into(),
            models
                .iter()
                .map(|m| {
                    m.loaded
                        .map(|l| if l { "yes" } else { "no" }.to_string())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "quantization".into(),
            models
                .iter()
                .map(|m| opt(m.quantization.clone()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "context".into(),
            models
                .iter()
                .map(|m| m.context_length.map(|c| c.to_string()).unwrap_or_default())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "type".into(),
            models
                .iter()
                .map(|m| opt(m.kind.clone()))
                .collect::<Vec<_>>(),
        ),
    ])
    .map_err(|e| CellError::new("InternalError", format!("building the models table: {e}")))?;
    let caption = format!(
        "{} models at {} ({})",
        models.len(),
        info.endpoint,
        info.server
    );
    ctx.sink.display(
        table_bundle(&df, Some(&caption)).with_record(json!({
            "kind": "models",
            "backend": info,
            "models": models,
        })),
        None,
    );

    let local = local_ggufs();
    if !local.is_empty() {
        let mut md = String::from("**GGUF files on this machine** — load one without a server: `:backend embedded --model PATH`\n\n");
        let mut plain =
            String::from("GGUF files on this machine (:backend embedded --model PATH):\n");
        for p in &local {
            md.push_str(&format!("- `{}`\n", p.display()));
            plain.push_str(&format!("  {}\n", p.display()));
        }
        ctx.sink
            .display(Bundle::plain(plain).with("text/markdown", md), None);
    }
    Ok(())
}

/// GGUFs under LM Studio's model folders (`~/.lmstudio/models`, older `~/.cache/lm-studio/models`).
fn local_ggufs() -> Vec<PathBuf> {
    let Some(home) = dirs::home_dir() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for root in [
        home.join(".lmstudio/models"),
        home.join(".cache/lm-studio/models"),
    ] {
        collect_ggufs(&root, 4, &mut found);
    }
    found.sort();
    found
}

fn collect_ggufs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth > 0 {
            collect_ggufs(&path, depth - 1, out);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("mmproj"))
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_ggufs_but_not_projectors() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("pub/model");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("m.Q4_K_M.gguf"), b"GGUF").unwrap();
        std::fs::write(deep.join("mmproj-m.gguf"), b"GGUF").unwrap();
        let mut out = Vec::new();
        collect_ggufs(dir.path(), 4, &mut out);
        assert_eq!(out, vec![deep.join("m.Q4_K_M.gguf")]);
    }
}

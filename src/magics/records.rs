//! Pieces `:probe` and `:debate` share: which models to run, and where run records go.

use std::path::{Path, PathBuf};

use super::backend::backend_error;
use crate::display::CellError;
use crate::llm::ChatBackend;

/// `--models a,b` with blanks dropped; the backend's default model when none is named.
pub async fn resolve_models(
    backend: &dyn ChatBackend,
    named: &[String],
) -> Result<Vec<String>, CellError> {
    let models: Vec<String> = named
        .iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if !models.is_empty() {
        return Ok(models);
    }
    Ok(vec![backend
        .default_model()
        .await
        .map_err(backend_error)?])
}

/// Write a run record as `$ALIGNMENT_LAB_HOME/runs/KIND-TIMESTAMP.json` and return its path.
pub fn write_run_record(
    home: &Path,
    kind: &str,
    record: &serde_json::Value,
) -> Result<PathBuf, String> {
    let dir = home.join("runs");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!(
        "{kind}-{}.json",
        chrono::Utc::now().format("%Y%m%d-%H%M%S%.3f")
    ));
    let text = serde_json::to_string_pretty(record).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
